namespace DistilBert.Pipelines;

/// <summary>How token vectors become one sentence vector.</summary>
public enum PoolingMode
{
    /// <summary>The first token's ([CLS]) vector.</summary>
    Cls,
    /// <summary>The mean of the real tokens' vectors (padding excluded).</summary>
    Mean,
}

/// <summary>Sentence-embedding pooling, normalisation and similarity.</summary>
public static class EmbeddingPooling
{
    /// <summary>
    /// hidden: [seq, dim] of one sequence; attentionMask: [seq] (1 = real token). Cls takes row 0; Mean averages
    /// the rows whose mask is 1 (sum / max(count, 1e-9), as sentence-transformers), so padding never counts.
    /// </summary>
    public static void Pool(ReadOnlySpan<float> hidden, ReadOnlySpan<int> attentionMask, int dim, PoolingMode mode, Span<float> output)
    {
        int seq = attentionMask.Length;
        if (hidden.Length != seq * dim) throw new InvalidInputException($"hidden states hold {hidden.Length} values; expected {seq} tokens × {dim}");
        if (output.Length != dim) throw new InvalidInputException($"output holds {output.Length} values; expected {dim}");
        if (mode == PoolingMode.Cls) { hidden[..dim].CopyTo(output); return; }
        // Sum in double so long sequences do not lose low bits.
        Span<double> sum = dim <= 2048 ? stackalloc double[dim] : new double[dim];
        sum.Clear();
        double count = 0;
        for (int t = 0; t < seq; t++)
        {
            if (attentionMask[t] == 0) continue;
            count += attentionMask[t];
            var row = hidden.Slice(t * dim, dim);
            for (int j = 0; j < dim; j++) sum[j] += row[j] * (double)attentionMask[t];
        }
        double inverse = 1.0 / Math.Max(count, 1e-9);
        for (int j = 0; j < dim; j++) output[j] = (float)(sum[j] * inverse);
    }

    /// <summary>
    /// Pools a padded batch. hidden: [batch, seq, dim]; attentionMask: [batch, seq]; output: [batch, dim].
    /// </summary>
    public static void PoolBatch(ReadOnlySpan<float> hidden, ReadOnlySpan<int> attentionMask, int batch, int dim, PoolingMode mode, Span<float> output)
    {
        int seq = batch == 0 ? 0 : attentionMask.Length / batch;
        if (attentionMask.Length != batch * seq) throw new InvalidInputException($"attention mask holds {attentionMask.Length} values, not a multiple of batch {batch}");
        for (int b = 0; b < batch; b++)
            Pool(hidden.Slice(b * seq * dim, seq * dim), attentionMask.Slice(b * seq, seq), dim, mode, output.Slice(b * dim, dim));
    }

    /// <summary>Scales <paramref name="vector"/> to unit L2 norm in place (a zero vector stays zero, eps 1e-12 as torch's normalize).</summary>
    public static void L2Normalize(Span<float> vector)
    {
        double squares = 0;
        foreach (var v in vector) squares += (double)v * v;
        double inverse = 1.0 / Math.Max(Math.Sqrt(squares), 1e-12);
        for (int i = 0; i < vector.Length; i++) vector[i] = (float)(vector[i] * inverse);
    }

    /// <summary>Cosine similarity; 0 when either vector is zero.</summary>
    public static float CosineSimilarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new InvalidInputException($"cannot compare vectors of length {a.Length} and {b.Length}");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += (double)a[i] * b[i]; na += (double)a[i] * a[i]; nb += (double)b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0 : (float)(dot / Math.Sqrt(na * nb));
    }
}
