using System.Text;
using System.Text.Json.Nodes;
using DistilBert.Checkpoints;
using DistilBert.Hub;

namespace DistilBert.Tests;

public sealed class HubTests : IDisposable
{
    const string RepoId = "test-org/tiny-distilbert";
    const string Commit = "0123456789abcdef0123456789abcdef01234567";
    readonly HubFakeServer _hub = new();
    readonly TempDirectory _tmp = new("hub");
    // Inside the temp directory, so a path-traversal write that escaped the cache would still be caught and cleaned up.
    readonly string _cache;
    readonly byte[] _weights = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "model.safetensors"));

    public HubTests()
    {
        _cache = Directory.CreateDirectory(_tmp.File("cache")).FullName;
        _hub.Repos[RepoId] = GoldenRepo(Commit, token: null);
    }

    public void Dispose()
    {
        _hub.Dispose();
        _tmp.Dispose();
    }

    static HubFakeServer.Repo GoldenRepo(string commit, string? token)
    {
        var repo = new HubFakeServer.Repo { Commit = commit, RequiredToken = token };
        var folder = Fixtures.Golden("models", "distilbert_seqcls");
        foreach (var f in new[] { "config.json", "model.safetensors", "pytorch_model.bin" }) repo.Files[f] = File.ReadAllBytes(Path.Combine(folder, f));
        foreach (var f in new[] { "vocab.txt", "tokenizer_config.json" }) repo.Files[f] = File.ReadAllBytes(Fixtures.Golden("tokenizer", f));
        return repo;
    }

    HubOptions Options(bool offline = false, string? token = null, string? endpoint = null) =>
        new() { Endpoint = endpoint ?? _hub.Endpoint, CacheDir = _cache, Offline = offline, Token = token, Timeout = TimeSpan.FromSeconds(20) };

    string RepoDir => Path.Combine(_cache, "models--test-org--tiny-distilbert");
    string Sha => HubFakeServer.Sha256(_weights);

    async Task<string> Download(HubOptions? options = null, string repo = RepoId)
    {
        using var client = new HubClient(options ?? Options());
        return await client.DownloadModelAsync(repo);
    }

    [Fact]
    public async Task FreshDownloadFillsTheHuggingFaceCacheLayout()
    {
        var progress = new List<HubProgress>();
        string snapshot;
        using (var client = new HubClient(Options()))
            snapshot = await client.DownloadModelAsync(RepoId, progress: new SyncProgress(progress));

        Assert.Equal(Path.Combine(RepoDir, "snapshots", Commit), snapshot);
        Assert.Equal(Commit, File.ReadAllText(Path.Combine(RepoDir, "refs", "main")));
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(RepoDir, "blobs", Sha)));
        var link = new FileInfo(Path.Combine(snapshot, "model.safetensors"));
        Assert.Equal(Path.Combine("..", "..", "blobs", Sha), link.LinkTarget);
        Assert.Equal(_weights, File.ReadAllBytes(link.FullName));
        var config = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "config.json"));
        Assert.True(File.Exists(Path.Combine(RepoDir, "blobs", HubFakeServer.GitSha1(config))), "small files are named by their git sha1");
        Assert.Equal(["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"],
            Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(_hub.Log, r => r.Path.EndsWith("pytorch_model.bin") && r.Method == "GET"); // safetensors preferred
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoDir, "blobs"), "*.incomplete"));
        Assert.Contains(progress, p => p.FileName == "model.safetensors" && p.BytesDone == _weights.Length && p.TotalBytes == _weights.Length);

        using var weights = CheckpointFile.Open(snapshot);
        Assert.Contains(weights.Tensors, t => t.Name == "classifier.weight");
        // The same repo id resolves to the same folder wherever a model path is accepted.
        Assert.Equal(snapshot, ModelPath.Resolve(RepoId, options: Options()));
    }

    [Fact]
    public async Task SecondDownloadHitsTheCacheAndWorksWithTheNetworkOff()
    {
        var snapshot = await Download();
        int getsBefore = _hub.Log.Count(r => r.Method == "GET");
        Assert.Equal(snapshot, await Download());
        Assert.Equal(getsBefore, _hub.Log.Count(r => r.Method == "GET")); // blobs present: HEAD only

        int requests = _hub.Log.Count;
        Assert.Equal(snapshot, await Download(Options(offline: true)));
        Assert.Equal(requests, _hub.Log.Count); // offline: no request at all

        _hub.Down = true; // a Hub outage (HTTP 503): the cache answers
        Assert.Equal(snapshot, await Download());
        _hub.Dispose(); // network off
        Assert.Equal(snapshot, await Download());
        Assert.Equal(snapshot, ModelPath.Resolve(RepoId, options: Options()));
    }

    [Fact]
    public async Task ConcurrentDownloadsOfOneBlobTakeTurnsOnItsLock()
    {
        // Another process holds huggingface_hub's lock for the weights blob: we wait, then find the blob it fetched.
        var lockPath = Path.Combine(_cache, ".locks", "models--test-org--tiny-distilbert", Sha + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        var held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var download = Download();
        await Task.Delay(600);
        Assert.False(download.IsCompleted);
        var blob = Path.Combine(RepoDir, "blobs", Sha);
        // what the other process leaves behind; it makes the folder itself (our waiting download may not have yet: a
        // slow start, e.g. the first run after a build, made this test flaky)
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.WriteAllBytes(blob, _weights);
        held.Dispose();
        var snapshot = await download;
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.DoesNotContain(_hub.Log, r => r.Method == "GET" && r.Path == "/cdn/" + Sha);
    }

    [Fact]
    public async Task InterruptedDownloadIsResumedWithRange()
    {
        _hub.CutAfter[Sha] = 5000;
        var e = await Assert.ThrowsAsync<HubException>(() => Download());
        Assert.Contains("interrupted", e.Message);
        Assert.Contains("resume", e.Message);
        var incomplete = Path.Combine(RepoDir, "blobs", Sha + ".incomplete");
        long partial = new FileInfo(incomplete).Length;
        Assert.InRange(partial, 1, 5000);
        Assert.False(File.Exists(Path.Combine(RepoDir, "snapshots", Commit, "model.safetensors")));

        var snapshot = await Download();
        Assert.Contains(_hub.Log, r => r.Method == "GET" && r.Path == "/cdn/" + Sha && r.Range == $"bytes={partial}-");
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task StalledTransferTimesOutAndResumes()
    {
        _hub.StallAfter[Sha] = 3000;
        var options = Options() with { Timeout = TimeSpan.FromSeconds(1) };
        var e = await Assert.ThrowsAsync<HubException>(() => Download(options));
        Assert.Contains("no data for 1 s", e.Message);
        long partial = new FileInfo(Path.Combine(RepoDir, "blobs", Sha + ".incomplete")).Length;
        Assert.InRange(partial, 1, 3000);
        var snapshot = await Download();
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    [Fact]
    public async Task UnknownRevisionIsNamed()
    {
        using var client = new HubClient(Options());
        var e = await Assert.ThrowsAsync<HubException>(() => client.DownloadModelAsync(RepoId, "v9.9"));
        Assert.Contains("revision 'v9.9' not found", e.Message);
    }

    [Fact]
    public async Task Sha256MismatchIsRejectedAndNothingReachesTheSnapshot()
    {
        _hub.Corrupt[Sha] = true;
        var e = await Assert.ThrowsAsync<HubException>(() => Download());
        Assert.Contains("sha256 mismatch", e.Message);
        Assert.Contains(Sha, e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.False(File.Exists(Path.Combine(RepoDir, "snapshots", Commit, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(Path.Combine(RepoDir, "blobs"), Sha + "*"));
    }

    [Fact]
    public async Task PrivateRepoNeeds401TokenAndWorksWithIt()
    {
        _hub.Repos["test-org/private"] = GoldenRepo("89abcdef0123456789abcdef0123456789abcdef", token: "hf_secret");
        var e = await Assert.ThrowsAsync<HubException>(() => Download(repo: "test-org/private"));
        Assert.Contains("401", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        var wrong = await Assert.ThrowsAsync<HubException>(() => Download(Options(token: "hf_wrong"), "test-org/private"));
        Assert.Contains("token", wrong.Message);

        // LFS files redirect to a CDN on another host: the token goes to the Hub only.
        using var cdn = new HubFakeServer();
        cdn.Repos["test-org/private"] = _hub.Repos["test-org/private"];
        _hub.CdnBase = cdn.Endpoint;
        var snapshot = await Download(Options(token: "hf_secret"), "test-org/private");
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Contains(_hub.Log, r => r.Path.StartsWith("/test-org/private/") && r.Authorization == "Bearer hf_secret");
        Assert.Contains(cdn.Log, r => r.Method == "GET" && r.Path == "/cdn/" + Sha);
        Assert.All(cdn.Log, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public async Task OfflineModeNamesTheMissingFile()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => Download(Options(offline: true)));
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Contains("'config.json'", e.Message);
        Assert.Empty(_hub.Log);

        // An outage with an empty cache: same answer, naming the HTTP error.
        _hub.Down = true;
        var outage = await Assert.ThrowsAsync<HubException>(() => Download());
        Assert.Contains("HTTP 503", outage.Message);
        Assert.Contains("'config.json' is not in the cache", outage.Message);
        _hub.Down = false;

        // config.json cached, weights not: the weights file is named.
        using (var client = new HubClient(Options()))
            await client.DownloadFileAsync(RepoId, "config.json");
        var weights = await Assert.ThrowsAsync<HubException>(() => Download(Options(offline: true)));
        Assert.Contains("'model.safetensors'", weights.Message);

        var resolve = Assert.Throws<HubException>(() => ModelPath.Resolve(RepoId, options: Options(offline: true)));
        Assert.Contains("not a local folder", resolve.Message);
    }

    [Fact]
    public async Task PathTraversalFileNamesAreRefused()
    {
        var evil = new HubFakeServer.Repo { Commit = "fedcba9876543210fedcba9876543210fedcba98" };
        evil.Files["config.json"] = "{}"u8.ToArray();
        evil.Files["model.safetensors.index.json"] = Encoding.UTF8.GetBytes(
            new JsonObject { ["weight_map"] = new JsonObject { ["a"] = "../../../../evil.safetensors" } }.ToJsonString());
        _hub.Repos["test-org/evil"] = evil;
        var e = await Assert.ThrowsAsync<HubException>(() => Download(repo: "test-org/evil"));
        Assert.Contains("refusing file name '../../../../evil.safetensors'", e.Message);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(_cache)!, "evil.safetensors", SearchOption.TopDirectoryOnly));

        using var client = new HubClient(Options());
        await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync(RepoId, "../config.json"));
        await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync(RepoId, "/etc/passwd"));
        await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync("../etc", "config.json"));
        await Assert.ThrowsAsync<HubException>(() => client.DownloadFileAsync(RepoId, "config.json", revision: "../../x"));
    }

    [Fact]
    public async Task ShardedRepoDownloadsEveryShard()
    {
        using var whole = CheckpointFile.Open(Fixtures.Golden("models", "distilbert_seqcls"));
        var sharded = new HubFakeServer.Repo { Commit = "aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd" };
        sharded.Files["config.json"] = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "config.json"));
        var map = new JsonObject();
        var names = whole.Tensors.Select(t => t.Name).ToList();
        for (int s = 0; s < 2; s++)
        {
            var file = $"model-0000{s + 1}-of-00002.safetensors";
            var tmp = _tmp.File(file);
            var part = names.Where((_, i) => i % 2 == s).ToList();
            SafeTensors.Write(tmp, part.Select(n => CheckpointTests.ToWrite(whole, n)));
            sharded.Files[file] = File.ReadAllBytes(tmp);
            File.Delete(tmp);
            foreach (var n in part) map[n] = file;
        }
        sharded.Files["model.safetensors.index.json"] = Encoding.UTF8.GetBytes(new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());
        _hub.Repos["test-org/sharded"] = sharded;

        var snapshot = await Download(repo: "test-org/sharded");
        using var loaded = CheckpointFile.Open(snapshot);
        Assert.IsType<ShardedTensorSource>(loaded);
        foreach (var n in names) CheckpointTests.AssertBitIdentical(whole.ReadFloat32(n), loaded.ReadFloat32(n), n);
    }

    [Fact]
    public void OptionsFollowHuggingFaceEnvironmentVariables()
    {
        var env = new Dictionary<string, string>
        {
            ["HF_HOME"] = "/x/hfhome", ["HF_ENDPOINT"] = "http://mirror.local/", ["HF_TOKEN"] = "hf_abc", ["HF_HUB_OFFLINE"] = "1",
        };
        var o = HubOptions.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal(Path.Combine("/x/hfhome", "hub"), o.CacheDir);
        Assert.Equal("http://mirror.local", o.Endpoint);
        Assert.Equal("hf_abc", o.Token);
        Assert.True(o.Offline);
        env["HF_HUB_CACHE"] = "/y/cache";
        env["HF_HUB_OFFLINE"] = "0";
        o = HubOptions.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal("/y/cache", o.CacheDir);
        Assert.False(o.Offline);
        Assert.Equal(HubOptions.DefaultEndpoint, HubOptions.FromEnvironment(_ => null).Endpoint);
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests want the reports in hand when the call returns.</summary>
    sealed class SyncProgress(List<HubProgress> sink) : IProgress<HubProgress>
    {
        public void Report(HubProgress value) { lock (sink) sink.Add(value); }
    }
}
