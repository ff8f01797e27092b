using DistilBert.Checkpoints;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Tests;

public class TrainingOptimizerTests
{
    [Fact]
    public void AdamWFollowsTorchsFormulaOverSeveralSteps()
    {
        var reg = new ParameterRegistry();
        var p = reg.Add("w", [3]);
        float[] start = [0.5f, -1f, 2f];
        start.CopyTo(p.Value, 0);
        var opt = new AdamW(AdamW.SingleGroup(reg, 0.1), 0.8, 0.9, 1e-6);
        double[] value = start.Select(x => (double)x).ToArray(), m = new double[3], v = new double[3];
        float[][] grads = [[0.1f, -0.2f, 0.3f], [0.4f, 0f, -0.5f], [-0.3f, 0.2f, 0.1f]];
        const double lr = 0.05;
        for (int step = 1; step <= grads.Length; step++)
        {
            grads[step - 1].CopyTo(p.EnsureGrad(), 0);
            opt.Step(lr);
            for (int i = 0; i < 3; i++)
            {
                double g = grads[step - 1][i];
                value[i] *= 1 - lr * 0.1;
                m[i] = 0.8 * m[i] + 0.2 * g;
                v[i] = 0.9 * v[i] + 0.1 * g * g;
                value[i] -= lr / (1 - Math.Pow(0.8, step)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.9, step)) + 1e-6);
                Assert.Equal(value[i], p.Value[i], 1e-6);
            }
        }
        Assert.Equal(3, opt.State["w"].Step);
    }

    [Fact]
    public void AdamWSkipsParametersWithoutGradientIncludingDecay()
    {
        var reg = new ParameterRegistry();
        var frozen = reg.Add("frozen", [2], requiresGrad: false);
        var untouched = reg.Add("untouched", [2]);
        frozen.Value[0] = untouched.Value[0] = 1f;
        new AdamW(AdamW.SingleGroup(reg, 0.5)).Step(0.1);
        Assert.Equal(1f, frozen.Value[0]);
        Assert.Equal(1f, untouched.Value[0]);
    }

    [Fact]
    public void ClippingScalesOnlyWhenTheNormExceedsTheMaximum()
    {
        var reg = new ParameterRegistry();
        var a = reg.Add("a", [2]);
        var b = reg.Add("b", [1]);
        a.EnsureGrad()[0] = 3; a.Grad![1] = 0; b.EnsureGrad()[0] = 4; // norm 5
        Assert.Equal(5, GradientClipping.ClipGlobalNorm(reg, 10), 6);
        Assert.Equal(3f, a.Grad[0]);
        Assert.Equal(5, GradientClipping.ClipGlobalNorm(reg, 1), 6);
        Assert.Equal(3.0 / (5 + 1e-6), a.Grad[0], 6);
        Assert.Equal(4.0 / (5 + 1e-6), b.Grad![0], 6);
    }

    [Fact]
    public void TrainerGroupsExemptBiasesAndLayerNorms()
    {
        var model = PretrainedModel.Create(ModelConfig.Load(Fixtures.Golden("models", "bert_seqcls")));
        var groups = AdamW.TrainerGroups(model.Parameters, 0.01);
        var decay = groups[0].Parameters.Select(p => p.Name).ToHashSet();
        Assert.Contains("bert.encoder.layer.0.attention.self.query.weight", decay);
        Assert.Contains("bert.pooler.dense.weight", decay);
        Assert.DoesNotContain("bert.encoder.layer.0.attention.output.LayerNorm.weight", decay);
        Assert.DoesNotContain("bert.embeddings.LayerNorm.weight", decay);
        Assert.DoesNotContain("classifier.bias", decay);
        Assert.Equal(0.0, groups[1].WeightDecay);
        Assert.Equal(model.Parameters.Count, groups.Sum(g => g.Parameters.Count));
    }

    [Fact]
    public void SchedulesMatchHfLambdas()
    {
        Assert.Equal(0.0, LearningRateSchedule.Linear(0, 1.0, 10, 110));
        Assert.Equal(0.5, LearningRateSchedule.Linear(5, 1.0, 10, 110));
        Assert.Equal(1.0, LearningRateSchedule.Linear(10, 1.0, 10, 110));
        Assert.Equal(0.5, LearningRateSchedule.Linear(60, 1.0, 10, 110));
        Assert.Equal(0.0, LearningRateSchedule.Linear(200, 1.0, 10, 110));
        Assert.Equal(1.0, LearningRateSchedule.Linear(0, 1.0, 0, 10) * 1);
        Assert.Equal(0.3, LearningRateSchedule.Constant(3, 1.0, 10), 12);
        Assert.Equal(1.0, LearningRateSchedule.Constant(50, 1.0, 10));
    }

    [Fact]
    public void SeededRandomIsDeterministicAndResumable()
    {
        var a = new SeededRandom(77);
        a.NextUInt64();
        var saved = a.State;
        var next = a.NextDouble();
        var b = new SeededRandom(0) { State = saved };
        Assert.Equal(next, b.NextDouble());
        var samples = Enumerable.Range(0, 20000).Select(_ => a.NextGaussian()).ToArray();
        Assert.InRange(samples.Average(), -0.03, 0.03);
        Assert.InRange(Math.Sqrt(samples.Select(x => x * x).Average()), 0.97, 1.03);
    }

    [Fact]
    public void DropoutKeepsTheExpectedFractionAndScales()
    {
        var x = Enumerable.Repeat(1f, 10000).ToArray();
        var mask = new float[x.Length];
        DistilBert.Modeling.Layers.Dropout.Forward(x, 0.25, new SeededRandom(3), mask);
        double kept = x.Count(v => v != 0) / (double)x.Length;
        Assert.InRange(kept, 0.73, 0.77);
        Assert.All(x.Where(v => v != 0), v => Assert.Equal(1f / 0.75f, v, 6));
    }
}

