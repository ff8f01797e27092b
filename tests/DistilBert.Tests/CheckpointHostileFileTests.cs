using System.IO.Compression;
using System.Text;
using DistilBert.Checkpoints;
using static DistilBert.Tests.CheckpointTestFiles;

namespace DistilBert.Tests;

/// <summary>Broken and malicious checkpoints: each is refused with a ModelFileException that says why.</summary>
public sealed class CheckpointHostileFileTests : IDisposable
{
    readonly TempDirectory _tmp = new("ckpt-hostile");
    string _dir => _tmp.Path;

    public void Dispose() => _tmp.Dispose();

    string Write(byte[] bytes, string name = "model.safetensors")
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    ModelFileException Refused(byte[] bytes, params string[] messageParts)
    {
        var path = Write(bytes);
        var e = Assert.Throws<ModelFileException>(() => { using var s = CheckpointFile.Open(path); foreach (var t in s.Tensors) s.ReadFloat32(t.Name); });
        Assert.Contains(path, e.Message);
        foreach (var part in messageParts) Assert.Contains(part, e.Message);
        return e;
    }

    const string OneTensor = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";

    [Fact]
    public void ValidSmallFileOpens()
    {
        using var s = CheckpointFile.Open(Write(SafeTensorsBytes(OneTensor, Floats(1.5f, -2f))));
        Assert.Equal([1.5f, -2f], s.ReadFloat32("a"));
        Assert.Equal([1.5f, -2f], ((SafeTensorsFile)s).GetFloat32Span("a").ToArray());
    }

