namespace DistilBert.Pipelines;

/// <summary>What turns classification logits into scores (HF's <c>function_to_apply</c>).</summary>
public enum ScoreFunction
{
    /// <summary>The raw logits (regression).</summary>
    None,
    /// <summary>An independent probability per label (multi-label).</summary>
    Sigmoid,
    /// <summary>Probabilities over the labels summing to 1 (single-label).</summary>
    Softmax,
}

/// <summary>Text-classification post-processing as transformers' TextClassificationPipeline does it.</summary>
public static class TextClassificationDecoder
{
    /// <summary>
    /// HF's default: regression → none; multi_label_classification or a single label → sigmoid;
    /// single_label_classification or several labels → softmax.
    /// </summary>
    public static ScoreFunction DefaultFunction(string? problemType, int labelCount) => problemType switch
    {
        "regression" => ScoreFunction.None,
        "multi_label_classification" => ScoreFunction.Sigmoid,
        "single_label_classification" => ScoreFunction.Softmax,
        _ => labelCount == 1 ? ScoreFunction.Sigmoid : ScoreFunction.Softmax,
    };

    /// <summary>
    /// logits: [labels]. Returns labels sorted by score, highest first (ties keep label order); <paramref name="topK"/>
    /// null returns every label.
    /// </summary>
    public static ClassificationResult[] Decode(ReadOnlySpan<float> logits, IReadOnlyList<string> id2label, ScoreFunction function, int? topK = 1)
    {
        if (logits.Length != id2label.Count)
            throw new InvalidInputException($"the model gives {logits.Length} logits but id2label names {id2label.Count} labels");
        var scores = new float[logits.Length];
        Apply(logits, scores, function);
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i);
        int take = topK is { } k ? Math.Clamp(k, 0, scores.Length) : scores.Length;
        return order.Take(take).Select(i => new ClassificationResult(id2label[i], scores[i])).ToArray();
    }

    /// <summary>
    /// Writes the scores of <paramref name="logits"/> by <paramref name="function"/> to <paramref name="scores"/>.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> logits, Span<float> scores, ScoreFunction function)
    {
        switch (function)
        {
            case ScoreFunction.Sigmoid:
                for (int i = 0; i < logits.Length; i++) scores[i] = 1f / (1f + MathF.Exp(-logits[i]));
                break;
            case ScoreFunction.Softmax:
                logits.CopyTo(scores);
                Compute.Softmax.Rows(scores, 1, scores.Length);
                break;
            default:
                logits.CopyTo(scores);
                break;
        }
    }
}
