using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistilBert.Modeling;

/// <summary>
/// Upper bounds of config.json's values, checked before anything is allocated. Each is far beyond any released BERT-family
/// model (BERT-large: hidden 1,024, 24 layers, intermediate 4,096, 30,522 tokens, 512 positions, 2 token types); loading
/// weights also requires the model a config describes to fit the checkpoint (<see cref="PretrainedModel.CheckFitsWeights"/>).
/// </summary>
/// <remarks>Thread-safety: constants.</remarks>
public static class ConfigLimits
{
    /// <summary>Largest hidden size a config may name.</summary>
    public const int HiddenSize = 16_384;
    /// <summary>Most layers a config may name.</summary>
    public const int Layers = 256;
    /// <summary>Largest intermediate (FFN) size a config may name.</summary>
    public const int IntermediateSize = 65_536;
    /// <summary>Largest vocabulary a config may name.</summary>
    public const int VocabSize = 1 << 20;
    /// <summary>Most positions a config may name.</summary>
    public const int MaxPositionEmbeddings = 1 << 16;
    /// <summary>Most token types a config may name.</summary>
    public const int TypeVocabSize = 1_024;
    /// <summary>Most labels a config may name.</summary>
    public const int Labels = 1 << 16;
    /// <summary>Embeddings and layers together: 2^31 parameters, 8 GiB of float32.</summary>
    public const long Parameters = 1L << 31;
    /// <summary>Largest config.json read.</summary>
    public const long ConfigBytes = Checkpoints.ModelFolder.MaxConfigBytes;
    /// <summary>layer_norm_eps is used as a float32: from its smallest normal number up to 1.</summary>
    public const double MinLayerNormEps = 1.1754943508222875e-38;
    /// <summary>Largest layer_norm_eps accepted.</summary>
    public const double MaxLayerNormEps = 1;
}

/// <summary>
/// What every model config has (HF's PretrainedConfig fields we use) plus the accessors the engine needs in
/// architecture-neutral names. Parsed from config.json with HF 4.30's defaults for absent fields; fields we do not
/// know are kept verbatim and written back by <see cref="ToJson"/>.
/// </summary>
public abstract class ModelConfig
{
    /// <summary>Fields of the source file that no typed property covers, kept verbatim (torch_dtype, transformers_version...).</summary>
    protected readonly SortedDictionary<string, JsonNode?> Unknown = new(StringComparer.Ordinal);
    readonly HashSet<string> _presentInSource = new(StringComparer.Ordinal);

    /// <summary>HF's <c>model_type</c>: <c>distilbert</c> or <c>bert</c>.</summary>
    public abstract string ModelType { get; }
    /// <summary>HF's <c>architectures</c>: the model classes the folder was saved from.</summary>
    public List<string>? Architectures { get; set; }
    /// <summary>Label names by class index; its count is num_labels (HF default: LABEL_0, LABEL_1).</summary>
    public SortedDictionary<int, string> Id2Label { get; set; } = DefaultLabels(2);
    /// <summary>Class index by label name (HF's <c>label2id</c>).</summary>
    public Dictionary<string, int> Label2Id { get; set; } = DefaultLabels(2).ToDictionary(kv => kv.Value, kv => kv.Key);
    /// <summary>"regression", "single_label_classification", "multi_label_classification" or null (decided by the labels).</summary>
    public string? ProblemType { get; set; }
    /// <summary>Id of the padding token.</summary>
    public int PadTokenId { get; set; }
    /// <summary>Standard deviation of the normal distribution weights are initialised from.</summary>
    public double InitializerRange { get; set; } = 0.02;
    /// <summary>Tokens in the vocabulary: rows of the word embeddings.</summary>
    public int VocabSize { get; set; } = 30522;
    /// <summary>Most tokens per sequence: rows of the position embeddings.</summary>
    public int MaxPositionEmbeddings { get; set; } = 512;
    /// <summary>HF's tie_word_embeddings (default true): the MLM projector/decoder is the word-embedding matrix.</summary>
    public bool TieWordEmbeddings { get; set; } = true;

