using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace DistilBert.Server;

/// <summary>What one request did, for its log line.</summary>
internal sealed class RequestLog(long id)
{
    public long Id { get; } = id;
    public string? Model { get; set; }
    public int Inputs { get; set; }
    public int Tokens { get; set; }
    public TimeSpan QueueTime { get; set; }
    public TimeSpan ComputeTime { get; set; }
    public IReadOnlyList<string>? Texts { get; set; }
}

/// <summary>
/// Runs every route's handler the same way: API key check, two admission bounds, errors turned into 4xx JSON (never a
/// stack trace: an unexpected exception is logged and answered 500 with the request id), one structured log line and the
/// metrics per request.
/// <para>A request is counted against <c>MaxConcurrentRequests</c> only once its whole body has arrived: a client that
/// trickles its body holds a reader slot (<c>MaxConcurrentBodyReads</c>, its own bound, so buffered bodies stay bounded
/// in memory), never a slot of the requests that are ready to run, so slow clients cannot starve fast ones.</para>
/// </summary>
internal sealed class RequestRunner(DistilBertServerOptions options, ServerMetrics metrics, ILogger<RequestRunner> log)
{
    static readonly JsonSerializerOptions ResponseJson = new(JsonSerializerDefaults.General);

    int _inFlight;
    int _reading;
    long _lastId;
    volatile bool _stopping;

    public DistilBertServerOptions Options => options;

    /// <summary>Requests whose body has arrived and that are being run, in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Requests whose body is still arriving.</summary>
    public int Reading => Volatile.Read(ref _reading);

    public void BeginShutdown() => _stopping = true;
    public bool Stopping => _stopping;

    /// <summary>A route that reads a JSON body and runs a model or the tokenizer: refused with 503 once shutting down (a
    /// request that arrived before still gets its answer), its body read under the reader bound, then admitted.</summary>
    public Task RunModelAsync(HttpContext context, ApiFamily family, string route, Func<JsonElement, RequestLog, Task<object?>> handler) =>
        RunAsync(context, family, route, async (c, entry) =>
        {
            var body = await ReadBodyAsync(c);
            using var admitted = Admit();
            return await handler(body, entry);
        });

    /// <summary>Reads the JSON body under the reader bound; 503 once shutting down (a request that arrived before still gets its answer).</summary>
    public async Task<JsonElement> ReadBodyAsync(HttpContext context)
    {
        if (_stopping) throw new ApiException(503, "the server is shutting down", "unhealthy");
        using (TryEnter(reading: true) ?? throw Overloaded("body_reads",
                   $"the server is receiving {options.MaxConcurrentBodyReads} request bodies at once, its limit; retry later"))
            return await RequestBody.ReadObjectAsync(context, options);
    }

    /// <summary>Takes one of the <c>MaxConcurrentRequests</c> slots (dispose to free it), or refuses with 429.</summary>
    public IDisposable Admit() => TryAdmit() ?? throw Overloaded("overloaded",
        $"the server is at its limit of {options.MaxConcurrentRequests} concurrent requests; retry later");

    /// <summary>Takes one of the <c>MaxConcurrentRequests</c> slots, or null when none is free.</summary>
    internal IDisposable? TryAdmit() => TryEnter(reading: false);

    ApiException Overloaded(string reason, string message)
    {
        metrics.RecordRejection(reason);
        return new ApiException(429, message, "overloaded");
    }

    IDisposable? TryEnter(bool reading)
    {
        int limit = reading ? options.MaxConcurrentBodyReads : options.MaxConcurrentRequests;
        if (Interlocked.Increment(ref reading ? ref _reading : ref _inFlight) > limit)
        {
            Interlocked.Decrement(ref reading ? ref _reading : ref _inFlight);
            return null;
        }
        return new Slot(this, reading);
    }

