using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;

namespace DistilBert.Server;

/// <summary>One input of a request: a text, a text pair, or (question answering) a question and its context.</summary>
internal sealed record TaskInput(string Text, string? Pair = null);

/// <summary>Options that change how a classification batch is decoded; requests that agree share a forward pass.</summary>
internal sealed record ClassifyGroup(int? TopK, ScoreFunction? Function);
internal sealed record TokenGroup(AggregationStrategy Strategy, string? IgnoreLabelsKey)
{
    public IReadOnlyList<string>? IgnoreLabels => IgnoreLabelsKey?.Split('\u001f', StringSplitOptions.RemoveEmptyEntries);
    public static string? Key(IReadOnlyList<string>? labels) => labels is null ? null : string.Join('\u001f', labels);
}
internal sealed record FillMaskGroup(int TopK, string? TargetsKey)
{
    public IReadOnlyList<string>? Targets => TargetsKey?.Split('\u001f');
}

/// <summary>
/// A model being served: its pipeline (which runs through a thread-safe <see cref="Inference.InferenceSession"/>), the
/// task it does, its input limit, and its <see cref="DynamicBatcher{TInput, TOutput}"/>.
/// </summary>
internal sealed class ServedModel
{
    public string Name { get; }
    public string Folder { get; }
    public ModelTask Task { get; }
    public TaskPipeline Pipeline { get; }
    public WordPieceTokenizer Tokenizer => Pipeline.Tokenizer;
    public ModelConfig Config => Pipeline.Model.Config;
    /// <summary>Tokens per input, special tokens included: the smaller of the server's limit and the model's.</summary>
    public int MaxInputTokens => Pipeline.MaxLength;
    public DynamicBatcher<TaskInput, object> Batcher { get; }

    /// <summary>Sequences per forward pass inside the pipeline: batches are already bounded by the token budget, this only
    /// bounds the number of sequences of one pass.</summary>
    const int PipelineBatchSize = 512;

    ServedModel(string name, string folder, ModelTask task, TaskPipeline pipeline, DistilBertServerOptions options, ServerMetrics metrics)
    {
        Name = name;
        Folder = folder;
        Task = task;
        Pipeline = pipeline;
        Batcher = new DynamicBatcher<TaskInput, object>(Run, options.MaxConcurrentRequests, options.MaxBatchTokens, options.MaxBatchWait,
            (inputs, tokens) => metrics.RecordBatch(name, inputs, tokens), options.MaxBatchRequests);
        metrics.ObserveQueue(name, () => Batcher.QueueDepth);
    }

    public static ServedModel Load(ModelSource source, DistilBertServerOptions options, ServerMetrics metrics)
    {
        var folder = Hub.ModelPath.Resolve(source.Path);
        if (!Directory.Exists(folder)) throw new ModelFileException(folder, "expected a model folder");
        ModelTask task;
        try { task = source.Task ?? TaskOf(ModelConfig.Load(folder)); }
        catch (ModelFileException e) when (e.FilePath is null) { throw new ModelFileException(Path.Combine(folder, Checkpoints.ModelFolder.ConfigName), e.Message, e); }
        // the library refuses an input over the window limit too: a second guard behind the request check
        var settings = new PipelineSettings { BatchSize = PipelineBatchSize, MaxLength = options.MaxInputTokens, MaxWindows = options.MaxInputWindows, Int8 = options.Int8 };
        TaskPipeline pipeline = task switch
        {
            // As TEI: the pooling (and max_seq_length) of a sentence-transformers folder; vectors are normalised per request
            // (TEI's `normalize`, default true), so the pipeline keeps them raw.
            ModelTask.FeatureExtraction => EmbeddingPipeline.Load(folder, settings, pooling: null, normalize: false),
            ModelTask.TextClassification => TextClassificationPipeline.Load(folder, settings),
            ModelTask.TokenClassification => TokenClassificationPipeline.Load(folder, settings),
            ModelTask.QuestionAnswering => QuestionAnsweringPipeline.Load(folder, settings),
            ModelTask.FillMask => FillMaskPipeline.Load(folder, settings),
            _ => throw new InvalidInputException($"unknown task {task}"),
        };
        return new ServedModel(source.Name, folder, task, pipeline, options, metrics);
    }

    /// <summary>The task of config.json's head (its first architecture); a base model (or none named) embeds. A class
    /// there is no model for is refused rather than guessed at.</summary>
    public static ModelTask TaskOf(ModelConfig config)
    {
        if (config.Architectures is not { Count: > 0 }) return ModelTask.FeatureExtraction;
        return PretrainedModel.ArchitectureOf(config).Head switch
        {
            ModelHead.SequenceClassification => ModelTask.TextClassification,
            ModelHead.TokenClassification => ModelTask.TokenClassification,
            ModelHead.QuestionAnswering => ModelTask.QuestionAnswering,
            ModelHead.MaskedLM => ModelTask.FillMask,
            _ => ModelTask.FeatureExtraction,
        };
    }

