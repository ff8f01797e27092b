using System.Text.Json;
using DistilBert.Pipelines;
using DistilBert.Tokenization;
using static DistilBert.Server.Tests.ServerFixture;

namespace DistilBert.Server.Tests;

/// <summary>Every route over HTTP, each answer equal (as JSON text, so to the bit) to the library pipeline's for the same input.</summary>
[Collection(ServerCollection.Name)]
public sealed class ServerRouteTests(ServerFixture server)
{
    const string Short = "a gorgeous, witty, seductive movie";
    const string Long = "the film is long and slow but the acting of the whole cast is excellent and the ending surprised everyone in the room";

    async Task<string> Ok(string path, object request)
    {
        var (status, body, _) = await server.PostAsync(path, Body(request));
        Assert.True(status == 200, $"{path}: {status} {body}");
        return Normalise(body);
    }

    [Fact]
    public async Task Embed_EqualsEmbeddingPipeline()
    {
        Assert.Equal(Json(new[] { server.Embedder.Embed(Short) }), await Ok("/embed", new { inputs = Short }));
        Assert.Equal(Json(new[] { server.Embedder.Embed(Short), server.Embedder.Embed(Long) }), await Ok("/embed", new { inputs = new[] { Short, Long } }));
        var raw = EmbeddingPipeline.Load(server.Models.Classifier, normalize: false);
        Assert.Equal(Json(new[] { raw.Embed(Long) }), await Ok("/embed", new { inputs = Long, normalize = false, model = "emb" }));
    }

    [Fact]
    public async Task Predict_EqualsClassificationPipeline_SinglePairAndBatch()
    {
        Assert.Equal(Json(server.Classifier.Predict(Short, topK: null)), await Ok("/predict", new { inputs = Short }));
        Assert.Equal(Json(server.Classifier.Predict(Short, Long, topK: null)), await Ok("/predict", new { inputs = new[] { Short, Long } }));
        Assert.Equal(Json(new[] { server.Classifier.Predict(Short, topK: null), server.Classifier.Predict(Long, "pair", topK: null) }),
            await Ok("/predict", new { inputs = new[] { new[] { Short }, new[] { Long, "pair" } } }));
        Assert.Equal(Json(server.Classifier.Predict(Short, topK: null, function: ScoreFunction.None)),
            await Ok("/predict", new { inputs = Short, raw_scores = true }));
    }

    [Fact]
    public async Task Tokenize_GivesTeiTokensWithUtf8Spans()
    {
        const string text = "héllo wörld, Paris!";
        var body = JsonDocument.Parse(await Ok("/tokenize", new { inputs = new[] { text } })).RootElement;
        var encoding = server.Classifier.Tokenizer.Encode(text);
        var tokens = body[0];
        Assert.Equal(encoding.Length, tokens.GetArrayLength());
        var utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        for (int i = 0; i < encoding.Length; i++)
        {
            var token = tokens[i];
            Assert.Equal(encoding.Ids[i], token.GetProperty("id").GetInt32());
            bool special = encoding.SpecialTokensMask[i] != 0;
            Assert.Equal(special, token.GetProperty("special").GetBoolean());
            if (special)
            {
                Assert.Equal(JsonValueKind.Null, token.GetProperty("start").ValueKind);
                continue;
            }
            int start = token.GetProperty("start").GetInt32(), stop = token.GetProperty("stop").GetInt32();
            // TEI's spans index the UTF-8 bytes; the text is what they cover.
            Assert.Equal(token.GetProperty("text").GetString(), System.Text.Encoding.UTF8.GetString(utf8, start, stop - start));
            Assert.Equal(text[encoding.Offsets[i].Start..encoding.Offsets[i].End], token.GetProperty("text").GetString());
        }
        var withoutSpecial = JsonDocument.Parse(await Ok("/tokenize", new { inputs = text, add_special_tokens = false })).RootElement[0];
        Assert.Equal(encoding.Length - 2, withoutSpecial.GetArrayLength());
    }

    [Fact]
    public async Task Decode_EqualsTokenizerDecode()
    {
        var tokenizer = server.Classifier.Tokenizer;
        var ids = tokenizer.Encode(Long).Ids;
        Assert.Equal(Json(new[] { tokenizer.Decode(ids, skipSpecialTokens: true) }), await Ok("/decode", new { ids }));
        Assert.Equal(Json(new[] { tokenizer.Decode(ids), tokenizer.Decode(ids[..3]) }),
            await Ok("/decode", new { ids = new[] { ids, ids[..3] }, skip_special_tokens = false }));
    }

