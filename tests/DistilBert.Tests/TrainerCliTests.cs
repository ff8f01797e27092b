using DistilBert.Cli;
using DistilBert.Cli.Commands;
using DistilBert.Cli.Training;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>distilbert train from the command line: classify and ner runs, refusal to overwrite, resume, bad data lines, the PNG.</summary>
public sealed class TrainerCliTests : IDisposable
{
    readonly TempDirectory _tmp = new("train-cli");

    public void Dispose() => _tmp.Dispose();

    static int Run(params string[] args) => Program.BuildRoot().Parse(args).Invoke();

    string Path_(string name) => _tmp.File(name);

    /// <summary>A tiny DistilBERT MLM checkpoint (as from distilbert init) with the real vocabulary beside it.</summary>
    internal static string BaseModel(TempDirectory tmp)
    {
        var config = new DistilBertConfig { Dim = 16, NLayers = 1, NHeads = 2, HiddenDim = 32, MaxPositionEmbeddings = 64, VocabSize = 30522 };
        var folder = tmp.File("base");
        PretrainedModel.Save(PretrainedModel.Create(config, "DistilBertForMaskedLM", 1), folder, [Fixtures.Golden("tokenizer", "vocab.txt")]);
        return folder;
    }

    string BaseModel() => BaseModel(_tmp);

    [Fact]
    public void BareIdLabelsAreNamedAsHuggingFaceNamesThemAndOtherLabelsKeepTheirText()
    {
        static List<string> Names(params string[] labels) =>
            TrainCommand.LabelsOf(labels.Select((l, i) => new DistilBert.Data.TextExample(i + 1, $"text {i}", Label: l)));
        Assert.Equal(["LABEL_0", "LABEL_1"], Names("1", "0", "1"));
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], Names("2", "0", "1"));
        Assert.Equal(["1", "2"], Names("2", "1"));          // not ids from 0: their own text, in numeric order
        Assert.Equal(["-1", "1"], Names("1", "-1"));
        Assert.Equal(["negative", "positive"], Names("positive", "negative"));

        var model = BaseModel();
        File.WriteAllLines(Path_("ids.tsv"), ["sentence\tlabel", .. TrainerLoopTests.ToyData(8, 11).Select(d => $"{d.Text}\t{d.Label}")]);
        Assert.Equal(0, Run("train", "classify", "--model", model, "--train", Path_("ids.tsv"), "--out", Path_("ids"),
            "--epochs", "1", "--batch-size", "4", "--max-length", "16", "--plain"));
        Assert.Equal(["LABEL_0", "LABEL_1"], PretrainedModel.Load(Path_("ids")).Model.Config.Id2Label.Values);
    }

    [Fact]
    public void ClassifyTrainsWritesAnHfFolderMetricsAndCurvesAndResumes()
    {
        var model = BaseModel();
        var data = TrainerLoopTests.ToyData(48, 11);
        File.WriteAllLines(Path_("train.tsv"), ["sentence\tlabel", .. data.Select(d => $"{d.Text}\t{(d.Label == 1 ? "pos" : "neg")}")]);
        File.WriteAllLines(Path_("dev.tsv"), ["sentence\tlabel", .. TrainerLoopTests.ToyData(12, 12).Select(d => $"{d.Text}\t{(d.Label == 1 ? "pos" : "neg")}")]);
        string[] args = ["train", "classify", "--model", model, "--train", Path_("train.tsv"), "--eval", Path_("dev.tsv"), "--out", Path_("run"),
            "--epochs", "2", "--batch-size", "8", "--lr", "5e-3", "--max-length", "16", "--save-every", "4", "--plain"];
        Assert.Equal(0, Run(args));
        var (reloaded, report) = PretrainedModel.Load(Path_("run"));
        Assert.True(report.IsComplete);
        Assert.Equal(["neg", "pos"], reloaded.Config.Id2Label.Values);
        Assert.True(File.Exists(Path_("run/vocab.txt")));
        var (steps, evals) = MetricsLog.Read(Path_("run/metrics.jsonl"));
        Assert.Equal(12, steps.Count);
        Assert.Equal(2, evals.Count);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path_("run/curves.png")).Take(4));

        Assert.Equal(0, Run([.. args, "--resume"])); // nothing left to do: same 12 steps
        Assert.Equal(12, MetricsLog.Read(Path_("run/metrics.jsonl")).Steps.Count);
    }

    [Fact]
    public void NerTakesItsLabelsFromTheData()
    {
        var model = BaseModel();
        File.WriteAllText(Path_("train.conll"), "John\tB-PER\nlives\tO\nin\tO\nParis\tB-LOC\n\nMary\tB-PER\nSmith\tI-PER\nsings\tO\n\n");
        Assert.Equal(0, Run("train", "ner", "--model", model, "--train", Path_("train.conll"), "--eval", Path_("train.conll"), "--out", Path_("ner"),
            "--epochs", "1", "--batch-size", "2", "--lr", "1e-3", "--plain"));
        var config = ModelConfig.Load(Path_("ner"));
        Assert.Equal(["O", "B-PER", "B-LOC", "I-PER"], config.Id2Label.Values.OrderBy(l => config.Label2Id[l])); // "O", then first appearance
        Assert.Equal("DistilBertForTokenClassification", config.Architectures![0]);
    }

    [Fact]
    public void ThePlotDrawsLossAndEvaluationCurves()
    {
        var run = Path_("plot");
        using (var log = new MetricsLog(run, null))
        {
            for (int s = 1; s <= 30; s++) log.Write(new StepRecord(s, s / 10.0, 1.0 / s, 1e-3, 0.5, 100, 10, s));
            log.Write(new EvaluationRecord(10, 1, new() { ["accuracy"] = 0.6 }, "accuracy", true));
            log.Write(new EvaluationRecord(20, 2, new() { ["accuracy"] = 0.7 }, "accuracy", true));
        }
        Assert.True(TrainingPlot.Write(Path.Combine(run, MetricsLog.FileName), Path.Combine(run, "c.png"), 400, 200));
        Assert.True(new FileInfo(Path.Combine(run, "c.png")).Length > 2000);
    }
}

