using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>
/// Derivatives of the activations for training: dx = dy · f'(x), from the pre-activation x and the forward output y.
/// GELU: gelu'(x) = Φ(x) + x·φ(x) with Φ(x) = gelu(x)/x where |x| ≥ ½ (the forward GELU is within 1e-6 of exact, so Φ
/// is within 2e-6) and the erf series to z⁹ below (truncation &lt; 1e-8). Vectorised and split into fixed chunks over
/// <see cref="ComputeThreads"/>; checked against <see cref="ActivationsBackwardReference"/>.
/// </summary>
public static class ActivationsBackward
{
    const int ChunkLength = 1 << 15;

    /// <param name="x">pre-activation [n]</param>
    /// <param name="y">gelu(x) [n]</param>
    /// <param name="dy">[n]</param>
    /// <param name="dx">[n]; may alias dy</param>
    public static void Gelu(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int n = dy.Length;
        if (x.Length < n || y.Length < n || dx.Length < n)
            throw new InvalidInputException($"GELU backward: x has {x.Length}, y {y.Length}, dy {n}, dx {dx.Length} elements");
        if (KernelPaths.Active == KernelPath.Portable)
        {
            ActivationsBackwardReference.Gelu(x, y, dy, dx);
            return;
        }
        int chunks = (n + ChunkLength - 1) / ChunkLength;
        if (chunks <= 1)
        {
            GeluRange(x, y, dy, dx, KernelPaths.Active == KernelPath.Avx512);
            return;
        }
        unsafe
        {
            fixed (float* px = x, py = y, pdy = dy, pdx = dx)
            {
                var work = _geluWork ??= new GeluWork();
                work.Set(px, py, pdy, pdx, n, KernelPaths.Active == KernelPath.Avx512);
                try { ComputeThreads.For(chunks, work); }
                finally { work.Set(null, null, null, null, 0, false); }
            }
        }
    }

