using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using DistilBert.Checkpoints;

namespace DistilBert.Hub;

/// <summary>
/// Downloads model repos from a Hugging Face Hub (or a mirror at HF_ENDPOINT) into huggingface_hub's cache layout,
/// the way <c>hf_hub_download</c> does: HEAD <c>{endpoint}/{repo}/resolve/{revision}/{file}</c> for the commit
/// (<c>X-Repo-Commit</c>), the blob name (<c>X-Linked-Etag</c> for LFS files, else <c>ETag</c>) and size
/// (<c>X-Linked-Size</c> / <c>Content-Length</c>); then GET into <c>blobs/&lt;etag&gt;.incomplete</c> (resumed with
/// <c>Range</c>), verified (size, and sha256 for LFS blobs) before it is renamed and linked into the snapshot.
/// </summary>
public sealed class HubClient : IDisposable
{
    /// <summary>Tokenizer files fetched with a model when the repo has them.</summary>
    public static readonly IReadOnlyList<string> TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"];
    /// <summary>A sentence-transformers repo's module files at their usual paths (embeddings honour them), fetched when present.</summary>
    public static readonly IReadOnlyList<string> SentenceTransformersFiles = ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"];

    readonly HubOptions _options;
    readonly HttpClient _http;
    readonly Uri _endpoint;

    /// <summary>Where and how this client reaches the Hub.</summary>
    public HubOptions Options => _options;

    /// <summary>
    /// A client for <paramref name="options"/>; <paramref name="handler"/> replaces the HTTP stack (tests, proxies).
    /// </summary>
    public HubClient(HubOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        if (!Uri.TryCreate(options.Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new HubException($"HF_ENDPOINT '{options.Endpoint}' is not an http(s) URL");
        _endpoint = endpoint;
        // Redirects are followed by hand: the token must not travel to another host (a CDN).
        _http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = options.Timeout,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("DistilBert.NET/1.0");
    }

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Makes a model repo available locally and returns its snapshot folder: config.json, the weights
    /// (model.safetensors, else its sharded index and shards, else pytorch_model.bin[.index.json]) and the tokenizer files
    /// the repo has. Offline (HF_HUB_OFFLINE), or when the Hub cannot be reached, the cache answers alone.
    /// </summary>
    public async Task<string> DownloadModelAsync(string repoId, string? revision = null, IProgress<HubProgress>? progress = null, CancellationToken ct = default)
    {
        revision ??= "main";
        var cache = new HubCache(_options.CacheDir, repoId);
        HubCache.ValidateRevision(revision);
        if (_options.Offline) return FromCache(cache, revision, "offline mode (HF_HUB_OFFLINE) is on");

        FileResult config;
        try
        {
            config = (await FetchAsync(cache, revision, ModelFolder.ConfigName, optional: false, progress, ct))!;
        }
        catch (HubUnreachableException e)
        {
            return FromCache(cache, revision, $"{_options.Endpoint} could not be reached ({e.InnerException?.Message ?? e.Message})");
        }
        // Every other file comes from the very commit config.json came from.
        var commit = config.Commit;
        cache.WriteRef(revision, commit);
        try
        {
            if (await FetchAsync(cache, commit, CheckpointFile.SafeTensorsName, optional: true, progress, ct) is null
                && !await DownloadShardedAsync(cache, commit, CheckpointFile.SafeTensorsIndexName, progress, ct)
                && await FetchAsync(cache, commit, CheckpointFile.TorchName, optional: true, progress, ct) is null
                && !await DownloadShardedAsync(cache, commit, CheckpointFile.TorchIndexName, progress, ct))
                throw new HubException($"{repoId}@{revision}: the repo has no {CheckpointFile.SafeTensorsName}, {CheckpointFile.SafeTensorsIndexName}, {CheckpointFile.TorchName} or {CheckpointFile.TorchIndexName}");
            foreach (var file in TokenizerFiles.Concat(SentenceTransformersFiles)) await FetchAsync(cache, commit, file, optional: true, progress, ct);
        }
        catch (HubUnreachableException e)
        {
            throw new HubException($"{repoId}@{revision}: lost the connection to {_options.Endpoint} ({e.InnerException?.Message}); run the command again to resume", e);
        }
        return cache.SnapshotDir(commit);
    }

    async Task<bool> DownloadShardedAsync(HubCache cache, string commit, string indexName, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        if (await FetchAsync(cache, commit, indexName, optional: true, progress, ct) is not { } index) return false;
        var shards = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index.Path));
            foreach (var entry in doc.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                var file = entry.Value.GetString() ?? throw new HubException($"{cache.RepoId}/{indexName}: weight_map entry '{entry.Name}' is not a file name");
                if (!shards.Contains(file)) shards.Add(file);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new HubException($"{cache.RepoId}/{indexName}: not a valid shard index ({e.Message})", e);
        }
        var dir = Path.GetDirectoryName(indexName.Replace('/', Path.DirectorySeparatorChar)) ?? "";
        foreach (var shard in shards)
        {
            HubCache.ValidateFileName(cache.RepoId, shard);
            if (shard.Contains('/')) throw new HubException($"{cache.RepoId}/{indexName}: refusing shard name '{shard}': shards must sit beside their index");
            await FetchAsync(cache, commit, dir.Length == 0 ? shard : dir.Replace(Path.DirectorySeparatorChar, '/') + "/" + shard, optional: false, progress, ct);
        }
        return true;
    }

