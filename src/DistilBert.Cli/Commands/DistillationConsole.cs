using DistilBert.Cli.Training;
using DistilBert.Training;

namespace DistilBert.Cli.Commands;

/// <summary>Progress lines of the distillation commands on stderr (with --json): every N steps, each evaluation and checkpoint.
/// <paramref name="components"/> formats the step's loss terms (the mean over its micro-batches).</summary>
internal sealed class DistillationConsole(TextWriter log, int every, Func<string>? components = null) : ITrainingObserver
{
    public void OnStart(TrainingPlan plan) =>
        log.WriteLine($"{plan.Examples:N0} examples: {plan.BatchesPerEpoch} batches/epoch, {plan.StepsPerEpoch} steps/epoch, {plan.TotalSteps} steps, warmup {plan.WarmupSteps}" +
                      (plan.ResumedFrom is null ? "" : $"; resumed at step {plan.StartStep} from {plan.ResumedFrom}"));

    public void OnStep(StepRecord r)
    {
        if (r.Step % every == 0 || r.Step == 1)
            log.WriteLine($"step {r.Step,6}  epoch {r.Epoch,5:F2}  loss {r.Loss,8:F4}  {Terms(r)}  lr {r.LearningRate:E2}  |g| {r.GradNorm,6:F2}  {r.TokensPerSecond,7:N0} tok/s");
    }

    string Terms(StepRecord r) => r.Components is { Count: > 0 } c
        ? string.Join("  ", c.Select(kv => $"{kv.Key} {kv.Value:F4}"))
        : components?.Invoke() ?? "";

    public void OnEvaluation(EvaluationRecord e) =>
        log.WriteLine($"eval at step {e.Step} (epoch {e.Epoch:F2}): " +
                      string.Join("  ", e.Metrics.Select(kv => $"{kv.Key} {kv.Value:G4}")) + (e.IsBest ? "  ← best" : ""));

    public void OnCheckpoint(int step, string path) => log.WriteLine($"checkpoint at step {step}: {path}");
}

/// <summary>Runs a distillation under the training engine's display (live table, or plain lines when redirected) or,
/// with --json, with progress lines on stderr; then draws the learning curves next to metrics.jsonl.</summary>
internal static class DistillationRunner
{
    sealed class Recorder(ITrainingObserver inner) : ITrainingObserver
    {
        public StepRecord? First { get; private set; }
        public StepRecord? Last { get; private set; }
        public void OnStart(TrainingPlan plan) => inner.OnStart(plan);
        public void OnStep(StepRecord step) { First ??= step; Last = step; inner.OnStep(step); }
        public void OnEvaluation(EvaluationRecord evaluation) => inner.OnEvaluation(evaluation);
        public void OnCheckpoint(int step, string path) => inner.OnCheckpoint(step, path);
    }

    public static (TrainingResult Result, StepRecord? First, StepRecord? Last) Run(string outDir, bool resume, bool json, bool plain, int logEvery,
        Func<string> components, Func<ITrainingObserver, TrainingResult> run)
    {
        if (!resume && TrainingCheckpoint.Find(outDir) is { } existing)
            throw new InvalidInputException($"{outDir} already holds a run (checkpoint {existing}): pass --resume to continue it, or choose another --out");
        TrainingResult result;
        Recorder recorder;
        try
        {
            if (json)
            {
                recorder = new Recorder(new DistillationConsole(Console.Error, Math.Max(1, logEvery), components));
                result = run(recorder);
            }
            else
            {
                var display = new TrainingDisplay(plain ? false : null);
                recorder = new Recorder(display);
                result = display.Run(() => run(recorder));
            }
        }
        finally { WritePlot(outDir, json ? Console.Error : Console.Out); }
        return (result, recorder.First, recorder.Last);
    }

    static void WritePlot(string outDir, TextWriter log)
    {
        var metrics = Path.Combine(outDir, MetricsLog.FileName);
        if (!File.Exists(metrics)) return;
        try
        {
            TrainingPlot.Write(metrics, Path.Combine(outDir, TrainingPlot.FileName));
            log.WriteLine($"metrics: {metrics}, curves: {Path.Combine(outDir, TrainingPlot.FileName)}");
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or IOException)
        {
            Console.Error.WriteLine($"warning: could not draw {TrainingPlot.FileName}: {e.Message}");
        }
    }
}