    [Fact]
    public void TruncatedFile()
    {
        var golden = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "model.safetensors"));
        Refused(golden[..(golden.Length / 2)], "outside the file");
        Refused(golden[..^1], "outside the file");
        Refused(golden[..5], "shorter than the 8-byte header length");
    }

    [Fact]
    public void HeaderLengthBeyondFile()
    {
        var bytes = SafeTensorsBytes(OneTensor, Floats(1, 2));
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)bytes.Length);
        Refused(bytes, "header length", "exceeds the file");
    }

    [Fact]
    public void HeaderOver100MegabytesIsRefusedBeforeReadingIt()
    {
        var path = Path.Combine(_dir, "huge.safetensors");
        using (var fs = File.Create(path))
        {
            fs.Write(BitConverter.GetBytes((ulong)(SafeTensors.MaxHeaderBytes + 1)));
            fs.SetLength(SafeTensors.MaxHeaderBytes + 64); // sparse: costs no disk
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(path));
        Assert.Contains("104857600-byte limit", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "the loader must not allocate the header");
    }

    [Fact]
    public void OffsetsOutOfRange() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", Floats(1, 2)), "'a'", "outside");

    [Fact]
    public void OverlappingTensors() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", Floats(1, 2)), "overlapping");

    [Fact]
    public void HoleBetweenTensors() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", Floats(1, 2, 3)), "'b'", "expected 4");

    [Fact]
    public void TrailingBytesAfterTensors() =>
        Refused(SafeTensorsBytes(OneTensor, Floats(1, 2, 3)), "covers 8 bytes but the file holds 12");

    [Fact]
    public void UnknownDtype() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,8]}}""", Floats(1, 2)), "'a'", "unsupported dtype", "F8_E9");

    [Fact]
    public void ShapeTimesDtypeIsNotByteLength() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", Floats(1, 2)), "'a'", "8 bytes do not match", "[3]");

    [Fact]
    public void ShapeOverflow() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}""", Floats(1, 2)), "'a'", "overflows");

    [Fact]
    public void DuplicateNames() =>
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", Floats(1, 2)), "'a' appears twice");

    [Fact]
    public void NonUtf8Header()
    {
        var header = Encoding.UTF8.GetBytes(OneTensor.Replace("\"a\"", "\"\u00e9\""));
        var at = Array.IndexOf(header, (byte)0xC3);
        header[at] = 0xFF;
        Refused(SafeTensorsBytes(header, Floats(1, 2)), "not valid UTF-8");
    }

    [Fact]
    public void WrongJsonTypes()
    {
        Refused(SafeTensorsBytes("""[1,2]""", []), "not a JSON object");
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":["0",8]}}""", Floats(1, 2)), "data_offsets");
        Refused(SafeTensorsBytes("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", Floats(1, 2)), "bad dimension");
        Refused(SafeTensorsBytes("""{"__metadata__":{"format":1}}""", []), "__metadata__");
    }

    // ---- pytorch_model.bin ----

    static TorchTensor Tensor(string name, long elements, string key = "0", long offset = 0, long[]? shape = null, long[]? stride = null) =>
        new(name, "FloatStorage", key, elements, offset, shape ?? [elements], stride ?? [1]);

    [Fact]
    public void SmallTorchZipWithStridesOffsetsAndSharedStorageReadsLikeTorch()
    {
        // Storage 0 holds 2x3 values; "t" is its transpose (3x2, stride (1,3)), "row1" is row 1 (offset 3), "all" the whole.
        var pickle = StateDictPickle([
            Tensor("all", 6, shape: [2, 3], stride: [3, 1]),
            Tensor("t", 6, shape: [3, 2], stride: [1, 3]),
            Tensor("row1", 6, offset: 3, shape: [3], stride: [1]),
            new TorchTensor("half", "HalfStorage", "1", 2, 0, [2], [1]),
            new TorchTensor("ids", "LongStorage", "2", 2, 0, [2], [1])]);
        var half = new byte[4];
        BitConverter.TryWriteBytes(half.AsSpan(0, 2), (Half)0.5f);
        BitConverter.TryWriteBytes(half.AsSpan(2, 2), (Half)(-3f));
        var ids = new byte[16];
        BitConverter.TryWriteBytes(ids.AsSpan(0, 8), 7L);
        BitConverter.TryWriteBytes(ids.AsSpan(8, 8), -1L);
        var path = Write(TorchZip(pickle, new Dictionary<string, byte[]> { ["0"] = Floats(1, 2, 3, 4, 5, 6), ["1"] = half, ["2"] = ids }, CompressionLevel.Optimal), "pytorch_model.bin");
        using var s = CheckpointFile.Open(path);
        Assert.Equal([1f, 2, 3, 4, 5, 6], s.ReadFloat32("all"));
        Assert.Equal([1f, 4, 2, 5, 3, 6], s.ReadFloat32("t"));
        Assert.Equal([4f, 5, 6], s.ReadFloat32("row1"));
        Assert.Equal([0.5f, -3f], s.ReadFloat32("half"));
        Assert.Equal([7L, -1L], s.ReadInt64("ids"));
        Assert.Equal(new long[] { 3, 2 }, s.Info("t").Shape);
    }

    ModelFileException RefusedBin(byte[] zip, params string[] messageParts)
    {
        var path = Write(zip, "pytorch_model.bin");
        var e = Assert.Throws<ModelFileException>(() => { using var s = CheckpointFile.Open(path); foreach (var t in s.Tensors) s.ReadFloat32(t.Name); });
        Assert.Contains(path, e.Message);
        foreach (var part in messageParts) Assert.Contains(part, e.Message);
        return e;
    }

    static Dictionary<string, byte[]> OneStorage => new() { ["0"] = Floats(1, 2) };

    [Fact]
    public void PickleCallingOsSystemIsRefusedByName() =>
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2)], "os\nsystem\n"), OneStorage), "refuses global os.system");

    [Fact]
    public void PickleWithAnyOtherGlobalIsRefusedByName()
    {
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2)], "builtins\neval\n"), OneStorage), "refuses global builtins.eval");
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2) with { StorageType = "UntypedStorage" }]), OneStorage), "refuses global torch.UntypedStorage");
        // STACK_GLOBAL (protocol 4) goes through the same allow-list.
        byte[] pickle = [0x80, 4, 0x8c, 2, (byte)'o', (byte)'s', 0x8c, 6, .. "system"u8, 0x93, (byte)'.'];
        RefusedBin(TorchZip(pickle, OneStorage), "refuses global os.system");
    }

    [Fact]
    public void AbsurdStorageSizeIsRefusedWithoutAllocating()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 1L << 40)]), OneStorage), "'a'", "declares 1099511627776", "holds 8 bytes");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 50_000_000);
    }

    [Fact]
    public void ViewOutsideItsStorageIsRefused()
    {
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2, offset: 1, shape: [2])]), OneStorage), "'a'", "outside its 2-element storage");
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2, shape: [2], stride: [5])]), OneStorage), "'a'", "outside");
    }

    [Fact]
    public void ByteOrderEntryIsHonoured()
    {
        using (var s = CheckpointFile.Open(Write(TorchZip(StateDictPickle([Tensor("a", 2)]), OneStorage, byteOrder: "little"), "pytorch_model.bin")))
            Assert.Equal([1f, 2f], s.ReadFloat32("a"));
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2)]), OneStorage, byteOrder: "big"), "'big' byte order");
    }

    [Fact]
    public void MissingStorageEntry() =>
        RefusedBin(TorchZip(StateDictPickle([Tensor("a", 2, key: "7")]), OneStorage), "storage data/7 is missing");

    [Fact]
    public void ZipBombsAreBoundedByDeclaredSizes()
    {
        // A storage entry that inflates to 64 MB of zeros while the pickle declares 2 floats: refused from the entry's size.
        var bomb = new byte[64 << 20];
        var zip = TorchZip(StateDictPickle([Tensor("a", 2)]), new Dictionary<string, byte[]> { ["0"] = bomb }, CompressionLevel.Fastest);
        Assert.True(zip.Length < 1 << 20);
        var before = GC.GetAllocatedBytesForCurrentThread();
        RefusedBin(zip, "'a'", "holds 67108864 bytes");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "nothing is inflated");
        // data.pkl itself inflating past the pickle limit.
        var pickleBomb = new byte[TorchCheckpointFile.MaxPickleBytes + 1];
        RefusedBin(TorchZip(pickleBomb, OneStorage, CompressionLevel.Fastest), $"over the {TorchCheckpointFile.MaxPickleBytes}-byte limit");
    }

    /// <summary>Pickles of just under 8 MB, each a different way of making the unpickler build millions of values.</summary>
    public static TheoryData<string> PickleBombs => ["nested TUPLE1", "a list of empty dicts", "memo entries", "one long SETITEMS"];

    static byte[] PickleBomb(string kind)
    {
        const int Bytes = (8 << 20) - 64;
        var p = new MemoryStream();
        p.Write([0x80, 2]);
        switch (kind)
        {
            case "nested TUPLE1":
                p.WriteByte((byte)'N');
                while (p.Length < Bytes) p.WriteByte(0x85);
                break;
            case "a list of empty dicts":
                p.WriteByte((byte)']');
                while (p.Length < Bytes) p.Write([(byte)'}', (byte)'a']);
                break;
            case "memo entries":
                p.WriteByte((byte)'N');
                for (uint i = 0; p.Length < Bytes; i++) { p.WriteByte((byte)'r'); p.Write(BitConverter.GetBytes(i)); }
                break;
            case "one long SETITEMS":
                p.Write([(byte)'}', (byte)'(']);
                for (int i = 0; p.Length < Bytes; i++) p.Write([(byte)'K', (byte)i, (byte)'N']);
                p.WriteByte((byte)'u');
                break;
        }
        p.WriteByte((byte)'.');
        return p.ToArray();
    }

    [Theory]
    [MemberData(nameof(PickleBombs))]
    public void PickleBombsAreRefusedSmall(string kind)
    {
        var zip = TorchZip(PickleBomb(kind), OneStorage, CompressionLevel.Fastest);
        var path = Write(zip, "pytorch_model.bin");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The inflated 8 MB pickle plus the values it may build: tens of MB, where it used to be gigabytes.
        Assert.True(allocated < 80_000_000, $"{kind}: {allocated} bytes allocated");
        Assert.Contains(path, e.Message);
        Assert.Matches("values|stack deeper|memo", e.Message);
    }

    [Fact]
    public void ForgedZipEntrySizesAreRefusedBeforeInflating()
    {
        // 64 deflated bytes whose headers claim 3 GB, exactly what the pickle declares for the storage.
        const long Claimed = 3L << 30;
        var zip = TorchZip(StateDictPickle([Tensor("a", Claimed / 4)]), new Dictionary<string, byte[]> { ["0"] = new byte[64] }, CompressionLevel.Optimal);
        ForgeUncompressedSize(zip, "archive/data/0", (uint)Claimed);
        var path = Write(zip, "pytorch_model.bin");
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(path));
        Assert.Contains("archive/data/0 claims 3221225472 bytes inflated from", e.Message);
    }

    [Fact]
    public void DeflatedStorageSharedByManyTensorsIsInflatedOnce()
    {
        // 500 tensors, each a 4-float view at the far end of one 1 MB deflated storage.
        const int Elements = 1 << 18, Views = 500;
        var values = new float[Elements];
        var random = new Random(3);
        for (int i = 0; i < values.Length; i++) values[i] = random.Next(1000);
        var tensors = Enumerable.Range(0, Views).Select(i => Tensor($"t{i}", Elements, offset: Elements - 4 - i, shape: [4])).ToList();
        var path = Write(TorchZip(StateDictPickle(tensors), new Dictionary<string, byte[]> { ["0"] = Floats(values) }, CompressionLevel.Optimal), "pytorch_model.bin");
        using var s = CheckpointFile.Open(path);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Views; i++) Assert.Equal(values.AsSpan(Elements - 4 - i, 4).ToArray(), s.ReadFloat32($"t{i}"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Once: the storage's 1 MB and small change. Each view inflating it from its start again allocated ~150 KB a view.
        Assert.True(allocated < 12_000_000, $"{allocated} bytes allocated reading {Views} views");
        // A view read again after the storage was let go still reads right.
        Assert.Equal(values.AsSpan(Elements - 4, 4).ToArray(), s.ReadFloat32("t0"));
    }

    [Fact]
    public void NegativeStorageOffsetIsRefusedAtOpenNamingTheTensor()
    {
        var path = Write(TorchZip(StateDictPickle([Tensor("ok", 2), Tensor("bad.weight", 2, offset: -1, shape: [1])]), OneStorage), "pytorch_model.bin");
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(path));
        Assert.Contains("tensor 'bad.weight': storage offset -1 is negative", e.Message);
    }

    [Fact]
    public void MalformedPickles()
    {
        RefusedBin(TorchZip([0x80, 2, (byte)'}'], OneStorage), "truncated pickle");
        RefusedBin(TorchZip([0x80, 2, (byte)'h', 9, (byte)'.'], OneStorage), "memo index 9 was never stored");
        RefusedBin(TorchZip([0x80, 2, (byte)'b', (byte)'.'], OneStorage), "opcode 0x62 is not allowed");
        RefusedBin(TorchZip([0x80, 2, (byte)'N', (byte)'.'], OneStorage), "not a state dict");
        RefusedBin(TorchZip([0x80, 2, (byte)'.'], OneStorage), "stack underflow");
        RefusedBin(TorchZip([0x80, 2, (byte)'r', 0xff, 0xff, 0xff, 0x7f, (byte)'.'], OneStorage), "stack underflow");
        RefusedBin(TorchZip([0x80, 2, (byte)'N', (byte)'r', 0xff, 0xff, 0xff, 0x7f, (byte)'.'], OneStorage), "memo index 2147483647");
    }

    [Fact]
    public void NotAZipAndTruncatedLegacyTorchFile()
    {
        RefusedBin([(byte)'P', (byte)'K', 3, 4, 0, 0, 0], "zip");
        RefusedBin([0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'], "truncated pickle"); // legacy magic, then nothing
        RefusedBin(Encoding.ASCII.GetBytes("hello world"), "not a checkpoint");
    }
}

/// <summary>torch's legacy (pre-zip) torch.save format, built from the golden zip checkpoints' own pickles and storages.</summary>
public sealed class CheckpointLegacyTorchTests : IDisposable
{
    readonly TempDirectory _tmp = new("ckpt-legacy");
    string _dir => _tmp.Path;

    public void Dispose() => _tmp.Dispose();

    static readonly Dictionary<TensorDType, string> StorageTypes = new()
    {
        [TensorDType.F32] = "FloatStorage", [TensorDType.I64] = "LongStorage", [TensorDType.F16] = "HalfStorage",
    };

    /// <summary>Re-encodes a golden zip checkpoint in the legacy layout (same tensors, same shared storages).</summary>
    internal static byte[] LegacyFromZip(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        var pickleEntry = zip.Entries.Single(e => e.FullName.EndsWith("/data.pkl"));
        var root = pickleEntry.FullName[..^"data.pkl".Length];
        byte[] Read(ZipArchiveEntry e) { using var s = e.Open(); var ms = new MemoryStream(); s.CopyTo(ms); return ms.ToArray(); }
        var refs = RestrictedUnpickler.LoadStateDict(zipPath, Read(pickleEntry));
        var tensors = refs.Select(r => new TorchTensor(r.Key, StorageTypes[r.Value.Storage.DType], r.Value.Storage.Key, r.Value.Storage.ElementCount,
            r.Value.StorageOffset, r.Value.Shape, r.Value.Stride)).ToList();
        var storages = tensors.Select(t => t.Key).Distinct().ToDictionary(k => k, k => Read(zip.GetEntry(root + "data/" + k)!));
        return LegacyTorchFile(tensors, storages);
    }

    [Theory]
    [MemberData(nameof(CheckpointTests.GoldenCheckpointFolders), MemberType = typeof(CheckpointTests))]
    public void LegacyEncodingOfEveryGoldenCheckpointMatchesSafeTensors(string relativeFolder)
    {
        var folder = Fixtures.Golden(relativeFolder);
        var path = Path.Combine(_dir, "pytorch_model.bin");
        File.WriteAllBytes(path, LegacyFromZip(Path.Combine(folder, "pytorch_model.bin")));
        using var legacy = CheckpointFile.Open(_dir);
        Assert.True(Assert.IsType<TorchCheckpointFile>(legacy).IsLegacyFormat);
        using var st = CheckpointFile.Open(Path.Combine(folder, "model.safetensors"));
        using var zip = CheckpointFile.Open(Path.Combine(folder, "pytorch_model.bin"));
        Assert.Equal(zip.Tensors.Select(t => t.Name), legacy.Tensors.Select(t => t.Name));
        foreach (var t in st.Tensors)
        {
            if (t.DType == TensorDType.I64) Assert.Equal(st.ReadInt64(t.Name), legacy.ReadInt64(t.Name));
            else CheckpointTests.AssertBitIdentical(st.ReadFloat32(t.Name), legacy.ReadFloat32(t.Name), t.Name);
        }
    }

    string Write(byte[] bytes)
    {
        var path = Path.Combine(_dir, "pytorch_model.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static TorchTensor Tensor(string name, long elements) => new(name, "FloatStorage", "94000000001", elements, 0, [elements], [1]);

    [Fact]
    public void StridedViewsAndTiedTensorsInLegacyFiles()
    {
        var tensors = new List<TorchTensor>
        {
            new("all", "FloatStorage", "5", 6, 0, [2, 3], [3, 1]),
            new("t", "FloatStorage", "5", 6, 0, [3, 2], [1, 3]),
            new("ids", "LongStorage", "12", 2, 0, [2], [1]),
        };
        var ids = new byte[16];
        BitConverter.TryWriteBytes(ids.AsSpan(0, 8), 3L);
        BitConverter.TryWriteBytes(ids.AsSpan(8, 8), 9L);
        using var s = CheckpointFile.Open(Write(LegacyTorchFile(tensors, new Dictionary<string, byte[]> { ["5"] = Floats(1, 2, 3, 4, 5, 6), ["12"] = ids })));
        Assert.Equal([1f, 2, 3, 4, 5, 6], s.ReadFloat32("all"));
        Assert.Equal([1f, 4, 2, 5, 3, 6], s.ReadFloat32("t"));
        Assert.Equal([3L, 9L], s.ReadInt64("ids"));
    }

    [Fact]
    public void LegacyPicklesLargerThanTheFirstMegabyteAreRead()
    {
        // 1,500 tensors with 1,000-character names: a 1.5 MB state-dict pickle, past the reader's first 1 MB window.
        var tensors = Enumerable.Range(0, 1500).Select(i => new TorchTensor($"{i:D4}" + new string('x', 996), "FloatStorage", "7", 2, 0, [2], [1])).ToList();
        var bytes = LegacyTorchFile(tensors, new Dictionary<string, byte[]> { ["7"] = Floats(5, 6) });
        Assert.True(bytes.Length > 1 << 20);
        using var s = CheckpointFile.Open(Write(bytes));
        Assert.Equal(1500, s.Tensors.Count);
        Assert.Equal([5f, 6f], s.ReadFloat32(tensors[^1].Name));
    }

    [Fact]
    public void HostileLegacyFilesAreRefused()
    {
        var storages = new Dictionary<string, byte[]> { ["94000000001"] = Floats(1, 2) };
        var good = LegacyTorchFile([Tensor("a", 2)], storages);
        using (var ok = CheckpointFile.Open(Write(good))) Assert.Equal([1f, 2f], ok.ReadFloat32("a"));

        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(Write(LegacyTorchFile([Tensor("a", 2)], storages, "os\nsystem\n"))));
        Assert.Contains("refuses global os.system", e.Message);
        e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(Write(good[..^3])));
        Assert.Contains("storage '94000000001'", e.Message);
        e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(Write(LegacyTorchFile([Tensor("a", 1L << 40)], storages))));
        Assert.Contains("storage '94000000001'", e.Message);
        // The element count written before the data disagrees with the pickle.
        var lying = (byte[])good.Clone();
        BitConverter.TryWriteBytes(lying.AsSpan(lying.Length - 16, 8), 1_000_000L);
        e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(Write(lying)));
        Assert.Contains("1000000", e.Message);
        e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(Write([0x80, 2, (byte)'N', (byte)'.'])));
        Assert.Contains("not torch.save output", e.Message);
    }
}