    /// <summary>Serves a revision from the cache alone, naming the first file that is missing.</summary>
    static string FromCache(HubCache cache, string revision, string why)
    {
        var commit = cache.CachedCommit(revision);
        string Missing(string file) => $"{cache.RepoId}@{revision}: {why}, and '{file}' is not in the cache ({cache.RepoDir})";
        if (commit is null) throw new HubException(Missing(ModelFolder.ConfigName));
        var dir = cache.SnapshotDir(commit);
        if (!File.Exists(Path.Combine(dir, ModelFolder.ConfigName))) throw new HubException(Missing(ModelFolder.ConfigName));
        if (!new[] { CheckpointFile.SafeTensorsName, CheckpointFile.SafeTensorsIndexName, CheckpointFile.TorchName, CheckpointFile.TorchIndexName }
                .Any(f => File.Exists(Path.Combine(dir, f))))
            throw new HubException(Missing(CheckpointFile.SafeTensorsName));
        return dir;
    }

    /// <summary>One file resolved into the cache. Immutable: safe to share between threads.</summary>
    /// <param name="Path">The file's path in the cache's snapshot folder.</param>
    /// <param name="Commit">The commit the revision resolved to.</param>
    /// <param name="Etag">The file's ETag: its blob name in the cache.</param>
    public sealed record FileResult(string Path, string Commit, string Etag);

    /// <summary>The Hub did not answer at all (network down, DNS, timeout): the caller may fall back to the cache.</summary>
    sealed class HubUnreachableException(string message, Exception inner) : Exception(message, inner);

    /// <summary>
    /// Downloads one file (or finds its blob in the cache) and links it into snapshots/&lt;commit&gt;/.
    /// Returns null for an optional file the repo does not have.
    /// </summary>
    public async Task<FileResult?> DownloadFileAsync(string repoId, string fileName, string? revision = null, bool optional = false,
        IProgress<HubProgress>? progress = null, CancellationToken ct = default)
    {
        revision ??= "main";
        HubCache.ValidateRevision(revision);
        var cache = new HubCache(_options.CacheDir, repoId);
        try
        {
            var result = await FetchAsync(cache, revision, fileName, optional, progress, ct);
            if (result is not null) cache.WriteRef(revision, result.Commit);
            return result;
        }
        catch (HubUnreachableException e)
        {
            throw new HubException($"{repoId}/{fileName}: {_options.Endpoint} could not be reached ({e.InnerException?.Message})", e);
        }
    }

