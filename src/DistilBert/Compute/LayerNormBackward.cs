using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>
/// Backward of <see cref="LayerNorm.Forward"/>: x̂ = (x−μ)·rstd, g = dy·γ; dγ += Σrows dy·x̂, dβ += Σrows dy,
/// dx = rstd·(g − mean(g) − x̂·mean(g·x̂)). Vectorised; parallel over fixed blocks of rows, each block summing its own
/// dγ/dβ partials that are then added in block order (the result does not depend on the thread count).
/// </summary>
public static class LayerNormBackward
{
    const int RowsPerTask = 32;

    /// <param name="x">[rows, dim], the forward input</param>
    /// <param name="mean">[rows] saved by the forward</param>
    /// <param name="rstd">[rows] saved by the forward</param>
    /// <param name="gamma">[dim]</param>
    /// <param name="dy">[rows, dim]</param>
    /// <param name="dx">[rows, dim], overwritten (may alias dy)</param>
    /// <param name="dGamma">[dim] accumulated into, or empty</param>
    /// <param name="dBeta">[dim] accumulated into, or empty</param>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> dy, int rows, int dim, Span<float> dx, Span<float> dGamma, Span<float> dBeta)
    {
        long size = (long)rows * dim;
        if (rows < 0 || dim <= 0 || x.Length < size || dy.Length < size || dx.Length < size || mean.Length < rows || rstd.Length < rows
            || gamma.Length < dim || (!dGamma.IsEmpty && dGamma.Length < dim) || (!dBeta.IsEmpty && dBeta.Length < dim))
            throw new InvalidInputException($"LayerNorm backward over [{rows}, {dim}]: x has {x.Length}, dy {dy.Length}, dx {dx.Length}, " +
                $"mean {mean.Length}, rstd {rstd.Length}, gamma {gamma.Length}, dGamma {dGamma.Length}, dBeta {dBeta.Length} elements");
        if (rows == 0) return;
        if (KernelPaths.Active == KernelPath.Portable)
        {
            LayerNormBackwardReference.Backward(x, mean, rstd, gamma, dy, rows, dim, dx, dGamma, dBeta);
            return;
        }
        int tasks = (rows + RowsPerTask - 1) / RowsPerTask;
        var work = _work ??= new RowsWork();
        var partials = work.Partials(tasks * 2 * dim);
        unsafe
        {
            fixed (float* px = x, pm = mean, pr = rstd, pg = gamma, pdy = dy, pdx = dx, pp = partials)
            {
                work.Set(px, pm, pr, pg, pdy, pdx, pp, rows, dim, KernelPaths.Active == KernelPath.Avx512);
                try { ComputeThreads.For(tasks, work); }
                finally { work.Set(null, null, null, null, null, null, null, 0, 0, false); }
            }
        }
        // dγ, dβ: block partials in block order
        for (int t = 0; t < tasks; t++)
        {
            if (!dGamma.IsEmpty) VectorMath.Add(dGamma[..dim], partials.AsSpan(t * 2 * dim, dim), dGamma);
            if (!dBeta.IsEmpty) VectorMath.Add(dBeta[..dim], partials.AsSpan(t * 2 * dim + dim, dim), dBeta);
        }
    }

    [ThreadStatic] static RowsWork? _work;

    sealed unsafe class RowsWork : ParallelWork
    {
        float* _x, _mean, _rstd, _gamma, _dy, _dx, _partials;
        int _rows, _dim;
        bool _wide;
        float[] _partialBuffer = [];

        public float[] Partials(int length)
        {
            if (_partialBuffer.Length < length) _partialBuffer = new float[length];
            return _partialBuffer;
        }

        public void Set(float* x, float* mean, float* rstd, float* gamma, float* dy, float* dx, float* partials, int rows, int dim, bool wide)
        {
            _x = x; _mean = mean; _rstd = rstd; _gamma = gamma; _dy = dy; _dx = dx; _partials = partials; _rows = rows; _dim = dim; _wide = wide;
        }

        public override void Execute(int index)
        {
            int dim = _dim, end = Math.Min(_rows, (index + 1) * RowsPerTask);
            var dGamma = new Span<float>(_partials + (nint)index * 2 * dim, dim);
            var dBeta = new Span<float>(_partials + (nint)index * 2 * dim + dim, dim);
            dGamma.Clear();
            dBeta.Clear();
            var gamma = new ReadOnlySpan<float>(_gamma, dim);
            for (int r = index * RowsPerTask; r < end; r++)
                Row(new ReadOnlySpan<float>(_x + (nint)r * dim, dim), _mean[r], _rstd[r], gamma, new ReadOnlySpan<float>(_dy + (nint)r * dim, dim),
                    new Span<float>(_dx + (nint)r * dim, dim), dGamma, dBeta, _wide);
        }
    }

