using System.Text.Json;
using DistilBert.Cli;
using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>The embedded default and `distilbert quickstart`, on a slice of the shipped data so the suite stays fast.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class QuickstartTests
{
    static string Repo(params string[] parts)
    {
        var fixtures = Fixtures.Golden(); // <repo>/tests/fixtures/golden
        return Path.Combine([Path.GetFullPath(Path.Combine(fixtures, "..", "..", "..")), .. parts]);
    }

    [Fact]
    public void ShippedTeacherIsASmallBertSentimentClassifier()
    {
        var folder = Repo("models", "sentiment-teacher");
        long bytes = Directory.EnumerateFiles(folder).Sum(f => new FileInfo(f).Length);
        Assert.True(bytes <= 25L * 1024 * 1024, $"the shipped teacher takes {bytes:N0} bytes, more than 25 MB");
        var loaded = PretrainedModel.Load(folder);
        Assert.Equal("BertForSequenceClassification", loaded.Model.ArchitectureName);
        Assert.Empty(loaded.Report.Missing);
        Assert.Equal(["negative", "positive"], loaded.Model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value));
    }

    [Fact]
    public void QuickstartDistilsTheTeacherAndReportsBothModels()
    {
        using var tmp = new TempDirectory("quickstart");
        var dir = tmp.Path;
        // A slice of the shipped splits: the real run uses 8,000 and 1,000 rows.
        var train = Path.Combine(dir, "train.tsv");
        var validation = Path.Combine(dir, "validation.tsv");
        File.WriteAllLines(train, File.ReadLines(Repo("samples", "sst2", "distill-train.tsv")).Take(301));
        File.WriteAllLines(validation, File.ReadLines(Repo("samples", "sst2", "validation.tsv")).Take(201));
        var outDir = Path.Combine(dir, "student");

        var (code, output, error) = CliRunner.Run("quickstart", "--teacher", Repo("models", "sentiment-teacher"), "--train", train,
            "--validation", validation, "--out", outDir, "--epochs", "1", "--json");
        Assert.True(code == 0, error);

        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        var teacher = root.GetProperty("teacher");
        var student = root.GetProperty("student");
        Assert.Equal(Path.GetFullPath(outDir), student.GetProperty("path").GetString());
        Assert.Equal(teacher.GetProperty("layers").GetInt32() / 2, student.GetProperty("layers").GetInt32());
        Assert.True(student.GetProperty("parameters").GetInt64() < teacher.GetProperty("parameters").GetInt64());
        Assert.True(student.GetProperty("sentences_per_second").GetDouble() > 0);
        Assert.InRange(teacher.GetProperty("accuracy").GetDouble(), 0.6, 1.0); // a trained teacher, far above chance
        Assert.Equal(200, root.GetProperty("validation_examples").GetInt32());
        // Both accuracies are what the saved models score on the same 200 sentences, computed here one by one.
        var examples = IndependentPredictions.ReadTsv(validation);
        Assert.Equal(IndependentPredictions.Accuracy(Repo("models", "sentiment-teacher"), examples, 128), teacher.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(IndependentPredictions.Accuracy(outDir, examples, 128), student.GetProperty("accuracy").GetDouble(), 12);

        // The student folder is an HF model folder the other commands load.
        var loaded = PretrainedModel.Load(outDir);
        Assert.Equal("DistilBertForSequenceClassification", loaded.Model.ArchitectureName);
        Assert.True(File.Exists(Path.Combine(outDir, "vocab.txt")));
    }
}
