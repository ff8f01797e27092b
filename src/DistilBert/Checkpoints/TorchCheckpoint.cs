using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;

namespace DistilBert.Checkpoints;

/// <summary>
/// A <c>pytorch_model.bin</c> written by torch.save, in either format:
/// <list type="bullet">
/// <item>zip (torch ≥ 1.6): <c>&lt;root&gt;/data.pkl</c> is a pickled state dict whose tensors point at raw little-endian
/// storages <c>&lt;root&gt;/data/&lt;key&gt;</c>;</item>
/// <item>legacy (older torch, or <c>_use_new_zipfile_serialization=False</c>): five pickles in a row (magic number,
/// protocol version 1001, system info, the state dict, the sorted storage keys), then each storage as an int64 element
/// count followed by its bytes.</item>
/// </list>
/// Pickles go through <see cref="RestrictedUnpickler"/>; every size they declare is checked against the zip entries or
/// the file before anything is allocated, zip entries whose inflated size deflate could not produce are refused before
/// inflating, and a deflated storage is inflated at most once (zip bombs stay bounded).
/// </summary>
public sealed class TorchCheckpointFile : ITensorSource
{
    /// <summary>data.pkl beyond this (8 MB) is refused: torch.save spends about 125 bytes per tensor, this allows 512 for each of
    /// <see cref="RestrictedUnpickler.MaxTensors"/>.</summary>
    public const long MaxPickleBytes = RestrictedUnpickler.MaxTensors * 512L;

    /// <summary>Deflate cannot expand data more than 1032:1; an entry claiming more was forged.</summary>
    const long MaxDeflateRatio = 1032;

