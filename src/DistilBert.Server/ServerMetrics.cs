using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace DistilBert.Server;

/// <summary>
/// The server's instruments (System.Diagnostics.Metrics, exported as Prometheus text through OpenTelemetry on /metrics):
/// requests and latency per route and model, queue depth, batch size and batch tokens, tokens processed (tokens/s is its
/// rate), rejections by reason.
/// </summary>
/// <remarks>Thread-safety: every member may be called from many threads at once (System.Diagnostics.Metrics instruments are).</remarks>
public sealed class ServerMetrics : IDisposable
{
    /// <summary>The OpenTelemetry meter the server's counters and histograms are published under.</summary>
    public const string MeterName = "DistilBert.Server";

    readonly Meter _meter = new(MeterName);
    readonly Counter<long> _requests;
    readonly Histogram<double> _duration;
    readonly Histogram<long> _batchInputs;
    readonly Histogram<long> _batchTokens;
    readonly Counter<long> _tokens;
    readonly Counter<long> _rejections;
    readonly ConcurrentDictionary<string, Func<int>> _queues = new();

    /// <summary>Creates the meter and its instruments.</summary>
    public ServerMetrics()
    {
        _requests = _meter.CreateCounter<long>("distilbert_requests", description: "HTTP requests by route, model and status");
        _duration = _meter.CreateHistogram<double>("distilbert_request_duration", "s", "Request latency by route and model");
        _batchInputs = _meter.CreateHistogram<long>("distilbert_batch_size", description: "Inputs per ragged batch");
        _batchTokens = _meter.CreateHistogram<long>("distilbert_batch_tokens", description: "Tokens per ragged batch");
        _tokens = _meter.CreateCounter<long>("distilbert_tokens", description: "Tokens run through the models");
        _rejections = _meter.CreateCounter<long>("distilbert_rejections", description: "Requests refused, by reason");
        _meter.CreateObservableGauge("distilbert_queue_depth",
            () => _queues.Select(q => new Measurement<int>(q.Value(), new KeyValuePair<string, object?>("model", q.Key))),
            description: "Requests waiting in each model's batch queue");
    }

    internal void ObserveQueue(string model, Func<int> depth) => _queues[model] = depth;

    internal void RecordBatch(string model, int inputs, int tokens)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _batchInputs.Record(inputs, tag);
        _batchTokens.Record(tokens, tag);
        _tokens.Add(tokens, tag);
    }

    internal void RecordRequest(string route, string? model, int status, TimeSpan elapsed)
    {
        var routeTag = new KeyValuePair<string, object?>("route", route);
        var modelTag = new KeyValuePair<string, object?>("model", model ?? "");
        _requests.Add(1, routeTag, modelTag, new KeyValuePair<string, object?>("status", status));
        _duration.Record(elapsed.TotalSeconds, routeTag, modelTag);
    }

    internal void RecordRejection(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Disposes the meter.</summary>
    public void Dispose() => _meter.Dispose();
}
