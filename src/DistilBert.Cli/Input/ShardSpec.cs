using System.Globalization;

namespace DistilBert.Cli.Input;

/// <summary>
/// <c>--shard I/N</c>: the I-th of N contiguous ranges of an input's rows, I counted from 0 as a Kubernetes Indexed
/// Job's <c>JOB_COMPLETION_INDEX</c>. Contiguous ranges (not every N-th row) make the shards' outputs, concatenated in
/// index order, the unsharded output byte for byte. An immutable value: may be used from many threads.
/// </summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    /// <summary>Reads <c>I/N</c> (whole numbers, 0 &lt;= I &lt; N).</summary>
    /// <exception cref="InvalidInputException"><paramref name="spec"/> is not of that form.</exception>
    public static ShardSpec Parse(string spec)
    {
        var parts = spec.Split('/');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new InvalidInputException($"--shard must be I/N with whole numbers 0 <= I < N (as Kubernetes' JOB_COMPLETION_INDEX), not '{spec}'");
        if (count < 1) throw new InvalidInputException($"--shard {spec}: the number of shards must be at least 1");
        if (index >= count) throw new InvalidInputException($"--shard {spec}: shards are numbered from 0 to {count - 1}");
        return new ShardSpec(index, count);
    }

    /// <summary>The rows [Start, End) of this shard among <paramref name="rows"/>: sizes differ by at most one.</summary>
    public (long Start, long End) RangeOf(long rows) =>
        ((long)((Int128)rows * Index / Count), (long)((Int128)rows * (Index + 1) / Count));

    /// <inheritdoc/>
    /// <remarks><c>I/N</c>, as <see cref="Parse"/> reads it.</remarks>
    public override string ToString() => $"{Index}/{Count}";
}
