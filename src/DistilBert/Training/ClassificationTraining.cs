using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;

namespace DistilBert.Training;

/// <summary>A training example of sequence classification: a text (or pair) and its label id.</summary>
public readonly record struct LabeledText(string Text, string? TextPair, int Label);

/// <summary>
/// Fine-tuning for sequence classification (…ForSequenceClassification): every example is encoded once (truncated to
/// max length, longest first), batches are ragged, the loss is the head's cross-entropy. Evaluation: accuracy and
/// macro-F1 through the classification pipeline; the main metric is accuracy.
/// </summary>
public sealed class ClassificationTraining : ITrainingTask
{
    readonly WordPieceTokenizer _tokenizer;
    readonly int[][] _ids;
    readonly int[][] _typeIds;
    readonly long[] _labels;
    readonly IReadOnlyList<TextExample>? _eval;
    readonly int _maxLength;

    public TransformerModel Model { get; }
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }

    /// <param name="eval">held-out examples whose Label is a label name (or id) of the model, or null</param>
    public ClassificationTraining(TransformerModel model, WordPieceTokenizer tokenizer, IReadOnlyList<LabeledText> train,
        IReadOnlyList<TextExample>? eval, int maxLength, IReadOnlyList<string>? filesToCopy = null)
    {
        if (model.Head != ModelHead.SequenceClassification)
            throw new InvalidInputException($"classification training needs a …ForSequenceClassification model, got {model.ArchitectureName}");
        Model = model;
        _tokenizer = tokenizer;
        _eval = eval;
        _maxLength = maxLength;
        FilesToCopy = filesToCopy ?? [];
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        _ids = new int[train.Count][];
        _typeIds = new int[train.Count][];
        _labels = new long[train.Count];
        for (int i = 0; i < train.Count; i++)
        {
            if ((uint)train[i].Label >= (uint)model.Config.NumLabels)
                throw new InvalidInputException($"training example {i}: label id {train[i].Label} is outside [0, {model.Config.NumLabels})");
            var encoded = tokenizer.Encode(train[i].Text, train[i].TextPair, options);
            _ids[i] = encoded.Ids;
            _typeIds[i] = encoded.TypeIds;
            _labels[i] = train[i].Label;
        }
        ExampleLengths = Array.ConvertAll(_ids, s => s.Length);
    }

    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        var input = ModelInput.FromSequences(batch.Select(i => _ids[i]).ToList(), batch.Select(i => _typeIds[i]).ToList());
        input.Labels = batch.Select(i => _labels[i]).ToArray();
        var loss = Model.Forward(input).Loss!.Value;
        Model.Backward(lossScale);
        return new BatchResult(loss, input.Tokens);
    }

    public EvaluationResult? Evaluate()
    {
        if (_eval is null || _eval.Count == 0) return null;
        var pipeline = new TextClassificationPipeline(_tokenizer, Model, new PipelineSettings { MaxLength = _maxLength });
        var report = Evaluation.Classification(pipeline, _eval);
        return new EvaluationResult(new Dictionary<string, double> { ["accuracy"] = report.Accuracy, ["macro_f1"] = report.MacroF1 }, "accuracy");
    }
}
