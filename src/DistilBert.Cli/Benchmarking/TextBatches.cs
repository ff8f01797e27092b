using System.IO.Compression;
using System.Text.Json;
using DistilBert.Tokenization;

namespace DistilBert.Cli.Benchmarking;

/// <summary>
/// Real texts for the mixed-length benchmark (<c>distilbert bench --texts FILE</c>): one text per line, or the first
/// column of a TSV with a header (SST-2), or the "text" field of JSON lines (IMDb, optionally .gz); tokenized with
/// the embedded bert-base-uncased vocabulary, truncated to maxLength, cut into batches in file order as a server
/// receives them (<see cref="BatchOrder.File"/>) or, for an engine that pads, after a stable sort by token count so each
/// batch holds sequences of similar length (<see cref="BatchOrder.Length"/>). The ONNX Runtime runner of
/// bench/DistilBert.Bench loads the same batches through this class, so both engines see identical batches.
/// </summary>
public sealed class TextBatches
{
    const string EmbeddedVocab = "DistilBert.Cli.bert-base-uncased-vocab.txt";

    /// <summary>Token ids of every batch: batch b is Sequences[b] (each with [CLS] … [SEP]).</summary>
    public IReadOnlyList<int[][]> Batches { get; }
    /// <summary>Texts in all batches.</summary>
    public int Texts { get; }
    /// <summary>Real tokens in all batches, special tokens included.</summary>
    public long Tokens { get; }
    /// <summary>Tokens a padded engine computes: every sequence padded to its batch's longest.</summary>
    public long PaddedTokens { get; }

    TextBatches(List<int[][]> batches)
    {
        Batches = batches;
        Texts = batches.Sum(b => b.Length);
        Tokens = batches.Sum(b => b.Sum(s => (long)s.Length));
        PaddedTokens = batches.Sum(b => (long)b.Length * b.Max(s => s.Length));
    }

    /// <summary>
    /// Reads, tokenizes (truncating to <paramref name="maxLength"/>) and batches the texts of <paramref name="path"/>.
    /// </summary>
    public static TextBatches Load(string path, int batchSize, int maxLength, int? limit, BatchOrder order = BatchOrder.File)
    {
        var texts = ReadTexts(path).Where(t => !string.IsNullOrWhiteSpace(t));
        if (limit is int n) texts = texts.Take(n);
        var list = texts.ToList();
        if (list.Count == 0) throw new DataFileException(path, 1, "no texts found");
        using var stream = typeof(TextBatches).Assembly.GetManifestResourceStream(EmbeddedVocab)
            ?? throw new InvalidOperationException("embedded vocabulary missing from the build");
        var tokenizer = WordPieceTokenizer.FromVocabStream(stream, source: "embedded bert-base-uncased vocab.txt");
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var sequences = list.Select(t => tokenizer.Encode(t, null, options).Ids).ToList();
        return FromSequences(sequences, batchSize, order);
    }

    /// <summary>Cuts already tokenized sequences into batches of batchSize (the last may be smaller).</summary>
    public static TextBatches FromSequences(IReadOnlyList<int[]> sequences, int batchSize, BatchOrder order)
    {
        if (batchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {batchSize}");
        if (sequences.Count == 0) throw new InvalidInputException("no sequences to batch");
        // OrderBy is stable: equal lengths keep file order, so the batching is deterministic.
        var ordered = order switch
        {
            BatchOrder.Length => sequences.OrderBy(s => s.Length).ToList(),
            BatchOrder.LengthDescending => sequences.OrderByDescending(s => s.Length).ToList(),
            _ => sequences.ToList(),
        };
        var batches = new List<int[][]>();
        for (int i = 0; i < ordered.Count; i += batchSize)
            batches.Add(ordered.GetRange(i, Math.Min(batchSize, ordered.Count - i)).ToArray());
        return new TextBatches(batches);
    }

    /// <summary>The batch order named by <c>--order</c> (file, length or length-desc).</summary>
    public static BatchOrder ParseOrder(string value) => value switch
    {
        "file" => BatchOrder.File,
        "length" => BatchOrder.Length,
        "length-desc" => BatchOrder.LengthDescending,
        _ => throw new InvalidInputException($"--order must be file, length or length-desc, got '{value}'"),
    };

    /// <summary>The fields every engine's <c>--json</c> report of one timed run over these batches shares (our
    /// <c>bench --texts</c> and the ONNX Runtime runner's <c>ort-texts</c>): sizes, pass times, rates, peak RSS.</summary>
    public void WriteRun(Utf8JsonWriter writer, BatchOrder order, int threads, double[] passSeconds)
    {
        double median = KernelBench.Median(passSeconds);
        writer.WriteString("order", OrderName(order));
        writer.WriteNumber("texts", Texts);
        writer.WriteNumber("batches", Batches.Count);
        writer.WriteNumber("tokens", Tokens);
        writer.WriteNumber("padded_tokens", PaddedTokens);
        writer.WriteNumber("threads", threads);
        writer.WriteNumber("median_pass_ms", median * 1e3);
        writer.WriteNumber("best_pass_ms", passSeconds.Min() * 1e3);
        writer.WriteNumber("texts_per_s", Texts / median);
        writer.WriteNumber("tokens_per_s", Tokens / median);
        writer.WriteNumber("peak_rss_mib", ProcessMemory.Read().PeakResidentBytes / 1048576.0);
        writer.WriteStartArray("times_ms");
        foreach (var t in passSeconds) writer.WriteNumberValue(t * 1e3);
        writer.WriteEndArray();
    }

    /// <summary>The <c>--order</c> name of <paramref name="order"/>.</summary>
    public static string OrderName(BatchOrder order) => order switch
    {
        BatchOrder.Length => "length",
        BatchOrder.LengthDescending => "length-desc",
        _ => "file",
    };

    static IEnumerable<string> ReadTexts(string path)
    {
        using Stream file = File.OpenRead(path);
        using Stream input = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(input);
        string? first = reader.ReadLine();
        if (first is null) yield break;
        bool tsv = first.Contains('\t') && first.StartsWith("sentence", StringComparison.Ordinal);
        bool json = first.TrimStart().StartsWith('{');
        int lineNumber = 1;
        for (string? line = tsv ? reader.ReadLine() : first; line is not null; line = reader.ReadLine(), lineNumber++)
        {
            if (tsv) yield return line.Split('\t')[0];
            else if (json)
            {
                string? text;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    text = doc.RootElement.TryGetProperty("text", out var t) ? t.GetString() : null;
                }
                catch (JsonException e) { throw new DataFileException(path, lineNumber, $"invalid JSON: {e.Message}"); }
                if (text is null) throw new DataFileException(path, lineNumber, "JSON line has no \"text\" field");
                yield return text;
            }
            else yield return line;
        }
    }
}

/// <summary>How <see cref="TextBatches"/> groups texts into batches.</summary>
public enum BatchOrder
{
    /// <summary>Consecutive texts in file order, as requests arrive at a server.</summary>
    File,
    /// <summary>Texts sorted by token count first (stable), so a padded engine pads little: length bucketing.</summary>
    Length,
    /// <summary>Sorted by token count, longest first (stable): the largest batch comes first.</summary>
    LengthDescending,
}
