using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

// Replays the sentences of a TSV (SST-2's `sentence<TAB>label`, header first) in file order against a running server,
// from a fixed number of concurrent clients, for a bounded time and/or request count, and prints throughput, latency
// percentiles and the count of each status. One sentence per request; the file wraps around when it runs out.

var options = LoadOptions.Parse(args);
if (options is null) return 2;

var sentences = ReadSentences(options.Tsv, options.Column);
if (sentences.Count == 0) { Console.Error.WriteLine($"error: {options.Tsv} has no sentences in column '{options.Column}'"); return 1; }

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    BaseAddress = new Uri(options.Url),
    Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
};
if (options.ApiKey is not null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
string field = options.Field ?? (options.Route.StartsWith("/v1/", StringComparison.Ordinal) ? "input" : "inputs");

if (options.CompareUrl is not null) return await CompareAsync(http, options, sentences, field);

if (options.WarmupSeconds > 0)
{
    // Untimed: the servers' JIT tiers, pools and caches settle before anything is recorded.
    using var warm = new CancellationTokenSource(TimeSpan.FromSeconds(options.WarmupSeconds));
    await RunAsync(http, options, sentences, field, warm.Token, 0, new List<double>[options.Concurrency], new Dictionary<string, long>());
}

var statuses = new Dictionary<string, long>();
var latencies = new List<double>[options.Concurrency];
using var stop = new CancellationTokenSource();
if (options.DurationSeconds > 0) stop.CancelAfter(TimeSpan.FromSeconds(options.DurationSeconds));

Console.WriteLine($"url {options.Url}{options.Route}  concurrency {options.Concurrency}  " +
                  $"bound {(options.DurationSeconds > 0 ? $"{options.DurationSeconds} s" : "")}{(options.DurationSeconds > 0 && options.Count > 0 ? " or " : "")}" +
                  $"{(options.Count > 0 ? $"{options.Count} requests" : "")}  sentences {sentences.Count} from {options.Tsv}" +
                  (options.WarmupSeconds > 0 ? $"  after {options.WarmupSeconds} s of warm-up" : ""));
var rss = new List<(double Seconds, double Megabytes)>();
double? cpuBefore = options.ServerPid is { } measured ? CpuSeconds(measured) : null;
var clock = Stopwatch.StartNew();
var sampler = options.ServerPid is { } pid ? Task.Run(async () =>
{
    // The server's resident memory through the run (Linux /proc), first reading right after the warm-up.
    do
    {
        if (ResidentMegabytes(pid) is { } megabytes) lock (rss) rss.Add((clock.Elapsed.TotalSeconds, megabytes));
    }
    while (!await WaitOrStopAsync(TimeSpan.FromSeconds(options.RssIntervalSeconds), stop.Token));
}) : Task.CompletedTask;
await RunAsync(http, options, sentences, field, stop.Token, options.Count, latencies, statuses);
double seconds = clock.Elapsed.TotalSeconds;
stop.Cancel();
await sampler;
if (options.ServerPid is { } last && ResidentMegabytes(last) is { } final) rss.Add((clock.Elapsed.TotalSeconds, final));
// The server's CPU time per answer: what each request cost, whatever share of the cores the server was given.
double? cpuMsPerRequest = cpuBefore is { } start && CpuSeconds(options.ServerPid!.Value) is { } end && latencies.Sum(l => l.Count) > 0
    ? (end - start) * 1000 / latencies.Sum(l => l.Count) : null;

var all = latencies.SelectMany(l => l).Order().ToArray();
Console.WriteLine($"requests {all.Length} in {seconds:0.00} s: {all.Length / seconds:0.0} requests/s (one sentence each)");
if (all.Length > 0)
    Console.WriteLine($"latency ms (all answers): p50 {Percentile(all, 50):0.00}  p90 {Percentile(all, 90):0.00}  p99 {Percentile(all, 99):0.00}  max {all[^1]:0.00}");
foreach (var (status, count) in statuses.OrderBy(s => s.Key, StringComparer.Ordinal))
    Console.WriteLine($"status {status}: {count}");
if (cpuMsPerRequest is { } cpu) Console.WriteLine($"server CPU time per request: {cpu:0.000} ms");
if (rss.Count > 0)
    Console.WriteLine($"server RSS MB: first {rss[0].Megabytes:0.0}  max {rss.Max(r => r.Megabytes):0.0}  last {rss[^1].Megabytes:0.0}  ({rss.Count} samples)");
if (options.JsonPath is not null)
{
    var summary = new Dictionary<string, object?>
    {
        ["url"] = options.Url, ["route"] = options.Route, ["concurrency"] = options.Concurrency, ["warmup_s"] = options.WarmupSeconds,
        ["seconds"] = seconds, ["requests"] = all.Length, ["requests_per_s"] = all.Length / seconds,
        ["p50_ms"] = all.Length > 0 ? Percentile(all, 50) : null, ["p90_ms"] = all.Length > 0 ? Percentile(all, 90) : null,
        ["p99_ms"] = all.Length > 0 ? Percentile(all, 99) : null, ["max_ms"] = all.Length > 0 ? all[^1] : null,
        ["statuses"] = statuses, ["server_cpu_ms_per_request"] = cpuMsPerRequest, ["rss_mb"] = rss.Select(r => new[] { r.Seconds, r.Megabytes }).ToArray(),
    };
    File.WriteAllText(options.JsonPath, JsonSerializer.Serialize(summary) + "\n");
}
return statuses.Keys.All(s => s is "200" or "429") ? 0 : 3;

static async Task RunAsync(HttpClient http, LoadOptions options, List<string> sentences, string field, CancellationToken stop, long count,
    List<double>[] latencies, Dictionary<string, long> statuses)
{
    long next = -1;
    var workers = Enumerable.Range(0, options.Concurrency).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = new List<double>();
        while (!stop.IsCancellationRequested)
        {
            long index = Interlocked.Increment(ref next);
            if (count > 0 && index >= count) break;
            string body = JsonSerializer.Serialize(new Dictionary<string, string> { [field] = sentences[(int)(index % sentences.Count)] });
            long started = Stopwatch.GetTimestamp();
            string status;
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                // The time bound ends the run, not requests in flight: they finish and are counted.
                using var response = await http.PostAsync(options.Route, content, CancellationToken.None);
                await response.Content.ReadAsByteArrayAsync(CancellationToken.None);
                status = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                status = e is TaskCanceledException ? "timeout" : $"error ({(e as HttpRequestException)?.HttpRequestError.ToString() ?? e.GetType().Name})";
            }
            mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            lock (statuses) statuses[status] = statuses.GetValueOrDefault(status) + 1;
        }
    })).ToArray();
    await Task.WhenAll(workers);
}