    /// <summary>Labels of a classification head: the count of <see cref="Id2Label"/>.</summary>
    public int NumLabels => Id2Label.Count;

    // Architecture-neutral view used by the layers.
    /// <summary>Width of every token vector.</summary>
    public abstract int HiddenSize { get; }
    /// <summary>Transformer layers.</summary>
    public abstract int NumLayers { get; }
    /// <summary>Attention heads per layer.</summary>
    public abstract int NumHeads { get; }
    /// <summary>Width of the feed-forward layer.</summary>
    public abstract int IntermediateSize { get; }
    /// <summary>The feed-forward activation's HF name (gelu or relu).</summary>
    public abstract string Activation { get; }
    /// <summary>Epsilon of every LayerNorm.</summary>
    public abstract float LayerNormEps { get; }
    /// <summary>Rows of the token-type (segment) embedding: BERT's type_vocab_size; DistilBERT has none.</summary>
    public virtual int TokenTypes => 0;

    /// <summary>Activations the engine implements.</summary>
    public static readonly string[] KnownActivations = ["gelu", "relu"];

    /// <summary>HF's default label names for <paramref name="count"/> labels: LABEL_0, LABEL_1, ...</summary>
    public static SortedDictionary<int, string> DefaultLabels(int count)
    {
        var d = new SortedDictionary<int, string>();
        for (int i = 0; i < count; i++) d[i] = "LABEL_" + i;
        return d;
    }

