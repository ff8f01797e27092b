using DistilBert.Data;

namespace DistilBert.Cli.Input;

/// <summary>
/// The texts a pipeline command works on, from (in order of preference) text arguments, <c>--input FILE</c>
/// (txt, jsonl, tsv, csv, optionally .gz) or lines piped on stdin. Streams: nothing is held beyond the current row.
/// </summary>
public sealed class TextInputs
{
    /// <summary>The inputs, read lazily.</summary>
    public required IEnumerable<TextExample> Examples { get; init; }
    /// <summary>An estimate of the number of inputs (for the progress bar's ETA), or null when unknown (stdin).</summary>
    public long? EstimatedCount { get; init; }
    /// <summary>True when reading a file: a progress bar is worth showing.</summary>
    public bool FromFile { get; init; }
    /// <summary>Where the inputs come from, for messages: "arguments", "stdin" or the file's path.</summary>
    public required string Source { get; init; }
    /// <summary>True once <see cref="Examples"/> has been read to its end (a run that stopped on an error has not).</summary>
    public bool ReadToEnd => End.Reached;

    EndOfInput End { get; init; } = new();
    sealed class EndOfInput { public bool Reached; }

    /// <param name="columnFlags">The column options the user gave (<c>--column</c> ...): refused for inputs without columns.</param>
    /// <param name="texts">Texts given on the command line, used first.</param>
    /// <param name="inputPath">A file of inputs, or '-' for stdin; stdin when neither is given.</param>
    /// <param name="columns">The columns to read from a tsv, csv or jsonl file.</param>
    /// <param name="skipBadLines">Warn about malformed lines and go on, instead of stopping.</param>
    /// <param name="shard">Only this shard's rows (needs a file: its rows are counted in a first pass).</param>
    public static TextInputs Open(string[]? texts, string? inputPath, TextColumns columns, bool skipBadLines, IReadOnlyList<string>? columnFlags = null,
        ShardSpec? shard = null)
    {
        if (shard is not null && (texts is { Length: > 0 } || inputPath is null || inputPath == "-"))
            throw new InvalidInputException("--shard needs --input FILE: each shard counts the file's rows first, and text arguments or stdin cannot be read twice");
        if (columnFlags is { Count: > 0 } && (texts is { Length: > 0 } || inputPath is null || inputPath == "-" || !TextClassificationReader.HasColumns(inputPath)))
        {
            string source = texts is { Length: > 0 } ? "text arguments are" : inputPath is null or "-" ? "stdin is" : $"'{inputPath}' is";
            throw new InvalidInputException($"{string.Join(" and ", columnFlags)} appl{(columnFlags.Count == 1 ? "ies" : "y")} to .tsv, .csv " +
                $"and .jsonl inputs, but {source} one text per line");
        }
        // Predictions need no gold label: rows without one are fine.
        columns = columns with { ReadLabels = false, Label = null };
        Action<DataFileException>? onBadLine = skipBadLines ? e => Console.Error.WriteLine($"warning: skipped {e.Message}") : null;
        if (texts is { Length: > 0 })
        {
            if (inputPath is not null) throw new InvalidInputException("give either text arguments or --input, not both");
            var fromArguments = new EndOfInput();
            return new TextInputs
            {
                Examples = NonEmpty(texts.Select((t, i) => new TextExample(i + 1, t)), "arguments", fromArguments), EstimatedCount = texts.Length,
                Source = "arguments", End = fromArguments,
            };
        }
        if (inputPath is not null && inputPath != "-")
        {
            // Fail on a missing file now, not at the first row.
            if (!File.Exists(inputPath)) throw new DataFileException(inputPath, null, "input file not found");
            var fromFile = new EndOfInput();
            if (shard is { } part) return OpenShard(inputPath, columns, skipBadLines, part, fromFile);
            return new TextInputs
            {
                Examples = NonEmpty(TextClassificationReader.Read(inputPath, columns, onBadLine), inputPath, fromFile),
                EstimatedCount = EstimateRows(inputPath),
                FromFile = true,
                Source = inputPath,
                End = fromFile,
            };
        }
        if (inputPath == "-" || Console.IsInputRedirected)
        {
            var fromStdin = new EndOfInput();
            return new TextInputs { Examples = NonEmpty(ReadStdin(), "stdin", fromStdin), Source = "stdin", End = fromStdin };
        }
        throw new InvalidInputException("no input: give text arguments, --input FILE, or pipe text on stdin");
    }

