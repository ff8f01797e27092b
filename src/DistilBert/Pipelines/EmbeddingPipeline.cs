using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>One input's sentence vector.</summary>
public sealed record EmbeddingOutput(long Input, float[] Vector, int Tokens);

/// <summary>
/// Sentence embeddings from the base model's last hidden state: CLS, mean, max or mean-sqrt-len pooling over the real
/// tokens, optionally L2-normalised. Works with any DistilBERT/BERT folder (task heads are not loaded); a
/// sentence-transformers folder (modules.json) brings its own pooling, normalisation, max_seq_length and do_lower_case,
/// so its vectors are the ones sentence-transformers gives. Over-long inputs are truncated with a warning.
/// <para>Thread-safety: as every <see cref="TaskPipeline"/>, it may be called from many threads at once.</para>
/// </summary>
public sealed class EmbeddingPipeline : TaskPipeline
{
    /// <summary>How token vectors are pooled into one vector per text.</summary>
    public PoolingMode Pooling { get; }
    /// <summary>Whether vectors are L2-normalised to length 1.</summary>
    public bool Normalize { get; }
    /// <summary>The folder's sentence-transformers settings, or null for a plain HF folder.</summary>
    public SentenceTransformerConfig? SentenceTransformer { get; }
    /// <summary>Length of each vector: the model's hidden size.</summary>
    public int Dimensions => Model.Config.HiddenSize;

    /// <summary>A pipeline over a loaded <paramref name="tokenizer"/> and <paramref name="model"/>.</summary>
    /// <param name="sentenceTransformer">Settings that change the text before tokenizing (do_lower_case); the pooling,
    /// normalisation and length are the ones given here.</param>
    public EmbeddingPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null,
        PoolingMode pooling = PoolingMode.Mean, bool normalize = true, SentenceTransformerConfig? sentenceTransformer = null)
        : base(tokenizer, model, settings)
    {
        if (!Enum.IsDefined(pooling)) throw new InvalidInputException($"unknown pooling mode {pooling}");
        Pooling = pooling;
        Normalize = normalize;
        SentenceTransformer = sentenceTransformer;
    }

    /// <summary>
    /// Loads a model folder (or Hub repo id). <paramref name="pooling"/> and <paramref name="normalize"/> left null take
    /// the folder's sentence-transformers modules (1_Pooling, 2_Normalize), else mean pooling and L2 normalisation; a
    /// <see cref="PipelineSettings.MaxLength"/> left null takes its sentence_bert_config.json max_seq_length.
    /// </summary>
    public static EmbeddingPipeline Load(string folder, PipelineSettings? settings = null, PoolingMode? pooling = null, bool? normalize = null)
    {
        folder = Hub.ModelPath.Resolve(folder);
        var sentenceTransformer = Directory.Exists(folder) ? SentenceTransformerConfig.Load(folder) : null;
        if (sentenceTransformer?.MaxSeqLength is { } maxSeqLength && settings?.MaxLength is null)
            settings = (settings ?? new PipelineSettings()) with { MaxLength = maxSeqLength };
        var (tokenizer, model) = LoadFolder(sentenceTransformer?.TransformerFolder ?? folder, "embeddings", head: null, settings);
        return new EmbeddingPipeline(tokenizer, model, settings, pooling ?? sentenceTransformer?.Pooling ?? PoolingMode.Mean,
            normalize ?? sentenceTransformer?.Normalize ?? true, sentenceTransformer);
    }

    /// <summary>The text as it reaches the tokenizer (sentence-transformers strips it and may lowercase it).</summary>
    public string PrepareText(string text) => SentenceTransformer?.Prepare(text) ?? text;

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

    Prepared Prepare(long number, string text) => new(number, EncodeTruncated(PrepareText(text), null, number));

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
