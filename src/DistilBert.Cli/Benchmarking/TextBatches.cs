using System.IO.Compression;
using System.Text.Json;
using DistilBert.Tokenization;

namespace DistilBert.Cli.Benchmarking;

/// <summary>
/// Real texts for the mixed-length benchmark (<c>distilbert bench --texts FILE</c>): one text per line, or the first
/// column of a TSV with a header (SST-2), or the "text" field of JSON lines (IMDb, optionally .gz); tokenized with
/// the embedded bert-base-uncased vocabulary, truncated to maxLength, cut into batches in file order as a server
/// receives them.
/// </summary>
public sealed class TextBatches
{
    const string EmbeddedVocab = "DistilBert.Cli.bert-base-uncased-vocab.txt";

    /// <summary>Token ids of every batch: batch b is Sequences[b] (each with [CLS] … [SEP]).</summary>
    public IReadOnlyList<int[][]> Batches { get; }
    public int Texts { get; }
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

    public static TextBatches Load(string path, int batchSize, int maxLength, int? limit)
    {
        var texts = ReadTexts(path).Where(t => !string.IsNullOrWhiteSpace(t));
        if (limit is int n) texts = texts.Take(n);
        var list = texts.ToList();
        if (list.Count == 0) throw new DataFileException(path, 1, "no texts found");
        using var stream = typeof(TextBatches).Assembly.GetManifestResourceStream(EmbeddedVocab)
            ?? throw new InvalidOperationException("embedded vocabulary missing from the build");
        var tokenizer = WordPieceTokenizer.FromVocabStream(stream, source: "embedded bert-base-uncased vocab.txt");
        var options = new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst };
        var batches = new List<int[][]>();
        for (int i = 0; i < list.Count; i += batchSize)
            batches.Add(list.Skip(i).Take(batchSize).Select(t => tokenizer.Encode(t, null, options).Ids).ToArray());
        return new TextBatches(batches);
    }

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
