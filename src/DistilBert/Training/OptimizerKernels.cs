using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DistilBert.Compute;

namespace DistilBert.Training;

/// <summary>The scalars of one AdamW update of one tensor (see <see cref="AdamW"/>).</summary>
public readonly record struct AdamWScalars(float Decay, bool ApplyDecay, float Beta1, float OneMinusBeta1, float Beta2,
    float OneMinusBeta2, float StepSize, float BiasCorrection2Sqrt, float Eps);

/// <summary>
/// The per-element loops of the optimizer step, vectorised and split into fixed chunks run through
/// <see cref="ComputeThreads"/>. Every element sees exactly the scalar reference's float operations in the same order
/// (no fused multiply-add), so results are bit-identical to <see cref="OptimizerReference"/>; reductions sum fixed chunks
/// in a fixed order, so they do not depend on which thread ran what.
/// </summary>
public static class OptimizerKernels
{
    /// <summary>Elements per parallel task: large enough to amortise a dispatch, small enough to balance 2+ threads.</summary>
    const int ChunkLength = 1 << 16;

    /// <summary>torch AdamW on one tensor: p ← p·decay (if any); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    /// p ← p − stepSize · m / (√v / √bc2 + eps).</summary>
    public static void AdamWUpdate(float[] value, float[] grad, float[] expAvg, float[] expAvgSq, in AdamWScalars s)
    {
        if (grad.Length < value.Length || expAvg.Length < value.Length || expAvgSq.Length < value.Length)
            throw new InvalidInputException($"AdamW: parameter has {value.Length} elements, gradient {grad.Length}, moments {expAvg.Length} and {expAvgSq.Length}");
        int chunks = Chunks(value.Length);
        if (chunks == 1)
        {
            AdamWRange(value, grad, expAvg, expAvgSq, s, 0, value.Length);
            return;
        }
        var work = _adamWork ??= new AdamWWork();
        work.Set(value, grad, expAvg, expAvgSq, s);
        try { ComputeThreads.For(chunks, work); }
        finally { work.Set(null!, null!, null!, null!, default); }
    }

    /// <summary>Σ x² in double over one tensor (fixed chunks summed in order).</summary>
    public static double SumOfSquares(float[] x)
    {
        int chunks = Chunks(x.Length);
        if (chunks == 1) return SumOfSquaresRange(x, 0, x.Length);
        var work = _squaresWork ??= new SquaresWork();
        work.Set(x, chunks);
        try
        {
            ComputeThreads.For(chunks, work);
            double sum = 0;
            for (int c = 0; c < chunks; c++) sum += work.Partials[c];
            return sum;
        }
        finally { work.Set(null!, 0); }
    }

    /// <summary>x ← x·c.</summary>
    public static void Scale(float[] x, float c)
    {
        int chunks = Chunks(x.Length);
        if (chunks == 1)
        {
            ScaleRange(x, c, 0, x.Length);
            return;
        }
        var work = _scaleWork ??= new ScaleWork();
        work.Set(x, c);
        try { ComputeThreads.For(chunks, work); }
        finally { work.Set(null!, 0); }
    }

    static int Chunks(int length) => Math.Max(1, (length + ChunkLength - 1) / ChunkLength);

    static (int Start, int Length) Chunk(int index, int total)
    {
        int start = index * ChunkLength;
        return (start, Math.Min(ChunkLength, total - start));
    }

