
namespace DistilBert.Modeling.Layers;

/// <summary>
/// Named grow-only buffers. An inference call takes one Workspace for itself (from the model's own, single-threaded, or
/// from an <see cref="Inference.InferenceSession"/>'s pool: buffers reused by every layer and every later call of the
/// same or smaller size), and each layer keeps its own as the training cache of what Backward needs.
/// A buffer may be longer than asked; callers use only the first <c>length</c> elements and overwrite them fully.
/// Not thread-safe: one call uses a Workspace at a time.
/// </summary>
public sealed class Workspace
{
    readonly Dictionary<string, float[]> _buffers = new(StringComparer.Ordinal);
    readonly Dictionary<string, int[]> _indices = new(StringComparer.Ordinal);

    /// <summary>An int buffer of at least <paramref name="length"/> elements (row offsets, block lists).</summary>
    public int[] GetInts(string key, int length)
    {
        if (_indices.TryGetValue(key, out var b) && b.Length >= length) return b;
        b = new int[Math.Max(length, b is null ? 0 : b.Length + b.Length / 2)];
        _indices[key] = b;
        return b;
    }

    public float[] Get(string key, long length)
    {
        if (length > Array.MaxLength) throw new InvalidInputException($"buffer '{key}' would need {length} floats, more than an array can hold");
        if (_buffers.TryGetValue(key, out var b) && b.Length >= length) return b;
        // A buffer that has to grow grows by half again at least, so requests of slowly rising size (batches sorted
        // by length) reallocate a few times, not at every batch; the first allocation is exact.
        if (b is not null) length = Math.Min(Array.MaxLength, Math.Max(length, b.Length + b.Length / 2));
        b = new float[length];
        _buffers[key] = b;
        return b;
    }

    /// <summary>A zero-filled buffer (for gradients that are accumulated into).</summary>
    public float[] GetCleared(string key, long length)
    {
        var b = Get(key, length);
        Array.Clear(b, 0, (int)length);
        return b;
    }

    public long FloatCount => _buffers.Values.Sum(b => (long)b.Length);

    public void Clear()
    {
        _buffers.Clear();
        _indices.Clear();
    }
}

/// <summary>How one forward (and its backward) runs: training keeps caches; dropout draws from the seeded RNG.</summary>
public sealed class LayerContext
{
    public bool Training { get; init; }
    /// <summary>Dropout is applied only when training and this is true (`grad` runs training mode with dropout off).</summary>
    public bool DropoutActive { get; init; }
    public required Workspace Shared { get; init; }
    /// <summary>Inference multiplies by weights packed once (faster, one extra copy of each linear weight in memory).</summary>
    public bool PackWeights { get; init; } = true;
    public SeededRandom? Random { get; init; }
    /// <summary>Training only: MLM heads compute logits only where labels are set (see MaskedLmTask).</summary>
    public bool LogitsOnlyAtLabels { get; init; }
    /// <summary>Inference only: the token rows at which an MLM head computes logits (<see cref="ForwardOptions.LogitPositions"/>).</summary>
    public int[]? LogitPositions { get; init; }
    /// <summary>Inference only: linear layers multiply each sequence's whole 128-token blocks by Strassen
    /// (<see cref="Compute.StrassenBlocks"/>).</summary>
    public bool Strassen { get; init; }
    /// <summary>Inference only: the int8 encoder weights of the session running this call (null: fp32).</summary>
    public Int8Weights? Int8 { get; init; }

    /// <summary>BERT's pooler output of this call, [sequences, hidden], for the head that reads it (per call, so that
    /// concurrent inference calls never see each other's).</summary>
    public float[]? Pooled { get; set; }

    /// <summary>Every layer cache a training forward used, so the model can free them all (ReleaseTrainingMemory).</summary>
    public HashSet<Workspace>? TrainingCaches { get; init; }

    /// <summary>Training: the layer's own cache (kept for Backward). Inference: a shared buffer reused by every layer.</summary>
    public float[] Buffer(Workspace layerCache, string key, long length)
    {
        if (!Training) return Shared.Get(key, length);
        TrainingCaches?.Add(layerCache);
        return layerCache.Get(key, length);
    }

    public bool Drops(double p) => Training && DropoutActive && p > 0;
}

/// <summary>Where the tokens of a ragged batch are: sequence s is rows [Starts[s], Starts[s+1]).</summary>
public sealed class BatchLayout(int[] sequenceStarts, float[]? keyMask)
{
    public int[] SequenceStarts { get; } = sequenceStarts;
    /// <summary>[tokens] 0 = this key is masked, or null when every token attends.</summary>
    public float[]? KeyMask { get; } = keyMask;
    public int Sequences => SequenceStarts.Length - 1;
    public int Tokens => SequenceStarts[^1];
    public int Length(int s) => SequenceStarts[s + 1] - SequenceStarts[s];

    /// <summary>Rows in an inference block of whole sequences: <paramref name="target"/> tokens, or the longest sequence
    /// when that is longer (a sequence is never cut), or all tokens when fewer.</summary>
    public int BlockCapacity(int target)
    {
        int longest = 0;
        for (int s = 0; s < Sequences; s++) longest = Math.Max(longest, Length(s));
        return Math.Min(Tokens, Math.Max(target, longest));
    }

    /// <summary>The block of whole sequences that starts at sequence <paramref name="first"/>: sequences [first, end)
    /// with at most <paramref name="capacity"/> tokens in all (at least one sequence). Returns end.</summary>
    public int BlockEnd(int first, int capacity)
    {
        int row0 = SequenceStarts[first], end = first + 1;
        while (end < Sequences && SequenceStarts[end + 1] - row0 <= capacity) end++;
        return end;
    }
}
