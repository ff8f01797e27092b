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

/// <summary>A hand-written HTTP/1.1 request over a raw socket, for clients that send their body slowly or in parts.</summary>
public sealed class RawHttpRequest : IDisposable
{
    readonly System.Net.Sockets.TcpClient _tcp = new();
    System.Net.Sockets.NetworkStream _stream = null!;

    /// <summary>Connects and sends the headers (announcing <paramref name="contentLength"/> bytes) and <paramref name="bodyStart"/>.</summary>
    public static async Task<RawHttpRequest> StartAsync(string baseUrl, string path, long contentLength, string bodyStart)
    {
        var uri = new Uri(baseUrl);
        var request = new RawHttpRequest();
        await request._tcp.ConnectAsync(uri.Host, uri.Port);
        request._stream = request._tcp.GetStream();
        await request.SendAsync($"POST {path} HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n{bodyStart}");
        return request;
    }

    public async Task SendAsync(string text) => await _stream.WriteAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads one whole answer (headers and body, chunked or not), or what came before the connection closed or 10 s passed.</summary>
    public async Task<string> ReadAnswerAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[8192];
        var answer = new StringBuilder();
        while (!IsComplete(answer.ToString()))
        {
            int read;
            try { read = await _stream.ReadAsync(buffer, timeout.Token); }
            catch (OperationCanceledException) { break; }
            if (read == 0) break;
            answer.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        return answer.ToString();
    }

    static bool IsComplete(string answer)
    {
        int end = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return false;
        string head = answer[..end];
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) return answer.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
        var length = System.Text.RegularExpressions.Regex.Match(head, @"Content-Length: (\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        return !length.Success || Encoding.UTF8.GetByteCount(answer[(end + 4)..]) >= int.Parse(length.Groups[1].Value);
    }

    /// <summary>The body of an answer read by <see cref="ReadAnswerAsync"/>, with chunked transfer encoding undone.</summary>
    public static string BodyOf(string answer)
    {
        int end = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string head = answer[..end], rest = answer[(end + 4)..];
        if (!head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) return rest;
        var body = new StringBuilder();
        while (true)
        {
            int line = rest.IndexOf("\r\n", StringComparison.Ordinal);
            int size = Convert.ToInt32(rest[..line], 16);
            if (size == 0) return body.ToString();
            body.Append(rest.AsSpan(line + 2, size)); // the tests' answers are ASCII JSON, so chars are bytes
            rest = rest[(line + 2 + size + 2)..];
        }
    }

    public void Dispose() => _tcp.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
