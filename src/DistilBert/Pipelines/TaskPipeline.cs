using DistilBert.Inference;
using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>Settings every pipeline shares.</summary>
public sealed record PipelineSettings
{
    /// <summary>Sequences (or windows) per forward pass.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Maximum tokens per sequence, special tokens included (default: the model's limit).</summary>
    public int? MaxLength { get; init; }
    /// <summary>Receives warnings such as "input 3 was truncated" (default: none).</summary>
    public Action<string>? Warn { get; init; }
    /// <summary>
    /// Most windows one input may take where long inputs run in overlapping windows (QA contexts, NER texts); a longer
    /// input is refused with an error naming this limit before it is tokenized whole. Null: no limit (as HF).
    /// </summary>
    public int? MaxWindows { get; init; } = DefaultMaxWindows;
    /// <summary>The default of <see cref="MaxWindows"/>: about 16k tokens of QA context, 24k of NER text.</summary>
    public const int DefaultMaxWindows = 64;
    /// <summary>Run the encoder's linear layers in int8, quantising an fp32 model on load (docs/int8.md). A quantised
    /// folder runs in int8 whatever this says.</summary>
    public bool Int8 { get; init; }
}

/// <summary>
/// What every task pipeline shares: a tokenizer and a model in inference mode, the effective maximum length,
/// and one forward pass over a ragged batch of encodings (no compute is spent on padding).
/// <para>Thread-safety: a pipeline may be called from many threads at once. The model runs through an
/// <see cref="InferenceSession"/> (a workspace per call, packed weights shared read-only), the tokenizer keeps its
/// scratch per thread, and decoding is pure. Results are the same as from one thread, bit for bit. Do not train or
/// run <see cref="Model"/> directly while the pipeline is in use: such calls are refused.</para>
/// </summary>
public abstract class TaskPipeline
{
    /// <summary>The tokenizer the pipeline encodes with.</summary>
    public WordPieceTokenizer Tokenizer { get; }
    /// <summary>The model the pipeline runs.</summary>
    public TransformerModel Model { get; }
    /// <summary>The session every forward pass of this pipeline goes through.</summary>
    public InferenceSession Session { get; }
    /// <summary>Batching, truncation and warning settings.</summary>
    public PipelineSettings Settings { get; }
    /// <summary>Tokens per sequence: the smallest of the requested length, the tokenizer's and the model's limit.</summary>
    public int MaxLength { get; }

