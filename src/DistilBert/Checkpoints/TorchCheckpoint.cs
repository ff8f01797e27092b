using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;

namespace DistilBert.Checkpoints;

/// <summary>
/// A <c>pytorch_model.bin</c> in torch.save's zip format (torch ≥ 1.6): <c>&lt;root&gt;/data.pkl</c> is a pickled
/// state dict whose tensors point at raw little-endian storages <c>&lt;root&gt;/data/&lt;key&gt;</c>. The pickle goes
/// through <see cref="RestrictedUnpickler"/>; every size it declares is checked against the zip entries before
/// anything is allocated, and entries are never read beyond the bytes a tensor needs (zip bombs stay bounded).
/// </summary>
public sealed class TorchCheckpointFile : ITensorSource
{
    /// <summary>data.pkl beyond this is refused; a state-dict pickle is a few hundred bytes per tensor.</summary>
    public const long MaxPickleBytes = 64L * 1024 * 1024;

    readonly FileStream _stream;
    readonly ZipArchive _zip;
    readonly Dictionary<string, TensorInfo> _byName;
    readonly Dictionary<string, TorchTensorRef> _refs;
    readonly Dictionary<string, ZipArchiveEntry> _storageEntries;

    public string FilePath { get; }
    public IReadOnlyList<TensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    TorchCheckpointFile(string path, FileStream stream, ZipArchive zip, List<KeyValuePair<string, TorchTensorRef>> tensors,
        Dictionary<string, ZipArchiveEntry> storageEntries)
    {
        FilePath = path; _stream = stream; _zip = zip; _storageEntries = storageEntries;
        _refs = tensors.ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal);
        var infos = tensors.Select(t =>
        {
            var r = t.Value;
            int size = TensorDTypes.SizeOf(r.Storage.DType);
            return new TensorInfo(t.Key, r.Storage.DType, r.Shape, r.StorageOffset * size, ElementCount(r.Shape) * size);
        }).ToList();
        Tensors = infos;
        _byName = infos.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    static long ElementCount(long[] shape) { long n = 1; foreach (var d in shape) n *= d; return n; }

