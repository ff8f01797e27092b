using System.Diagnostics;
using System.Globalization;
using DistilBert.Training;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DistilBert.Cli.Training;

/// <summary>
/// What a training run shows: on a terminal a live Spectre table (step, epoch, loss, learning rate, gradient norm,
/// tokens/s, elapsed, ETA, the last and best evaluation), redrawn at most four times a second; when stdout is
/// redirected plain lines instead — about fifty over the run, plus one per evaluation and checkpoint.
/// </summary>
public sealed class TrainingDisplay : ITrainingObserver
{
    readonly bool _interactive;
    readonly Stopwatch _clock = new();
    readonly Queue<double> _recentLosses = new();
    readonly List<string> _events = new();
    TrainingPlan? _plan;
    StepRecord? _last;
    EvaluationRecord? _lastEval, _bestEval;
    LiveDisplayContext? _live;
    TimeSpan _lastDraw = TimeSpan.FromSeconds(-1);
    int _lastPlainStep;

    /// <summary>
    /// A display that is live when <paramref name="interactive"/> (default: stdout is a terminal), plain lines
    /// otherwise.
    /// </summary>
    public TrainingDisplay(bool? interactive = null) => _interactive = interactive ?? !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="train"/> under the live display (or plainly).</summary>
    public T Run<T>(Func<T> train)
    {
        if (!_interactive) return train();
        return AnsiConsole.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Start(ctx =>
        {
            _live = ctx;
            try { return train(); }
            finally { Draw(force: true); _live = null; }
        });
    }

    /// <summary>Shows the run's plan: examples, steps, epochs.</summary>
    public void OnStart(TrainingPlan plan)
    {
        _plan = plan;
        _clock.Restart();
        var resumed = plan.ResumedFrom is null ? "" : $", resumed at step {plan.StartStep} from {plan.ResumedFrom}";
        Event($"{plan.Examples:N0} examples, {plan.BatchesPerEpoch:N0} batches and {plan.StepsPerEpoch:N0} optimizer steps per epoch, " +
              $"{plan.TotalSteps:N0} steps, warmup {plan.WarmupSteps}{resumed}");
    }

    /// <summary>Shows a finished step.</summary>
    public void OnStep(StepRecord step)
    {
        _last = step;
        _recentLosses.Enqueue(step.Loss);
        while (_recentLosses.Count > 20) _recentLosses.Dequeue();
        if (_interactive) { Draw(force: false); return; }
        int every = Math.Max(1, (_plan?.TotalSteps ?? 50) / 50);
        if (step.Step - _lastPlainStep >= every || step.Step == _plan?.TotalSteps)
        {
            _lastPlainStep = step.Step;
            Console.WriteLine(StatusLine());
        }
    }

    /// <summary>Shows an evaluation's metrics.</summary>
    public void OnEvaluation(EvaluationRecord evaluation)
    {
        _lastEval = evaluation;
        if (evaluation.IsBest) _bestEval = evaluation;
        Event($"eval at step {evaluation.Step} (epoch {evaluation.Epoch:0.##}): {Metrics(evaluation)}{(evaluation.IsBest ? "  ★ best" : "")}");
    }

    /// <summary>Notes a checkpoint saved at <paramref name="step"/> to <paramref name="path"/>.</summary>
    public void OnCheckpoint(int step, string path) => Event($"checkpoint at step {step} → {path}");

    void Event(string text)
    {
        if (!_interactive) { Console.WriteLine(text); return; }
        _events.Add(text);
        if (_events.Count > 8) _events.RemoveAt(0);
        Draw(force: true);
    }

    static string Components(StepRecord s) => s.Components is { Count: > 0 } c
        ? "  " + string.Join("  ", c.Select(kv => $"{kv.Key} {kv.Value.ToString("0.0000", CultureInfo.InvariantCulture)}"))
        : "";

    static string Metrics(EvaluationRecord e) =>
        string.Join("  ", e.Metrics.Select(kv => $"{kv.Key} {kv.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));

    double SmoothedLoss => _recentLosses.Count == 0 ? double.NaN : _recentLosses.Average();

    TimeSpan? Eta()
    {
        if (_plan is null || _last is null) return null;
        int done = _last.Step - _plan.StartStep;
        if (done <= 0) return null;
        return TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds / done * (_plan.TotalSteps - _last.Step));
    }

    string StatusLine()
    {
        var s = _last!;
        return string.Create(CultureInfo.InvariantCulture,
            $"step {s.Step}/{_plan?.TotalSteps}  epoch {s.Epoch:0.00}  loss {s.Loss:0.0000} (avg {SmoothedLoss:0.0000})  lr {s.LearningRate:0.00e+0}  " +
            $"grad {s.GradNorm:0.000}  {s.TokensPerSecond:N0} tok/s  elapsed {Format(_clock.Elapsed)}  ETA {(Eta() is { } eta ? Format(eta) : "-")}{Components(s)}");
    }

    void Draw(bool force)
    {
        if (_live is null) return;
        var now = _clock.Elapsed;
        if (!force && now - _lastDraw < TimeSpan.FromMilliseconds(250)) return;
        _lastDraw = now;
        _live.UpdateTarget(Render());
    }

    IRenderable Render()
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]distilbert train[/]")
            .AddColumn("step").AddColumn("epoch").AddColumn("loss (avg 20)").AddColumn("lr").AddColumn("grad norm")
            .AddColumn("tokens/s").AddColumn("elapsed").AddColumn("ETA");
        if (_last is { } s)
        {
            double fraction = _plan is { TotalSteps: > 0 } p ? (double)s.Step / p.TotalSteps : 0;
            table.AddRow(
                $"{s.Step:N0}/{_plan?.TotalSteps:N0} ({fraction:P0})", s.Epoch.ToString("0.00", CultureInfo.InvariantCulture),
                $"{s.Loss.ToString("0.0000", CultureInfo.InvariantCulture)} ({SmoothedLoss.ToString("0.0000", CultureInfo.InvariantCulture)})",
                s.LearningRate.ToString("0.00e+0", CultureInfo.InvariantCulture), s.GradNorm.ToString("0.000", CultureInfo.InvariantCulture),
                s.TokensPerSecond.ToString("N0", CultureInfo.InvariantCulture), Format(_clock.Elapsed), Eta() is { } eta ? Format(eta) : "-");
        }
        var rows = new List<IRenderable> { table };
        if (_last is { Components.Count: > 0 } withParts) rows.Add(new Text("loss terms:" + Components(withParts)));
        if (_lastEval is { } last) rows.Add(new Markup($"last eval (step {last.Step}): {Markup.Escape(Metrics(last))}"));
        if (_bestEval is { } best) rows.Add(new Markup($"[green]best[/] (step {best.Step}): {Markup.Escape(Metrics(best))}"));
        foreach (var e in _events) rows.Add(new Text(e, new Style(Color.Grey)));
        return new Rows(rows);
    }

    static string Format(TimeSpan span) => span.TotalHours >= 1 ? span.ToString(@"h\:mm\:ss") : span.ToString(@"m\:ss");
}
