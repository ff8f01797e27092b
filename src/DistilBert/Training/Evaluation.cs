using System.Globalization;
using DistilBert.Data;
using DistilBert.Metrics;
using DistilBert.Pipelines;

namespace DistilBert.Training;

/// <summary>
/// Library evaluators over the task pipelines and metrics: what <c>distilbert eval</c> reports and what training
/// computes after each epoch. Each takes a pipeline (from a folder or around a model in memory) and gold data.
/// </summary>
public static class Evaluation
{
    /// <summary>Accuracy, macro-F1 and per-class scores. A gold label is a label name of the model, or an integer id
    /// mapped through id2label (SST-2's 0/1); <paramref name="onUnknownLabel"/> hears about any other, once each.</summary>
    public static ClassificationReport Classification(TextClassificationPipeline pipeline, IEnumerable<TextExample> examples,
        Action<string>? onUnknownLabel = null, Action<int>? progress = null)
    {
        var labels = pipeline.Labels;
        var metrics = new ClassificationMetrics();
        var golds = new Queue<string>();
        var unknown = new HashSet<string>();
        IEnumerable<TextExample> Examples()
        {
            foreach (var example in examples)
            {
                if (example.Label is null) throw new DataFileException(null, example.Line, "no label: evaluation needs a label column");
                golds.Enqueue(GoldLabelName(example.Label, labels, unknown, onUnknownLabel));
                yield return example;
            }
        }
        foreach (var output in pipeline.Predict(Examples(), topK: 1))
        {
            metrics.Add(golds.Dequeue(), output.Labels[0].Label);
            progress?.Invoke(1);
        }
        return metrics.Report();
    }

    /// <summary>A gold label as the model names it: a label name as is, or an integer id mapped through id2label.</summary>
    public static string GoldLabelName(string gold, IReadOnlyList<string> labels, HashSet<string>? reported = null, Action<string>? onUnknown = null)
    {
        if (labels.Contains(gold)) return gold;
        if (int.TryParse(gold, NumberStyles.Integer, CultureInfo.InvariantCulture, out int id) && id >= 0 && id < labels.Count) return labels[id];
        if (onUnknown is not null && (reported?.Add(gold) ?? true))
            onUnknown($"gold label '{gold}' is neither a label of the model ({string.Join(", ", labels)}) nor an id below {labels.Count}");
        return gold;
    }

    /// <summary>seqeval-style entity precision/recall/F1 over word-level tags (each word tagged by its first token).</summary>
    public static EntityReport Entities(TokenClassificationPipeline pipeline, IEnumerable<TaggedSentence> sentences, Action<int>? progress = null)
    {
        var metrics = new EntityMetrics();
        var golds = new Queue<string[]>();
        IEnumerable<IReadOnlyList<string>> Words()
        {
            foreach (var sentence in sentences)
            {
                golds.Enqueue(sentence.Tags);
                yield return sentence.Tokens;
            }
        }
        foreach (var predicted in pipeline.PredictWordTags(Words()))
        {
            metrics.Add(golds.Dequeue(), predicted);
            progress?.Invoke(1);
        }
        return metrics.Report();
    }

    /// <summary>The longest answer, in tokens, that SQuAD evaluation considers: 30, as transformers' run_qa.py (the
    /// pipeline's own default, 15, is for serving). Fine-tuning and task distillation both evaluate with it.</summary>
    public const int SquadMaxAnswerTokens = 30;

    /// <summary>SQuAD v1.1 exact match and F1 of the best answer against every gold answer.</summary>
    public static SquadReport Squad(QuestionAnsweringPipeline pipeline, IEnumerable<SquadExample> examples, AnswerOptions? options = null, Action<int>? progress = null)
    {
        var metrics = new SquadMetrics();
        var golds = new Queue<string[]>();
        IEnumerable<QuestionContext> Questions()
        {
            long number = 0;
            foreach (var example in examples)
            {
                golds.Enqueue(example.Answers.Select(a => a.Text).ToArray());
                yield return new QuestionContext(example.Question, example.Context, ++number);
            }
        }
        foreach (var output in pipeline.Predict(Questions(), options ?? new AnswerOptions { MaxAnswerLength = SquadMaxAnswerTokens }))
        {
            metrics.Add(output.Answers.Count > 0 ? output.Answers[0].Answer : "", golds.Dequeue());
            progress?.Invoke(1);
        }
        return metrics.Report();
    }
}
