using System.Text.Json;

namespace DistilBert.Pipelines;

/// <summary>
/// What a sentence-transformers folder says about its embeddings, read from <c>modules.json</c> (a Transformer, then a
/// Pooling, then optionally a Normalize module), the Pooling module's <c>config.json</c> and the Transformer module's
/// <c>sentence_bert_config.json</c> (<c>max_seq_length</c>, <c>do_lower_case</c>). Other modules (Dense, LayerNorm ...)
/// and pooling modes other than one of cls / mean / max / mean_sqrt_len_tokens are refused, naming the file and field,
/// rather than giving vectors sentence-transformers would not. An immutable value: may be used from many threads.
/// </summary>
/// <param name="TransformerFolder">The folder of the Transformer module's weights (the folder itself unless modules.json names a subfolder).</param>
/// <param name="MaxSeqLength">Tokens per text, special tokens included (null: the model's limit).</param>
/// <param name="DoLowerCase">Lowercase texts before tokenizing.</param>
/// <param name="IncludePrompt">Pooling over prompt tokens; without prompts (we add none) it changes nothing.</param>
public sealed record SentenceTransformerConfig(string TransformerFolder, PoolingMode Pooling, bool Normalize, int? MaxSeqLength,
    bool DoLowerCase, bool IncludePrompt)
{
    public const string ModulesName = "modules.json";
    public const string SentenceBertConfigName = "sentence_bert_config.json";

    /// <summary>These files hold a few fields; anything larger is not one of them.</summary>
    const long MaxFileBytes = 1 << 20;

    const string TypePrefix = "sentence_transformers.";

    /// <summary>The folder's sentence-transformers settings, or null when it has no modules.json (a plain HF folder).</summary>
    public static SentenceTransformerConfig? Load(string folder)
    {
        var modulesPath = Path.Combine(folder, ModulesName);
        if (!File.Exists(modulesPath)) return null;
        using var modules = ReadJson(modulesPath);
        if (modules.RootElement.ValueKind != JsonValueKind.Array)
            throw new ModelFileException(modulesPath, "expected a JSON array of modules");

        string? transformer = null, pooling = null;
        bool normalize = false;
        int index = 0;
        foreach (var module in modules.RootElement.EnumerateArray())
        {
            string where = $"[{index}]";
            if (module.ValueKind != JsonValueKind.Object) throw new ModelFileException(modulesPath, $"{where} must be an object");
            string type = RequiredString(modulesPath, module, where, "type");
            string path = RequiredString(modulesPath, module, where, "path");
            string kind = type.StartsWith(TypePrefix, StringComparison.Ordinal) ? type[(type.LastIndexOf('.') + 1)..] : type;
            // The order is the computation: token vectors, then one vector, then its length.
            switch (kind)
            {
                case "Transformer" when transformer is null && index == 0:
                    transformer = ModuleFolder(modulesPath, folder, path, where);
                    break;
                case "Pooling" when transformer is not null && pooling is null:
                    pooling = ModuleFolder(modulesPath, folder, path, where);
                    break;
                case "Normalize" when pooling is not null && !normalize:
                    normalize = true;
                    break;
                case "Transformer" or "Pooling" or "Normalize":
                    throw new ModelFileException(modulesPath, $"{where}.type: {type} is out of place; supported: a Transformer, then a Pooling, then optionally a Normalize module");
                default:
                    throw new ModelFileException(modulesPath, $"{where}.type: {type} is not supported (only Transformer, Pooling and Normalize modules are)");
            }
            index++;
        }
        if (transformer is null) throw new ModelFileException(modulesPath, "no Transformer module (expected as the first module)");
        if (pooling is null) throw new ModelFileException(modulesPath, "no Pooling module after the Transformer: the folder gives token vectors, not sentence embeddings");

        var (mode, includePrompt) = ReadPooling(Path.Combine(pooling, "config.json"));
        var (maxSeqLength, doLowerCase) = ReadSentenceBertConfig(Path.Combine(transformer, SentenceBertConfigName));
        return new SentenceTransformerConfig(transformer, mode, normalize, maxSeqLength, doLowerCase, includePrompt);
    }

    /// <summary>The text as sentence-transformers hands it to the tokenizer: stripped, and lowercased when configured
    /// (.NET's invariant lowercase; Python's str.lower differs only for a few characters with multi-character lowercase forms).</summary>
    public string Prepare(string text) => DoLowerCase ? text.Trim().ToLowerInvariant() : text.Trim();

    static (PoolingMode Mode, bool IncludePrompt) ReadPooling(string path)
    {
        if (!File.Exists(path)) throw new ModelFileException(path, "the Pooling module's config is missing");
        using var document = ReadJson(path);
        var root = RequireObject(path, document);
        // Absent fields take sentence-transformers' defaults: mean pooling, prompt included.
        var modes = new List<(string Field, PoolingMode? Mode)>
        {
            ("pooling_mode_cls_token", PoolingMode.Cls), ("pooling_mode_mean_tokens", PoolingMode.Mean),
            ("pooling_mode_max_tokens", PoolingMode.Max), ("pooling_mode_mean_sqrt_len_tokens", PoolingMode.MeanSqrtLen),
            ("pooling_mode_weightedmean_tokens", null), ("pooling_mode_lasttoken", null),
        };
        var chosen = new List<(string Field, PoolingMode? Mode)>();
        foreach (var (field, mode) in modes)
            if (OptionalBool(path, root, field) ?? field == "pooling_mode_mean_tokens") chosen.Add((field, mode));
        foreach (var property in root.EnumerateObject())
            if (property.Name.StartsWith("pooling_mode_", StringComparison.Ordinal) && modes.All(m => m.Field != property.Name)
                && property.Value.ValueKind == JsonValueKind.True)
                throw new ModelFileException(path, $"{property.Name}: this pooling mode is not supported (supported: cls, mean, max, mean_sqrt_len_tokens)");
        if (root.TryGetProperty("pooling_mode", out var named) && named.ValueKind != JsonValueKind.Null)
            throw new ModelFileException(path, "pooling_mode: give the mode as pooling_mode_*_tokens flags, as sentence-transformers saves it");
        if (chosen.Count == 0) throw new ModelFileException(path, "no pooling mode is set (pooling_mode_mean_tokens, pooling_mode_cls_token ... are all false)");
        if (chosen.Count > 1)
            throw new ModelFileException(path, $"{string.Join(" and ", chosen.Select(c => c.Field))}: concatenated pooling modes are not supported (set one)");
        if (chosen[0].Mode is not { } supported)
            throw new ModelFileException(path, $"{chosen[0].Field}: this pooling mode is not supported (supported: cls, mean, max, mean_sqrt_len_tokens)");
        return (supported, OptionalBool(path, root, "include_prompt") ?? true);
    }

    static (int? MaxSeqLength, bool DoLowerCase) ReadSentenceBertConfig(string path)
    {
        if (!File.Exists(path)) return (null, false);
        using var document = ReadJson(path);
        var root = RequireObject(path, document);
        int? maxSeqLength = null;
        if (root.TryGetProperty("max_seq_length", out var max) && max.ValueKind != JsonValueKind.Null)
        {
            if (max.ValueKind != JsonValueKind.Number || !max.TryGetInt32(out int value))
                throw new ModelFileException(path, $"max_seq_length must be a whole number, not {max.GetRawText()}");
            // [CLS], [SEP] and one token; above the position limit of any model we load.
            if (value < 3 || value > Modeling.ConfigLimits.MaxPositionEmbeddings)
                throw new ModelFileException(path, $"max_seq_length {value} is out of range (3 to {Modeling.ConfigLimits.MaxPositionEmbeddings})");
            maxSeqLength = value;
        }
        return (maxSeqLength, OptionalBool(path, root, "do_lower_case") ?? false);
    }

    static JsonDocument ReadJson(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new ModelFileException(path, $"{length} bytes, over the {MaxFileBytes}-byte limit for this file");
        try { return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 16 }); }
        catch (JsonException e) { throw new ModelFileException(path, $"not valid JSON ({e.Message})", e); }
    }

    static JsonElement RequireObject(string path, JsonDocument document) =>
        document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement : throw new ModelFileException(path, "expected a JSON object");

    static string RequiredString(string file, JsonElement module, string where, string field) =>
        module.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new ModelFileException(file, $"{where}.{field} must be a string");

    static bool? OptionalBool(string file, JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ModelFileException(file, $"{field} must be true or false, not {value.GetRawText()}"),
        };
    }

    /// <summary>A module's folder: relative, plain segments inside the model folder (a hostile path must not reach elsewhere).</summary>
    static string ModuleFolder(string file, string folder, string path, string where)
    {
        if (path.Length == 0) return folder;
        if (Path.IsPathRooted(path) || path.Replace('\\', '/').Split('/').Any(s => s is "" or "." or ".."))
            throw new ModelFileException(file, $"{where}.path '{path}' must be a plain folder name inside the model folder");
        var full = Path.Combine(folder, path);
        return Directory.Exists(full) ? full : throw new ModelFileException(file, $"{where}.path: folder '{path}' does not exist");
    }
}
