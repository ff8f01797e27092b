using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace DistilBert.Tests;

/// <summary>
/// An in-process stand-in for huggingface.co on 127.0.0.1, answering like the real Hub:
/// <c>HEAD/GET /{repo}/resolve/{revision}/{file}</c> with <c>X-Repo-Commit</c>; small files with their git-sha1 ETag;
/// LFS files (weights) with <c>X-Linked-Etag</c> = sha256 and <c>X-Linked-Size</c>, redirected (302) to
/// <c>/cdn/{sha256}</c>, which honours <c>Range</c>. Unknown or unauthorised repos get 401 (X-Error-Code RepoNotFound),
/// missing files 404 (EntryNotFound). Hooks break things on purpose: cut a transfer short, corrupt a body.
/// </summary>
internal sealed class HubFakeServer : IDisposable
{
    public sealed class Repo
    {
        public required string Commit { get; init; }
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
        public string? RequiredToken { get; init; }
    }

    public sealed record LoggedRequest(string Method, string Path, string? Range, string? Authorization);

    readonly HttpListener _listener = new();
    readonly Thread _thread;
    public string Endpoint { get; }
    /// <summary>Where LFS downloads are redirected; another server (another port) plays a CDN on another host.</summary>
    public string CdnBase { get; set; }
    public Dictionary<string, Repo> Repos { get; } = new(StringComparer.Ordinal);
    public ConcurrentQueue<LoggedRequest> Log { get; } = new();
    /// <summary>Next CDN transfer of a blob with this sha256 stops after this many bytes (connection aborted).</summary>
    public ConcurrentDictionary<string, long> CutAfter { get; } = new();
    /// <summary>Next CDN transfer of a blob with this sha256 sends this many bytes, then goes silent for 3 s.</summary>
    public ConcurrentDictionary<string, long> StallAfter { get; } = new();
    /// <summary>Answer every request with HTTP 503 (an outage).</summary>
    public bool Down { get; set; }
    /// <summary>CDN bodies of these sha256 blobs get one byte flipped (etag unchanged).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    public HubFakeServer()
    {
        // Take a free port from the OS, then listen on it (the tiny race is acceptable in tests).
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        CdnBase = Endpoint;
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _thread = new Thread(Serve) { IsBackground = true, Name = "fake-hub" };
        _thread.Start();
    }

    public static bool IsLfs(string file) => file.EndsWith(".safetensors", StringComparison.Ordinal) || file.EndsWith(".bin", StringComparison.Ordinal);

    public static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>Git's blob id: sha1("blob {length}\0" + content), the ETag the Hub gives small files.</summary>
    public static string GitSha1(byte[] data) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {data.Length}\0"), .. data]));

    void Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = _listener.GetContext(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            ThreadPool.QueueUserWorkItem(_ =>
            {
                try { Handle(context); }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException) { }
            });
        }
    }

    void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        Log.Enqueue(new LoggedRequest(request.HttpMethod, path, request.Headers["Range"], request.Headers["Authorization"]));
        bool head = request.HttpMethod == "HEAD";
        if (Down) { End(response, 503); return; }

        if (path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            var sha = path[5..];
            var blob = Repos.Values.SelectMany(r => r.Files.Values).FirstOrDefault(b => Sha256(b) == sha);
            if (blob is null) { End(response, 404); return; }
            ServeBody(response, sha, blob, request.Headers["Range"], head);
            return;
        }

        // /{org}/{name}/resolve/{revision}/{file...}
        var parts = path.TrimStart('/').Split('/');
        int resolve = Array.IndexOf(parts, "resolve");
        if (resolve is not (1 or 2) || parts.Length < resolve + 3) { End(response, 404); return; }
        var repoId = string.Join('/', parts[..resolve]);
        var revision = parts[resolve + 1];
        var file = string.Join('/', parts[(resolve + 2)..]);
        if (!Repos.TryGetValue(repoId, out var repo) || (repo.RequiredToken is { } token && request.Headers["Authorization"] != "Bearer " + token))
        {
            response.Headers["X-Error-Code"] = "RepoNotFound";
            End(response, 401);
            return;
        }
        if (revision != "main" && revision != repo.Commit)
        {
            response.Headers["X-Error-Code"] = "RevisionNotFound";
            End(response, 404);
            return;
        }
        response.Headers["X-Repo-Commit"] = repo.Commit;
        if (!repo.Files.TryGetValue(file, out var content))
        {
            response.Headers["X-Error-Code"] = "EntryNotFound";
            End(response, 404);
            return;
        }
        if (IsLfs(file))
        {
            var sha = Sha256(content);
            response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            response.Headers["X-Linked-Size"] = content.Length.ToString();
            response.Headers["ETag"] = $"\"{GitSha1(Encoding.ASCII.GetBytes("lfs pointer " + sha))}\"";
            response.RedirectLocation = $"{CdnBase}/cdn/{sha}";
            End(response, 302);
            return;
        }
        response.Headers["ETag"] = $"\"{GitSha1(content)}\"";
        ServeBody(response, GitSha1(content), content, null, head);
    }

    void ServeBody(HttpListenerResponse response, string key, byte[] content, string? range, bool head)
    {
        long start = 0;
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-') && long.TryParse(range[6..^1], out var from))
        {
            if (from >= content.Length) { End(response, 416); return; }
            start = from;
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        var body = content[(int)start..];
        if (!head && Corrupt.ContainsKey(key)) { body = (byte[])body.Clone(); body[body.Length / 2] ^= 0x5a; }
        response.ContentLength64 = body.Length;
        if (head) { response.Close(); return; }
        if (CutAfter.TryRemove(key, out var cut) && cut < body.Length)
        {
            response.OutputStream.Write(body, 0, (int)cut);
            response.OutputStream.Flush();
            Thread.Sleep(200); // let the bytes reach the client before the connection dies
            response.Abort();
            return;
        }
        if (StallAfter.TryRemove(key, out var stall) && stall < body.Length)
        {
            response.OutputStream.Write(body, 0, (int)stall);
            response.OutputStream.Flush();
            Thread.Sleep(3000);
            response.Abort();
            return;
        }
        response.OutputStream.Write(body);
        response.Close();
    }

    static void End(HttpListenerResponse response, int status)
    {
        response.StatusCode = status;
        response.ContentLength64 = 0;
        response.Close();
    }

    public void Dispose()
    {
        if (_listener.IsListening) _listener.Stop();
        _listener.Close();
    }
}
