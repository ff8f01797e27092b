using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Training;

/// <summary>A set of parameters sharing a weight decay (torch's param_groups).</summary>
public sealed record ParameterGroup(IReadOnlyList<Parameter> Parameters, double WeightDecay);

/// <summary>
/// torch.optim.AdamW (PyTorch 1.13 single-tensor path, amsgrad off), step by step in float32 with Python-float scalars:
/// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps).
/// Parameters without a gradient (frozen, or never reached) are skipped entirely, weight decay included.
/// </summary>
public sealed class AdamW
{
    public IReadOnlyList<ParameterGroup> Groups { get; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    /// <summary>Per parameter (by primary name): first and second moments and its own step count, as torch keeps them.</summary>
    public Dictionary<string, (float[] ExpAvg, float[] ExpAvgSq, long Step)> State { get; } = new(StringComparer.Ordinal);

    public AdamW(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"beta1 must be in [0, 1), got {beta1}");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"beta2 must be in [0, 1), got {beta2}");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"eps must be ≥ 0, got {eps}");
        Groups = groups;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    /// <summary>One group, the same decay for every trainable parameter (torch's AdamW(model.parameters(), weight_decay=wd)).</summary>
    public static IReadOnlyList<ParameterGroup> SingleGroup(ParameterRegistry parameters, double weightDecay) =>
        [new ParameterGroup(parameters.Where(p => p.RequiresGrad).ToList(), weightDecay)];

    /// <summary>
    /// HF Trainer's grouping: weight decay for every parameter outside LayerNorm modules whose name has no "bias"; none
    /// for biases and LayerNorm weights.
    /// </summary>
    public static IReadOnlyList<ParameterGroup> TrainerGroups(ParameterRegistry parameters, double weightDecay)
    {
        var trainable = parameters.Where(p => p.RequiresGrad).ToList();
        var decay = trainable.Where(p => !IsLayerNormParameter(p.Name) && !p.Name.Contains("bias", StringComparison.Ordinal)).ToList();
        var noDecay = trainable.Except(decay).ToList();
        return [new ParameterGroup(decay, weightDecay), new ParameterGroup(noDecay, 0.0)];
    }

    /// <summary>Parameters of nn.LayerNorm modules, by HF's module names (LayerNorm, sa_layer_norm, output_layer_norm, vocab_layer_norm).</summary>
    public static bool IsLayerNormParameter(string name)
    {
        int dot = name.LastIndexOf('.');
        var module = dot < 0 ? "" : name[..dot];
        return module.EndsWith("LayerNorm", StringComparison.Ordinal) || module.EndsWith("layer_norm", StringComparison.Ordinal);
    }

    /// <summary>The optimizer state as tensors (for a resumable checkpoint): <c>exp_avg.&lt;name&gt;</c>,
    /// <c>exp_avg_sq.&lt;name&gt;</c> (F32, the parameter's shape) and <c>step.&lt;name&gt;</c> (I64 scalar).</summary>
    public IEnumerable<TensorToWrite> StateTensors()
    {
        foreach (var p in Groups.SelectMany(g => g.Parameters))
        {
            if (!State.TryGetValue(p.Name, out var s)) continue;
            var shape = p.Shape.Select(d => (long)d).ToArray();
            yield return TensorToWrite.Float32("exp_avg." + p.Name, shape, s.ExpAvg);
            yield return TensorToWrite.Float32("exp_avg_sq." + p.Name, shape, s.ExpAvgSq);
            yield return TensorToWrite.Int64("step." + p.Name, [], [s.Step]);
        }
    }

    /// <summary>Restores what <see cref="StateTensors"/> wrote; a parameter absent from the source starts fresh.</summary>
    public void LoadState(ITensorSource source)
    {
        State.Clear();
        foreach (var p in Groups.SelectMany(g => g.Parameters))
        {
            if (!source.Contains("step." + p.Name)) continue;
            var m = new float[p.Length];
            var v = new float[p.Length];
            foreach (var (name, into) in new[] { ("exp_avg." + p.Name, m), ("exp_avg_sq." + p.Name, v) })
            {
                if (!source.Contains(name) || source.Info(name).ElementCount != p.Length)
                    throw new ModelFileException(source.FilePath, $"optimizer state '{name}' is missing or does not have {p.Length} elements ({p.ShapeText})");
                source.ReadFloat32(name, into);
            }
            State[p.Name] = (m, v, source.ReadInt64("step." + p.Name)[0]);
        }
    }

    public void Step(double lr)
    {
        foreach (var group in Groups)
        {
            foreach (var p in group.Parameters)
            {
                if (p.Grad is not { } g || !p.RequiresGrad) continue;
                if (!State.TryGetValue(p.Name, out var s)) s = (new float[p.Length], new float[p.Length], 0);
                long step = s.Step + 1;
                State[p.Name] = (s.ExpAvg, s.ExpAvgSq, step);
                double biasCorrection1 = 1 - Math.Pow(Beta1, step);
                double biasCorrection2 = 1 - Math.Pow(Beta2, step);
                var scalars = new AdamWScalars((float)(1 - lr * group.WeightDecay), group.WeightDecay != 0, (float)Beta1, (float)(1 - Beta1),
                    (float)Beta2, (float)(1 - Beta2), (float)(lr / biasCorrection1), (float)Math.Sqrt(biasCorrection2), (float)Eps);
                OptimizerKernels.AdamWUpdate(p.Value, g, s.ExpAvg, s.ExpAvgSq, scalars);
                p.MarkChanged();
            }
        }
    }
}

/// <summary>torch.nn.utils.clip_grad_norm_ (L2): total = ‖all gradients‖₂; if max/(total + 1e-6) &lt; 1 every gradient is scaled by it.</summary>
public static class GradientClipping
{
    /// <returns>The total norm before clipping.</returns>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        var grads = parameters.Where(p => p.RequiresGrad && p.Grad is not null).Select(p => p.Grad!).ToList();
        double total = GlobalNorm(grads);
        double coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1)
        {
            float c = (float)coefficient;
            foreach (var g in grads) OptimizerKernels.Scale(g, c);
        }
        return total;
    }

    /// <summary>√Σ‖g‖² over every tensor (torch: the norm of the per-tensor norms), accumulated in double.</summary>
    public static double GlobalNorm(IEnumerable<float[]> grads)
    {
        double sum = 0;
        foreach (var g in grads) sum += OptimizerKernels.SumOfSquares(g);
        return Math.Sqrt(sum);
    }
}

/// <summary>Learning-rate schedules as HF's get_linear_schedule_with_warmup / get_constant_schedule(_with_warmup).</summary>
public static class LearningRateSchedule
{
    /// <summary>lr at optimizer step <paramref name="step"/> (0-based: the rate used by the first step is Linear(0, ...)).
    /// Warmup rises linearly from 0; then the rate decays linearly to 0 at <paramref name="totalSteps"/>.</summary>
    public static double Linear(int step, double baseLr, int warmupSteps, int totalSteps)
    {
        if (step < warmupSteps) return baseLr * step / Math.Max(1, warmupSteps);
        return baseLr * Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));
    }

    /// <summary>Constant after an optional linear warmup.</summary>
    public static double Constant(int step, double baseLr, int warmupSteps = 0) =>
        step < warmupSteps ? baseLr * step / Math.Max(1.0, warmupSteps) : baseLr;
}
