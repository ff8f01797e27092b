using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>Row-wise softmax with max subtraction, in place: x[rows, cols]. −∞ entries get probability exactly 0.</summary>
public static class Softmax
{
    public static void Rows(Span<float> x, int rows, int cols)
    {
        if (rows < 0 || cols < 0 || (long)rows * cols > x.Length)
            throw new InvalidInputException($"softmax over [{rows}, {cols}] needs {(long)rows * cols} elements, span has {x.Length}");
        if (KernelPaths.Active == KernelPath.Portable) { SoftmaxReference.Rows(x, rows, cols); return; }
        bool wide = KernelPaths.Active == KernelPath.Avx512;
        for (int r = 0; r < rows; r++) Row(x.Slice(r * cols, cols), wide);
    }

    /// <summary>One row in place; wide = 512-bit vectors, else 256-bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Row(Span<float> row, bool wide)
    {
        ref float x = ref MemoryMarshal.GetReference(row);
        int n = row.Length, i = 0;
        float max = float.NegativeInfinity, sum = 0;
        if (wide)
        {
            var vmax = Vector512.Create(float.NegativeInfinity);
            for (; i + 16 <= n; i += 16) vmax = Vector512.Max(vmax, Vector512.LoadUnsafe(ref x, (nuint)i));
            max = MaxAcross(Vector256.Max(vmax.GetLower(), vmax.GetUpper()));
            for (; i < n; i++) max = MathF.Max(max, row[i]);
            var vm = Vector512.Create(max);
            var vsum = Vector512<float>.Zero;
            for (i = 0; i + 16 <= n; i += 16)
            {
                var e = FastExp.Exp(Vector512.LoadUnsafe(ref x, (nuint)i) - vm);
                e.StoreUnsafe(ref x, (nuint)i);
                vsum += e;
            }
            sum = Vector512.Sum(vsum);
        }
        else
        {
            var vmax = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) vmax = Vector256.Max(vmax, Vector256.LoadUnsafe(ref x, (nuint)i));
            max = MaxAcross(vmax);
            for (; i < n; i++) max = MathF.Max(max, row[i]);
            var vm = Vector256.Create(max);
            var vsum = Vector256<float>.Zero;
            for (i = 0; i + 8 <= n; i += 8)
            {
                var e = FastExp.Exp(Vector256.LoadUnsafe(ref x, (nuint)i) - vm);
                e.StoreUnsafe(ref x, (nuint)i);
                vsum += e;
            }
            sum = Vector256.Sum(vsum);
        }
        for (; i < n; i++) { float e = MathF.Exp(row[i] - max); row[i] = e; sum += e; }
        float inv = 1f / sum;
        i = 0;
        if (wide) for (; i + 16 <= n; i += 16) (Vector512.LoadUnsafe(ref x, (nuint)i) * inv).StoreUnsafe(ref x, (nuint)i);
        for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref x, (nuint)i) * inv).StoreUnsafe(ref x, (nuint)i);
        for (; i < n; i++) row[i] *= inv;
    }

    static float MaxAcross(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        return MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
    }
}

/// <summary>The scalar loop the vector softmax is checked against.</summary>
public static class SoftmaxReference
{
    public static void Rows(Span<float> x, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            float max = float.NegativeInfinity;
            for (int i = 0; i < cols; i++) if (row[i] > max) max = row[i];
            float sum = 0;
            for (int i = 0; i < cols; i++) { float e = MathF.Exp(row[i] - max); row[i] = e; sum += e; }
            float inv = 1f / sum;
            for (int i = 0; i < cols; i++) row[i] *= inv;
        }
    }
}
