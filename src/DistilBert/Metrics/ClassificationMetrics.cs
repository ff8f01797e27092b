namespace DistilBert.Metrics;

/// <summary>Precision, recall, F1 and support (number of gold items) of one class or entity type.</summary>
public readonly record struct ClassScores(string Label, double Precision, double Recall, double F1, int Support);

/// <summary>Accuracy, macro-F1 and per-class scores of a single-label classification run.</summary>
public sealed record ClassificationReport(int Count, double Accuracy, double MacroF1, IReadOnlyList<ClassScores> PerClass);

/// <summary>
/// Accumulates (gold, predicted) label pairs in constant memory per class. Per-class scores follow scikit-learn
/// with zero_division=0; macro-F1 averages over every label seen in gold or predictions, as sklearn's f1_score does.
/// </summary>
public sealed class ClassificationMetrics
{
    readonly Dictionary<string, (int TruePositive, int Predicted, int Gold)> counts = new(StringComparer.Ordinal);
    int total, correct;

    /// <summary>Counts one example.</summary>
    public void Add(string gold, string predicted)
    {
        total++;
        if (gold == predicted) correct++;
        Bump(gold, truePositive: gold == predicted ? 1 : 0, predicted: 0, goldCount: 1);
        Bump(predicted, truePositive: 0, predicted: 1, goldCount: 0);
    }

    void Bump(string label, int truePositive, int predicted, int goldCount)
    {
        var c = counts.GetValueOrDefault(label);
        counts[label] = (c.TruePositive + truePositive, c.Predicted + predicted, c.Gold + goldCount);
    }

    /// <summary>Accuracy, and precision, recall and F1 per label and averaged, over the examples counted.</summary>
    public ClassificationReport Report()
    {
        var perClass = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Scores(kv.Key, kv.Value.TruePositive, kv.Value.Predicted, kv.Value.Gold))
            .ToList();
        double accuracy = total == 0 ? 0 : (double)correct / total;
        double macroF1 = perClass.Count == 0 ? 0 : perClass.Average(c => c.F1);
        return new ClassificationReport(total, accuracy, macroF1, perClass);
    }

    /// <summary>The report over pairs of <paramref name="gold"/> and <paramref name="predicted"/> labels.</summary>
    public static ClassificationReport Compute(IEnumerable<string> gold, IEnumerable<string> predicted)
    {
        var metrics = new ClassificationMetrics();
        using var p = predicted.GetEnumerator();
        foreach (var g in gold)
        {
            if (!p.MoveNext()) throw new InvalidInputException("fewer predictions than gold labels");
            metrics.Add(g, p.Current);
        }
        if (p.MoveNext()) throw new InvalidInputException("more predictions than gold labels");
        return metrics.Report();
    }

    /// <summary>P/R/F1 from counts; a 0/0 ratio is 0 (sklearn's zero_division=0, seqeval's default too).</summary>
    internal static ClassScores Scores(string label, int truePositive, int predicted, int gold)
    {
        double precision = predicted == 0 ? 0 : (double)truePositive / predicted;
        double recall = gold == 0 ? 0 : (double)truePositive / gold;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassScores(label, precision, recall, f1, gold);
    }
}
