namespace DistilBert.Tokenization;

// Batch encoding across cores into a reusable ragged batch.
public sealed partial class WordPieceTokenizer
{
    /// <summary>
    /// Encodes many texts (optionally pairs) in parallel into <paramref name="into"/> (or a new batch): ragged, in input
    /// order, overflowing windows as extra sequences right after their input's main window. Padding options are ignored
    /// here; use <see cref="TokenizedBatch.WritePadded"/> / <see cref="TokenizedBatch.ToPadded"/> for HF's padded view.
    /// </summary>
    /// <param name="texts">The texts; none may be null.</param>
    /// <param name="pairs">Null, or one second text per text (null entries: single sequence).</param>
    /// <param name="options">Special tokens and truncation.</param>
    /// <param name="into">A batch to refill (its buffers are reused), or null for a new one.</param>
    /// <param name="maxDegreeOfParallelism">Worker threads; -1: all cores.</param>
    public TokenizedBatch EncodeBatch(IReadOnlyList<string> texts, IReadOnlyList<string?>? pairs = null,
        EncodeOptions? options = null, TokenizedBatch? into = null, int maxDegreeOfParallelism = -1)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (pairs is not null && pairs.Count != texts.Count)
            throw new ArgumentException($"{pairs.Count} pair texts for {texts.Count} texts", nameof(pairs));
        options ??= EncodeOptions.Default;
        var batch = into ?? new TokenizedBatch();
        batch.PadId = Vocab.PadId;
        int n = texts.Count;
        int degree = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        // Chunks of consecutive inputs: several per worker for balance, each big enough to amortise scheduling.
        int chunkSize = Math.Clamp((n + degree * 4 - 1) / Math.Max(1, degree * 4), 16, 512);
        int chunkCount = (n + chunkSize - 1) / chunkSize;
        while (batch.Chunks.Count < chunkCount) batch.Chunks.Add(new TokenizedBatch.Chunk());

        if (degree == 1 || chunkCount <= 1)
            for (int k = 0; k < chunkCount; k++) EncodeChunk(k);
        else
            Parallel.For(0, chunkCount, new ParallelOptions { MaxDegreeOfParallelism = degree }, EncodeChunk);

        for (int k = 0; k < chunkCount; k++)
            if (batch.Chunks[k].Error is { } error) throw error;
        Merge(batch, chunkCount, degree);
        return batch;

        void EncodeChunk(int k)
        {
            var chunk = batch.Chunks[k];
            chunk.Tokens.Clear(); chunk.Count = 0; chunk.Error = null;
            var s = ThreadScratch;
            int end = Math.Min(n, (k + 1) * chunkSize);
            for (int i = k * chunkSize; i < end; i++)
            {
                try
                {
                    var text = texts[i] ?? throw new ArgumentNullException(nameof(texts), $"texts[{i}] is null");
                    var pair = pairs?[i];
                    if (TokenizeWindows(text, pair, options, s) is { } exceeded)
                        throw new InvalidInputException($"{exceeded} (EncodeOptions.MaxWindows)");
                    foreach (var window in s.Windows)
                    {
                        int before = chunk.Tokens.Count;
                        WriteWindow(s.First, pair is null ? null : s.Second, window, options.AddSpecialTokens, chunk.Tokens);
                        chunk.AddSequence(chunk.Tokens.Count - before, i);
                    }
                }
                catch (Exception e) when (e is InvalidInputException or ArgumentNullException)
                {
                    chunk.Error = e is InvalidInputException ? new InvalidInputException($"text {i}: {e.Message}", e) : e;
                    return;
                }
            }
            ReleaseHugeScratch();
        }
    }

    /// <summary>Concatenates the chunks in input order: sequence bookkeeping serially, token columns copied in parallel.</summary>
    static void Merge(TokenizedBatch batch, int chunkCount, int degree)
    {
        int sequences = 0, tokens = 0;
        for (int k = 0; k < chunkCount; k++) { sequences += batch.Chunks[k].Count; tokens += batch.Chunks[k].Tokens.Count; }
        if (batch.Starts.Length < sequences + 1) batch.Starts = new int[Math.Max(sequences + 1, batch.Starts.Length * 2)];
        if (batch.Samples.Length < sequences) batch.Samples = new int[Math.Max(sequences, batch.Samples.Length * 2)];
        if (batch.ChunkOffsets.Length < chunkCount) batch.ChunkOffsets = new int[Math.Max(chunkCount, batch.ChunkOffsets.Length * 2)];
        var all = batch.Columns;
        all.Clear();
        all.EnsureCapacity(tokens);
        int sequence = 0, offset = 0;
        for (int k = 0; k < chunkCount; k++)
        {
            var chunk = batch.Chunks[k];
            batch.ChunkOffsets[k] = offset;
            for (int j = 0; j < chunk.Count; j++)
            {
                batch.Starts[sequence] = offset;
                batch.Samples[sequence] = chunk.Samples[j];
                offset += chunk.Lengths[j];
                sequence++;
            }
        }
        batch.Starts[sequence] = offset;
        batch.Count = sequences;
        all.Count = tokens;

        if (degree == 1 || chunkCount <= 1)
            for (int k = 0; k < chunkCount; k++) CopyChunk(k);
        else
            Parallel.For(0, chunkCount, new ParallelOptions { MaxDegreeOfParallelism = degree }, CopyChunk);

        void CopyChunk(int k)
        {
            var t = batch.Chunks[k].Tokens;
            int n = t.Count, at = batch.ChunkOffsets[k];
            t.Ids.AsSpan(0, n).CopyTo(all.Ids.AsSpan(at));
            t.TypeIds.AsSpan(0, n).CopyTo(all.TypeIds.AsSpan(at));
            t.Starts.AsSpan(0, n).CopyTo(all.Starts.AsSpan(at));
            t.Ends.AsSpan(0, n).CopyTo(all.Ends.AsSpan(at));
            t.WordIds.AsSpan(0, n).CopyTo(all.WordIds.AsSpan(at));
            t.SequenceIds.AsSpan(0, n).CopyTo(all.SequenceIds.AsSpan(at));
            t.SpecialMask.AsSpan(0, n).CopyTo(all.SpecialMask.AsSpan(at));
        }
    }
}