/// <summary>distilbert train's refusals, read from the captured console (so in the serial collection).</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class TrainerCliErrorTests : IDisposable
{
    readonly TempDirectory _tmp = new("train-cli-errors");

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void ABadDataLineIsReportedWithFileAndLine()
    {
        var model = TrainerCliTests.BaseModel(_tmp);
        var data = _tmp.File("bad.tsv");
        File.WriteAllLines(data, ["sentence\tlabel", "fine text\t0", "no label column here", "more\t1"]);
        var (code, _, error) = CliRunner.Run("train", "classify", "--model", model, "--train", data, "--out", _tmp.File("bad"), "--plain");
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {data}:3", error);
    }

    [Fact]
    public void AFinishedRunIsNotOverwrittenWithoutResume()
    {
        var model = TrainerCliTests.BaseModel(_tmp);
        var data = _tmp.File("train.tsv");
        File.WriteAllLines(data, ["sentence\tlabel", .. TrainerLoopTests.ToyData(8, 11).Select(d => $"{d.Text}\t{d.Label}")]);
        var run = _tmp.File("run");
        string[] args = ["train", "classify", "--model", model, "--train", data, "--out", run, "--epochs", "1", "--batch-size", "4", "--max-length", "16", "--plain"];
        Assert.Equal(0, CliRunner.Run(args).Code);
        var weights = File.ReadAllBytes(Path.Combine(run, "model.safetensors"));
        var metrics = File.ReadAllText(Path.Combine(run, MetricsLog.FileName));

        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {run} already holds a run", error);
        Assert.Contains("--resume", error);
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(run, "model.safetensors")));
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(run, MetricsLog.FileName)));
    }
}