    /// <summary>The legacy format's first pickle: PROTO 2, LONG1 0x1950a86a20f9469cfc6c (torch's magic number), STOP.</summary>
    internal static ReadOnlySpan<byte> LegacyMagic => [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

    readonly IStorageReader _storages;
    readonly Dictionary<string, TensorInfo> _byName;
    readonly Dictionary<string, TorchTensorRef> _refs;

    /// <inheritdoc/>
    public string FilePath { get; }
    /// <inheritdoc/>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };
    /// <summary>True for the pre-zip torch.save format.</summary>
    public bool IsLegacyFormat => _storages is LegacyStorages;

    TorchCheckpointFile(string path, IStorageReader storages, List<KeyValuePair<string, TorchTensorRef>> tensors)
    {
        FilePath = path; _storages = storages;
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

    /// <summary>
    /// Opens the PyTorch checkpoint at <paramref name="path"/> (zip or legacy) through the restricted unpickler.
    /// </summary>
    public static TorchCheckpointFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        try
        {
            Span<byte> head = stackalloc byte[LegacyMagic.Length];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            stream.Position = 0;
            return head[..n].SequenceEqual(LegacyMagic) ? OpenLegacy(path, stream) : OpenZip(path, stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    static TorchCheckpointFile OpenZip(string path, FileStream stream)
    {
        ZipArchive? zip = null;
        try
        {
            try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
            catch (InvalidDataException e) { throw new ModelFileException(path, $"not a torch zip checkpoint: {e.Message}", e); }

            var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
            if (pickles.Count != 1) throw new ModelFileException(path, $"expected one <root>/data.pkl in the archive, found {pickles.Count}");
            var pickleEntry = pickles[0];
            var root = pickleEntry.FullName[..^"data.pkl".Length];
            foreach (var e in zip.Entries) CheckInflatedSize(path, e);
            if (pickleEntry.Length > MaxPickleBytes) throw new ModelFileException(path, $"data.pkl is {pickleEntry.Length} bytes, over the {MaxPickleBytes}-byte limit");
            // torch ≥ 2.1 records the byte order of the storages; older archives are little-endian.
            if (zip.GetEntry(root + "byteorder") is { Length: <= 16 } byteOrder
                && System.Text.Encoding.ASCII.GetString(ZipStorages.ReadEntry(path, byteOrder, 0, (int)byteOrder.Length)).Trim() is var order && order != "little")
                throw new ModelFileException(path, $"storages are stored in '{order}' byte order; only little-endian checkpoints are supported");
            var pickle = ZipStorages.ReadEntry(path, pickleEntry, 0, (int)pickleEntry.Length);
            var tensors = RestrictedUnpickler.LoadStateDict(path, pickle);

            var storageEntries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            foreach (var e in zip.Entries)
                if (e.FullName.StartsWith(root + "data/", StringComparison.Ordinal)) storageEntries[e.FullName[(root.Length + 5)..]] = e;

            var storages = new ZipStorages(path, stream, zip, storageEntries, tensors);
            foreach (var (name, t) in tensors) Validate(path, name, t, storages);
            return new TorchCheckpointFile(path, storages, tensors);
        }
        catch (InvalidDataException e)
        {
            zip?.Dispose();
            throw new ModelFileException(path, $"corrupt zip archive: {e.Message}", e);
        }
        catch
        {
            zip?.Dispose();
            throw;
        }
    }

    static TorchCheckpointFile OpenLegacy(string path, FileStream stream)
    {
        // The pickles come first and are small: parse from a prefix of the file, growing it only if they run past it.
        long cap = Math.Min(stream.Length, MaxPickleBytes);
        for (long size = Math.Min(cap, 1 << 20); ; size = Math.Min(cap, size * 4))
        {
            var prefix = new byte[size];
            stream.Position = 0;
            stream.ReadExactly(prefix);
            try { return ParseLegacy(path, stream, prefix); }
            catch (ModelFileException e) when (e.InnerException is EndOfStreamException && size < cap) { }
        }
    }

    static TorchCheckpointFile ParseLegacy(string path, FileStream stream, byte[] prefix)
    {
        int position = LegacyMagic.Length;
        if (RestrictedUnpickler.Load(path, prefix, ref position) is not 1001L)
            throw new ModelFileException(path, "legacy torch checkpoint with an unknown protocol version (expected 1001)");
        if (RestrictedUnpickler.Load(path, prefix, ref position) is not RestrictedUnpickler.PyDict sysInfo)
            throw new ModelFileException(path, "legacy torch checkpoint without its system-info dict");
        foreach (var (key, value) in sysInfo.Items)
            if (key is "little_endian" && value is false) throw new ModelFileException(path, "big-endian legacy torch checkpoints are not supported");
        var tensors = RestrictedUnpickler.LoadStateDict(path, prefix, ref position);
        var keys = RestrictedUnpickler.LoadStringList(path, prefix, ref position);

        // Each storage, in key order: int64 element count, then the elements.
        var declared = tensors.Select(t => t.Value.Storage).DistinctBy(s => s.Key).ToDictionary(s => s.Key, StringComparer.Ordinal);
        var layout = new Dictionary<string, (long Offset, long Bytes)>(StringComparer.Ordinal);
        long offset = position;
        Span<byte> count = stackalloc byte[8];
        foreach (var key in keys)
        {
            if (!declared.TryGetValue(key, out var storage)) throw new ModelFileException(path, $"storage '{key}' is listed but no tensor uses it");
            if (layout.ContainsKey(key)) throw new ModelFileException(path, $"storage '{key}' is listed twice");
            if (offset > stream.Length - 8) throw new ModelFileException(path, $"storage '{key}' starts beyond the end of the file (truncated?)");
            stream.Position = offset;
            stream.ReadExactly(count);
            long elements = BinaryPrimitives.ReadInt64LittleEndian(count);
            int size = TensorDTypes.SizeOf(storage.DType);
            if (elements != storage.ElementCount || elements > (stream.Length - offset - 8) / size)
                throw new ModelFileException(path, $"storage '{key}' holds {elements} {storage.DType} elements where the pickle declares {storage.ElementCount} and the file has {stream.Length - offset - 8} bytes left");
            layout[key] = (offset + 8, elements * size);
            offset += 8 + elements * size;
        }
        var storages = new LegacyStorages(path, stream, layout);
        foreach (var (name, t) in tensors) Validate(path, name, t, storages);
        return new TorchCheckpointFile(path, storages, tensors);
    }

    /// <summary>An entry must not claim more bytes than its compressed data can inflate to: checked before anything is inflated.</summary>
    static void CheckInflatedSize(string path, ZipArchiveEntry entry)
    {
        if (entry.Length > entry.CompressedLength * MaxDeflateRatio + 64)
            throw new ModelFileException(path, $"{entry.FullName} claims {entry.Length} bytes inflated from {entry.CompressedLength}, more than deflate can produce (forged zip headers)");
    }

    /// <summary>Checks a tensor's view against its storage, and the storage against the bytes the file holds for it, before any read.</summary>
    static void Validate(string path, string name, TorchTensorRef t, IStorageReader storages)
    {
        var s = t.Storage;
        int size = TensorDTypes.SizeOf(s.DType);
        if (!storages.TryGetLength(s.Key, out var available)) throw new ModelFileException(path, $"tensor '{name}': storage data/{s.Key} is missing from the archive");
        if (s.ElementCount > long.MaxValue / size || available != s.ElementCount * size)
            throw new ModelFileException(path, $"tensor '{name}': storage data/{s.Key} declares {s.ElementCount} {s.DType} elements but the entry holds {available} bytes");
        if (t.Shape.Length > 16) throw new ModelFileException(path, $"tensor '{name}': {t.Shape.Length} dimensions is too many");
        if (t.StorageOffset < 0) throw new ModelFileException(path, $"tensor '{name}': storage offset {t.StorageOffset} is negative");
        long elements = 1, lastIndex = t.StorageOffset;
        try
        {
            checked
            {
                foreach (var d in t.Shape) elements *= d;
                if (elements > 0)
                    for (int i = 0; i < t.Shape.Length; i++) lastIndex += (t.Shape[i] - 1) * t.Stride[i];
            }
        }
        catch (OverflowException) { throw new ModelFileException(path, $"tensor '{name}': shape [{string.Join(", ", t.Shape)}] overflows"); }
        if (elements > int.MaxValue) throw new ModelFileException(path, $"tensor '{name}': {elements} elements is too many");
        if (elements > 0 && (t.StorageOffset > s.ElementCount || lastIndex >= s.ElementCount))
            throw new ModelFileException(path, $"tensor '{name}': view (offset {t.StorageOffset}, shape [{string.Join(", ", t.Shape)}], stride [{string.Join(", ", t.Stride)}]) reaches outside its {s.ElementCount}-element storage");
    }

    /// <summary>Where storages' bytes come from: zip entries or ranges of a legacy file.</summary>
    interface IStorageReader : IDisposable
    {
        bool TryGetLength(string key, out long bytes);
        /// <summary>Exactly <paramref name="count"/> bytes at <paramref name="offset"/> of the storage, for <paramref name="tensor"/>.</summary>
        ReadOnlyMemory<byte> Read(string tensor, string key, long offset, int count);
    }

    sealed class ZipStorages : IStorageReader
    {
        readonly string _path;
        readonly FileStream _stream;
        readonly ZipArchive _zip;
        readonly Dictionary<string, ZipArchiveEntry> _entries;
        /// <summary>Storage key → the tensors viewing it that have not been read yet.</summary>
        readonly Dictionary<string, HashSet<string>> _unreadViews = new(StringComparer.Ordinal);
        /// <summary>
        /// Deflated storages viewed by several tensors, inflated whole once and kept until each of those tensors has been
        /// read: a deflate stream cannot seek, so reading each view from the entry would inflate it again from its start.
        /// </summary>
        readonly Dictionary<string, byte[]> _inflated = new(StringComparer.Ordinal);

        public ZipStorages(string path, FileStream stream, ZipArchive zip, Dictionary<string, ZipArchiveEntry> entries, List<KeyValuePair<string, TorchTensorRef>> tensors)
        {
            (_path, _stream, _zip, _entries) = (path, stream, zip, entries);
            foreach (var (name, t) in tensors)
            {
                if (!_unreadViews.TryGetValue(t.Storage.Key, out var views)) _unreadViews[t.Storage.Key] = views = new(StringComparer.Ordinal);
                views.Add(name);
            }
        }

        public bool TryGetLength(string key, out long bytes)
        {
            bytes = _entries.TryGetValue(key, out var e) ? e.Length : 0;
            return e is not null;
        }

        public ReadOnlyMemory<byte> Read(string tensor, string key, long offset, int count)
        {
            lock (_zip)
            {
                var entry = _entries[key];
                if (offset < 0 || offset + count > entry.Length) throw new ModelFileException(_path, $"{entry.FullName}: read of {count} bytes at {offset} beyond its {entry.Length} bytes");
                var views = _unreadViews.GetValueOrDefault(key);
                try
                {
                    if (_inflated.TryGetValue(key, out var whole)) return whole.AsMemory((int)offset, count);
                    bool seekable;
                    try { using var s = entry.Open(); seekable = s.CanSeek; }
                    catch (InvalidDataException e) { throw new ModelFileException(_path, $"{entry.FullName}: corrupt zip data: {e.Message}", e); }
                    // Stored entries seek; a deflated one no other unread tensor views is inflated only as far as this one needs.
                    int otherViews = views is null ? 0 : views.Count - (views.Contains(tensor) ? 1 : 0);
                    if (seekable || otherViews == 0) return ReadEntry(_path, entry, offset, count);
                    if (entry.Length > Array.MaxLength) throw new ModelFileException(_path, $"{entry.FullName}: a deflated storage of {entry.Length} bytes is too large to inflate");
                    whole = ReadEntry(_path, entry, 0, (int)entry.Length);
                    _inflated[key] = whole;
                    return whole.AsMemory((int)offset, count);
                }
                finally
                {
                    if (views is not null && views.Remove(tensor) && views.Count == 0) _inflated.Remove(key);
                }
            }
        }

        /// <summary>Reads <paramref name="count"/> bytes at <paramref name="offset"/> of an entry, never more than that.</summary>
        public static byte[] ReadEntry(string path, ZipArchiveEntry entry, long offset, int count)
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

        public void Dispose()
        {
            _inflated.Clear();
            _zip.Dispose();
            _stream.Dispose();
        }
    }

    sealed class LegacyStorages(string path, FileStream stream, Dictionary<string, (long Offset, long Bytes)> layout) : IStorageReader
    {
        public bool TryGetLength(string key, out long bytes)
        {
            bool found = layout.TryGetValue(key, out var range);
            bytes = range.Bytes;
            return found;
        }

        public ReadOnlyMemory<byte> Read(string tensor, string key, long offset, int count)
        {
            var (start, bytes) = layout[key];
            if (offset < 0 || offset + count > bytes) throw new ModelFileException(path, $"storage '{key}': read of {count} bytes at {offset} beyond its {bytes} bytes");
            var buffer = new byte[count];
            lock (stream)
            {
                stream.Position = start + offset;
                stream.ReadExactly(buffer);
            }
            return buffer;
        }

        public void Dispose() => stream.Dispose();
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new ModelFileException(FilePath, $"no tensor named '{name}'");

    /// <summary>The tensor's elements in C order as raw little-endian bytes, gathered through its strides.</summary>
    ReadOnlyMemory<byte> ReadElements(string name)
    {
        var info = Info(name);
        var t = _refs[name];
        int size = TensorDTypes.SizeOf(t.Storage.DType);
        long count = info.ElementCount;
        if (count == 0) return ReadOnlyMemory<byte>.Empty;
        // The span of storage the view touches: from its offset to its last element.
        long last = t.StorageOffset;
        for (int i = 0; i < t.Shape.Length; i++) last += (t.Shape[i] - 1) * t.Stride[i];
        long spanElements = last - t.StorageOffset + 1;
        if (spanElements * size > Array.MaxLength) throw new ModelFileException(FilePath, $"tensor '{name}' is too large to read");
        var stored = _storages.Read(name, t.Storage.Key, t.StorageOffset * size, (int)(spanElements * size));
        if (IsContiguous(t.Shape, t.Stride) && spanElements == count) return stored;
        var raw = stored.Span;

        var result = new byte[count * size];
        var index = new long[t.Shape.Length];
        for (long e = 0; e < count; e++)
        {
            long src = 0;
            for (int i = 0; i < index.Length; i++) src += index[i] * t.Stride[i];
            raw.Slice((int)(src * size), size).CopyTo(result.AsSpan((int)(e * size), size));
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

    /// <inheritdoc/>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var info = Info(name);
        if (destination.Length != info.ElementCount)
            throw new ModelFileException(FilePath, $"tensor '{name}' has {info.ElementCount} elements, the destination {destination.Length}");
        TensorConversion.ToFloat32(FilePath, info, ReadElements(name).Span, destination);
    }

    /// <inheritdoc/>
    public long[] ReadInt64(string name) => TensorConversion.ToInt64(FilePath, Info(name), ReadElements(name).Span);

    public void Dispose() => _storages.Dispose();
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
