using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>The commands that write a model folder refuse an --out that is, contains or lies inside a model they read,
/// before touching anything.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class TrainerCliOverlapTests : IDisposable
{
    readonly TempDirectory _tmp = new("train-cli-overlap");

    public void Dispose() => _tmp.Dispose();

    static string Samples(params string[] parts) => Path.GetFullPath(Path.Combine([Fixtures.Root, "..", "..", "samples", .. parts]));

    /// <summary>A tiny DistilBERT classifier folder with the real vocabulary (usable as --model, --teacher and --student).</summary>
    string TinyModel(string name)
    {
        var folder = _tmp.File(name);
        PretrainedModel.Save(TrainerLoopTests.TinyClassifier(), folder, [Fixtures.Golden("tokenizer", "vocab.txt")]);
        return folder;
    }

    static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);

    public static TheoryData<string> OverlapCases => new() { "same", "same-with-slash", "inside", "contains", "symlink", "dotdot" };

    [Theory]
    [MemberData(nameof(OverlapCases))]
    public void EveryCommandThatWritesAModelFolderRefusesToWriteOverItsInput(string overlap)
    {
        var model = TinyModel("model");
        if (overlap == "symlink") File.CreateSymbolicLink(_tmp.File("link"), model);
        string output = overlap switch
        {
            "same" => model,
            "same-with-slash" => model + Path.DirectorySeparatorChar,
            "inside" => Path.Combine(model, "run"),
            "contains" => _tmp.Path,
            "symlink" => _tmp.File("link"),
            _ => Path.Combine(model, "..", "model"),
        };
        var before = Snapshot(model);
        var train = Samples("sst2", "validation.tsv");
        string[][] commands =
        [
            ["train", "classify", "--model", model, "--train", train, "--limit", "8", "--out", output, "--plain"],
            ["distill-task", "classify", "--teacher", model, "--init-from-teacher", "--train", train, "--max-examples", "8", "--out", output, "--plain"],
            ["distill-task", "classify", "--teacher", model, "--student", _tmp.File("model"), "--train", train, "--out", output, "--plain"],
            ["distill", "--teacher", model, "--student", model, "--corpus", Samples("reviews.txt"), "--max-lines", "8", "--out", output, "--plain"],
            ["init-student", "--teacher", model, "--out", output],
            ["quickstart", "--teacher", model, "--out", output, "--epochs", "1"],
            ["init", "--config", Path.Combine(model, "config.json"), "--out", output],
        ];
        foreach (var command in commands)
        {
            // init reads a config file, not a folder: an --out in a subfolder beside that file overwrites nothing.
            if (command[0] == "init" && overlap == "inside") continue;
            var (code, _, err) = CliRunner.Run(command);
            var line = err.Split('\n')[0];
            Assert.True(code == 1, $"{string.Join(' ', command)}: exit {code}, {line}");
            Assert.StartsWith($"error: --out {output} ", line);
            Assert.Contains("choose another --out", line);
            Assert.Equal(before, Snapshot(model));
        }
    }

    [Fact]
    public void AnOutputBesideTheInputIsStillFine()
    {
        var model = TinyModel("model");
        var (code, _, err) = CliRunner.Run("init", "--config", Path.Combine(model, "config.json"), "--out", _tmp.File("model-2"));
        Assert.True(code == 0, err);
        (code, _, err) = CliRunner.Run("train", "classify", "--model", model, "--train", Samples("sst2", "validation.tsv"), "--limit", "8",
            "--batch-size", "8", "--epochs", "1", "--max-length", "16", "--out", _tmp.File("model-run"), "--plain");
        Assert.True(code == 0, err);
    }
}
