using System.Diagnostics;
using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Training;

/// <summary>The shape of a run, known before its first step.</summary>
public sealed record TrainingPlan(int Examples, int BatchesPerEpoch, int StepsPerEpoch, int TotalSteps, int WarmupSteps, int StartStep, string? ResumedFrom);

/// <summary>Hooks for a display; every method is optional.</summary>
public interface ITrainingObserver
{
    void OnStart(TrainingPlan plan) { }
    void OnStep(StepRecord step) { }
    void OnEvaluation(EvaluationRecord evaluation) { }
    void OnCheckpoint(int step, string path) { }
}

/// <summary>How a run ended.</summary>
public sealed record TrainingResult(int GlobalStep, int TotalSteps, double? LastLoss, double? BestMetric, int? BestStep,
    bool StoppedEarly, IReadOnlyList<EvaluationRecord> Evaluations, string OutputDirectory, int StartStep);

/// <summary>
/// The training loop shared by fine-tuning and distillation. Per optimizer step: <see cref="TrainingOptions.GradientAccumulation"/>
/// micro-batches from a length-grouped, seeded epoch plan (each backward scaled by 1/count, so the step sees the mean
/// gradient), global-norm clipping, the learning rate from the schedule, AdamW with HF Trainer's groups (no decay on
/// biases and LayerNorm weights). Then, when due: evaluation (keeping the best model in <c>best/</c>, early stopping
/// after <see cref="TrainingOptions.Patience"/> evaluations without improvement) and an atomic checkpoint. At the end
/// the run folder itself is an HF model folder holding the best model (or the last one when nothing was evaluated).
/// Every random draw derives from the seed, the epoch and the batch index or lives in the checkpoint, so a resumed
/// run repeats the losses of an uninterrupted one exactly.
/// </summary>
public sealed class Trainer
{
    public const string BestFolderName = "best";
    readonly ITrainingTask _task;
    readonly TrainingOptions _options;
    readonly string _runDirectory;
    readonly ITrainingObserver? _observer;

    /// <summary>Runs after every optimizer step (tests simulate a crash by throwing from it).</summary>
    public Action<int>? AfterStep { get; init; }

    public Trainer(ITrainingTask task, TrainingOptions options, string runDirectory, ITrainingObserver? observer = null)
    {
        options.Validate();
        if (task.ExampleLengths.Count == 0) throw new InvalidInputException("there are no training examples");
        _task = task;
        _options = options;
        _runDirectory = Path.GetFullPath(runDirectory);
        _observer = observer;
    }

    public TrainingPlan Plan(int startStep = 0, string? resumedFrom = null)
    {
        int examples = _task.ExampleLengths.Count;
        int batches = (examples + _options.BatchSize - 1) / _options.BatchSize;
        int stepsPerEpoch = (batches + _options.GradientAccumulation - 1) / _options.GradientAccumulation;
        int total = _options.MaxSteps ?? checked(stepsPerEpoch * _options.Epochs);
        int warmup = _options.WarmupSteps ?? (int)Math.Ceiling(_options.WarmupRatio * total);
        return new TrainingPlan(examples, batches, stepsPerEpoch, total, warmup, startStep, resumedFrom);
    }

    public double LearningRateAt(int step, TrainingPlan plan) => _options.Schedule == LearningRateScheduleKind.Linear
        ? LearningRateSchedule.Linear(step, _options.LearningRate, plan.WarmupSteps, plan.TotalSteps)
        : LearningRateSchedule.Constant(step, _options.LearningRate, plan.WarmupSteps);