    static TextInputs OpenShard(string path, TextColumns columns, bool skipBadLines, ShardSpec shard, EndOfInput end)
    {
        // The first pass only counts: a bad line stops here (before any output) unless skipped, and is reported once, below.
        long rows = 0;
        foreach (var _ in TextClassificationReader.Read(path, columns, skipBadLines ? _ => { } : null)) rows++;
        if (rows == 0) throw new InvalidInputException($"no input texts in {path} (it is empty)");
        var (start, stop) = shard.RangeOf(rows);
        return new TextInputs
        {
            Examples = ShardRows(path, columns, skipBadLines, start, stop, rows, end), EstimatedCount = stop - start, FromFile = true,
            Source = $"{path} (shard {shard}: rows {start + 1}-{stop} of {rows})", End = end,
        };
    }

    /// <summary>Rows [start, stop) of a file (0-based). A skipped bad line is reported by the shard whose row follows it
    /// (the last shard also reports those after the last row), so each is reported exactly once across the shards.</summary>
    static IEnumerable<TextExample> ShardRows(string path, TextColumns columns, bool skipBadLines, long start, long stop, long rows, EndOfInput end)
    {
        long index = 0;
        bool reporting = start == 0;
        Action<DataFileException>? onBadLine = skipBadLines ? e => { if (reporting) Console.Error.WriteLine($"warning: skipped {e.Message}"); } : null;
        if (start < stop)
            foreach (var example in TextClassificationReader.Read(path, columns, onBadLine))
            {
                if (index >= start) yield return example;
                index++;
                if (index == start) reporting = true;
                if (index == stop && stop < rows) break;
            }
        end.Reached = true;
    }

    static IEnumerable<TextExample> ReadStdin()
    {
        foreach (var (line, text) in DataFile.ReadLines("-"))
            if (!string.IsNullOrWhiteSpace(text)) yield return new TextExample(line, text);
    }

    static IEnumerable<TextExample> NonEmpty(IEnumerable<TextExample> examples, string source, EndOfInput end)
    {
        bool any = false;
        foreach (var example in examples) { any = true; yield return example; }
        if (!any) throw new InvalidInputException($"no input texts in {source} (it is empty)");
        end.Reached = true;
    }

    /// <summary>
    /// Counts non-blank lines (minus a header row for tsv/csv) on the raw bytes, without making strings: cheap even for a
    /// 20 MB line, and close enough for an ETA. (Reading the rows checks the text.)
    /// </summary>
    public static long? EstimateRows(string path)
    {
        long count = 0;
        bool lineHasText = false;
        var blank = " \t\r\v\f"u8;
        var buffer = new byte[1 << 16];
        using (var stream = DataFile.OpenBytes(path))
        {
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                var rest = buffer.AsSpan(0, read);
                while (true)
                {
                    int newline = rest.IndexOf((byte)'\n');
                    var line = newline < 0 ? rest : rest[..newline];
                    lineHasText |= line.IndexOfAnyExcept(blank) >= 0;
                    if (newline < 0) break;
                    if (lineHasText) count++;
                    lineHasText = false;
                    rest = rest[(newline + 1)..];
                }
            }
        }
        if (lineHasText) count++;
        var extension = DataFile.FormatExtension(path);
        if (extension is ".tsv" or ".csv" or ".tab" && count > 0) count--;
        return count;
    }
}
