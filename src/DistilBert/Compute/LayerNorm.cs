using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>LayerNorm over the last dimension: y = (x − mean) · rstd · gamma + beta, biased variance, eps inside the root.</summary>
public static class LayerNorm
{
    /// <param name="x">[rows, dim]</param>
    /// <param name="gamma">[dim]</param>
    /// <param name="beta">[dim]</param>
    /// <param name="y">[rows, dim]; may alias x</param>
    /// <param name="mean">[rows] or empty: saved for Backward</param>
    /// <param name="rstd">[rows] or empty: 1/sqrt(var + eps), saved for Backward</param>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y,
        int rows, int dim, float eps, Span<float> mean, Span<float> rstd)
    {
        long size = (long)rows * dim;
        if (rows < 0 || dim <= 0 || x.Length < size || y.Length < size || gamma.Length < dim || beta.Length < dim
            || (!mean.IsEmpty && mean.Length < rows) || (!rstd.IsEmpty && rstd.Length < rows))
            throw new InvalidInputException($"LayerNorm over [{rows}, {dim}]: x has {x.Length}, y {y.Length}, gamma {gamma.Length}, " +
                $"beta {beta.Length}, mean {mean.Length}, rstd {rstd.Length} elements");
        if (KernelPaths.Active == KernelPath.Portable)
        {
            LayerNormReference.Forward(x, gamma, beta, y, rows, dim, eps, mean, rstd);
            return;
        }
        bool wide = KernelPaths.Active == KernelPath.Avx512;
        for (int r = 0; r < rows; r++)
        {
            var (mu, rs) = Row(x.Slice(r * dim, dim), gamma, beta, y.Slice(r * dim, dim), eps, wide);
            if (!mean.IsEmpty) mean[r] = mu;
            if (!rstd.IsEmpty) rstd[r] = rs;
        }
    }

    static (float Mean, float Rstd) Row(ReadOnlySpan<float> xr, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> yr, float eps, bool wide)
    {
        ref float x = ref MemoryMarshal.GetReference(xr);
        ref float y = ref MemoryMarshal.GetReference(yr);
        ref float g = ref MemoryMarshal.GetReference(gamma);
        ref float b = ref MemoryMarshal.GetReference(beta);
        int n = xr.Length, i = 0;
        // two passes (mean, then squared deviations): the one-pass E[x²] − E[x]² loses digits when |mean| ≫ std
        float sum = 0;
        if (wide)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16) acc += Vector512.LoadUnsafe(ref x, (nuint)i);
            sum = Vector512.Sum(acc);
        }
        else
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc += Vector256.LoadUnsafe(ref x, (nuint)i);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += xr[i];
        float mu = sum / n;
        float sq = 0;
        i = 0;
        if (wide)
        {
            var acc = Vector512<float>.Zero;
            var vm = Vector512.Create(mu);
            for (; i + 16 <= n; i += 16) { var d = Vector512.LoadUnsafe(ref x, (nuint)i) - vm; acc += d * d; }
            sq = Vector512.Sum(acc);
        }
        else
        {
            var acc = Vector256<float>.Zero;
            var vm = Vector256.Create(mu);
            for (; i + 8 <= n; i += 8) { var d = Vector256.LoadUnsafe(ref x, (nuint)i) - vm; acc += d * d; }
            sq = Vector256.Sum(acc);
        }
        for (; i < n; i++) { float d = xr[i] - mu; sq += d * d; }
        float rs = 1f / MathF.Sqrt(sq / n + eps);
        i = 0;
        if (wide)
        {
            var vm = Vector512.Create(mu); var vr = Vector512.Create(rs);
            for (; i + 16 <= n; i += 16)
                ((Vector512.LoadUnsafe(ref x, (nuint)i) - vm) * vr * Vector512.LoadUnsafe(ref g, (nuint)i)
                    + Vector512.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        {
            var vm = Vector256.Create(mu); var vr = Vector256.Create(rs);
            for (; i + 8 <= n; i += 8)
                ((Vector256.LoadUnsafe(ref x, (nuint)i) - vm) * vr * Vector256.LoadUnsafe(ref g, (nuint)i)
                    + Vector256.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        }
        for (; i < n; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
        return (mu, rs);
    }
}

/// <summary>The scalar loops (double accumulation) the vector LayerNorm is checked against.</summary>
public static class LayerNormReference
{
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> y,
        int rows, int dim, float eps, Span<float> mean, Span<float> rstd)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            double s = 0;
            for (int i = 0; i < dim; i++) s += xr[i];
            float mu = (float)(s / dim);
            double v = 0;
            for (int i = 0; i < dim; i++) { float d = xr[i] - mu; v += d * d; }
            float rs = 1f / MathF.Sqrt((float)(v / dim) + eps);
            var yr = y.Slice(r * dim, dim);
            for (int i = 0; i < dim; i++) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
            if (!mean.IsEmpty) mean[r] = mu;
            if (!rstd.IsEmpty) rstd[r] = rs;
        }
    }
}
