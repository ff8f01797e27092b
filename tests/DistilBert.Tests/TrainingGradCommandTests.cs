using DistilBert.Checkpoints;
using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>`distilbert grad` and `distilbert init` through the real command line (option parsing, exit codes, files).</summary>
[Collection(nameof(PipelineCliCollection))] // runs CLI commands, which write to the process-wide console
public class TrainingGradCommandTests
{
    static int Cli(params string[] args) => CliAction.Run(() => Program.BuildRoot().Parse(args).Invoke());

    [Fact]
    public void GradCommandWritesLossGradientsAndUpdatedParameters()
    {
        using var tmp = new TempDirectory("grad");
        var dir = tmp.Path;
        var golden = Fixtures.Golden("training", "distilbert_seqcls_train");
        var outPath = Path.Combine(dir, "out.safetensors");
        Assert.Equal(0, Cli("grad", "--model", Path.Combine(golden, "initial"), "--inputs", Path.Combine(golden, "expected_forward.safetensors"),
            "--out", outPath, "--lr", "1e-3", "--betas", "0.9,0.999", "--eps", "1e-8", "--weight-decay", "0.01", "--clip", "1.0", "--trainer-groups"));
        using var actual = SafeTensors.Open(outPath);
        using var expected = SafeTensors.Open(Path.Combine(golden, "params_after_clip_adamw_trainer_groups.safetensors"));
        using var grads = SafeTensors.Open(Path.Combine(golden, "grads.safetensors"));
        Assert.Equal(1 + grads.Tensors.Count + expected.Tensors.Count, actual.Tensors.Count);
        Assert.Equal(3.8889567852020264, actual.ReadFloat32("loss")[0], 1e-5);
        var name = "distilbert.transformer.layer.1.ffn.lin1.weight";
        var a = actual.ReadFloat32(name);
        var e = expected.ReadFloat32(name);
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(a[i] - e[i]) <= 5e-5, $"{name}[{i}]");
    }

    [Fact]
    public void GradCommandRejectsBadBetasAndInputsWithoutLabels()
    {
        var golden = Fixtures.Golden("models", "distilbert_base_model");
        using var tmp = new TempDirectory("grad-bad");
        var outPath = tmp.File("never.safetensors");
        Assert.Equal(1, Cli("grad", "--model", golden, "--inputs", Path.Combine(golden, "expected.safetensors"), "--out", outPath));
        Assert.Equal(1, Cli("grad", "--model", golden, "--inputs", Path.Combine(golden, "expected.safetensors"), "--out", outPath, "--lr", "1", "--betas", "0.9"));
        Assert.False(File.Exists(outPath));
    }

    [Fact]
    public void InitCommandThenInferRunsEndToEnd()
    {
        using var tmp = new TempDirectory("init-cli");
        var dir = tmp.Path;
        var model = Path.Combine(dir, "m");
        Assert.Equal(0, Cli("init", "--config", Fixtures.Golden("models", "bert_base_pooler", "config.json"), "--out", model, "--seed", "5"));
        var outPath = Path.Combine(dir, "o.safetensors");
        Assert.Equal(0, Cli("infer", "--model", model, "--inputs", Fixtures.Golden("models", "bert_base_pooler", "expected.safetensors"), "--out", outPath));
        using var o = SafeTensors.Open(outPath);
        Assert.Equal(32L, o.Info("pooler_output").Shape[1]);
        Assert.All(o.ReadFloat32("pooler_output"), v => Assert.True(float.IsFinite(v)));
    }
}