public class TrainingOptimizerStateTests
{
    [Fact]
    public void SavedAndRestoredStateContinuesExactlyLikeAnUninterruptedRun()
    {
        static (ParameterRegistry, Parameter) Make()
        {
            var reg = new ParameterRegistry();
            var p = reg.Add("layer.weight", [2, 2]);
            new float[] { 0.5f, -1f, 2f, 0.25f }.CopyTo(p.Value, 0);
            return (reg, p);
        }
        float[][] grads = [[0.1f, -0.2f, 0.3f, 0.4f], [0.4f, 0f, -0.5f, 0.1f], [-0.3f, 0.2f, 0.1f, 0.2f]];
        var (regA, a) = Make();
        var optA = new AdamW(AdamW.SingleGroup(regA, 0.01));
        foreach (var g in grads) { g.CopyTo(a.EnsureGrad(), 0); optA.Step(1e-2); }

        var (regB, b) = Make();
        var optB = new AdamW(AdamW.SingleGroup(regB, 0.01));
        grads[0].CopyTo(b.EnsureGrad(), 0); optB.Step(1e-2);
        using var tmp = new TempDirectory("adamw");
        var path = tmp.File("adamw-state.safetensors");
        DistilBert.Checkpoints.SafeTensors.Write(path, optB.StateTensors());
        var optC = new AdamW(AdamW.SingleGroup(regB, 0.01));
        using (var source = DistilBert.Checkpoints.SafeTensors.Open(path)) optC.LoadState(source);
        foreach (var g in grads.Skip(1)) { g.CopyTo(b.Grad!, 0); optC.Step(1e-2); }
        Assert.Equal(a.Value, b.Value);
        Assert.Equal(3, optC.State["layer.weight"].Step);
    }
}

/// <summary>
/// Five steps of torch's AdamW + clip_grad_norm_ + LambdaLR (fixtures/golden/optimizer): unlike one step, these see
/// clipping (through m and v), weight decay, Trainer's parameter groups and the warm-up schedule.
/// </summary>
public class TrainingOptimizerGoldenTests
{
    // Derived from float32 rounding: each step rounds p twice (decay, update) by ≤ ½ ulp(|p|) and the update's own
    // error is a few ulp of lr·|m̂/√v̂| ≤ 3e-2, so five steps of either implementation stay within ~5 ulp(|p| ≤ 2)
    // = 1.2e-6 of the exact value, typically far less: a float64 re-run of the same steps is within 3.3e-7 of torch.
    // Both float32 implementations together: 1e-6 absolute plus 1 ulp relative. The variants differ by ≥ 7e-3.
    const double Absolute = 1e-6, Relative = 1.2e-7;

