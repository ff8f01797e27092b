namespace DistilBert.Compute;

/// <summary>
/// context_h = P_h · v_h per (sequence, head) from given probabilities — training recomputes the context from the
/// dropped-out probabilities this way. Parallel over (sequence, head), single-threaded GEMMs inside (as
/// <see cref="Attention.Forward"/>); <see cref="AttentionContextReference"/> is its plain twin.
/// </summary>
public static class AttentionContext
{
    /// <param name="probabilities">Σ heads·T_s² (sequence-major, then head), as <see cref="Attention.Forward"/> writes them</param>
    /// <param name="v">[tokens, heads·headDim], row stride <paramref name="stride"/></param>
    /// <param name="context">[tokens, heads·headDim], row stride <paramref name="stride"/>; overwritten</param>
    public static void FromProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> v, int stride, ReadOnlySpan<int> sequenceStarts,
        int heads, int headDim, Span<float> context)
    {
        if (sequenceStarts.Length == 0) throw new InvalidInputException("attention context: sequenceStarts is empty (needs sequences + 1 offsets)");
        if (heads < 0 || headDim <= 0) throw new InvalidInputException($"attention context: {heads} heads of dim {headDim}");
        for (int s = 1; s < sequenceStarts.Length; s++)
            if (sequenceStarts[s] < sequenceStarts[s - 1] || sequenceStarts[0] < 0)
                throw new InvalidInputException($"attention context: sequenceStarts[{s}] = {sequenceStarts[s]} is before sequenceStarts[{s - 1}] = {sequenceStarts[s - 1]}");
        int tokens = sequenceStarts[^1], sequences = sequenceStarts.Length - 1;
        GemmChecks.Operand("v", v, tokens, heads * headDim, stride);
        GemmChecks.Operand("context", context, tokens, heads * headDim, stride);
        long probLength = Attention.ProbabilitiesLength(sequenceStarts, heads);
        if (probabilities.Length < probLength)
            throw new InvalidInputException($"attention context: probabilities has {probabilities.Length} elements, the batch needs {probLength}");
        if (sequences <= 0 || heads == 0) return;
        var work = _work ??= new ContextWork();
        if (work.OffsetBuffer.Length < sequences + 1) work.OffsetBuffer = new long[sequences + 1];
        var offsets = work.OffsetBuffer;
        offsets[0] = 0;
        for (int s = 0; s < sequences; s++)
        {
            long t = sequenceStarts[s + 1] - sequenceStarts[s];
            offsets[s + 1] = offsets[s] + heads * t * t;
        }
        unsafe
        {
            fixed (float* pp = probabilities, pv = v, pc = context)
            fixed (int* ps = sequenceStarts)
            fixed (long* po = offsets)
            {
                work.Set(pp, pv, pc, stride, ps, po, heads, headDim);
                try { ComputeThreads.For(sequences * heads, work); }
                finally { work.Set(null, null, null, 0, null, null, 0, 0); }
            }
        }
    }

    [ThreadStatic] static ContextWork? _work;

    sealed unsafe class ContextWork : ParallelWork
    {
        float* _p, _v, _context;
        int* _starts;
        long* _offsets;
        int _stride, _heads, _headDim;
        /// <summary>Per-sequence probability offsets, reused across calls (steady-state training allocates nothing).</summary>
        public long[] OffsetBuffer { get; set; } = [];

        public void Set(float* p, float* v, float* context, int stride, int* starts, long* offsets, int heads, int headDim)
        {
            _p = p; _v = v; _context = context; _stride = stride; _starts = starts; _offsets = offsets; _heads = heads; _headDim = headDim;
        }

        public override void Execute(int index)
        {
            int s = index / _heads, h = index % _heads;
            int start = _starts[s], t = _starts[s + 1] - start;
            if (t == 0) return;
            nint col = (nint)start * _stride + h * _headDim;
            float* packed = GemmWorkspace.PackedB(PackedMatrix.PackedLength(t, _headDim));
            PackedMatrix.Pack(_v + col, _stride, transposed: false, t, _headDim, packed, parallel: false);
            GemmDriver.Run(t, _headDim, t, 1f, _p + _offsets[s] + (long)h * t * t, t, false, packed, 0f, _context + col, _stride,
                null, Epilogue.None, parallel: false);
        }
    }
}

/// <summary>The plain loops <see cref="AttentionContext"/> is checked against.</summary>
public static class AttentionContextReference
{
    public static void FromProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> v, int stride, ReadOnlySpan<int> sequenceStarts,
        int heads, int headDim, Span<float> context)
    {
        long offset = 0;
        for (int s = 0; s + 1 < sequenceStarts.Length; s++)
        {
            int start = sequenceStarts[s], t = sequenceStarts[s + 1] - start;
            for (int h = 0; h < heads; h++, offset += (long)t * t)
                for (int i = 0; i < t; i++)
                    for (int c = 0; c < headDim; c++)
                    {
                        double sum = 0;
                        for (int j = 0; j < t; j++) sum += (double)probabilities[(int)offset + i * t + j] * v[(start + j) * stride + h * headDim + c];
                        context[(start + i) * stride + h * headDim + c] = (float)sum;
                    }
        }
    }
}
