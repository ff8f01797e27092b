using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>An element-wise operation with a 512-bit and a 256-bit form; <see cref="VectorMath.Map{TOp}"/> drives it.</summary>
internal interface IVectorOp
{
    static abstract Vector512<float> Apply(Vector512<float> x);
    static abstract Vector256<float> Apply(Vector256<float> x);
}

/// <summary>Shared drivers for the element-wise kernels: full vectors, then the tail through a padded stack vector so
/// every element sees exactly the same arithmetic.</summary>
internal static class VectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<TOp>(ReadOnlySpan<float> x, Span<float> y, bool wide) where TOp : IVectorOp
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (wide)
        {
            for (; i + 16 <= n; i += 16)
                TOp.Apply(Vector512.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            if (i < n)
            {
                Span<float> pad = stackalloc float[16];
                x[i..].CopyTo(pad);
                var r = TOp.Apply(Vector512.Create<float>(pad));
                for (int j = 0; i + j < n; j++) y[i + j] = r[j];
            }
        }
        else
        {
            for (; i + 8 <= n; i += 8)
                TOp.Apply(Vector256.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
            if (i < n)
            {
                Span<float> pad = stackalloc float[8];
                x[i..].CopyTo(pad);
                var r = TOp.Apply(Vector256.Create<float>(pad));
                for (int j = 0; i + j < n; j++) y[i + j] = r[j];
            }
        }
    }

    /// <summary>z = x + y element-wise (z may alias either).</summary>
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> z)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float zs = ref MemoryMarshal.GetReference(z);
        int n = x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated && KernelPaths.Active == KernelPath.Avx512)
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref xs, (nuint)i) + Vector512.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
        if (Vector256.IsHardwareAccelerated && KernelPaths.Active != KernelPath.Portable)
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref xs, (nuint)i) + Vector256.LoadUnsafe(ref ys, (nuint)i)).StoreUnsafe(ref zs, (nuint)i);
        for (; i < n; i++) z[i] = x[i] + y[i];
    }
}
