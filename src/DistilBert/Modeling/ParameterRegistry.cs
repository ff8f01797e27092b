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
    public float[] Value { get; }
    /// <summary>Gradient of the loss with respect to <see cref="Value"/>; allocated on first use in training.</summary>
    public float[]? Grad { get; private set; }
    /// <summary>False for frozen tensors (e.g. sinusoidal position tables): no gradient, no optimizer update.</summary>
    public bool RequiresGrad { get; set; }
    public List<string> Aliases { get; } = new();

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
        Value = new float[n];
        RequiresGrad = requiresGrad;
    }

    public int Length => Value.Length;

    /// <summary>Bumped whenever <see cref="Value"/> changes after load (optimizer step, manual edit via
    /// <see cref="MarkChanged"/>), so caches derived from it (packed inference weights) know to refresh.</summary>
    public int Version { get; private set; }

    public void MarkChanged() => Version++;

    public float[] EnsureGrad() => Grad ??= new float[Value.Length];

    /// <summary>Drops the gradient buffer (memory); the next backward allocates a zeroed one.</summary>
    public void ReleaseGrad() => Grad = null;

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
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
