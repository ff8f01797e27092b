using System.Text.Json;

namespace DistilBert.Data;

/// <summary>One text (or text pair) to classify, with its gold label when the file has one.</summary>
public sealed record TextExample(long Line, string Text, string? TextPair = null, string? Label = null);

/// <summary>
/// Which columns (tsv/csv) or keys (jsonl) hold the text, the optional second text and the optional label.
/// A column is a header name or a 0-based index ("0", "2"). Null means: the usual names
/// (text/sentence/sentence1, text_pair/sentence2, label), or for a headerless file column 0 and, when there is
/// more than one column, the last as label. <paramref name="ReadLabels"/> false (predictions) looks for no label at
/// all, so rows without one are fine.
/// </summary>
public sealed record TextColumns(string? Text = null, string? TextPair = null, string? Label = null, bool? HasHeader = null,
    bool ReadLabels = true);

/// <summary>
/// Streams text-classification examples from .txt (one text per line), .tsv/.csv and .jsonl (or .json holding JSON
/// lines) files, optionally .gz. A bad line throws <see cref="DataFileException"/> unless <c>onBadLine</c> is given,
/// which then receives the error and the line is skipped, so a long run can continue. A file in another format is
/// refused at its first line that shows it: a comma-separated header in a .tsv (or the reverse), a row with more
/// fields than the header (an unquoted delimiter inside a text), a JSON document instead of JSON lines.
/// </summary>
public static class TextClassificationReader
{
    static readonly string[] TextNames = ["text", "sentence", "sentence1", "question", "content", "review"];
    static readonly string[] PairNames = ["text_pair", "sentence2", "context"];
    static readonly string[] LabelNames = ["label", "labels"];

    /// <summary>
    /// Reads texts, pairs and labels from <paramref name="path"/>: tsv, csv, jsonl (by extension, optionally .gz) or
    /// plain lines.
    /// </summary>
    public static IEnumerable<TextExample> Read(string path, TextColumns? columns = null, Action<DataFileException>? onBadLine = null)
    {
        columns ??= new TextColumns();
        if (!columns.ReadLabels && columns.Label is not null)
            throw new ArgumentException("a label column was named but ReadLabels is false", nameof(columns));
        return DataFile.FormatExtension(path) switch
        {
            ".jsonl" or ".ndjson" or ".json" => ReadJsonLines(path, columns, onBadLine),
            ".tsv" or ".tab" or ".csv" => ReadDelimited(path, DelimitedReader.DelimiterFor(path), columns, onBadLine),
            _ => ReadText(path),
        };
    }

    /// <summary>Whether <see cref="Read"/> reads the file by columns or keys (tsv, csv, jsonl), rather than one text per line.</summary>
    public static bool HasColumns(string path) =>
        DataFile.FormatExtension(path) is ".jsonl" or ".ndjson" or ".json" or ".tsv" or ".tab" or ".csv";

    static IEnumerable<TextExample> ReadText(string path)
    {
        foreach (var line in TextLinesReader.Read(path)) yield return new TextExample(line.Line, line.Text);
    }

    /// <summary>
    /// Reads texts, pairs and labels from the delimited file at <paramref name="path"/>, with or without a header.
    /// </summary>
    public static IEnumerable<TextExample> ReadDelimited(string path, char delimiter, TextColumns columns, Action<DataFileException>? onBadLine = null)
    {
        int textIndex = -1, pairIndex = -1, labelIndex = -1, fieldCount = 0;
        bool first = true, header = false;
        foreach (var row in DelimitedReader.ReadRows(path, delimiter))
        {
            if (first)
            {
                first = false;
                header = columns.HasHeader ?? LooksLikeHeader(row.Fields, columns);
                if (!header) RefuseOtherDelimiter(path, row, delimiter);
                (textIndex, pairIndex, labelIndex) = ResolveColumns(path, row, header ? row.Fields : null, columns);
                fieldCount = row.Fields.Length;
                if (header) continue;
            }
            TextExample example;
            try
            {
                // More fields than the header means a delimiter inside a text split it, and every column after it is shifted.
                if (row.Fields.Length > fieldCount)
                    throw new DataFileException(path, row.Line, $"{row.Fields.Length} fields where the {(header ? "header" : "first row")} " +
                        $"has {fieldCount}: a text holding {DelimiterName(delimiter)} must be quoted (\"...\")");
                example = new TextExample(row.Line,
                    Field(path, row, textIndex, "text")!,
                    pairIndex < 0 ? null : Field(path, row, pairIndex, "text_pair"),
                    labelIndex < 0 ? null : NullIfBlank(Field(path, row, labelIndex, "label")));
            }
            catch (DataFileException e) when (onBadLine is not null) { onBadLine(e); continue; }
            yield return example;
        }
    }

    static string? Field(string path, DelimitedRow row, int index, string what) =>
        index < row.Fields.Length ? row.Fields[index]
            : throw new DataFileException(path, row.Line, $"row has {row.Fields.Length} field(s); the {what} column is number {index + 1}");

    /// <summary>An empty label field is no label (an unlabelled row of a labelled file), not a label named "".</summary>
    static string? NullIfBlank(string? label) => string.IsNullOrWhiteSpace(label) ? null : label;

    static string DelimiterName(char delimiter) => delimiter == '\t' ? "a tab" : $"'{delimiter}'";

