using System.Runtime.CompilerServices;
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
        int rows, int dim, float eps, Span<float> mean, Span<float> rstd) =>
        Run(x, [], gamma, beta, y, rows, dim, eps, mean, rstd);

    /// <summary>y = LayerNorm(x + residual), the post-LN block's "residual add then normalise" in one pass over each
    /// row (inference: the sum itself is not kept).</summary>
    /// <param name="x">[rows, dim]</param>
    /// <param name="residual">[rows, dim]</param>
    /// <param name="y">[rows, dim]; may alias x or residual</param>
    public static void ForwardResidual(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Span<float> y, int rows, int dim, float eps)
    {
        if (residual.Length < (long)rows * dim)
            throw new InvalidInputException($"LayerNorm residual has {residual.Length} elements, [{rows}, {dim}] needs {(long)rows * dim}");
        Run(x, residual, gamma, beta, y, rows, dim, eps, [], []);
    }

    static void Run(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> y, int rows, int dim, float eps, Span<float> mean, Span<float> rstd)
    {
        long size = (long)rows * dim;
        if (rows < 0 || dim <= 0 || x.Length < size || y.Length < size || gamma.Length < dim || beta.Length < dim
            || (!mean.IsEmpty && mean.Length < rows) || (!rstd.IsEmpty && rstd.Length < rows))
            throw new InvalidInputException($"LayerNorm over [{rows}, {dim}]: x has {x.Length}, y {y.Length}, gamma {gamma.Length}, " +
                $"beta {beta.Length}, mean {mean.Length}, rstd {rstd.Length} elements");
        if (KernelPaths.Active == KernelPath.Portable)
        {
            if (!residual.IsEmpty)
            {
                for (long i = 0; i < size; i++) y[(int)i] = x[(int)i] + residual[(int)i];
                x = y;
            }
            LayerNormReference.Forward(x, gamma, beta, y, rows, dim, eps, mean, rstd);
            return;
        }
        bool wide = KernelPaths.Active == KernelPath.Avx512;
        if (size < ParallelThreshold || ComputeThreads.Count == 1)
        {
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Slice(r * dim, dim);
                if (!residual.IsEmpty)
                {
                    VectorMath.Add(xr, residual.Slice(r * dim, dim), y.Slice(r * dim, dim));
                    xr = y.Slice(r * dim, dim);
                }
                var (mu, rs) = Row(xr, gamma, beta, y.Slice(r * dim, dim), eps, wide);
                if (!mean.IsEmpty) mean[r] = mu;
                if (!rstd.IsEmpty) rstd[r] = rs;
            }
            return;
        }
        unsafe
        {
            fixed (float* px = x, pres = residual, pg = gamma, pb = beta, py = y, pm = mean, pr = rstd)
            {
                var work = _work ??= new RowsWork();
                work.Set(px, residual.IsEmpty ? null : pres, pg, pb, py, rows, dim, eps, mean.IsEmpty ? null : pm, rstd.IsEmpty ? null : pr, wide);
                try { ComputeThreads.For((rows + RowsPerTask - 1) / RowsPerTask, work); }
                finally { work.Set(null, null, null, null, null, 0, 0, 0, null, null, wide); }
            }
        }
    }

    /// <summary>Below this many elements a dispatch costs more than it saves.</summary>
    const long ParallelThreshold = 1 << 15;
    const int RowsPerTask = 32;

    [ThreadStatic] static RowsWork? _work;

    sealed unsafe class RowsWork : ParallelWork
    {
        float* _x, _residual, _gamma, _beta, _y, _mean, _rstd;
        int _rows, _dim;
        float _eps;
        bool _wide;

        public void Set(float* x, float* residual, float* gamma, float* beta, float* y, int rows, int dim, float eps, float* mean, float* rstd, bool wide)
        {
            _x = x; _residual = residual; _gamma = gamma; _beta = beta; _y = y; _rows = rows; _dim = dim; _eps = eps; _mean = mean; _rstd = rstd; _wide = wide;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int index)
        {
            int end = Math.Min(_rows, (index + 1) * RowsPerTask);
            var gamma = new ReadOnlySpan<float>(_gamma, _dim);
            var beta = new ReadOnlySpan<float>(_beta, _dim);
            for (int r = index * RowsPerTask; r < end; r++)
            {
                var xr = new ReadOnlySpan<float>(_x + (nint)r * _dim, _dim);
                var yr = new Span<float>(_y + (nint)r * _dim, _dim);
                if (_residual != null)
                {
                    VectorMath.Add(xr, new ReadOnlySpan<float>(_residual + (nint)r * _dim, _dim), yr);
                    xr = yr;
                }
                var (mu, rs) = Row(xr, gamma, beta, yr, _eps, _wide);
                if (_mean != null) _mean[r] = mu;
                if (_rstd != null) _rstd[r] = rs;
            }
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
