using DistilBert.Cli.Benchmarking;

namespace DistilBert.Tests;

/// <summary>The batching and padding the mixed-length ONNX Runtime comparison feeds both engines (no ORT needed).</summary>
public class OrtMixTests
{
    static readonly int[][] Sequences =
    [
        [101, 7, 8, 102],           // 4
        [101, 102],                 // 2
        [101, 5, 6, 7, 8, 9, 102],  // 7
        [101, 3, 102],              // 3
        [101, 4, 102],              // 3
    ];

    [Fact]
    public void PaddedBatch_RightPadsToLongestWithZeroMask()
    {
        var batch = PaddedBatch.From([[101, 7, 102], [101, 102], [101, 5, 6, 102]]);
        Assert.Equal(3, batch.BatchSize);
        Assert.Equal(4, batch.Length);
        Assert.Equal(9, batch.RealTokens);
        Assert.Equal(new long[] { 101, 7, 102, 0, 101, 102, 0, 0, 101, 5, 6, 102 }, batch.InputIds);
        Assert.Equal(new long[] { 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1 }, batch.AttentionMask);
    }

    [Fact]
    public void PaddedBatch_RejectsEmptyBatchOrSequence()
    {
        Assert.Throws<InvalidInputException>(() => PaddedBatch.From([]));
        Assert.Throws<InvalidInputException>(() => PaddedBatch.From([[101, 102], []]));
    }

    [Fact]
    public void FileOrder_KeepsConsecutiveTextsAndCountsPadding()
    {
        var data = TextBatches.FromSequences(Sequences, batchSize: 2, BatchOrder.File);
        Assert.Equal(new[] { 4, 2, 7, 3, 3 }, data.Batches.SelectMany(b => b.Select(s => s.Length)));
        Assert.Equal(new[] { 2, 2, 1 }, data.Batches.Select(b => b.Length));
        Assert.Equal(19, data.Tokens);
        Assert.Equal(2 * 4 + 2 * 7 + 1 * 3, data.PaddedTokens);
        // What the ORT runner feeds equals what the ragged engine runs, batch by batch.
        Assert.Equal(data.PaddedTokens, data.Batches.Sum(b => { var p = PaddedBatch.From(b); return (long)p.BatchSize * p.Length; }));
        Assert.Equal(data.Tokens, data.Batches.Sum(b => (long)PaddedBatch.From(b).RealTokens));
    }

    [Fact]
    public void LengthOrder_SortsStablyAndPadsLess()
    {
        var data = TextBatches.FromSequences(Sequences, batchSize: 2, BatchOrder.Length);
        // 2, 3 (id 3 first: file order among equal lengths), 3 (id 4), 4, 7
        Assert.Equal(new[] { 2, 3, 3, 4, 7 }, data.Batches.SelectMany(b => b.Select(s => s.Length)));
        Assert.Equal(3, data.Batches[0][1][1]);
        Assert.Equal(4, data.Batches[1][0][1]);
        Assert.Equal(19, data.Tokens);
        Assert.Equal(2 * 3 + 2 * 4 + 1 * 7, data.PaddedTokens);
        Assert.True(data.PaddedTokens < TextBatches.FromSequences(Sequences, 2, BatchOrder.File).PaddedTokens);
    }

    [Fact]
    public void LengthDescendingOrder_PutsLongestFirstStably()
    {
        var data = TextBatches.FromSequences(Sequences, batchSize: 2, TextBatches.ParseOrder("length-desc"));
        Assert.Equal(new[] { 7, 4, 3, 3, 2 }, data.Batches.SelectMany(b => b.Select(s => s.Length)));
        Assert.Equal(3, data.Batches[1][0][1]);   // of the two 3-token sequences, the earlier one in file order first
        Assert.Equal(4, data.Batches[1][1][1]);
        Assert.Equal(2 * 7 + 2 * 3 + 1 * 2, data.PaddedTokens);
        Assert.Equal("length-desc", TextBatches.OrderName(BatchOrder.LengthDescending));
    }

    [Fact]
    public void Load_SameFileSameBatchesForBothOrders_AndBadOrderIsNamed()
    {
        using var tmp = new TempDirectory("ortmix");
        string path = tmp.File("texts.txt");
        File.WriteAllLines(path, ["a much longer sentence than the others here", "short", "medium length one"]);
        var file = TextBatches.Load(path, batchSize: 2, maxLength: 6, limit: null);
        Assert.All(file.Batches.SelectMany(b => b), s => Assert.True(s.Length <= 6));   // truncated like --seq
        Assert.Equal(6, file.Batches[0][0].Length);
        var sorted = TextBatches.Load(path, 2, 6, null, BatchOrder.Length);
        Assert.Equal(file.Tokens, sorted.Tokens);
        Assert.Equal(new[] { 3, 5, 6 }, sorted.Batches.SelectMany(b => b.Select(s => s.Length)));
        var e = Assert.Throws<InvalidInputException>(() => TextBatches.ParseOrder("random"));
        Assert.Contains("--order", e.Message);
    }
}

/// <summary>`distilbert bench --order` reaches the user as a named error, before any model is built.</summary>
[Collection(nameof(PipelineCliCollection))]
public class OrtMixCliTests
{
    [Fact]
    public void Bench_UnknownOrder_IsAnErrorNamingTheOption()
    {
        using var tmp = new TempDirectory("ortmix-cli");
        string path = tmp.File("texts.txt");
        File.WriteAllLines(path, ["one text", "another text"]);
        var (code, output, error) = CliRunner.Run("bench", "--texts", path, "--order", "shortest");
        Assert.Equal(1, code);
        Assert.Contains("--order must be file, length or length-desc, got 'shortest'", error + output);
    }
}
