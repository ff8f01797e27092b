namespace DistilBert.Distillation;

/// <summary>Weights of DistilBERT's triple loss; defaults are the research project's published command.</summary>
public sealed record DistillationLossOptions
{
    public float Temperature { get; init; } = 2f;
    public float AlphaCe { get; init; } = 5f;
    public float AlphaMlm { get; init; } = 2f;
    public float AlphaCos { get; init; } = 1f;
    /// <summary>Restrict the soft-target (KL) term to masked positions (lm_labels ≠ −100) instead of every real token.</summary>
    public bool RestrictCeToMask { get; init; }
}

/// <summary>The loss value and its three components (each before its alpha weight).</summary>
public readonly record struct DistillationLossValue(float Loss, float LossCe, float LossMlm, float LossCos);

/// <summary>
/// DistilBERT's general-distillation loss, forward and backward together:
///   loss = α_ce · T² · KL(softmax(t/T) ‖ softmax(s/T)) [batchmean over selected positions]
///        + α_mlm · CE(s, lm_labels) [mean over labels ≠ −100]
///        + α_cos · mean(1 − cos(h_s, h_t)) [over real tokens]
/// as distiller.py computes it. Gradients are with respect to the student's logits and last hidden states.
/// </summary>
public static class DistillationLoss
{
    public const int IgnoreIndex = -100;
    const double CosineEpsilon = 1e-12; // torch's cosine_embedding_loss EPSILON

