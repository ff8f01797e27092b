namespace DistilBert.Pipelines;

/// <summary>
/// Batches a stream by length while keeping its order: it reads a window of <c>batchSize × windowBatches</c>
/// items, runs them in batches of similar length (so ragged batches stay dense and short texts are not held up by
/// long ones), and yields the window's results in input order before reading on. Memory is bounded by the window,
/// so a stream of any length runs in constant memory.
/// </summary>
public static class LengthBatcher
{
    public const int DefaultWindowBatches = 8;

    public static IEnumerable<TResult> Run<TItem, TResult>(IEnumerable<TItem> items, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch, int windowBatches = DefaultWindowBatches)
    {
        if (batchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {batchSize}");
        var window = new List<TItem>(batchSize * windowBatches);
        foreach (var item in items)
        {
            window.Add(item);
            if (window.Count < batchSize * windowBatches) continue;
            foreach (var result in RunWindow(window, length, batchSize, runBatch)) yield return result;
            window.Clear();
        }
        if (window.Count > 0)
            foreach (var result in RunWindow(window, length, batchSize, runBatch)) yield return result;
    }

    public static async IAsyncEnumerable<TResult> RunAsync<TItem, TResult>(IAsyncEnumerable<TItem> items, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch, int windowBatches = DefaultWindowBatches,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (batchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {batchSize}");
        var window = new List<TItem>(batchSize * windowBatches);
        await foreach (var item in items.WithCancellation(cancellationToken))
        {
            window.Add(item);
            if (window.Count < batchSize * windowBatches) continue;
            foreach (var result in RunWindow(window, length, batchSize, runBatch)) yield return result;
            window.Clear();
        }
        if (window.Count > 0)
            foreach (var result in RunWindow(window, length, batchSize, runBatch)) yield return result;
    }

    static TResult[] RunWindow<TItem, TResult>(List<TItem> window, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch)
    {
        // Stable sort by length: equal lengths keep input order.
        var order = Enumerable.Range(0, window.Count).OrderBy(i => length(window[i])).ToArray();
        var results = new TResult[window.Count];
        var batch = new List<TItem>(batchSize);
        for (int from = 0; from < order.Length; from += batchSize)
        {
            int count = Math.Min(batchSize, order.Length - from);
            batch.Clear();
            for (int j = 0; j < count; j++) batch.Add(window[order[from + j]]);
            var output = runBatch(batch);
            if (output.Count != count) throw new InvalidOperationException($"a batch of {count} gave {output.Count} results");
            for (int j = 0; j < count; j++) results[order[from + j]] = output[j];
        }
        return results;
    }
}
