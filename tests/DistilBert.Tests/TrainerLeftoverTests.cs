using System.Diagnostics;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>
/// Temporaries left by a killed writer (kill -9: no finally ran) are removed when a run starts or resumes and when a
/// model folder is written; a live writer's temporaries and names that are not ours are left alone.
/// </summary>
public sealed class TrainerLeftoverTests : IDisposable
{
    readonly TempDirectory _tmp = new("leftovers");

    public void Dispose() => _tmp.Dispose();

    internal static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 4, SaveEvery = 2, EvalEvery = 2, LearningRate = 1e-3, Seed = 3 };

    internal static ClassificationTraining Task() =>
        TrainerLoopTests.Task(TrainerLoopTests.TinyClassifier(), TrainerLoopTests.ToyData(24, 6), TrainerLoopTests.ToyData(8, 7));

    /// <summary>A run of 6 steps (<see cref="Options"/>) that crashed after step 3: its checkpoint is at step 2, with one (best) evaluation.</summary>
    internal static string CrashedRun(string run)
    {
        var crashing = new Trainer(Task(), Options, run) { AfterStep = s => { if (s == 3) throw new TimeoutException("simulated crash"); } };
        Assert.Throws<TimeoutException>(() => crashing.Run());
        return run;
    }

    internal static TrainingResult Resume(string run, TrainingOptions? options = null) => new Trainer(Task(), options ?? Options, run).Run(resume: true);

    /// <summary>The id of a process that has exited: a temporary named with it was left by a killed writer.</summary>
    static int ExitedProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("sh", ["-c", "exit 0"]) { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    static string Temporary(string target, int pid) => $".{target}.tmp-{pid}-{Guid.NewGuid():N}";

    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void ResumeRemovesTheTemporariesOfAKilledWriterAndKeepsEverythingElse()
    {
        var run = CrashedRun(_tmp.File("leftovers"));
        int dead = ExitedProcessId();
        // What a kill -9 in the middle of a checkpoint, a best-model save and the output copy leaves behind.
        var staleCheckpoint = Temporary("checkpoint", dead);
        Directory.CreateDirectory(Path.Combine(run, staleCheckpoint, "model"));
        File.WriteAllText(Path.Combine(run, staleCheckpoint, "model", "config.json"), "{");
        var staleBest = Temporary("best", dead);
        Directory.CreateDirectory(Path.Combine(run, staleBest));
        var staleCopy = Temporary("model.safetensors", dead);
        File.WriteAllBytes(Path.Combine(run, staleCopy), new byte[100]);
        // An earlier process that had this process's id (pids are reused, in containers often the same one).
        var staleSamePid = Temporary("config.json", Environment.ProcessId);
        File.WriteAllText(Path.Combine(run, staleSamePid), "{");
        File.SetLastWriteTimeUtc(Path.Combine(run, staleSamePid), DateTime.UtcNow.AddHours(-1));
        // Not to be touched: a live writer's temporary (this process, written now) and names that are not ours.
        var live = Temporary("checkpoint", Environment.ProcessId);
        Directory.CreateDirectory(Path.Combine(run, live));
        string[] notOurs = [$".checkpoint.tmp-{dead}-not-a-guid", $".checkpoint.tmp-{dead}", "notes.tmp-1-x", ".checkpoint.previous.txt"];
        foreach (var name in notOurs) File.WriteAllText(Path.Combine(run, name), "keep");

        var result = Resume(run);

        Assert.Equal(6, result.GlobalStep);
        var entries = Entries(run);
        foreach (var gone in new[] { staleCheckpoint, staleBest, staleCopy, staleSamePid }) Assert.DoesNotContain(gone, entries);
        foreach (var kept in notOurs.Append(live)) Assert.Contains(kept, entries);
    }

    [Fact]
    public void AModelFolderSaveRemovesStaleTemporariesOfThatFolderOnly()
    {
        var parent = _tmp.File("models");
        var target = Path.Combine(parent, "best");
        var model = TrainerLoopTests.TinyClassifier();
        PretrainedModel.Save(model, target);
        int dead = ExitedProcessId();
        var staleFolder = Temporary("best", dead);
        Directory.CreateDirectory(Path.Combine(parent, staleFolder));
        var staleInside = Temporary("config.json", dead);
        File.WriteAllText(Path.Combine(target, staleInside), "{");
        var otherTarget = Temporary("other", dead); // another folder's leftover: its own save will clean it
        Directory.CreateDirectory(Path.Combine(parent, otherTarget));

        PretrainedModel.Save(model, target);

        Assert.Equal([otherTarget, "best"], Entries(parent));
        Assert.Equal(["config.json", "model.safetensors"], Entries(target));
    }

    [Fact]
    public void TemporariesOfALiveProcessStayUnlessWrittenBeforeItStarted()
    {
        using var tmp = new TempDirectory("stale");
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", ["30"]) { UseShellExecute = false })!;
        try
        {
            Thread.Sleep(50);
            var live = Temporary("checkpoint", sleeper.Id);
            Directory.CreateDirectory(tmp.File(live));
            var reused = Temporary("model.safetensors", sleeper.Id); // written long before this process with the id began
            File.WriteAllText(tmp.File(reused), "x");
            File.SetLastWriteTimeUtc(tmp.File(reused), DateTime.UtcNow.AddHours(-1));
            var gone = Temporary("checkpoint", ExitedProcessId());
            Directory.CreateDirectory(tmp.File(gone));

            var removed = TemporaryFiles.RemoveStale(tmp.Path);

            Assert.Equal(new[] { gone, reused }.Order(StringComparer.Ordinal), removed.Order(StringComparer.Ordinal));
            Assert.Equal([live], Entries(tmp.Path));
        }
        finally { sleeper.Kill(); }
    }
}
