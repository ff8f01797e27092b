namespace DistilBert.Data;

/// <summary>A sentence of a CoNLL file: its tokens, their tags, and the line of its first token.</summary>
public sealed record TaggedSentence(long Line, string[] Tokens, string[] Tags);

/// <summary>
/// Streams sentences from a CoNLL file: one token per line, the token first and the tag last, separated by a
/// tab or spaces (CoNLL-2003's middle POS/chunk columns are skipped); a blank line (or one holding only
/// whitespace) ends a sentence; <c>-DOCSTART-</c> lines are ignored.
/// </summary>
public static class ConllReader
{
    public static IEnumerable<TaggedSentence> Read(string path)
    {
        var tokens = new List<string>();
        var tags = new List<string>();
        long sentenceLine = 0;
        foreach (var (line, text) in DataFile.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                if (tokens.Count > 0) yield return Flush();
                continue;
            }
            var parts = text.Split(text.Contains('\t') ? ['\t'] : [' '], StringSplitOptions.RemoveEmptyEntries);
            if (parts[0] == "-DOCSTART-") continue;
            if (parts.Length < 2) throw new DataFileException(path, line, $"expected 'token<TAB>tag', found one field: '{text}'");
            if (tokens.Count == 0) sentenceLine = line;
            tokens.Add(parts[0]);
            tags.Add(parts[^1]);
        }
        if (tokens.Count > 0) yield return Flush();

        TaggedSentence Flush()
        {
            var sentence = new TaggedSentence(sentenceLine, tokens.ToArray(), tags.ToArray());
            tokens.Clear();
            tags.Clear();
            return sentence;
        }
    }
}
