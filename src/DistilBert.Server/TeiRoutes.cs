using System.Text;
using System.Text.Json;
using DistilBert.Pipelines;
using DistilBert.Tokenization;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>
/// Text-embeddings-inference's routes with its request and response shapes: <c>/embed</c>, <c>/predict</c>,
/// <c>/tokenize</c>, <c>/decode</c>, <c>/info</c>. TEI serves one model; here an optional <c>"model"</c> field picks one
/// by name, and without it the first served model able to do the route's task answers.
/// </summary>
internal static class TeiRoutes
{
    public static async Task<object?> Embed(HttpContext context, JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options)
    {
        var model = models.Resolve(RequestBody.String(body, "model"), "/embed", ModelTask.FeatureExtraction);
        var texts = RequestBody.StringOrStrings(body, "inputs", out _);
        bool truncate = RequestBody.Bool(body, "truncate", false);
        bool normalize = RequestBody.Bool(body, "normalize", true);
        var outputs = await ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "inputs", truncate, null);
        // TEI answers a list of vectors even for a single string.
        return outputs.Select(o => Vector((EmbeddingOutput)o, normalize)).ToArray();
    }

    /// <summary>The pooled vector, L2-normalised when asked: the same function the embedding pipeline applies.</summary>
    public static float[] Vector(EmbeddingOutput output, bool normalize)
    {
        var vector = (float[])output.Vector.Clone();
        if (normalize) EmbeddingPooling.L2Normalize(vector);
        return vector;
    }

    public static async Task<object?> Predict(HttpContext context, JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options)
    {
        var model = models.Resolve(RequestBody.String(body, "model"), "/predict", ModelTask.TextClassification);
        var (inputs, single) = PredictInputs(RequestBody.Required(body, "inputs", "inputs"));
        bool truncate = RequestBody.Bool(body, "truncate", false);
        bool raw = RequestBody.Bool(body, "raw_scores", false);
        // TEI returns every label, best first; raw_scores skips the softmax/sigmoid.
        var group = new ClassifyGroup(null, raw ? ScoreFunction.None : null);
        var outputs = await ModelCalls.RunAsync(context, entry, options, model, inputs, "inputs", truncate, group);
        var labels = outputs.Select(o => ((ClassificationOutput)o).Labels).ToArray();
        return single ? labels[0] : labels;
    }

    /// <summary>TEI's predict input: a string, a pair <c>["a", "b"]</c>, or a batch <c>[["a"], ["a", "b"], ...]</c>.</summary>
    static (TaskInput[] Inputs, bool Single) PredictInputs(JsonElement value)
    {
        const string expected = "a string, a pair [string, string] or a batch [[string], [string, string], ...]";
        if (value.ValueKind == JsonValueKind.String) return ([new TaskInput(value.GetString()!)], true);
        if (value.ValueKind != JsonValueKind.Array)
            throw new ApiException(400, $"field 'inputs' must be {expected}, got {RequestBody.Kind(value)}", "validation", "inputs");
        int count = value.GetArrayLength();
        if (count == 0) throw new ApiException(400, "field 'inputs' is empty: send at least one input", "empty", "inputs");
        if (value[0].ValueKind == JsonValueKind.String)
        {
            if (count > 2) throw new ApiException(400, $"field 'inputs' must be {expected}; an array of {count} strings is neither", "validation", "inputs");
            return ([Sequence(value, "inputs")], true);
        }
        var batch = new TaskInput[count];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            string path = $"inputs[{i}]";
            if (item.ValueKind != JsonValueKind.Array || item.GetArrayLength() is < 1 or > 2)
                throw new ApiException(400, $"field '{path}' must be [string] or [string, string], got {RequestBody.Kind(item)}" +
                    (item.ValueKind == JsonValueKind.Array ? $" of {item.GetArrayLength()} items" : ""), "validation", path);
            batch[i++] = Sequence(item, path);
        }
        return (batch, false);
    }

    static TaskInput Sequence(JsonElement array, string path) => array.GetArrayLength() == 2
        ? new TaskInput(RequestBody.StringValue(array[0], $"{path}[0]"), RequestBody.StringValue(array[1], $"{path}[1]"))
        : new TaskInput(RequestBody.StringValue(array[0], $"{path}[0]"));

    public static object? Tokenize(JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options)
    {
        var model = models.Resolve(RequestBody.String(body, "model"), "/tokenize");
        entry.Model = model.Name;
        var texts = RequestBody.StringOrStrings(body, "inputs", out _);
        bool special = RequestBody.Bool(body, "add_special_tokens", true);
        ModelCalls.CheckCount(texts.Length, options, "inputs");
        entry.Inputs = texts.Length;
        var encodeOptions = new EncodeOptions { AddSpecialTokens = special };
        var result = new List<SimpleToken>[texts.Length];
        for (int t = 0; t < texts.Length; t++)
        {
            var encoding = model.Tokenizer.Encode(texts[t], null, encodeOptions);
            entry.Tokens += encoding.Length;
            result[t] = Tokens(texts[t], encoding);
        }
        return result;
    }

    /// <summary>TEI's tokens: a special token has its vocabulary string and no span; any other token the text it covers
    /// and its span as UTF-8 byte offsets (TEI's offsets index the UTF-8 text).</summary>
    static List<SimpleToken> Tokens(string text, EncodedText encoding)
    {
        var tokens = new List<SimpleToken>(encoding.Length);
        int charAt = 0, byteAt = 0;
        int Bytes(int position)
        {
            if (position < charAt) { charAt = 0; byteAt = 0; }
            byteAt += Encoding.UTF8.GetByteCount(text.AsSpan(charAt, position - charAt));
            charAt = position;
            return byteAt;
        }
        for (int i = 0; i < encoding.Length; i++)
        {
            if (encoding.SpecialTokensMask[i] != 0)
            {
                tokens.Add(new SimpleToken(encoding.Ids[i], encoding.Tokens[i], true, null, null));
                continue;
            }
            var (start, end) = encoding.Offsets[i];
            int startByte = Bytes(start), endByte = Bytes(end);
            tokens.Add(new SimpleToken(encoding.Ids[i], text[start..end], false, startByte, endByte));
        }
        return tokens;
    }

    public static object? Decode(JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options)
    {
        var model = models.Resolve(RequestBody.String(body, "model"), "/decode");
        entry.Model = model.Name;
        var idsField = RequestBody.Required(body, "ids", "ids");
        bool skip = RequestBody.Bool(body, "skip_special_tokens", true);
        if (idsField.ValueKind != JsonValueKind.Array)
            throw new ApiException(400, $"field 'ids' must be an array of token ids or an array of such arrays, got {RequestBody.Kind(idsField)}", "validation", "ids");
        var sequences = new List<int[]>();
        if (idsField.GetArrayLength() > 0 && idsField[0].ValueKind == JsonValueKind.Array)
        {
            int s = 0;
            foreach (var sequence in idsField.EnumerateArray()) sequences.Add(Ids(sequence, $"ids[{s++}]", model.Tokenizer.Vocab.Count));
        }
        else sequences.Add(Ids(idsField, "ids", model.Tokenizer.Vocab.Count));
        ModelCalls.CheckCount(sequences.Count, options, "ids");
        entry.Inputs = sequences.Count;
        return sequences.Select(ids => model.Tokenizer.Decode(ids, skipSpecialTokens: skip)).ToArray();
    }

    static int[] Ids(JsonElement array, string path, int vocabulary)
    {
        if (array.ValueKind != JsonValueKind.Array) throw new ApiException(400, $"field '{path}' must be an array of token ids, got {RequestBody.Kind(array)}", "validation", path);
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id))
                throw new ApiException(400, $"field '{path}[{i}]' must be an integer token id, got {RequestBody.Kind(item)}", "validation", $"{path}[{i}]");
            if (id < 0 || id >= vocabulary)
                throw new ApiException(422, $"field '{path}[{i}]': token id {id} is outside the vocabulary [0, {vocabulary})", "validation", $"{path}[{i}]");
            ids[i++] = id;
        }
        return ids;
    }

    public static InfoResponse Info(HttpContext context, ModelRegistry models, DistilBertServerOptions options, ModelCallsInfo info)
    {
        string? name = context.Request.Query["model"];
        var model = models.Resolve(string.IsNullOrEmpty(name) ? null : name, "/info");
        return new InfoResponse(
            ModelId: model.Name,
            ModelSha: null,
            ModelDtype: "float32",
            ModelType: ModelType(model),
            MaxConcurrentRequests: options.MaxConcurrentRequests,
            MaxInputLength: model.MaxInputTokens,
            MaxBatchTokens: options.MaxBatchTokens,
            MaxBatchRequests: null,
            MaxClientBatchSize: options.MaxClientBatchSize,
            AutoTruncate: options.AutoTruncate,
            TokenizationWorkers: Environment.ProcessorCount,
            Version: info.Version,
            Sha: null,
            DockerLabel: null,
            // Beyond TEI: every served model, since one server may hold several.
            Models: models.All.Select(m => new InfoModel(m.Name, ServedModel.TaskName(m.Task),
                m.Config.Architectures is { Count: > 0 } a ? a[0] : null, m.MaxInputTokens)).ToArray());
    }

    /// <summary>TEI's names (and sentence-transformers' for the modes TEI lacks).</summary>
    static string PoolingName(PoolingMode mode) => mode switch
    {
        PoolingMode.Cls => "cls",
        PoolingMode.Mean => "mean",
        PoolingMode.Max => "max",
        PoolingMode.MeanSqrtLen => "mean_sqrt_len_tokens",
        _ => mode.ToString(),
    };

    static object ModelType(ServedModel model) => model.Task switch
    {
        ModelTask.FeatureExtraction => new { embedding = new { pooling = PoolingName(((EmbeddingPipeline)model.Pipeline).Pooling) } },
        ModelTask.TextClassification => new
        {
            classifier = new
            {
                id2label = model.Config.Id2Label.ToDictionary(kv => kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv => kv.Value),
                label2id = model.Config.Label2Id,
            },
        },
        _ => new Dictionary<string, object> { [ServedModel.TaskName(model.Task)] = new { } },
    };
}

/// <summary>TEI's token of /tokenize.</summary>
public sealed record SimpleToken(
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] int Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("text")] string Text,
    [property: System.Text.Json.Serialization.JsonPropertyName("special")] bool Special,
    [property: System.Text.Json.Serialization.JsonPropertyName("start")] int? Start,
    [property: System.Text.Json.Serialization.JsonPropertyName("stop")] int? Stop);

/// <summary>The server's version, for /info.</summary>
internal sealed record ModelCallsInfo(string Version);
