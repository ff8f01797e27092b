using System.Runtime.CompilerServices;
namespace DistilBert.Compute;

/// <summary>
/// Multi-head scaled dot-product attention over a ragged batch: every sequence attends only within itself, at its own
/// length, so no compute is spent on padding. Rows of q/k/v/context are tokens; head h occupies columns
/// [h·headDim, (h+1)·headDim) of each row.
/// </summary>
public static class Attention
{
    /// <param name="q">[tokens, qStride] queries (unscaled)</param>
    /// <param name="k">[tokens, kStride] keys</param>
    /// <param name="v">[tokens, vStride] values</param>
    /// <param name="sequenceStarts">[sequences + 1] token offsets: sequence s is rows [starts[s], starts[s+1])</param>
    /// <param name="keyMask">[tokens] or empty; 0 = this key is masked (probability exactly 0). A query whose keys are
    /// all masked gets uniform probabilities, as HF's finfo.min masking gives (never NaN).</param>
    /// <param name="scale">multiplies q·kᵀ, usually 1/√headDim</param>
    /// <param name="context">[tokens, contextStride] output: probabilities · v, per head</param>
    /// <param name="probabilities">empty, or the softmax probabilities of every sequence, [heads, T_s, T_s] per
    /// sequence, concatenated in sequence order (for output_attentions and for Backward)</param>
    public static void Forward(ReadOnlySpan<float> q, int qStride, ReadOnlySpan<float> k, int kStride,
        ReadOnlySpan<float> v, int vStride, ReadOnlySpan<int> sequenceStarts, int heads, int headDim, float scale,
        ReadOnlySpan<float> keyMask, Span<float> context, int contextStride, Span<float> probabilities)
    {
        Check(q, qStride, k, kStride, v, vStride, sequenceStarts, heads, headDim, keyMask, context, contextStride, probabilities);
        int sequences = sequenceStarts.Length - 1;
        if (sequences <= 0 || heads == 0) return;
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pm = keyMask, pc = context, pp = probabilities)
            fixed (int* ps = sequenceStarts)
            {
                var work = _work ??= new AttentionWork();
                work.Set(pq, qStride, pk, kStride, pv, vStride, ps, sequences, heads, headDim, scale,
                    keyMask.IsEmpty ? null : pm, pc, contextStride, probabilities.IsEmpty ? null : pp);
                try { ComputeThreads.For(sequences * heads, work); }
                finally { work.Clear(); }
            }
        }
    }

    [ThreadStatic] static AttentionWork? _work;

    /// <summary>One (sequence, head): scores = scale · q_h · k_hᵀ [T, T] through the GEMM micro-kernel, masked
    /// softmax per row, then context_h = P · v_h [T, headDim], again through the GEMM. Scores live in the caller's
    /// probabilities buffer when it is given, else in a per-thread scratch.</summary>
    sealed unsafe class AttentionWork : ParallelWork
    {
        float* _q, _k, _v, _mask, _context, _probabilities;
        int* _starts;
        int _qStride, _kStride, _vStride, _contextStride, _sequences, _heads, _headDim;
        float _scale;

        public void Set(float* q, int qStride, float* k, int kStride, float* v, int vStride, int* starts, int sequences,
            int heads, int headDim, float scale, float* mask, float* context, int contextStride, float* probabilities)
        {
            _q = q; _qStride = qStride; _k = k; _kStride = kStride; _v = v; _vStride = vStride; _starts = starts;
            _sequences = sequences; _heads = heads; _headDim = headDim; _scale = scale; _mask = mask;
            _context = context; _contextStride = contextStride; _probabilities = probabilities;
        }

        public void Clear() { _q = _k = _v = _mask = _context = _probabilities = null; _starts = null; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Execute(int index)
        {
            int s = index / _heads, h = index % _heads;
            int start = _starts[s], length = _starts[s + 1] - start;
            if (length == 0) return;
            int col = h * _headDim;
            float* scores;
            if (_probabilities != null)
            {
                long offset = 0;
                for (int i = 0; i < s; i++) { long t = _starts[i + 1] - _starts[i]; offset += _heads * t * t; }
                scores = _probabilities + offset + (long)h * length * length;
            }
            else scores = GemmWorkspace.Scratch(length * length);

            // scores[T, T] = scale · q_h[T, d] · k_h[T, d]ᵀ
            // one buffer holds k_hᵀ packed, then v_h packed: size it for the larger of the two
            float* packed = GemmWorkspace.PackedB(Math.Max(PackedMatrix.PackedLength(_headDim, length),
                PackedMatrix.PackedLength(length, _headDim)));
            PackedMatrix.Pack(_k + (nint)start * _kStride + col, _kStride, transposed: true, _headDim, length, packed, parallel: false);
            GemmDriver.Run(length, length, _headDim, _scale, _q + (nint)start * _qStride + col, _qStride, false, packed,
                0f, scores, length, null, Epilogue.None, parallel: false);

            bool anyMasked = false, allMasked = true;
            if (_mask != null)
                for (int j = 0; j < length; j++)
                {
                    if (_mask[start + j] == 0) anyMasked = true;
                    else allMasked = false;
                }
            else allMasked = false;
            bool wide = KernelPaths.Active == KernelPath.Avx512;
            for (int i = 0; i < length; i++)
            {
                var row = new Span<float>(scores + (long)i * length, length);
                if (allMasked) { row.Fill(1f / length); continue; } // HF's finfo.min fill gives a uniform row
                if (anyMasked)
                    for (int j = 0; j < length; j++)
                        if (_mask[start + j] == 0) row[j] = float.NegativeInfinity;
                if (KernelPaths.Active == KernelPath.Portable) SoftmaxReference.Rows(row, 1, length);
                else Softmax.Row(row, wide);
            }

            // context_h[T, d] = P[T, T] · v_h[T, d]
            PackedMatrix.Pack(_v + (nint)start * _vStride + col, _vStride, transposed: false, length, _headDim, packed, parallel: false);
            GemmDriver.Run(length, _headDim, length, 1f, scores, length, false, packed, 0f,
                _context + (nint)start * _contextStride + col, _contextStride, null, Epilogue.None, parallel: false);
        }
    }

    static void Check(ReadOnlySpan<float> q, int qStride, ReadOnlySpan<float> k, int kStride, ReadOnlySpan<float> v,
        int vStride, ReadOnlySpan<int> sequenceStarts, int heads, int headDim, ReadOnlySpan<float> keyMask,
        ReadOnlySpan<float> context, int contextStride, ReadOnlySpan<float> probabilities)
    {
        if (sequenceStarts.Length == 0) throw new InvalidInputException("attention: sequenceStarts is empty (needs sequences + 1 offsets)");
        if (heads < 0 || headDim <= 0) throw new InvalidInputException($"attention: {heads} heads of dim {headDim}");
        if (sequenceStarts[0] < 0) throw new InvalidInputException($"attention: sequenceStarts[0] = {sequenceStarts[0]} < 0");
        for (int s = 1; s < sequenceStarts.Length; s++)
            if (sequenceStarts[s] < sequenceStarts[s - 1])
                throw new InvalidInputException($"attention: sequenceStarts[{s}] = {sequenceStarts[s]} < sequenceStarts[{s - 1}] = {sequenceStarts[s - 1]}");
        int tokens = sequenceStarts[^1];
        int width = heads * headDim;
        GemmChecks.Operand("q", q, tokens, width, qStride);
        GemmChecks.Operand("k", k, tokens, width, kStride);
        GemmChecks.Operand("v", v, tokens, width, vStride);
        GemmChecks.Operand("context", context, tokens, width, contextStride);
        if (!keyMask.IsEmpty && keyMask.Length < tokens)
            throw new InvalidInputException($"attention: key mask has {keyMask.Length} elements, the batch has {tokens} tokens");
        if (!probabilities.IsEmpty && probabilities.Length < ProbabilitiesLength(sequenceStarts, heads))
            throw new InvalidInputException($"attention: probabilities buffer has {probabilities.Length} elements, needs {ProbabilitiesLength(sequenceStarts, heads)}");
    }

    /// <summary>Elements of the probabilities buffer for these sequences: Σ heads · T_s².</summary>
    public static long ProbabilitiesLength(ReadOnlySpan<int> sequenceStarts, int heads)
    {
        long n = 0;
        for (int s = 0; s + 1 < sequenceStarts.Length; s++)
        {
            long t = sequenceStarts[s + 1] - sequenceStarts[s];
            n += heads * t * t;
        }
        return n;
    }
}