    sealed class Slot(RequestRunner owner, bool reading) : IDisposable
    {
        int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Decrement(ref reading ? ref owner._reading : ref owner._inFlight);
        }
    }

    /// <summary>Any route: key check (unless <paramref name="serverKey"/> is false: the Studio's routes check their own
    /// scoped keys), errors as JSON, the log line and the metrics; no admission bound.</summary>
    public async Task RunAsync(HttpContext context, ApiFamily family, string route, Func<HttpContext, RequestLog, Task<object?>> handler, bool serverKey = true)
    {
        long started = Stopwatch.GetTimestamp();
        var entry = new RequestLog(Interlocked.Increment(ref _lastId));
        int status = 200;
        try
        {
            if (serverKey) Authorize(context);
            var result = await handler(context, entry);
            if (result is not null)
            {
                context.Response.StatusCode = 200;
                await context.Response.WriteAsJsonAsync(result, result.GetType(), ResponseJson, context.RequestAborted);
            }
            status = context.Response.StatusCode;
        }
        catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            status = 499; // the client went away; its queued work was dropped
        }
        catch (Exception e)
        {
            var error = e switch
            {
                ApiException api => api,
                QueueFullException full => Rejected(full),
                // The library's typed errors name the input at fault (an empty question, a [MASK] beyond the cut...).
                DistilBertException library => new ApiException(422, library.Message, "validation"),
                BadHttpRequestException bad => new ApiException(bad.StatusCode, bad.Message, "validation"),
                _ => null,
            };
            if (error is null)
            {
                log.LogError(e, "request {RequestId} {Route} failed", entry.Id, route);
                error = new ApiException(500, $"internal error (request {entry.Id}); the server log has the details", "backend");
            }
            status = error.Status;
            await ApiErrors.WriteAsync(context, family, error);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            metrics.RecordRequest(route, entry.Model, status, elapsed);
            if (options.LogRequestTexts && entry.Texts is not null)
                log.LogInformation("request {RequestId} {Route} {Status} model={Model} inputs={Inputs} tokens={Tokens} queue_ms={QueueMs:0.###} compute_ms={ComputeMs:0.###} total_ms={TotalMs:0.###} texts={Texts}",
                    entry.Id, route, status, entry.Model, entry.Inputs, entry.Tokens, entry.QueueTime.TotalMilliseconds, entry.ComputeTime.TotalMilliseconds,
                    elapsed.TotalMilliseconds, JsonSerializer.Serialize(entry.Texts));
            else
                log.LogInformation("request {RequestId} {Route} {Status} model={Model} inputs={Inputs} tokens={Tokens} queue_ms={QueueMs:0.###} compute_ms={ComputeMs:0.###} total_ms={TotalMs:0.###}",
                    entry.Id, route, status, entry.Model, entry.Inputs, entry.Tokens, entry.QueueTime.TotalMilliseconds, entry.ComputeTime.TotalMilliseconds,
                    elapsed.TotalMilliseconds);
        }
    }

    ApiException Rejected(QueueFullException full)
    {
        metrics.RecordRejection(_stopping ? "shutdown" : "queue_full");
        return _stopping ? new ApiException(503, "the server is shutting down", "unhealthy") : new ApiException(429, full.Message, "overloaded");
    }

    /// <summary>Checks <c>Authorization: Bearer KEY</c> against the stored SHA-256 hashes, comparing every hash in constant
    /// time so the answer's timing tells nothing about how close a guess was.</summary>
    public void Authorize(HttpContext context)
    {
        if (options.ApiKeyHashes is not { Count: > 0 } hashes) return;
        string header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            metrics.RecordRejection("unauthorized");
            throw new ApiException(401, "missing API key: send 'Authorization: Bearer KEY'", "unauthorized");
        }
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        bool match = false;
        foreach (var hash in hashes) match |= CryptographicOperations.FixedTimeEquals(presented, hash);
        if (!match)
        {
            metrics.RecordRejection("unauthorized");
            throw new ApiException(401, "invalid API key", "unauthorized");
        }
    }
}