    static void AdamWRange(float[] value, float[] grad, float[] expAvg, float[] expAvgSq, in AdamWScalars s, int start, int length)
    {
        ref float p = ref MemoryMarshal.GetArrayDataReference(value);
        ref float g = ref MemoryMarshal.GetArrayDataReference(grad);
        ref float m = ref MemoryMarshal.GetArrayDataReference(expAvg);
        ref float v = ref MemoryMarshal.GetArrayDataReference(expAvgSq);
        int i = start, end = start + length;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var b1 = Vector512.Create(s.Beta1); var omb1 = Vector512.Create(s.OneMinusBeta1);
            var b2 = Vector512.Create(s.Beta2); var omb2 = Vector512.Create(s.OneMinusBeta2);
            var bc2 = Vector512.Create(s.BiasCorrection2Sqrt); var eps = Vector512.Create(s.Eps);
            var negStep = Vector512.Create(-s.StepSize); var decay = Vector512.Create(s.Decay);
            for (; i + 16 <= end; i += 16)
            {
                var gi = Vector512.LoadUnsafe(ref g, (nuint)i);
                var pi = Vector512.LoadUnsafe(ref p, (nuint)i);
                if (s.ApplyDecay) pi *= decay;
                var mi = Vector512.LoadUnsafe(ref m, (nuint)i) * b1 + gi * omb1;
                var vi = Vector512.LoadUnsafe(ref v, (nuint)i) * b2 + gi * gi * omb2;
                var denom = Vector512.Sqrt(vi) / bc2 + eps;
                pi += negStep * (mi / denom);
                mi.StoreUnsafe(ref m, (nuint)i);
                vi.StoreUnsafe(ref v, (nuint)i);
                pi.StoreUnsafe(ref p, (nuint)i);
            }
        }
        else if (KernelPaths.Active == KernelPath.Avx2)
        {
            var b1 = Vector256.Create(s.Beta1); var omb1 = Vector256.Create(s.OneMinusBeta1);
            var b2 = Vector256.Create(s.Beta2); var omb2 = Vector256.Create(s.OneMinusBeta2);
            var bc2 = Vector256.Create(s.BiasCorrection2Sqrt); var eps = Vector256.Create(s.Eps);
            var negStep = Vector256.Create(-s.StepSize); var decay = Vector256.Create(s.Decay);
            for (; i + 8 <= end; i += 8)
            {
                var gi = Vector256.LoadUnsafe(ref g, (nuint)i);
                var pi = Vector256.LoadUnsafe(ref p, (nuint)i);
                if (s.ApplyDecay) pi *= decay;
                var mi = Vector256.LoadUnsafe(ref m, (nuint)i) * b1 + gi * omb1;
                var vi = Vector256.LoadUnsafe(ref v, (nuint)i) * b2 + gi * gi * omb2;
                var denom = Vector256.Sqrt(vi) / bc2 + eps;
                pi += negStep * (mi / denom);
                mi.StoreUnsafe(ref m, (nuint)i);
                vi.StoreUnsafe(ref v, (nuint)i);
                pi.StoreUnsafe(ref p, (nuint)i);
            }
        }
        OptimizerReference.AdamWUpdate(value.AsSpan(i, end - i), grad.AsSpan(i, end - i), expAvg.AsSpan(i, end - i), expAvgSq.AsSpan(i, end - i), s);
    }

    static double SumOfSquaresRange(float[] x, int start, int length)
    {
        ref float xs = ref MemoryMarshal.GetArrayDataReference(x);
        int i = start, end = start + length;
        double sum = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var acc0 = Vector512<double>.Zero; var acc1 = Vector512<double>.Zero;
            for (; i + 16 <= end; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref xs, (nuint)i));
                acc0 += lo * lo;
                acc1 += hi * hi;
            }
            sum = Vector512.Sum(acc0 + acc1);
        }
        else if (KernelPaths.Active == KernelPath.Avx2)
        {
            var acc0 = Vector256<double>.Zero; var acc1 = Vector256<double>.Zero;
            for (; i + 8 <= end; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xs, (nuint)i));
                acc0 += lo * lo;
                acc1 += hi * hi;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        for (; i < end; i++) sum += (double)x[i] * x[i];
        return sum;
    }

    static void ScaleRange(float[] x, float c, int start, int length)
    {
        ref float xs = ref MemoryMarshal.GetArrayDataReference(x);
        int i = start, end = start + length;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var vc = Vector512.Create(c);
            for (; i + 16 <= end; i += 16) (Vector512.LoadUnsafe(ref xs, (nuint)i) * vc).StoreUnsafe(ref xs, (nuint)i);
        }
        else if (KernelPaths.Active == KernelPath.Avx2)
        {
            var vc = Vector256.Create(c);
            for (; i + 8 <= end; i += 8) (Vector256.LoadUnsafe(ref xs, (nuint)i) * vc).StoreUnsafe(ref xs, (nuint)i);
        }
        for (; i < end; i++) x[i] *= c;
    }

    [ThreadStatic] static AdamWWork? _adamWork;
    [ThreadStatic] static SquaresWork? _squaresWork;
    [ThreadStatic] static ScaleWork? _scaleWork;

    sealed class AdamWWork : ParallelWork
    {
        float[] _p = [], _g = [], _m = [], _v = [];
        AdamWScalars _s;

        public void Set(float[] p, float[] g, float[] m, float[] v, AdamWScalars s) { _p = p; _g = g; _m = m; _v = v; _s = s; }

        public override void Execute(int index)
        {
            var (start, length) = Chunk(index, _p.Length);
            AdamWRange(_p, _g, _m, _v, _s, start, length);
        }
    }

    sealed class SquaresWork : ParallelWork
    {
        float[] _x = [];
        public double[] Partials { get; private set; } = [];

        public void Set(float[] x, int chunks)
        {
            _x = x;
            if (Partials.Length < chunks) Partials = new double[chunks];
        }

        public override void Execute(int index)
        {
            var (start, length) = Chunk(index, _x.Length);
            Partials[index] = SumOfSquaresRange(_x, start, length);
        }
    }

    sealed class ScaleWork : ParallelWork
    {
        float[] _x = [];
        float _c;

        public void Set(float[] x, float c) { _x = x; _c = c; }

        public override void Execute(int index)
        {
            var (start, length) = Chunk(index, _x.Length);
            ScaleRange(_x, _c, start, length);
        }
    }
}

/// <summary>The scalar loops the optimizer kernels are checked against.</summary>
public static class OptimizerReference
{
    public static void AdamWUpdate(Span<float> value, ReadOnlySpan<float> grad, Span<float> expAvg, Span<float> expAvgSq, in AdamWScalars s)
    {
        for (int i = 0; i < value.Length; i++)
        {
            float gi = grad[i];
            if (s.ApplyDecay) value[i] *= s.Decay;
            expAvg[i] = expAvg[i] * s.Beta1 + gi * s.OneMinusBeta1;
            expAvgSq[i] = expAvgSq[i] * s.Beta2 + gi * gi * s.OneMinusBeta2;
            float denom = MathF.Sqrt(expAvgSq[i]) / s.BiasCorrection2Sqrt + s.Eps;
            value[i] += -s.StepSize * (expAvg[i] / denom);
        }
    }

    public static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (var v in x) sum += (double)v * v;
        return sum;
    }
}
