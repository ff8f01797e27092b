using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>One input's sentence vector.</summary>
public sealed record EmbeddingOutput(long Input, float[] Vector, int Tokens);

/// <summary>
/// Sentence embeddings from the base model's last hidden state: CLS or mean pooling over the real tokens,
/// optionally L2-normalised. Works with any DistilBERT/BERT folder (task heads are not loaded). Over-long inputs
/// are truncated with a warning.
/// </summary>
public sealed class EmbeddingPipeline : TaskPipeline
{
    /// <summary>How token vectors are pooled into one vector per text.</summary>
    public PoolingMode Pooling { get; }
    /// <summary>Whether vectors are L2-normalised to length 1.</summary>
    public bool Normalize { get; }
    /// <summary>Length of each vector: the model's hidden size.</summary>
    public int Dimensions => Model.Config.HiddenSize;

    /// <summary>A pipeline over a loaded <paramref name="tokenizer"/> and <paramref name="model"/>.</summary>
    public EmbeddingPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null,
        PoolingMode pooling = PoolingMode.Mean, bool normalize = true)
        : base(tokenizer, model, settings)
    {
        Pooling = pooling;
        Normalize = normalize;
    }

    /// <summary>Loads the model and tokenizer in <paramref name="folder"/> (or a Hub repo id).</summary>
    public static EmbeddingPipeline Load(string folder, PipelineSettings? settings = null, PoolingMode pooling = PoolingMode.Mean, bool normalize = true)
    {
        var (tokenizer, model) = LoadFolder(folder, "embeddings", head: null, settings?.Warn);
        return new EmbeddingPipeline(tokenizer, model, settings, pooling, normalize);
    }

    /// <summary>The vector of <paramref name="text"/>, <see cref="Dimensions"/> floats.</summary>
    public float[] Embed(string text) => Embed([text]).Single().Vector;

    /// <summary>
    /// The vectors of <paramref name="texts"/>, in input order, computed in length-grouped batches as they are read.
    /// </summary>
    public IEnumerable<EmbeddingOutput> Embed(IEnumerable<string> texts) =>
        LengthBatcher.Run(texts.Select((t, i) => Prepare(i + 1, t)), p => p.Encoding.Length, Settings.BatchSize, RunBatch);

    /// <summary>The vectors of <paramref name="texts"/> as they arrive, in input order.</summary>
    public IAsyncEnumerable<EmbeddingOutput> EmbedAsync(IAsyncEnumerable<string> texts, CancellationToken cancellationToken = default) =>
        LengthBatcher.RunAsync(texts.Select((t, i) => Prepare(i + 1, t)), p => p.Encoding.Length, Settings.BatchSize, RunBatch,
            cancellationToken: cancellationToken);

    sealed record Prepared(long Input, EncodedText Encoding);

    Prepared Prepare(long number, string text) => new(number, EncodeTruncated(text, null, number));

    EmbeddingOutput[] RunBatch(IReadOnlyList<Prepared> batch)
    {
        var (output, starts) = Forward(batch.Select(p => p.Encoding).ToList());
        var hidden = output["last_hidden_state"]; // [tokens, dim]
        int dim = hidden.Shape[^1];
        var results = new EmbeddingOutput[batch.Count];
        for (int b = 0; b < batch.Count; b++)
        {
            var vector = new float[dim];
            int length = starts[b + 1] - starts[b];
            // Ragged rows hold only real tokens, so the mask is all ones; padding never reaches the pooling.
            EmbeddingPooling.Pool(hidden.Data.AsSpan(starts[b] * dim, length * dim), batch[b].Encoding.AttentionMask, dim, Pooling, vector);
            if (Normalize) EmbeddingPooling.L2Normalize(vector);
            results[b] = new EmbeddingOutput(batch[b].Input, vector, length);
        }
        return results;
    }
}