// The same sentences, one at a time, to this server and to --compare-url: the same labels in the same order, every
// score within --tolerance. Checks a baseline answers what ours does before it is timed.
static async Task<int> CompareAsync(HttpClient http, LoadOptions options, List<string> sentences, string field)
{
    using var other = new HttpClient { BaseAddress = new Uri(options.CompareUrl!), Timeout = http.Timeout };
    long count = options.Count > 0 ? options.Count : sentences.Count;
    double worst = 0;
    int mismatches = 0;
    for (int i = 0; i < count; i++)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { [field] = sentences[i % sentences.Count] });
        var ours = await PredictAsync(http, options.Route, body);
        var theirs = await PredictAsync(other, options.Route, body);
        bool same = ours.Length == theirs.Length;
        for (int j = 0; same && j < ours.Length; j++)
        {
            same = ours[j].Label == theirs[j].Label;
            worst = Math.Max(worst, Math.Abs(ours[j].Score - theirs[j].Score));
            same &= Math.Abs(ours[j].Score - theirs[j].Score) <= options.Tolerance;
        }
        if (!same && mismatches++ < 5)
            Console.WriteLine($"sentence {i}: {string.Join(", ", ours.Select(o => $"{o.Label} {o.Score:0.000000}"))} " +
                              $"vs {string.Join(", ", theirs.Select(o => $"{o.Label} {o.Score:0.000000}"))}");
    }
    Console.WriteLine($"compared {count} sentences with {options.CompareUrl}: {mismatches} differ (labels, or a score by more than {options.Tolerance}); " +
                      $"largest score difference {worst:0.0e+0}");
    return mismatches == 0 ? 0 : 4;
}

static async Task<(string Label, double Score)[]> PredictAsync(HttpClient http, string route, string body)
{
    using var content = new StringContent(body, Encoding.UTF8, "application/json");
    using var response = await http.PostAsync(route, content);
    string text = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode) throw new IOException($"{http.BaseAddress}{route.TrimStart('/')}: {(int)response.StatusCode} {text}");
    using var json = JsonDocument.Parse(text);
    return json.RootElement.EnumerateArray().Select(e => (e.GetProperty("label").GetString()!, e.GetProperty("score").GetDouble())).ToArray();
}

static double? ResidentMegabytes(int pid)
{
    try
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
    catch (IOException) { return null; }
}

// utime + stime of a process (Linux /proc/PID/stat, fields 14 and 15, in clock ticks of 1/100 s).
static double? CpuSeconds(int pid)
{
    try
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
    catch (IOException) { return null; }
}

