using System.Text.Json;

namespace DistilBert.Server.Tests;

/// <summary>The OpenAPI document describes every route with typed request and response schemas, read from the served document.</summary>
[Collection(ServerCollection.Name)]
public sealed class ServerOpenApiTests(ServerFixture server)
{
    public static TheoryData<string, string, string[], string[]> Routes() => new()
    {
        // route, method, request fields, response fields (of the answer object, or of the items of an answer array)
        { "/embed", "post", ["inputs", "truncate", "normalize", "model"], [] },
        { "/predict", "post", ["inputs", "truncate", "raw_scores", "model"], ["label", "score"] },
        { "/tokenize", "post", ["inputs", "add_special_tokens", "model"], ["id", "text", "special", "start", "stop"] },
        { "/decode", "post", ["ids", "skip_special_tokens", "model"], [] },
        { "/v1/embeddings", "post", ["input", "model", "encoding_format", "dimensions", "user"], ["object", "data", "model", "usage"] },
        { "/models/{name}", "post", ["inputs", "parameters"], [] },
        { "/info", "get", [], ["model_id", "model_type", "max_input_length", "max_batch_tokens", "max_client_batch_size", "models"] },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task EveryRoute_HasTypedRequestAndResponseSchemas(string route, string method, string[] requestFields, string[] responseFields)
    {
        var document = JsonDocument.Parse(await server.Client.GetStringAsync("/openapi/distilbert.json")).RootElement;
        var operation = document.GetProperty("paths").GetProperty(route).GetProperty(method);
        if (requestFields.Length > 0)
        {
            var request = Resolve(document, operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
            var properties = request.GetProperty("properties");
            foreach (var field in requestFields) Assert.True(properties.TryGetProperty(field, out _), $"{route}: request field '{field}' is not described");
        }

        var answer = Resolve(document, operation.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        Assert.True(answer.TryGetProperty("type", out _) || answer.TryGetProperty("oneOf", out _) || answer.TryGetProperty("anyOf", out _),
            $"{route}: the 200 answer has no schema: {answer}");
        if (route == "/models/{name}") // one shape per task: classification, entities, an answer, fill-mask proposals, a vector
            Assert.Equal(5, answer.GetProperty("oneOf").GetArrayLength());
        if (responseFields.Length > 0)
        {
            // Items of an array answer (TEI's /predict and /tokenize answer lists).
            while (answer.TryGetProperty("items", out var items)) answer = Resolve(document, items);
            var properties = answer.GetProperty("properties");
            foreach (var field in responseFields) Assert.True(properties.TryGetProperty(field, out _), $"{route}: answer field '{field}' is not described");
        }

        if (method == "post")
            foreach (var status in new[] { "400", "413", "429" })
            {
                var error = operation.GetProperty("responses").GetProperty(status).GetProperty("content");
                var schema = Resolve(document, (error.TryGetProperty("application/problem+json", out var problem) ? problem : error.GetProperty("application/json")).GetProperty("schema"));
                Assert.True(schema.GetProperty("properties").TryGetProperty(route == "/v1/embeddings" ? "error" : "detail", out _), $"{route} {status}: {schema}");
            }
    }

    static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!["#/components/schemas/".Length..];
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(name);
        }
        return schema;
    }
}