    /// <summary>A pipeline over <paramref name="tokenizer"/> and <paramref name="model"/>.</summary>
    protected TaskPipeline(WordPieceTokenizer tokenizer, TransformerModel model, PipelineSettings? settings)
    {
        Tokenizer = tokenizer;
        Model = model;
        Settings = settings ?? new PipelineSettings();
        if (Settings.BatchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {Settings.BatchSize}");
        if (Settings.MaxWindows < 1) throw new InvalidInputException($"max windows must be at least 1, got {Settings.MaxWindows}");
        int limit = Math.Min(tokenizer.ModelMaxLength, model.Config.MaxPositionEmbeddings);
        if (Settings.MaxLength is { } requested && requested < 3)
            throw new InvalidInputException($"max length must leave room for [CLS], [SEP] and one token (at least 3), got {requested}");
        MaxLength = Settings.MaxLength is { } max ? Math.Min(max, limit) : limit;
        if (Settings.MaxLength > limit) Warn($"max length {Settings.MaxLength} is above the model's limit; using {limit}");
        if (tokenizer.Vocab.Count > model.Config.VocabSize)
            throw new InvalidInputException($"the tokenizer has {tokenizer.Vocab.Count} tokens but the model's vocab_size is {model.Config.VocabSize}");
        // A model marked for int8 (a quantised folder, or LoadFolder with Settings.Int8) serves inference only: the fp32
        // arrays of its quantised layers go. An fp32 model given with Settings.Int8 keeps them (it may be trained again).
        Session = InferenceSession.Create(model, releasePlainWeights: model.IsInferenceOnly || model.Int8Inference,
            int8: Settings.Int8 || model.Int8Inference);
    }

    /// <summary>Reports <paramref name="message"/> to <see cref="PipelineSettings.Warn"/>, if set.</summary>
    protected void Warn(string message) => Settings.Warn?.Invoke(message);

    /// <summary>
    /// Loads the tokenizer and the model of a folder (or Hub repo id), first checking from config.json that the model's
    /// architecture has the head this task needs (so "qa on a classifier" fails with a clear message).
    /// <paramref name="head"/> null accepts any architecture and loads the base model (embeddings).
    /// </summary>
    protected static (WordPieceTokenizer Tokenizer, TransformerModel Model) LoadFolder(string folder, string task, ModelHead? head,
        PipelineSettings? settings)
    {
        var warn = settings?.Warn;
        folder = Hub.ModelPath.Resolve(folder); // a folder as is; a Hub repo id through the HF cache
        if (!Directory.Exists(folder)) throw new ModelFileException(folder, "expected a model folder");
        var config = ModelConfig.Load(folder);
        string architecture = ModelArchitecture.NameIn(config);
        string? load = null;
        if (head is not { } needed) load = ModelArchitecture.BaseOf(config).Name;
        // A name there is no model class for is refused by PretrainedModel.Load, naming config.json's field.
        else if (ModelArchitecture.TryParse(architecture, out var named) && named.Head != needed)
            throw new InvalidInputException($"{folder}: the model is a {architecture}; {task} needs a model with a {ModelArchitecture.HeadSuffix(needed)} head");
        var tokenizer = WordPieceTokenizer.FromFolder(folder);
        // int8: left unprepared, so that the pipeline's session never packs in fp32 the layers it quantises
        bool int8 = settings?.Int8 == true || config.IsInt8Quantized;
        var loaded = PretrainedModel.Load(folder, load, inferenceOnly: !int8);
        if (int8) loaded.Model.Int8Inference = true;
        if (loaded.Report.Missing.Count > 0)
            warn?.Invoke($"{folder}: {loaded.Report.Missing.Count} weight(s) missing from the checkpoint keep their initial values " +
                $"(first: {loaded.Report.Missing[0]}); results will be meaningless for those parts");
        return (tokenizer, loaded.Model);
    }

    /// <summary>
    /// Options for encoding one text (or pair) cut to <see cref="MaxLength"/>, with the cut-off part kept as windows, at
    /// most <see cref="PipelineSettings.MaxWindows"/> of them.
    /// </summary>
    protected EncodeOptions Windowed(TruncationStrategy truncation, int stride) => new()
    {
        MaxLength = MaxLength,
        Truncation = truncation,
        Stride = stride,
        ReturnOverflowing = true,
        MaxWindows = Settings.MaxWindows,
    };

    /// <summary>The refusal of an input over <see cref="PipelineSettings.MaxWindows"/>, naming <paramref name="what"/> ("the context") and how to raise the limit.</summary>
    private protected static InvalidInputException TooManyWindows(long inputNumber, string what, WordPieceTokenizer.WindowLimitExceeded exceeded) =>
        new($"input {inputNumber}: {what} {exceeded}; raise the limit, PipelineSettings.MaxWindows (--max-windows)");

    /// <summary>
    /// Encodes and truncates to <see cref="MaxLength"/>, warning (with the input's number) when text was cut. Only what is
    /// kept is tokenized, so a huge line costs no more than a long one.
    /// </summary>
    protected EncodedText EncodeTruncated(string text, string? pair, long inputNumber)
    {
        var encoding = Tokenizer.Encode(text, pair, Truncating);
        if (encoding.Truncated) WarnTruncated(inputNumber);
        return encoding;
    }

    /// <summary>Options cutting one text (or pair) to <see cref="MaxLength"/>, longest first.</summary>
    protected EncodeOptions Truncating => new() { MaxLength = MaxLength, Truncation = TruncationStrategy.LongestFirst };

    /// <summary>Warns that input <paramref name="inputNumber"/> was cut to the maximum length.</summary>
    protected void WarnTruncated(long inputNumber) => Warn($"input {inputNumber}: longer than {MaxLength} tokens, truncated");

    /// <summary>All windows of an encoding: the main one then its overflow.</summary>
    protected static IEnumerable<EncodedText> Windows(EncodedText encoding)
    {
        yield return encoding;
        foreach (var window in encoding.Overflowing) yield return window;
    }

    /// <summary>One forward pass over unpadded sequences. Outputs are ragged: [tokens, ...] with sequence starts in the layout.</summary>
    protected (ModelOutput Output, int[] SequenceStarts) Forward(IReadOnlyList<EncodedText> sequences, ForwardOptions? options = null)
    {
        var ids = new int[sequences.Count][];
        int[][]? types = Model.UsesTokenTypes ? new int[sequences.Count][] : null;
        for (int i = 0; i < sequences.Count; i++)
        {
            ids[i] = sequences[i].Ids;
            if (types is not null) types[i] = sequences[i].TypeIds;
        }
        var input = ModelInput.FromSequences(ids, types);
        var output = Session.Run(input, options);
        return (output, input.Layout.SequenceStarts);
    }

    /// <summary>The rows of a ragged per-token output belonging to sequence <paramref name="index"/>: [length, width].</summary>
    protected static float[] Rows(OutputTensor tensor, int[] sequenceStarts, int index, int width) =>
        tensor.Data.AsSpan(sequenceStarts[index] * width, (sequenceStarts[index + 1] - sequenceStarts[index]) * width).ToArray();
}
