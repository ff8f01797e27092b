using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistilBert.Pipelines;
using DistilBert.Server;
using DistilBert.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace DistilBert.Server.Tests;

/// <summary>
/// A real server (Kestrel on a free loopback port) over the small random-weight task models of the pipeline tests, one
/// model per task, and the library pipelines the answers are compared with.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public PipelineTestModels Models { get; } = new();
    public WebApplication App { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";

    public TextClassificationPipeline Classifier { get; private set; } = null!;
    public TokenClassificationPipeline Tagger { get; private set; } = null!;
    public QuestionAnsweringPipeline Reader { get; private set; } = null!;
    public FillMaskPipeline Filler { get; private set; } = null!;
    public EmbeddingPipeline Embedder { get; private set; } = null!;

    /// <summary>Options tests read (limits); built per server so tests can start their own with other limits.</summary>
    public static DistilBertServerOptions Options(PipelineTestModels models, Action<DistilBertServerOptions>? change = null)
    {
        var options = new DistilBertServerOptions { BodyReadTimeout = TimeSpan.FromSeconds(1), EnableMetrics = true };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        options.Models.Add(new ModelSource("ner", models.Tagger));
        options.Models.Add(new ModelSource("qa", models.Reader));
        options.Models.Add(new ModelSource("mlm", models.MaskedLm));
        options.Models.Add(new ModelSource("emb", models.Classifier, ModelTask.FeatureExtraction));
        change?.Invoke(options);
        return options;
    }

    public static async Task<(WebApplication App, string BaseUrl)> StartAsync(DistilBertServerOptions options)
    {
        var app = DistilBertServer.Build(options, ["http://127.0.0.1:0"], logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        return (app, app.Urls.First().TrimEnd('/'));
    }

    public async Task InitializeAsync()
    {
        (App, BaseUrl) = await StartAsync(Options(Models));
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        Classifier = TextClassificationPipeline.Load(Models.Classifier);
        Tagger = TokenClassificationPipeline.Load(Models.Tagger);
        Reader = QuestionAnsweringPipeline.Load(Models.Reader);
        Filler = FillMaskPipeline.Load(Models.MaskedLm);
        Embedder = EmbeddingPipeline.Load(Models.Classifier);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Models.Dispose();
    }

    public async Task<(int Status, string Body, HttpResponseMessage Response)> PostAsync(string path, string json, HttpClient? client = null)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await (client ?? Client).PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    static readonly JsonSerializerOptions Plain = new(JsonSerializerDefaults.General);

    /// <summary>The JSON the library's answer would be, written the way the server writes it (same serializer, so equal
    /// text means equal floats, bit for bit).</summary>
    public static string Json(object value) => JsonSerializer.Serialize(value, value.GetType(), Plain);

    /// <summary>A response body normalised to the same writer (numbers keep their text).</summary>
    public static string Normalise(string body) => JsonNode.Parse(body)!.ToJsonString(Plain);

    public static string Body(object request) => JsonSerializer.Serialize(request, request.GetType(), Plain);

    public static void SetKey(HttpClient client, string key) => client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
