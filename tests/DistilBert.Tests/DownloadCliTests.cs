using System.Diagnostics;
using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>
/// `distilbert download` against the fake Hub, and cancelling a long-running command: in-process through the
/// command's token, and the built CLI interrupted with SIGINT. In the serial collection: the in-process runs capture the
/// console and set the HF_* variables the command reads, both process-wide.
/// </summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class DownloadCliTests : IDisposable
{
    const string RepoId = "test-org/tiny-distilbert";
    const string Commit = "89abcdef0123456789abcdef0123456789abcdef";
    static readonly string[] HubVariables = ["HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"];

    readonly HubFakeServer _hub = new();
    readonly TempDirectory _tmp = new("download-cli");
    readonly string _cache;
    readonly byte[] _weights = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "model.safetensors"));

    public DownloadCliTests()
    {
        _cache = _tmp.File("cache");
        var repo = new HubFakeServer.Repo { Commit = Commit };
        repo.Files["config.json"] = File.ReadAllBytes(Fixtures.Golden("models", "distilbert_seqcls", "config.json"));
        repo.Files["model.safetensors"] = _weights;
        foreach (var f in new[] { "vocab.txt", "tokenizer_config.json" }) repo.Files[f] = File.ReadAllBytes(Fixtures.Golden("tokenizer", f));
        _hub.Repos[RepoId] = repo;
    }

    public void Dispose()
    {
        _hub.Dispose();
        _tmp.Dispose();
    }

    string Snapshot => Path.Combine(_cache, "models--test-org--tiny-distilbert", "snapshots", Commit);

    string WeightsUrl => "/cdn/" + HubFakeServer.Sha256(_weights);

    /// <summary>The HF_* variables as the command should see them: our fake Hub, nothing from the user's setup.</summary>
    Dictionary<string, string?> Environment_() => HubVariables.ToDictionary(v => v, v => v switch
    {
        "HF_ENDPOINT" => _hub.Endpoint,
        "HF_HOME" => _tmp.File("hf-home"),
        _ => (string?)null,
    });

    /// <summary>Runs in-process with the HF_* variables set for the fake Hub, restoring them afterwards.</summary>
    async Task<(int Code, string Out, string Err)> Run(CancellationToken cancellation, params string[] args)
    {
        var saved = HubVariables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        try
        {
            foreach (var (name, value) in Environment_()) Environment.SetEnvironmentVariable(name, value);
            Console.SetOut(output);
            Console.SetError(error);
            // the default invocation settings: no SIGINT handler in the test host (the built CLI's Main adds it)
            int code = await Program.BuildRoot().Parse(args).InvokeAsync(cancellationToken: cancellation);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public async Task DownloadFetchesTheModelIntoTheCacheAndPrintsTheSnapshotFolder()
    {
        var (code, output, error) = await Run(default, "download", RepoId, "--cache-dir", _cache);
        Assert.True(code == 0, error);
        Assert.Equal(Snapshot, output.Trim());
        Assert.Equal(_weights, File.ReadAllBytes(Path.Combine(Snapshot, "model.safetensors")));
        Assert.Equal(_hub.Repos[RepoId].Files["vocab.txt"], File.ReadAllBytes(Path.Combine(Snapshot, "vocab.txt")));
        long total = _hub.Repos[RepoId].Files.Values.Sum(f => (long)f.Length);
        Assert.Contains($"4 files, {total:N0} bytes downloaded, 0 from the cache", error);

        // Again: everything comes from the cache, the weights are not fetched twice.
        int weightFetches = _hub.Log.Count(r => r.Method == "GET" && r.Path == WeightsUrl);
        var again = await Run(default, "download", RepoId, "--cache-dir", _cache);
        Assert.Equal(0, again.Code);
        Assert.Equal(Snapshot, again.Out.Trim());
        Assert.Contains("4 files, 0 bytes downloaded, 4 from the cache", again.Err);
        Assert.Equal(weightFetches, _hub.Log.Count(r => r.Method == "GET" && r.Path == WeightsUrl));
    }

    [Fact]
    public async Task AnUnknownRepoIsOneErrorLineNamingIt()
    {
        var (code, output, error) = await Run(default, "download", "test-org/no-such-model", "--cache-dir", _cache);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("test-org/no-such-model", line);
    }

    /// <summary>Waits until the fake Hub has been asked for the weights (the transfer then stalls for 3 s).</summary>
    void WaitForTheWeightsRequest()
    {
        var clock = Stopwatch.StartNew();
        while (!_hub.Log.Any(r => r.Method == "GET" && r.Path == WeightsUrl))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the download never asked for the weights");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public async Task CancellingARunningDownloadExitsWith130AndSaysCancelled()
    {
        _hub.StallAfter[HubFakeServer.Sha256(_weights)] = 100;
        using var cancellation = new CancellationTokenSource();
        var canceller = Task.Run(() => { WaitForTheWeightsRequest(); cancellation.Cancel(); });
        var (code, output, error) = await Run(cancellation.Token, "download", RepoId, "--cache-dir", _cache);
        await canceller;
        Assert.Equal(130, code);
        Assert.Equal("cancelled", error.Trim().Split('\n')[^1].Trim());
        Assert.Equal("", output);
        Assert.False(File.Exists(Path.Combine(Snapshot, "model.safetensors")));
    }

    /// <summary>True where SIGINT is ignored in this process: a child would inherit that and never see the signal
    /// (a runner started in the background without job control does this).</summary>
    static bool SigIntIgnored()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & (1UL << 1)) != 0;
    }

    [SkippableFact]
    public async Task SigIntStopsTheBuiltCliWithExitCode130AndNoStackTrace()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "sends SIGINT with kill(1) and reads /proc");
        Skip.If(SigIntIgnored(), "SIGINT is ignored in this test process, so the child would ignore it too");
        _hub.StallAfter[HubFakeServer.Sha256(_weights)] = 100;
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "DistilBert.Cli.dll"), "download", RepoId, "--cache-dir", _cache })
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in Environment_())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var cli = Process.Start(start)!;
        var output = cli.StandardOutput.ReadToEndAsync();
        var error = cli.StandardError.ReadToEndAsync();
        try
        {
            WaitForTheWeightsRequest();
            using (var kill = Process.Start("kill", ["-INT", cli.Id.ToString()])) kill.WaitForExit();
            Assert.True(cli.WaitForExit(TimeSpan.FromSeconds(30)), "the CLI did not stop within 30 s of SIGINT");
        }
        finally
        {
            if (!cli.HasExited) cli.Kill();
        }
        string stderr = await error;
        Assert.Equal(130, cli.ExitCode);
        // The command itself stopped (not the signal killing the process): its own last word, and no trace.
        Assert.Equal("cancelled", stderr.Trim().Split('\n')[^1].Trim());
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal("", (await output).Trim());
    }
}
