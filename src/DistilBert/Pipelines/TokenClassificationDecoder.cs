namespace DistilBert.Pipelines;

/// <summary>How token predictions are grouped into entities (HF's <c>aggregation_strategy</c>).</summary>
public enum AggregationStrategy
{
    /// <summary>Every token with its own label.</summary>
    None,
    /// <summary>Consecutive tokens with the same entity type become one group, scored by their mean.</summary>
    Simple,
    /// <summary>Each word takes its first token's label.</summary>
    First,
    /// <summary>Each word takes the label of its tokens' average scores.</summary>
    Average,
    /// <summary>Each word takes the label of its best-scoring token.</summary>
    Max,
}

/// <summary>
/// One token of a window as the decoder needs it: its vocabulary string ("##ing"), its character span in the
/// input text, and whether it is a special token ([CLS], [SEP], padding) or the unknown token.
/// </summary>
public readonly record struct TokenSpan(string Token, int Start, int End, bool IsSpecial = false, bool IsUnknown = false);

/// <summary>
/// Token-classification post-processing as transformers' TokenClassificationPipeline defines it (fast WordPiece
/// tokenizer): softmax per token, special tokens dropped, sub-words found by comparing the token's length with
/// its text span (so "##ing" over "ing" is a sub-word), word-level aggregation (first / average / max), B-/I-
/// grouping into entity groups, <c>ignore_labels</c> filtering, and merging of entities from overlapping windows.
/// One deliberate difference: a group's <c>word</c> is the original text between its offsets (HF re-joins
/// tokens, which lower-cases for uncased models and puts spaces around punctuation).
/// </summary>
public static class TokenClassificationDecoder
{
    /// <summary>Labels left out of the results unless asked for: O, outside any entity.</summary>
    public static readonly IReadOnlyList<string> DefaultIgnoreLabels = ["O"];

    // One token after softmax, before aggregation (HF's "pre_entity").
    sealed record PreEntity(string Word, float[] Scores, int Start, int End, int Index, bool IsSubword);

    /// <summary>
    /// Decodes every window of one text and merges them (overlapping windows come from a stride).
    /// Each window: logits [tokens, labels] and its tokens.
    /// </summary>
    public static List<TokenEntity> Decode(string text, IReadOnlyList<(float[] Logits, IReadOnlyList<TokenSpan> Tokens)> windows,
        IReadOnlyList<string> id2label, AggregationStrategy strategy = AggregationStrategy.None, IReadOnlyList<string>? ignoreLabels = null)
    {
        var all = new List<TokenEntity>();
        foreach (var (logits, tokens) in windows) all.AddRange(DecodeWindow(text, logits, tokens, id2label, strategy, ignoreLabels));
        return windows.Count > 1 ? MergeOverlapping(all) : all;
    }

