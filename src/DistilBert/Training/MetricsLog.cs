using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistilBert.Training;

/// <summary>One optimizer step as logged: the mean loss of its micro-batches, the rate it used, the gradient norm before clipping.</summary>
public sealed record StepRecord(int Step, double Epoch, double Loss, double LearningRate, double GradNorm,
    double TokensPerSecond, double ExamplesPerSecond, double ElapsedSeconds, IReadOnlyDictionary<string, double>? Components = null);

/// <summary>
/// The run's metrics as JSON lines (<c>metrics.jsonl</c>): {"type":"train", step, epoch, loss, lr, grad_norm,
/// tokens_per_second, examples_per_second, elapsed} per optimizer step and {"type":"eval", step, epoch, metric...} per
/// evaluation. A resumed run first drops the lines past its checkpoint's step, so the log reads like one run.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";
    readonly StreamWriter _writer;
    public string FilePath { get; }

    public MetricsLog(string runDirectory, int? keepUpToStep)
    {
        Directory.CreateDirectory(runDirectory);
        FilePath = Path.Combine(runDirectory, FileName);
        var kept = new List<string>();
        if (keepUpToStep is { } last && File.Exists(FilePath))
            foreach (var line in File.ReadAllLines(FilePath))
            {
                // A kill can cut the last line short; such a line (and anything past the checkpoint) is dropped.
                try
                {
                    if (JsonNode.Parse(line)?["step"]?.GetValue<int>() is { } step && step <= last) kept.Add(line);
                }
                catch (JsonException) { }
            }
        AtomicFile.Write(FilePath, temporary => File.WriteAllLines(temporary, kept)); // a kill here must not lose the history
        _writer = new StreamWriter(FilePath, append: true) { AutoFlush = true };
    }

    static readonly HashSet<string> TrainKeys = ["type", "step", "epoch", "loss", "lr", "grad_norm", "tokens_per_second", "examples_per_second", "elapsed"];

    public void Write(StepRecord r)
    {
        var line = new JsonObject
        {
            ["type"] = "train", ["step"] = r.Step, ["epoch"] = Math.Round(r.Epoch, 4), ["loss"] = Finite(r.Loss), ["lr"] = r.LearningRate,
            ["grad_norm"] = Finite(r.GradNorm), ["tokens_per_second"] = Math.Round(r.TokensPerSecond, 1),
            ["examples_per_second"] = Math.Round(r.ExamplesPerSecond, 2), ["elapsed"] = Math.Round(r.ElapsedSeconds, 3),
        };
        foreach (var (name, value) in r.Components ?? new Dictionary<string, double>())
        {
            if (TrainKeys.Contains(name)) throw new ArgumentException($"a logged component cannot be named '{name}'");
            line[name] = Finite(value);
        }
        _writer.WriteLine(line.ToJsonString());
    }

    public void Write(EvaluationRecord r)
    {
        var line = new JsonObject { ["type"] = "eval", ["step"] = r.Step, ["epoch"] = Math.Round(r.Epoch, 4), ["main_metric"] = r.MainMetric, ["is_best"] = r.IsBest };
        foreach (var (name, value) in r.Metrics) line[name] = Finite(value);
        _writer.WriteLine(line.ToJsonString());
    }

    static JsonNode? Finite(double value) => double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Reads a metrics log back: the train records and the eval records.</summary>
    public static (List<StepRecord> Steps, List<EvaluationRecord> Evaluations) Read(string path)
    {
        var steps = new List<StepRecord>();
        var evals = new List<EvaluationRecord>();
        foreach (var line in File.ReadLines(path))
        {
            JsonObject? o;
            try { o = JsonNode.Parse(line) as JsonObject; }
            catch (JsonException) { continue; }
            if (o is null) continue;
            double D(string key) => o[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN;
            int step = (int)D("step");
            if ((string?)o["type"] == "train")
            {
                var components = new Dictionary<string, double>();
                foreach (var (key, value) in o)
                    if (!TrainKeys.Contains(key) && value is JsonValue v && v.TryGetValue<double>(out var d)) components[key] = d;
                steps.Add(new StepRecord(step, D("epoch"), D("loss"), D("lr"), D("grad_norm"), D("tokens_per_second"), D("examples_per_second"), D("elapsed"),
                    components.Count > 0 ? components : null));
            }
            else if ((string?)o["type"] == "eval")
            {
                var metrics = new Dictionary<string, double>();
                foreach (var (key, value) in o)
                    if (key is not ("type" or "step" or "epoch" or "main_metric" or "is_best") && value is JsonValue v && v.TryGetValue<double>(out var d)) metrics[key] = d;
                evals.Add(new EvaluationRecord(step, D("epoch"), metrics, (string?)o["main_metric"] ?? "", (bool?)o["is_best"] ?? false));
            }
        }
        return (steps, evals);
    }

    public void Dispose() => _writer.Dispose();
}
