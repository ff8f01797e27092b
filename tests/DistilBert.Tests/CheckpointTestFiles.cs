using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DistilBert.Tests;

/// <summary>Builds small (and deliberately broken) safetensors files and torch zip checkpoints for tests.</summary>
internal static class CheckpointTestFiles
{
    /// <summary>A safetensors file from a raw header text (not padded, not validated) and raw data bytes.</summary>
    public static byte[] SafeTensorsBytes(string headerJson, byte[] data) => SafeTensorsBytes(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] SafeTensorsBytes(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    /// <summary>One tensor in a torch pickle: a view (offset, shape, stride) of a storage.</summary>
    public sealed record TorchTensor(string Name, string StorageType, string Key, long StorageElements, long Offset, long[] Shape, long[] Stride);

    /// <summary>
    /// The protocol-2 pickle torch.save writes for a state dict: a dict filled by SETITEMS of
    /// <c>_rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())</c>.
    /// </summary>
    public static byte[] StateDictPickle(IEnumerable<TorchTensor> tensors, string rebuildGlobal = "torch._utils\n_rebuild_tensor_v2\n", bool legacy = false)
    {
        var p = new MemoryStream();
        p.Write([0x80, 2, (byte)'}', (byte)'(']);
        foreach (var t in tensors)
        {
            Unicode(p, t.Name);
            Global(p, rebuildGlobal);
            p.WriteByte((byte)'('); // args
            p.WriteByte((byte)'('); // persistent id
            Unicode(p, "storage");
            Global(p, "torch\n" + t.StorageType + "\n");
            Unicode(p, t.Key);
            Unicode(p, "cpu");
            Int(p, t.StorageElements);
            if (legacy) p.WriteByte((byte)'N'); // view metadata
            p.WriteByte((byte)'t');
            p.WriteByte((byte)'Q');
            Int(p, t.Offset);
            p.WriteByte((byte)'('); foreach (var d in t.Shape) Int(p, d); p.WriteByte((byte)'t');
            p.WriteByte((byte)'('); foreach (var d in t.Stride) Int(p, d); p.WriteByte((byte)'t');
            p.WriteByte(0x89); // False
            Global(p, "collections\nOrderedDict\n");
            p.WriteByte((byte)')');
            p.WriteByte((byte)'R');
            p.WriteByte((byte)'t');
            p.WriteByte((byte)'R');
        }
        p.Write([(byte)'u', (byte)'.']);
        return p.ToArray();
    }

    /// <summary>
    /// What torch's legacy (non-zip) torch.save writes: magic-number, protocol-version and sys-info pickles, the state
    /// dict (6-element persistent ids), the sorted storage keys, then each storage as int64 element count + bytes.
    /// </summary>
    public static byte[] LegacyTorchFile(IReadOnlyList<TorchTensor> tensors, IReadOnlyDictionary<string, byte[]> storages, string rebuildGlobal = "torch._utils\n_rebuild_tensor_v2\n")
    {
        var f = new MemoryStream();
        f.Write([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);
        f.Write([0x80, 2, (byte)'M', 0xe9, 0x03, (byte)'.']);
        f.Write([0x80, 2, (byte)'}', (byte)'(']);
        Unicode(f, "protocol_version"); f.Write([(byte)'M', 0xe9, 0x03]);
        Unicode(f, "little_endian"); f.WriteByte(0x88);
        Unicode(f, "type_sizes"); f.Write([(byte)'}', (byte)'(']);
        Unicode(f, "short"); f.Write([(byte)'K', 2]);
        Unicode(f, "int"); f.Write([(byte)'K', 4]);
        Unicode(f, "long"); f.Write([(byte)'K', 8]);
        f.Write([(byte)'u', (byte)'u', (byte)'.']);
        f.Write(StateDictPickle(tensors, rebuildGlobal, legacy: true));
        var keys = tensors.Select(t => t.Key).Distinct().Order(StringComparer.Ordinal).ToList();
        f.Write([0x80, 2, (byte)']', (byte)'(']);
        foreach (var k in keys) Unicode(f, k);
        f.Write([(byte)'e', (byte)'.']);
        foreach (var k in keys)
        {
            var elements = tensors.First(t => t.Key == k).StorageElements;
            f.Write(BitConverter.GetBytes(elements));
            f.Write(storages[k]);
        }
        return f.ToArray();
    }

    static void Unicode(Stream s, string text)
    {
        var b = Encoding.UTF8.GetBytes(text);
        s.WriteByte((byte)'X');
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)b.Length);
        s.Write(len);
        s.Write(b);
    }

    static void Global(Stream s, string moduleNewlineName)
    {
        s.WriteByte((byte)'c');
        s.Write(Encoding.ASCII.GetBytes(moduleNewlineName));
    }

    static void Int(Stream s, long v)
    {
        if (v is >= 0 and <= int.MaxValue)
        {
            s.WriteByte((byte)'J');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            s.Write(b);
        }
        else
        {
            s.Write([0x8a, 8]);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            s.Write(b);
        }
    }

    /// <summary>A torch.save-style zip: archive/data.pkl, archive/data/&lt;key&gt; for each storage, archive/version.</summary>
    public static byte[] TorchZip(byte[] pickle, IReadOnlyDictionary<string, byte[]> storages, CompressionLevel level = CompressionLevel.NoCompression, string? byteOrder = null)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            Add(zip, "archive/data.pkl", pickle, level);
            if (byteOrder is not null) Add(zip, "archive/byteorder", Encoding.ASCII.GetBytes(byteOrder), level);
            foreach (var (key, bytes) in storages) Add(zip, "archive/data/" + key, bytes, level);
            Add(zip, "archive/version", "3\n"u8.ToArray(), level);
        }
        return ms.ToArray();
    }

    static void Add(ZipArchive zip, string name, byte[] bytes, CompressionLevel level)
    {
        using var s = zip.CreateEntry(name, level).Open();
        s.Write(bytes);
    }

    /// <summary>Overwrites the uncompressed size an entry's local and central headers declare (the data stays as it is).</summary>
    public static void ForgeUncompressedSize(byte[] zip, string entryName, uint size)
    {
        var name = Encoding.UTF8.GetBytes(entryName);
        int patched = 0;
        for (int at = 0; at + 46 <= zip.Length; at++)
        {
            uint signature = BinaryPrimitives.ReadUInt32LittleEndian(zip.AsSpan(at));
            var (nameLengthAt, nameAt, sizeAt) = signature switch
            {
                0x04034b50 => (26, 30, 22), // local file header
                0x02014b50 => (28, 46, 24), // central directory header
                _ => (0, 0, 0),
            };
            if (nameAt == 0) continue;
            int length = BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(at + nameLengthAt));
            if (at + nameAt + length > zip.Length || !zip.AsSpan(at + nameAt, length).SequenceEqual(name)) continue;
            BinaryPrimitives.WriteUInt32LittleEndian(zip.AsSpan(at + sizeAt), size);
            patched++;
        }
        if (patched != 2) throw new InvalidOperationException($"found {patched} headers for {entryName}, expected 2");
    }

    public static byte[] Floats(params float[] values)
    {
        var b = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, b, 0, b.Length);
        return b;
    }
}