    /// <param name="studentLogits">[positions, vocab]</param>
    /// <param name="teacherLogits">[positions, vocab]</param>
    /// <param name="studentHidden">[positions, dim] last hidden states</param>
    /// <param name="teacherHidden">[positions, dim]</param>
    /// <param name="attentionMask">[positions]; 0 = padding (excluded everywhere); empty = every position is real</param>
    /// <param name="lmLabels">[positions]; −100 = not an MLM target</param>
    /// <param name="gradLogits">[positions, vocab] or empty: receives d loss / d studentLogits</param>
    /// <param name="gradHidden">[positions, dim] or empty: receives d loss / d studentHidden</param>
    public static DistillationLossValue Compute(
        ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits, int vocab,
        ReadOnlySpan<float> studentHidden, ReadOnlySpan<float> teacherHidden, int dim,
        ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> lmLabels, DistillationLossOptions options,
        Span<float> gradLogits, Span<float> gradHidden)
    {
        int positions = lmLabels.Length;
        if (studentLogits.Length != (long)positions * vocab || teacherLogits.Length != studentLogits.Length)
            throw new InvalidInputException($"distillation loss: logits hold {studentLogits.Length} and {teacherLogits.Length} values, expected {positions} positions × {vocab} vocab");
        if (studentHidden.Length != (long)positions * dim || teacherHidden.Length != studentHidden.Length)
            throw new InvalidInputException($"distillation loss: hidden states hold {studentHidden.Length} and {teacherHidden.Length} values, expected {positions} positions × {dim}");
        if (!attentionMask.IsEmpty && attentionMask.Length != positions)
            throw new InvalidInputException($"distillation loss: attention_mask has {attentionMask.Length} positions, lm_labels {positions}");
        bool wantGrad = !gradLogits.IsEmpty;
        if (wantGrad) gradLogits.Clear();
        if (!gradHidden.IsEmpty) gradHidden.Clear();

        // Real tokens (attention_mask ≠ 0) take the cosine term; the KL term takes real tokens or only MLM targets.
        var isReal = new bool[positions];
        var selectedForCe = new bool[positions];
        for (int p = 0; p < positions; p++)
        {
            isReal[p] = attentionMask.IsEmpty || attentionMask[p] != 0;
            selectedForCe[p] = options.RestrictCeToMask ? lmLabels[p] > -1 : isReal[p];
        }

        int nCe = 0, nMlm = 0, nCos = 0;
        for (int p = 0; p < positions; p++)
        {
            if (selectedForCe[p]) nCe++;
            if (lmLabels[p] != IgnoreIndex) nMlm++;
            if (isReal[p]) nCos++;
        }

        float T = options.Temperature;
        var sProb = new double[vocab];
        var tProb = new double[vocab];
        double klSum = 0, mlmSum = 0, cosSum = 0;
        for (int p = 0; p < positions; p++)
        {
            var s = studentLogits.Slice(p * vocab, vocab);
            var g = wantGrad ? gradLogits.Slice(p * vocab, vocab) : default;
            if (selectedForCe[p])
            {
                // KL(q ‖ p) with q = softmax(t/T), log p = log_softmax(s/T); d/ds = T²/n · (p − q)/T.
                // One exp per logit: the probabilities come from the softmax sums, the logs from x/T − lse.
                var t = teacherLogits.Slice(p * vocab, vocab);
                double lseS = SoftmaxInto(s, T, sProb), lseT = SoftmaxInto(t, T, tProb);
                double gradScale = options.AlphaCe * T / nCe;
                for (int v = 0; v < vocab; v++)
                {
                    double q = tProb[v];
                    if (q > 0) klSum += q * ((t[v] / (double)T - lseT) - (s[v] / (double)T - lseS));
                    if (wantGrad) g[v] += (float)(gradScale * (sProb[v] - q));
                }
            }
            long label = lmLabels[p];
            if (label != IgnoreIndex)
            {
                if (label < 0 || label >= vocab) throw new InvalidInputException($"distillation loss: lm_labels value {label} at position {p} is outside [0, {vocab})");
                double lse = SoftmaxInto(s, 1f, sProb);
                mlmSum -= s[(int)label] - lse;
                if (wantGrad)
                {
                    double scale = options.AlphaMlm / nMlm;
                    for (int v = 0; v < vocab; v++) g[v] += (float)(scale * sProb[v]);
                    g[(int)label] -= (float)scale;
                }
            }
            if (isReal[p])
            {
                var x = studentHidden.Slice(p * dim, dim);
                var y = teacherHidden.Slice(p * dim, dim);
                double xy = 0, xx = CosineEpsilon, yy = CosineEpsilon;
                for (int d = 0; d < dim; d++) { xy += (double)x[d] * y[d]; xx += (double)x[d] * x[d]; yy += (double)y[d] * y[d]; }
                double denom = Math.Sqrt(xx * yy);
                double cos = xy / denom;
                cosSum += 1 - cos;
                if (!gradHidden.IsEmpty)
                {
                    // d(1 − cos)/dx = −(y/denom − cos · x/|x|²)
                    var gh = gradHidden.Slice(p * dim, dim);
                    double scale = options.AlphaCos / nCos;
                    for (int d = 0; d < dim; d++) gh[d] = (float)(-scale * (y[d] / denom - cos * x[d] / xx));
                }
            }
        }
        double lossCe = nCe == 0 ? 0 : klSum / nCe * T * T;
        double lossMlm = nMlm == 0 ? 0 : mlmSum / nMlm;
        double lossCos = nCos == 0 ? 0 : cosSum / nCos;
        double loss = options.AlphaCe * lossCe + options.AlphaMlm * lossMlm + options.AlphaCos * lossCos;
        return new DistillationLossValue((float)loss, (float)lossCe, (float)lossMlm, (float)lossCos);
    }

    /// <summary>Writes softmax(x / temperature) into <paramref name="prob"/> and returns logsumexp(x / temperature), in double.</summary>
    internal static double SoftmaxInto(ReadOnlySpan<float> x, float temperature, double[] prob)
    {
        double inv = 1.0 / temperature, max = double.NegativeInfinity;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, x[i] * inv);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) { double e = Math.Exp(x[i] * inv - max); prob[i] = e; sum += e; }
        double invSum = 1.0 / sum;
        for (int i = 0; i < x.Length; i++) prob[i] *= invSum;
        return max + Math.Log(sum);
    }

    /// <summary>Writes log_softmax(x / temperature) into <paramref name="logProb"/>, in double precision.</summary>
    internal static void LogSoftmax(ReadOnlySpan<float> x, float temperature, double[] logProb)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, x[i] / (double)temperature);
        double sum = 0;
        for (int i = 0; i < x.Length; i++) sum += Math.Exp(x[i] / (double)temperature - max);
        double lse = max + Math.Log(sum);
        for (int i = 0; i < x.Length; i++) logProb[i] = x[i] / (double)temperature - lse;
    }
}