    /// <summary>Sets num_labels the way HF does when only a count is given: LABEL_i names.</summary>
    public void SetNumLabels(int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "num_labels must be positive");
        Id2Label = DefaultLabels(count);
        Label2Id = Id2Label.ToDictionary(kv => kv.Value, kv => kv.Key);
    }

    /// <summary>Reads config.json; picks DistilBertConfig or BertConfig from model_type (or architectures).</summary>
    public static ModelConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new ModelFileException(path, "config.json not found");
        long length = new FileInfo(path).Length;
        if (length > ConfigLimits.ConfigBytes) throw new ModelFileException(path, $"config.json is {length} bytes, over the {ConfigLimits.ConfigBytes}-byte limit");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>
    /// Parses a config.json of either family (by <c>model_type</c>), checking every field; errors name <paramref
    /// name="filePath"/> and the field.
    /// </summary>
    public static ModelConfig Parse(string json, string? filePath = null)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new ModelFileException(filePath, "config is not a JSON object");
        }
        catch (JsonException e) { throw new ModelFileException(filePath, "config is not valid JSON: " + e.Message, e); }
        var reader = new FieldReader(root, filePath);
        string? modelType = reader.String("model_type", null);
        if (modelType is null)
        {
            var arch = reader.StringList("architectures");
            if (arch is { Count: > 0 }) modelType = arch[0].StartsWith("DistilBert", StringComparison.Ordinal) ? "distilbert" : arch[0].StartsWith("Bert", StringComparison.Ordinal) ? "bert" : null;
        }
        ModelConfig config = modelType switch
        {
            "distilbert" => new DistilBertConfig(),
            "bert" => new BertConfig(),
            null => throw new ModelFileException(filePath, "field 'model_type' is missing and 'architectures' does not name a DistilBert or Bert class"),
            _ => throw new ModelFileException(filePath, $"field 'model_type': '{modelType}' is not supported (expected 'distilbert' or 'bert')"),
        };
        config.ReadFrom(reader);
        foreach (var (key, value) in root)
        {
            config._presentInSource.Add(key);
            if (!reader.Consumed.Contains(key)) config.Unknown[key] = value?.DeepClone();
        }
        config.Validate(filePath);
        return config;
    }

    /// <summary>Parses a config.json that must be of type <typeparamref name="T"/>.</summary>
    public static T Parse<T>(string json, string? filePath = null) where T : ModelConfig =>
        Parse(json, filePath) as T ?? throw new ModelFileException(filePath, $"config is not a {typeof(T).Name}");

    /// <summary>Whether config.json had the field <paramref name="key"/> (rather than taking its default).</summary>
    protected bool WasInSource(string key) => _presentInSource.Contains(key);

    /// <summary>quantization_config.quant_method of a folder written by <c>distilbert quantize</c> (docs/int8.md). Hugging
    /// Face's loaders refuse a quant_method they do not know, rather than misreading the int8 tensors.</summary>
    public const string Int8QuantMethod = "distilbert-net-int8";

    /// <summary>True when config.json's quantization_config names <see cref="Int8QuantMethod"/>.</summary>
    public bool IsInt8Quantized =>
        Unknown.TryGetValue("quantization_config", out var node) && node is JsonObject o && o["quant_method"] is JsonValue v &&
        v.TryGetValue<string>(out var method) && method == Int8QuantMethod;

    /// <summary>Marks the config as describing a quantised folder (quantization_config, written by <see cref="ToJson"/>).</summary>
    public void MarkInt8Quantized() =>
        // parsed rather than built: the config writer reads nodes as a parsed document holds them
        Unknown["quantization_config"] = JsonNode.Parse($$"""
            {"quant_method": "{{Int8QuantMethod}}",
             "weights": "int8, symmetric, one scale per output feature, |q| <= 63: <name>_int8 (I8) and <name>_scale (F32)",
             "activations": "quantised per token at run time"}
            """);

    void ReadFrom(FieldReader r)
    {
        r.String("model_type", null);
        Architectures = r.StringList("architectures");
        ProblemType = r.String("problem_type", null);
        if (ProblemType is not (null or "regression" or "single_label_classification" or "multi_label_classification"))
            throw r.Error("problem_type", $"'{ProblemType}' is not one of regression, single_label_classification, multi_label_classification");
        PadTokenId = r.Int("pad_token_id", 0);
        InitializerRange = r.Double("initializer_range", 0.02);
        VocabSize = r.Int("vocab_size", 30522, 1, ConfigLimits.VocabSize);
        MaxPositionEmbeddings = r.Int("max_position_embeddings", 512, 1, ConfigLimits.MaxPositionEmbeddings);
        TieWordEmbeddings = r.Bool("tie_word_embeddings", true);
        var id2label = r.Id2Label("id2label");
        int? numLabels = r.Has("num_labels") ? r.Int("num_labels", 2, 1, ConfigLimits.Labels) : null;
        if (id2label is not null)
        {
            Id2Label = id2label;
            if (numLabels is { } n && n != id2label.Count) throw r.Error("num_labels", $"{n} disagrees with id2label's {id2label.Count} entries");
        }
        else if (numLabels is { } n) Id2Label = DefaultLabels(n);
        Label2Id = r.Label2Id("label2id") ?? Id2Label.ToDictionary(kv => kv.Value, kv => kv.Key);
        ReadSpecific(r);
    }

    /// <summary>Reads the family's own fields.</summary>
    protected abstract void ReadSpecific(FieldReader r);

    /// <summary>Throws ModelFileException naming the first field that makes no sense or is beyond <see cref="ConfigLimits"/>.</summary>
    public virtual void Validate(string? filePath = null)
    {
        CheckRange(filePath, HiddenSizeField, HiddenSize, 1, ConfigLimits.HiddenSize);
        CheckRange(filePath, NumLayersField, NumLayers, 1, ConfigLimits.Layers);
        CheckRange(filePath, NumHeadsField, NumHeads, 1, ConfigLimits.HiddenSize);
        CheckRange(filePath, IntermediateSizeField, IntermediateSize, 1, ConfigLimits.IntermediateSize);
        CheckRange(filePath, "vocab_size", VocabSize, 1, ConfigLimits.VocabSize);
        CheckRange(filePath, "max_position_embeddings", MaxPositionEmbeddings, 1, ConfigLimits.MaxPositionEmbeddings);
        CheckRange(filePath, "num_labels", NumLabels, 1, ConfigLimits.Labels);
        if (HiddenSize % NumHeads != 0)
            throw new ModelFileException(filePath, $"field '{HiddenSizeField}' ({HiddenSize}) is not a multiple of '{NumHeadsField}' ({NumHeads})");
        if (Array.IndexOf(KnownActivations, Activation) < 0)
            throw new ModelFileException(filePath, $"field '{ActivationField}': activation '{Activation}' is not supported (expected one of {string.Join(", ", KnownActivations)})");
        if (PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new ModelFileException(filePath, $"field 'pad_token_id' ({PadTokenId}) is outside the vocabulary (vocab_size {VocabSize})");
        if (!(InitializerRange is >= 0 and <= 1))
            throw new ModelFileException(filePath, FormattableString.Invariant($"field 'initializer_range' must be from 0 to 1, got {InitializerRange:R}"));
        if (EncoderParameterCount() > ConfigLimits.Parameters)
            throw new ModelFileException(filePath, $"the config describes {EncoderParameterCount()} parameters in its embeddings and layers ({DescribeSizes()}), over the limit of {ConfigLimits.Parameters}");
    }

    /// <summary>Throws naming <paramref name="field"/> unless min ≤ value ≤ max.</summary>
    protected static void CheckRange(string? filePath, string field, long value, long min, long max)
    {
        if (value < min || value > max) throw new ModelFileException(filePath, $"field '{field}' must be from {min} to {max}, got {value}");
    }

    /// <summary>
    /// Parameters of the embeddings and the layers (no pooler, no head), from the sizes alone: what any checkpoint of this
    /// model must hold. Call after <see cref="Validate"/> (the sizes are then small enough not to overflow).
    /// </summary>
    public long EncoderParameterCount()
    {
        long h = HiddenSize, i = IntermediateSize;
        long embeddings = ((long)VocabSize + MaxPositionEmbeddings + TokenTypes) * h + 2 * h;
        long layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 2 * (2 * h);
        return embeddings + NumLayers * layer;
    }

    /// <summary>The size fields under their config.json names, for messages.</summary>
    public string DescribeSizes() =>
        $"{HiddenSizeField} {HiddenSize}, {NumLayersField} {NumLayers}, {IntermediateSizeField} {IntermediateSize}, vocab_size {VocabSize}, " +
        $"max_position_embeddings {MaxPositionEmbeddings}" + (TokenTypes > 0 ? $", type_vocab_size {TokenTypes}" : "");

    /// <summary>The family's JSON name of <see cref="HiddenSize"/>.</summary>
    protected abstract string HiddenSizeField { get; }
    /// <summary>The family's JSON name of <see cref="NumLayers"/>.</summary>
    protected abstract string NumLayersField { get; }
    /// <summary>The family's JSON name of <see cref="NumHeads"/>.</summary>
    protected abstract string NumHeadsField { get; }
    /// <summary>The family's JSON name of <see cref="IntermediateSize"/>.</summary>
    protected abstract string IntermediateSizeField { get; }
    /// <summary>The family's JSON name of <see cref="Activation"/>.</summary>
    protected abstract string ActivationField { get; }

    /// <summary>config.json text in HF's style: sorted keys, indent 2, Python float spelling, trailing newline.</summary>
    public string ToJson()
    {
        var fields = new SortedDictionary<string, JsonValueWriter>(StringComparer.Ordinal);
        foreach (var (k, v) in Unknown) fields[k] = w => w.Node(v);
        if (Architectures is not null) fields["architectures"] = w => w.StringList(Architectures);
        fields["model_type"] = w => w.String(ModelType);
        fields["pad_token_id"] = w => w.Int(PadTokenId);
        fields["initializer_range"] = w => w.Float(InitializerRange);
        fields["vocab_size"] = w => w.Int(VocabSize);
        fields["max_position_embeddings"] = w => w.Int(MaxPositionEmbeddings);
        if (ProblemType is not null) fields["problem_type"] = w => w.String(ProblemType);
        if (!TieWordEmbeddings || WasInSource("tie_word_embeddings")) fields["tie_word_embeddings"] = w => w.Bool(TieWordEmbeddings);
        // HF writes label maps only when they differ from the default pair.
        bool defaultLabels = Id2Label.Count == 2 && Id2Label.SequenceEqual(DefaultLabels(2));
        if (!defaultLabels || WasInSource("id2label"))
        {
            fields["id2label"] = w => w.Object(Id2Label.Select(kv => (kv.Key.ToString(CultureInfo.InvariantCulture), (JsonValueWriter)(w2 => w2.String(kv.Value)))));
            fields["label2id"] = w => w.Object(Label2Id.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, (JsonValueWriter)(w2 => w2.Int(kv.Value)))));
        }
        WriteSpecific(fields);
        var writer = new PyJsonWriter();
        writer.Object(fields.Select(kv => (kv.Key, kv.Value)));
        return writer.ToString() + "\n";
    }

    /// <summary>Adds the family's own fields to <paramref name="fields"/>.</summary>
    protected abstract void WriteSpecific(SortedDictionary<string, JsonValueWriter> fields);

    /// <summary>
    /// Writes the config to <paramref name="path"/> as transformers writes config.json (sorted keys, Python's float
    /// format).
    /// </summary>
    public void Save(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        File.WriteAllText(path, ToJson());
    }

    /// <summary>Typed reads of config fields; every error names the field.</summary>
    protected internal sealed class FieldReader(JsonObject root, string? filePath)
    {
        /// <summary>Fields read so far; the rest are kept as they were.</summary>
        public HashSet<string> Consumed { get; } = new(StringComparer.Ordinal);

        /// <summary>Whether the JSON has the field <paramref name="name"/>.</summary>
        public bool Has(string name) => root.ContainsKey(name);

        /// <summary>An error naming the file and <paramref name="field"/>.</summary>
        public ModelFileException Error(string field, string message) => new(filePath, $"field '{field}': {message}");

        JsonNode? Take(string name)
        {
            Consumed.Add(name);
            return root.TryGetPropertyValue(name, out var node) ? node : null;
        }

        /// <summary>The integer field <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
        public int Int(string name, int fallback) => Int(name, fallback, int.MinValue, int.MaxValue);

        /// <summary>An integer literal from <paramref name="min"/> to <paramref name="max"/> (not 12.0, not 1e8, not "12").</summary>
        public int Int(string name, int fallback, int min, int max)
        {
            bool bounded = min != int.MinValue || max != int.MaxValue;
            var node = Take(name);
            // An explicit null means "unset" for ids (pad_token_id), but a size must be a number.
            if (node is null && !(bounded && Has(name))) return fallback;
            if (node is JsonValue v && v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long l))
            {
                if (l >= min && l <= max) return (int)l;
                if (!bounded) throw Error(name, $"{node.ToJsonString()} does not fit a 32-bit integer");
            }
            var given = Shorten(node?.ToJsonString() ?? "null");
            throw Error(name, bounded ? $"must be an integer from {min} to {max}, got {given}" : $"expected an integer, got {given}");
        }

        /// <summary>The number field <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
        public double Double(string name, double fallback)
        {
            var node = Take(name);
            if (node is null) return fallback;
            if (node is JsonValue v && v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number)
                return e.TryGetDouble(out var d) && double.IsFinite(d) ? d : throw Error(name, $"{Shorten(e.GetRawText())} is beyond a 64-bit float");
            throw Error(name, $"expected a number, got {Shorten(node.ToJsonString())}");
        }

        /// <summary>A value from the file, cut short for a one-line message.</summary>
        static string Shorten(string json) => json.Length <= 40 ? json : json[..40] + "…";

        /// <summary>A number that may be absent or JSON null (both mean null).</summary>
        public double? NullableDouble(string name)
        {
            if (root[name] is null) { Consumed.Add(name); return null; }
            return Double(name, 0);
        }

        /// <summary>The boolean field <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
        public bool Bool(string name, bool fallback)
        {
            var node = Take(name);
            if (node is null) return fallback;
            if (node is JsonValue v && v.TryGetValue<JsonElement>(out var e) && e.ValueKind is JsonValueKind.True or JsonValueKind.False) return e.GetBoolean();
            throw Error(name, $"expected true or false, got {node.ToJsonString()}");
        }

        /// <summary>
        /// The string field <paramref name="name"/>, or <paramref name="fallback"/> when absent or null.
        /// </summary>
        public string? String(string name, string? fallback)
        {
            var node = Take(name);
            if (node is null) return fallback;
            if (node is JsonValue v && v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.String) return e.GetString();
            throw Error(name, $"expected a string, got {node.ToJsonString()}");
        }

        /// <summary>The string-list field <paramref name="name"/>, or null when absent.</summary>
        public List<string>? StringList(string name)
        {
            var node = Take(name);
            if (node is null) return null;
            if (node is not JsonArray a) throw Error(name, "expected a list of strings");
            var list = new List<string>();
            foreach (var item in a)
            {
                if (item is JsonValue v && v.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.String) list.Add(e.GetString()!);
                else throw Error(name, $"expected a list of strings, found {item?.ToJsonString() ?? "null"}");
            }
            return list;
        }

        /// <summary>
        /// The id2label field <paramref name="name"/> (keys are ids as strings), or null when absent.
        /// </summary>
        public SortedDictionary<int, string>? Id2Label(string name)
        {
            var node = Take(name);
            if (node is null) return null;
            if (node is not JsonObject o) throw Error(name, "expected an object mapping class index to label");
            if (o.Count > ConfigLimits.Labels) throw Error(name, $"{o.Count} labels, over the limit of {ConfigLimits.Labels}");
            var d = new SortedDictionary<int, string>();
            foreach (var (k, v) in o)
            {
                if (!int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out int index)) throw Error(name, $"key '{k}' is not a class index");
                if (v is JsonValue jv && jv.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.String) d[index] = e.GetString()!;
                else throw Error(name, $"label of class {k} is not a string");
            }
            for (int i = 0; i < d.Count; i++)
                if (!d.ContainsKey(i)) throw Error(name, $"class indices must be 0..{d.Count - 1}; {i} is missing");
            return d;
        }

        /// <summary>The label2id field <paramref name="name"/>, or null when absent.</summary>
        public Dictionary<string, int>? Label2Id(string name)
        {
            var node = Take(name);
            if (node is null) return null;
            if (node is not JsonObject o) throw Error(name, "expected an object mapping label to class index");
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (k, v) in o)
            {
                if (v is JsonValue jv && jv.TryGetValue<JsonElement>(out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i)) d[k] = i;
                else throw Error(name, $"index of label '{k}' is not an integer");
            }
            return d;
        }
    }
}

