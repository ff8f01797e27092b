using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace DistilBert.Checkpoints;

/// <summary>
/// What loading a checkpoint into a model did, in the terms of HF's <c>from_pretrained</c> warning:
/// parameters not found in the checkpoint (left as initialised), checkpoint tensors the model does not use,
/// and the parameters that were filled.
/// </summary>
public sealed class LoadReport
{
    /// <summary>The checkpoint the parameters were read from.</summary>
    public required string Source { get; init; }
    /// <summary>Registry parameters (primary names) with no tensor in the checkpoint: they keep their initial values.</summary>
    public required IReadOnlyList<string> Missing { get; init; }
    /// <summary>Checkpoint tensors that no parameter used (e.g. an MLM head loaded into a base model).</summary>
    public required IReadOnlyList<string> Unexpected { get; init; }
    /// <summary>Registry parameters (primary names) that were read from the checkpoint.</summary>
    public required IReadOnlyList<string> Loaded { get; init; }
    /// <summary>Buffers HF stores but recomputes (<c>embeddings.position_ids</c>): skipped, not a problem.</summary>
    public required IReadOnlyList<string> IgnoredBuffers { get; init; }

    /// <summary>True when every parameter was read from the checkpoint.</summary>
    public bool IsComplete => Missing.Count == 0;

    /// <summary>The report as text: counts, then the missing and unexpected names.</summary>
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

/// <summary>HF's naming of checkpoint tensors: tied aliases, integer buffers, what counts as a weight. Moving tensors
/// between a model's parameters and a checkpoint is <c>Modeling.ParameterStateDict</c>'s.</summary>
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
            if ((IsFloat(t.DType) || IsInt8Weight(t)) && !(TiedAliasOf(t.Name) is { } primary && source.Contains(primary)))
                total += t.ElementCount;
        return total;
    }

    /// <summary>An int8 linear weight of a quantised folder (docs/int8.md): each element stands for one parameter. (An I8
    /// tensor under a float parameter's name counts too, so that loading reaches the error that names it.)</summary>
    static bool IsInt8Weight(TensorInfo t) => t.DType == TensorDType.I8;

    /// <summary>HF's non-trainable int64 buffers: found in checkpoints, recomputed by the model, saved as I64.</summary>
    public static bool IsIntegerBuffer(string name) => name == "embeddings.position_ids" || name.EndsWith(".embeddings.position_ids", StringComparison.Ordinal);

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

    internal static bool IsFloat(TensorDType dtype) => dtype is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64;

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
