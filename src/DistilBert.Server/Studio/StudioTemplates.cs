using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DistilBert.Pipelines;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server.Studio;

/// <summary>A ready endpoint: the task, the parameters it is pre-filled with, and example inputs.</summary>
internal sealed record StudioTemplate(string Id, string Title, ModelTask Task, string ParametersJson, string[] ExamplesJson)
{
    public JsonElement Parameters => JsonDocument.Parse(ParametersJson).RootElement.Clone();
    public JsonElement[] Examples => ExamplesJson.Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToArray();
}

// Task outputs as the Studio API returns them (camelCase by the Web serializer defaults).
internal sealed record LabelScore(string Label, float Score);
internal sealed record EntitySpan(string EntityGroup, float Score, string? Word, int Start, int End);
internal sealed record AnswerSpan(string? Answer, float Score, int Start, int End);
internal sealed record MaskFill(int Token, string TokenStr, float Score, string Sequence);
internal sealed record Similarity(float[] Scores);

/// <summary>
/// The five templates and what an endpoint of each does: reading its inputs, running them through the served model's
/// batcher (the same path as the model routes), the score the review rule looks at, and a reviewer's correction.
/// </summary>
internal static class StudioTemplates
{
    public static readonly StudioTemplate[] All =
    [
        new("sentiment", "Sentiment", ModelTask.TextClassification, "{}",
            ["\"A gorgeous, witty, seductive movie.\"", "\"The plot is thin and the jokes fall flat.\""]),
        new("entities", "Named entities", ModelTask.TokenClassification, """{"aggregationStrategy":"simple"}""",
            ["\"My name is Clara and I live in Berkeley, California.\"", "\"Ada Lovelace worked with Charles Babbage in London.\""]),
        new("question-answering", "Question answering", ModelTask.QuestionAnswering, """{"maxAnswerLen":15}""",
            ["""{"question":"Where do I live?","context":"My name is Wolfgang and I live in Berlin."}""",
             """{"question":"What does the Studio hold for review?","context":"The Studio holds low-confidence outputs for a human reviewer before the caller gets them."}"""]),
        new("fill-mask", "Fill the blank", ModelTask.FillMask, """{"topK":5}""",
            ["\"Paris is the [MASK] of France.\"", "\"The goal of life is [MASK].\""]),
        new("similarity", "Semantic similarity", ModelTask.FeatureExtraction, "{}",
            ["""{"source":"That is a happy person","sentences":["That is a happy dog","That is a very happy person","Today is a sunny day"]}"""]),
    ];

    public static StudioTemplate? Find(string id) => All.FirstOrDefault(t => t.Id == id);

    static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static JsonElement ToJson(object value) => JsonSerializer.SerializeToElement(value, value.GetType(), Web);

    static ApiException Bad(string path, string message) => new(400, $"field '{path}' {message}", "validation", path);

    // ---- parameters ------------------------------------------------------------------------------------------------

    /// <summary>The template's defaults overridden by <paramref name="given"/>, each field checked (unknown ones refused).</summary>
    public static JsonElement Parameters(StudioTemplate template, JsonElement defaults, JsonElement? given, string path)
    {
        var merged = JsonNode.Parse(defaults.GetRawText())!.AsObject();
        if (given is not { } value) return ToJson(merged);
        if (value.ValueKind != JsonValueKind.Object) throw Bad(path, $"must be an object, got {RequestBody.Kind(value)}");
        foreach (var field in value.EnumerateObject())
        {
            string at = $"{path}.{field.Name}";
            switch (template.Id, field.Name)
            {
                case ("entities", "aggregationStrategy"):
                    if (field.Value.ValueKind != JsonValueKind.String || Strategy(field.Value.GetString()!) is null)
                        throw Bad(at, "must be one of none, simple, first, average, max");
                    break;
                case ("question-answering", "maxAnswerLen"):
                case ("fill-mask", "topK"):
                    if (field.Value.ValueKind != JsonValueKind.Number || !field.Value.TryGetInt32(out int n) || n < 1 || n > 100)
                        throw Bad(at, "must be an integer from 1 to 100");
                    break;
                default:
                    throw Bad(at, $"is not a parameter of the {template.Id} template");
            }
            merged[field.Name] = JsonNode.Parse(field.Value.GetRawText());
        }
        return ToJson(merged);
    }

    static AggregationStrategy? Strategy(string name) => name switch
    {
        "none" => AggregationStrategy.None,
        "simple" => AggregationStrategy.Simple,
        "first" => AggregationStrategy.First,
        "average" => AggregationStrategy.Average,
        "max" => AggregationStrategy.Max,
        _ => null,
    };

    // ---- inputs ----------------------------------------------------------------------------------------------------

