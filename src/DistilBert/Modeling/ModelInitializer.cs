
namespace DistilBert.Modeling;

/// <summary>
/// HF's _init_weights for BERT/DistilBERT: Linear and Embedding weights ~ normal(0, initializer_range), biases 0,
/// LayerNorm weight 1 and bias 0, the word-embedding row pad_token_id 0; DistilBERT's position table is the sinusoidal
/// one when sinusoidal_pos_embds is set (HF 4.30 overwrote it with noise right after computing it; we keep the table).
/// </summary>
public static class ModelInitializer
{
    public static void Initialize(TransformerModel model, ulong seed)
    {
        var random = new SeededRandom(seed);
        var config = model.Config;
        float std = (float)config.InitializerRange;
        foreach (var p in model.Parameters)
        {
            var v = p.Value;
            if (IsLayerNorm(p.Name)) { Array.Fill(v, p.Name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f); continue; }
            if (p.Name.EndsWith(".bias", StringComparison.Ordinal)) { Array.Clear(v); continue; }
            for (int i = 0; i < v.Length; i++) v[i] = (float)(random.NextGaussian() * std);
            if (p.Name.EndsWith("embeddings.word_embeddings.weight", StringComparison.Ordinal))
                Array.Clear(v, config.PadTokenId * p.Shape[1], p.Shape[1]);
        }
        if (config is DistilBertConfig { SinusoidalPosEmbds: true } d)
        {
            var table = model.Parameters.First(p => p.Name.EndsWith("embeddings.position_embeddings.weight", StringComparison.Ordinal));
            SinusoidalTable(d.MaxPositionEmbeddings, d.Dim, table.Value);
        }
    }

    static bool IsLayerNorm(string name) =>
        name.Contains("LayerNorm.", StringComparison.Ordinal) || name.Contains("layer_norm.", StringComparison.Ordinal);

    /// <summary>HF's create_sinusoidal_embeddings: angle pos/10000^(2·(j/2)/dim) in float64; sin on even columns, cos on odd.</summary>
    public static void SinusoidalTable(int positions, int dim, Span<float> table)
    {
        for (int pos = 0; pos < positions; pos++)
            for (int j = 0; j < dim; j++)
            {
                double angle = pos / Math.Pow(10000, 2.0 * (j / 2) / dim);
                table[pos * dim + j] = (float)(j % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
    }
}