    /// <summary>logits: [tokens, labels] for one window.</summary>
    public static List<TokenEntity> DecodeWindow(string text, ReadOnlySpan<float> logits, IReadOnlyList<TokenSpan> tokens,
        IReadOnlyList<string> id2label, AggregationStrategy strategy = AggregationStrategy.None, IReadOnlyList<string>? ignoreLabels = null)
    {
        int labels = id2label.Count;
        if (logits.Length != tokens.Count * labels)
            throw new InvalidInputException($"token logits hold {logits.Length} values; expected {tokens.Count} tokens × {labels} labels");
        ignoreLabels ??= DefaultIgnoreLabels;

        var pre = new List<PreEntity>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.IsSpecial) continue;
            if (token.Start < 0 || token.End > text.Length || token.End < token.Start)
                throw new InvalidInputException($"token {i} has offsets {token.Start}..{token.End} outside the text of length {text.Length}");
            var scores = logits.Slice(i * labels, labels).ToArray();
            Compute.Softmax.Rows(scores, 1, labels);
            var reference = text.AsSpan(token.Start, token.End - token.Start);
            bool isSubword = token.IsUnknown ? false : token.Token.Length != reference.Length;
            var word = token.IsUnknown ? reference.ToString() : token.Token;
            pre.Add(new PreEntity(word, scores, token.Start, token.End, i, isSubword));
        }

        List<TokenEntity> entities = strategy switch
        {
            AggregationStrategy.None => pre.Select(p => TokenLevel(p, id2label)).ToList(),
            AggregationStrategy.Simple => GroupEntities(text, pre.Select(p => TokenLevel(p, id2label)).ToList()),
            _ => GroupEntities(text, AggregateWords(text, pre, id2label, strategy)),
        };
        entities.RemoveAll(e => e.Entity is { } label && ignoreLabels.Contains(label)
                                || e.EntityGroup is { } group && ignoreLabels.Contains(group));
        return entities;
    }

    static TokenEntity TokenLevel(PreEntity p, IReadOnlyList<string> id2label)
    {
        int best = ArgMax(p.Scores);
        return new TokenEntity { Entity = id2label[best], Score = p.Scores[best], Index = p.Index, Word = p.Word, Start = p.Start, End = p.End };
    }

    // Groups each word's tokens (a token that is not a sub-word starts a new word) into one word-level entity.
    static List<TokenEntity> AggregateWords(string text, List<PreEntity> pre, IReadOnlyList<string> id2label, AggregationStrategy strategy)
    {
        var words = new List<TokenEntity>();
        int groupStart = 0;
        for (int i = 1; i <= pre.Count; i++)
        {
            if (i < pre.Count && pre[i].IsSubword) continue;
            if (i > groupStart) words.Add(AggregateWord(text, pre.GetRange(groupStart, i - groupStart), id2label, strategy));
            groupStart = i;
        }
        return words;
    }

    static TokenEntity AggregateWord(string text, List<PreEntity> tokens, IReadOnlyList<string> id2label, AggregationStrategy strategy)
    {
        float[] scores = strategy switch
        {
            AggregationStrategy.First => tokens[0].Scores,
            // The token whose own best score is highest decides the whole word (first such token on ties).
            AggregationStrategy.Max => tokens.Aggregate((best, t) => t.Scores.Max() > best.Scores.Max() ? t : best).Scores,
            AggregationStrategy.Average => Average(tokens),
            _ => throw new ArgumentOutOfRangeException(nameof(strategy)),
        };
        int label = ArgMax(scores);
        int start = tokens[0].Start, end = tokens[^1].End;
        return new TokenEntity { Entity = id2label[label], Score = scores[label], Word = text[start..end], Start = start, End = end };
    }

    static float[] Average(List<PreEntity> tokens)
    {
        var mean = new float[tokens[0].Scores.Length];
        for (int j = 0; j < mean.Length; j++)
        {
            double sum = 0;
            foreach (var t in tokens) sum += t.Scores[j];
            mean[j] = (float)(sum / tokens.Count);
        }
        return mean;
    }

    // HF's get_tag: "B-X" → (B, X); "I-X" → (I, X); anything else is a continuation of itself: (I, label).
    static (char Bi, string Tag) GetTag(string label) =>
        label.StartsWith("B-", StringComparison.Ordinal) ? ('B', label[2..])
        : label.StartsWith("I-", StringComparison.Ordinal) ? ('I', label[2..])
        : ('I', label);

    // Adjacent entities of the same tag merge unless the newcomer is a B-; each group scores the mean of its members.
    static List<TokenEntity> GroupEntities(string text, List<TokenEntity> entities)
    {
        var groups = new List<TokenEntity>();
        var current = new List<TokenEntity>();
        foreach (var entity in entities)
        {
            if (current.Count > 0)
            {
                var (bi, tag) = GetTag(entity.Entity!);
                var (_, lastTag) = GetTag(current[^1].Entity!);
                if (!(tag == lastTag && bi != 'B')) { groups.Add(GroupOf(text, current)); current.Clear(); }
            }
            current.Add(entity);
        }
        if (current.Count > 0) groups.Add(GroupOf(text, current));
        return groups;
    }

    static TokenEntity GroupOf(string text, List<TokenEntity> members)
    {
        var label = members[0].Entity!;
        int dash = label.IndexOf('-');
        int start = members[0].Start, end = members[^1].End;
        return new TokenEntity
        {
            EntityGroup = dash < 0 ? label : label[(dash + 1)..],
            Score = (float)members.Average(m => (double)m.Score),
            Word = text[start..end],
            Start = start,
            End = end,
        };
    }

    /// <summary>
    /// HF's aggregate_overlapping_entities: sorted by start, an entity that starts inside the previous one replaces
    /// it when longer, or equally long with a higher score; otherwise it is dropped.
    /// </summary>
    public static List<TokenEntity> MergeOverlapping(List<TokenEntity> entities)
    {
        if (entities.Count == 0) return entities;
        var sorted = entities.OrderBy(e => e.Start).ToList(); // stable, as Python's sorted
        var merged = new List<TokenEntity>();
        var previous = sorted[0];
        foreach (var entity in sorted)
        {
            if (previous.Start <= entity.Start && entity.Start < previous.End)
            {
                int length = entity.End - entity.Start, previousLength = previous.End - previous.Start;
                if (length > previousLength || (length == previousLength && entity.Score > previous.Score)) previous = entity;
            }
            else
            {
                merged.Add(previous);
                previous = entity;
            }
        }
        merged.Add(previous);
        return merged;
    }

    static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
