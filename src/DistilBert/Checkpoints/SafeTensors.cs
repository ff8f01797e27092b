using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace DistilBert.Checkpoints;

/// <summary>One tensor to write: name, dtype, shape and its little-endian C-order bytes.</summary>
public sealed record TensorToWrite(string Name, TensorDType DType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    /// <summary>
    /// A float32 tensor named <paramref name="name"/> of <paramref name="shape"/> holding <paramref name="values"/>.
    /// </summary>
    public static TensorToWrite Float32(string name, long[] shape, ReadOnlySpan<float> values) =>
        new(name, TensorDType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>
    /// An int64 tensor named <paramref name="name"/> of <paramref name="shape"/> holding <paramref name="values"/>.
    /// </summary>
    public static TensorToWrite Int64(string name, long[] shape, ReadOnlySpan<long> values) =>
        new(name, TensorDType.I64, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>
    /// Like <see cref="Float32"/> without the copy: the bytes are read from <paramref name="values"/> when the file is
    /// written, so saving a model does not hold a second copy of its weights. Do not change the array until then.
    /// </summary>
    public static TensorToWrite Float32View(string name, long[] shape, float[] values) =>
        new(name, TensorDType.F32, shape, new FloatBytes(values).Memory);

    /// <summary>A float[] seen as little-endian bytes (every platform .NET runs on is little-endian).</summary>
    sealed class FloatBytes(float[] values) : System.Buffers.MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(values.AsSpan());
        public override unsafe System.Buffers.MemoryHandle Pin(int elementIndex = 0)
        {
            var handle = GCHandle.Alloc(values, GCHandleType.Pinned);
            return new System.Buffers.MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
        }

        public override void Unpin() { }
        protected override void Dispose(bool disposing) { }
    }
}

/// <summary>
/// The safetensors format: u64 header length N, N bytes of JSON (name → dtype, shape, data_offsets; optional
/// "__metadata__"), then the raw data. Reading validates the header strictly before any tensor is touched.
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers beyond this are refused: a crafted length must not make us allocate gigabytes.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Opens the safetensors file at <paramref name="path"/> (memory-mapped, header validated).</summary>
    public static SafeTensorsFile Open(string path) => SafeTensorsFile.Open(path);

    /// <summary>
    /// Writes tensors the way HF's safe serialization lays them out (by decreasing element size, then by name),
    /// header padded with spaces to a multiple of 8, atomically (temp file, then rename).
    /// </summary>
    public static void Write(string path, IEnumerable<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderByDescending(t => TensorDTypes.SizeOf(t.DType)).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using var headerStream = new MemoryStream();
        using (var json = new Utf8JsonWriter(headerStream))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (k, v) in metadata ?? new Dictionary<string, string> { ["format"] = "pt" }) json.WriteString(k, v);
            json.WriteEndObject();
            long offset = 0;
            foreach (var t in ordered)
            {
                if (!seen.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' is written twice");
                long count = 1; foreach (var d in t.Shape) count *= d;
                if (count * TensorDTypes.SizeOf(t.DType) != t.Data.Length)
                    throw new ArgumentException($"tensor '{t.Name}': {t.Data.Length} bytes do not match dtype {t.DType} and shape [{string.Join(", ", t.Shape)}]");
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", TensorDTypes.Name(t.DType));
                json.WriteStartArray("shape"); foreach (var d in t.Shape) json.WriteNumberValue(d); json.WriteEndArray();
                json.WriteStartArray("data_offsets"); json.WriteNumberValue(offset); json.WriteNumberValue(offset + t.Data.Length); json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        var header = headerStream.ToArray();
        int padded = (header.Length + 7) / 8 * 8;
        AtomicFile.Write(path, temporary =>
        {
            using var fs = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            fs.Write(len);
            fs.Write(header);
            for (int i = header.Length; i < padded; i++) fs.WriteByte((byte)' ');
            foreach (var t in ordered) fs.Write(t.Data.Span);
            fs.Flush(flushToDisk: true);
        });
    }
}

/// <summary>
/// An open safetensors file. The header is parsed and validated once; the file is memory-mapped read-only, so F32
/// tensors are zero-copy views (<see cref="GetFloat32Span"/>) and reads copy straight from the mapping.
/// </summary>
public sealed unsafe class SafeTensorsFile : ITensorSource
{
    readonly MemoryMappedFile _mapping;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;
    readonly long _dataStart;
    readonly Dictionary<string, TensorInfo> _byName;
    bool _disposed;

    /// <inheritdoc/>
    public string FilePath { get; }
    /// <inheritdoc/>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, MemoryMappedFile mapping, MemoryMappedViewAccessor view, long dataStart,
        List<TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        FilePath = path; _mapping = mapping; _view = view; _dataStart = dataStart;
        Tensors = tensors; Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    /// <summary>
    /// Opens the safetensors file at <paramref name="path"/>: maps it and validates its header against the file's size.
    /// </summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "file not found");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 12, FileOptions.RandomAccess);
        MemoryMappedFile? mapping = null;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8) throw new ModelFileException(path, $"not a safetensors file: {fileLength} bytes, shorter than the 8-byte header length");
            Span<byte> lenBytes = stackalloc byte[8];
            stream.ReadExactly(lenBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
            if (headerLength > (ulong)SafeTensors.MaxHeaderBytes || (long)headerLength > fileLength - 8)
                throw new ModelFileException(path, $"not a safetensors file: header length {headerLength} exceeds the file ({fileLength} bytes) or the {SafeTensors.MaxHeaderBytes}-byte limit");
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            long dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, fileLength - dataStart);

            // The mapping owns the stream from here on (leaveOpen: false).
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, mapping, view, dataStart, tensors, metadata);
        }
        catch
        {
            if (mapping is null) stream.Dispose(); else mapping.Dispose();
            throw;
        }
    }

    static (List<TensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        // JsonDocument does not validate UTF-8 until a string is read; check it up front.
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new ModelFileException(path, "safetensors header is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new ModelFileException(path, $"safetensors header is not valid JSON: {e.Message}", e); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, "safetensors header is not a JSON object");
        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, "__metadata__ is not an object");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw new ModelFileException(path, $"__metadata__ field '{m.Name}' is not a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            if (!names.Add(prop.Name)) throw new ModelFileException(path, $"tensor '{prop.Name}' appears twice in the header");
            tensors.Add(ParseTensor(path, prop, dataLength));
        }
        // Tensors must tile the data region exactly: no overlaps, no holes (the format's own rule).
        var byOffset = tensors.OrderBy(t => t.DataOffset).ToList();
        long expected = 0;
        foreach (var t in byOffset)
        {
            if (t.DataOffset != expected) throw new ModelFileException(path, $"tensor '{t.Name}': data starts at {t.DataOffset}, expected {expected} (overlapping or non-contiguous data)");
            expected = t.DataOffset + t.ByteLength;
        }
        if (expected != dataLength) throw new ModelFileException(path, $"tensor data covers {expected} bytes but the file holds {dataLength} after the header");
        return (tensors, metadata);
    }

    static TensorInfo ParseTensor(string path, JsonProperty prop, long dataLength)
    {
        var name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new ModelFileException(path, $"tensor '{name}': header entry is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String || !TensorDTypes.TryParse(dt.GetString()!, out var dtype))
            throw new ModelFileException(path, $"tensor '{name}': missing or unsupported dtype {(v.TryGetProperty("dtype", out var d2) ? d2.ToString() : "")}");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new ModelFileException(path, $"tensor '{name}': missing shape");
        var shape = new List<long>();
        long count = 1;
        foreach (var s in shapeEl.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out var dim) || dim < 0)
                throw new ModelFileException(path, $"tensor '{name}': bad dimension {s}");
            shape.Add(dim);
            count = dim == 0 ? 0 : (count > long.MaxValue / dim ? throw new ModelFileException(path, $"tensor '{name}': shape overflows") : count * dim);
        }
        if (!v.TryGetProperty("data_offsets", out var offs) || offs.ValueKind != JsonValueKind.Array || offs.GetArrayLength() != 2
            || offs[0].ValueKind != JsonValueKind.Number || offs[1].ValueKind != JsonValueKind.Number
            || !offs[0].TryGetInt64(out var begin) || !offs[1].TryGetInt64(out var end) || begin < 0 || end < begin || end > dataLength)
            throw new ModelFileException(path, $"tensor '{name}': data_offsets missing or outside the file's {dataLength} data bytes");
        long bytes = end - begin;
        if (count > long.MaxValue / TensorDTypes.SizeOf(dtype) || bytes != count * TensorDTypes.SizeOf(dtype))
            throw new ModelFileException(path, $"tensor '{name}': {bytes} bytes do not match dtype {dtype} and shape [{string.Join(", ", shape)}]");
        return new TensorInfo(name, dtype, shape.ToArray(), begin, bytes);
    }

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <inheritdoc/>
    public TensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new ModelFileException(FilePath, $"no tensor named '{name}'");

    /// <summary>The tensor's raw little-endian bytes, a view of the mapping valid until this file is disposed.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = Info(name);
        if (info.ByteLength > int.MaxValue) throw new ModelFileException(FilePath, $"tensor '{name}' is too large for one span ({info.ByteLength} bytes)");
        return new ReadOnlySpan<byte>(_base + _dataStart + info.DataOffset, (int)info.ByteLength);
    }

    /// <summary>
    /// A zero-copy view of an F32 tensor's values, valid until this file is disposed (do not keep it longer).
    /// </summary>
    public ReadOnlySpan<float> GetFloat32Span(string name)
    {
        var info = Info(name);
        if (info.DType != TensorDType.F32) throw new ModelFileException(FilePath, $"tensor '{name}' has dtype {info.DType}, not F32: use ReadFloat32 to convert it");
        return MemoryMarshal.Cast<byte, float>(GetBytes(name));
    }

    /// <inheritdoc/>
    public void ReadFloat32(string name, Span<float> destination)
    {
        var info = Info(name);
        if (destination.Length != info.ElementCount)
            throw new ModelFileException(FilePath, $"tensor '{name}' has {info.ElementCount} elements, the destination {destination.Length}");
        TensorConversion.ToFloat32(FilePath, info, GetBytes(name), destination);
    }

    /// <inheritdoc/>
    public long[] ReadInt64(string name) => TensorConversion.ToInt64(FilePath, Info(name), GetBytes(name));

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }
}
