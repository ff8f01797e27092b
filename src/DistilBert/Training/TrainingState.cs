using DistilBert.Modeling;
using System.Text.Json;
using System.Text.Json.Serialization;

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
    public int Format { get; set; } = CurrentFormat;
    /// <summary>Optimizer steps taken so far (the learning-rate schedule's position).</summary>
    public int GlobalStep { get; set; }
    /// <summary>Epoch of the next batch to run (0-based).</summary>
    public int Epoch { get; set; }
    /// <summary>Index of the next batch in that epoch's plan.</summary>
    public int BatchInEpoch { get; set; }
    public int TotalSteps { get; set; }
    public int WarmupSteps { get; set; }
    /// <summary>State of the model's dropout RNG (<see cref="SeededRandom.State"/>).</summary>
    public ulong DropoutRandomState { get; set; }
    public long ExamplesSeen { get; set; }
    public long TokensSeen { get; set; }
    public double TrainingSeconds { get; set; }
    public double? BestMetric { get; set; }
    public int? BestStep { get; set; }
    public int EvaluationsWithoutImprovement { get; set; }
    public bool StoppedEarly { get; set; }
    public bool Finished { get; set; }
    public List<EvaluationRecord> Evaluations { get; set; } = new();
    /// <summary>The options of the run (so a resume can refuse a different run).</summary>
    public TrainingOptions? Options { get; set; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainingState FromJson(string json, string path)
    {
        TrainingState? state;
        try { state = JsonSerializer.Deserialize<TrainingState>(json, Json); }
        catch (JsonException e) { throw new ModelFileException(path, $"not a valid trainer state: {e.Message}", e); }
        if (state is null) throw new ModelFileException(path, "empty trainer state");
        if (state.Format != CurrentFormat) throw new ModelFileException(path, $"trainer state format {state.Format} is not supported (expected {CurrentFormat})");
        return state;
    }
}

/// <summary>A NaN or infinite loss or gradient: the run stops, its last good checkpoint stays as it was.</summary>
public sealed class TrainingDivergedException(string message) : DistilBertException(message);
