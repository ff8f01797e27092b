using System.Diagnostics;
using System.IO.Compression;
using DistilBert.Checkpoints;
using Xunit.Abstractions;
using static DistilBert.Tests.CheckpointTestFiles;

namespace DistilBert.Tests;

/// <summary>
/// Mutates valid checkpoints (byte flips biased towards structure, JSON/pickle-meaningful bytes, truncation,
/// duplication, length-prefix changes) and opens and reads each result: only ModelFileException may escape.
/// </summary>
public sealed class CheckpointFuzzTests(ITestOutputHelper output) : IDisposable
{
    // Thousands of tiny files: on Linux keep them in memory (tmpfs) rather than on a shared disk.
    readonly TempDirectory _tmp = new("ckpt-fuzz", Directory.Exists("/dev/shm") ? "/dev/shm" : null);
    string _dir => _tmp.Path;

    public void Dispose() => _tmp.Dispose();

    static readonly byte[] Interesting = "{}[]\",:0123456789-eE.FIBU"u8.ToArray().Concat(new byte[] { 0, 0x7f, 0x80, 0xff, (byte)'K', (byte)'J', (byte)'X', (byte)'q', (byte)'h', (byte)'(', (byte)'t', (byte)'R', (byte)'Q', (byte)'u', (byte)'.', (byte)'c' }).ToArray();

