using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using static DistilBert.Server.Tests.ServerFixture;

namespace DistilBert.Server.Tests;

/// <summary>Requests as a careless or hostile client sends them: each gets a clear 4xx JSON answer naming the problem,
/// and the server keeps answering everyone else.</summary>
[Collection(ServerCollection.Name)]
public sealed class ServerBadRequestTests(ServerFixture server)
{
    public static TheoryData<string, string, string, int, string> Cases() => new()
    {
        { "invalid JSON", "/embed", "{\"inputs\": [\"a\",", 400, "malformed JSON" },
        { "not an object", "/predict", "[1, 2]", 400, "must be a JSON object" },
        { "empty body", "/embed", "", 400, "body is empty" },
        { "inputs of the wrong type", "/embed", "{\"inputs\": 42}", 400, "field 'inputs' must be a string or an array of strings, got a number" },
        { "an item of the wrong type", "/embed", "{\"inputs\": [\"a\", 7]}", 400, "field 'inputs[1]' must be a string" },
        { "a boolean of the wrong type", "/predict", "{\"inputs\": \"a\", \"truncate\": \"yes\"}", 400, "field 'truncate' must be a boolean" },
        { "missing inputs", "/predict", "{\"input\": \"a\"}", 400, "field 'inputs' is missing" },
        { "empty inputs", "/embed", "{\"inputs\": []}", 400, "field 'inputs' is empty" },
        { "a predict pair of three", "/predict", "{\"inputs\": [\"a\", \"b\", \"c\"]}", 400, "an array of 3 strings" },
        { "unknown model (HF)", "/models/gpt-9", "{\"inputs\": \"a\"}", 404, "model 'gpt-9' is not served" },
        { "unknown model (TEI field)", "/embed", "{\"inputs\": \"a\", \"model\": \"nope\"}", 404, "model 'nope' is not served" },
        { "a model of another task", "/predict", "{\"inputs\": \"a\", \"model\": \"ner\"}", 422, "/predict needs a text-classification model" },
        { "fill-mask without [MASK]", "/models/mlm", "{\"inputs\": \"no mask here\"}", 422, "no [MASK] token" },
        { "QA without context", "/models/qa", "{\"inputs\": {\"question\": \"who?\"}}", 400, "field 'inputs.context' is missing" },
        { "unknown aggregation", "/models/ner", "{\"inputs\": \"a\", \"parameters\": {\"aggregation_strategy\": \"best\"}}", 422, "aggregation_strategy' must be none, simple" },
        { "negative top_k", "/models/cls", "{\"inputs\": \"a\", \"parameters\": {\"top_k\": 0}}", 422, "parameters.top_k' must be at least 1" },
        { "token id outside the vocabulary", "/decode", "{\"ids\": [101, 99999999]}", 422, "token id 99999999 is outside the vocabulary" },
        { "OpenAI token arrays", "/v1/embeddings", "{\"input\": [[1, 2]], \"model\": \"emb\"}", 400, "token-id arrays are not supported" },
        { "OpenAI wrong dimensions", "/v1/embeddings", "{\"input\": \"a\", \"model\": \"emb\", \"dimensions\": 3}", 400, "16-dimensional vectors, not 3" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsClear4xxJson_AndServerKeepsServing(string what, string path, string body, int status, string message)
    {
        var (code, text, response) = await server.PostAsync(path, body);
        Assert.True(code == status, $"{what}: expected {status}, got {code} {text}");
        var json = JsonDocument.Parse(text).RootElement;
        string error = path.StartsWith("/v1/") ? json.GetProperty("error").GetProperty("message").GetString()! : json.GetProperty("error").GetString()!;
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", text); // never a stack trace
        if (!path.StartsWith("/v1/")) Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await StillServes();
    }

    async Task StillServes()
    {
        var (code, text, _) = await server.PostAsync("/predict", "{\"inputs\": \"still here\"}");
        Assert.True(code == 200, $"the server stopped serving: {code} {text}");
    }

    [Fact]
    public async Task OneMegabyteString_IsRefusedWithItsTokenCount_OrTruncatedWhenAsked()
    {
        string huge = string.Concat(Enumerable.Repeat("word ", 200_000));
        var (code, text, _) = await server.PostAsync("/embed", Body(new { inputs = huge }));
        Assert.Equal(413, code);
        Assert.Contains("has 200002 tokens; the limit is 64", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString());
        var (truncated, vector, _) = await server.PostAsync("/embed", Body(new { inputs = huge, truncate = true }));
        Assert.Equal(200, truncated);
        Assert.Equal(Json(new[] { server.Embedder.Embed(huge) }), Normalise(vector));
        await StillServes();
    }

    [Fact]
    public async Task LongNerTextAndQaContext_AreBoundedInWindows_TheRefusalNamingTokensAndWindows()
    {
        // The test models take 64 tokens; NER and QA run a long input in overlapping windows, at most 64 of them by default.
        string longText = string.Concat(Enumerable.Repeat("word ", 5000));
        var (ner, nerText, _) = await server.PostAsync("/models/ner", Body(new { inputs = new[] { "short", longText } }));
        Assert.True(ner == 413, $"NER: {ner} {nerText}");
        var nerError = JsonDocument.Parse(nerText).RootElement;
        Assert.Equal("inputs[1]", nerError.GetProperty("field").GetString());
        Assert.Matches(@"inputs\[1\] has 5000 tokens, which take \d+ windows of 64 tokens; the limit is 64 windows", nerError.GetProperty("error").GetString());

        var (qa, qaText, _) = await server.PostAsync("/models/qa", Body(new { inputs = new { question = "who?", context = longText } }));
        Assert.True(qa == 413, $"QA: {qa} {qaText}");
        Assert.Matches(@"inputs.context has 5000 tokens, which take \d+ windows of 64 tokens; the limit is 64 windows",
            JsonDocument.Parse(qaText).RootElement.GetProperty("error").GetString());

        // A text of a few windows is still run in windows, as the pipeline runs it.
        string fewWindows = string.Concat(Enumerable.Repeat("Alice went to Paris. ", 40));
        var (ok, okText, _) = await server.PostAsync("/models/ner", Body(new { inputs = fewWindows }));
        Assert.True(ok == 200, $"{ok} {okText}");
        Assert.Equal(Json(server.Tagger.Predict(fewWindows)), Normalise(okText));
        await StillServes();
    }

    [Fact]
    public void WindowCount_IsTheTokenizersOverflowingWindowCount()
    {
        var models = server.App.Services.GetRequiredService<ModelRegistry>();
        var ner = models.Resolve("ner", "test");
        var qa = models.Resolve("qa", "test");
        var tagger = (DistilBert.Pipelines.TokenClassificationPipeline)ner.Pipeline;
        foreach (int words in new[] { 1, 20, 61, 62, 63, 108, 109, 110, 300, 1000 })
        {
            string text = string.Join(' ', Enumerable.Range(0, words).Select(i => i % 3 == 0 ? "word" : "paris"));
            var windowed = new DistilBert.Tokenization.EncodeOptions { MaxLength = ner.MaxInputTokens, Truncation = DistilBert.Tokenization.TruncationStrategy.LongestFirst,
                Stride = tagger.Stride, ReturnOverflowing = true };
            Assert.Equal(1 + ner.Tokenizer.Encode(text, null, windowed).Overflowing.Count, ner.WindowsOf(ner.Tokenizer.Encode(text), null)!.Value.Windows);
            foreach (var (question, maxSeq, stride) in new[] { ("who?", (int?)null, 128), ("where did the people in the text go?", 40, 10), ("why?", 30, 0) })
            {
                var options = new DistilBert.Pipelines.AnswerOptions { MaxSequenceLength = maxSeq, DocStride = stride };
                int length = Math.Min(maxSeq ?? 384, qa.MaxInputTokens);
                var qaWindowed = new DistilBert.Tokenization.EncodeOptions { MaxLength = length, Truncation = DistilBert.Tokenization.TruncationStrategy.OnlySecond,
                    Stride = Math.Min(stride, length / 2), ReturnOverflowing = true };
                Assert.Equal(1 + qa.Tokenizer.Encode(question, text, qaWindowed).Overflowing.Count, qa.WindowsOf(qa.Tokenizer.Encode(question, text), options)!.Value.Windows);
            }
        }
    }

    [Fact]
    public async Task TenThousandInputs_AreRefusedAsTooManyForOneRequest()
    {
        var (code, text, _) = await server.PostAsync("/embed", Body(new { inputs = Enumerable.Repeat("hi", 10_000).ToArray() }));
        Assert.Equal(413, code);
        Assert.Contains("has 10000 inputs; the maximum per request is 32", text);
        await StillServes();
    }

    [Fact]
    public async Task BodyAboveTheSizeLimit_Gets413BeforeItIsRead()
    {
        // Announced as 3 MB: refused from the header, before the server reads (or the client sends) the rest.
        string answer = await RawAsync(server.BaseUrl, "/embed", contentLength: 3 * 1024 * 1024, "{\"inputs\": \"aaaa");
        Assert.StartsWith("HTTP/1.1 413", answer);
        Assert.Contains("the request body is 3145728 bytes; the limit is 2097152", answer);
        await StillServes();
    }

    /// <summary>Writes the headers and part of a body, then stalls: the server answers 408 once its read timeout passes.</summary>
    static Task<string> TrickleAsync(string baseUrl, string path) => RawAsync(baseUrl, path, 1000, "{\"inputs\": \"a");

    /// <summary>Sends the headers (with <paramref name="contentLength"/>) and <paramref name="bodyStart"/>, then reads the answer.</summary>
    static async Task<string> RawAsync(string baseUrl, string path, long contentLength, string bodyStart)
    {
        var uri = new Uri(baseUrl);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        string head = $"POST {path} HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n{bodyStart}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[8192];
        var answer = new StringBuilder();
        while (!answer.ToString().Contains('}'))
        {
            int read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0) break;
            answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        return answer.ToString();
    }

    [Fact]
    public async Task SlowTricklingBody_Gets408Json_WhileOthersAreServed()
    {
        var trickle = TrickleAsync(server.BaseUrl, "/embed");
        await StillServes(); // served while the slow client holds its connection
        string answer = await trickle;
        Assert.StartsWith("HTTP/1.1 408", answer);
        Assert.Contains("did not arrive within 1 s", answer);
        await StillServes();
    }

    [Fact]
    public async Task BeyondMaxConcurrentRequests_Gets429WithRetryAfter()
    {
        using var models = new DistilBert.Tests.PipelineTestModels();
        var options = new DistilBertServerOptions { MaxConcurrentRequests = 1, BodyReadTimeout = TimeSpan.FromSeconds(2) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        var (app, url) = await StartAsync(options);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            // A request being run holds the only slot.
            var runner = app.Services.GetRequiredService<RequestRunner>();
            var held = runner.TryAdmit();
            Assert.NotNull(held);
            var (code, text, response) = await server.PostAsync("/predict", "{\"inputs\": \"a\"}", client);
            Assert.Equal(429, code);
            Assert.Equal("1", response.Headers.RetryAfter?.ToString());
            Assert.Equal("overloaded", JsonDocument.Parse(text).RootElement.GetProperty("error_type").GetString());
            Assert.Contains("limit of 1 concurrent requests", text);
            held.Dispose();
            var (after, _, _) = await server.PostAsync("/predict", "{\"inputs\": \"a\"}", client);
            Assert.Equal(200, after); // the slot is free again
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
