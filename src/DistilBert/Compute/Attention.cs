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
        AttentionReference.Forward(q, qStride, k, kStride, v, vStride, sequenceStarts, heads, headDim, scale, keyMask,
            context, contextStride, probabilities);
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
                    Softmax.Rows(scores, 1, length);
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
}
