using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistilBert.Pipelines;
using DistilBert.Tokenization;
using Microsoft.ML.OnnxRuntime;

// Two baselines of the server load test (tools/loadtest.sh, docs/server.md):
//   serve: a minimal ASP.NET Core server answering TEI's POST /predict {"inputs": "text"} with our JSON shape
//          ([{"label", "score"}], all labels, best first), one ONNX Runtime run per request on one shared
//          InferenceSession with default options: what a .NET user writes today. Tokenised with our WordPieceTokenizer.
//   bare:  our TextClassificationPipeline called in-process on one sentence at a time, in file order: the latency a
//          server at concurrency 1 is compared with (tokenising, the forward pass and the softmax; no HTTP).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var options = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Get(string key) => options.TryGetValue(key, out var value) ? value : throw new ArgumentException($"--{key} is required");
string mode = args.Length > 0 ? args[0] : "";
return mode switch
{
    "serve" => Serve(Get("model"), Get("onnx"), options.TryGetValue("port", out var port) ? int.Parse(port, CultureInfo.InvariantCulture) : 8090),
    "bare" => Bare(Get("model"), Get("tsv"), int.Parse(options.GetValueOrDefault("count", "872"), CultureInfo.InvariantCulture),
        int.Parse(options.GetValueOrDefault("warmup", "200"), CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: DistilBert.OrtServer serve --model FOLDER --onnx FILE [--port 8090]\n" +
                            "       DistilBert.OrtServer bare --model FOLDER --tsv FILE [--count 872] [--warmup 200]");
    return 2;
}

static int Serve(string folder, string onnxPath, int port)
{
    var tokenizer = WordPieceTokenizer.FromFolder(folder);
    var id2label = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!["id2label"]!.AsObject();
    var labels = Enumerable.Range(0, id2label.Count).Select(i => id2label[i.ToString(CultureInfo.InvariantCulture)]!.GetValue<string>()).ToArray();
    // One session for the process; InferenceSession.Run may be called from many threads at once.
    var session = new InferenceSession(onnxPath);
    bool wantsTypeIds = session.InputMetadata.ContainsKey("token_type_ids");

    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
    var app = builder.Build();
    app.MapGet("/health", () => Results.Ok());
    app.MapPost("/predict", async (HttpRequest request) =>
    {
        using var body = await JsonDocument.ParseAsync(request.Body);
        if (!body.RootElement.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.String)
            return Results.BadRequest(new { error = "send {\"inputs\": \"text\"}" });
        var encoded = tokenizer.Encode(inputs.GetString()!);
        int length = encoded.Ids.Length;
        long[] shape = [1, length];
        using var ids = OrtValue.CreateTensorValueFromMemory(encoded.Ids.Select(id => (long)id).ToArray(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(encoded.AttentionMask.Select(m => (long)m).ToArray(), shape);
        using var typeIds = wantsTypeIds ? OrtValue.CreateTensorValueFromMemory(new long[length], shape) : null;
        var feeds = new Dictionary<string, OrtValue> { ["input_ids"] = ids, ["attention_mask"] = mask };
        if (typeIds is not null) feeds["token_type_ids"] = typeIds;
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, feeds, [session.OutputNames[0]]);
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        float max = float.NegativeInfinity;
        foreach (float logit in logits) max = MathF.Max(max, logit);
        var scores = new float[logits.Length];
        float sum = 0;
        for (int i = 0; i < scores.Length; i++) sum += scores[i] = MathF.Exp(logits[i] - max);
        var answer = Enumerable.Range(0, scores.Length).Select(i => new LabelScore(labels[i], scores[i] / sum))
            .OrderByDescending(s => s.score).ToArray();
        return Results.Json(answer);
    });
    app.Start();
    Console.WriteLine($"listening on http://127.0.0.1:{port} (ONNX Runtime {OrtEnv.Instance().GetVersionString()}, {Path.GetFileName(onnxPath)})");
    app.WaitForShutdown();
    return 0;
}

static int Bare(string folder, string tsv, int count, int warmup)
{
    var pipeline = TextClassificationPipeline.Load(folder);
    var sentences = File.ReadLines(tsv).Skip(1).Select(line => line.Split('\t')[0].Trim()).Where(s => s.Length > 0).ToArray();
    for (int i = 0; i < warmup; i++) pipeline.Predict(sentences[i % sentences.Length], topK: null);
    var latencies = new double[count];
    for (int i = 0; i < count; i++)
    {
        long started = Stopwatch.GetTimestamp();
        pipeline.Predict(sentences[i % sentences.Length], topK: null);
        latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
    Array.Sort(latencies);
    double Percentile(double p) => latencies[Math.Clamp((int)Math.Ceiling(p / 100 * count) - 1, 0, count - 1)];
    Console.WriteLine(JsonSerializer.Serialize(new { mode = "bare", sentences = count, p50_ms = Percentile(50), p99_ms = Percentile(99), mean_ms = latencies.Average() }));
    return 0;
}

record LabelScore(string label, float score);