    public static string TaskName(ModelTask task) => task switch
    {
        ModelTask.FeatureExtraction => "feature-extraction",
        ModelTask.TextClassification => "text-classification",
        ModelTask.TokenClassification => "token-classification",
        ModelTask.QuestionAnswering => "question-answering",
        ModelTask.FillMask => "fill-mask",
        _ => task.ToString(),
    };

    public static ModelTask? ParseTask(string name) => name switch
    {
        "feature-extraction" or "embeddings" => ModelTask.FeatureExtraction,
        "text-classification" or "sentiment-analysis" => ModelTask.TextClassification,
        "token-classification" or "ner" => ModelTask.TokenClassification,
        "question-answering" => ModelTask.QuestionAnswering,
        "fill-mask" => ModelTask.FillMask,
        _ => null,
    };

    /// <summary>
    /// How a long NER text or QA context is split: its own tokens (the text's, or the context's), the windows they
    /// take, the tokens per window, and the tokens of all windows together (what the forward pass runs). The same
    /// arithmetic as the tokenizer's overflowing windows (HF's): a window keeps what the special tokens (and the
    /// question) leave, and each next one starts <c>stride</c> tokens before the previous one's end.
    /// </summary>
    /// <returns>null when the pipeline itself will refuse the input (a question that leaves no room for the context).</returns>
    public (int Tokens, int Windows, int WindowLength, int Total)? WindowsOf(EncodedText encoding, object? group)
    {
        int special = 0, first = 0, second = 0;
        for (int i = 0; i < encoding.Length; i++)
        {
            if (encoding.SpecialTokensMask[i] != 0) special++;
            else if (encoding.SequenceIds[i] == 1) second++;
            else first++;
        }
        int length, stride, fixedPart, own;
        switch (Pipeline)
        {
            case TokenClassificationPipeline tagger:
                (length, stride, fixedPart, own) = (MaxInputTokens, tagger.Stride, special, first);
                break;
            case QuestionAnsweringPipeline when group is AnswerOptions options:
                // As QuestionAnsweringPipeline: windows of max_seq_len (at most the model's), stride capped at half of it.
                length = Math.Min(options.MaxSequenceLength ?? 384, MaxInputTokens);
                (stride, fixedPart, own) = (Math.Min(options.DocStride, length / 2), special + first, second);
                break;
            default:
                return null;
        }
        int keep = length - fixedPart;
        if (keep <= 0 || (stride > 0 && stride >= keep)) return null;
        int windows = own <= keep ? 1 : 1 + (own - keep + (keep - stride) - 1) / (keep - stride);
        long total = (long)windows * fixedPart + own + (long)(windows - 1) * stride;
        return (own, windows, length, (int)Math.Min(total, int.MaxValue));
    }

    /// <summary>Tokens of one input without truncation, special tokens included.</summary>
    public int CountTokens(TaskInput input) =>
        Tokenizer.Encode(Pipeline is EmbeddingPipeline embedder ? embedder.PrepareText(input.Text) : input.Text, input.Pair).Length;

    /// <summary>The batcher's forward pass: all inputs of one option group through the pipeline at once.</summary>
    IReadOnlyList<object> Run(object? group, IReadOnlyList<TaskInput> inputs)
    {
        switch (Pipeline)
        {
            case EmbeddingPipeline embedder:
                return embedder.Embed(inputs.Select(i => i.Text)).Cast<object>().ToList();
            case TextClassificationPipeline classifier:
            {
                var g = (ClassifyGroup)group!;
                return classifier.Predict(inputs.Select((x, i) => new TextExample(i + 1, x.Text, x.Pair)), g.TopK, g.Function).Cast<object>().ToList();
            }
            case TokenClassificationPipeline tagger:
            {
                var g = (TokenGroup)group!;
                return tagger.Predict(inputs.Select(i => i.Text), g.Strategy, g.IgnoreLabels).Cast<object>().ToList();
            }
            case QuestionAnsweringPipeline reader:
                return reader.Predict(inputs.Select((x, i) => new QuestionContext(x.Text, x.Pair ?? "", i + 1)), (AnswerOptions)group!).Cast<object>().ToList();
            case FillMaskPipeline filler:
            {
                var g = (FillMaskGroup)group!;
                return filler.Predict(inputs.Select(i => i.Text), g.TopK, g.Targets).Cast<object>().ToList();
            }
            default:
                throw new InvalidOperationException($"no runner for {Pipeline.GetType().Name}");
        }
    }
}
