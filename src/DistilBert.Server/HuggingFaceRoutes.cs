using System.Text.Json;
using DistilBert.Pipelines;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>
/// The Hugging Face Inference API: <c>POST /models/{name}</c> with <c>{"inputs": ..., "parameters": {...}}</c>, answered as
/// transformers' pipeline of the model's task answers (same field names, same nesting for one input or several).
/// </summary>
internal static class HuggingFaceRoutes
{
    public static async Task<object?> Run(HttpContext context, JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options, string name)
    {
        var model = models.Resolve(name, $"/models/{name}");
        var parameters = RequestBody.Object(body, "parameters");
        bool truncate = RequestBody.Bool(parameters, "truncate", false, "parameters.truncate") ||
                        RequestBody.Bool(parameters, "truncation", false, "parameters.truncation");
        switch (model.Task)
        {
            case ModelTask.FeatureExtraction:
            {
                var texts = RequestBody.StringOrStrings(body, "inputs", out bool single);
                bool normalize = RequestBody.Bool(parameters, "normalize", true, "parameters.normalize");
                var outputs = await Call(texts, null);
                var vectors = outputs.Select(o => TeiRoutes.Vector((EmbeddingOutput)o, normalize)).ToArray();
                return single ? vectors[0] : vectors;
            }
            case ModelTask.TextClassification:
            {
                var (inputs, single) = ClassificationInputs(RequestBody.Required(body, "inputs", "inputs"));
                bool legacy = RequestBody.Field(parameters, "top_k") is null;
                int? topK = legacy ? 1 : RequestBody.Int(parameters, "top_k", "parameters.top_k", min: 1);
                var function = FunctionOf(RequestBody.String(parameters, "function_to_apply", "parameters.function_to_apply"));
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, inputs, "inputs", truncate, new ClassifyGroup(topK, function));
                var labels = outputs.Select(o => ((ClassificationOutput)o).Labels).ToArray();
                // transformers' rules: without top_k a result is one dict, and a single string is wrapped in a list;
                // with top_k a result is a list, and a single string gets its list alone.
                if (legacy) return labels.Select(l => l[0]).ToArray();
                return single ? labels[0] : labels;
            }
            case ModelTask.TokenClassification:
            {
                var texts = RequestBody.StringOrStrings(body, "inputs", out bool single);
                var strategy = StrategyOf(RequestBody.String(parameters, "aggregation_strategy", "parameters.aggregation_strategy"));
                var ignore = RequestBody.Strings(parameters, "ignore_labels", "parameters.ignore_labels");
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "inputs", truncate,
                    new TokenGroup(strategy, TokenGroup.Key(ignore)), windowed: true);
                var entities = outputs.Select(o => ((TokenClassificationOutput)o).Entities).ToArray();
                return single ? entities[0] : entities;
            }
            case ModelTask.QuestionAnswering:
            {
                var (inputs, single) = QuestionInputs(RequestBody.Required(body, "inputs", "inputs"));
                var answerOptions = new AnswerOptions
                {
                    TopK = RequestBody.Int(parameters, "top_k", "parameters.top_k", min: 1) ?? 1,
                    MaxAnswerLength = RequestBody.Int(parameters, "max_answer_len", "parameters.max_answer_len", min: 1) ?? 15,
                    DocStride = RequestBody.Int(parameters, "doc_stride", "parameters.doc_stride", min: 0) ?? 128,
                    MaxSequenceLength = RequestBody.Int(parameters, "max_seq_len", "parameters.max_seq_len", min: 4),
                    HandleImpossibleAnswer = RequestBody.Bool(parameters, "handle_impossible_answer", false, "parameters.handle_impossible_answer"),
                    AlignToWords = RequestBody.Bool(parameters, "align_to_words", true, "parameters.align_to_words"),
                };
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, inputs, "inputs", truncate, answerOptions, windowed: true);
                // transformers: top_k 1 gives the answer itself, more gives a list.
                var answers = outputs.Select(o => ((AnswerOutput)o).Answers).Select(a => answerOptions.TopK == 1 && a.Count == 1 ? (object)a[0] : a).ToArray();
                return single ? answers[0] : answers;
            }
            case ModelTask.FillMask:
            {
                var texts = RequestBody.StringOrStrings(body, "inputs", out bool single);
                int topK = RequestBody.Int(parameters, "top_k", "parameters.top_k", min: 1) ?? 5;
                var targets = RequestBody.Strings(parameters, "targets", "parameters.targets");
                if (targets is { Length: 0 }) throw new ApiException(422, "field 'parameters.targets' is empty", "validation", "parameters.targets");
                var outputs = await ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "inputs", truncate,
                    new FillMaskGroup(topK, targets is null ? null : string.Join('\u001f', targets)));
                // transformers: one [MASK] gives its list of proposals, several give a list per mask.
                var perInput = outputs.Select(o => ((FillMaskOutput)o).Masks).Select(m => m.Count == 1 ? (object)m[0] : m).ToArray();
                return single ? perInput[0] : perInput;
            }
            default:
                throw new ApiException(422, $"model '{name}' does {model.Task}, which this route does not serve", "validation", "model");
        }

        Task<object[]> Call(string[] texts, object? group) =>
            ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "inputs", truncate, group);
    }

    static ScoreFunction? FunctionOf(string? name) => name switch
    {
        null => null,
        "softmax" => ScoreFunction.Softmax,
        "sigmoid" => ScoreFunction.Sigmoid,
        "none" => ScoreFunction.None,
        _ => throw new ApiException(422, $"field 'parameters.function_to_apply' must be softmax, sigmoid or none, got \"{name}\"", "validation", "parameters.function_to_apply"),
    };

    static AggregationStrategy StrategyOf(string? name) => name switch
    {
        null or "none" => AggregationStrategy.None,
        "simple" => AggregationStrategy.Simple,
        "first" => AggregationStrategy.First,
        "average" => AggregationStrategy.Average,
        "max" => AggregationStrategy.Max,
        _ => throw new ApiException(422, $"field 'parameters.aggregation_strategy' must be none, simple, first, average or max, got \"{name}\"",
            "validation", "parameters.aggregation_strategy"),
    };

    /// <summary>A string, a <c>{"text", "text_pair"}</c> object, or an array of either.</summary>
    static (TaskInput[] Inputs, bool Single) ClassificationInputs(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array) return ([ClassificationInput(value, "inputs")], true);
        var inputs = new TaskInput[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray()) { inputs[i] = ClassificationInput(item, $"inputs[{i}]"); i++; }
        return (inputs, false);
    }

    static TaskInput ClassificationInput(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String) return new TaskInput(value.GetString()!);
        if (value.ValueKind == JsonValueKind.Object)
            return new TaskInput(RequestBody.StringValue(RequestBody.Required(value, "text", $"{path}.text"), $"{path}.text"),
                RequestBody.String(value, "text_pair", $"{path}.text_pair"));
        throw new ApiException(400, $"field '{path}' must be a string or an object with 'text' (and 'text_pair'), got {RequestBody.Kind(value)}", "validation", path);
    }

    /// <summary><c>{"question", "context"}</c> or an array of them.</summary>
    static (TaskInput[] Inputs, bool Single) QuestionInputs(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Object) return ([QuestionInput(value, "inputs")], true);
        if (value.ValueKind != JsonValueKind.Array)
            throw new ApiException(400, $"field 'inputs' must be an object with 'question' and 'context' or an array of them, got {RequestBody.Kind(value)}", "validation", "inputs");
        var inputs = new TaskInput[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            string path = $"inputs[{i}]";
            if (item.ValueKind != JsonValueKind.Object)
                throw new ApiException(400, $"field '{path}' must be an object with 'question' and 'context', got {RequestBody.Kind(item)}", "validation", path);
            inputs[i++] = QuestionInput(item, path);
        }
        return (inputs, false);
    }

    static TaskInput QuestionInput(JsonElement value, string path)
    {
        string question = RequestBody.StringValue(RequestBody.Required(value, "question", $"{path}.question"), $"{path}.question");
        string context = RequestBody.StringValue(RequestBody.Required(value, "context", $"{path}.context"), $"{path}.context");
        if (string.IsNullOrWhiteSpace(question)) throw new ApiException(422, $"field '{path}.question' is empty", "validation", $"{path}.question");
        if (string.IsNullOrWhiteSpace(context)) throw new ApiException(422, $"field '{path}.context' is empty", "validation", $"{path}.context");
        return new TaskInput(question, context);
    }
}
