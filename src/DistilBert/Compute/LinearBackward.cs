using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>
/// Backward of y = x·Wᵀ + b: dW += dyᵀ·x, db += Σrows dy, dx = dy·W (or dx += dy·W).
/// Rows of dy that are entirely zero contribute nothing to any of them; when enough rows are zero (a classifier's last
/// layer gets a gradient only on the [CLS] rows, an MLM head only on masked positions) the non-zero rows are gathered
/// and the GEMMs run on those alone. Skipping exact zeros does not change any sum (each column is still summed in row
/// order), so both paths give the same result.
/// </summary>
public static class LinearBackward
{
    /// <summary>Gather when at most this fraction of the rows carry a gradient (below it the copies cost less than the saved GEMM work).</summary>
    const double CompactBelow = 0.75;

    /// <param name="x">[rows, inFeatures], the forward input</param>
    /// <param name="dy">[rows, outFeatures]</param>
    /// <param name="weight">W: [outFeatures, inFeatures]</param>
    /// <param name="dWeight">[outFeatures, inFeatures] accumulated into, or empty</param>
    /// <param name="dBias">[outFeatures] accumulated into, or empty</param>
    /// <param name="dx">[rows, inFeatures] or empty (not wanted); overwritten unless <paramref name="accumulateDx"/></param>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int rows, int inFeatures, int outFeatures,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dBias, Span<float> dx, bool accumulateDx)
    {
        if (rows < 0 || x.Length < (long)rows * inFeatures || dy.Length < (long)rows * outFeatures || weight.Length < (long)outFeatures * inFeatures
            || (!dWeight.IsEmpty && dWeight.Length < (long)outFeatures * inFeatures) || (!dBias.IsEmpty && dBias.Length < outFeatures)
            || (!dx.IsEmpty && dx.Length < (long)rows * inFeatures))
            throw new InvalidInputException($"linear backward [{rows}, {inFeatures}] → [{rows}, {outFeatures}]: x has {x.Length}, dy {dy.Length}, " +
                $"weight {weight.Length}, dWeight {dWeight.Length}, dBias {dBias.Length}, dx {dx.Length} elements");
        int active = ActiveRows(dy, rows, outFeatures, null);
        if (active > CompactBelow * rows)
        {
            Dense(x, dy, rows, inFeatures, outFeatures, weight, dWeight, dBias, dx, accumulateDx);
            return;
        }
        var index = ArrayPool<int>.Shared.Rent(Math.Max(1, active));
        var xc = ArrayPool<float>.Shared.Rent(Math.Max(1, active * inFeatures));
        var dyc = ArrayPool<float>.Shared.Rent(Math.Max(1, active * outFeatures));
        var dxc = dx.IsEmpty ? null : ArrayPool<float>.Shared.Rent(Math.Max(1, active * inFeatures));
        try
        {
            ActiveRows(dy, rows, outFeatures, index);
            for (int i = 0; i < active; i++)
            {
                int r = index[i];
                x.Slice(r * inFeatures, inFeatures).CopyTo(xc.AsSpan(i * inFeatures, inFeatures));
                dy.Slice(r * outFeatures, outFeatures).CopyTo(dyc.AsSpan(i * outFeatures, outFeatures));
            }
            Dense(xc, dyc, active, inFeatures, outFeatures, weight, dWeight, dBias, dxc, accumulateDx: false);
            if (dxc is null) return;
            if (!accumulateDx) dx[..(rows * inFeatures)].Clear(); // rows without a gradient get 0, as dy·W gives them
            for (int i = 0; i < active; i++)
            {
                var target = dx.Slice(index[i] * inFeatures, inFeatures);
                var value = dxc.AsSpan(i * inFeatures, inFeatures);
                if (accumulateDx) Elementwise.Add(target, value, target);
                else value.CopyTo(target);
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(index);
            ArrayPool<float>.Shared.Return(xc);
            ArrayPool<float>.Shared.Return(dyc);
            if (dxc is not null) ArrayPool<float>.Shared.Return(dxc);
        }
    }

    /// <summary>Number of rows with a non-zero element (NaN counts as non-zero); their indices into <paramref name="index"/> when given.</summary>
    static int ActiveRows(ReadOnlySpan<float> dy, int rows, int cols, int[]? index)
    {
        int active = 0;
        for (int r = 0; r < rows; r++)
        {
            // a dense gradient row almost always fails on its first element: the scan costs O(rows) there
            if (IsZero(dy.Slice(r * cols, cols))) continue;
            if (index is not null) index[active] = r;
            active++;
        }
        return active;
    }

    /// <summary>Every element == 0 (IEEE: −0 too; NaN is not).</summary>
    static bool IsZero(ReadOnlySpan<float> row)
    {
        ref float x = ref MemoryMarshal.GetReference(row);
        int n = row.Length, i = 0;
        for (; i + 8 <= n; i += 8)
            if (Vector256.LoadUnsafe(ref x, (nuint)i) != Vector256<float>.Zero) return false;
        for (; i < n; i++)
            if (row[i] != 0) return false;
        return true;
    }

    static void Dense(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int rows, int inFeatures, int outFeatures,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dBias, Span<float> dx, bool accumulateDx)
    {
        if (!dWeight.IsEmpty)
            Gemm.Sgemm(true, false, outFeatures, inFeatures, rows, 1f, dy, outFeatures, x, inFeatures, 1f, dWeight, inFeatures);
        if (!dBias.IsEmpty) Elementwise.AddColumnSums(dy, rows, outFeatures, dBias);
        if (!dx.IsEmpty)
            Gemm.Sgemm(false, false, rows, inFeatures, outFeatures, 1f, dy, outFeatures, weight, inFeatures, accumulateDx ? 1f : 0f, dx, inFeatures);
    }
}

/// <summary>The plain dense loops <see cref="LinearBackward"/> is checked against.</summary>
public static class LinearBackwardReference
{
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int rows, int inFeatures, int outFeatures,
        ReadOnlySpan<float> weight, Span<float> dWeight, Span<float> dBias, Span<float> dx, bool accumulateDx)
    {
        if (!dWeight.IsEmpty) GemmReference.Sgemm(true, false, outFeatures, inFeatures, rows, 1f, dy, outFeatures, x, inFeatures, 1f, dWeight, inFeatures);
        if (!dBias.IsEmpty)
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < outFeatures; j++) dBias[j] += dy[r * outFeatures + j];
        if (!dx.IsEmpty)
            GemmReference.Sgemm(false, false, rows, inFeatures, outFeatures, 1f, dy, outFeatures, weight, inFeatures, accumulateDx ? 1f : 0f, dx, inFeatures);
    }
}
