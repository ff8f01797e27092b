namespace DistilBert.Pipelines;

/// <summary>
/// Bridges pre-tokenised data (CoNLL words and tags) and text pipelines: joins words into a text with their
/// character spans, and reads a word's predicted tag off its first token — the usual convention for evaluating a
/// WordPiece model on word-level tags.
/// </summary>
public static class WordTags
{
    /// <summary>Joins words with single spaces; spans: [words] (start, end) character offsets into the text.</summary>
    public static (string Text, (int Start, int End)[] Spans) Join(IReadOnlyList<string> words)
    {
        var spans = new (int, int)[words.Count];
        int position = 0;
        for (int i = 0; i < words.Count; i++)
        {
            spans[i] = (position, position + words[i].Length);
            position += words[i].Length + 1;
        }
        return (string.Join(' ', words), spans);
    }

    /// <summary>
    /// The tag of each word: the label of the first token starting inside it (on a tie — the same token seen in two
    /// windows — the more confident one). A word no token covers (removed by normalisation) gets <paramref name="outside"/>.
    /// tokens: token-level results (aggregation "none", nothing ignored).
    /// </summary>
    public static string[] FromTokens(IReadOnlyList<(int Start, int End)> wordSpans, IEnumerable<TokenEntity> tokens, string outside = "O")
    {
        var tags = new string[wordSpans.Count];
        var best = new (int Start, float Score)[wordSpans.Count];
        Array.Fill(tags, outside);
        Array.Fill(best, (int.MaxValue, float.NegativeInfinity));
        var starts = wordSpans.Select(s => s.Start).ToArray();
        foreach (var token in tokens)
        {
            // The word whose span contains the token's start.
            int index = Array.BinarySearch(starts, token.Start);
            if (index < 0) index = ~index - 1;
            if (index < 0 || token.Start >= wordSpans[index].End) continue;
            var current = best[index];
            if (token.Start < current.Start || (token.Start == current.Start && token.Score > current.Score))
            {
                best[index] = (token.Start, token.Score);
                tags[index] = token.Entity ?? token.EntityGroup ?? outside;
            }
        }
        return tags;
    }
}