    [Fact]
    public async Task Info_Health_Metrics_OpenApi_Docs()
    {
        var info = JsonDocument.Parse(await server.Client.GetStringAsync("/info")).RootElement;
        Assert.Equal("cls", info.GetProperty("model_id").GetString());
        Assert.Equal("NEGATIVE", info.GetProperty("model_type").GetProperty("classifier").GetProperty("id2label").GetProperty("0").GetString());
        Assert.Equal(64, info.GetProperty("max_input_length").GetInt32());
        Assert.Equal(32, info.GetProperty("max_client_batch_size").GetInt32());
        Assert.Equal(512, info.GetProperty("max_concurrent_requests").GetInt32());
        Assert.Equal(5, info.GetProperty("models").GetArrayLength());
        var emb = JsonDocument.Parse(await server.Client.GetStringAsync("/info?model=emb")).RootElement;
        Assert.Equal("mean", emb.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString());

        var health = await server.Client.GetAsync("/health");
        Assert.Equal(200, (int)health.StatusCode);

        await Ok("/predict", new { inputs = Short });
        string metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("distilbert_requests_total", metrics);
        Assert.Contains("distilbert_request_duration_seconds_bucket", metrics);
        Assert.Contains("distilbert_batch_tokens", metrics);
        Assert.Contains("distilbert_queue_depth", metrics);

        var openApi = JsonDocument.Parse(await server.Client.GetStringAsync("/openapi/distilbert.json")).RootElement.GetProperty("paths");
        foreach (var path in new[] { "/embed", "/predict", "/tokenize", "/decode", "/info", "/health", "/v1/embeddings", "/models/{name}" })
            Assert.True(openApi.TryGetProperty(path, out _), $"{path} missing from the OpenAPI document");
        Assert.Contains("/openapi/distilbert.json", await server.Client.GetStringAsync("/docs"));
    }

    [Fact]
    public async Task HuggingFaceRoutes_EqualTransformersPipelineShapes()
    {
        // text-classification: without top_k one dict per input (a single string wrapped in a list); with top_k a list each
        Assert.Equal(Json(new[] { server.Classifier.Predict(Short)[0] }), await Ok("/models/cls", new { inputs = Short }));
        Assert.Equal(Json(new[] { server.Classifier.Predict(Short)[0], server.Classifier.Predict(Long)[0] }),
            await Ok("/models/cls", new { inputs = new[] { Short, Long } }));
        Assert.Equal(Json(new[] { server.Classifier.Predict(Short, topK: 2), server.Classifier.Predict(Long, topK: 2) }),
            await Ok("/models/cls", new { inputs = new[] { Short, Long }, parameters = new { top_k = 2 } }));
        Assert.Equal(Json(server.Classifier.Predict(Short, Long, topK: 2, function: ScoreFunction.Sigmoid)),
            await Ok("/models/cls", new { inputs = new { text = Short, text_pair = Long }, parameters = new { top_k = 2, function_to_apply = "sigmoid" } }));

        // token-classification with aggregation
        const string people = "Alice and Bob moved from Paris to Berlin in 2019";
        Assert.Equal(Json(server.Tagger.Predict(people, AggregationStrategy.Simple)),
            await Ok("/models/ner", new { inputs = people, parameters = new { aggregation_strategy = "simple" } }));
        Assert.Equal(Json(new[] { server.Tagger.Predict(people), server.Tagger.Predict(Short) }), await Ok("/models/ner", new { inputs = new[] { people, Short } }));
        Assert.Equal(Json(server.Tagger.Predict(people, AggregationStrategy.Max, ignoreLabels: [])),
            await Ok("/models/ner", new { inputs = people, parameters = new { aggregation_strategy = "max", ignore_labels = Array.Empty<string>() } }));

        // question-answering: top_k 1 is the answer itself, more a list
        const string question = "Where did Alice move?";
        Assert.Equal(Json(server.Reader.Predict(question, people)[0]), await Ok("/models/qa", new { inputs = new { question, context = people } }));
        Assert.Equal(Json(server.Reader.Predict(question, people, new AnswerOptions { TopK = 3 })),
            await Ok("/models/qa", new { inputs = new { question, context = people }, parameters = new { top_k = 3 } }));

        // fill-mask: one [MASK] gives its proposals, two a list per mask
        const string one = "the capital of france is [MASK].";
        const string two = "[MASK] is the capital of [MASK].";
        Assert.Equal(Json(server.Filler.Predict(one)[0]), await Ok("/models/mlm", new { inputs = one }));
        Assert.Equal(Json(new object[] { server.Filler.Predict(one, topK: 3)[0], server.Filler.Predict(two, topK: 3) }),
            await Ok("/models/mlm", new { inputs = new[] { one, two }, parameters = new { top_k = 3 } }));
        Assert.Equal(Json(server.Filler.Predict(one, targets: ["paris", "london"])[0]),
            await Ok("/models/mlm", new { inputs = one, parameters = new { targets = new[] { "paris", "london" } } }));

        // feature-extraction: the pooled, normalised vector
        Assert.Equal(Json(server.Embedder.Embed(Short)), await Ok("/models/emb", new { inputs = Short }));
    }

    [Fact]
    public async Task OpenAIEmbeddings_FloatAndBase64_EqualPipeline()
    {
        var body = JsonDocument.Parse(await Ok("/v1/embeddings", new { input = new[] { Short, Long }, model = "emb" })).RootElement;
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("emb", body.GetProperty("model").GetString());
        var data = body.GetProperty("data");
        Assert.Equal("embedding", data[1].GetProperty("object").GetString());
        Assert.Equal(1, data[1].GetProperty("index").GetInt32());
        Assert.Equal(Json(server.Embedder.Embed(Long)), Normalise(data[1].GetProperty("embedding").GetRawText()));
        int tokens = server.Embedder.Tokenizer.Encode(Short).Length + server.Embedder.Tokenizer.Encode(Long).Length;
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());

