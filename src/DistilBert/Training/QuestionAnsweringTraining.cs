using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;

namespace DistilBert.Training;

/// <summary>One training window of a SQuAD example: its tokens and the answer's start/end token (0 = [CLS] when the answer is not inside).</summary>
public sealed record QaWindow(int[] Ids, int StartPosition, int EndPosition);

/// <summary>
/// Fine-tuning for extractive QA on SQuAD json, as HF's run_qa preprocessing: question + context encoded with
/// truncation of the context only, windows of max length overlapping by doc_stride tokens; in each window the first
/// answer's character span is mapped through the token offsets to start/end token positions, or to 0 ([CLS]) when the
/// window does not contain the whole answer. Evaluation: SQuAD EM/F1 through the QA pipeline; the main metric is F1.
/// </summary>
public sealed class QuestionAnsweringTraining : ITrainingTask
{
    readonly WordPieceTokenizer _tokenizer;
    readonly List<QaWindow> _windows;
    readonly IReadOnlyList<SquadExample>? _eval;
    readonly int _maxLength, _docStride;

    public TransformerModel Model { get; }
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }
    public int Windows => _windows.Count;

    public QuestionAnsweringTraining(TransformerModel model, WordPieceTokenizer tokenizer, IReadOnlyList<SquadExample> train,
        IReadOnlyList<SquadExample>? eval, int maxLength = 384, int docStride = 128, IReadOnlyList<string>? filesToCopy = null)
    {
        if (model.Head != ModelHead.QuestionAnswering)
            throw new InvalidInputException($"QA training needs a …ForQuestionAnswering model, got {model.ArchitectureName}");
        Model = model;
        _tokenizer = tokenizer;
        _eval = eval;
        _maxLength = maxLength;
        _docStride = docStride;
        FilesToCopy = filesToCopy ?? [];
        _windows = train.SelectMany(e => MakeWindows(tokenizer, e, maxLength, docStride)).ToList();
        ExampleLengths = _windows.Select(w => w.Ids.Length).ToList();
    }

    /// <summary>The training windows of one example (HF's prepare_train_features).</summary>
    public static IEnumerable<QaWindow> MakeWindows(WordPieceTokenizer tokenizer, SquadExample example, int maxLength, int docStride)
    {
        var options = new EncodeOptions
        {
            MaxLength = maxLength, Truncation = TruncationStrategy.OnlySecond, Stride = Math.Min(docStride, maxLength / 2), ReturnOverflowing = true,
        };
        EncodedText encoding;
        try { encoding = tokenizer.Encode(example.Question, example.Context, options); }
        catch (InvalidInputException e) { throw new InvalidInputException($"question '{example.Id}': {e.Message}", e); }
        foreach (var window in new[] { encoding }.Concat(encoding.Overflowing))
        {
            var (start, end) = example.Answers.Length == 0 ? (0, 0)
                : AnswerPositions(window, example.Answers[0].Start, example.Answers[0].Start + example.Answers[0].Text.Length);
            yield return new QaWindow(window.Ids, start, end);
        }
    }

    /// <summary>Token positions of the character span [startChar, endChar) in a window, or (0, 0) when the window's context
    /// does not cover it entirely.</summary>
    public static (int Start, int End) AnswerPositions(EncodedText window, int startChar, int endChar)
    {
        int first = Array.IndexOf(window.SequenceIds, 1);
        int last = Array.LastIndexOf(window.SequenceIds, 1);
        if (first < 0 || window.Offsets[first].Start > startChar || window.Offsets[last].End < endChar) return (0, 0);
        int start = first;
        while (start <= last && window.Offsets[start].Start <= startChar) start++;
        int end = last;
        while (end >= first && window.Offsets[end].End >= endChar) end--;
        return (start - 1, end + 1);
    }

    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        var input = ModelInput.FromSequences(batch.Select(i => _windows[i].Ids).ToList());
        input.StartPositions = batch.Select(i => (long)_windows[i].StartPosition).ToArray();
        input.EndPositions = batch.Select(i => (long)_windows[i].EndPosition).ToArray();
        var loss = Model.Forward(input).Loss!.Value;
        Model.Backward(lossScale);
        return new BatchResult(loss, input.Tokens);
    }

    public EvaluationResult? Evaluate()
    {
        if (_eval is null || _eval.Count == 0) return null;
        var pipeline = new QuestionAnsweringPipeline(_tokenizer, Model, new PipelineSettings { MaxLength = _maxLength });
        var report = Evaluation.Squad(pipeline, _eval, new AnswerOptions { MaxSequenceLength = _maxLength, DocStride = _docStride, MaxAnswerLength = Evaluation.SquadMaxAnswerTokens });
        return new EvaluationResult(new Dictionary<string, double> { ["exact_match"] = report.ExactMatch, ["f1"] = report.F1 }, "f1");
    }
}
