using DistilBert.Training;

namespace DistilBert.Cli.Commands;

/// <summary>Progress lines of the distillation commands: every N steps, each evaluation and checkpoint.</summary>
internal sealed class DistillationConsole(TextWriter log, int every, Func<string> components) : ITrainingObserver
{
    public StepRecord? First { get; private set; }
    public StepRecord? Last { get; private set; }

    public void OnStart(TrainingPlan plan) =>
        log.WriteLine($"{plan.Examples:N0} examples: {plan.BatchesPerEpoch} batches/epoch, {plan.StepsPerEpoch} steps/epoch, {plan.TotalSteps} steps, warmup {plan.WarmupSteps}" +
                      (plan.ResumedFrom is null ? "" : $"; resumed at step {plan.StartStep} from {plan.ResumedFrom}"));

    public void OnStep(StepRecord r)
    {
        First ??= r;
        bool firstOfRun = Last is null;
        Last = r;
        if (firstOfRun || r.Step % every == 0)
            log.WriteLine($"step {r.Step,6}  epoch {r.Epoch,5:F2}  loss {r.Loss,8:F4}  {components()}  lr {r.LearningRate:E2}  |g| {r.GradNorm,6:F2}  {r.TokensPerSecond,7:N0} tok/s");
    }

    public void OnEvaluation(EvaluationRecord e) =>
        log.WriteLine($"eval at step {e.Step} (epoch {e.Epoch:F2}): " +
                      string.Join("  ", e.Metrics.Select(kv => $"{kv.Key} {kv.Value:G4}")) + (e.IsBest ? "  ← best" : ""));

    public void OnCheckpoint(int step, string path) => log.WriteLine($"checkpoint at step {step}: {path}");
}
