using DistilBert.Pipelines;

namespace DistilBert.Tests;

public sealed class PipelineBatchingTests
{
    [Fact]
    public void Batches_by_length_but_yields_in_input_order()
    {
        var texts = new[] { "aaaa", "b", "ccc", "dd", "eeeee", "f", "gg" };
        var batches = new List<string[]>();
        var results = LengthBatcher.Run(texts, t => t.Length, batchSize: 2,
            batch => { batches.Add(batch.ToArray()); return batch.Select(t => t.ToUpperInvariant()).ToList(); }, windowBatches: 2).ToList();
        Assert.Equal(texts.Select(t => t.ToUpperInvariant()), results);
        // Windows of 4: [aaaa b ccc dd] → (b dd) (ccc aaaa); then [eeeee f gg] → (f gg) (eeeee).
        Assert.Equal([["b", "dd"], ["ccc", "aaaa"], ["f", "gg"], ["eeeee"]], batches);
    }

    [Fact]
    public void Streams_lazily_one_window_at_a_time()
    {
        int produced = 0;
        IEnumerable<int> Source() { for (int i = 0; i < 1_000_000; i++) { produced++; yield return i; } }
        var first = LengthBatcher.Run(Source(), _ => 1, batchSize: 4, batch => batch.ToList(), windowBatches: 2).Take(3).ToList();
        Assert.Equal([0, 1, 2], first);
        Assert.Equal(8, produced);
    }

    [Fact]
    public async Task Async_source_gives_the_same_results()
    {
        static async IAsyncEnumerable<string> Source()
        {
            foreach (var t in new[] { "xx", "y", "zzz" }) { await Task.Yield(); yield return t; }
        }
        var results = new List<int>();
        await foreach (var r in LengthBatcher.RunAsync(Source(), t => t.Length, 2, batch => batch.Select(t => t.Length).ToList())) results.Add(r);
        Assert.Equal([2, 1, 3], results);
        Assert.Throws<InvalidInputException>(() => LengthBatcher.Run(new[] { 1 }, _ => 1, 0, b => b.ToList()).ToList());
    }
}