    async Task<FileResult?> FetchAsync(HubCache cache, string revision, string fileName, bool optional, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        HubCache.ValidateFileName(cache.RepoId, fileName);
        var url = new Uri(_endpoint, $"{cache.RepoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString))}");
        var meta = await HeadAsync(cache, url, fileName, revision, ct);
        if (meta is null)
        {
            if (optional) return null;
            throw new HubException($"{cache.RepoId}@{revision}: file '{fileName}' not found on {_options.Endpoint}");
        }
        var (commit, etag, size, downloadUrl) = meta.Value;
        var blob = cache.BlobPath(etag);
        bool fetched = false;
        if (!File.Exists(blob))
        {
            // Another process (or python's huggingface_hub) may be fetching the same blob: take its lock, then look again.
            await using var blobLock = await LockAsync(cache.LockPath(etag), ct);
            if (!File.Exists(blob))
            {
                await DownloadBlobAsync(cache, fileName, downloadUrl, blob, etag, size, progress, ct);
                fetched = true;
            }
        }
        if (!fetched) progress?.Report(new HubProgress(fileName, new FileInfo(blob).Length, size, FromCache: true));
        var path = cache.LinkSnapshot(commit, fileName, etag);
        return new FileResult(path, commit, etag);
    }

    static string NormalizeEtag(string raw)
    {
        var s = raw.Trim();
        if (s.StartsWith("W/", StringComparison.Ordinal)) s = s[2..];
        return s.Trim('"');
    }

    static string? Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? v.FirstOrDefault() : r.Content.Headers.TryGetValues(name, out var c) ? c.FirstOrDefault() : null;

