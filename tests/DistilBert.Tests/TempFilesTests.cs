using DistilBert.Checkpoints;
using DistilBert.Hub;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>The test helper that keeps test runs from filling the temp folder.</summary>
public class TempDirectoryTests
{
    [Fact]
    public void CreatesAPrefixedDirectoryUnderTheTempFolderAndDeletesItWithEverythingInIt()
    {
        string path;
        using (var tmp = new TempDirectory("selftest"))
        {
            path = tmp.Path;
            Assert.True(Directory.Exists(path));
            Assert.Equal(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.GetTempPath())), Path.GetDirectoryName(path));
            Assert.StartsWith("distilbert-test-selftest-", Path.GetFileName(path));
            Assert.Equal(Path.Combine(path, "a.txt"), tmp.File("a.txt"));
            File.WriteAllText(tmp.File("a.txt"), "a");
            Directory.CreateDirectory(tmp.File(Path.Combine("sub", "deeper")));
            File.WriteAllText(tmp.File(Path.Combine("sub", "deeper", "b.bin")), "b");
        }
        Assert.False(Directory.Exists(path));
    }

    [Fact]
    public void EachInstanceIsFreshAndDisposeNeverThrows()
    {
        using var outer = new TempDirectory("selftest");
        var inner = new TempDirectory("selftest", root: outer.Path);
        Assert.Equal(outer.Path, Path.GetDirectoryName(inner.Path));
        Assert.NotEqual(inner.Path, new TempDirectory("selftest", root: outer.Path).Path);
        Directory.Delete(inner.Path); // already gone: a test may delete its own folder
        inner.Dispose();
        inner.Dispose();
        Assert.Single(Directory.GetDirectories(outer.Path));
    }

    /// <summary>A test that calls the temp-path APIs itself would leave its files behind again.</summary>
    [Fact]
    public void NoTestCreatesTempPathsWithoutTempDirectory()
    {
        var sources = Path.GetFullPath(Path.Combine(Fixtures.Root, "..", "DistilBert.Tests"));
        Assert.True(File.Exists(Path.Combine(sources, nameof(TempDirectory) + ".cs")), $"test sources not found at {sources}");
        string[] calls = [nameof(Path.GetTempPath) + "(", nameof(Path.GetTempFileName) + "(", nameof(Directory.CreateTempSubdirectory) + "("];
        var offenders =
            from file in Directory.EnumerateFiles(sources, "*.cs", SearchOption.AllDirectories)
            let relative = Path.GetRelativePath(sources, file)
            where !relative.StartsWith("bin" + Path.DirectorySeparatorChar) && !relative.StartsWith("obj" + Path.DirectorySeparatorChar)
                && relative is not (nameof(TempDirectory) + ".cs" or nameof(TempFilesTests) + ".cs") // the helper and its own tests
            from line in File.ReadLines(file).Select((text, index) => (text, number: index + 1))
            where calls.Any(call => line.text.Contains(call, StringComparison.Ordinal))
            select $"{relative}:{line.number}: {line.text.Trim()}";
        var found = offenders.ToList();
        Assert.True(found.Count == 0, "use `using var tmp = new TempDirectory(\"...\")` instead of:\n" + string.Join("\n", found));
    }
}

/// <summary>
/// Atomic writes go through a temporary file beside the target; when the write or the rename fails (here: a directory
/// stands where the file should go) the temporary file must not be left behind.
/// </summary>
public class TempFilesTests
{
    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public void SafeTensorsWriteThatCannotRenameLeavesNoTempFile()
    {
        using var tmp = new TempDirectory("atomic");
        Directory.CreateDirectory(tmp.File("out.safetensors"));
        Assert.ThrowsAny<IOException>(() => SafeTensors.Write(tmp.File("out.safetensors"), [TensorToWrite.Float32("a", [2], [1f, 2f])]));
        Assert.Equal(["out.safetensors"], Entries(tmp.Path));
    }

    [Fact]
    public void TokenizerSaveThatCannotRenameLeavesNoTempFile()
    {
        using var tmp = new TempDirectory("atomic");
        Directory.CreateDirectory(tmp.File("vocab.txt"));
        Assert.ThrowsAny<IOException>(() => TokenizerGoldenTests.Golden.Value.Save(tmp.Path));
        Assert.Equal(["vocab.txt"], Entries(tmp.Path));
    }

    [Fact]
    public void HubRefThatCannotBeWrittenLeavesNoTempFile()
    {
        using var tmp = new TempDirectory("atomic");
        var cache = new HubCache(tmp.Path, "test-org/tiny");
        var refPath = cache.RefPath("main");
        Directory.CreateDirectory(refPath);
        Assert.ThrowsAny<IOException>(() => cache.WriteRef("main", "0123456789abcdef0123456789abcdef01234567"));
        Assert.Equal(["main"], Entries(Path.GetDirectoryName(refPath)!));
    }

    [Fact]
    public void TrainerOutputCopyThatCannotRenameLeavesNoTempFile()
    {
        using var tmp = new TempDirectory("atomic");
        var runDir = tmp.File("run");
        Directory.CreateDirectory(Path.Combine(runDir, "config.json"));
        var model = TrainerLoopTests.TinyClassifier();
        var task = new ClassificationTraining(model, TokenizerGoldenTests.Golden.Value, TrainerLoopTests.ToyData(8, 1), null, maxLength: 16);
        var trainer = new Trainer(task, new TrainingOptions { Epochs = 1, BatchSize = 8 }, runDir);
        var e = Assert.ThrowsAny<IOException>(() => trainer.Run());
        Assert.Contains(Path.Combine(runDir, "config.json"), e.Message); // failed at the output copy, after training
        Assert.True(Directory.Exists(Path.Combine(runDir, TrainingCheckpoint.FolderName)));
        Assert.DoesNotContain(Entries(runDir), name => name.Contains(".tmp"));
    }
}

/// <summary>`distilbert init-student` writes config.json through a temporary file; a failed rename must not leave it.</summary>
[Collection(nameof(PipelineCliCollection))]
public class TempFilesCliTests
{
    [Fact]
    public void InitStudentThatCannotWriteConfigLeavesNoTempFile()
    {
        using var tmp = new TempDirectory("atomic-cli");
        var outDir = tmp.File("student");
        Directory.CreateDirectory(Path.Combine(outDir, "config.json"));
        var teacher = Fixtures.Golden("distillation", "teacher_bert_12layer");
        var (code, _, error) = CliRunner.Run("init-student", "--teacher", teacher, "--out", outDir);
        Assert.Equal(1, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the rename's IOException, as one line
        Assert.StartsWith("error: ", line);
        Assert.Contains(Path.Combine(outDir, "config.json"), line);
        Assert.Equal(["config.json", "model.safetensors"], Entries(outDir));
    }

    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
}
