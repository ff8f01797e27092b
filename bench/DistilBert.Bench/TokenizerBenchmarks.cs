using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DistilBert.Tokenization;

namespace DistilBert.Bench;

/// <summary>
/// Tokenizer throughput over the lines of a real corpus (default: /work/shared/data/corpus/books.txt, 10 public-domain
/// novels; override with DISTILBERT_BENCH_CORPUS). Each operation encodes every non-empty line once, with offsets.
/// Columns "MB/s" (UTF-8 bytes of the lines / mean time) and "B/line" (allocated bytes / lines) are added.
/// Run: dotnet run -c Release --project bench/DistilBert.Bench -- --filter '*TokenizerBenchmarks*'
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 8)]
[Config(typeof(TokenizerBenchmarkConfig))]
public class TokenizerBenchmarks
{
    string[] lines = [];
    WordPieceTokenizer tokenizer = null!;
    Microsoft.ML.Tokenizers.BertTokenizer mlTokenizer = null!;
    readonly TokenizedBatch batch = new();

    [GlobalSetup]
    public void Setup()
    {
        lines = TokenizerCorpus.Lines();
        tokenizer = WordPieceTokenizer.FromVocabFile(TokenizerCorpus.VocabPath());
        mlTokenizer = Microsoft.ML.Tokenizers.BertTokenizer.Create(TokenizerCorpus.VocabPath());
    }

    /// <summary>The batch API on one thread into a reused ragged batch: ids, type ids, offsets, word ids.</summary>
    [Benchmark(Baseline = true)]
    public int BatchOneThread() => tokenizer.EncodeBatch(lines, into: batch, maxDegreeOfParallelism: 1).TotalTokens;

    [Benchmark]
    public int BatchTwoThreads() => tokenizer.EncodeBatch(lines, into: batch, maxDegreeOfParallelism: 2).TotalTokens;

    /// <summary>One <see cref="WordPieceTokenizer.Encode"/> per line: the convenient API, which allocates its result arrays.</summary>
    [Benchmark]
    public int EncodePerLine()
    {
        int tokens = 0;
        foreach (var line in lines) tokens += tokenizer.Encode(line).Length;
        return tokens;
    }

    /// <summary>Microsoft.ML.Tokenizers' BertTokenizer with offsets (EncodeToTokens), one thread.</summary>
    [Benchmark]
    public int MicrosoftMlTokenizers()
    {
        int tokens = 0;
        foreach (var line in lines) tokens += mlTokenizer.EncodeToTokens(line, out _).Count;
        return tokens;
    }
}

static class TokenizerCorpus
{
    public static string CorpusPath() =>
        Environment.GetEnvironmentVariable("DISTILBERT_BENCH_CORPUS") is { Length: > 0 } path ? path : "/work/shared/data/corpus/books.txt";

    public static string[] Lines() => File.ReadLines(CorpusPath()).Where(l => l.Length > 0).ToArray();

    public static long Utf8Bytes() => Lines().Sum(l => (long)System.Text.Encoding.UTF8.GetByteCount(l));

    /// <summary>bert-base-uncased's vocab.txt from the repository's golden fixtures (found by walking up).</summary>
    public static string VocabPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures", "golden", "tokenizer", "vocab.txt");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("tests/fixtures/golden/tokenizer/vocab.txt not found above " + AppContext.BaseDirectory);
    }
}

sealed class TokenizerBenchmarkConfig : ManualConfig
{
    public TokenizerBenchmarkConfig()
    {
        AddColumn(new ThroughputColumn());
        AddColumn(new AllocatedPerLineColumn());
    }

    static readonly Lazy<(long Bytes, int Lines)> Corpus = new(() => (TokenizerCorpus.Utf8Bytes(), TokenizerCorpus.Lines().Length));

    abstract class Column(string name, string legend) : IColumn
    {
        public string Id => name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => legend;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);
        public abstract string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style);
    }

    sealed class ThroughputColumn() : Column("MB/s", "UTF-8 megabytes of corpus lines per second (mean time)")
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics is { } stats ? $"{Corpus.Value.Bytes / 1e6 / (stats.Mean / 1e9):F1}" : "-";
    }

    sealed class AllocatedPerLineColumn() : Column("B/line", "bytes allocated per corpus line")
    {
        public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase] is { } report && report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase) is long bytes
                ? $"{(double)bytes / Corpus.Value.Lines:F2}" : "-";
    }
}