    /// <summary>dx = dy where x &gt; 0, else 0 (dx may alias dy).</summary>
    public static void Relu(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int n = dy.Length, i = 0;
        if (x.Length < n || dx.Length < n) throw new InvalidInputException($"ReLU backward: x has {x.Length}, dy {n}, dx {dx.Length} elements");
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float g = ref MemoryMarshal.GetReference(dy);
        ref float d = ref MemoryMarshal.GetReference(dx);
        if (KernelPaths.Active == KernelPath.Avx512)
            for (; i + 16 <= n; i += 16)
                Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.LoadUnsafe(ref xs, (nuint)i), Vector512<float>.Zero),
                    Vector512.LoadUnsafe(ref g, (nuint)i), Vector512<float>.Zero).StoreUnsafe(ref d, (nuint)i);
        else if (KernelPaths.Active == KernelPath.Avx2)
            for (; i + 8 <= n; i += 8)
                Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.LoadUnsafe(ref xs, (nuint)i), Vector256<float>.Zero),
                    Vector256.LoadUnsafe(ref g, (nuint)i), Vector256<float>.Zero).StoreUnsafe(ref d, (nuint)i);
        ActivationsBackwardReference.Relu(x[i..n], dy[i..n], dx[i..n]);
    }

    /// <summary>dx = dy · (1 − y²) (dx may alias dy).</summary>
    public static void Tanh(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int n = dy.Length;
        if (y.Length < n || dx.Length < n) throw new InvalidInputException($"tanh backward: y has {y.Length}, dy {n}, dx {dx.Length} elements");
        ActivationsBackwardReference.Tanh(y, dy, dx);
    }

    static void GeluRange(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, bool wide)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ys = ref MemoryMarshal.GetReference(y);
        ref float g = ref MemoryMarshal.GetReference(dy);
        ref float d = ref MemoryMarshal.GetReference(dx);
        int n = dy.Length, i = 0;
        if (wide)
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref g, (nuint)i) * GeluDerivative(Vector512.LoadUnsafe(ref xs, (nuint)i), Vector512.LoadUnsafe(ref ys, (nuint)i)))
                    .StoreUnsafe(ref d, (nuint)i);
        for (; i + 8 <= n; i += 8)
            (Vector256.LoadUnsafe(ref g, (nuint)i) * GeluDerivative(Vector256.LoadUnsafe(ref xs, (nuint)i), Vector256.LoadUnsafe(ref ys, (nuint)i)))
                .StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) dx[i] = dy[i] * ActivationsBackwardReference.GeluDerivative(x[i], y[i]);
    }

    const float InvSqrt2 = 0.70710678f, InvSqrtPi = 0.56418958f, InvSqrt2Pi = 0.39894228f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> GeluDerivative(Vector512<float> x, Vector512<float> y)
    {
        var z = x * InvSqrt2;
        var z2 = z * z;
        var series = Vector512.Create(0.5f) + InvSqrtPi * z * (Vector512<float>.One - z2 * (Vector512.Create(1f / 3) - z2 * (Vector512.Create(0.1f) - z2 * (Vector512.Create(1f / 42) - z2 / 216))));
        var cdf = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512.Abs(x), Vector512.Create(0.5f)), y / x, series);
        return cdf + x * InvSqrt2Pi * ExpViaDouble(-0.5f * x * x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> GeluDerivative(Vector256<float> x, Vector256<float> y)
    {
        var z = x * InvSqrt2;
        var z2 = z * z;
        var series = Vector256.Create(0.5f) + InvSqrtPi * z * (Vector256<float>.One - z2 * (Vector256.Create(1f / 3) - z2 * (Vector256.Create(0.1f) - z2 * (Vector256.Create(1f / 42) - z2 / 216))));
        var cdf = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(Vector256.Abs(x), Vector256.Create(0.5f)), y / x, series);
        return cdf + x * InvSqrt2Pi * ExpViaDouble(-0.5f * x * x);
    }

    // e^t in double, rounded once to float: the same float as MathF.Exp (correctly rounded) in all but near-tie cases,
    // so the vector derivative gives the scalar loop's bits. The float FastExp (2 ulp) was measurably noisier.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> ExpViaDouble(Vector512<float> t)
    {
        var (lo, hi) = Vector512.Widen(t);
        return Vector512.Narrow(Vector512.Exp(lo), Vector512.Exp(hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> ExpViaDouble(Vector256<float> t)
    {
        var (lo, hi) = Vector256.Widen(t);
        return Vector256.Narrow(Vector256.Exp(lo), Vector256.Exp(hi));
    }

    [ThreadStatic] static GeluWork? _geluWork;

    sealed unsafe class GeluWork : ParallelWork
    {
        float* _x, _y, _dy, _dx;
        int _n;
        bool _wide;

        public void Set(float* x, float* y, float* dy, float* dx, int n, bool wide) { _x = x; _y = y; _dy = dy; _dx = dx; _n = n; _wide = wide; }

        public override void Execute(int index)
        {
            int start = index * ChunkLength, length = Math.Min(ChunkLength, _n - start);
            GeluRange(new ReadOnlySpan<float>(_x + start, length), new ReadOnlySpan<float>(_y + start, length),
                new ReadOnlySpan<float>(_dy + start, length), new Span<float>(_dx + start, length), _wide);
        }
    }
}

/// <summary>The scalar loops the activation derivatives are checked against.</summary>
public static class ActivationsBackwardReference
{
    /// <summary>gelu'(x) from x and gelu(x), as <see cref="ActivationsBackward"/> describes (MathF.Exp).</summary>
    public static float GeluDerivative(float x, float gelu)
    {
        float cdf;
        if (MathF.Abs(x) >= 0.5f) cdf = gelu / x;
        else
        {
            float z = x * 0.70710678f, z2 = z * z;
            // ½·erf(z) = (1/√π)·(z − z³/3 + z⁵/10 − z⁷/42 + z⁹/216)
            cdf = 0.5f + 0.56418958f * z * (1f - z2 * (1f / 3 - z2 * (0.1f - z2 * (1f / 42 - z2 / 216))));
        }
        return cdf + x * 0.39894228f * MathF.Exp(-0.5f * x * x);
    }

    public static void Gelu(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * GeluDerivative(x[i], y[i]);
    }

    public static void Relu(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++) dx[i] = x[i] > 0 ? dy[i] : 0f;
    }

    public static void Tanh(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
    }
}
