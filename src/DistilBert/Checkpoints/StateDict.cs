using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using DistilBert.Modeling;

namespace DistilBert.Checkpoints;

/// <summary>
/// What loading a checkpoint into a model did, in the terms of HF's <c>from_pretrained</c> warning:
/// parameters not found in the checkpoint (left as initialised), checkpoint tensors the model does not use,
/// and the parameters that were filled.
/// </summary>
public sealed class LoadReport
{
    public required string Source { get; init; }
    /// <summary>Registry parameters (primary names) with no tensor in the checkpoint: they keep their initial values.</summary>
    public required IReadOnlyList<string> Missing { get; init; }
    /// <summary>Checkpoint tensors that no parameter used (e.g. an MLM head loaded into a base model).</summary>
    public required IReadOnlyList<string> Unexpected { get; init; }
    /// <summary>Registry parameters (primary names) that were read from the checkpoint.</summary>
    public required IReadOnlyList<string> Loaded { get; init; }
    /// <summary>Buffers HF stores but recomputes (<c>embeddings.position_ids</c>): skipped, not a problem.</summary>
    public required IReadOnlyList<string> IgnoredBuffers { get; init; }

    public bool IsComplete => Missing.Count == 0;

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"Loaded {Loaded.Count} tensors from {Source}.");
        if (Unexpected.Count > 0)
        {
            sb.AppendLine().Append($"{Unexpected.Count} checkpoint tensors were not used by the model (expected when the checkpoint has a different head): ");
            sb.Append(string.Join(", ", Unexpected));
        }
        if (Missing.Count > 0)
        {
            sb.AppendLine().Append($"{Missing.Count} model parameters were not in the checkpoint and are newly initialised (train the model before using it): ");
            sb.Append(string.Join(", ", Missing));
        }
        return sb.ToString();
    }
}

/// <summary>Moves tensors between a <see cref="ParameterRegistry"/> and checkpoint files, under HF's names.</summary>
public static class StateDict
{
    /// <summary>HF's tied weights: the alias name → the tensor it shares storage with (safetensors keeps only the latter).</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownTiedAliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["vocab_projector.weight"] = "distilbert.embeddings.word_embeddings.weight",
        ["cls.predictions.decoder.weight"] = "bert.embeddings.word_embeddings.weight",
        ["cls.predictions.decoder.bias"] = "cls.predictions.bias",
    };

    /// <summary>The tensor <paramref name="name"/> is tied to in HF's models, or null.</summary>
    public static string? TiedAliasOf(string name) => KnownTiedAliases.GetValueOrDefault(name);

    /// <summary>Elements of the floating-point tensors of <paramref name="source"/>, tied aliases counted once: its weights.</summary>
    public static long StoredParameterCount(ITensorSource source)
    {
        long total = 0;
        foreach (var t in source.Tensors)
            if (IsFloat(t.DType) && !(TiedAliasOf(t.Name) is { } primary && source.Contains(primary)))
                total += t.ElementCount;
        return total;
    }

    /// <summary>HF's non-trainable int64 buffers: found in checkpoints, recomputed by the model, saved as I64.</summary>
    public static bool IsIntegerBuffer(string name) => name == "embeddings.position_ids" || name.EndsWith(".embeddings.position_ids", StringComparison.Ordinal);

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
            else if (IsFloat(info.DType))
            {
                source.ReadFloat32(info.Name, p.Value);
                if (IndexOfNonFinite(p.Value) is var bad and >= 0) ThrowNonFinite(source, info, p.Value[bad], bad);
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
            if (IsIntegerBuffer(t.Name)) ignored.Add(t.Name);
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

    /// <summary>The index of the first NaN or ±Inf, or -1: one vectorised pass over the exponent bits, all ones exactly for those.</summary>
    // Optimised from its first call: loading runs it a few hundred times, all before tiered compilation would step in.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        const int ExponentBits = 0x7F80_0000;
        var bits = MemoryMarshal.Cast<float, int>(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var exponent = new Vector<int>(ExponentBits);
            int width = Vector<int>.Count;
            for (; i <= bits.Length - 4 * width; i += 4 * width)
            {
                var v0 = new Vector<int>(bits[i..]) & exponent;
                var v1 = new Vector<int>(bits[(i + width)..]) & exponent;
                var v2 = new Vector<int>(bits[(i + 2 * width)..]) & exponent;
                var v3 = new Vector<int>(bits[(i + 3 * width)..]) & exponent;
                var any = Vector.Equals(v0, exponent) | Vector.Equals(v1, exponent)
                    | Vector.Equals(v2, exponent) | Vector.Equals(v3, exponent);
                if (any != Vector<int>.Zero) break;
            }
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & ExponentBits) == ExponentBits) return i;
        return -1;
    }

    static bool IsFloat(TensorDType dtype) => dtype is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64;

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
            if (IsIntegerBuffer(p.Name))
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

/// <summary>
/// Reads the F32 tensors of a single safetensors file with positioned reads rather than through its memory mapping:
/// every mapped page that is read stays in this process's resident memory until the file is closed, which for a
/// 265 MB checkpoint would double the peak memory of loading it. Same bytes, so the same values.
/// </summary>
sealed class UnmappedSafeTensorsReader : IDisposable
{
    readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
    readonly long _dataStart;
    readonly string _path;

    UnmappedSafeTensorsReader(string path, Microsoft.Win32.SafeHandles.SafeFileHandle file, long dataStart) =>
        (_path, _file, _dataStart) = (path, file, dataStart);

    /// <summary>A reader for <paramref name="source"/> if it is one safetensors file on a little-endian machine, else null.</summary>
    public static UnmappedSafeTensorsReader? TryOpen(ITensorSource source)
    {
        if (source is not SafeTensorsFile || !BitConverter.IsLittleEndian) return null;
        var file = File.OpenHandle(source.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            Span<byte> length = stackalloc byte[8];
            if (RandomAccess.Read(file, length, 0) != 8) throw new ModelFileException(source.FilePath, "file shrank while it was being read");
            // the header was validated when the source opened it; its tensors' offsets count from its end
            return new UnmappedSafeTensorsReader(source.FilePath, file, 8 + (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(length));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads in chunks that fit the CPU cache and checks each while it is there, so the check costs no second pass.</summary>
    const int ChunkBytes = 256 * 1024;

    /// <summary>Reads the tensor into <paramref name="destination"/>; returns the index of its first NaN or infinite value, or -1.</summary>
    public int Read(TensorInfo info, Span<float> destination)
    {
        if (info.DType != TensorDType.F32 || destination.Length != info.ElementCount || info.ByteLength != (long)destination.Length * sizeof(float))
            throw new ModelFileException(_path, $"tensor '{info.Name}' has {info.ElementCount} {info.DType} elements, the destination {destination.Length} floats");
        var bytes = MemoryMarshal.AsBytes(destination);
        long offset = _dataStart + info.DataOffset;
        int done = 0, checkedFloats = 0;
        while (done < bytes.Length)
        {
            int read = RandomAccess.Read(_file, bytes.Slice(done, Math.Min(ChunkBytes, bytes.Length - done)), offset + done);
            if (read <= 0) throw new ModelFileException(_path, $"tensor '{info.Name}': file ended early");
            done += read;
            int complete = done / sizeof(float);
            if (StateDict.IndexOfNonFinite(destination[checkedFloats..complete]) is var bad and >= 0) return checkedFloats + bad;
            checkedFloats = complete;
        }
        return -1;
    }

    public void Dispose() => _file.Dispose();
}
