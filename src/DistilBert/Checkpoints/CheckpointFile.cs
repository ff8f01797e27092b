using System.Buffers.Binary;
using System.Text.Json;

namespace DistilBert.Checkpoints;

/// <summary>The checkpoint formats we read.</summary>
public enum CheckpointFormat
{
    /// <summary>One model.safetensors file.</summary>
    SafeTensors,
    /// <summary>model.safetensors.index.json and its shards.</summary>
    SafeTensorsSharded,
    /// <summary>One pytorch_model.bin in PyTorch's zip format (torch 1.6 and later).</summary>
    TorchZip,
    /// <summary>pytorch_model.bin.index.json and its zip shards.</summary>
    TorchZipSharded,
    /// <summary>One pytorch_model.bin in PyTorch's legacy format (before torch 1.6: not a zip).</summary>
    TorchLegacy,
}

/// <summary>Opens a model's weights from a folder or a file, whatever HF format they are in.</summary>
public static class CheckpointFile
{
    /// <summary>The single-file safetensors name in HF folders.</summary>
    public const string SafeTensorsName = "model.safetensors";
    /// <summary>The index of sharded safetensors.</summary>
    public const string SafeTensorsIndexName = "model.safetensors.index.json";
    /// <summary>The single-file PyTorch name in HF folders.</summary>
    public const string TorchName = "pytorch_model.bin";
    /// <summary>The index of sharded PyTorch checkpoints.</summary>
    public const string TorchIndexName = "pytorch_model.bin.index.json";

    /// <summary>
    /// A folder opens, in HF's order of preference, model.safetensors, model.safetensors.index.json (all shards as one
    /// source), pytorch_model.bin, pytorch_model.bin.index.json. A file opens by its content (magic bytes), so a
    /// renamed file still works; a *.index.json file opens its shards.
    /// </summary>
    public static ITensorSource Open(string pathOrFolder)
    {
        if (Directory.Exists(pathOrFolder))
        {
            foreach (var name in new[] { SafeTensorsName, SafeTensorsIndexName, TorchName, TorchIndexName })
            {
                var candidate = Path.Combine(pathOrFolder, name);
                if (File.Exists(candidate)) return OpenFile(candidate);
            }
            throw new ModelFileException(pathOrFolder, $"no weights found: expected {SafeTensorsName}, {SafeTensorsIndexName}, {TorchName} or {TorchIndexName}");
        }
        if (!File.Exists(pathOrFolder)) throw new ModelFileException(pathOrFolder, "no such file or folder");
        return OpenFile(pathOrFolder);
    }

    /// <summary>Tells the format of a weights file from its first bytes (and, for indexes, its name).</summary>
    public static CheckpointFormat DetectFormat(string path)
    {
        Span<byte> head = stackalloc byte[16];
        int n;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        if (n >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4) return CheckpointFormat.TorchZip;
        if (n >= 1 && head[0] == (byte)'{')
        {
            if (path.EndsWith(TorchIndexName, StringComparison.OrdinalIgnoreCase) || path.Contains(".bin.index", StringComparison.OrdinalIgnoreCase))
                return CheckpointFormat.TorchZipSharded;
            return CheckpointFormat.SafeTensorsSharded;
        }
        if (head.StartsWith(TorchCheckpointFile.LegacyMagic)) return CheckpointFormat.TorchLegacy;
        if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new ModelFileException(path, "a pickle that is not torch.save output (no torch magic number): only torch checkpoints are read");
        // safetensors has no magic: a JSON header after its length, or the name says so (then its reader explains what is wrong).
        if (n >= 9 && head[8] == (byte)'{' || path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return CheckpointFormat.SafeTensors;
        throw new ModelFileException(path, "not a checkpoint: neither safetensors (u64 length + JSON header), a torch zip (PK) nor a shard index (JSON)");
    }

    static ITensorSource OpenFile(string path) => DetectFormat(path) switch
    {
        CheckpointFormat.TorchZip or CheckpointFormat.TorchLegacy => TorchCheckpointFile.Open(path),
        CheckpointFormat.SafeTensors => SafeTensorsFile.Open(path),
        _ => ShardedTensorSource.Open(path),
    };
}

/// <summary>
/// A sharded checkpoint (<c>*.index.json</c>: <c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>) seen as
/// one source. Shard names must be plain file names beside the index.
/// </summary>
public sealed class ShardedTensorSource : ITensorSource
{
    /// <summary>An index larger than this is refused before it is read.</summary>
    public const long MaxIndexBytes = 64L * 1024 * 1024;