static async Task<bool> WaitOrStopAsync(TimeSpan wait, CancellationToken stop)
{
    try { await Task.Delay(wait, stop); return false; }
    catch (OperationCanceledException) { return true; }
}

// Nearest rank: the smallest latency with at least p % of the answers at or below it.
static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

static List<string> ReadSentences(string path, string column)
{
    using var reader = new StreamReader(path);
    var header = (reader.ReadLine() ?? "").Split('\t');
    int at = Array.IndexOf(header, column);
    if (at < 0) throw new InvalidDataException($"{path}: no column '{column}' in the header ({string.Join(", ", header)})");
    var sentences = new List<string>();
    for (string? line; (line = reader.ReadLine()) is not null;)
    {
        var cells = line.Split('\t');
        if (cells.Length > at && cells[at].Trim().Length > 0) sentences.Add(cells[at].Trim());
    }
    return sentences;
}

sealed record LoadOptions(string Url, string Route, string Tsv, string Column, string? Field, int Concurrency, double DurationSeconds,
    long Count, double TimeoutSeconds, string? ApiKey, double WarmupSeconds = 0, string? JsonPath = null, int? ServerPid = null,
    double RssIntervalSeconds = 5, string? CompareUrl = null, double Tolerance = 1e-4)
{
    const string Usage = """
        usage: dotnet run --project bench/DistilBert.LoadClient -c Release -- [options]
          --url URL            server address (default http://127.0.0.1:8080)
          --route PATH         POST route (default /predict; e.g. /models/sst2, /embed, /v1/embeddings)
          --tsv FILE           sentences, one per line, with a header (default samples/sst2/validation.tsv)
          --column NAME        the sentence column (default sentence)
          --field NAME         the JSON field of the sentence (default inputs; input for /v1/ routes)
          --concurrency N      concurrent clients, each with one request in flight (default 8)
          --duration SECONDS   stop sending after this long (default 10; 0: no time bound)
          --count N            stop after N requests (default 0: no count bound)
          --timeout SECONDS    per request (default 30)
          --api-key KEY        sent as Authorization: Bearer KEY
          --warmup SECONDS     run this long untimed first (default 0)
          --json FILE          also write the figures as one JSON object
          --server-pid PID     sample the server's resident memory (Linux) during the run
          --rss-interval S     seconds between memory samples (default 5)
          --compare-url URL    instead of timing: send the first --count sentences (default all), one at a time, to both
                               servers and check the same labels in the same order and scores within --tolerance
          --tolerance X        largest score difference --compare-url accepts (default 1e-4)
        exit code 0 when every answer was 200 or 429, 3 otherwise; with --compare-url 0 when all agree, 4 otherwise
        """;

    public static LoadOptions? Parse(string[] args)
    {
        var o = new LoadOptions("http://127.0.0.1:8080", "/predict", "samples/sst2/validation.tsv", "sentence", null, 8, 10, 0, 30, null);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                o = args[i] switch
                {
                    "--url" => o with { Url = Value().TrimEnd('/') },
                    "--route" => o with { Route = Value() },
                    "--tsv" => o with { Tsv = Value() },
                    "--column" => o with { Column = Value() },
                    "--field" => o with { Field = Value() },
                    "--concurrency" => o with { Concurrency = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--duration" => o with { DurationSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--count" => o with { Count = long.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--timeout" => o with { TimeoutSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--api-key" => o with { ApiKey = Value() },
                    "--warmup" => o with { WarmupSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--json" => o with { JsonPath = Value() },
                    "--server-pid" => o with { ServerPid = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--rss-interval" => o with { RssIntervalSeconds = double.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--compare-url" => o with { CompareUrl = Value().TrimEnd('/') },
                    "--tolerance" => o with { Tolerance = double.Parse(Value(), CultureInfo.InvariantCulture) },
                    "-h" or "--help" => throw new ArgumentException(""),
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                if (e.Message.Length > 0) Console.Error.WriteLine($"error: {e.Message}");
                Console.Error.WriteLine(Usage);
                return null;
            }
        }
        if (o.Concurrency < 1 || o.DurationSeconds < 0 || o.Count < 0 || (o.DurationSeconds == 0 && o.Count == 0 && o.CompareUrl is null) || o.WarmupSeconds < 0 || o.RssIntervalSeconds <= 0 || o.TimeoutSeconds <= 0)
        {
            Console.Error.WriteLine("error: --concurrency must be at least 1, and the run needs a bound: --duration > 0 or --count > 0");
            return null;
        }
        if (!File.Exists(o.Tsv)) { Console.Error.WriteLine($"error: {o.Tsv} not found"); return null; }
        return o;
    }
}
