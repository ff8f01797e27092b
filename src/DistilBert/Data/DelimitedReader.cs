using System.Text;

namespace DistilBert.Data;

/// <summary>
/// Streams rows of a tsv or csv file: fields split on the delimiter, RFC 4180 quoting (a quoted field may hold the
/// delimiter, doubled quotes and newlines). Constant memory: one row at a time.
/// </summary>
public static class DelimitedReader
{
    /// <summary>Rows with the 1-based line number where each row starts.</summary>
    public static IEnumerable<DelimitedRow> ReadRows(string path, char delimiter)
    {
        using var reader = DataFile.OpenText(path);
        long lineNumber = 0;
        var fields = new List<string>();
        var field = new StringBuilder();
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            long rowStart = lineNumber;
            fields.Clear();
            field.Clear();
            bool inQuotes = false, fieldWasQuoted = false;
            int i = 0;
            while (true)
            {
                if (i >= line.Length)
                {
                    if (!inQuotes) break;
                    // A quoted field continues on the next physical line.
                    var next = reader.ReadLine()
                        ?? throw new DataFileException(path, rowStart, "unterminated quoted field (missing closing \")");
                    lineNumber++;
                    field.Append('\n');
                    line = next;
                    i = 0;
                    continue;
                }
                char c = line[i];
                if (inQuotes)
                {
                    if (c == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        inQuotes = false; i++;
                        if (i < line.Length && line[i] != delimiter)
                            throw new DataFileException(path, lineNumber,
                                $"unexpected character '{line[i]}' after closing quote in field {fields.Count + 1}");
                        continue;
                    }
                    field.Append(c); i++;
                    continue;
                }
                if (c == delimiter) { fields.Add(field.ToString()); field.Clear(); fieldWasQuoted = false; i++; continue; }
                if (c == '"' && field.Length == 0 && !fieldWasQuoted) { inQuotes = true; fieldWasQuoted = true; i++; continue; }
                field.Append(c); i++;
            }
            fields.Add(field.ToString());
            if (fields.Count == 1 && fields[0].Length == 0 && !fieldWasQuoted) continue; // blank line
            yield return new DelimitedRow(rowStart, fields.ToArray());
        }
    }

    /// <summary>The delimiter a file name implies: tab for .tsv, comma for .csv.</summary>
    public static char DelimiterFor(string path) => DataFile.FormatExtension(path) switch
    {
        ".tsv" or ".tab" => '\t',
        ".csv" => ',',
        var ext => throw new DataFileException(path, null, $"cannot tell the delimiter of a '{ext}' file; expected .tsv or .csv"),
    };
}

/// <summary>One row of a delimited file.</summary>
public readonly record struct DelimitedRow(long Line, string[] Fields);
