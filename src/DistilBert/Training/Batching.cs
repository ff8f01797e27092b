namespace DistilBert.Training;

/// <summary>
/// Training batches grouped by length, as HF's LengthGroupedSampler does: shuffle the examples, cut the order into
/// mega-batches of <c>batchSize × megaBatchFactor</c>, sort each mega-batch by length (longest first) and split it
/// into batches, then shuffle the batch order. Similar lengths share a batch (little padding, even in ragged batches
/// similar work per batch) while the epoch stays random. The plan depends only on (lengths, batchSize, seed, epoch),
/// so a resumed run rebuilds exactly the same batches and continues at a batch index.
/// </summary>
public static class Batching
{
    public static int[][] LengthGroupedEpoch(IReadOnlyList<int> lengths, int batchSize, int seed, int epoch, int megaBatchFactor = 50)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        // Seeded System.Random is stable across processes and runtimes (HashCode is not: it is randomised per process).
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        var order = new int[lengths.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        random.Shuffle(order);

        var batches = new List<int[]>();
        int mega = Math.Max(batchSize, batchSize * megaBatchFactor);
        for (int start = 0; start < order.Length; start += mega)
        {
            var chunk = order.AsSpan(start, Math.Min(mega, order.Length - start)).ToArray();
            // Ties broken by index so the plan is reproducible.
            Array.Sort(chunk, (a, b) => lengths[b] != lengths[a] ? lengths[b].CompareTo(lengths[a]) : a.CompareTo(b));
            for (int b = 0; b < chunk.Length; b += batchSize)
                batches.Add(chunk.AsSpan(b, Math.Min(batchSize, chunk.Length - b)).ToArray());
        }
        var result = batches.ToArray();
        random.Shuffle(result);
        return result;
    }

    /// <summary>Sequential batches in input order (evaluation): no shuffling, the last batch may be short.</summary>
    public static IEnumerable<int[]> Sequential(int count, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be at least 1");
        for (int start = 0; start < count; start += batchSize)
        {
            var batch = new int[Math.Min(batchSize, count - start)];
            for (int i = 0; i < batch.Length; i++) batch[i] = start + i;
            yield return batch;
        }
    }
}
