using DistilBert.Checkpoints;

namespace DistilBert.Modeling;

/// <summary>Moves tensors between a <see cref="ParameterRegistry"/> and checkpoint files, under HF's names (the
/// checkpoint side: <see cref="StateDict"/>, <see cref="ITensorSource"/>, <see cref="SafeTensors"/>).</summary>
/// <remarks>Thread-safety: stateless, but loading writes the registry's parameters: never load into a model another thread is using.</remarks>
public static class ParameterStateDict
{
    /// <summary>
    /// Fills every parameter of <paramref name="registry"/> found in <paramref name="source"/>. A parameter is looked up
    /// by its name and its aliases (tied weights satisfy each other), each as is, with <paramref name="modelPrefix"/>
    /// added (base-model parameters from a checkpoint of a model with a head) or stripped (the other way round).
    /// Shapes must match exactly; dtypes are converted to float32.
    /// </summary>
    /// <exception cref="ModelFileException">A tensor's shape differs from its parameter's, a weight is NaN or infinite, or
    /// the checkpoint holds none of the registry's parameters.</exception>
    public static LoadReport LoadInto(ParameterRegistry registry, ITensorSource source, string? modelPrefix)
    {
        var prefix = string.IsNullOrEmpty(modelPrefix) ? null : modelPrefix.EndsWith('.') ? modelPrefix : modelPrefix + ".";
        var used = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var loaded = new List<string>();
        using var unmapped = UnmappedSafeTensorsReader.TryOpen(source);

        foreach (var p in registry)
        {
            var names = new List<string>(1 + p.Aliases.Count) { p.Name };
            names.AddRange(p.Aliases);
            var found = names.SelectMany(n => Candidates(n, prefix)).Where(source.Contains).Distinct(StringComparer.Ordinal).ToList();
            if (found.Count == 0) { missing.Add(p.Name); continue; }
            var info = source.Info(found[0]);
            CheckShape(source, info, p);
            if (info.DType == TensorDType.F32 && unmapped is not null)
            {
                if (unmapped.Read(info, p.Value) is var bad and >= 0) ThrowNonFinite(source, info, p.Value[bad], bad);
            }
            else if (StateDict.IsFloat(info.DType))
            {
                source.ReadFloat32(info.Name, p.Value);
                if (StateDict.IndexOfNonFinite(p.Value) is var bad and >= 0) ThrowNonFinite(source, info, p.Value[bad], bad);
            }
            else
            {
                var ints = source.ReadInt64(info.Name);
                for (int i = 0; i < ints.Length; i++) p.Value[i] = ints[i];
            }
            // Every spelling of a tied tensor the checkpoint holds is accounted for by this one parameter.
            foreach (var n in found) used.Add(n);
            loaded.Add(p.Name);
        }

        if (loaded.Count == 0)
            throw new ModelFileException(source.FilePath, source.Tensors.Count == 0 ? "the checkpoint holds no tensors"
                : $"the checkpoint holds none of the model's {registry.Count} parameters (it has {source.Tensors.Count} tensors, such as '{source.Tensors[0].Name}'; the model expects names such as '{registry.First().Name}')");
        var unexpected = new List<string>();
        var ignored = new List<string>();
        foreach (var t in source.Tensors)
        {
            if (used.Contains(t.Name)) continue;
            if (StateDict.IsIntegerBuffer(t.Name)) ignored.Add(t.Name);
            else unexpected.Add(t.Name);
        }
        return new LoadReport { Source = source.FilePath, Missing = missing, Unexpected = unexpected, Loaded = loaded, IgnoredBuffers = ignored };
    }

    /// <summary>A NaN or infinite weight makes every answer meaningless: it is refused, naming the tensor and the element.</summary>
    static void ThrowNonFinite(ITensorSource source, TensorInfo info, float value, int index)
    {
        var position = new long[info.Shape.Length];
        long rest = index;
        for (int d = position.Length - 1; d >= 0; d--) { position[d] = info.Shape[d] == 0 ? 0 : rest % info.Shape[d]; rest /= Math.Max(1, info.Shape[d]); }
        throw new ModelFileException(source.FilePath, $"tensor '{info.Name}' holds {value.ToString(System.Globalization.CultureInfo.InvariantCulture)} at [{string.Join(", ", position)}]: a model with non-finite weights gives meaningless answers");
    }

    static IEnumerable<string> Candidates(string name, string? prefix)
    {
        yield return name;
        if (prefix is null) yield break;
        if (name.StartsWith(prefix, StringComparison.Ordinal)) yield return name[prefix.Length..];
        else yield return prefix + name;
    }

    static void CheckShape(ITensorSource source, TensorInfo info, Parameter p)
    {
        bool same = info.Shape.Length == p.Shape.Length;
        for (int i = 0; same && i < p.Shape.Length; i++) same = info.Shape[i] == p.Shape[i];
        if (!same)
            throw new ModelFileException(source.FilePath, $"tensor '{info.Name}' has shape {info.ShapeText} but the model's parameter '{p.Name}' expects {p.ShapeText}");
    }

    /// <summary>
    /// The tensors HF's safe serialization would write for <paramref name="registry"/>: each parameter once under its
    /// primary name (aliases of tied weights omitted), integer buffers as I64.
    /// </summary>
    public static IEnumerable<TensorToWrite> ToTensors(ParameterRegistry registry)
    {
        foreach (var p in registry)
        {
            var shape = p.Shape.Select(d => (long)d).ToArray();
            if (StateDict.IsIntegerBuffer(p.Name))
            {
                var ints = new long[p.Value.Length];
                for (int i = 0; i < ints.Length; i++) ints[i] = (long)p.Value[i];
                yield return TensorToWrite.Int64(p.Name, shape, ints);
            }
            else yield return TensorToWrite.Float32View(p.Name, shape, p.Value);
        }
    }

    /// <summary>Writes <paramref name="registry"/> as a safetensors file laid out as HF writes it (atomically).</summary>
    public static void Save(string safetensorsPath, ParameterRegistry registry) =>
        SafeTensors.Write(safetensorsPath, ToTensors(registry));
}
