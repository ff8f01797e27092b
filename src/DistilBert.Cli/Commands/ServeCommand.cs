using System.CommandLine;
#if !NATIVE_AOT
using DistilBert.Compute;
using DistilBert.Server;
using DistilBert.Server.Studio;
using Microsoft.Extensions.Hosting;
#endif

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert serve</c>: the HTTP server (TEI-, OpenAI- and HF Inference API-compatible routes over ragged dynamic
/// batching). Without <c>--model</c> it serves the shipped sentiment model. Without API keys it listens on loopback only
/// unless <c>--host</c> says otherwise. SIGTERM / Ctrl+C drain the queues and exit 0.
/// </summary>
public static class ServeCommand
{
    /// <summary>The <c>serve</c> command.</summary>
    public static Command Create()
    {
        var models = new Option<string[]>("--model")
        {
            Description = "a model to serve: NAME=PATH_OR_HUB_ID, NAME:TASK=PATH (TASK: feature-extraction, text-classification, " +
                          "token-classification, question-answering, fill-mask; default: the head in config.json) or PATH. Repeat for several. " +
                          "Default: the shipped sentiment model",
        };
        var host = new Option<string?>("--host") { Description = "address to listen on (default: 127.0.0.1; 0.0.0.0 when API keys are set)" };
        var port = new Option<int>("--port") { Description = "port (0: any free port, printed at start)", DefaultValueFactory = _ => 8080 };
        var apiKeys = new Option<string?>("--api-keys") { Description = "file of SHA-256 hashes of accepted keys, one per line (printf %s KEY | sha256sum)" };
        var maxBatchTokens = new Option<int>("--max-batch-tokens") { Description = "token budget of one ragged batch", DefaultValueFactory = _ => 16384 };
        var maxBatchRequests = new Option<int?>("--max-batch-requests") { Description = "requests one batch may hold (default: no limit; 1 turns batching off)" };
        var maxConcurrent = new Option<int>("--max-concurrent-requests") { Description = "requests in flight (counted once their body has arrived) before 429", DefaultValueFactory = _ => 512 };
        var maxBodyReads = new Option<int>("--max-concurrent-body-reads") { Description = "request bodies being received at once before 429 (slow senders wait here, not in --max-concurrent-requests)", DefaultValueFactory = _ => 512 };
        var maxClientBatch = new Option<int>("--max-client-batch-size") { Description = "inputs per request", DefaultValueFactory = _ => 32 };
        var maxInputTokens = new Option<int?>("--max-input-tokens") { Description = "tokens per input (default: the model's limit)" };
        var maxInputWindows = new Option<int>("--max-input-windows") { Description = "windows of --max-input-tokens one NER text or QA context may take", DefaultValueFactory = _ => 64 };
        var autoTruncate = new Option<bool>("--auto-truncate") { Description = "truncate over-long inputs instead of refusing them" };
        var threads = new Option<int?>("--threads") { Description = "compute threads (default: all cores)" };
        var maxBatchWait = new Option<double>("--max-batch-wait-ms") { Description = "longest wait for more work while requests are arriving", DefaultValueFactory = _ => 2 };
        var payloadLimit = new Option<long>("--payload-limit") { Description = "largest request body in bytes", DefaultValueFactory = _ => 2 * 1024 * 1024 };
        var logTexts = new Option<bool>("--log-texts") { Description = "include request texts in the request log (off: texts may be private)" };
        var studio = new Option<bool>("--studio") { Description = "serve the Studio at /studio: its web app, and its API under /studio/api (endpoints from templates, review queue, share links)" };
        var studioDb = new Option<string?>("--studio-db") { Description = "the Studio's SQLite file (default ./distilbert-studio.db)" };
        var studioPostgres = new Option<string?>("--studio-postgres") { Description = "a PostgreSQL connection string for the Studio, shared by several servers" };
        var adminKeys = new Option<string?>("--admin-keys") { Description = "file of SHA-256 hashes of Studio admin keys (the --api-keys format); without it the first start prints a new key" };
        var int8 = Input.PipelineOptions.Int8Option();
        var command = new Command("serve", "HTTP server: TEI (/embed, /predict, /tokenize, /decode, /info, /health), OpenAI /v1/embeddings, HF /models/{name}, /metrics")
        {
            models, host, port, apiKeys, maxBatchTokens, maxBatchRequests, maxConcurrent, maxBodyReads, maxClientBatch, maxInputTokens, maxInputWindows, autoTruncate, threads, maxBatchWait, payloadLimit, logTexts,
            studio, studioDb, studioPostgres, adminKeys, int8,
        };
        CliAction.Set(command, parse =>
        {
#if NATIVE_AOT
            return NativeBinary.CommandLeftOut("serve");
#else
            if (parse.GetValue(threads) is { } count) ComputeThreads.Count = count;
            var options = new DistilBertServerOptions
            {
                MaxBatchTokens = parse.GetValue(maxBatchTokens),
                MaxBatchRequests = parse.GetValue(maxBatchRequests) ?? int.MaxValue,
                MaxConcurrentRequests = parse.GetValue(maxConcurrent),
                MaxConcurrentBodyReads = parse.GetValue(maxBodyReads),
                MaxClientBatchSize = parse.GetValue(maxClientBatch),
                MaxInputTokens = parse.GetValue(maxInputTokens),
                MaxInputWindows = parse.GetValue(maxInputWindows),
                AutoTruncate = parse.GetValue(autoTruncate),
                MaxBatchWait = TimeSpan.FromMilliseconds(parse.GetValue(maxBatchWait)),
                MaxRequestBodyBytes = parse.GetValue(payloadLimit),
                LogRequestTexts = parse.GetValue(logTexts),
                Int8 = parse.GetValue(int8),
            };
            var specs = parse.GetValue(models) ?? [];
            if (specs.Length == 0) options.Models.Add(new ModelSource(DefaultAssets.TeacherFolder, DefaultAssets.Teacher));
            else options.Models.AddRange(specs.Select(ApiKeys.ParseModel));
            if (parse.GetValue(apiKeys) is { } keysFile) options.ApiKeyHashes = ApiKeys.LoadHashes(keysFile);
            int listenPort = parse.GetValue(port);
            if (listenPort is < 0 or > 65535) throw new InvalidInputException($"--port must be in [0, 65535], got {listenPort}");
            string address = parse.GetValue(host) ?? (options.ApiKeyHashes is null ? "127.0.0.1" : "0.0.0.0");
            if (address.Contains(':') && !address.StartsWith('[')) address = $"[{address}]";

            var app = DistilBertServer.Build(options, [$"http://{address}:{listenPort}"], studio: StudioOptionsOf(parse, studio, studioDb, studioPostgres, adminKeys));
            app.StartAsync().GetAwaiter().GetResult();
            foreach (var url in app.Urls) Console.Out.WriteLine($"listening on {url}");
            Console.Out.Flush();
            // The host's console lifetime turns SIGTERM / Ctrl+C into a graceful stop; Main then returns 0.
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
#endif
        });
        return command;
    }

#if !NATIVE_AOT
    static StudioOptions? StudioOptionsOf(ParseResult parse, Option<bool> studio, Option<string?> studioDb, Option<string?> studioPostgres, Option<string?> adminKeys)
    {
        string? db = parse.GetValue(studioDb), postgres = parse.GetValue(studioPostgres), admins = parse.GetValue(adminKeys);
        if (!parse.GetValue(studio))
        {
            if (db is not null || postgres is not null || admins is not null)
                throw new InvalidInputException("--studio-db, --studio-postgres and --admin-keys configure the Studio: add --studio");
            return null;
        }
        if (db is not null && postgres is not null) throw new InvalidInputException("--studio-db and --studio-postgres name two stores: give one");
        var options = new StudioOptions { PostgresConnectionString = postgres };
        if (db is not null) options.DatabasePath = db;
        if (admins is not null) options.AdminKeyHashes = ApiKeys.LoadHashes(admins);
        return options;
    }
#endif
}