    /// <param name="resume">continue from the run folder's checkpoint (an error when there is none)</param>
    public TrainingResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        var model = _task.Model;
        var optimizer = new AdamW(AdamW.TrainerGroups(model.Parameters, _options.WeightDecay), _options.Beta1, _options.Beta2, _options.Eps);
        var plan = Plan();
        var state = new TrainingState { TotalSteps = plan.TotalSteps, WarmupSteps = plan.WarmupSteps, Options = _options };
        model.Random = new SeededRandom(unchecked((ulong)_options.Seed * 0x9E3779B97F4A7C15UL + 1));
        // A killed earlier run (kill -9: no finally ran) can leave temporary checkpoint folders and half-copied files.
        TemporaryFiles.RemoveStale(_runDirectory);
        if (resume)
        {
            var checkpoint = TrainingCheckpoint.Find(_runDirectory)
                ?? throw new InvalidInputException($"cannot resume: no complete checkpoint in {_runDirectory}");
            var saved = TrainingCheckpoint.ReadState(checkpoint);
            var statePath = Path.Combine(checkpoint, TrainingCheckpoint.StateFileName);
            saved.ValidateOptions(statePath);
            CheckSameRun(saved.Options!, checkpoint);
            saved.Validate(statePath, plan, _options);
            state = TrainingCheckpoint.Load(checkpoint, model, optimizer, saved);
            // From here on the state describes this run, whose length may differ (more epochs extend a run).
            state.TotalSteps = plan.TotalSteps;
            state.WarmupSteps = plan.WarmupSteps;
            state.Options = _options;
            plan = Plan(state.GlobalStep, checkpoint);
        }
        Directory.CreateDirectory(_runDirectory);
        using var log = new MetricsLog(_runDirectory, resume ? state.GlobalStep : null);
        _observer?.OnStart(plan);

