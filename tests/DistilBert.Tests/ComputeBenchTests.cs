using DistilBert.Cli.Benchmarking;

namespace DistilBert.Tests;

/// <summary>The benchmark harness and the mixed-length text loader behind <c>distilbert bench</c>.</summary>
[Collection(nameof(ComputeCollection))]
public class ComputeBenchTests
{
    static readonly EncoderShape Tiny = new("tiny", Layers: 2, Dim: 32, Heads: 4, Hidden: 48, Vocab: 50, MaxPositions: 16,
        TokenTypes: true, Pooler: true);

    [Fact]
    public void HarnessRunsEachSequenceOfARaggedBatchAsIfAlone()
    {
        var harness = new EncoderHarness(Tiny, seed: 3);
        int[] a = [1, 7, 9, 2], b = [4, 4, 11, 30, 49, 0, 5];
        var together = harness.Forward([.. a, .. b], [0, a.Length, a.Length + b.Length]).ToArray();
        var alone = harness.Forward(b, [0, b.Length]).ToArray();
        for (int i = 0; i < alone.Length; i++)
            Assert.True(MathF.Abs(alone[i] - together[a.Length * Tiny.Dim + i]) <= 1e-5f, $"element {i}: {alone[i]} vs {together[a.Length * Tiny.Dim + i]}");
        Assert.All(together, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void HarnessRejectsIdsOutsideTheVocabulary()
    {
        var harness = new EncoderHarness(Tiny);
        var e = Assert.Throws<InvalidInputException>(() => harness.Forward([1, 50], [0, 2]));
        Assert.Contains("word_embeddings", e.Message);
    }

    [SkippableFact]
    public void KernelBenchTimesStrassenBesideThePlainGemm()
    {
        KernelPathScope.RequireAvx512("Strassen");
        var tall = KernelBench.TimeLinear(256, 96, 64, threads: 2, warmup: 1, iterations: 3);
        Assert.True(tall.MedianSeconds > 0);
        Assert.True(tall.StrassenMedianSeconds > 0 && tall.StrassenRatio > 0);
    }

    [Fact]
    public void KernelBenchTimesOnlyThePlainGemmWithoutAWhole128RowBlock()
    {
        var shortM = KernelBench.TimeLinear(100, 96, 64, threads: 1, warmup: 0, iterations: 1); // no whole 128-row block
        Assert.Null(shortM.StrassenMedianSeconds);
        Assert.Null(shortM.StrassenRatio);
    }

    [Fact]
    public void FlopsFollowTheStandardCount()
    {
        // 24·T·d² + 4·T²·d per layer: DistilBERT-base at 128 tokens is 11.174 GFLOP (shared/bench RESULTS.md §4)
        Assert.Equal(11.174, EncoderShape.DistilBertBase.Flops([128]) / 1e9, 3);
    }

    [Fact]
    public void TextsAreReadFromTsvJsonLinesAndPlainLines()
    {
        using var dir = new TempDirectory("bench-texts");
        var tsv = Path.Combine(dir.Path, "sst.tsv");
        File.WriteAllLines(tsv, ["sentence\tlabel", "a fine film\t1", "dull\t0", "the best picture of the whole year\t1"]);
        var batches = TextBatches.Load(tsv, batchSize: 2, maxLength: 128, limit: null);
        Assert.Equal(3, batches.Texts);
        Assert.Equal(2, batches.Batches.Count);
        Assert.Equal([5, 3], batches.Batches[0].Select(s => s.Length)); // [CLS] a fine film [SEP]; [CLS] dull [SEP]
        Assert.Equal(2L, batches.PaddedTokens - batches.Tokens); // the 3-token sequence padded to 5

        var json = Path.Combine(dir.Path, "imdb.jsonl");
        File.WriteAllLines(json, ["{\"text\": \"one two three\", \"label\": 1}", "{\"text\": \"four\"}"]);
        Assert.Equal(2, TextBatches.Load(json, 8, 128, null).Texts);
        var truncated = TextBatches.Load(json, 8, maxLength: 3, limit: 1);
        Assert.Equal(3, truncated.Batches[0][0].Length);

        var plain = Path.Combine(dir.Path, "plain.txt");
        File.WriteAllLines(plain, ["hello world", "", "again"]);
        Assert.Equal(2, TextBatches.Load(plain, 8, 128, null).Texts);

        File.WriteAllLines(json, ["{\"label\": 1}"]);
        var e = Assert.Throws<DataFileException>(() => TextBatches.Load(json, 8, 128, null));
        Assert.Contains("text", e.Message);
    }
}
