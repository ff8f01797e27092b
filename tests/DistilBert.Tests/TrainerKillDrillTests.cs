using System.Diagnostics;
using DistilBert.Modeling;
using DistilBert.Training;
using Xunit.Abstractions;

namespace DistilBert.Tests;

/// <summary>
/// `train classify` killed with SIGKILL at random points (each while it is writing), then resumed, ends with the
/// uninterrupted run's model bytes and losses and without a temporary left in its folder.
/// </summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class TrainerKillDrillTests(ITestOutputHelper testOutput) : IDisposable
{
    readonly TempDirectory _tmp = new("train-kill");

    public void Dispose() => _tmp.Dispose();

    static string Samples(params string[] parts) => Path.GetFullPath(Path.Combine([Fixtures.Root, "..", "..", "samples", .. parts]));

    static string[] TemporariesUnder(string folder) =>
        Directory.GetFileSystemEntries(folder, "*", SearchOption.AllDirectories).Where(p => Path.GetFileName(p).Contains(".tmp-")).ToArray();

    [Fact]
    public void KilledWithSigkillAtRandomPointsAndResumedTheRunEqualsTheUninterruptedOneAndLeavesNoTemporaries()
    {
        var model = _tmp.File("base");
        PretrainedModel.Save(TrainerLoopTests.TinyClassifier(), model, [Fixtures.Golden("tokenizer", "vocab.txt")]);
        string[] args(string run) =>
        [
            "train", "classify", "--model", model, "--train", Samples("sst2", "distill-train.tsv"), "--limit", "160",
            "--eval", Samples("sst2", "validation.tsv"), "--eval-limit", "16", "--eval-every", "5", "--epochs", "2",
            "--batch-size", "8", "--max-length", "24", "--lr", "1e-3", "--save-every", "2", "--seed", "5", "--out", run, "--plain",
        ];
        var straight = _tmp.File("straight");
        var (code, _, err) = CliRunner.Run(args(straight));
        Assert.True(code == 0, err);

        // Each kill lands while a temporary exists (a checkpoint, best/ or the output being written) after a random
        // number of logged steps, so the drill also leaves what a kill in the middle of a write leaves.
        var killed = _tmp.File("killed");
        var random = new Random();
        var log = new List<string>();
        int leftoversSeen = 0;
        for (int attempt = 0; attempt < 8 && (log.Count < 2 || leftoversSeen == 0); attempt++)
        {
            bool resume = TrainingCheckpoint.Find(killed) is not null;
            int afterSteps = random.Next(1, 40);
            var outcome = RunAndKill([.. args(killed), .. resume ? new[] { "--resume" } : []], killed, afterSteps);
            if (outcome is null) break; // the run finished before the kill point
            int leftovers = TemporariesUnder(killed).Length;
            leftoversSeen += leftovers;
            log.Add($"{(resume ? "resumed, " : "")}killed at step ≥ {afterSteps} ({outcome}), {leftovers} temporaries left");
        }
        (code, _, err) = CliRunner.Run([.. args(killed), .. TrainingCheckpoint.Find(killed) is null ? Array.Empty<string>() : ["--resume"]]);
        var story = string.Join("; ", log);
        testOutput.WriteLine(story);
        Assert.True(code == 0, $"{story}: {err}");
        Assert.True(log.Count > 0, "no kill happened");
        Assert.True(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(killed, "model.safetensors"))),
            $"the resumed model differs from the uninterrupted one ({story})");
        Assert.Equal(MetricsLog.Read(Path.Combine(straight, MetricsLog.FileName)).Steps.Select(s => s.Loss),
            MetricsLog.Read(Path.Combine(killed, MetricsLog.FileName)).Steps.Select(s => s.Loss));
        Assert.True(TemporariesUnder(killed).Length == 0, $"left behind: {string.Join(", ", TemporariesUnder(killed))} ({story})");
        Assert.True(leftoversSeen > 0, $"no kill landed during a write, so the clean-up was not exercised ({story})");
    }

    /// <summary>Runs the CLI in a child process and SIGKILLs it once the metrics log has <paramref name="afterSteps"/>
    /// lines and one of its temporaries exists in <paramref name="run"/>; null when it ended first.</summary>
    static string? RunAndKill(string[] args, string run, int afterSteps)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "DistilBert.Cli.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var metrics = Path.Combine(run, MetricsLog.FileName);
        var ownTemporary = $".tmp-{process.Id}-"; // not the leftovers of an earlier kill, which the run removes first
        var clock = Stopwatch.StartNew();
        while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (File.Exists(metrics) && LineCount(metrics) >= afterSteps && Directory.Exists(run)
                && Directory.EnumerateFileSystemEntries(run).Any(e => Path.GetFileName(e).Contains(ownTemporary)))
            {
                process.Kill(); // SIGKILL: no finally, no clean-up
                process.WaitForExit();
                return $"{LineCount(metrics)} log lines";
            }
        }
        if (!process.HasExited) { process.Kill(); process.WaitForExit(); return "timeout"; }
        process.WaitForExit();
        return null;
    }

    static int LineCount(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            int lines = 0;
            int b;
            while ((b = stream.ReadByte()) >= 0) if (b == '\n') lines++;
            return lines;
        }
        catch (IOException) { return 0; }
    }
}
