namespace DistilBert.Cli.Benchmarking;

/// <summary>
/// One ragged batch laid out as a padded engine (ONNX Runtime, PyTorch) takes it: every sequence right-padded with
/// <see cref="PadId"/> to the batch's longest, attention_mask 1 on real tokens and 0 on padding, both row-major int64.
/// </summary>
public sealed class PaddedBatch
{
    /// <summary>[PAD] in the BERT vocabularies.</summary>
    public const long PadId = 0;

    /// <summary>Sequences in the batch (rows).</summary>
    public int BatchSize { get; }
    /// <summary>Length of the longest sequence: every row is this long.</summary>
    public int Length { get; }
    // InputIds, AttentionMask: [BatchSize, Length]
    /// <summary>Token ids, [BatchSize, Length] row-major, padded with <see cref="PadId"/>.</summary>
    public long[] InputIds { get; }
    /// <summary>1 on real tokens, 0 on padding, [BatchSize, Length] row-major.</summary>
    public long[] AttentionMask { get; }
    /// <summary>Real (unpadded) tokens in the batch.</summary>
    public int RealTokens { get; }

    PaddedBatch(int batchSize, int length, long[] inputIds, long[] attentionMask, int realTokens)
    {
        BatchSize = batchSize;
        Length = length;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        RealTokens = realTokens;
    }

    /// <summary>Pads <paramref name="sequences"/> to the longest of them.</summary>
    public static PaddedBatch From(IReadOnlyList<int[]> sequences)
    {
        if (sequences.Count == 0) throw new InvalidInputException("a batch needs at least one sequence");
        int length = 0, realTokens = 0;
        foreach (var sequence in sequences)
        {
            if (sequence.Length == 0) throw new InvalidInputException("a sequence in the batch is empty");
            length = Math.Max(length, sequence.Length);
            realTokens += sequence.Length;
        }
        var ids = new long[sequences.Count * length];
        Array.Fill(ids, PadId);
        var mask = new long[sequences.Count * length];
        for (int row = 0; row < sequences.Count; row++)
        {
            var sequence = sequences[row];
            for (int t = 0; t < sequence.Length; t++)
            {
                ids[row * length + t] = sequence[t];
                mask[row * length + t] = 1;
            }
        }
        return new PaddedBatch(sequences.Count, length, ids, mask, realTokens);
    }
}
