using System.Runtime.InteropServices;
using System.Text.Json;
using DistilBert.Checkpoints;
using DistilBert.Cli.Commands;

namespace DistilBert.Tests;

/// <summary>
/// The golden training cases replayed through `distilbert grad`'s code: loss, every gradient, and the parameters after
/// one AdamW step without clipping, with clipping, and with HF Trainer's groups, within the README's tolerances.
/// </summary>
public class TrainingGoldenTests
{
    public static IEnumerable<object[]> Cases() => [["distilbert_seqcls_train"], ["distilbert_mlm_train"]];

    static string Dir(string name) => Fixtures.Golden("training", name);

    static Dictionary<string, float[]> AsDictionary(GradCommand.Result r) =>
        r.Tensors.ToDictionary(t => t.Name, t => MemoryMarshal.Cast<byte, float>(t.Data.Span).ToArray());

    static GradCommand.Result Run(string name, GradCommand.Settings settings) =>
        GradCommand.Run(Path.Combine(Dir(name), "initial"), Path.Combine(Dir(name), "expected_forward.safetensors"), settings, TextWriter.Null);

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndEveryGradientMatchPyTorch(string name)
    {
        var result = Run(name, new GradCommand.Settings());
        var actual = AsDictionary(result);
        using var forward = SafeTensors.Open(Path.Combine(Dir(name), "expected_forward.safetensors"));
        float expectedLoss = forward.ReadFloat32("loss")[0];
        Assert.True(Math.Abs(result.Loss - expectedLoss) <= 1e-5 * Math.Max(1, Math.Abs(expectedLoss)), $"loss {result.Loss} vs {expectedLoss}");

        using var grads = SafeTensors.Open(Path.Combine(Dir(name), "grads.safetensors"));
        var expectedNames = grads.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Equal(expectedNames.Order(), actual.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Order());
        foreach (var info in grads.Tensors)
        {
            var e = grads.ReadFloat32(info.Name);
            var a = actual[info.Name];
            double tol = 1e-4 * e.Max(Math.Abs) + 1e-6;
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(a[i] - e[i]) <= tol, $"{name}/{info.Name}[{i}]: got {a[i]}, expected {e[i]} (tol {tol:G3})");
        }
        var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "training.json"))).RootElement;
        Assert.Equal(meta.GetProperty("grad_total_norm_before_clip").GetDouble(), result.GradNormBeforeClip, 1e-3);
    }

    [Theory]
    [InlineData("distilbert_seqcls_train", "params_after_adamw.safetensors", null, false)]
    [InlineData("distilbert_seqcls_train", "params_after_clip_adamw.safetensors", 1.0, false)]
    [InlineData("distilbert_seqcls_train", "params_after_clip_adamw_trainer_groups.safetensors", 1.0, true)]
    [InlineData("distilbert_mlm_train", "params_after_adamw.safetensors", null, false)]
    [InlineData("distilbert_mlm_train", "params_after_clip_adamw.safetensors", 1.0, false)]
    [InlineData("distilbert_mlm_train", "params_after_clip_adamw_trainer_groups.safetensors", 1.0, true)]
    public void ParametersAfterOneAdamWStepMatchPyTorch(string name, string file, double? clip, bool trainerGroups)
    {
        const double lr = 1e-3;
        var actual = AsDictionary(Run(name, new GradCommand.Settings(lr, 0.9, 0.999, 1e-8, 0.01, clip, trainerGroups)));
        using var expected = SafeTensors.Open(Path.Combine(Dir(name), file));
        using var grads = SafeTensors.Open(Path.Combine(Dir(name), "grads.safetensors"));
        var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir(name), "training.json"))).RootElement;
        var noiseDominated = meta.GetProperty("noise_dominated_parameters").EnumerateArray().Select(x => x.GetString()).ToHashSet();
        int checkedStrictly = 0;
        foreach (var info in expected.Tensors)
        {
            var e = expected.ReadFloat32(info.Name);
            Assert.True(actual.TryGetValue(info.Name, out var a), $"no parameter {info.Name} written");
            float[]? g = grads.Contains("grad." + info.Name) ? grads.ReadFloat32("grad." + info.Name) : null;
            double gMax = g?.Max(Math.Abs) ?? 0;
            for (int i = 0; i < e.Length; i++)
            {
                // Elements whose reference gradient is rounding noise may move by up to lr either way (README).
                bool noise = noiseDominated.Contains(info.Name) || (g is not null && Math.Abs(g[i]) < 1e-4 * gMax);
                double tol = noise ? 2 * lr : 5e-5;
                if (!noise) checkedStrictly++;
                Assert.True(Math.Abs(a[i] - e[i]) <= tol, $"{name}/{file}/{info.Name}[{i}]: got {a[i]}, expected {e[i]}");
            }
        }
        Assert.True(checkedStrictly > 1000);
    }

    [Fact]
    public void FrozenSinusoidalPositionsGetNoGradientAndNoUpdate()
    {
        var actual = AsDictionary(Run("distilbert_mlm_train", new GradCommand.Settings(1e-3)));
        const string positions = "distilbert.embeddings.position_embeddings.weight";
        Assert.False(actual.ContainsKey("grad." + positions));
        using var initial = SafeTensors.Open(Path.Combine(Dir("distilbert_mlm_train"), "initial", "model.safetensors"));
        Assert.Equal(initial.ReadFloat32(positions), actual[positions]);
    }

    [Fact]
    public void PadRowOfWordEmbeddingsGetsNoGradientFromTheLookup()
    {
        var actual = AsDictionary(Run("distilbert_seqcls_train", new GradCommand.Settings()));
        var g = actual["grad.distilbert.embeddings.word_embeddings.weight"];
        Assert.All(g.Take(32), x => Assert.Equal(0f, x)); // row 0 = pad_token_id, dim 32
        Assert.Contains(g.Skip(32), x => x != 0f);
    }
}
