using DistilBert.Modeling;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace DistilBert.Training;

/// <summary>One evaluation in the run's history.</summary>
public sealed record EvaluationRecord(int Step, double Epoch, Dictionary<string, double> Metrics, string MainMetric, bool IsBest);

/// <summary>
/// Everything besides tensors that a resumed run needs to continue exactly where it stopped: the position in the data
/// (epoch and the next batch of its plan, itself rebuilt from the seed), the global step (which is also the schedule's
/// position), the dropout RNG state, the evaluation history, the best metric and the patience counter.
/// </summary>
public sealed class TrainingState
{
    public const int CurrentFormat = 1;
    [JsonRequired]
    public int Format { get; set; } = CurrentFormat;
    /// <summary>Optimizer steps taken so far (the learning-rate schedule's position).</summary>
    [JsonRequired]
    public int GlobalStep { get; set; }
    /// <summary>Epoch of the next batch to run (0-based).</summary>
    [JsonRequired]
    public int Epoch { get; set; }
    /// <summary>Index of the next batch in that epoch's plan.</summary>
    [JsonRequired]
    public int BatchInEpoch { get; set; }
    [JsonRequired]
    public int TotalSteps { get; set; }
    public int WarmupSteps { get; set; }
    /// <summary>State of the model's dropout RNG (<see cref="SeededRandom.State"/>).</summary>
    [JsonRequired]
    public ulong DropoutRandomState { get; set; }
    public long ExamplesSeen { get; set; }
    public long TokensSeen { get; set; }
    public double TrainingSeconds { get; set; }
    public double? BestMetric { get; set; }
    public int? BestStep { get; set; }
    public int EvaluationsWithoutImprovement { get; set; }
    public bool StoppedEarly { get; set; }
    public bool Finished { get; set; }
    [JsonRequired]
    public List<EvaluationRecord> Evaluations { get; set; } = new();
    /// <summary>The options of the run (so a resume can refuse a different run).</summary>
    [JsonRequired]
    public TrainingOptions? Options { get; set; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // the generic converter: the non-generic one makes its per-enum converter at run time, which NativeAOT cannot
        Converters = { new JsonStringEnumConverter<LearningRateScheduleKind>(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        AllowDuplicateProperties = false,
        TypeInfoResolver = TrainingStateJsonContext.Default,
    };

    /// <summary>Far above any real state (an evaluation record takes a few hundred bytes); the file is read whole.</summary>
    public const long MaxFileBytes = 64L * 1024 * 1024;

    /// <summary>The source-generated contract under <see cref="Json"/>'s settings: no reflection, so it also works trimmed
    /// and in a NativeAOT build.</summary>
    static JsonTypeInfo<TrainingState> TypeInfo => (JsonTypeInfo<TrainingState>)Json.GetTypeInfo(typeof(TrainingState));

    public string ToJson() => JsonSerializer.Serialize(this, TypeInfo);

    public static TrainingState FromJson(string json, string path)
    {
        TrainingState? state;
        try { state = JsonSerializer.Deserialize(json, TypeInfo); }
        catch (JsonException e) { throw new ModelFileException(path, $"not a valid trainer state: {e.Message}", e); }
        if (state is null) throw new ModelFileException(path, "empty trainer state");
        if (state.Format != CurrentFormat) throw new ModelFileException(path, $"trainer state format {state.Format} is not supported (expected {CurrentFormat})");
        return state;
    }

    /// <summary>The saved options are present and valid (before a resume compares them with its own).</summary>
    public void ValidateOptions(string path)
    {
        if (Options is null) throw new ModelFileException(path, "'options' is missing");
        try { Options.Validate(); }
        catch (InvalidInputException e) { throw new ModelFileException(path, $"'options': {e.Message}", e); }
    }

    /// <summary>
    /// Checks every field against itself and against the run about to continue from it (<paramref name="plan"/>, made
    /// with <paramref name="options"/>): a hand-edited or damaged state must not make the loop skip, repeat or invent
    /// steps. Throws a <see cref="ModelFileException"/> naming <paramref name="path"/> and the JSON field.
    /// </summary>
    public void Validate(string path, TrainingPlan plan, TrainingOptions options)
    {
        void Require(bool ok, string field, string problem)
        {
            if (!ok) throw new ModelFileException(path, $"'{field}' {problem}");
        }

        ValidateOptions(path);
        Require(TotalSteps >= 1, "total_steps", $"is {TotalSteps}, not a positive number of steps");
        Require(WarmupSteps >= 0, "warmup_steps", $"is {WarmupSteps}, below 0");
        Require(GlobalStep >= 0 && GlobalStep <= TotalSteps, "global_step", $"is {GlobalStep}, outside [0, {TotalSteps}] (total_steps)");
        Require(GlobalStep <= plan.TotalSteps, "global_step",
            $"is {GlobalStep}, beyond the {plan.TotalSteps} steps of this run: raise Epochs or MaxSteps (--epochs, --max-steps) to continue it");

        // The position in the data follows from the step: each epoch takes StepsPerEpoch steps of up to
        // GradientAccumulation batches, and an epoch's last step resets the position to the next epoch's batch 0.
        long expectedEpoch = GlobalStep / plan.StepsPerEpoch;
        long expectedBatch = (long)(GlobalStep % plan.StepsPerEpoch) * options.GradientAccumulation;
        Require(Epoch >= 0, "epoch", $"is {Epoch}, below 0");
        Require(BatchInEpoch >= 0 && BatchInEpoch < plan.BatchesPerEpoch, "batch_in_epoch", $"is {BatchInEpoch}, outside [0, {plan.BatchesPerEpoch - 1}] (this run has {plan.BatchesPerEpoch} batches per epoch)");
        Require(Epoch == expectedEpoch && BatchInEpoch == expectedBatch, Epoch != expectedEpoch ? "epoch" : "batch_in_epoch",
            $"does not match 'global_step' {GlobalStep}: with this run's {plan.StepsPerEpoch} steps per epoch the next batch is epoch {expectedEpoch}, batch {expectedBatch}, " +
            $"not epoch {Epoch}, batch {BatchInEpoch} (the checkpoint is damaged or belongs to a run on other data)");

        Require(ExamplesSeen >= 0 && ExamplesSeen <= (long)GlobalStep * options.BatchSize * options.GradientAccumulation, "examples_seen",
            $"is {ExamplesSeen}, outside [0, {(long)GlobalStep * options.BatchSize * options.GradientAccumulation}] for {GlobalStep} steps");
        Require(TokensSeen >= 0, "tokens_seen", $"is {TokensSeen}, below 0");
        Require(double.IsFinite(TrainingSeconds) && TrainingSeconds >= 0, "training_seconds", $"is {TrainingSeconds}, not a finite number ≥ 0");
        Require(!StoppedEarly || Finished, "stopped_early", "is true but 'finished' is false");
        Require(!Finished || StoppedEarly || GlobalStep == TotalSteps, "finished", $"is true but 'global_step' {GlobalStep} is not 'total_steps' {TotalSteps}");

        Require(Evaluations is not null, "evaluations", "is null");
        int previousStep = 0;
        for (int i = 0; i < Evaluations!.Count; i++)
        {
            var e = Evaluations[i];
            string field = $"evaluations[{i}]";
            Require(e is not null, field, "is null");
            Require(e!.Step >= previousStep && e.Step >= 1 && e.Step <= GlobalStep, field + ".step",
                $"is {e.Step}, outside [{Math.Max(1, previousStep)}, {GlobalStep}] (after the previous evaluation, at most 'global_step')");
            previousStep = e.Step;
            Require(double.IsFinite(e.Epoch) && e.Epoch >= 0, field + ".epoch", $"is {e.Epoch}, not a finite number ≥ 0");
            Require(e.Metrics is not null && e.Metrics.Count > 0, field + ".metrics", "is missing or empty");
            Require(e.MainMetric is not null && e.Metrics!.ContainsKey(e.MainMetric), field + ".main_metric", $"'{e.MainMetric}' is not one of its metrics");
            // Other metrics may be NaN or infinite (a masked-LM loss over no targets, an overflowing perplexity): they are
            // history only. The best one is compared against on resume.
            Require(!e.IsBest || double.IsFinite(e.Metrics![e.MainMetric!]), field + ".metrics." + e.MainMetric, $"is {e.Metrics![e.MainMetric!]} in the best evaluation");
        }
        Require(EvaluationsWithoutImprovement >= 0 && EvaluationsWithoutImprovement <= Evaluations.Count, "evaluations_without_improvement",
            $"is {EvaluationsWithoutImprovement}, outside [0, {Evaluations.Count}] (the evaluations recorded)");

        Require(BestMetric is null == BestStep is null, BestMetric is null ? "best_step" : "best_metric", "is set but the other of 'best_metric' and 'best_step' is not");
        if (BestMetric is { } bestMetric && BestStep is { } bestStep)
        {
            Require(double.IsFinite(bestMetric), "best_metric", $"is {bestMetric}, not a finite number");
            var best = Evaluations.LastOrDefault(e => e.IsBest);
            Require(best is not null && best.Step == bestStep && best.Metrics[best.MainMetric] == bestMetric, "best_step",
                $"{bestStep} with 'best_metric' {bestMetric} is not the last evaluation marked 'is_best' in 'evaluations'");
        }
        else Require(!Evaluations.Any(e => e.IsBest), "best_metric", "is null but 'evaluations' has an evaluation marked 'is_best'");
    }
}

/// <summary>A NaN or infinite loss or gradient: the run stops, its last good checkpoint stays as it was.</summary>
public sealed class TrainingDivergedException(string message) : DistilBertException(message);

/// <summary>Compile-time JSON contracts of <see cref="TrainingState"/>; the naming and number settings come from
/// <see cref="TrainingState.Json"/>, which uses this as its resolver.</summary>
[JsonSerializable(typeof(TrainingState))]
internal sealed partial class TrainingStateJsonContext : JsonSerializerContext;
