using DistilBert.Checkpoints;
using DistilBert.Cli.Commands;
using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>Every golden forward case, every output, within the golden README's tolerances, from both weight formats.</summary>
public class ModelGoldenTests
{
    static readonly string[] Cases = Directory.GetDirectories(Fixtures.Golden("models")).Select(Path.GetFileName).Order().ToArray()!;
    static readonly HashSet<string> InputNames = ["input_ids", "attention_mask", "token_type_ids", "labels", "start_positions", "end_positions"];

    public static IEnumerable<object[]> CaseNames() => Cases.Select(c => new object[] { c });

    [Fact]
    public void ThereAreThirteenCases() => Assert.Equal(13, Cases.Length);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardMatchesHfFromSafetensors(string name) => CheckCase(name, "model.safetensors");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardMatchesHfFromPytorchBin(string name) => CheckCase(name, "pytorch_model.bin");

    static void CheckCase(string name, string weightsFile)
    {
        var folder = Fixtures.Golden("models", name);
        var config = ModelConfig.Load(folder);
        var model = PretrainedModel.Create(config);
        using (var weights = CheckpointFile.Open(Path.Combine(folder, weightsFile)))
        {
            var report = ParameterStateDict.LoadInto(model.Parameters, weights, model.BaseModelPrefix);
            Assert.Empty(report.Missing);
            Assert.Empty(report.Unexpected);
        }
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var output = model.Forward(InferCommand.ReadInput(expected), new ForwardOptions(true, true));
        int compared = 0;
        foreach (var info in expected.Tensors)
        {
            if (InputNames.Contains(info.Name)) continue;
            Assert.True(output.TryGet(info.Name, out var actual), $"{name}: no output '{info.Name}'");
            Assert.Equal(info.Shape, actual.Shape.Select(d => (long)d).ToArray());
            AssertClose(name, info.Name, expected.ReadFloat32(info.Name), actual.Data, Tolerance(info.Name, config));
            compared++;
        }
        Assert.True(compared >= 3);
    }

    /// <summary>(absolute, relative) per the golden README.</summary>
    internal static (double Abs, double Rel) Tolerance(string output, ModelConfig config) => output switch
    {
        "loss" => (1e-5, 1e-5),
        _ when output.StartsWith("attentions.", StringComparison.Ordinal) => (2e-5, 0),
        "logits" when config.Architectures?[0].EndsWith("ForMaskedLM", StringComparison.Ordinal) == true => (5e-4, 1e-4),
        _ => (1e-4, 1e-4),
    };

    internal static void AssertClose(string caseName, string tensor, float[] expected, float[] actual, (double Abs, double Rel) tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            // loss: |a − e| ≤ 1e-5·max(1, |e|); others: abs + rel·|e|
            double limit = tensor == "loss" ? tol.Abs * Math.Max(1, Math.Abs(e)) : tol.Abs + tol.Rel * Math.Abs(e);
            if (!(Math.Abs(a - e) <= limit))
                Assert.Fail($"{caseName}/{tensor}[{i}]: got {a}, expected {e} (|diff| {Math.Abs(a - e):G3} > {limit:G3})");
        }
    }
}