    /// <summary>A first row that is one field holding a header split by the other delimiter: a csv named .tsv, or the reverse.</summary>
    static void RefuseOtherDelimiter(string path, DelimitedRow first, char delimiter)
    {
        if (first.Fields.Length != 1) return;
        char other = delimiter == '\t' ? ',' : '\t';
        var names = first.Fields[0].Split(other);
        if (names.Length > 1 && names.Any(n => TextNames.Concat(PairNames).Concat(LabelNames).Contains(n.Trim(), StringComparer.OrdinalIgnoreCase)))
            throw new DataFileException(path, first.Line, $"the header is separated by {DelimiterName(other)}, not {DelimiterName(delimiter)}: " +
                $"expected a {(delimiter == '\t' ? "tab-separated .tsv" : "comma-separated .csv")} file");
    }

    static bool LooksLikeHeader(string[] fields, TextColumns columns)
    {
        foreach (var requested in new[] { columns.Text, columns.TextPair, columns.Label })
            if (requested is not null && !IsIndex(requested)) return true; // names were asked for: there must be a header
        return fields.Any(f => TextNames.Concat(PairNames).Concat(LabelNames).Contains(f.Trim(), StringComparer.OrdinalIgnoreCase));
    }

    static bool IsIndex(string column) => column.Length > 0 && column.All(char.IsAsciiDigit);

    static (int Text, int Pair, int Label) ResolveColumns(string path, DelimitedRow firstRow, string[]? header, TextColumns columns)
    {
        int Find(string? requested, string[] defaults, string what, bool required)
        {
            if (requested is not null)
            {
                if (IsIndex(requested)) return int.Parse(requested);
                if (header is null) throw new DataFileException(path, firstRow.Line, $"column '{requested}' given by name but the file has no header row");
                int named = Array.FindIndex(header, h => string.Equals(h.Trim(), requested, StringComparison.OrdinalIgnoreCase));
                if (named < 0) throw new DataFileException(path, firstRow.Line, $"no {what} column named '{requested}'; the header has: {string.Join(", ", header)}");
                return named;
            }
            if (header is not null)
            {
                foreach (var name in defaults)
                {
                    int found = Array.FindIndex(header, h => string.Equals(h.Trim(), name, StringComparison.OrdinalIgnoreCase));
                    if (found >= 0) return found;
                }
                if (required) throw new DataFileException(path, firstRow.Line,
                    $"cannot find the {what} column in the header ({string.Join(", ", header)}); name it with a column option");
                return -1;
            }
            return -1;
        }

        int text = Find(columns.Text, TextNames, "text", required: header is not null);
        int pair = Find(columns.TextPair, PairNames, "text_pair", required: false);
        int label = columns.ReadLabels ? Find(columns.Label, LabelNames, "label", required: false) : -1;
        if (header is null)
        {
            if (text < 0) text = 0;
            if (label < 0 && columns.Label is null && columns.ReadLabels && firstRow.Fields.Length > 1) label = firstRow.Fields.Length - 1;
        }
        if (label == text && columns.Label is null) label = -1;
        return (text, pair, label);
    }

    /// <summary>Reads texts, pairs and labels from the JSON-lines file at <paramref name="path"/>.</summary>
    public static IEnumerable<TextExample> ReadJsonLines(string path, TextColumns columns, Action<DataFileException>? onBadLine = null)
    {
        foreach (var (line, json) in DataFile.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(json)) continue;
            TextExample example;
            try { example = ParseJsonLine(path, line, json, columns); }
            catch (DataFileException e) when (onBadLine is not null) { onBadLine(e); continue; }
            yield return example;
        }
    }

    static TextExample ParseJsonLine(string path, long line, string json, TextColumns columns)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e)
        {
            // A pretty-printed JSON document (SQuAD json, say) starts with a line holding just "{" or "[".
            string expected = json.Trim() is "{" or "[" ? "this is one JSON document, not JSON lines: expected one JSON object per line"
                : $"malformed JSON: {e.Message}";
            throw new DataFileException(path, line, expected, e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.String) return new TextExample(line, root.GetString()!);
            if (root.ValueKind != JsonValueKind.Object)
                throw new DataFileException(path, line, $"expected a JSON object or string, found {root.ValueKind}");
            var text = Value(path, line, root, columns.Text, TextNames, "text", required: true)!;
            var pair = Value(path, line, root, columns.TextPair, PairNames, "text_pair", required: columns.TextPair is not null);
            var label = columns.ReadLabels ? NullIfBlank(Value(path, line, root, columns.Label, LabelNames, "label", required: columns.Label is not null)) : null;
            return new TextExample(line, text, pair, label);
        }
    }

    static string? Value(string path, long line, JsonElement root, string? requested, string[] defaults, string what, bool required)
    {
        foreach (var name in requested is null ? defaults : [requested])
        {
            if (!root.TryGetProperty(name, out var value)) continue;
            return value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                JsonValueKind.Null => null,
                _ => throw new DataFileException(path, line, $"field '{name}' must be a string or number, found {value.ValueKind}"),
            };
        }
        if (required) throw new DataFileException(path, line, $"missing the {what} field (looked for: {string.Join(", ", requested is null ? defaults : [requested])})");
        return null;
    }
}
