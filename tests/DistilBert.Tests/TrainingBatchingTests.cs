using DistilBert.Training;

namespace DistilBert.Tests;

public class TrainingBatchingTests
{
    [Fact]
    public void LengthGroupedEpochCoversEveryExampleOnceAndIsReproducible()
    {
        var rng = new Random(1);
        var lengths = Enumerable.Range(0, 1003).Select(_ => rng.Next(3, 128)).ToArray();
        var plan = Batching.LengthGroupedEpoch(lengths, 16, seed: 7, epoch: 2);
        Assert.Equal(Enumerable.Range(0, lengths.Length), plan.SelectMany(b => b).Order());
        Assert.All(plan, b => Assert.InRange(b.Length, 1, 16));
        Assert.Equal(plan, Batching.LengthGroupedEpoch(lengths, 16, seed: 7, epoch: 2));
        Assert.NotEqual(plan, Batching.LengthGroupedEpoch(lengths, 16, seed: 7, epoch: 3));

        // Grouping by length: the spread inside a batch is far below the spread of a random batch.
        double meanSpread = plan.Where(b => b.Length == 16).Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));
        Assert.True(meanSpread < 20, $"mean in-batch length spread {meanSpread}");
    }

    [Fact]
    public void SequentialKeepsOrderWithAShortLastBatch()
    {
        var batches = Batching.Sequential(10, 4).ToList();
        Assert.Equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], batches);
    }
}