    static readonly Lazy<(System.Text.Json.Nodes.JsonNode Meta, Dictionary<string, float[]> Tensors)> Reference = new(() =>
    {
        var meta = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Fixtures.Golden("optimizer", "adamw_multistep.json")))!;
        using var file = DistilBert.Checkpoints.SafeTensors.Open(Fixtures.Golden("optimizer", "adamw_multistep.safetensors"));
        return (meta, file.Tensors.ToDictionary(t => t.Name, t => file.ReadFloat32(t.Name), StringComparer.Ordinal));
    });

    static string[] Names => Reference.Value.Tensors.Keys.Where(k => k.StartsWith("initial.", StringComparison.Ordinal))
        .Select(k => k["initial.".Length..]).Order(StringComparer.Ordinal).ToArray();

    static (ParameterRegistry Registry, AdamW Optimizer) Setup(string variant)
    {
        var (meta, tensors) = Reference.Value;
        var v = meta["variants"]![variant]!;
        var reg = new ParameterRegistry();
        foreach (var name in Names) tensors["initial." + name].CopyTo(reg.Add(name, [tensors["initial." + name].Length]).Value, 0);
        double wd = (double)v["wd"]!;
        var groups = (bool)v["groups"]! ? AdamW.TrainerGroups(reg, wd) : AdamW.SingleGroup(reg, wd);
        var betas = meta["betas"]!.AsArray();
        return (reg, new AdamW(groups, (double)betas[0]!, (double)betas[1]!, (double)meta["eps"]!));
    }

    /// <summary>Runs the variant step by step as the Trainer does (clip, lr of the 0-based step, AdamW) and returns the
    /// worst |actual − expected| / allowed over every element of every step.</summary>
    static double WorstRatio(string variant, Action<ParameterRegistry, AdamW, int>? afterStep = null)
    {
        var (meta, tensors) = Reference.Value;
        var v = meta["variants"]![variant]!;
        var (reg, opt) = Setup(variant);
        int steps = (int)meta["steps"]!;
        double worst = 0;
        for (int t = 1; t <= steps; t++)
        {
            foreach (var p in reg) tensors[$"grad.step{t}.{p.Name}"].CopyTo(p.EnsureGrad(), 0);
            if (v["clip"] is { } clip)
            {
                double norm = GradientClipping.ClipGlobalNorm(reg, (double)clip);
                double torchNorm = (double)meta["grad_norm_before_clip"]![variant]![t - 1]!;
                Assert.True(Math.Abs(norm - torchNorm) <= 1e-6 * torchNorm, $"{variant} step {t}: total norm {norm}, torch {torchNorm}");
            }
            double lr = (double)v["lr"]!;
            if (v["schedule"] is { } schedule)
                lr = LearningRateSchedule.Linear(t - 1, lr, (int)schedule["warmup"]!, (int)schedule["total"]!);
            opt.Step(lr);
            foreach (var p in reg)
            {
                var expected = tensors[$"{variant}.step{t}.{p.Name}"];
                for (int i = 0; i < expected.Length; i++)
                {
                    double allowed = Absolute + Relative * Math.Abs(expected[i]);
                    worst = Math.Max(worst, Math.Abs(p.Value[i] - expected[i]) / allowed);
                }
            }
        }
        return worst;
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("clip")]
    [InlineData("trainer_groups")]
    [InlineData("linear_warmup")]
    public void FiveStepsMatchTorch(string variant)
    {
        double worst = WorstRatio(variant);
        Assert.True(worst <= 1, $"{variant}: off by {worst:F2} × the allowed {Absolute:E0} + {Relative:E1}·|p|");
    }

    [Theory]
    [InlineData("plain", "clip")]
    [InlineData("clip", "trainer_groups")]
    [InlineData("trainer_groups", "linear_warmup")]
    public void TheVariantsAreFarApartComparedWithTheTolerance(string a, string b)
    {
        // What makes the check above meaningful: each feature moves the parameters by far more than the tolerance.
        var tensors = Reference.Value.Tensors;
        double apart = Names.Max(n => tensors[$"{a}.step5.{n}"].Zip(tensors[$"{b}.step5.{n}"], (x, y) => Math.Abs(x - y)).Max());
        Assert.True(apart > 1000 * Absolute, $"{a} vs {b}: {apart:E2}");
    }

    [Fact]
    public void TrainerGroupsOfTheReferenceExemptBiasesAndLayerNorms()
    {
        var (reg, opt) = Setup("trainer_groups");
        Assert.Equal(["classifier.weight", "encoder.layer.0.attention.self.query.weight"], opt.Groups[0].Parameters.Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(0.1, opt.Groups[0].WeightDecay);
        Assert.Equal(0.0, opt.Groups[1].WeightDecay);
        Assert.Equal(reg.Count, opt.Groups.Sum(g => g.Parameters.Count));
    }
}