    /// <summary>The input's texts, checked for the task's shape; the caller sums their length against maxInputChars.</summary>
    public static string[] Texts(StudioTemplate template, JsonElement inputs)
    {
        const string path = "inputs";
        switch (template.Task)
        {
            case ModelTask.QuestionAnswering:
            {
                if (inputs.ValueKind != JsonValueKind.Object) throw Bad(path, $"must be an object {{question, context}}, got {RequestBody.Kind(inputs)}");
                string question = RequestBody.StringValue(RequestBody.Required(inputs, "question", "inputs.question"), "inputs.question");
                string context = RequestBody.StringValue(RequestBody.Required(inputs, "context", "inputs.context"), "inputs.context");
                if (string.IsNullOrWhiteSpace(question)) throw Bad("inputs.question", "is empty");
                if (string.IsNullOrWhiteSpace(context)) throw Bad("inputs.context", "is empty");
                return [question, context];
            }
            case ModelTask.FeatureExtraction:
            {
                if (inputs.ValueKind != JsonValueKind.Object) throw Bad(path, $"must be an object {{source, sentences}}, got {RequestBody.Kind(inputs)}");
                string source = RequestBody.StringValue(RequestBody.Required(inputs, "source", "inputs.source"), "inputs.source");
                var sentences = RequestBody.Required(inputs, "sentences", "inputs.sentences");
                if (sentences.ValueKind != JsonValueKind.Array) throw Bad("inputs.sentences", $"must be an array of strings, got {RequestBody.Kind(sentences)}");
                var texts = new List<string> { source };
                int i = 0;
                foreach (var sentence in sentences.EnumerateArray()) texts.Add(RequestBody.StringValue(sentence, $"inputs.sentences[{i++}]"));
                if (i == 0) throw Bad("inputs.sentences", "is empty: send at least one sentence");
                return texts.ToArray();
            }
            default:
                if (inputs.ValueKind != JsonValueKind.String) throw Bad(path, $"must be a string, got {RequestBody.Kind(inputs)}");
                if (string.IsNullOrWhiteSpace(inputs.GetString())) throw Bad(path, "is empty");
                return [inputs.GetString()!];
        }
    }

