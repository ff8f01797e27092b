using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistilBert.Checkpoints;

/// <summary>One config field as <c>distilbert info</c> shows it; <see cref="IsDefault"/> when config.json leaves it to HF's default.</summary>
public sealed record ConfigField(string Name, string Value, bool IsDefault);

/// <summary>Tensors of one dtype: how many, their elements and bytes.</summary>
public sealed record DTypeTotal(TensorDType DType, int Tensors, long Elements, long Bytes);

/// <summary>
/// What a model folder or weights file holds, for <c>distilbert info</c>: architecture and key config fields (read
/// from config.json as plain JSON), parameter count (tied aliases counted once, integer buffers excluded), totals
/// by dtype (tied aliases excluded: they share storage) and the tensor list.
/// </summary>
public sealed record CheckpointSummary(
    string WeightsPath,
    string Format,
    string? ConfigPath,
    string? Architecture,
    string? ModelType,
    IReadOnlyList<ConfigField> Config,
    long ParameterCount,
    IReadOnlyList<DTypeTotal> ByDType,
    IReadOnlyList<TensorInfo> Tensors,
    IReadOnlyList<string> TiedAliases)
{
    /// <summary>Fields worth seeing first, with HF's defaults for when save_pretrained left them out.</summary>
    static readonly Dictionary<string, (string Field, string Default)[]> KeyFields = new()
    {
        ["distilbert"] = [("dim", "768"), ("n_layers", "6"), ("n_heads", "12"), ("hidden_dim", "3072"), ("vocab_size", "30522"),
            ("max_position_embeddings", "512"), ("activation", "gelu"), ("sinusoidal_pos_embds", "false"), ("problem_type", "null")],
        ["bert"] = [("hidden_size", "768"), ("num_hidden_layers", "12"), ("num_attention_heads", "12"), ("intermediate_size", "3072"),
            ("vocab_size", "30522"), ("max_position_embeddings", "512"), ("hidden_act", "gelu"), ("type_vocab_size", "2"),
            ("layer_norm_eps", "1e-12"), ("problem_type", "null")],
    };

    /// <summary>
    /// Summarises the checkpoint in <paramref name="folderOrFile"/>: architecture, config, parameter counts and
    /// tensors.
    /// </summary>
    public static CheckpointSummary Create(string folderOrFile)
    {
        using var source = CheckpointFile.Open(folderOrFile);
        var folder = Directory.Exists(folderOrFile) ? folderOrFile : Path.GetDirectoryName(Path.GetFullPath(folderOrFile))!;
        var configPath = Path.Combine(folder, "config.json");
        string? architecture = null, modelType = null;
        var fields = new List<ConfigField>();
        if (File.Exists(configPath))
        {
            long length = new FileInfo(configPath).Length;
            if (length > ModelFolder.MaxConfigBytes) throw new ModelFileException(configPath, $"config.json is {length} bytes, over the {ModelFolder.MaxConfigBytes}-byte limit");
            JsonObject config;
            try { config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? throw new ModelFileException(configPath, "config.json is not a JSON object"); }
            catch (JsonException e) { throw new ModelFileException(configPath, $"config.json is not valid JSON: {e.Message}", e); }
            architecture = config["architectures"] is JsonArray { Count: > 0 } a ? a[0]?.ToString() : null;
            modelType = config["model_type"]?.ToString();
            foreach (var (field, fallback) in KeyFields.GetValueOrDefault(modelType ?? "", []))
                fields.Add(config.TryGetPropertyValue(field, out var v) ? new ConfigField(field, v?.ToJsonString().Trim('"') ?? "null", false) : new ConfigField(field, fallback, true));
            if (config["id2label"] is JsonObject labels)
                fields.Add(new ConfigField("num_labels", labels.Count.ToString(), false));
        }
        else configPath = null;

        var tied = source.Tensors.Where(t => StateDict.TiedAliasOf(t.Name) is { } primary && source.Contains(primary)).Select(t => t.Name).ToList();
        long parameters = StateDict.StoredParameterCount(source);
        // Totals describe what is stored: a tied alias shares its primary's storage.
        var byDType = source.Tensors.Where(t => !tied.Contains(t.Name)).GroupBy(t => t.DType).OrderBy(g => g.Key)
            .Select(g => new DTypeTotal(g.Key, g.Count(), g.Sum(t => t.ElementCount), g.Sum(t => t.ByteLength))).ToList();
        var format = source switch
        {
            SafeTensorsFile => "safetensors",
            TorchCheckpointFile => "torch zip",
            ShardedTensorSource s => $"sharded, {s.ShardPaths.Count} shards",
            _ => source.GetType().Name,
        };
        return new CheckpointSummary(source.FilePath, format, configPath, architecture, modelType, fields, parameters, byDType, source.Tensors.ToList(), tied);
    }

    /// <summary>The summary as JSON, as <c>distilbert info --json</c> prints it.</summary>
    public string ToJson() => new JsonObject
    {
        ["weights"] = WeightsPath,
        ["format"] = Format,
        ["config"] = ConfigPath,
        ["architecture"] = Architecture,
        ["model_type"] = ModelType,
        ["config_fields"] = new JsonObject(Config.Select(f => KeyValuePair.Create(f.Name, (JsonNode?)new JsonObject { ["value"] = f.Value, ["default"] = f.IsDefault }))),
        ["parameters"] = ParameterCount,
        ["by_dtype"] = new JsonArray(ByDType.Select(d => (JsonNode)new JsonObject
        {
            ["dtype"] = TensorDTypes.Name(d.DType), ["tensors"] = d.Tensors, ["elements"] = d.Elements, ["bytes"] = d.Bytes,
        }).ToArray()),
        ["tied_aliases"] = new JsonArray(TiedAliases.Select(a => (JsonNode)a).ToArray()),
        ["tensors"] = new JsonArray(Tensors.Select(t => (JsonNode)new JsonObject
        {
            ["name"] = t.Name, ["dtype"] = TensorDTypes.Name(t.DType), ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
        }).ToArray()),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
