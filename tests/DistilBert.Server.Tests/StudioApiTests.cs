using System.Text.Json.Nodes;
using DistilBert.Pipelines;
using static System.Net.Http.HttpMethod;

namespace DistilBert.Server.Tests;

/// <summary>The Studio API over a real server: templates, endpoints, runs of each task, policies, review, shares.</summary>
public sealed partial class StudioApiTests(StudioFixture studio) : IClassFixture<StudioFixture>
{
    const string Api = "/studio/api";
    static readonly object Never = new { threshold = 0.0 }; // no output scores below 0: nothing is held
    static readonly object Always = new { threshold = 1.0, mode = "hold" }; // every random-model output scores below 1

    [Fact]
    public async Task Templates_ListTheFive_EachWithTheFirstServedModelOfItsTask()
    {
        var response = await studio.Call(Get, $"{Api}/templates", studio.AdminKey);
        Assert.Equal(200, response.Status);
        var templates = response.Json!.AsArray();
        Assert.Equal(["sentiment", "entities", "question-answering", "fill-mask", "similarity"], templates.Select(t => t!["id"]!.GetValue<string>()));
        Assert.Equal(["cls", "ner", "qa", "mlm", "emb"], templates.Select(t => t!["model"]!.GetValue<string>()));
        Assert.All(templates, t => Assert.True(t!["available"]!.GetValue<bool>()));
        Assert.Equal("question", templates[2]!["examples"]![0]!.AsObject().First().Key);
        Assert.NotNull(templates[4]!["examples"]![0]!["sentences"]);
    }

    [Fact]
    public async Task CreateEndpoint_ReturnsItsKeysOnce_AndTheDatabaseHoldsOnlyTheirHashes()
    {
        string name = studio.NewName("keys");
        var (caller, reviewer, endpoint) = await studio.CreateAsync(name, "sentiment", new { callerKeys = 1, rateLimitPerMinute = 30, storeInputs = "on" });
        Assert.StartsWith("dbk_", caller);
        Assert.Equal(4 + 43, caller.Length); // 32 bytes in base64url without padding
        Assert.Equal(30, endpoint["security"]!["rateLimitPerMinute"]!.GetValue<int>());
        Assert.Equal("cls", endpoint["model"]!.GetValue<string>());
        var got = await studio.Call(Get, $"{Api}/endpoints/{name}", studio.AdminKey);
        Assert.Equal(200, got.Status);
        Assert.DoesNotContain("dbk_", got.Body);

        // Read the file itself (WAL included): the keys are nowhere, their SHA-256 hashes are.
        string raw = ReadAll(studio.DatabasePath) + ReadAll(studio.DatabasePath + "-wal");
        Assert.DoesNotContain(caller, raw);
        Assert.DoesNotContain(reviewer, raw);
        Assert.Contains(DistilBert.Server.Studio.StudioKeys.Hash(caller), raw);
    }

