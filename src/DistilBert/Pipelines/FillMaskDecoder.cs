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
        foreach (var id in targetIds ?? [])
            if ((uint)id >= (uint)probabilities.Length)
                throw new InvalidInputException($"target token id {id} is outside the vocabulary of {probabilities.Length}");
        // Keep the best k in a small sorted buffer (score descending, then lower id): one pass over the vocabulary.
        var best = new List<MaskCandidate>(topK + 1);
        foreach (int id in (IEnumerable<int>?)targetIds ?? Enumerable.Range(0, probabilities.Length))
        {
            float p = probabilities[id];
            if (best.Count == topK && !Better(p, id, best[^1])) continue;
            int at = best.Count;
            while (at > 0 && Better(p, id, best[at - 1])) at--;
            best.Insert(at, new MaskCandidate(p, id));
            if (best.Count > topK) best.RemoveAt(topK);
        }
        return best.ToArray();
    }

    static bool Better(float score, int id, MaskCandidate other) => score > other.Score || (score == other.Score && id < other.Token);
}
