namespace DistilBert.Pipelines;

/// <summary>
/// One window of a (question, context) encoding as the span decoder needs it. Per token: start and end logits,
/// whether it may be part of an answer (a context token; HF's p_mask inverted — padding and question tokens may
/// not), its character span in the context, and the index of the context word it belongs to (-1 for none).
/// Position 0 is the [CLS] token, whose score stands for "no answer".
/// </summary>
public sealed record AnswerWindow(float[] StartLogits, float[] EndLogits, bool[] IsContext, (int Start, int End)[] Offsets, int[] WordIds)
{
    /// <summary>Tokens in the window.</summary>
    public int Length => StartLogits.Length;
}

/// <summary>
/// Extractive-QA span selection as transformers' QuestionAnsweringPipeline: per window, a softmax over the context
/// positions and [CLS] (other positions are set to -10000 first), score(start, end) = p_start·p_end with
/// start ≤ end &lt; start + max_answer_len; the top-k spans of every window are pooled and the best k kept. The
/// "no answer" score is the smallest p_start[CLS]·p_end[CLS] over the windows. With align_to_words, a span is
/// widened to the whole words its first and last tokens belong to.
/// </summary>
public static class QuestionAnsweringDecoder
{
    /// <summary>
    /// The best answers in <paramref name="context"/> from the start and end logits of its windows, as Hugging Face's
    /// pipeline picks them.
    /// </summary>
    public static List<AnswerResult> Decode(string context, IReadOnlyList<AnswerWindow> windows, int topK = 1, int maxAnswerLength = 15,
        bool handleImpossibleAnswer = false, bool alignToWords = true)
    {
        if (topK < 1) throw new InvalidInputException($"top_k must be at least 1, got {topK}");
        if (maxAnswerLength < 1) throw new InvalidInputException($"max_answer_len must be at least 1, got {maxAnswerLength}");
        var wordSpans = WordSpans(windows);
        var answers = new List<AnswerResult>();
        double minNullScore = 1_000_000;
        foreach (var window in windows)
        {
            Validate(window, context);
            int n = window.Length;
            // start, end: [tokens] probabilities over the allowed positions.
            var start = MaskedSoftmax(window.StartLogits, window.IsContext);
            var end = MaskedSoftmax(window.EndLogits, window.IsContext);
            if (handleImpossibleAnswer) minNullScore = Math.Min(minNullScore, start[0] * end[0]);
            start[0] = end[0] = 0;

            var candidates = new List<(float Score, int Start, int End)>();
            for (int s = 0; s < n; s++)
            {
                if (!Allowed(window, s)) continue;
                for (int e = s; e < Math.Min(n, s + maxAnswerLength); e++)
                    if (Allowed(window, e)) candidates.Add((start[s] * end[e], s, e));
            }
            foreach (var (score, s, e) in candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Start).ThenBy(c => c.End).Take(topK))
            {
                var (charStart, charEnd) = CharSpan(window, s, e, wordSpans, alignToWords);
                answers.Add(new AnswerResult(score, charStart, charEnd, context[charStart..charEnd]));
            }
        }
        if (handleImpossibleAnswer) answers.Add(new AnswerResult((float)minNullScore, 0, 0, ""));
        return answers.OrderByDescending(a => a.Score).Take(topK).ToList(); // stable: ties keep window order
    }

    // [CLS] takes part in the softmax (it is the no-answer candidate) but never starts or ends a span itself
    // with a non-zero score, because its probabilities are zeroed after the null score is read.
    static bool Allowed(AnswerWindow window, int position) => position == 0 || window.IsContext[position];

    static float[] MaskedSoftmax(float[] logits, bool[] isContext)
    {
        var p = new float[logits.Length];
        for (int i = 0; i < p.Length; i++) p[i] = i == 0 || isContext[i] ? logits[i] : -10000f;
        Compute.Softmax.Rows(p, 1, p.Length);
        return p;
    }

    static (int, int) CharSpan(AnswerWindow window, int s, int e, Dictionary<int, (int Start, int End)> wordSpans, bool alignToWords)
    {
        if (alignToWords && window.WordIds[s] >= 0 && window.WordIds[e] >= 0)
            return (wordSpans[window.WordIds[s]].Start, wordSpans[window.WordIds[e]].End);
        return (window.Offsets[s].Start, window.Offsets[e].End);
    }

    // A word's character span, gathered over all windows so a word cut by a window edge keeps its full extent.
    static Dictionary<int, (int Start, int End)> WordSpans(IReadOnlyList<AnswerWindow> windows)
    {
        var spans = new Dictionary<int, (int Start, int End)>();
        foreach (var window in windows)
            for (int i = 0; i < window.Length; i++)
            {
                int word = window.WordIds[i];
                if (word < 0 || !window.IsContext[i]) continue;
                var (start, end) = window.Offsets[i];
                spans[word] = spans.TryGetValue(word, out var known) ? (Math.Min(known.Start, start), Math.Max(known.End, end)) : (start, end);
            }
        return spans;
    }

    static void Validate(AnswerWindow window, string context)
    {
        int n = window.Length;
        if (n == 0 || window.EndLogits.Length != n || window.IsContext.Length != n || window.Offsets.Length != n || window.WordIds.Length != n)
            throw new InvalidInputException($"answer window arrays disagree: {n} start logits, {window.EndLogits.Length} end logits, " +
                $"{window.IsContext.Length} context flags, {window.Offsets.Length} offsets, {window.WordIds.Length} word ids");
        for (int i = 0; i < n; i++)
            if (window.IsContext[i] && (window.Offsets[i].Start < 0 || window.Offsets[i].End > context.Length || window.Offsets[i].End < window.Offsets[i].Start))
                throw new InvalidInputException($"context token {i} has offsets {window.Offsets[i].Start}..{window.Offsets[i].End} outside the context of length {context.Length}");
    }
}
