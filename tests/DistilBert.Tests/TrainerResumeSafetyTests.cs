using System.Text.Json.Nodes;
using DistilBert.Checkpoints;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>
/// What a resume may trust: every field of trainer_state.json and every optimizer tensor is checked against the run,
/// with one error naming the file and the field or tensor.
/// </summary>
public sealed class TrainerResumeSafetyTests : IDisposable
{
    readonly TempDirectory _tmp = new("resume-safety");

    public void Dispose() => _tmp.Dispose();

    static readonly TrainingOptions Options = TrainerLeftoverTests.Options;

    static ClassificationTraining Task() => TrainerLeftoverTests.Task();

    string CrashedRun(string name) => TrainerLeftoverTests.CrashedRun(_tmp.File(name));

    static TrainingResult Resume(string run, TrainingOptions? options = null) => TrainerLeftoverTests.Resume(run, options);

    static string StatePath(string run) => Path.Combine(run, TrainingCheckpoint.FolderName, TrainingCheckpoint.StateFileName);

    /// <summary>Sets (or, with null, removes) the value at a path like <c>evaluations[0].step</c>.</summary>
    static void Edit(string path, string field, string? json)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        var parts = field.Split('.');
        JsonNode node = root;
        foreach (var part in parts[..^1])
            node = part.EndsWith(']') ? node[part[..part.IndexOf('[')]]![int.Parse(part[(part.IndexOf('[') + 1)..^1])]! : node[part]!;
        if (json is null) node.AsObject().Remove(parts[^1]);
        else node[parts[^1]] = JsonNode.Parse(json);
        File.WriteAllText(path, root.ToJsonString());
    }

    [Theory]
    [InlineData("global_step", "999999", "'global_step' is 999999")]
    [InlineData("global_step", "-5", "'global_step' is -5")]
    [InlineData("global_step", "4", "'global_step' 4")]
    [InlineData("global_step", null, "'global_step'")]
    [InlineData("epoch", "3", "'epoch'")]
    [InlineData("epoch", "-1", "'epoch'")]
    [InlineData("batch_in_epoch", "1", "'batch_in_epoch'")]
    [InlineData("batch_in_epoch", "2147483647", "'batch_in_epoch'")]
    [InlineData("total_steps", "0", "'total_steps'")]
    [InlineData("warmup_steps", "-1", "'warmup_steps'")]
    [InlineData("dropout_random_state", "-1", "dropout_random_state")]
    [InlineData("examples_seen", "-1", "'examples_seen'")]
    [InlineData("examples_seen", "1000000", "'examples_seen'")]
    [InlineData("tokens_seen", "-1", "'tokens_seen'")]
    [InlineData("training_seconds", "\"NaN\"", "'training_seconds'")]
    [InlineData("training_seconds", "\"-Infinity\"", "'training_seconds'")]
    [InlineData("best_metric", "\"Infinity\"", "'best_metric'")]
    [InlineData("best_metric", "null", "'best_step'")]
    [InlineData("best_metric", "0.123", "'best_step'")]
    [InlineData("best_step", "1", "'best_step'")]
    [InlineData("evaluations_without_improvement", "5", "'evaluations_without_improvement'")]
    [InlineData("stopped_early", "true", "'stopped_early'")]
    [InlineData("finished", "true", "'finished'")]
    [InlineData("evaluations", "null", "'evaluations'")]
    [InlineData("evaluations", "[]", "'best_step'")]
    [InlineData("evaluations[0].step", "99", "'evaluations[0].step'")]
    [InlineData("evaluations[0].epoch", "\"NaN\"", "'evaluations[0].epoch'")]
    [InlineData("evaluations[0].main_metric", "\"nope\"", "'evaluations[0].main_metric'")]
    [InlineData("evaluations[0].metrics", "{}", "'evaluations[0].metrics'")]
    [InlineData("evaluations[0].is_best", "false", "'best_step'")]
    [InlineData("options", null, "'options'")]
    [InlineData("options", "null", "'options'")]
    [InlineData("options.learning_rate", "\"NaN\"", "'options'")]
    [InlineData("options.beta2", "1.5", "'options'")]
    [InlineData("options.batch_size", "0", "'options'")]
    [InlineData("format", "2", "format 2")]
    public void ADamagedTrainerStateIsRefusedNamingTheFileAndField(string field, string? json, string expected)
    {
        var run = CrashedRun("state");
        Edit(StatePath(run), field, json);
        var error = Assert.Throws<ModelFileException>(() => Resume(run));
        Assert.Contains(StatePath(run), error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ADuplicatedOrOversizedTrainerStateIsRefused()
    {
        var run = CrashedRun("state-raw");
        var text = File.ReadAllText(StatePath(run));
        File.WriteAllText(StatePath(run), "{\"global_step\": 5," + text.TrimStart()[1..]);
        var error = Assert.Throws<ModelFileException>(() => Resume(run));
        Assert.Contains("global_step", error.Message);

        using (var stream = File.Create(StatePath(run))) stream.SetLength(100L * 1024 * 1024); // sparse: nothing to read
        error = Assert.Throws<ModelFileException>(() => Resume(run));
        Assert.Contains("bytes", error.Message);
    }

    [Fact]
    public void ResumingARunPastItsNewLengthIsRefused()
    {
        var run = CrashedRun("shorter");
        var error = Assert.Throws<ModelFileException>(() => Resume(run, Options with { MaxSteps = 1 }));
        Assert.Contains("'global_step' is 2, beyond the 1 steps of this run", error.Message);
        Assert.Equal(6, Resume(run).GlobalStep); // the checkpoint itself is fine
    }

    [Fact]
    public void AnExtendedRunRecordsItsNewLengthInTheCheckpoint()
    {
        var run = CrashedRun("longer");
        Assert.Equal(12, Resume(run, Options with { Epochs = 2 }).GlobalStep);
        var state = TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(run)!);
        Assert.Equal(12, state.TotalSteps);
        Assert.Equal(2, state.Options!.Epochs);
        Assert.Equal(12, Resume(run, Options with { Epochs = 2 }).GlobalStep); // and resumes from it: nothing left to do
    }

    /// <summary>Evaluates to NaN (as a masked-LM loss over no masked targets does).</summary>
    sealed class NanEvaluationTask(ITrainingTask inner) : ITrainingTask
    {
        public TransformerModel Model => inner.Model;
        public IReadOnlyList<int> ExampleLengths => inner.ExampleLengths;
        public IReadOnlyList<string> FilesToCopy => inner.FilesToCopy;
        public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position) => inner.ForwardBackward(batch, lossScale, position);
        public EvaluationResult? Evaluate() => new(new Dictionary<string, double> { ["loss"] = double.NaN }, "loss", HigherIsBetter: false);
    }

    [Fact]
    public void ANanEvaluationIsNeverTheBestSoTheRunStillResumes()
    {
        var run = _tmp.File("nan-eval");
        var crashing = new Trainer(new NanEvaluationTask(Task()), Options, run) { AfterStep = s => { if (s == 3) throw new TimeoutException("simulated crash"); } };
        Assert.Throws<TimeoutException>(() => crashing.Run());
        var saved = TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(run)!);
        Assert.Null(saved.BestMetric);
        Assert.False(saved.Evaluations.Single().IsBest);
        var result = new Trainer(new NanEvaluationTask(Task()), Options, run).Run(resume: true);
        Assert.Equal(6, result.GlobalStep);
        Assert.Null(result.BestMetric);
    }

    [Theory]
    [InlineData(nameof(TrainingOptions.WeightDecay), double.PositiveInfinity)]
    [InlineData(nameof(TrainingOptions.Beta1), -0.1)]
    [InlineData(nameof(TrainingOptions.Beta2), 1.0)]
    [InlineData(nameof(TrainingOptions.Eps), double.NaN)]
    [InlineData(nameof(TrainingOptions.MaxGradNorm), double.PositiveInfinity)]
    public void OptionsOutsideTheirRangeAreRefused(string option, double value)
    {
        var options = option switch
        {
            nameof(TrainingOptions.WeightDecay) => Options with { WeightDecay = value },
            nameof(TrainingOptions.Beta1) => Options with { Beta1 = value },
            nameof(TrainingOptions.Beta2) => Options with { Beta2 = value },
            nameof(TrainingOptions.Eps) => Options with { Eps = value },
            _ => Options with { MaxGradNorm = value },
        };
        Assert.Throws<InvalidInputException>(options.Validate);
    }

    sealed record Tensor(string Name, TensorDType DType, long[] Shape, byte[] Data);

    static List<Tensor> ReadAll(string path)
    {
        using var file = SafeTensors.Open(path);
        return file.Tensors.Select(t => new Tensor(t.Name, t.DType, t.Shape, file.GetBytes(t.Name).ToArray())).ToList();
    }

    static void WriteAll(string path, IEnumerable<Tensor> tensors) =>
        SafeTensors.Write(path, tensors.Select(t => new TensorToWrite(t.Name, t.DType, t.Shape, t.Data)).ToList());

    static byte[] Floats(params float[] values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    [Theory]
    [InlineData("longer", "'exp_avg.classifier.bias'")]
    [InlineData("other-shape", "'exp_avg.classifier.bias'")]
    [InlineData("f16", "'exp_avg.classifier.bias'")]
    [InlineData("nan", "'exp_avg.classifier.bias' holds NaN")]
    [InlineData("negative-second-moment", "'exp_avg_sq.classifier.bias' holds -1")]
    [InlineData("step-zero", "'step.classifier.bias' is 0")]
    [InlineData("step-ahead", "'step.classifier.bias' is 1000")]
    [InlineData("step-vector", "'step.classifier.bias'")]
    [InlineData("orphan-moment", "'exp_avg.classifier.bias' has no 'step.classifier.bias'")]
    [InlineData("unknown-parameter", "'exp_avg.not_a_parameter'")]
    public void ADamagedOptimizerStateIsRefusedNamingTheTensor(string damage, string expected)
    {
        var run = CrashedRun("optimizer");
        var path = Path.Combine(run, TrainingCheckpoint.FolderName, TrainingCheckpoint.OptimizerFileName);
        var tensors = ReadAll(path);
        const string name = "classifier.bias"; // 2 elements
        Tensor Get(string n) => tensors.Single(t => t.Name == n);
        void Set(Tensor t) { tensors.RemoveAll(x => x.Name == t.Name); tensors.Add(t); }
        switch (damage)
        {
            case "longer": Set(new Tensor("exp_avg." + name, TensorDType.F32, [3], Floats(0, 0, 0))); break;
            case "other-shape": Set(new Tensor("exp_avg." + name, TensorDType.F32, [1, 1, 2], Floats(0, 0))); break;
            case "f16": Set(new Tensor("exp_avg." + name, TensorDType.F16, [4], new byte[8])); break;
            case "nan": Set(Get("exp_avg." + name) with { Data = Floats(float.NaN, 0) }); break;
            case "negative-second-moment": Set(Get("exp_avg_sq." + name) with { Data = Floats(-1, 0) }); break;
            case "step-zero": Set(Get("step." + name) with { Data = BitConverter.GetBytes(0L) }); break;
            case "step-ahead": Set(Get("step." + name) with { Data = BitConverter.GetBytes(1000L) }); break;
            case "step-vector": Set(new Tensor("step." + name, TensorDType.I64, [2], [.. BitConverter.GetBytes(1L), .. BitConverter.GetBytes(1L)])); break;
            case "orphan-moment": tensors.RemoveAll(t => t.Name == "step." + name); break;
            case "unknown-parameter": Set(new Tensor("exp_avg.not_a_parameter", TensorDType.F32, [1], Floats(0))); break;
        }
        WriteAll(path, tensors);
        var error = Assert.Throws<ModelFileException>(() => Resume(run));
        Assert.Contains(path, error.Message);
        Assert.Contains(expected, error.Message);
    }
}
