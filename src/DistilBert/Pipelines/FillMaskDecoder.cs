namespace DistilBert.Pipelines;

/// <summary>A candidate for one [MASK]: its probability and vocabulary id.</summary>
public readonly record struct MaskCandidate(float Score, int Token);

/// <summary>Fill-mask post-processing as transformers' FillMaskPipeline: softmax over the vocabulary, optional targets, top-k.</summary>
public static class FillMaskDecoder
{
    /// <summary>
    /// logits: [vocab] at one [MASK] position. With <paramref name="targetIds"/>, only those tokens compete (their
    /// probabilities still come from the softmax over the whole vocabulary) and top-k is capped at their number.
    /// </summary>
    public static MaskCandidate[] TopK(ReadOnlySpan<float> logits, int topK, IReadOnlyList<int>? targetIds = null)
    {
        if (topK < 1) throw new InvalidInputException($"top_k must be at least 1, got {topK}");
        var probabilities = logits.ToArray();
        Compute.Softmax.Rows(probabilities, 1, probabilities.Length);
        IEnumerable<int> candidates = targetIds ?? Enumerable.Range(0, probabilities.Length);
        foreach (var id in targetIds ?? [])
            if ((uint)id >= (uint)probabilities.Length)
                throw new InvalidInputException($"target token id {id} is outside the vocabulary of {probabilities.Length}");
        return candidates
            .OrderByDescending(id => probabilities[id]).ThenBy(id => id)
            .Take(topK)
            .Select(id => new MaskCandidate(probabilities[id], id))
            .ToArray();
    }
}