    static void Row(ReadOnlySpan<float> xr, float mu, float rs, ReadOnlySpan<float> gammaSpan, ReadOnlySpan<float> dyr, Span<float> dxr,
        Span<float> dGammaSpan, Span<float> dBetaSpan, bool wide)
    {
        ref float x = ref MemoryMarshal.GetReference(xr);
        ref float gm = ref MemoryMarshal.GetReference(gammaSpan);
        ref float dy = ref MemoryMarshal.GetReference(dyr);
        ref float dx = ref MemoryMarshal.GetReference(dxr);
        ref float dg = ref MemoryMarshal.GetReference(dGammaSpan);
        ref float db = ref MemoryMarshal.GetReference(dBetaSpan);
        int n = xr.Length, i = 0;
        // the row sums in double, as the reference (g − mean(g) cancels)
        double sumG = 0, sumGx = 0;
        if (wide)
        {
            var vm = Vector512.Create(mu); var vr = Vector512.Create(rs);
            var accG = Vector512<double>.Zero; var accGx = Vector512<double>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var d = Vector512.LoadUnsafe(ref dy, (nuint)i);
                var xhat = (Vector512.LoadUnsafe(ref x, (nuint)i) - vm) * vr;
                var g = d * Vector512.LoadUnsafe(ref gm, (nuint)i);
                var (gLo, gHi) = Vector512.Widen(g);
                var (gxLo, gxHi) = Vector512.Widen(g * xhat);
                accG += gLo + gHi;
                accGx += gxLo + gxHi;
                (Vector512.LoadUnsafe(ref dg, (nuint)i) + d * xhat).StoreUnsafe(ref dg, (nuint)i);
                (Vector512.LoadUnsafe(ref db, (nuint)i) + d).StoreUnsafe(ref db, (nuint)i);
            }
            sumG = Vector512.Sum(accG);
            sumGx = Vector512.Sum(accGx);
        }
        {
            var vm = Vector256.Create(mu); var vr = Vector256.Create(rs);
            var accG = Vector256<double>.Zero; var accGx = Vector256<double>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref dy, (nuint)i);
                var xhat = (Vector256.LoadUnsafe(ref x, (nuint)i) - vm) * vr;
                var g = d * Vector256.LoadUnsafe(ref gm, (nuint)i);
                var (gLo, gHi) = Vector256.Widen(g);
                var (gxLo, gxHi) = Vector256.Widen(g * xhat);
                accG += gLo + gHi;
                accGx += gxLo + gxHi;
                (Vector256.LoadUnsafe(ref dg, (nuint)i) + d * xhat).StoreUnsafe(ref dg, (nuint)i);
                (Vector256.LoadUnsafe(ref db, (nuint)i) + d).StoreUnsafe(ref db, (nuint)i);
            }
            sumG += Vector256.Sum(accG);
            sumGx += Vector256.Sum(accGx);
        }
        for (; i < n; i++)
        {
            float xhat = (xr[i] - mu) * rs, g = dyr[i] * gammaSpan[i];
            sumG += g;
            sumGx += g * xhat;
            dGammaSpan[i] += dyr[i] * xhat;
            dBetaSpan[i] += dyr[i];
        }
        float meanG = (float)(sumG / n), meanGx = (float)(sumGx / n);
        i = 0;
        if (wide)
        {
            var vm = Vector512.Create(mu); var vr = Vector512.Create(rs);
            var vMeanG = Vector512.Create(meanG); var vMeanGx = Vector512.Create(meanGx);
            for (; i + 16 <= n; i += 16)
            {
                var xhat = (Vector512.LoadUnsafe(ref x, (nuint)i) - vm) * vr;
                (vr * (Vector512.LoadUnsafe(ref dy, (nuint)i) * Vector512.LoadUnsafe(ref gm, (nuint)i) - vMeanG - xhat * vMeanGx)).StoreUnsafe(ref dx, (nuint)i);
            }
        }
        {
            var vm = Vector256.Create(mu); var vr = Vector256.Create(rs);
            var vMeanG = Vector256.Create(meanG); var vMeanGx = Vector256.Create(meanGx);
            for (; i + 8 <= n; i += 8)
            {
                var xhat = (Vector256.LoadUnsafe(ref x, (nuint)i) - vm) * vr;
                (vr * (Vector256.LoadUnsafe(ref dy, (nuint)i) * Vector256.LoadUnsafe(ref gm, (nuint)i) - vMeanG - xhat * vMeanGx)).StoreUnsafe(ref dx, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float xhat = (xr[i] - mu) * rs;
            dxr[i] = rs * (dyr[i] * gammaSpan[i] - meanG - xhat * meanGx);
        }
    }
}

/// <summary>The plain loops (row sums in double) <see cref="LayerNormBackward"/> is checked against.</summary>
public static class LayerNormBackwardReference
{
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> dy, int rows, int dim, Span<float> dx, Span<float> dGamma, Span<float> dBeta)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var dyr = dy.Slice(r * dim, dim);
            var dxr = dx.Slice(r * dim, dim);
            float mu = mean[r], rs = rstd[r];
            double sumG = 0, sumGx = 0;
            for (int i = 0; i < dim; i++)
            {
                float xhat = (xr[i] - mu) * rs;
                float g = dyr[i] * gamma[i];
                sumG += g;
                sumGx += g * xhat;
                if (!dGamma.IsEmpty) dGamma[i] += dyr[i] * xhat;
                if (!dBeta.IsEmpty) dBeta[i] += dyr[i];
            }
            float meanG = (float)(sumG / dim), meanGx = (float)(sumGx / dim);
            for (int i = 0; i < dim; i++)
            {
                float xhat = (xr[i] - mu) * rs;
                dxr[i] = rs * (dyr[i] * gamma[i] - meanG - xhat * meanGx);
            }
        }
    }
}