        double? lastLoss = null;
        var clock = Stopwatch.StartNew();
        double elapsedBefore = state.TrainingSeconds;
        model.Train();
        while (state.GlobalStep < plan.TotalSteps && !state.StoppedEarly)
        {
            var batches = Batching.LengthGroupedEpoch(_task.ExampleLengths, _options.BatchSize, _options.Seed, state.Epoch, _options.LengthGroupingFactor);
            while (state.BatchInEpoch < batches.Length && state.GlobalStep < plan.TotalSteps)
            {
                cancellation.ThrowIfCancellationRequested();
                var stepClock = Stopwatch.StartNew();
                int first = state.BatchInEpoch, end = Math.Min(first + _options.GradientAccumulation, batches.Length);
                float scale = 1f / (end - first);
                model.Parameters.ZeroGrad();
                double lossSum = 0;
                long tokens = 0, examples = 0;
                Dictionary<string, double>? components = null;
                for (int b = first; b < end; b++)
                {
                    var result = _task.ForwardBackward(batches[b], scale, new BatchPosition(state.Epoch, b, _options.Seed));
                    lossSum += result.Loss;
                    foreach (var (name, value) in result.Components ?? new Dictionary<string, double>())
                    {
                        components ??= new Dictionary<string, double>();
                        components[name] = components.GetValueOrDefault(name) + value / (end - first);
                    }
                    tokens += result.Tokens;
                    examples += batches[b].Length;
                }
                double loss = lossSum / (end - first);
                int step = state.GlobalStep + 1;
                var grads = model.Parameters.Where(p => p.RequiresGrad && p.Grad is not null).Select(p => p.Grad!);
                double gradNorm = _options.MaxGradNorm is > 0 and var max
                    ? GradientClipping.ClipGlobalNorm(model.Parameters, max)
                    : GradientClipping.GlobalNorm(grads);
                if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                    throw new TrainingDivergedException($"step {step} (epoch {state.Epoch + 1}, batch {first}): the loss is {loss} and the gradient norm {gradNorm}; " +
                        $"stopped without updating. The last good checkpoint is {TrainingCheckpoint.Find(_runDirectory) ?? "(none yet)"}");
                double lr = LearningRateAt(state.GlobalStep, plan);
                optimizer.Step(lr);

                state.GlobalStep = step;
                state.BatchInEpoch = end;
                state.ExamplesSeen += examples;
                state.TokensSeen += tokens;
                state.TrainingSeconds = elapsedBefore + clock.Elapsed.TotalSeconds;
                state.DropoutRandomState = model.Random.State;
                lastLoss = loss;
                double seconds = Math.Max(stepClock.Elapsed.TotalSeconds, 1e-9);
                var record = new StepRecord(step, state.Epoch + (double)end / batches.Length, loss, lr, gradNorm, tokens / seconds, examples / seconds, state.TrainingSeconds, components);
                log.Write(record);
                _observer?.OnStep(record);

                bool epochEnded = end == batches.Length;
                bool last = step == plan.TotalSteps;
                if (_options.EvalEvery > 0 ? step % _options.EvalEvery == 0 || last : epochEnded || last)
                    Evaluate(state, record.Epoch, log);
                if (epochEnded) { state.Epoch++; state.BatchInEpoch = 0; }
                state.DropoutRandomState = model.Random.State;
                if ((_options.SaveEvery > 0 && step % _options.SaveEvery == 0) || epochEnded || last || state.StoppedEarly)
                {
                    state.Finished = last || state.StoppedEarly;
                    var path = TrainingCheckpoint.Save(_runDirectory, model, optimizer, state, _task.FilesToCopy);
                    _observer?.OnCheckpoint(step, path);
                }
                AfterStep?.Invoke(step);
                if (state.StoppedEarly || epochEnded) break; // the next epoch has its own batch plan
            }
        }
        model.Eval();
        WriteOutputModel();
        return new TrainingResult(state.GlobalStep, plan.TotalSteps, lastLoss, state.BestMetric, state.BestStep, state.StoppedEarly,
            state.Evaluations, _runDirectory, plan.StartStep);
    }

    void Evaluate(TrainingState state, double epoch, MetricsLog log)
    {
        var model = _task.Model;
        model.Eval();
        EvaluationResult? result;
        try { result = _task.Evaluate(); }
        finally { model.Train(); }
        if (result is null) return;
        bool best = result.IsBetterThan(state.BestMetric);
        if (best)
        {
            state.BestMetric = result.Main;
            state.BestStep = state.GlobalStep;
            state.EvaluationsWithoutImprovement = 0;
            PretrainedModel.Save(model, Path.Combine(_runDirectory, BestFolderName), _task.FilesToCopy);
        }
        else if (++state.EvaluationsWithoutImprovement >= (_options.Patience ?? int.MaxValue))
            state.StoppedEarly = true;
        var record = new EvaluationRecord(state.GlobalStep, epoch, new Dictionary<string, double>(result.Metrics), result.MainMetric, best);
        state.Evaluations.Add(record);
        log.Write(record);
        _observer?.OnEvaluation(record);
    }

    /// <summary>The run folder becomes an HF model folder: the best evaluated model, else the last.</summary>
    void WriteOutputModel()
    {
        var best = Path.Combine(_runDirectory, BestFolderName);
        var source = File.Exists(Path.Combine(best, ModelFolder.ConfigName))
            ? best
            : Path.Combine(TrainingCheckpoint.Find(_runDirectory) ?? throw new InvalidOperationException("the run ended without a checkpoint"), TrainingCheckpoint.ModelFolderName);
        foreach (var file in Directory.GetFiles(source))
        {
            // Copy then rename: a reader of the run folder never sees a half-copied file.
            AtomicFile.Copy(file, Path.Combine(_runDirectory, Path.GetFileName(file)));
        }
    }

    void CheckSameRun(TrainingOptions saved, string checkpoint)
    {
        // Settings that change the data order or the arithmetic would make the resumed run a different run.
        var now = _options with { Epochs = saved.Epochs, MaxSteps = saved.MaxSteps, SaveEvery = saved.SaveEvery, EvalEvery = saved.EvalEvery, Patience = saved.Patience };
        if (now != saved)
            throw new InvalidInputException($"cannot resume: {checkpoint} was written by a run with different settings ({Describe(saved)}) than now ({Describe(now)})");
    }

    static string Describe(TrainingOptions o) =>
        $"batch {o.BatchSize}, accumulation {o.GradientAccumulation}, lr {o.LearningRate}, {o.Schedule}, warmup {o.WarmupSteps?.ToString() ?? o.WarmupRatio + " ratio"}, " +
        $"weight decay {o.WeightDecay}, clip {o.MaxGradNorm}, seed {o.Seed}";
}
