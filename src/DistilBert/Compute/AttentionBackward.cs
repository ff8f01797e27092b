using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistilBert.Compute;

/// <summary>
/// Backward of <see cref="Attention.Forward"/> (with dropout on the probabilities) over a ragged batch. Per (sequence,
/// head), with P the softmax output, P' = P∘mask what the context used, dC the context gradient:
/// dV = P'ᵀ·dC, dP' = dC·Vᵀ, dP = dP'∘mask, dS = P∘(dP − rowsum(P∘dP)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
/// Parallel over (sequence, head) through <see cref="ComputeThreads"/>; the GEMMs inside run single-threaded, the
/// transposed operands are transposed explicitly (vectorised 8×8 blocks) so every GEMM packs from row-major A.
/// </summary>
public static class AttentionBackward
{
    /// <param name="q">[tokens, heads·headDim], row stride <paramref name="stride"/> (k, v, dContext, dq, dk, dv alike)</param>
    /// <param name="probabilities">Σ heads·T_s² softmax outputs as Forward wrote them (sequence-major, then head)</param>
    /// <param name="usedProbabilities">the probabilities the context was computed from (after dropout), or the same span</param>
    /// <param name="dropMask">same layout, 0 or 1/(1−p) per probability, or empty when no dropout ran</param>
    /// <param name="keyMask">[tokens], 0 = masked key, or empty</param>
    /// <param name="fullyMaskedRowsGetNoGradient">DistilBERT's masked_fill: a sequence whose keys are all masked passes no
    /// gradient to q and k (BERT's additive mask passes the uniform softmax's gradient)</param>
    /// <param name="dq">overwritten (as dk and dv)</param>
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int stride,
        ReadOnlySpan<int> sequenceStarts, int heads, int headDim, float scale, ReadOnlySpan<float> keyMask, bool fullyMaskedRowsGetNoGradient,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> usedProbabilities, ReadOnlySpan<float> dropMask,
        ReadOnlySpan<float> dContext, Span<float> dq, Span<float> dk, Span<float> dv)
    {
        Check(q, k, v, stride, sequenceStarts, heads, headDim, keyMask, probabilities, usedProbabilities, dropMask, dContext, dq, dk, dv);
        int sequences = sequenceStarts.Length - 1;
        if (sequences <= 0 || heads == 0) return;
        var work = _work ??= new BackwardWork();
        var offsets = work.Offsets(sequenceStarts, heads);
        unsafe
        {
            fixed (float* pq = q, pk = k, pv = v, pm = keyMask, pp = probabilities, pu = usedProbabilities, pd = dropMask,
                pc = dContext, pdq = dq, pdk = dk, pdv = dv)
            fixed (int* ps = sequenceStarts)
            fixed (long* po = offsets)
            {
                work.Set(pq, pk, pv, stride, ps, po, heads, headDim, scale, keyMask.IsEmpty ? null : pm, fullyMaskedRowsGetNoGradient,
                    pp, pu, dropMask.IsEmpty ? null : pd, pc, pdq, pdk, pdv);
                try { ComputeThreads.For(sequences * heads, work); }
                finally { work.Clear(); }
            }
        }
    }

    [ThreadStatic] static BackwardWork? _work;

    sealed unsafe class BackwardWork : ParallelWork
    {
        float* _q, _k, _v, _mask, _p, _used, _drop, _dc, _dq, _dk, _dv;
        int* _starts;
        long* _offsets;
        int _stride, _heads, _headDim;
        float _scale;
        bool _fullyMaskedNoGradient;
        long[] _offsetBuffer = [];

        /// <summary>Start of each sequence's block of probabilities (heads·T² each), in a buffer reused across calls.</summary>
        public long[] Offsets(ReadOnlySpan<int> starts, int heads)
        {
            if (_offsetBuffer.Length < starts.Length) _offsetBuffer = new long[starts.Length];
            _offsetBuffer[0] = 0;
            for (int s = 0; s + 1 < starts.Length; s++)
            {
                long t = starts[s + 1] - starts[s];
                _offsetBuffer[s + 1] = _offsetBuffer[s] + heads * t * t;
            }
            return _offsetBuffer;
        }

        public void Set(float* q, float* k, float* v, int stride, int* starts, long* offsets, int heads, int headDim, float scale,
            float* mask, bool fullyMaskedNoGradient, float* p, float* used, float* drop, float* dc, float* dq, float* dk, float* dv)
        {
            _q = q; _k = k; _v = v; _stride = stride; _starts = starts; _offsets = offsets; _heads = heads; _headDim = headDim;
            _scale = scale; _mask = mask; _fullyMaskedNoGradient = fullyMaskedNoGradient; _p = p; _used = used; _drop = drop;
            _dc = dc; _dq = dq; _dk = dk; _dv = dv;
        }

        public void Clear() { _q = _k = _v = _mask = _p = _used = _drop = _dc = _dq = _dk = _dv = null; _starts = null; _offsets = null; }

        public override void Execute(int index)
        {
            int s = index / _heads, h = index % _heads;
            int start = _starts[s], t = _starts[s + 1] - start, d = _headDim;
            if (t == 0) return;
            nint col = (nint)start * _stride + h * d;
            long offset = _offsets[s] + (long)h * t * t;
            float* p = _p + offset, used = _used + offset;
            float* scratch = GemmWorkspace.Scratch(2 * t * t + 16);
            float* dP = scratch, transposed = scratch + t * t;
            float* packed = GemmWorkspace.PackedB(Math.Max(PackedMatrix.PackedLength(t, d), PackedMatrix.PackedLength(d, t)));

            // dV = P'ᵀ · dC
            Transpose(used, t, transposed);
            PackedMatrix.Pack(_dc + col, _stride, transposed: false, t, d, packed, parallel: false);
            GemmDriver.Run(t, d, t, 1f, transposed, t, false, packed, 0f, _dv + col, _stride, null, Epilogue.None, parallel: false);

            bool noGradient = _fullyMaskedNoGradient && _mask != null && AllMasked(_mask + start, t);
            if (noGradient)
            {
                for (int i = 0; i < t; i++)
                {
                    new Span<float>(_dq + col + (nint)i * _stride, d).Clear();
                    new Span<float>(_dk + col + (nint)i * _stride, d).Clear();
                }
                return;
            }

            // dP = dC · Vᵀ (then through the dropout mask), dS = P∘(dP − rowsum(P∘dP)) in place
            PackedMatrix.Pack(_v + col, _stride, transposed: true, d, t, packed, parallel: false);
            GemmDriver.Run(t, t, d, 1f, _dc + col, _stride, false, packed, 0f, dP, t, null, Epilogue.None, parallel: false);
            for (int i = 0; i < t; i++)
                SoftmaxBackwardRow(new ReadOnlySpan<float>(p + (nint)i * t, t), _drop == null ? default : new ReadOnlySpan<float>(_drop + offset + (nint)i * t, t),
                    new Span<float>(dP + (nint)i * t, t));

            // dQ = scale · dS · K ; dK = scale · dSᵀ · Q
            PackedMatrix.Pack(_k + col, _stride, transposed: false, t, d, packed, parallel: false);
            GemmDriver.Run(t, d, t, _scale, dP, t, false, packed, 0f, _dq + col, _stride, null, Epilogue.None, parallel: false);
            Transpose(dP, t, transposed);
            PackedMatrix.Pack(_q + col, _stride, transposed: false, t, d, packed, parallel: false);
            GemmDriver.Run(t, d, t, _scale, transposed, t, false, packed, 0f, _dk + col, _stride, null, Epilogue.None, parallel: false);
        }

        static bool AllMasked(float* mask, int t)
        {
            for (int j = 0; j < t; j++) if (mask[j] != 0) return false;
            return true;
        }
    }

    /// <summary>dst[j, i] = src[i, j] for a [t, t] matrix: 8×8 register blocks where they fit, scalar edges.</summary>
    static unsafe void Transpose(float* src, int t, float* dst)
    {
        int full = System.Runtime.Intrinsics.X86.Avx.IsSupported ? t / 8 * 8 : 0;
        for (int i = 0; i < full; i += 8)
            for (int j = 0; j < full; j += 8)
                GemmDriver.Transpose8x8Block(src + (nint)i * t + j, t, dst + (nint)j * t + i, t);
        for (int i = 0; i < t; i++)
            for (int j = i < full ? full : 0; j < t; j++)
                dst[(nint)j * t + i] = src[(nint)i * t + j];
    }

    /// <summary>dRow ← P∘(g − Σ P∘g / Σ P) with g = dRow∘mask (mask empty = none); the sums in double. Dividing by
    /// Σ P (1 up to the float rounding of the stored softmax) and removing the rounding residue afterwards keep the row
    /// summing to 0, as it does exactly: a last-layer query or key-bias gradient is otherwise mostly that noise.</summary>
    internal static void SoftmaxBackwardRow(ReadOnlySpan<float> pRow, ReadOnlySpan<float> maskRow, Span<float> dRow)
    {
        ref float p = ref MemoryMarshal.GetReference(pRow);
        ref float g = ref MemoryMarshal.GetReference(dRow);
        ref float m = ref MemoryMarshal.GetReference(maskRow);
        bool masked = !maskRow.IsEmpty;
        int n = pRow.Length, i = 0;
        // the row sum in double, as the reference: P∘dP can cancel heavily when one key dominates
        double dot = 0, sumP = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var acc = Vector512<double>.Zero;
            var accP = Vector512<double>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var gi = Vector512.LoadUnsafe(ref g, (nuint)i);
                if (masked) { gi *= Vector512.LoadUnsafe(ref m, (nuint)i); gi.StoreUnsafe(ref g, (nuint)i); }
                var pi = Vector512.LoadUnsafe(ref p, (nuint)i);
                var (lo, hi) = Vector512.Widen(pi * gi);
                acc += lo + hi;
                var (plo, phi) = Vector512.Widen(pi);
                accP += plo + phi;
            }
            dot = Vector512.Sum(acc);
            sumP = Vector512.Sum(accP);
        }
        else if (KernelPaths.Active == KernelPath.Avx2)
        {
            var acc = Vector256<double>.Zero;
            var accP = Vector256<double>.Zero;
            for (; i + 8 <= n; i += 8)
            {
                var gi = Vector256.LoadUnsafe(ref g, (nuint)i);
                if (masked) { gi *= Vector256.LoadUnsafe(ref m, (nuint)i); gi.StoreUnsafe(ref g, (nuint)i); }
                var pi = Vector256.LoadUnsafe(ref p, (nuint)i);
                var (lo, hi) = Vector256.Widen(pi * gi);
                acc += lo + hi;
                var (plo, phi) = Vector256.Widen(pi);
                accP += plo + phi;
            }
            dot = Vector256.Sum(acc);
            sumP = Vector256.Sum(accP);
        }
        for (; i < n; i++)
        {
            if (masked) dRow[i] *= maskRow[i];
            dot += pRow[i] * dRow[i];
            sumP += pRow[i];
        }
        float rowSum = sumP > 0 ? (float)(dot / sumP) : 0f;
        i = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var vd = Vector512.Create(rowSum);
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref p, (nuint)i) * (Vector512.LoadUnsafe(ref g, (nuint)i) - vd)).StoreUnsafe(ref g, (nuint)i);
        }
        else if (KernelPaths.Active == KernelPath.Avx2)
        {
            var vd = Vector256.Create(rowSum);
            for (; i + 8 <= n; i += 8)
                (Vector256.LoadUnsafe(ref p, (nuint)i) * (Vector256.LoadUnsafe(ref g, (nuint)i) - vd)).StoreUnsafe(ref g, (nuint)i);
        }
        for (; i < n; i++) dRow[i] = pRow[i] * (dRow[i] - rowSum);
        if (sumP <= 0) return;
        // Exactly, dS sums to 0 over the row (softmax is shift-invariant): the key bias gets no gradient and queries
        // none along a direction common to all keys. Take the float rounding's residue out again, in proportion to P.
        double residue = 0;
        i = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var acc = Vector512<double>.Zero;
            for (; i + 16 <= n; i += 16) { var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref g, (nuint)i)); acc += lo + hi; }
            residue = Vector512.Sum(acc);
        }
        for (; i < n; i++) residue += dRow[i];
        float shift = (float)(residue / sumP);
        i = 0;
        if (KernelPaths.Active == KernelPath.Avx512)
        {
            var vs = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16)
                (Vector512.LoadUnsafe(ref g, (nuint)i) - Vector512.LoadUnsafe(ref p, (nuint)i) * vs).StoreUnsafe(ref g, (nuint)i);
        }
        for (; i < n; i++) dRow[i] -= pRow[i] * shift;
    }

    static void Check(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int stride, ReadOnlySpan<int> starts,
        int heads, int headDim, ReadOnlySpan<float> keyMask, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> used,
        ReadOnlySpan<float> dropMask, ReadOnlySpan<float> dContext, ReadOnlySpan<float> dq, ReadOnlySpan<float> dk, ReadOnlySpan<float> dv)
    {
        if (starts.Length == 0) throw new InvalidInputException("attention backward: sequenceStarts is empty (needs sequences + 1 offsets)");
        if (heads < 0 || headDim <= 0) throw new InvalidInputException($"attention backward: {heads} heads of dim {headDim}");
        if (starts[0] < 0) throw new InvalidInputException($"attention backward: sequenceStarts[0] = {starts[0]} < 0");
        for (int s = 1; s < starts.Length; s++)
            if (starts[s] < starts[s - 1])
                throw new InvalidInputException($"attention backward: sequenceStarts[{s}] = {starts[s]} < sequenceStarts[{s - 1}] = {starts[s - 1]}");
        int tokens = starts[^1], width = heads * headDim;
        GemmChecks.Operand("q", q, tokens, width, stride);
        GemmChecks.Operand("k", k, tokens, width, stride);
        GemmChecks.Operand("v", v, tokens, width, stride);
        GemmChecks.Operand("dContext", dContext, tokens, width, stride);
        GemmChecks.Operand("dq", dq, tokens, width, stride);
        GemmChecks.Operand("dk", dk, tokens, width, stride);
        GemmChecks.Operand("dv", dv, tokens, width, stride);
        long probLength = Attention.ProbabilitiesLength(starts, heads);
        if (probabilities.Length < probLength || used.Length < probLength || (!dropMask.IsEmpty && dropMask.Length < probLength))
            throw new InvalidInputException($"attention backward: probabilities {probabilities.Length}, used {used.Length}, dropout mask {dropMask.Length} elements; the batch needs {probLength}");
        if (!keyMask.IsEmpty && keyMask.Length < tokens)
            throw new InvalidInputException($"attention backward: key mask has {keyMask.Length} elements, the batch has {tokens} tokens");
    }
}

