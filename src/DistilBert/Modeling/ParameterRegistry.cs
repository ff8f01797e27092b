using System.Collections;

namespace DistilBert.Modeling;

/// <summary>
/// One named tensor of a model. Its HF state-dict name is its identity (design note 1); tied weights are one
/// Parameter with extra <see cref="Aliases"/>. Values are float32, C-order, in <see cref="Shape"/>.
/// </summary>
public sealed class Parameter
{
    public string Name { get; }
    public int[] Shape { get; }
    /// <summary>Gradient of the loss with respect to <see cref="Value"/>; allocated on first use in training.</summary>
    public float[]? Grad { get; private set; }
    /// <summary>False for frozen tensors (e.g. sinusoidal position tables): no gradient, no optimizer update.</summary>
    public bool RequiresGrad { get; set; }
    public List<string> Aliases { get; } = new();

    float[]? _value;
    /// <summary>While released: writes the values back from the form that now holds them (a packed weight).</summary>
    Action<Span<float>>? _restore;
    readonly object _restoreLock = new();

    public Parameter(string name, int[] shape, bool requiresGrad = true)
    {
        Name = name;
        Shape = (int[])shape.Clone();
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), $"{name}: negative dimension {d}");
            n *= d;
        }
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(shape), $"{name}: {n} elements is too many");
        Length = (int)n;
        _value = new float[n];
        RequiresGrad = requiresGrad;
    }

    /// <summary>
    /// The values. For a parameter <see cref="Release"/>d by an inference-only model this re-materialises them from the
    /// packed copy that holds them (one allocation; the parameter then owns a plain copy again until released anew).
    /// </summary>
    public float[] Value => _value ?? Rematerialise();

    /// <summary>Element count (does not re-materialise a released parameter).</summary>
    public int Length { get; }

    /// <summary>True while the only copy of the values is elsewhere (see <see cref="Release"/>).</summary>
    public bool IsReleased => _value is null;

    /// <summary>
    /// Set on the parameters of an inference-only model (<see cref="TransformerModel.PrepareForInference()"/>): a layer that
    /// packs this weight then <see cref="Release"/>s the plain copy, so the packed form is the only one in memory.
    /// </summary>
    public WeightRelease? ReleaseWhenPacked { get; set; }

    /// <summary>
    /// Drops the plain copy of the values; <paramref name="restore"/> must write exactly the current values back into a
    /// span of <see cref="Length"/> floats whenever <see cref="Value"/> is read again. <see cref="Version"/> is unchanged:
    /// the values are the same, only where they live changes.
    /// </summary>
    public void Release(Action<Span<float>> restore)
    {
        lock (_restoreLock)
        {
            _restore = restore;
            _value = null;
        }
        ReleaseWhenPacked?.Released(Length);
    }

    float[] Rematerialise()
    {
        lock (_restoreLock)
        {
            if (_value is { } v) return v;
            var values = GC.AllocateUninitializedArray<float>(Length);
            _restore!(values);
            _restore = null;
            _value = values;
            return values;
        }
    }

    /// <summary>Bumped whenever <see cref="Value"/> changes after load (optimizer step, manual edit via
    /// <see cref="MarkChanged"/>), so caches derived from it (packed inference weights) know to refresh.</summary>
    public int Version { get; private set; }

    public void MarkChanged() => Version++;

    public float[] EnsureGrad() => Grad ??= new float[Length];

    /// <summary>Drops the gradient buffer (memory); the next backward allocates a zeroed one.</summary>
    public void ReleaseGrad() => Grad = null;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// How an inference-only model gives up the plain copies of its packed weights: freed managed arrays stay resident
/// until a GC decommits them, so every <see cref="CollectEveryBytes"/> released the GC returns them to the OS. Packing
/// layer by layer then costs about one layer's weights above the plain model, not a second copy of every weight.
/// </summary>
public sealed class WeightRelease
{
    long _pendingBytes;

    public long CollectEveryBytes { get; init; } = 12L << 20;

    /// <summary>Bytes of plain arrays released so far.</summary>
    public long ReleasedBytes { get; private set; }

    internal void Released(int floats)
    {
        long bytes = (long)floats * sizeof(float);
        ReleasedBytes += bytes;
        _pendingBytes += bytes;
        if (_pendingBytes < CollectEveryBytes) return;
        _pendingBytes = 0;
        ReturnFreedMemory();
    }

    /// <summary>A blocking, compacting full GC that decommits what it frees.</summary>
    public static void ReturnFreedMemory() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}

/// <summary>
/// The model's parameters in HF's order, addressable by HF name or alias. Loading, saving, the optimizer,
/// clipping, student extraction and <c>distilbert info</c> all walk this one registry.
/// </summary>
public sealed class ParameterRegistry : IEnumerable<Parameter>
{
    readonly List<Parameter> _ordered = new();
    readonly Dictionary<string, Parameter> _byName = new(StringComparer.Ordinal);

    public Parameter Add(string name, int[] shape, bool requiresGrad = true)
    {
        if (_byName.ContainsKey(name)) throw new ArgumentException($"parameter '{name}' is registered twice");
        var p = new Parameter(name, shape, requiresGrad);
        _ordered.Add(p);
        _byName[name] = p;
        return p;
    }

    /// <summary>Registers <paramref name="alias"/> as a second name of an existing parameter (tied weights).</summary>
    public void Tie(string alias, string existingName)
    {
        if (_byName.ContainsKey(alias)) throw new ArgumentException($"parameter '{alias}' is registered twice");
        var p = this[existingName];
        p.Aliases.Add(alias);
        _byName[alias] = p;
    }

    public Parameter this[string name] =>
        _byName.TryGetValue(name, out var p) ? p : throw new KeyNotFoundException($"no parameter named '{name}'");

    public bool TryGet(string name, out Parameter parameter) => _byName.TryGetValue(name, out parameter!);

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Every name, primary and alias, that maps to a parameter.</summary>
    public IEnumerable<string> AllNames => _byName.Keys;

    public int Count => _ordered.Count;

    public long ElementCount => _ordered.Sum(p => (long)p.Length);

    public void ZeroGrad()
    {
        foreach (var p in _ordered) if (p.Grad is { } g) Array.Clear(g);
    }

    public IEnumerator<Parameter> GetEnumerator() => _ordered.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
