namespace DistilBert.Data;

/// <summary>A sentence of a CoNLL file: its tokens, their tags, and the line of its first token.</summary>
public sealed record TaggedSentence(long Line, string[] Tokens, string[] Tags);

/// <summary>
/// Streams sentences from a CoNLL file: one token per line, the token first and the tag last, separated by a
/// tab or spaces (CoNLL-2003's middle POS/chunk columns are skipped); a blank line (or one holding only
/// whitespace) ends a sentence; <c>-DOCSTART-</c> lines are ignored. A file that does not look like CoNLL — a field
/// holding spaces (a sentence of a tsv), JSON, a line whose number of fields differs from the first token line's
/// (sentences of a text or csv file) — is refused at its first such line rather than read as tokens and tags.
/// </summary>
public static class ConllReader
{
    const string Expected = "expected CoNLL: one token per line, 'token<TAB>tag' (or space-separated columns, the tag last), " +
        "a blank line between sentences";

    /// <summary>Reads the sentences of the CoNLL file at <paramref name="path"/>.</summary>
    public static IEnumerable<TaggedSentence> Read(string path)
    {
        var tokens = new List<string>();
        var tags = new List<string>();
        long sentenceLine = 0;
        int tabFields = 0, spaceFields = 0; // of the first token line of each kind: the others have as many
        foreach (var (line, text) in DataFile.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                if (tokens.Count > 0) yield return Flush();
                continue;
            }
            var trimmed = text.Trim();
            if (trimmed[0] is '{' or '[')
                throw new DataFileException(path, line, $"this looks like JSON, not CoNLL: {Show(trimmed)}; {Expected}");
            bool tabs = text.Contains('\t');
            var parts = tabs
                ? text.Split('\t').Select(p => p.Trim()).Where(p => p.Length > 0).ToArray()
                : text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts[0] == "-DOCSTART-") continue;
            if (parts.Length < 2) throw new DataFileException(path, line, $"one field ({Show(trimmed)}) where a token and its tag belong; {Expected}");
            if (tabs && parts.FirstOrDefault(p => p.Any(char.IsWhiteSpace)) is { } spaced)
                throw new DataFileException(path, line, $"a field holds spaces ({Show(spaced)}), so this is not one token per line; {Expected}");
            ref int fieldCount = ref tabs ? ref tabFields : ref spaceFields;
            if (fieldCount == 0) fieldCount = parts.Length;
            else if (parts.Length != fieldCount)
                throw new DataFileException(path, line, $"{parts.Length} fields where the first {(tabs ? "tab" : "space")}-separated token line " +
                    $"has {fieldCount} ({Show(trimmed)}); {Expected}");
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

    static string Show(string text) => text.Length <= 40 ? $"'{text}'" : $"'{text[..37]}...'";
}