        var encoded = JsonDocument.Parse(await Ok("/v1/embeddings", new { input = Short, model = "emb", encoding_format = "base64" })).RootElement;
        var bytes = Convert.FromBase64String(encoded.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        Assert.Equal(server.Embedder.Embed(Short), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    [Fact]
    public async Task OfficialOpenAIClient_GetsEmbeddingsEqualToPipeline()
    {
        var client = new OpenAI.Embeddings.EmbeddingClient("emb", new System.ClientModel.ApiKeyCredential("not-needed"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(server.BaseUrl + "/v1") });
        var result = await client.GenerateEmbeddingsAsync([Short, Long]);
        Assert.Equal(2, result.Value.Count);
        Assert.Equal(server.Embedder.Embed(Short), result.Value[0].ToFloats().ToArray());
        Assert.Equal(server.Embedder.Embed(Long), result.Value[1].ToFloats().ToArray());
        var single = await client.GenerateEmbeddingAsync(Short);
        Assert.Equal(server.Embedder.Embed(Short), single.Value.ToFloats().ToArray());
    }

    [Fact]
    public async Task SixtyFourConcurrentMixedRequests_EachGetsItsOwnSingleRequestAnswer()
    {
        var words = "the quick brown fox jumps over a lazy dog while Alice and Bob watch from Paris in the rain".Split(' ');
        string Text(int i) => string.Join(' ', Enumerable.Range(0, 1 + (i * 7) % 40).Select(k => words[(i + k) % words.Length]));
        var cases = new List<(string Path, object Request, string Expected)>();
        for (int i = 0; i < 64; i++)
        {
            string text = Text(i);
            cases.Add((i % 6) switch
            {
                0 => ("/embed", new { inputs = text }, Json(new[] { server.Embedder.Embed(text) })),
                1 => ("/predict", new { inputs = text }, Json(server.Classifier.Predict(text, topK: null))),
                2 => ("/models/ner", new { inputs = text, parameters = new { aggregation_strategy = "simple" } },
                    Json(server.Tagger.Predict(text, AggregationStrategy.Simple))),
                3 => ("/models/qa", new { inputs = new { question = "who watches?", context = text } }, Json(server.Reader.Predict("who watches?", text)[0])),
                4 => ("/models/mlm", new { inputs = text + " [MASK]." }, Json(server.Filler.Predict(text + " [MASK].")[0])),
                _ => ("/models/cls", new { inputs = new[] { text, Text(i + 1) }, parameters = new { top_k = 2 } },
                    Json(new[] { server.Classifier.Predict(text, topK: 2), server.Classifier.Predict(Text(i + 1), topK: 2) })),
            });
        }
        var answers = await Task.WhenAll(cases.Select(c => server.PostAsync(c.Path, Body(c.Request))));
        for (int i = 0; i < cases.Count; i++)
        {
            Assert.True(answers[i].Status == 200, $"case {i} {cases[i].Path}: {answers[i].Status} {answers[i].Body}");
            Assert.Equal(cases[i].Expected, Normalise(answers[i].Body));
        }
    }

    [Fact]
    public void TaskComesFromTheHeadInConfig()
    {
        Assert.Equal(ModelTask.TextClassification, ServedModel.TaskOf(Modeling.ModelConfig.Load(server.Models.Classifier)));
        Assert.Equal(ModelTask.TokenClassification, ServedModel.TaskOf(Modeling.ModelConfig.Load(server.Models.Tagger)));
        Assert.Equal(ModelTask.QuestionAnswering, ServedModel.TaskOf(Modeling.ModelConfig.Load(server.Models.Reader)));
        Assert.Equal(ModelTask.FillMask, ServedModel.TaskOf(Modeling.ModelConfig.Load(server.Models.MaskedLm)));
        // A class there is no model for is refused by name, not served as whatever its suffix suggests.
        var preTraining = Modeling.ModelConfig.Load(server.Models.MaskedLm);
        preTraining.Architectures = ["BertForPreTraining"];
        var e = Assert.Throws<ModelFileException>(() => ServedModel.TaskOf(preTraining));
        Assert.Contains("'architectures': 'BertForPreTraining' is not supported", e.Message);
        Assert.Equal(new ModelSource("emb", "some/path", ModelTask.FeatureExtraction), ApiKeys.ParseModel("emb:feature-extraction=some/path"));
        Assert.Equal(new ModelSource("a", "x=y"), ApiKeys.ParseModel("a=x=y"));
        Assert.Equal(new ModelSource("folder", "models/folder/"), ApiKeys.ParseModel("models/folder/"));
        Assert.Throws<InvalidInputException>(() => ApiKeys.ParseModel("a:translation=x"));
    }
}