    HttpRequestMessage Request(HttpMethod method, Uri url)
    {
        var request = new HttpRequestMessage(method, url);
        if (_options.Token is { } token && url.Host == _endpoint.Host && url.Port == _endpoint.Port)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        try { return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct); }
        catch (HttpRequestException e) { throw new HubUnreachableException($"cannot reach {request.RequestUri}", e); }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested) { throw new HubUnreachableException($"{request.RequestUri} timed out", e); }
    }

    /// <summary>HEAD: null for 404; follows relative redirects (renamed repos), stops at absolute ones (LFS → CDN).</summary>
    async Task<(string Commit, string Etag, long? Size, Uri DownloadUrl)?> HeadAsync(HubCache cache, Uri url, string fileName, string revision, CancellationToken ct)
    {
        for (int hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Head, url);
            request.Headers.AcceptEncoding.ParseAdd("identity");
            using var response = await SendAsync(request, ct);
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && !location.IsAbsoluteUri)
            {
                if (hop >= 5) throw new HubException($"{cache.RepoId}/{fileName}: too many redirects");
                url = new Uri(url, location);
                continue;
            }
            // A failing server is treated like an unreachable one (the cache may answer), as huggingface_hub does.
            if (status >= 500)
                throw new HubUnreachableException($"HTTP {status}", new HttpRequestException($"{url.Host} answered HTTP {status} {response.ReasonPhrase}"));
            var errorCode = Header(response, "X-Error-Code");
            if (status == 404 && errorCode is null or "EntryNotFound") return null;
            if (errorCode == "RevisionNotFound")
                throw new HubException($"{cache.RepoId}: revision '{revision}' not found (HTTP {status})");
            if (errorCode == "GatedRepo")
                throw new HubException($"{cache.RepoId}: HTTP {status}: the repository is gated: accept its conditions on the Hub and set HF_TOKEN to a token of that account");
            if (status is 401 or 403 or 404)
                throw new HubException(_options.Token is null
                    ? $"{cache.RepoId}: HTTP {status}: the repository does not exist or needs authentication (set HF_TOKEN)"
                    : $"{cache.RepoId}: HTTP {status}: the repository does not exist or the token (HF_TOKEN) is not allowed to read it");
            if (status is < 200 or >= 400) throw new HubException($"{cache.RepoId}@{revision}/{fileName}: HTTP {status} {response.ReasonPhrase} from {url}");

            var commit = Header(response, "X-Repo-Commit");
            var etagRaw = Header(response, "X-Linked-Etag") ?? Header(response, "ETag");
            if (commit is null || etagRaw is null)
                throw new HubException($"{cache.RepoId}/{fileName}: {url.Host} sent no X-Repo-Commit / ETag header: is HF_ENDPOINT ({_options.Endpoint}) a Hugging Face Hub?");
            if (!HubCache.IsCommitHash(commit)) throw new HubException($"{cache.RepoId}/{fileName}: X-Repo-Commit '{commit}' is not a commit hash");
            var etag = NormalizeEtag(etagRaw);
            HubCache.ValidateEtag(cache.RepoId, fileName, etag);
            long? size = long.TryParse(Header(response, "X-Linked-Size"), out var linked) ? linked : response.Content.Headers.ContentLength;
            var downloadUrl = status is >= 300 and < 400 && response.Headers.Location is { } cdn ? cdn : url;
            return (commit, etag, size, downloadUrl);
        }
    }

    /// <summary>
    /// An exclusive lock file (FileShare.None: an OS lock on Windows, flock on Unix), waited for while another process
    /// holds it. Left in place afterwards, as huggingface_hub leaves its .lock files.
    /// </summary>
    static async Task<FileStream> LockAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) { await Task.Delay(200, ct); }
        }
    }

    async Task DownloadBlobAsync(HubCache cache, string fileName, Uri url, string blob, string etag, long? size, IProgress<HubProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var incomplete = blob + ".incomplete";
        long existing = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (size is { } known && existing > known) { File.Delete(incomplete); existing = 0; }

        if (size is null || existing < size)
        {
            using var response = await GetAsync(cache, fileName, url, existing, ct);
            bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
            if (!resumed) existing = 0; // the server sent the whole file
            await using var file = new FileStream(incomplete, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            long done = existing;
            progress?.Report(new HubProgress(fileName, done, size, FromCache: false));
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                var buffer = new byte[1 << 16];
                long lastReport = done;
                int n;
                // A stalled transfer must end (and stay resumable) rather than hang: each read gets the timeout.
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                while (true)
                {
                    stall.CancelAfter(_options.Timeout);
                    try { n = await body.ReadAsync(buffer, stall.Token); }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                    {
                        throw new IOException($"no data for {_options.Timeout.TotalSeconds:F0} s");
                    }
                    if (n == 0) break;
                    if (size is { } limit && done + n > limit)
                        throw new HubException($"{cache.RepoId}/{fileName}: the server sent more than the announced {limit} bytes");
                    await file.WriteAsync(buffer.AsMemory(0, n), ct);
                    done += n;
                    if (done - lastReport >= 1 << 20) { progress?.Report(new HubProgress(fileName, done, size, false)); lastReport = done; }
                }
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new HubException($"{cache.RepoId}/{fileName}: download interrupted after {done} bytes ({e.Message}); run the command again to resume", e);
            }
            progress?.Report(new HubProgress(fileName, done, size, false));
        }

        long length = new FileInfo(incomplete).Length;
        if (size is { } expected && length != expected)
            throw new HubException($"{cache.RepoId}/{fileName}: download ended at {length} of {expected} bytes; run the command again to resume");
        // LFS etags are the sha256 of the content: check it before the blob is trusted.
        if (etag.Length == 64 && etag.All(char.IsAsciiHexDigit))
        {
            string actual;
            await using (var check = new FileStream(incomplete, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(check, ct));
            if (!string.Equals(actual, etag, StringComparison.OrdinalIgnoreCase))
            {
                File.Delete(incomplete);
                throw new HubException($"{cache.RepoId}/{fileName}: sha256 mismatch: expected {etag}, downloaded {actual}; the file was discarded and nothing was placed in the snapshot");
            }
        }
        File.Move(incomplete, blob, overwrite: true);
    }

    async Task<HttpResponseMessage> GetAsync(HubCache cache, string fileName, Uri url, long resumeFrom, CancellationToken ct)
    {
        for (int hop = 0; ; hop++)
        {
            using var request = Request(HttpMethod.Get, url);
            if (resumeFrom > 0) request.Headers.Range = new RangeHeaderValue(resumeFrom, null);
            var response = await SendAsync(request, ct);
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                response.Dispose();
                if (hop >= 5) throw new HubException($"{cache.RepoId}/{fileName}: too many redirects");
                url = new Uri(url, location);
                continue;
            }
            if (status == 416 && resumeFrom > 0)
            {
                // Our partial file no longer fits the server's: start over.
                response.Dispose();
                resumeFrom = 0;
                continue;
            }
            if (status is 200 or 206) return response;
            response.Dispose();
            throw new HubException($"{cache.RepoId}/{fileName}: HTTP {status} {response.ReasonPhrase} downloading {url}");
        }
    }
}
