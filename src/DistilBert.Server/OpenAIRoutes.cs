using System.Runtime.InteropServices;
using System.Text.Json;
using DistilBert.Pipelines;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>OpenAI's <c>POST /v1/embeddings</c> with its request and response shapes, so OpenAI SDKs, Microsoft.Extensions.AI,
/// Semantic Kernel and LangChain clients work unchanged (vectors are L2-normalised, as OpenAI's are).</summary>
internal static class OpenAIRoutes
{
    public static async Task<object?> Embeddings(HttpContext context, JsonElement body, RequestLog entry, ModelRegistry models, DistilBertServerOptions options)
    {
        var model = models.Resolve(RequestBody.String(body, "model"), "/v1/embeddings", ModelTask.FeatureExtraction);
        var input = RequestBody.Required(body, "input", "input");
        if (input.ValueKind == JsonValueKind.Array && input.GetArrayLength() > 0 && input[0].ValueKind is JsonValueKind.Number or JsonValueKind.Array)
            throw new ApiException(400, "field 'input': token-id arrays are not supported (they would be another tokenizer's ids); send strings", "validation", "input");
        var texts = RequestBody.StringOrStrings(body, "input", out _);
        string format = RequestBody.String(body, "encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw new ApiException(400, $"field 'encoding_format' must be \"float\" or \"base64\", got \"{format}\"", "validation", "encoding_format");
        int dimensions = model.Config.HiddenSize;
        if (RequestBody.Int(body, "dimensions") is { } asked && asked != dimensions)
            throw new ApiException(400, $"field 'dimensions': model '{model.Name}' gives {dimensions}-dimensional vectors, not {asked}", "validation", "dimensions");
        _ = RequestBody.String(body, "user");
        var outputs = await ModelCalls.RunAsync(context, entry, options, model, texts.Select(t => new TaskInput(t)).ToArray(), "input", truncate: false, group: null);
        int tokens = 0;
        var data = new OpenAIEmbedding[outputs.Length];
        for (int i = 0; i < outputs.Length; i++)
        {
            var output = (EmbeddingOutput)outputs[i];
            tokens += output.Tokens;
            var vector = TeiRoutes.Vector(output, normalize: true);
            // base64: the little-endian float32 bytes, as OpenAI sends them (its SDKs ask for this by default).
            object embedding = format == "base64" ? Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan())) : vector;
            data[i] = new OpenAIEmbedding("embedding", i, embedding);
        }
        return new OpenAIEmbeddingsResponse("list", data, model.Name, new OpenAIUsage(tokens, tokens));
    }
}