/// <summary>Writes one JSON value.</summary>
public delegate void JsonValueWriter(PyJsonWriter writer);

/// <summary>
/// Writes JSON exactly as Python's json.dumps(indent=2, sort_keys=True) does (HF's to_json_string): ", " / ": "
/// separators, ASCII-only output, floats in Python's repr spelling (0.1, 1e-12, 0.0).
/// </summary>
public sealed class PyJsonWriter
{
    readonly StringBuilder _sb = new();
    int _depth;

    /// <summary>The JSON written so far.</summary>
    public override string ToString() => _sb.ToString();

    void Newline() { _sb.Append('\n').Append(' ', 2 * _depth); }

    /// <summary>Writes an object of <paramref name="members"/> in their order.</summary>
    public void Object(IEnumerable<(string Key, JsonValueWriter Value)> members)
    {
        var list = members.ToList();
        if (list.Count == 0) { _sb.Append("{}"); return; }
        _sb.Append('{');
        _depth++;
        for (int i = 0; i < list.Count; i++)
        {
            Newline();
            String(list[i].Key);
            _sb.Append(": ");
            list[i].Value(this);
            if (i + 1 < list.Count) _sb.Append(',');
        }
        _depth--;
        Newline();
        _sb.Append('}');
    }

    /// <summary>Writes an array of <paramref name="items"/>.</summary>
    public void Array(IReadOnlyList<JsonValueWriter> items)
    {
        if (items.Count == 0) { _sb.Append("[]"); return; }
        _sb.Append('[');
        _depth++;
        for (int i = 0; i < items.Count; i++)
        {
            Newline();
            items[i](this);
            if (i + 1 < items.Count) _sb.Append(',');
        }
        _depth--;
        Newline();
        _sb.Append(']');
    }

