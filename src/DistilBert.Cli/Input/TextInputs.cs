using DistilBert.Data;

namespace DistilBert.Cli.Input;

/// <summary>
/// The texts a pipeline command works on, from (in order of preference) text arguments, <c>--input FILE</c>
/// (txt, jsonl, tsv, csv, optionally .gz) or lines piped on stdin. Streams: nothing is held beyond the current row.
/// </summary>
public sealed class TextInputs
{
    public required IEnumerable<TextExample> Examples { get; init; }
    /// <summary>An estimate of the number of inputs (for the progress bar's ETA), or null when unknown (stdin).</summary>
    public long? EstimatedCount { get; init; }
    /// <summary>True when reading a file: a progress bar is worth showing.</summary>
    public bool FromFile { get; init; }
    public required string Source { get; init; }

    public static TextInputs Open(string[]? texts, string? inputPath, TextColumns columns, bool skipBadLines)
    {
        Action<DataFileException>? onBadLine = skipBadLines ? e => Console.Error.WriteLine($"warning: skipped {e.Message}") : null;
        if (texts is { Length: > 0 })
        {
            if (inputPath is not null) throw new InvalidInputException("give either text arguments or --input, not both");
            return new TextInputs { Examples = texts.Select((t, i) => new TextExample(i + 1, t)), EstimatedCount = texts.Length, Source = "arguments" };
        }
        if (inputPath is not null && inputPath != "-")
        {
            // Fail on a missing file now, not at the first row.
            if (!File.Exists(inputPath)) throw new DataFileException(inputPath, null, "input file not found");
            return new TextInputs
            {
                Examples = NonEmpty(TextClassificationReader.Read(inputPath, columns, onBadLine), inputPath),
                EstimatedCount = EstimateRows(inputPath),
                FromFile = true,
                Source = inputPath,
            };
        }
        if (inputPath == "-" || Console.IsInputRedirected)
            return new TextInputs { Examples = NonEmpty(ReadStdin(), "stdin"), Source = "stdin" };
        throw new InvalidInputException("no input: give text arguments, --input FILE, or pipe text on stdin");
    }

    static IEnumerable<TextExample> ReadStdin()
    {
        long line = 0;
        while (Console.In.ReadLine() is { } text)
        {
            line++;
            if (!string.IsNullOrWhiteSpace(text)) yield return new TextExample(line, text);
        }
    }

    static IEnumerable<TextExample> NonEmpty(IEnumerable<TextExample> examples, string source)
    {
        bool any = false;
        foreach (var example in examples) { any = true; yield return example; }
        if (!any) throw new InvalidInputException($"no input texts in {source} (it is empty)");
    }

    /// <summary>Counts non-blank lines (minus a header row for tsv/csv): cheap, and close enough for an ETA.</summary>
    public static long? EstimateRows(string path)
    {
        long count = 0;
        foreach (var (_, text) in DataFile.ReadLines(path)) if (!string.IsNullOrWhiteSpace(text)) count++;
        var extension = DataFile.FormatExtension(path);
        if (extension is ".tsv" or ".csv" or ".tab" && count > 0) count--;
        return count;
    }
}