    static readonly Regex Email = new(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+", RegexOptions.Compiled);
    static readonly Regex Digits = new(@"\d+", RegexOptions.Compiled);

    /// <summary>Inputs as stored under <c>storeInputs: masked</c>: e-mail addresses become <c>*</c> and digit runs <c>#</c>,
    /// character for character, so the entity and answer offsets of the output still point at the same places.</summary>
    public static JsonElement Mask(JsonElement inputs)
    {
        static string MaskText(string text) =>
            Digits.Replace(Email.Replace(text, m => new string('*', m.Length)), m => new string('#', m.Length));
        JsonNode? Walk(JsonNode? node) => node switch
        {
            JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Walk(p.Value)))),
            JsonArray a => new JsonArray(a.Select(Walk).ToArray()),
            JsonValue v when v.GetValueKind() == JsonValueKind.String => JsonValue.Create(MaskText(v.GetValue<string>())),
            _ => node?.DeepClone(),
        };
        return ToJson(Walk(JsonNode.Parse(inputs.GetRawText()))!);
    }

    // ---- running ---------------------------------------------------------------------------------------------------

    /// <summary>Runs the inputs through the model's batcher; the output in the task's shape and the score the review rule
    /// compares with the threshold (null for fill-mask and similarity, which are only audited, and for no entity).</summary>
    public static async Task<(object Output, double? ReviewScore)> RunAsync(HttpContext context, RequestLog entry, DistilBertServerOptions options,
        ServedModel model, StudioTemplate template, string[] texts, JsonElement parameters)
    {
        switch (template.Task)
        {
            case ModelTask.TextClassification:
            {
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, [new TaskInput(texts[0])], "inputs", false, new ClassifyGroup(null, null));
                var labels = ((ClassificationOutput)outputs[0]).Labels.OrderByDescending(l => l.Score).Select(l => new LabelScore(l.Label, l.Score)).ToArray();
                return (labels, labels.Length == 0 ? null : labels[0].Score);
            }
            case ModelTask.TokenClassification:
            {
                var strategy = Strategy(parameters.TryGetProperty("aggregationStrategy", out var s) ? s.GetString()! : "simple")!.Value;
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, [new TaskInput(texts[0])], "inputs", false,
                    new TokenGroup(strategy, null), windowed: true);
                var entities = ((TokenClassificationOutput)outputs[0]).Entities.Select(e => new EntitySpan(e.Label, e.Score, e.Word, e.Start, e.End)).ToArray();
                return (entities, entities.Length == 0 ? null : entities.Min(e => e.Score));
            }
            case ModelTask.QuestionAnswering:
            {
                var answerOptions = new AnswerOptions { MaxAnswerLength = parameters.TryGetProperty("maxAnswerLen", out var m) ? m.GetInt32() : 15 };
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, [new TaskInput(texts[0], texts[1])], "inputs", false, answerOptions, windowed: true);
                var best = ((AnswerOutput)outputs[0]).Answers.FirstOrDefault();
                var answer = best is null ? new AnswerSpan("", 0, 0, 0) : new AnswerSpan(best.Answer, best.Score, best.Start, best.End);
                return (answer, answer.Score);
            }
            case ModelTask.FillMask:
            {
                int topK = parameters.TryGetProperty("topK", out var k) ? k.GetInt32() : 5;
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, [new TaskInput(texts[0])], "inputs", false, new FillMaskGroup(topK, null));
                var masks = ((FillMaskOutput)outputs[0]).Masks;
                if (masks.Count != 1)
                    throw new ApiException(422, $"field 'inputs' has {masks.Count} {model.Tokenizer.Vocab.Special.Mask} tokens; the fill-mask template fills exactly one",
                        "validation", "inputs");
                return (masks[0].Select(r => new MaskFill(r.Token, r.TokenStr, r.Score, r.Sequence)).ToArray(), null);
            }
            case ModelTask.FeatureExtraction:
            {
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "inputs", false, null);
                var vectors = outputs.Select(o => ((EmbeddingOutput)o).Vector).ToArray();
                return (new Similarity(vectors.Skip(1).Select(v => Cosine(vectors[0], v)).ToArray()), null);
            }
            default:
                throw new InvalidOperationException($"no Studio runner for {template.Task}");
        }
    }

    static float Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0f : (float)(dot / Math.Sqrt(na * nb));
    }

    // ---- corrections -----------------------------------------------------------------------------------------------

    /// <summary>A reviewer's correction turned into the task's output shape (what the held caller then receives), checked
    /// against the item's inputs when they were stored. <paramref name="labels"/>: the served model's labels, when known.</summary>
    public static object Correction(StudioTemplate template, JsonElement? inputs, JsonElement given, IReadOnlyList<string>? labels)
    {
        const string path = "output";
        switch (template.Task)
        {
            case ModelTask.TextClassification:
            {
                if (given.ValueKind != JsonValueKind.Object) throw Bad(path, "must be an object {label}");
                string label = RequestBody.StringValue(RequestBody.Required(given, "label", "output.label"), "output.label");
                if (labels is not null && !labels.Contains(label))
                    throw new ApiException(422, $"field 'output.label' is '{label}', not a label of the model ({string.Join(", ", labels)})", "validation", "output.label");
                if (string.IsNullOrWhiteSpace(label)) throw Bad("output.label", "is empty");
                return new[] { new LabelScore(label, 1f) };
            }
            case ModelTask.TokenClassification:
            {
                if (given.ValueKind != JsonValueKind.Array) throw Bad(path, "must be an array of {entityGroup, start, end}");
                string? text = inputs is { ValueKind: JsonValueKind.String } t ? t.GetString() : null;
                var spans = new List<EntitySpan>();
                int i = 0;
                foreach (var item in given.EnumerateArray())
                {
                    string at = $"output[{i++}]";
                    if (item.ValueKind != JsonValueKind.Object) throw Bad(at, "must be an object {entityGroup, start, end}");
                    string group = RequestBody.StringValue(RequestBody.Required(item, "entityGroup", $"{at}.entityGroup"), $"{at}.entityGroup");
                    if (string.IsNullOrWhiteSpace(group)) throw Bad($"{at}.entityGroup", "is empty");
                    var (start, end) = Span(item, at, text?.Length);
                    spans.Add(new EntitySpan(group, 1f, text?[start..end], start, end));
                }
                return spans.OrderBy(s => s.Start).ToArray();
            }
            case ModelTask.QuestionAnswering:
            {
                if (given.ValueKind != JsonValueKind.Object) throw Bad(path, "must be an object {start, end}");
                string? contextText = inputs is { ValueKind: JsonValueKind.Object } q && q.TryGetProperty("context", out var c) ? c.GetString() : null;
                var (start, end) = Span(given, path, contextText?.Length);
                return new AnswerSpan(contextText?[start..end], 1f, start, end);
            }
            default:
                throw new ApiException(422, $"the {template.Id} template has no correction: accept the output instead", "validation", "action");
        }
    }

    static (int Start, int End) Span(JsonElement item, string at, int? length)
    {
        int start = Offset(item, "start", at), end = Offset(item, "end", at);
        if (end <= start) throw Bad($"{at}.end", $"must be greater than start ({start}), got {end}");
        if (length is { } n && end > n) throw Bad($"{at}.end", $"is {end}, beyond the text's {n} characters");
        return (start, end);
    }

    static int Offset(JsonElement item, string name, string at)
    {
        var value = RequestBody.Required(item, name, $"{at}.{name}");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int offset) || offset < 0)
            throw Bad($"{at}.{name}", "must be a non-negative integer character offset");
        return offset;
    }
}
