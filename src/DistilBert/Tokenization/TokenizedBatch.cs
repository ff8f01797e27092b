namespace DistilBert.Tokenization;

/// <summary>
/// A ragged batch of encoded sequences, the form the engine consumes: the tokens of all sequences concatenated, plus
/// <see cref="SequenceStarts"/> (sequence i is tokens [SequenceStarts[i], SequenceStarts[i+1])). Overflowing windows
/// are extra sequences; <see cref="SampleIndex"/> maps each sequence to its input (HF's overflow_to_sample_mapping).
/// Reuse one instance across calls of <see cref="WordPieceTokenizer.EncodeBatch"/>: its buffers only grow, so steady-state
/// batches allocate nothing per sentence. Spans returned are valid until the next call that fills this batch; one
/// batch is filled by one call at a time (use one batch per concurrent caller).
/// </summary>
public sealed class TokenizedBatch
{
    internal readonly TokenColumns Columns = new();
    internal int[] Starts = new int[65];
    internal int[] Samples = new int[64];
    internal int[] ChunkOffsets = new int[16];
    internal int PadId = -1;

    /// <summary>Per-worker results, merged into <see cref="Columns"/> in input order.</summary>
    internal sealed class Chunk
    {
        public readonly TokenColumns Tokens = new();
        public int[] Lengths = new int[64];
        public int[] Samples = new int[64];
        public int Count;
        public Exception? Error;

        public void AddSequence(int length, int sample)
        {
            if (Count == Lengths.Length) { Array.Resize(ref Lengths, Count * 2); Array.Resize(ref Samples, Count * 2); }
            Lengths[Count] = length; Samples[Count] = sample; Count++;
        }
    }
    internal readonly List<Chunk> Chunks = [];

    /// <summary>Number of sequences (inputs plus overflowing windows).</summary>
    public int Count { get; internal set; }
    /// <summary>Total tokens of all sequences.</summary>
    public int TotalTokens => Starts[Count];
    /// <summary>Count + 1 entries: where each sequence starts in the concatenated columns, then the total.</summary>
    public ReadOnlySpan<int> SequenceStarts => Starts.AsSpan(0, Count + 1);
    /// <summary>Input index of each sequence.</summary>
    public ReadOnlySpan<int> SampleIndex => Samples.AsSpan(0, Count);
    public ReadOnlySpan<int> Ids => Columns.Ids.AsSpan(0, TotalTokens);
    public ReadOnlySpan<int> TypeIds => Columns.TypeIds.AsSpan(0, TotalTokens);
    /// <summary>UTF-16 start of each token in its text (0 for special tokens).</summary>
    public ReadOnlySpan<int> OffsetStarts => Columns.Starts.AsSpan(0, TotalTokens);
    /// <summary>UTF-16 end (exclusive) of each token in its text (0 for special tokens).</summary>
    public ReadOnlySpan<int> OffsetEnds => Columns.Ends.AsSpan(0, TotalTokens);
    public ReadOnlySpan<int> WordIds => Columns.WordIds.AsSpan(0, TotalTokens);
    /// <summary>0 (text), 1 (pair) or -1 (special token) per token.</summary>
    public ReadOnlySpan<sbyte> SequenceIds => Columns.SequenceIds.AsSpan(0, TotalTokens);
    /// <summary>1 for special tokens added by the template.</summary>
    public ReadOnlySpan<byte> SpecialTokensMask => Columns.SpecialMask.AsSpan(0, TotalTokens);

    public int Length(int sequence) => Starts[Check(sequence) + 1] - Starts[sequence];
    public ReadOnlySpan<int> IdsOf(int sequence) => Columns.Ids.AsSpan(Starts[Check(sequence)], Length(sequence));
    public ReadOnlySpan<int> TypeIdsOf(int sequence) => Columns.TypeIds.AsSpan(Starts[Check(sequence)], Length(sequence));

    /// <summary>Length of the longest sequence.</summary>
    public int MaxSequenceLength
    {
        get
        {
            int max = 0;
            for (int i = 0; i < Count; i++) max = Math.Max(max, Starts[i + 1] - Starts[i]);
            return max;
        }
    }

    int Check(int sequence) => (uint)sequence < (uint)Count ? sequence
        : throw new ArgumentOutOfRangeException(nameof(sequence), $"sequence {sequence} is outside the batch (0..{Count - 1})");

    /// <summary>
    /// Writes the padded view <c>[Count, sequenceLength]</c> (row-major) into caller buffers, HF's tensors: padding gets
    /// the pad id, attention 0 and type id 0. Any buffer may be empty to skip it.
    /// </summary>
    public void WritePadded(int sequenceLength, Span<long> inputIds, Span<long> attentionMask, Span<long> tokenTypeIds,
        Side side = Side.Right)
    {
        int longest = MaxSequenceLength;
        if (sequenceLength < longest)
            throw new InvalidInputException($"padded length {sequenceLength} is shorter than the longest sequence ({longest} tokens)");
        if (PadId < 0 && Count > 0 && MinSequenceLength() < sequenceLength)
            throw new InvalidInputException("padding needs a padding token, but the vocabulary has none");
        long size = (long)Count * sequenceLength;
        foreach (var (name, length) in new[] { ("inputIds", inputIds.Length), ("attentionMask", attentionMask.Length), ("tokenTypeIds", tokenTypeIds.Length) })
            if (length != 0 && length < size)
                throw new ArgumentException($"{name} holds {length} values; [{Count}, {sequenceLength}] needs {size}", name);

        for (int i = 0; i < Count; i++)
        {
            int start = Starts[i], n = Starts[i + 1] - start, pad = sequenceLength - n;
            int row = i * sequenceLength, first = side == Side.Left ? row + pad : row, padAt = side == Side.Left ? row : row + n;
            if (!inputIds.IsEmpty)
            {
                var ids = Columns.Ids.AsSpan(start, n);
                for (int k = 0; k < n; k++) inputIds[first + k] = ids[k];
                inputIds.Slice(padAt, pad).Fill(PadId);
            }
            if (!attentionMask.IsEmpty)
            {
                attentionMask.Slice(first, n).Fill(1);
                attentionMask.Slice(padAt, pad).Clear();
            }
            if (!tokenTypeIds.IsEmpty)
            {
                var types = Columns.TypeIds.AsSpan(start, n);
                for (int k = 0; k < n; k++) tokenTypeIds[first + k] = types[k];
                tokenTypeIds.Slice(padAt, pad).Clear();
            }
        }
    }

    int MinSequenceLength()
    {
        int min = int.MaxValue;
        for (int i = 0; i < Count; i++) min = Math.Min(min, Starts[i + 1] - Starts[i]);
        return min;
    }

    /// <summary>The padded view as new arrays: to the longest sequence, or to <paramref name="sequenceLength"/>.</summary>
    public PaddedBatch ToPadded(int? sequenceLength = null, Side side = Side.Right)
    {
        int length = sequenceLength ?? MaxSequenceLength;
        var batch = new PaddedBatch(Count, length, new long[(long)Count * length], new long[(long)Count * length],
            new long[(long)Count * length]);
        WritePadded(length, batch.InputIds, batch.AttentionMask, batch.TokenTypeIds, side);
        return batch;
    }
}

/// <summary>HF's padded tensors, row-major <c>[BatchSize, SequenceLength]</c>.</summary>
public sealed record PaddedBatch(int BatchSize, int SequenceLength, long[] InputIds, long[] AttentionMask, long[] TokenTypeIds);
