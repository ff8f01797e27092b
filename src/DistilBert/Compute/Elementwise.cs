using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DistilBert.Compute;

/// <summary>Element-wise helpers the layers need between the big kernels (residual adds, embedding lookups).</summary>
public static class Elementwise
{
    /// <summary>z = x + y (z may alias x or y), e.g. a residual connection.</summary>
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z)
    {
        if (y.Length != x.Length || z.Length < x.Length)
            throw new InvalidInputException($"element-wise add: x has {x.Length}, y {y.Length}, z {z.Length} elements");
        VectorMath.Add(x, y, z);
    }

    /// <summary>z = x ∘ y (z may alias x or y), e.g. a gradient through a dropout mask.</summary>
    public static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z)
    {
        if (y.Length < x.Length || z.Length < x.Length)
            throw new InvalidInputException($"element-wise multiply: x has {x.Length}, y {y.Length}, z {z.Length} elements");
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float zs = ref MemoryMarshal.GetReference(z);
        int n = x.Length, i = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref xs, (nuint)i) * Vector512.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
        if (KernelPaths.Active != KernelPath.Portable)
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref xs, (nuint)i) * Vector256.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
        for (; i < n; i++) z[i] = x[i] * y[i];
    }

    /// <summary>sums[j] += Σ_r x[r, j] for x [rows, cols] (a bias gradient), each column summed in row order as the
    /// scalar loop does, so the result is the same bits.</summary>
    public static void AddColumnSums(ReadOnlySpan<float> x, int rows, int cols, Span<float> sums)
    {
        if (rows < 0 || cols < 0 || x.Length < (long)rows * cols || sums.Length < cols)
            throw new InvalidInputException($"column sums over [{rows}, {cols}]: x has {x.Length}, sums {sums.Length} elements");
        for (int r = 0; r < rows; r++) VectorMath.Add(sums[..cols], x.Slice(r * cols, cols), sums);
    }
}
