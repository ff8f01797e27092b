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
    public static LoadReport LoadInto(ParameterRegistry registry, ITensorSource source, string? modelPrefix) =>
        LoadInto(registry, source, modelPrefix, null);

    /// <summary>
    /// <see cref="LoadInto(ParameterRegistry, ITensorSource, string?)"/> that also accepts int8 linear weights
    /// (docs/int8.md): a weight <c>W</c> stored as <c>W_int8</c> (I8 [out, in], |q| ≤ 63) with <c>W_scale</c> (F32 [out])
    /// gets the dequantised values q · scale, and its int8 values and scales go into <paramref name="int8Weights"/>.
    /// </summary>
    public static LoadReport LoadInto(ParameterRegistry registry, ITensorSource source, string? modelPrefix,
        IDictionary<string, Layers.QuantizedWeight>? int8Weights)
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
            if (found.Count == 0)
            {
                var quantized = names.SelectMany(n => Candidates(n + Int8Suffix, prefix)).FirstOrDefault(source.Contains);
                if (quantized is null) { missing.Add(p.Name); continue; }
                var weight = LoadInt8(source, quantized, p);
                int8Weights?.Add(p.Name, weight);
                used.Add(quantized);
                used.Add(ScaleName(quantized));
                loaded.Add(p.Name);
                continue;
            }
            var info = source.Info(found[0]);
            CheckShape(source, info, p);
            if (!StateDict.IsFloat(info.DType) && !StateDict.IsIntegerBuffer(p.Name))
                throw new ModelFileException(source.FilePath, $"tensor '{info.Name}' has dtype {info.DType}, but parameter '{p.Name}' holds floats " +
                    $"(an int8 weight is stored as '{info.Name}{Int8Suffix}' with '{info.Name}{ScaleSuffix}': docs/int8.md)");
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

    /// <summary>Suffixes of an int8 weight's two tensors (docs/int8.md): names HF's loaders do not know, so they report the
    /// weight missing instead of reading int8 numbers as floats.</summary>
    public const string Int8Suffix = "_int8", ScaleSuffix = "_scale";

    static string ScaleName(string int8Name) => int8Name[..^Int8Suffix.Length] + ScaleSuffix;

    /// <summary>Reads <paramref name="name"/> (I8 [out, in]) and its scales (F32 [out]), checked, and writes q · scale into
    /// the parameter.</summary>
    static Layers.QuantizedWeight LoadInt8(ITensorSource source, string name, Parameter p)
    {
        var info = source.Info(name);
        if (info.DType != TensorDType.I8)
            throw new ModelFileException(source.FilePath, $"tensor '{name}' has dtype {info.DType}; an int8 weight must be I8");
        CheckShape(source, info, p);
        if (p.Shape.Length != 2)
            throw new ModelFileException(source.FilePath, $"tensor '{name}': only linear weights [out, in] can be int8, '{p.Name}' is {p.ShapeText}");
        string scaleName = ScaleName(name);
        if (!source.Contains(scaleName))
            throw new ModelFileException(source.FilePath, $"int8 tensor '{name}' has no scales: '{scaleName}' (F32 [{p.Shape[0]}]) is missing");
        var scaleInfo = source.Info(scaleName);
        if (scaleInfo.DType != TensorDType.F32 || scaleInfo.Shape.Length != 1 || scaleInfo.Shape[0] != p.Shape[0])
            throw new ModelFileException(source.FilePath, $"tensor '{scaleName}' is {scaleInfo.DType} {scaleInfo.ShapeText}; the scales of '{name}' {info.ShapeText} must be F32 [{p.Shape[0]}]");
        var scales = source.ReadFloat32(scaleName);
        for (int j = 0; j < scales.Length; j++)
            if (!float.IsFinite(scales[j]) || scales[j] < 0)
                throw new ModelFileException(source.FilePath, $"tensor '{scaleName}' holds {scales[j]} at [{j}]: scales must be finite and ≥ 0");
        var raw = source.ReadInt64(name);
        var values = new sbyte[raw.Length];
        int inFeatures = p.Shape[1];
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] < -Compute.Int8Matrix.MaxMagnitude || raw[i] > Compute.Int8Matrix.MaxMagnitude)
                throw new ModelFileException(source.FilePath, $"tensor '{name}' holds {raw[i]} at [{i / inFeatures}, {i % inFeatures}]: int8 weights must be within ±{Compute.Int8Matrix.MaxMagnitude}");
            values[i] = (sbyte)raw[i];
        }
        var value = p.Value;
        for (int i = 0; i < values.Length; i++) value[i] = values[i] * scales[i / inFeatures];
        return new Layers.QuantizedWeight(values, scales);
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
    public static IEnumerable<TensorToWrite> ToTensors(ParameterRegistry registry) => ToTensors(registry, null);

    /// <summary><see cref="ToTensors(ParameterRegistry)"/> with the weights named in <paramref name="int8Weights"/> written as
    /// <c>W_int8</c> (I8) and <c>W_scale</c> (F32) instead of <c>W</c> (docs/int8.md).</summary>
    public static IEnumerable<TensorToWrite> ToTensors(ParameterRegistry registry, IReadOnlyDictionary<string, Layers.QuantizedWeight>? int8Weights)
    {
        foreach (var p in registry)
        {
            var shape = p.Shape.Select(d => (long)d).ToArray();
            if (int8Weights is not null && int8Weights.TryGetValue(p.Name, out var q))
            {
                yield return new TensorToWrite(p.Name + Int8Suffix, TensorDType.I8, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(q.Values.AsSpan()).ToArray());
                yield return TensorToWrite.Float32(p.Name + ScaleSuffix, [shape[0]], q.Scales);
            }
            else if (StateDict.IsIntegerBuffer(p.Name))
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
