using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>The labels of one input, best first.</summary>
public sealed record ClassificationOutput(long Input, IReadOnlyList<ClassificationResult> Labels);

/// <summary>
/// Text (and text-pair) classification as transformers' TextClassificationPipeline: id2label names, softmax or
/// sigmoid by problem_type (or as asked), top-k. Over-long inputs are truncated with a warning. Needs a
/// *ForSequenceClassification model.
/// </summary>
public sealed class TextClassificationPipeline : TaskPipeline
{
    readonly string[] labels;

    /// <summary>
    /// A pipeline over a loaded <paramref name="tokenizer"/> and sequence-classification <paramref name="model"/>.
    /// </summary>
    public TextClassificationPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null)
        : base(tokenizer, model, settings)
    {
        labels = model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToArray();
    }

    /// <summary>
    /// Loads the model and tokenizer in <paramref name="folder"/> (or a Hub repo id); the model must have a
    /// classification head.
    /// </summary>
    public static TextClassificationPipeline Load(string folder, PipelineSettings? settings = null)
    {
        var (tokenizer, model) = LoadFolder(folder, "text classification", ModelHead.SequenceClassification, settings);
        return new TextClassificationPipeline(tokenizer, model, settings);
    }

    /// <summary>The model's label names, by id.</summary>
    public IReadOnlyList<string> Labels => labels;

    /// <summary>The function HF applies by default for this model's problem_type and label count.</summary>
    public ScoreFunction DefaultFunction => TextClassificationDecoder.DefaultFunction(Model.Config.ProblemType, labels.Length);

    /// <summary>The best <paramref name="topK"/> labels (null: all) of one text or pair.</summary>
    public IReadOnlyList<ClassificationResult> Predict(string text, string? textPair = null, int? topK = 1, ScoreFunction? function = null) =>
        Predict([new TextExample(1, text, textPair)], topK, function).Single().Labels;

    /// <summary>The labels of each text, in input order: the <paramref name="topK"/> best (all when null).</summary>
    public IEnumerable<ClassificationOutput> Predict(IEnumerable<string> texts, int? topK = 1, ScoreFunction? function = null) =>
        Predict(texts.Select((t, i) => new TextExample(i + 1, t)), topK, function);

    /// <summary>Streams examples (text, optional pair; <see cref="TextExample.Line"/> numbers the output).</summary>
    public IEnumerable<ClassificationOutput> Predict(IEnumerable<TextExample> examples, int? topK = 1, ScoreFunction? function = null) =>
        LengthBatcher.Run(examples.Select(Prepare), p => p.Encoding.Length, Settings.BatchSize, batch => RunBatch(batch, topK, function ?? DefaultFunction));

    /// <summary>The labels of each example (text or pair) as examples arrive, in input order.</summary>
    public IAsyncEnumerable<ClassificationOutput> PredictAsync(IAsyncEnumerable<TextExample> examples, int? topK = 1, ScoreFunction? function = null,
        CancellationToken cancellationToken = default) =>
        LengthBatcher.RunAsync(examples.Select(Prepare), p => p.Encoding.Length, Settings.BatchSize,
            batch => RunBatch(batch, topK, function ?? DefaultFunction), cancellationToken: cancellationToken);

    sealed record Prepared(long Input, EncodedText Encoding);

    Prepared Prepare(TextExample example) => new(example.Line, EncodeTruncated(example.Text, example.TextPair, example.Line));

    ClassificationOutput[] RunBatch(IReadOnlyList<Prepared> batch, int? topK, ScoreFunction function)
    {
        var (output, _) = Forward(batch.Select(p => p.Encoding).ToList());
        var logits = output["logits"]; // [sequences, labels]
        int width = logits.Shape[^1];
        var results = new ClassificationOutput[batch.Count];
        for (int b = 0; b < batch.Count; b++)
            results[b] = new ClassificationOutput(batch[b].Input,
                TextClassificationDecoder.Decode(logits.Data.AsSpan(b * width, width), labels, function, topK));
        return results;
    }
}