    /// <summary>Writes an array of strings.</summary>
    public void StringList(IReadOnlyList<string> items) => Array(items.Select(s => (JsonValueWriter)(w => w.String(s))).ToList());

    /// <summary>Writes null.</summary>
    public void Null() => _sb.Append("null");
    /// <summary>Writes a boolean.</summary>
    public void Bool(bool b) => _sb.Append(b ? "true" : "false");
    /// <summary>Writes an integer.</summary>
    public void Int(long i) => _sb.Append(i.ToString(CultureInfo.InvariantCulture));
    /// <summary>Writes a number as Python's <c>repr</c> writes a float.</summary>
    public void Float(double d) => _sb.Append(PythonFloat(d));

    /// <summary>Writes a string, escaped as Python's json module escapes it.</summary>
    public void String(string s)
    {
        _sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': _sb.Append("\\\""); break;
                case '\\': _sb.Append("\\\\"); break;
                case '\n': _sb.Append("\\n"); break;
                case '\r': _sb.Append("\\r"); break;
                case '\t': _sb.Append("\\t"); break;
                case '\b': _sb.Append("\\b"); break;
                case '\f': _sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || c > 0x7e) _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else _sb.Append(c);
                    break;
            }
        }
        _sb.Append('"');
    }

    /// <summary>A value kept verbatim from the source file, re-spelled in Python's style.</summary>
    public void Node(JsonNode? node)
    {
        switch (node)
        {
            case null: Null(); break;
            case JsonObject o:
                Object(o.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, (JsonValueWriter)(w => w.Node(kv.Value)))));
                break;
            case JsonArray a: Array(a.Select(item => (JsonValueWriter)(w => w.Node(item))).ToList()); break;
            case JsonValue v:
                var e = v.GetValue<JsonElement>();
                switch (e.ValueKind)
                {
                    case JsonValueKind.String: String(e.GetString()!); break;
                    case JsonValueKind.True: Bool(true); break;
                    case JsonValueKind.False: Bool(false); break;
                    case JsonValueKind.Number:
                        var raw = e.GetRawText();
                        if (e.TryGetInt64(out long l) && raw.IndexOfAny(['.', 'e', 'E']) < 0) Int(l);
                        else Float(e.GetDouble());
                        break;
                    default: Null(); break;
                }
                break;
        }
    }

    /// <summary>Python's repr(float): shortest round-trip digits; scientific when the exponent is below -4 or above 15.</summary>
    public static string PythonFloat(double d)
    {
        if (double.IsNaN(d)) return "NaN";
        if (double.IsPositiveInfinity(d)) return "Infinity";
        if (double.IsNegativeInfinity(d)) return "-Infinity";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";
        // .NET's "R" gives the shortest digit string that round-trips, as Python's repr does; only the layout differs.
        string shortest = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        string mantissa = shortest, expPart = "0";
        int ePos = shortest.IndexOfAny(['E', 'e']);
        if (ePos >= 0) { mantissa = shortest[..ePos]; expPart = shortest[(ePos + 1)..]; }
        int exp10 = int.Parse(expPart, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        int dot = mantissa.IndexOf('.');
        string intPart = dot < 0 ? mantissa : mantissa[..dot];
        string fracPart = dot < 0 ? "" : mantissa[(dot + 1)..];
        string digits = (intPart + fracPart).TrimStart('0');
        int leadingZeros = (intPart + fracPart).Length - digits.Length;
        // value = 0.digits × 10^decpt
        int decpt = intPart.Length - leadingZeros + exp10;
        digits = digits.TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        var sb = new StringBuilder();
        if (d < 0) sb.Append('-');
        if (decpt > -4 && decpt <= 16)
        {
            if (decpt <= 0) sb.Append("0.").Append('0', -decpt).Append(digits);
            else if (decpt >= digits.Length) sb.Append(digits).Append('0', decpt - digits.Length).Append(".0");
            else sb.Append(digits, 0, decpt).Append('.').Append(digits, decpt, digits.Length - decpt);
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            int e = decpt - 1;
            sb.Append('e').Append(e < 0 ? '-' : '+').Append(Math.Abs(e).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