    readonly List<ITensorSource> _shards;
    readonly Dictionary<string, ITensorSource> _owner;
    readonly Dictionary<string, TensorInfo> _byName;

    /// <inheritdoc/>
    public string FilePath { get; }
    /// <inheritdoc/>
    public IReadOnlyList<TensorInfo> Tensors { get; }
    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>The shard files, in the order the index first names them.</summary>
    public IReadOnlyList<string> ShardPaths => _shards.Select(s => s.FilePath).ToList();

    ShardedTensorSource(string path, List<ITensorSource> shards, Dictionary<string, ITensorSource> owner, List<TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        FilePath = path; _shards = shards; _owner = owner; Tensors = tensors; Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens the index at <paramref name="indexPath"/> and every shard it names.</summary>
    public static ShardedTensorSource Open(string indexPath)
    {
        var length = new FileInfo(indexPath).Length;
        if (length > MaxIndexBytes) throw new ModelFileException(indexPath, $"shard index is {length} bytes, over the {MaxIndexBytes}-byte limit");
        var bytes = File.ReadAllBytes(indexPath);
        // JsonDocument does not validate UTF-8 until a string is read; check it up front.
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) throw new ModelFileException(indexPath, "shard index is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new ModelFileException(indexPath, $"shard index is not valid JSON: {e.Message}", e); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new ModelFileException(indexPath, "shard index has no \"weight_map\" object");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (doc.RootElement.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
            foreach (var m in meta.EnumerateObject()) metadata[m.Name] = m.Value.ToString();

        var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        var shards = new List<ITensorSource>();
        var byFile = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
        var owner = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
        var tensors = new List<TensorInfo>();
        try
        {
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String) throw new ModelFileException(indexPath, $"weight_map entry '{entry.Name}' is not a file name");
                var file = entry.Value.GetString()!;
                if (file.Length == 0 || file != Path.GetFileName(file) || file is "." or ".." || file.Contains('\\'))
                    throw new ModelFileException(indexPath, $"weight_map entry '{entry.Name}' names '{file}', which is not a plain file name beside the index");
                if (!byFile.TryGetValue(file, out var shard))
                {
                    var shardPath = Path.Combine(dir, file);
                    if (!File.Exists(shardPath)) throw new ModelFileException(indexPath, $"shard '{file}' (holding '{entry.Name}') is missing");
                    shard = DetectShard(shardPath);
                    byFile[file] = shard;
                    shards.Add(shard);
                }
                if (!shard.Contains(entry.Name)) throw new ModelFileException(shard.FilePath, $"the index places tensor '{entry.Name}' in this shard but it is not there");
                if (!owner.TryAdd(entry.Name, shard)) throw new ModelFileException(indexPath, $"tensor '{entry.Name}' is listed twice");
                tensors.Add(shard.Info(entry.Name));
            }
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
        return new ShardedTensorSource(indexPath, shards, owner, tensors, metadata);
    }

    static ITensorSource DetectShard(string path) => CheckpointFile.DetectFormat(path) switch
    {
        CheckpointFormat.TorchZip or CheckpointFormat.TorchLegacy => TorchCheckpointFile.Open(path),
        CheckpointFormat.SafeTensors => SafeTensorsFile.Open(path),
        _ => throw new ModelFileException(path, "a shard must be a safetensors or torch zip file, not another index"),
    };

    ITensorSource Owner(string name) =>
        _owner.TryGetValue(name, out var s) ? s : throw new ModelFileException(FilePath, $"no tensor named '{name}'");

    /// <inheritdoc/>
    public bool Contains(string name) => _byName.ContainsKey(name);
    /// <inheritdoc/>
    public TensorInfo Info(string name) => _byName.TryGetValue(name, out var i) ? i : throw new ModelFileException(FilePath, $"no tensor named '{name}'");
    /// <inheritdoc/>
    public void ReadFloat32(string name, Span<float> destination) => Owner(name).ReadFloat32(name, destination);
    /// <inheritdoc/>
    public long[] ReadInt64(string name) => Owner(name).ReadInt64(name);

    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}
