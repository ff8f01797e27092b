using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Distillation;

/// <summary>Optimizer settings shared by general and task distillation.</summary>
public sealed record DistillationSchedule(int BatchSize, int GradientAccumulation, int Epochs, int? MaxSteps, double LearningRate,
    double WarmupRatio, double MaxGradNorm, double WeightDecay, double AdamEps, int Seed);

/// <summary>One micro-batch's loss, its named components and its token count.</summary>
public readonly record struct MicroBatchResult(double Loss, IReadOnlyDictionary<string, double> Components, long Tokens);

/// <summary>What a distillation run reports after each optimizer step.</summary>
public sealed record DistillationProgress(int Step, int TotalSteps, int Epoch, double Loss, IReadOnlyDictionary<string, double> Components,
    double LearningRate, double GradNorm, long TokensSeen, double Seconds);

/// <summary>
/// The optimisation loop both distillers drive: length-grouped batches per epoch, gradient accumulation, global-norm
/// clipping, linear warmup/decay and AdamW over the student's trainable parameters.
/// </summary>
internal static class DistillationLoop
{
    public static (int BatchesPerEpoch, int StepsPerEpoch, int TotalSteps) Plan(int examples, DistillationSchedule s)
    {
        int batches = (examples + s.BatchSize - 1) / s.BatchSize;
        int perEpoch = batches / s.GradientAccumulation;
        if (perEpoch == 0)
            throw new InvalidInputException($"{examples} examples make {batches} batches of {s.BatchSize}, fewer than --grad-accum {s.GradientAccumulation}: no optimizer step is possible");
        int total = perEpoch * s.Epochs;
        if (s.MaxSteps is { } m) total = Math.Min(total, m);
        return (batches, perEpoch, total);
    }

    /// <param name="microBatch">(example indices, loss scale, epoch, batch index) → forward + backward of that batch</param>
    /// <param name="onEpochEnd">called with the epoch index after its last step (evaluation)</param>
    public static DistillationProgress Run(TransformerModel student, IReadOnlyList<int> lengths, DistillationSchedule s,
        Func<int[], float, int, int, MicroBatchResult> microBatch, Action<DistillationProgress>? onStep, Action<int>? onEpochEnd,
        CancellationToken cancellation)
    {
        var (_, perEpoch, totalSteps) = Plan(lengths.Count, s);
        int warmup = (int)Math.Ceiling(s.WarmupRatio * totalSteps);
        var optimizer = new AdamW(AdamW.SingleGroup(student.Parameters, s.WeightDecay), eps: s.AdamEps);
        student.Random = new SeededRandom((ulong)s.Seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int step = 0;
        long tokens = 0;
        DistillationProgress? last = null;
        for (int epoch = 0; step < totalSteps; epoch++)
        {
            var batches = Batching.LengthGroupedEpoch(lengths, s.BatchSize, s.Seed, epoch);
            for (int b = 0; b + s.GradientAccumulation <= batches.Length && step < totalSteps; b += s.GradientAccumulation)
            {
                cancellation.ThrowIfCancellationRequested();
                student.Train();
                student.Parameters.ZeroGrad();
                float scale = 1f / s.GradientAccumulation;
                double loss = 0;
                var components = new Dictionary<string, double>();
                for (int k = 0; k < s.GradientAccumulation; k++)
                {
                    var r = microBatch(batches[b + k], scale, epoch, b + k);
                    loss += r.Loss * scale;
                    foreach (var (name, v) in r.Components) components[name] = components.GetValueOrDefault(name) + v * scale;
                    tokens += r.Tokens;
                }
                if (!double.IsFinite(loss)) throw new InvalidInputException($"the distillation loss is {loss} at step {step + 1}: lower --lr");
                double norm = GradientClipping.ClipGlobalNorm(student.Parameters, s.MaxGradNorm);
                double lr = LearningRateSchedule.Linear(step, s.LearningRate, warmup, totalSteps);
                optimizer.Step(lr);
                step++;
                last = new DistillationProgress(step, totalSteps, epoch, loss, components, lr, norm, tokens, clock.Elapsed.TotalSeconds);
                onStep?.Invoke(last);
            }
            student.Eval();
            onEpochEnd?.Invoke(epoch);
        }
        student.Eval();
        return last!;
    }
}