/// <summary>The plain loops <see cref="AttentionBackward"/> is checked against (double-accumulated dot products).</summary>
public static class AttentionBackwardReference
{
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int stride,
        ReadOnlySpan<int> sequenceStarts, int heads, int headDim, float scale, ReadOnlySpan<float> keyMask, bool fullyMaskedRowsGetNoGradient,
        ReadOnlySpan<float> probabilities, ReadOnlySpan<float> usedProbabilities, ReadOnlySpan<float> dropMask,
        ReadOnlySpan<float> dContext, Span<float> dq, Span<float> dk, Span<float> dv)
    {
        long offset = 0;
        for (int s = 0; s + 1 < sequenceStarts.Length; s++)
        {
            int start = sequenceStarts[s], t = sequenceStarts[s + 1] - start;
            bool allMasked = !keyMask.IsEmpty && t > 0;
            for (int j = 0; j < t && allMasked; j++) if (keyMask[start + j] != 0) allMasked = false;
            var dS = new float[t * t];
            for (int h = 0; h < heads; h++, offset += (long)t * t)
            {
                int col = h * headDim;
                for (int j = 0; j < t; j++)
                    for (int c = 0; c < headDim; c++)
                    {
                        double sum = 0;
                        for (int i = 0; i < t; i++) sum += (double)usedProbabilities[(int)offset + i * t + j] * dContext[(start + i) * stride + col + c];
                        dv[(start + j) * stride + col + c] = (float)sum;
                    }
                for (int i = 0; i < t; i++)
                {
                    double rowDot = 0, rowP = 0;
                    for (int j = 0; j < t; j++)
                    {
                        rowP += probabilities[(int)offset + i * t + j];
                        double dp = 0;
                        for (int c = 0; c < headDim; c++) dp += (double)dContext[(start + i) * stride + col + c] * v[(start + j) * stride + col + c];
                        if (!dropMask.IsEmpty) dp *= dropMask[(int)offset + i * t + j];
                        dS[i * t + j] = (float)dp;
                        rowDot += probabilities[(int)offset + i * t + j] * dp;
                    }
                    if (rowP > 0) rowDot /= rowP; // P as stored sums to 1 only up to rounding
                    for (int j = 0; j < t; j++)
                    {
                        float pij = probabilities[(int)offset + i * t + j];
                        dS[i * t + j] = fullyMaskedRowsGetNoGradient && allMasked ? 0f : (float)(pij * (dS[i * t + j] - rowDot));
                    }
                }
                for (int i = 0; i < t; i++)
                    for (int c = 0; c < headDim; c++)
                    {
                        double dqSum = 0, dkSum = 0;
                        for (int j = 0; j < t; j++)
                        {
                            dqSum += (double)dS[i * t + j] * k[(start + j) * stride + col + c];
                            dkSum += (double)dS[j * t + i] * q[(start + j) * stride + col + c];
                        }
                        dq[(start + i) * stride + col + c] = (float)(scale * dqSum);
                        dk[(start + i) * stride + col + c] = (float)(scale * dkSum);
                    }
            }
        }
    }
}