    static string ReadAll(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream, System.Text.Encoding.Latin1);
        return reader.ReadToEnd();
    }

    [Theory]
    [InlineData("""{"name":"<script>alert(1)</script>","template":"sentiment"}""", 400, "'name'")]
    [InlineData("""{"name":"Upper","template":"sentiment"}""", 400, "'name'")]
    [InlineData("""{"name":"ok-name","template":"translation"}""", 400, "'template'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","security":{"rateLimitPerMinute":0}}""", 400, "'security.rateLimitPerMinute'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","security":{"storeInputs":"sometimes"}}""", 400, "'security.storeInputs'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","security":{"rateLimit":5}}""", 400, "'security.rateLimit'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","review":{"threshold":1.5}}""", 400, "'review.threshold'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","review":{"mode":"wait"}}""", 400, "'review.mode'")]
    [InlineData("""{"name":"ok-name","template":"fill-mask","parameters":{"topK":"five"}}""", 400, "'parameters.topK'")]
    [InlineData("""{"name":"ok-name","template":"sentiment","model":"ner"}""", 422, "model 'ner' does token-classification")]
    public async Task CreateEndpoint_RefusesBadFields_NamingTheJsonPath(string body, int status, string detail)
    {
        var response = await studio.Call(Post, $"{Api}/endpoints", studio.AdminKey, body);
        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.Message.Content.Headers.ContentType!.MediaType);
        Assert.Contains(detail, response.Detail);
        Assert.Equal(404, (await studio.Call(Get, $"{Api}/endpoints/ok-name", studio.AdminKey)).Status);
    }

    [Fact]
    public async Task CreateEndpoint_ATakenName_Is409()
    {
        string name = studio.NewName("taken");
        await studio.CreateAsync(name, "sentiment");
        var again = await studio.Call(Post, $"{Api}/endpoints", studio.AdminKey, new { name, template = "entities" });
        Assert.Equal(409, again.Status);
        Assert.Contains(name, again.Detail);
    }

    [Fact]
    public async Task Run_EachTemplate_AnswersInItsTasksShape_AsTheLibraryPipeline()
    {
        const string text = "My name is Clara and I live in Berkeley.";
        var (caller, _, _) = await studio.CreateAsync(studio.NewName("sent"), "sentiment", review: Never);
        var expected = TextClassificationPipeline.Load(studio.Models.Classifier).Predict(text, topK: null).OrderByDescending(l => l.Score).ToArray();
        var output = await RunOk(caller, "sent", new { inputs = text });
        Assert.Equal(expected.Select(l => l.Label), output.AsArray().Select(l => l!["label"]!.GetValue<string>()));
        Assert.Equal(expected.Select(l => l.Score), output.AsArray().Select(l => l!["score"]!.GetValue<float>()));

        (caller, _, _) = await studio.CreateAsync(studio.NewName("ner"), "entities", review: Never);
        var entities = TokenClassificationPipeline.Load(studio.Models.Tagger).Predict(text, AggregationStrategy.Simple);
        output = await RunOk(caller, "ner", new { inputs = text });
        Assert.Equal(entities.Select(e => (e.EntityGroup!, e.Start, e.End)),
            output.AsArray().Select(e => (e!["entityGroup"]!.GetValue<string>(), e["start"]!.GetValue<int>(), e["end"]!.GetValue<int>())));

        (caller, _, _) = await studio.CreateAsync(studio.NewName("qa"), "question-answering", review: Never);
        var answer = QuestionAnsweringPipeline.Load(studio.Models.Reader).Predict("Where do I live?", text)[0];
        output = await RunOk(caller, "qa", new { inputs = new { question = "Where do I live?", context = text } });
        Assert.Equal((answer.Answer, answer.Start, answer.End, answer.Score),
            (output["answer"]!.GetValue<string>(), output["start"]!.GetValue<int>(), output["end"]!.GetValue<int>(), output["score"]!.GetValue<float>()));

        (caller, _, _) = await studio.CreateAsync(studio.NewName("mask"), "fill-mask", review: Never, parameters: new { topK = 3 });
        var fills = FillMaskPipeline.Load(studio.Models.MaskedLm).Predict("Paris is the [MASK] of France.", topK: 3)[0];
        output = await RunOk(caller, "mask", new { inputs = "Paris is the [MASK] of France." });
        Assert.Equal(fills.Select(f => (f.Token, f.TokenStr)), output.AsArray().Select(f => (f!["token"]!.GetValue<int>(), f["tokenStr"]!.GetValue<string>())));

        (caller, _, _) = await studio.CreateAsync(studio.NewName("sim"), "similarity", review: Never);
        var embedder = EmbeddingPipeline.Load(studio.Models.Classifier);
        string[] sentences = ["I live in Berkeley.", "Clara", "a totally different sentence"];
        var vectors = embedder.Embed([text, .. sentences]).Select(o => o.Vector).ToArray();
        output = await RunOk(caller, "sim", new { inputs = new { source = text, sentences } });
        var scores = output["scores"]!.AsArray().Select(s => s!.GetValue<float>()).ToArray();
        Assert.Equal(3, scores.Length);
        for (int i = 0; i < 3; i++) Assert.Equal(Cosine(vectors[0], vectors[i + 1]), scores[i], 4);
    }

    static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    async Task<JsonNode> RunOk(string key, string stem, object body)
    {
        string name = (await studio.Call(Get, $"{Api}/endpoints", studio.AdminKey)).Json!.AsArray()
            .Select(e => e!["name"]!.GetValue<string>()).Last(n => n.StartsWith(stem + "-"));
        var response = await studio.Call(Post, $"{Api}/endpoints/{name}/run", key, body);
        Assert.True(response.Status == 200, response.Body);
        Assert.Null(response.Json!["review"]);
        return response.Json["output"]!;
    }

    [Theory]
    [InlineData("question-answering", """{"inputs":"just a string"}""", "'inputs'")]
    [InlineData("question-answering", """{"inputs":{"question":"q?"}}""", "'inputs.context'")]
    [InlineData("similarity", """{"inputs":{"source":"a","sentences":["b",3]}}""", "'inputs.sentences[1]'")]
    [InlineData("sentiment", """{"inputs":["a","b"]}""", "'inputs'")]
    [InlineData("sentiment", """{"inputs":"fine","parameters":{"topK":2}}""", "'parameters.topK'")]
    public async Task Run_RefusesInputsOfTheWrongShape_NamingTheField(string template, string body, string field)
    {
        string name = studio.NewName("shape");
        var (caller, _, _) = await studio.CreateAsync(name, template, review: Never);
        var response = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, body);
        Assert.Equal(400, response.Status);
        Assert.Contains(field, response.Detail);
    }

    [Fact]
    public async Task Run_OverMaxInputChars_Is413_AndOverTheRateLimit_Is429WithRetryAfter()
    {
        string name = studio.NewName("limits");
        var (caller, _, _) = await studio.CreateAsync(name, "question-answering", new { rateLimitPerMinute = 2, maxInputChars = 30 }, Never);
        var tooLong = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller,
            new { inputs = new { question = "Where?", context = "a context that is longer than the limit" } });
        Assert.Equal(413, tooLong.Status);
        Assert.Contains("at most 30", tooLong.Detail);
        Assert.Equal(200, (await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = new { question = "Where?", context = "in Berlin" } })).Status);
        var limited = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = new { question = "Where?", context = "in Berlin" } });
        Assert.Equal(429, limited.Status);
        int retry = int.Parse(limited.Message.Headers.GetValues("Retry-After").Single());
        Assert.InRange(retry, 1, 60);
        // The limit is per key: the admin key still runs the endpoint.
        Assert.Equal(200, (await studio.Call(Post, $"{Api}/endpoints/{name}/run", studio.AdminKey, new { inputs = new { question = "Where?", context = "in Berlin" } })).Status);
    }

    [Fact]
    public async Task Hold_ThenReviewerCorrects_AndTheHeldCallerReceivesTheCorrection()
    {
        string name = studio.NewName("hold");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "sentiment", new { storeInputs = "on" }, Always);
        const string text = "<script>alert('x')</script> what a film";
        var held = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = text });
        Assert.Equal(202, held.Status);
        string id = held.Json!["review"]!["id"]!.GetValue<string>();
        Assert.Equal($"/studio/api/results/{id}", held.Json["review"]!["resultUrl"]!.GetValue<string>());
        Assert.Null(held.Json["output"]);

        var pending = await studio.Call(Get, $"/studio/api/results/{id}", caller);
        Assert.Equal(202, pending.Status);
        Assert.Equal("pending", pending.Json!["status"]!.GetValue<string>());

        var queue = await studio.Call(Get, $"{Api}/endpoints/{name}/reviews?status=pending", reviewer);
        Assert.Equal(200, queue.Status);
        var item = Assert.Single(queue.Json!.AsArray())!;
        Assert.Equal(id, item["id"]!.GetValue<string>());
        Assert.Equal(text, item["inputs"]!.GetValue<string>()); // a plain JSON string, returned as sent
        Assert.Equal("low-score", item["reason"]!.GetValue<string>());
        string modelLabel = item["output"]![0]!["label"]!.GetValue<string>();
        string other = modelLabel == "POSITIVE" ? "NEGATIVE" : "POSITIVE";

        Assert.Equal(422, (await studio.Call(Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "correct", output = new { label = "MAYBE" } })).Status);
        var decided = await studio.Call(Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "correct", output = new { label = other } });
        Assert.Equal(200, decided.Status);
        Assert.Equal("corrected", decided.Json!["status"]!.GetValue<string>());
        var twice = await studio.Call(Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "accept" });
        Assert.Equal(409, twice.Status);

        var final = await studio.Call(Get, $"/studio/api/results/{id}", caller);
        Assert.Equal(200, final.Status);
        Assert.Equal("corrected", final.Json!["status"]!.GetValue<string>());
        Assert.Equal(other, final.Json["output"]![0]!["label"]!.GetValue<string>());
        Assert.Empty((await studio.Call(Get, $"{Api}/endpoints/{name}/reviews", reviewer)).Json!.AsArray());
        Assert.Single((await studio.Call(Get, $"{Api}/endpoints/{name}/reviews?status=corrected", reviewer)).Json!.AsArray());
    }

    [Fact]
    public async Task Flag_AnswersWithTheOutputAndAPendingReview_AndAcceptGivesTheModelsOutput()
    {
        string name = studio.NewName("flag");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "question-answering", review: new { threshold = 1.0, mode = "flag" });
        var flagged = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = new { question = "Where?", context = "I live in Berlin." } });
        Assert.Equal(200, flagged.Status);
        Assert.Equal("pending", flagged.Json!["review"]!["status"]!.GetValue<string>());
        string id = flagged.Json["review"]!["id"]!.GetValue<string>();
        Assert.Equal(200, (await studio.Call(Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "accept" })).Status);
        var final = await studio.Call(Get, $"/studio/api/results/{id}", caller);
        Assert.Equal("accepted", final.Json!["status"]!.GetValue<string>());
        Assert.Equal(ServerFixture.Normalise(flagged.Json["output"]!.ToJsonString()), ServerFixture.Normalise(final.Json["output"]!.ToJsonString()));
    }

    [Fact]
    public async Task AuditRate_One_HoldsEvenConfidentOutputs_AsAudit_AndAReviewDisabledEndpointHoldsNothing()
    {
        string name = studio.NewName("audit");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "fill-mask", review: new { threshold = 1.0, auditRate = 1.0, mode = "flag" });
        var run = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = "Paris is the [MASK] of France." });
        Assert.Equal(200, run.Status);
        var item = Assert.Single((await studio.Call(Get, $"{Api}/endpoints/{name}/reviews", reviewer)).Json!.AsArray())!;
        Assert.Equal("audit", item["reason"]!.GetValue<string>()); // fill-mask has no score rule: audit only

        string off = studio.NewName("off");
        (caller, _, _) = await studio.CreateAsync(off, "sentiment", review: new { enabled = false, threshold = 1.0, auditRate = 1.0 });
        var plain = await studio.Call(Post, $"{Api}/endpoints/{off}/run", caller, new { inputs = "fine" });
        Assert.Equal(200, plain.Status);
        Assert.Null(plain.Json!["review"]);
    }

    [Theory]
    [InlineData("off", null)]
    [InlineData("masked", "write to ************ or call ### ####, ref ## (masked)")]
    [InlineData("on", "write to ann@mail.org or call 555 1234, ref 42 (on)")]
    public async Task StoreInputs_KeepsNothing_MaskedOrAll(string storeInputs, string? stored)
    {
        string name = studio.NewName("store");
        // Audit every output: a random tagger may find no entity, whose score would hold nothing.
        var (caller, reviewer, _) = await studio.CreateAsync(name, "entities", new { storeInputs }, new { threshold = 1.0, auditRate = 1.0 });
        Assert.Equal(202, (await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = $"write to ann@mail.org or call 555 1234, ref 42 ({storeInputs})" })).Status);
        var item = Assert.Single((await studio.Call(Get, $"{Api}/endpoints/{name}/reviews", reviewer)).Json!.AsArray())!;
        Assert.Equal(stored, item["inputs"]?.GetValue<string>());
        Assert.NotNull(item["output"]);
        if (stored is null)
            Assert.DoesNotContain("ref 42 (off)", ReadAll(studio.DatabasePath + "-wal") + ReadAll(studio.DatabasePath));
    }

    [Fact]
    public async Task Scopes_AnAttackerGetsNothing_NoKey_CallerOnAdminRoutes_KeysOfAnotherEndpoint()
    {
        string a = studio.NewName("alpha"), b = studio.NewName("beta");
        var (callerA, reviewerA, _) = await studio.CreateAsync(a, "sentiment", new { storeInputs = "on" }, Always);
        var (callerB, _, _) = await studio.CreateAsync(b, "sentiment", new { storeInputs = "on" }, Always);
        var heldB = await studio.Call(Post, $"{Api}/endpoints/{b}/run", callerB, new { inputs = "beta's secret text" });
        string itemB = heldB.Json!["review"]!["id"]!.GetValue<string>();

        // No key, a made-up key.
        foreach (var key in new[] { null, "dbk_not-a-real-key" })
        {
            Assert.Equal(401, (await studio.Call(Get, $"{Api}/endpoints", key)).Status);
            Assert.Equal(401, (await studio.Call(Post, $"{Api}/endpoints/{a}/run", key, new { inputs = "x" })).Status);
            Assert.Equal(401, (await studio.Call(Get, $"{Api}/endpoints/{b}/reviews", key)).Status);
        }
        // A caller key on admin routes.
        Assert.Equal(403, (await studio.Call(Get, $"{Api}/templates", callerA)).Status);
        Assert.Equal(403, (await studio.Call(Get, $"{Api}/endpoints", callerA)).Status);
        Assert.Equal(403, (await studio.Call(Post, $"{Api}/endpoints", callerA, new { name = "evil", template = "sentiment" })).Status);
        Assert.Equal(403, (await studio.Call(Delete, $"{Api}/endpoints/{b}", callerA)).Status);
        Assert.Equal(403, (await studio.Call(Post, $"{Api}/endpoints/{a}/shares", callerA)).Status);
        Assert.Equal(403, (await studio.Call(Get, $"{Api}/endpoints/{a}/reviews", callerA)).Status);
        Assert.Equal(403, (await studio.Call(Post, $"{Api}/endpoints/{a}/run", reviewerA, new { inputs = "x" })).Status);

        // Keys of endpoint A on endpoint B: the same 404 as a name that does not exist, and nothing of B in it.
        var missing = await studio.Call(Post, $"{Api}/endpoints/no-such-endpoint/run", callerA, new { inputs = "x" });
        var crossRun = await studio.Call(Post, $"{Api}/endpoints/{b}/run", callerA, new { inputs = "x" });
        Assert.Equal(404, crossRun.Status);
        Assert.Equal(missing.Detail.Replace("no-such-endpoint", b), crossRun.Detail);
        var crossQueue = await studio.Call(Get, $"{Api}/endpoints/{b}/reviews", reviewerA);
        Assert.Equal(404, crossQueue.Status);
        Assert.DoesNotContain("secret", crossQueue.Body);
        Assert.Equal(404, (await studio.Call(Get, $"{Api}/endpoints/{b}/export?format=tsv", reviewerA)).Status);
        Assert.Equal(404, (await studio.Call(Get, $"/studio/api/results/{itemB}", callerA)).Status);
        var crossDecision = await studio.Call(Post, $"{Api}/reviews/{itemB}/decision", reviewerA, new { action = "accept" });
        Assert.Equal(404, crossDecision.Status);
        Assert.Equal("pending", (await studio.Call(Get, $"/studio/api/results/{itemB}", callerB)).Json!["status"]!.GetValue<string>());

        // The server's model routes' keys are not the Studio's: an admin key is no use there without --api-keys, and the
        // Studio answers its own 401 whatever --api-keys says.
        Assert.Equal(401, (await studio.Call(Get, $"{Api}/endpoints", "Bearer-less")).Status);
    }

    [Fact]
    public async Task Shares_WorkWithoutAKey_NeverHold_AndStopWorkingOnceRevoked()
    {
        string name = studio.NewName("shared");
        var (_, reviewer, _) = await studio.CreateAsync(name, "sentiment", new { storeInputs = "on" }, Always);
        var created = await studio.Call(Post, $"{Api}/endpoints/{name}/shares", studio.AdminKey);
        Assert.Equal(201, created.Status);
        string token = created.Json!["token"]!.GetValue<string>();
        Assert.Equal($"/studio/share/{token}", created.Json["url"]!.GetValue<string>());
        Assert.Single((await studio.Call(Get, $"{Api}/endpoints/{name}/shares", studio.AdminKey)).Json!.AsArray());

        var view = await studio.Call(Get, $"{Api}/share/{token}", null);
        Assert.Equal(200, view.Status);
        Assert.Equal(name, view.Json!["name"]!.GetValue<string>());
        Assert.Equal("text-classification", view.Json["task"]!.GetValue<string>());
        Assert.NotEmpty(view.Json["examples"]!.AsArray());
        Assert.Null(view.Json["security"]);

        var run = await studio.Call(Post, $"{Api}/share/{token}/run", null, new { inputs = "shared secret sentence" });
        Assert.Equal(200, run.Status); // the endpoint holds every output, but never a shared run's
        Assert.NotNull(run.Json!["output"]);
        Assert.Null(run.Json["review"]);
        Assert.Empty((await studio.Call(Get, $"{Api}/endpoints/{name}/reviews?status=all", reviewer)).Json!.AsArray());

        Assert.Equal(204, (await studio.Call(Delete, $"{Api}/shares/{token}", studio.AdminKey)).Status);
        Assert.Equal(404, (await studio.Call(Get, $"{Api}/share/{token}", null)).Status);
        Assert.Equal(404, (await studio.Call(Post, $"{Api}/share/{token}/run", null, new { inputs = "again" })).Status);
        Assert.Equal(404, (await studio.Call(Delete, $"{Api}/shares/{token}", studio.AdminKey)).Status);
        Assert.Equal(404, (await studio.Call(Get, $"{Api}/share/made-up-token", null)).Status);
    }

    [Fact]
    public async Task ListEndpoints_CountsRequestsLatencyAndHeldItems_AndDeleteRemovesTheEndpointAndItsKeys()
    {
        string name = studio.NewName("stats");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "sentiment", review: Always);
        for (int i = 0; i < 3; i++) Assert.Equal(202, (await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = $"text {i}" })).Status);
        var listed = (await studio.Call(Get, $"{Api}/endpoints", studio.AdminKey)).Json!.AsArray().Single(e => e!["name"]!.GetValue<string>() == name)!;
        Assert.Equal(3, listed["stats"]!["requests"]!.GetValue<long>());
        Assert.Equal(3, listed["stats"]!["held"]!.GetValue<long>());
        double p50 = listed["stats"]!["p50Ms"]!.GetValue<double>(), p99 = listed["stats"]!["p99Ms"]!.GetValue<double>();
        Assert.True(p50 > 0 && p99 >= p50, $"p50 {p50} p99 {p99}");

        Assert.Equal(204, (await studio.Call(Delete, $"{Api}/endpoints/{name}", studio.AdminKey)).Status);
        Assert.Equal(404, (await studio.Call(Get, $"{Api}/endpoints/{name}", studio.AdminKey)).Status);
        Assert.Equal(401, (await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs = "x" })).Status);
        Assert.Equal(401, (await studio.Call(Get, $"{Api}/endpoints/{name}/reviews", reviewer)).Status);
        Assert.Equal(404, (await studio.Call(Delete, $"{Api}/endpoints/{name}", studio.AdminKey)).Status);
    }
}