/// <summary>The plain loops every fast attention path is checked against (design note 4).</summary>
public static class AttentionReference
{
    public static void Forward(ReadOnlySpan<float> q, int qStride, ReadOnlySpan<float> k, int kStride,
        ReadOnlySpan<float> v, int vStride, ReadOnlySpan<int> sequenceStarts, int heads, int headDim, float scale,
        ReadOnlySpan<float> keyMask, Span<float> context, int contextStride, Span<float> probabilities)
    {
        long probOffset = 0;
        for (int s = 0; s + 1 < sequenceStarts.Length; s++)
        {
            int start = sequenceStarts[s], length = sequenceStarts[s + 1] - start;
            var scores = new float[length];
            for (int h = 0; h < heads; h++)
            {
                int col = h * headDim;
                for (int i = 0; i < length; i++)
                {
                    var qi = q.Slice((start + i) * qStride + col, headDim);
                    bool anyKey = false;
                    for (int j = 0; j < length; j++)
                    {
                        bool masked = !keyMask.IsEmpty && keyMask[start + j] == 0;
                        if (masked) { scores[j] = float.NegativeInfinity; continue; }
                        anyKey = true;
                        var kj = k.Slice((start + j) * kStride + col, headDim);
                        float dot = 0;
                        for (int d = 0; d < headDim; d++) dot += qi[d] * kj[d];
                        scores[j] = dot * scale;
                    }
                    if (!anyKey) scores.AsSpan().Fill(0f); // all keys masked: HF's finfo.min fill gives a uniform row
                    PlainSoftmax(scores);
                    if (!probabilities.IsEmpty) scores.CopyTo(probabilities.Slice((int)(probOffset + ((long)h * length + i) * length), length));
                    var ci = context.Slice((start + i) * contextStride + col, headDim);
                    ci.Clear();
                    for (int j = 0; j < length; j++)
                    {
                        float p = scores[j];
                        if (p == 0) continue;
                        var vj = v.Slice((start + j) * vStride + col, headDim);
                        for (int d = 0; d < headDim; d++) ci[d] += p * vj[d];
                    }
                }
            }
            probOffset += (long)heads * length * length;
        }
    }

    /// <summary>Softmax in double with no shortcut: its own, so the check does not share a bug with <see cref="Softmax"/>
    /// or <see cref="SoftmaxReference"/> (which the fast path and the portable path use). −∞ gives exactly 0.</summary>
    static void PlainSoftmax(Span<float> row)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (var x in row) max = Math.Max(max, x);
        foreach (var x in row) sum += Math.Exp(x - max);
        for (int i = 0; i < row.Length; i++) row[i] = (float)(Math.Exp(row[i] - max) / sum);
    }
}