    public static TorchCheckpointFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        ZipArchive? zip = null;
        try
        {
            try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
            catch (InvalidDataException e) { throw new ModelFileException(path, $"not a torch zip checkpoint: {e.Message}", e); }

            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
            if (pickles.Count != 1) throw new ModelFileException(path, $"expected one <root>/data.pkl in the archive, found {pickles.Count}");
            var pickleEntry = pickles[0];
            var root = pickleEntry.FullName[..^"data.pkl".Length];
            if (pickleEntry.Length > MaxPickleBytes) throw new ModelFileException(path, $"data.pkl is {pickleEntry.Length} bytes, over the {MaxPickleBytes}-byte limit");
            var pickle = ReadEntry(path, pickleEntry, 0, (int)pickleEntry.Length);
            var tensors = RestrictedUnpickler.LoadStateDict(path, pickle);

            var storageEntries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            foreach (var e in zip.Entries)
                if (e.FullName.StartsWith(root + "data/", StringComparison.Ordinal)) storageEntries[e.FullName[(root.Length + 5)..]] = e;

            foreach (var (name, t) in tensors) Validate(path, name, t, storageEntries);
            return new TorchCheckpointFile(path, stream, zip, tensors, storageEntries);
        }
        catch (InvalidDataException e)
        {
            zip?.Dispose(); stream.Dispose();
            throw new ModelFileException(path, $"corrupt zip archive: {e.Message}", e);
        }
        catch
        {
            zip?.Dispose(); stream.Dispose();
            throw;
        }
    }

    /// <summary>Checks a tensor's view against its storage, and the storage against its zip entry, before any read.</summary>
    static void Validate(string path, string name, TorchTensorRef t, Dictionary<string, ZipArchiveEntry> entries)
    {
        var s = t.Storage;
        int size = TensorDTypes.SizeOf(s.DType);
        if (!entries.TryGetValue(s.Key, out var entry)) throw new ModelFileException(path, $"tensor '{name}': storage data/{s.Key} is missing from the archive");
        if (s.ElementCount > long.MaxValue / size || entry.Length != s.ElementCount * size)
            throw new ModelFileException(path, $"tensor '{name}': storage data/{s.Key} declares {s.ElementCount} {s.DType} elements but the entry holds {entry.Length} bytes");
        if (t.Shape.Length > 16) throw new ModelFileException(path, $"tensor '{name}': {t.Shape.Length} dimensions is too many");
        long count = 1, lastIndex = t.StorageOffset;
        try
        {
            checked
            {
                foreach (var d in t.Shape) count *= d;
                if (count > 0)
                    for (int i = 0; i < t.Shape.Length; i++) lastIndex += (t.Shape[i] - 1) * t.Stride[i];
            }
        }
        catch (OverflowException) { throw new ModelFileException(path, $"tensor '{name}': shape [{string.Join(", ", t.Shape)}] overflows"); }
        if (count > int.MaxValue) throw new ModelFileException(path, $"tensor '{name}': {count} elements is too many");
        if (count > 0 && (t.StorageOffset > s.ElementCount || lastIndex >= s.ElementCount))
            throw new ModelFileException(path, $"tensor '{name}': view (offset {t.StorageOffset}, shape [{string.Join(", ", t.Shape)}], stride [{string.Join(", ", t.Stride)}]) reaches outside its {s.ElementCount}-element storage");
    }

    /// <summary>Reads <paramref name="count"/> bytes at <paramref name="offset"/> of an entry, never more than that.</summary>
    static byte[] ReadEntry(string path, ZipArchiveEntry entry, long offset, int count)
    {
        if (offset < 0 || offset + count > entry.Length) throw new ModelFileException(path, $"{entry.FullName}: read of {count} bytes at {offset} beyond its {entry.Length} bytes");
        var buffer = new byte[count];
        try
        {
            using var s = entry.Open();
            if (s.CanSeek) s.Position = offset;
            else
            {
                var skip = new byte[Math.Min(offset, 1 << 16)];
                for (long left = offset; left > 0;)
                {
                    int n = s.Read(skip, 0, (int)Math.Min(left, skip.Length));
                    if (n == 0) throw new ModelFileException(path, $"{entry.FullName} is truncated");
                    left -= n;
                }
            }
            int read = s.ReadAtLeast(buffer, count, throwOnEndOfStream: false);
            if (read < count) throw new ModelFileException(path, $"{entry.FullName} is truncated: {read} of {count} bytes");
        }
        catch (InvalidDataException e) { throw new ModelFileException(path, $"{entry.FullName}: corrupt zip data: {e.Message}", e); }
        return buffer;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new ModelFileException(FilePath, $"no tensor named '{name}'");

    /// <summary>The tensor's elements in C order as raw little-endian bytes, gathered through its strides.</summary>
    byte[] ReadElements(string name)
    {
        var info = Info(name);
        var t = _refs[name];
        int size = TensorDTypes.SizeOf(t.Storage.DType);
        long count = info.ElementCount;
        if (count == 0) return [];
        // The span of storage the view touches: from its offset to its last element.
        long last = t.StorageOffset;
        for (int i = 0; i < t.Shape.Length; i++) last += (t.Shape[i] - 1) * t.Stride[i];
        long spanElements = last - t.StorageOffset + 1;
        if (spanElements * size > Array.MaxLength) throw new ModelFileException(FilePath, $"tensor '{name}' is too large to read");
        byte[] raw;
        lock (_zip) raw = ReadEntry(FilePath, _storageEntries[t.Storage.Key], t.StorageOffset * size, (int)(spanElements * size));
        if (IsContiguous(t.Shape, t.Stride) && spanElements == count) return raw;

        var result = new byte[count * size];
        var index = new long[t.Shape.Length];
        for (long e = 0; e < count; e++)
        {
            long src = 0;
            for (int i = 0; i < index.Length; i++) src += index[i] * t.Stride[i];
            Buffer.BlockCopy(raw, (int)(src * size), result, (int)(e * size), size);
            for (int i = index.Length - 1; i >= 0; i--)
            {
                if (++index[i] < t.Shape[i]) break;
                index[i] = 0;
            }
        }
        return result;
    }

    static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public void ReadFloat32(string name, Span<float> destination)
    {
        var info = Info(name);
        if (destination.Length != info.ElementCount)
            throw new ModelFileException(FilePath, $"tensor '{name}' has {info.ElementCount} elements, the destination {destination.Length}");
        TensorConversion.ToFloat32(FilePath, info, ReadElements(name), destination);
    }

    public long[] ReadInt64(string name) => TensorConversion.ToInt64(FilePath, Info(name), ReadElements(name));

    public void Dispose()
    {
        _zip.Dispose();
        _stream.Dispose();
    }
}

/// <summary>Little-endian element conversion shared by the readers: floats to float32, integers to int64.</summary>
internal static class TensorConversion
{
    public static void ToFloat32(string path, TensorInfo info, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (info.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case TensorDType.F16:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                break;
            case TensorDType.BF16:
                for (int i = 0; i < destination.Length; i++) destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16);
                break;
            case TensorDType.F64:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                break;
            default:
                throw new ModelFileException(path, $"tensor '{info.Name}' has dtype {info.DType}, expected a floating-point tensor");
        }
    }

    public static long[] ToInt64(string path, TensorInfo info, ReadOnlySpan<byte> bytes)
    {
        if (info.ElementCount > Array.MaxLength) throw new ModelFileException(path, $"tensor '{info.Name}' is too large to read");
        int n = (int)info.ElementCount;
        var result = new long[n];
        switch (info.DType)
        {
            case TensorDType.I64: MemoryMarshal.Cast<byte, long>(bytes).CopyTo(result); break;
            case TensorDType.I32: for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]); break;
            case TensorDType.I16: for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]); break;
            case TensorDType.I8: for (int i = 0; i < n; i++) result[i] = (sbyte)bytes[i]; break;
            case TensorDType.U8 or TensorDType.BOOL: for (int i = 0; i < n; i++) result[i] = bytes[i]; break;
            default: throw new ModelFileException(path, $"tensor '{info.Name}' has dtype {info.DType}, expected an integer tensor");
        }
        return result;
    }
}
