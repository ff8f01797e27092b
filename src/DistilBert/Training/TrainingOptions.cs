namespace DistilBert.Training;

public enum LearningRateScheduleKind { Linear, Constant }

/// <summary>Everything that shapes a training run (HF TrainingArguments' names in spirit). Saved in the checkpoint so a
/// resumed run can check it continues the same run.</summary>
public sealed record TrainingOptions
{
    public int Epochs { get; init; } = 3;
    /// <summary>Stop after this many optimizer steps (overrides <see cref="Epochs"/> for the schedule's length).</summary>
    public int? MaxSteps { get; init; }
    /// <summary>Examples per forward/backward (one micro-batch).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Micro-batches whose gradients are summed (each scaled by 1/count) before one optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 5e-5;
    public LearningRateScheduleKind Schedule { get; init; } = LearningRateScheduleKind.Linear;
    /// <summary>Warmup in optimizer steps; when null, <see cref="WarmupRatio"/> of the total steps.</summary>
    public int? WarmupSteps { get; init; }
    public double WarmupRatio { get; init; }
    public double WeightDecay { get; init; }
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clipping (HF's max_grad_norm); null or ≤ 0 disables it.</summary>
    public double? MaxGradNorm { get; init; } = 1.0;
    /// <summary>Seed of the data order and of dropout.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Write a resumable checkpoint every N optimizer steps (0: only at the end of each epoch and of the run).</summary>
    public int SaveEvery { get; init; }
    /// <summary>Evaluate every N optimizer steps (0: at the end of every epoch).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Stop when the main evaluation metric has not improved for this many evaluations (null: never).</summary>
    public int? Patience { get; init; }
    /// <summary>Mega-batch factor of length-grouped batching (1 = plain shuffled batches of similar order).</summary>
    public int LengthGroupingFactor { get; init; } = 50;

    public void Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new InvalidInputException(message); }
        Require(Epochs >= 1, $"epochs must be at least 1, got {Epochs}");
        Require(MaxSteps is null or >= 1, $"max steps must be at least 1, got {MaxSteps}");
        Require(BatchSize >= 1, $"batch size must be at least 1, got {BatchSize}");
        Require(GradientAccumulation >= 1, $"gradient accumulation must be at least 1, got {GradientAccumulation}");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), $"learning rate must be positive, got {LearningRate}");
        Require(WarmupSteps is null or >= 0, $"warmup steps must not be negative, got {WarmupSteps}");
        Require(WarmupRatio is >= 0 and < 1, $"warmup ratio must be in [0, 1), got {WarmupRatio}");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"weight decay must be a finite number ≥ 0, got {WeightDecay}");
        Require(Beta1 is >= 0 and < 1, $"beta1 must be in [0, 1), got {Beta1}");
        Require(Beta2 is >= 0 and < 1, $"beta2 must be in [0, 1), got {Beta2}");
        Require(Eps >= 0 && double.IsFinite(Eps), $"eps must be a finite number ≥ 0, got {Eps}");
        Require(MaxGradNorm is null || double.IsFinite(MaxGradNorm.Value), $"max grad norm must be finite, got {MaxGradNorm}");
        Require(SaveEvery >= 0, $"save-every must not be negative, got {SaveEvery}");
        Require(EvalEvery >= 0, $"eval-every must not be negative, got {EvalEvery}");
        Require(Patience is null or >= 1, $"patience must be at least 1, got {Patience}");
        Require(LengthGroupingFactor >= 1, $"length grouping factor must be at least 1, got {LengthGroupingFactor}");
    }
}