    static byte[] Mutate(byte[] valid, Random rng, int structureLength)
    {
        var b = (byte[])valid.Clone();
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits; e++)
        {
            // Three out of four edits land in the structure (length prefix, header, pickle), where parsers live.
            int at = rng.Next(4) == 0 ? rng.Next(b.Length) : rng.Next(Math.Min(structureLength, b.Length));
            switch (rng.Next(6))
            {
                case 0: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: b[at] = Interesting[rng.Next(Interesting.Length)]; break;
                case 2: b[at] = (byte)rng.Next(256); break;
                case 3: return b[..rng.Next(b.Length)];
                case 4:
                    {
                        int len = Math.Min(1 + rng.Next(16), b.Length - at);
                        b = [.. b[..(at + len)], .. b[at..(at + len)], .. b[(at + len)..]];
                        break;
                    }
                default:
                    {
                        int len = Math.Min(1 + rng.Next(16), b.Length - at);
                        b = [.. b[..at], .. b[(at + len)..]];
                        break;
                    }
            }
        }
        return b;
    }

    /// <summary>Opens and reads everything; returns null when that worked or failed with ModelFileException.</summary>
    static Exception? OpenAndReadAll(string path) => OpenAndReadAll(path, out _);

    static Exception? OpenAndReadAll(string path, out bool refused)
    {
        refused = false;
        try
        {
            using var s = CheckpointFile.Open(path);
            foreach (var t in s.Tensors)
            {
                if (t.DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64)
                {
                    var values = s.ReadFloat32(t.Name);
                    if (s is SafeTensorsFile st && t.DType == TensorDType.F32 && st.GetFloat32Span(t.Name).Length != values.Length) throw new InvalidOperationException("span length");
                }
                else s.ReadInt64(t.Name);
            }
            return null;
        }
        catch (ModelFileException) { refused = true; return null; }
        catch (Exception e) { return e; }
    }

    void Fuzz(byte[] valid, int structureLength, string fileName, int iterations, int seed)
    {
        Assert.Null(OpenAndReadAll(WriteFile(valid, fileName)));
        var rng = new Random(seed);
        var failures = new List<string>();
        int refusedCount = 0;
        for (int i = 0; i < iterations && failures.Count < 5; i++)
        {
            var mutated = Mutate(valid, rng, structureLength);
            var path = WriteFile(mutated, fileName);
            if (OpenAndReadAll(path, out var refused) is { } e) failures.Add($"mutation {i} (seed {seed}): {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            if (refused) refusedCount++;
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        // Most mutations must break the file (else the mutator is not reaching the parser); some survive (data bytes).
        Assert.InRange(refusedCount, iterations / 2, iterations - 1);
    }

    string WriteFile(byte[] bytes, string name)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void MutatedSafeTensorsOnlyRaiseModelFileException()
    {
        var path = Path.Combine(_dir, "valid.safetensors");
        var half = new Half[] { (Half)1, (Half)(-2), (Half)0.5f };
        SafeTensors.Write(path, [
            TensorToWrite.Float32("w", [2, 3], [1, 2, 3, 4, 5, 6]),
            TensorToWrite.Float32("s", [], [7]),
            TensorToWrite.Int64("ids", [1, 4], [0, 1, 2, 3]),
            new TensorToWrite("h", TensorDType.F16, [3], System.Runtime.InteropServices.MemoryMarshal.AsBytes(half.AsSpan()).ToArray()),
            new TensorToWrite("b", TensorDType.BF16, [2], new byte[] { 0, 0x3f, 0, 0xc0 }),
            new TensorToWrite("m", TensorDType.U8, [2], new byte[] { 1, 2 })]);
        var valid = File.ReadAllBytes(path);
        int structure = 8 + (int)BitConverter.ToUInt64(valid, 0);
        var sw = Stopwatch.StartNew();
        Fuzz(valid, structure, "model.safetensors", 10_000, seed: 20261125);
        output.WriteLine($"10,000 safetensors mutations: {sw.Elapsed.TotalSeconds:F1} s");
    }

    static (byte[] Pickle, Dictionary<string, byte[]> Storages) SmallTorchStateDict() => (
        StateDictPickle([
            new("w", "FloatStorage", "0", 6, 0, [2, 3], [3, 1]),
            new("wt", "FloatStorage", "0", 6, 0, [3, 2], [1, 3]),
            new("ids", "LongStorage", "1", 2, 0, [2], [1])]),
        new() { ["0"] = Floats(1, 2, 3, 4, 5, 6), ["1"] = new byte[16] });

    [Fact]
    public void MutatedPicklesOnlyRaiseModelFileException()
    {
        var (pickle, storages) = SmallTorchStateDict();
        var rng = new Random(7);
        var failures = new List<string>();
        int refusedCount = 0;
        for (int i = 0; i < 1_500 && failures.Count < 5; i++)
        {
            var mutated = Mutate(pickle, rng, pickle.Length);
            var path = WriteFile(TorchZip(mutated, storages), "pytorch_model.bin");
            if (OpenAndReadAll(path, out var refused) is { } e) failures.Add($"pickle mutation {i}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            if (refused) refusedCount++;
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        Assert.InRange(refusedCount, 750, 1_499);
    }

    [Fact]
    public void MutatedLegacyTorchFilesOnlyRaiseModelFileException()
    {
        var legacy = CheckpointLegacyTorchTests.LegacyFromZip(Fixtures.Golden("models", "distilbert_base_model", "pytorch_model.bin"));
        // Mutations land anywhere in the pickles and storage headers (the first part of the file).
        Fuzz(legacy, legacy.Length / 4, "pytorch_model.bin", 1_000, seed: 13);
    }

    [Fact]
    public void MutatedShardIndexesOnlyRaiseModelFileException()
    {
        SafeTensors.Write(Path.Combine(_dir, "s1.safetensors"), [TensorToWrite.Float32("a", [2], [1, 2])]);
        SafeTensors.Write(Path.Combine(_dir, "s2.safetensors"), [TensorToWrite.Float32("b", [1], [3])]);
        var index = """{"metadata":{"total_size":12},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"""u8.ToArray();
        Fuzz(index, index.Length, "model.safetensors.index.json", 1_000, seed: 14);
    }

    [Fact]
    public void MutatedTorchZipsOnlyRaiseModelFileException()
    {
        var (pickle, storages) = SmallTorchStateDict();
        Fuzz(TorchZip(pickle, storages), int.MaxValue, "pytorch_model.bin", 1_000, seed: 11);
        Fuzz(TorchZip(pickle, storages, CompressionLevel.Optimal), int.MaxValue, "pytorch_model.bin", 1_000, seed: 12);
    }
}
