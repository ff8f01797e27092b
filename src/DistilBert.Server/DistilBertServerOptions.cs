namespace DistilBert.Server;

/// <summary>The task a served model does, named as Hugging Face's pipelines.</summary>
public enum ModelTask
{
    /// <summary>Sentence embeddings (TEI's <c>/embed</c>, OpenAI's <c>/v1/embeddings</c>).</summary>
    FeatureExtraction,
    /// <summary>Labels with scores for texts or text pairs (<c>/predict</c>).</summary>
    TextClassification,
    /// <summary>Named entities and other token labels.</summary>
    TokenClassification,
    /// <summary>Answers extracted from a context.</summary>
    QuestionAnswering,
    /// <summary>Words predicted for [MASK] tokens.</summary>
    FillMask,
}

/// <summary>One model to serve: the name clients use, a folder or Hub repo id, and optionally the task (default: the
/// head named in config.json's <c>architectures</c>; a base model does feature extraction).</summary>
public sealed record ModelSource(string Name, string Path, ModelTask? Task = null);

/// <summary>Everything <c>distilbert serve</c> and <c>AddDistilBert</c> can be told. Defaults follow TEI's.</summary>
/// <remarks>Thread-safety: set before the server starts, then only read (safe from many threads once started).</remarks>
public sealed class DistilBertServerOptions
{
    /// <summary>The models, by name. The first model able to do a route's task answers that route when a request names none.</summary>
    public List<ModelSource> Models { get; } = [];

    /// <summary>Token budget of one ragged batch (TEI's <c>--max-batch-tokens</c>). A single request above it runs alone.</summary>
    public int MaxBatchTokens { get; set; } = 16384;

    /// <summary>Longest a batcher waits for more work before running what it has; it waits only while other requests
    /// are being read and tokenised, so a lone request never waits.</summary>
    public TimeSpan MaxBatchWait { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Requests one batch may hold; 1 turns batching off (each request is its own forward pass, in arrival
    /// order), the baseline the batching is measured against.</summary>
    public int MaxBatchRequests { get; set; } = int.MaxValue;

    /// <summary>Requests in flight at once (all routes that run a model), counted from when the whole body has arrived;
    /// beyond it the answer is 429 with Retry-After.</summary>
    public int MaxConcurrentRequests { get; set; } = 512;

    /// <summary>Request bodies being received at once, a bound of its own so clients that send slowly hold no slot of
    /// <see cref="MaxConcurrentRequests"/>; with <see cref="MaxRequestBodyBytes"/> it bounds the memory of buffered
    /// bodies. Beyond it 429.</summary>
    public int MaxConcurrentBodyReads { get; set; } = 512;

    /// <summary>Inputs in one request (TEI's <c>--max-client-batch-size</c>); beyond it 413.</summary>
    public int MaxClientBatchSize { get; set; } = 32;

    /// <summary>Tokens per input (special tokens included); default and upper bound: the model's limit.</summary>
    public int? MaxInputTokens { get; set; }

    /// <summary>Windows one NER text or QA context may take (each of the model's limit, or QA's <c>max_seq_len</c>,
    /// overlapping by the stride); beyond it 413 naming its tokens and windows. Bounds the work one input can ask for.</summary>
    public int MaxInputWindows { get; set; } = 64;

    /// <summary>Truncate over-long inputs instead of refusing them, whatever the request says.</summary>
    public bool AutoTruncate { get; set; }

    /// <summary>Largest request body; beyond it 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>A request body must have arrived whole within this time (a client trickling its body gets 408).</summary>
    public TimeSpan BodyReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>SHA-256 hashes of the accepted API keys; null or empty: no key needed.</summary>
    public IReadOnlyList<byte[]>? ApiKeyHashes { get; set; }

    /// <summary>Put request texts into the per-request log line (off by default: texts may be private).</summary>
    public bool LogRequestTexts { get; set; }
    /// <summary>Run every served model's encoder linear layers in int8, quantising fp32 models on load (docs/int8.md);
    /// quantised folders run in int8 either way.</summary>
    public bool Int8 { get; set; }

    /// <summary>On shutdown, queued work still runs for at most this long.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Serve <c>/metrics</c> (Prometheus text through OpenTelemetry).</summary>
    public bool EnableMetrics { get; set; } = true;

    internal void Validate()
    {
        if (Models.Count == 0) throw new InvalidInputException("no model to serve");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var model in Models)
        {
            if (string.IsNullOrWhiteSpace(model.Name) || model.Name.Contains('/'))
                throw new InvalidInputException($"model name '{model.Name}' must be non-empty and contain no '/'");
            if (!names.Add(model.Name)) throw new InvalidInputException($"model name '{model.Name}' is given twice");
        }
        Require(MaxBatchTokens >= 1, $"max batch tokens must be at least 1, got {MaxBatchTokens}");
        Require(MaxBatchRequests >= 1, $"max batch requests must be at least 1, got {MaxBatchRequests}");
        Require(MaxConcurrentRequests >= 1, $"max concurrent requests must be at least 1, got {MaxConcurrentRequests}");
        Require(MaxConcurrentBodyReads >= 1, $"max concurrent body reads must be at least 1, got {MaxConcurrentBodyReads}");
        Require(MaxClientBatchSize >= 1, $"max client batch size must be at least 1, got {MaxClientBatchSize}");
        Require(MaxInputTokens is null or >= 3, $"max input tokens must be at least 3, got {MaxInputTokens}");
        Require(MaxInputWindows >= 1, $"max input windows must be at least 1, got {MaxInputWindows}");
        Require(MaxRequestBodyBytes >= 64, $"max request body must be at least 64 bytes, got {MaxRequestBodyBytes}");
        Require(MaxBatchWait >= TimeSpan.Zero, "max batch wait must not be negative");
    }

    static void Require(bool condition, string message)
    {
        if (!condition) throw new InvalidInputException(message);
    }
}
