namespace DistilBert.Pipelines;

/// <summary>
/// Batches a stream by length while keeping its order: it reads a window of <c>batchSize × windowBatches</c>
/// sequences, runs them in batches of similar length (so ragged batches stay dense and short texts are not held up by
/// long ones), and yields the window's results in input order before reading on. Memory is bounded by the window,
/// so a stream of any length runs in constant memory. An item may stand for several sequences (a long QA context's
/// windows): a batch then holds at most <c>batchSize</c> sequences, an item with more runs alone.
/// </summary>
public static class LengthBatcher
{
    public const int DefaultWindowBatches = 8;

    /// <param name="sequences">Sequences each item puts in a forward pass (null: one).</param>
    public static IEnumerable<TResult> Run<TItem, TResult>(IEnumerable<TItem> items, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch, int windowBatches = DefaultWindowBatches, Func<TItem, int>? sequences = null)
    {
        if (batchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {batchSize}");
        var window = new List<TItem>();
        long held = 0;
        foreach (var item in items)
        {
            window.Add(item);
            held += sequences?.Invoke(item) ?? 1;
            if (held < (long)batchSize * windowBatches) continue;
            foreach (var result in RunWindow(window, length, batchSize, runBatch, sequences)) yield return result;
            window.Clear();
            held = 0;
        }
        if (window.Count > 0)
            foreach (var result in RunWindow(window, length, batchSize, runBatch, sequences)) yield return result;
    }

    /// <param name="sequences">Sequences each item puts in a forward pass (null: one).</param>
    public static async IAsyncEnumerable<TResult> RunAsync<TItem, TResult>(IAsyncEnumerable<TItem> items, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch, int windowBatches = DefaultWindowBatches, Func<TItem, int>? sequences = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (batchSize < 1) throw new InvalidInputException($"batch size must be at least 1, got {batchSize}");
        var window = new List<TItem>();
        long held = 0;
        await foreach (var item in items.WithCancellation(cancellationToken))
        {
            window.Add(item);
            held += sequences?.Invoke(item) ?? 1;
            if (held < (long)batchSize * windowBatches) continue;
            foreach (var result in RunWindow(window, length, batchSize, runBatch, sequences)) yield return result;
            window.Clear();
            held = 0;
        }
        if (window.Count > 0)
            foreach (var result in RunWindow(window, length, batchSize, runBatch, sequences)) yield return result;
    }

    static TResult[] RunWindow<TItem, TResult>(List<TItem> window, Func<TItem, int> length, int batchSize,
        Func<IReadOnlyList<TItem>, IReadOnlyList<TResult>> runBatch, Func<TItem, int>? sequences)
    {
        // Stable sort by length: equal lengths keep input order.
        var order = Enumerable.Range(0, window.Count).OrderBy(i => length(window[i])).ToArray();
        var results = new TResult[window.Count];
        var batch = new List<TItem>(batchSize);
        for (int from = 0; from < order.Length;)
        {
            batch.Clear();
            long held = 0;
            int count = 0;
            do
            {
                var item = window[order[from + count]];
                held += sequences?.Invoke(item) ?? 1;
                batch.Add(item);
                count++;
            }
            while (from + count < order.Length && held + (sequences?.Invoke(window[order[from + count]]) ?? 1) <= batchSize);
            var output = runBatch(batch);
            if (output.Count != count) throw new InvalidOperationException($"a batch of {count} gave {output.Count} results");
            for (int j = 0; j < count; j++) results[order[from + j]] = output[j];
            from += count;
        }
        return results;
    }
}
