using System.CommandLine;
using DistilBert.Cli.Output;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Input;

/// <summary>
/// The pieces one task command run wires together: its inputs, a progress bar (for files), the warning sink that
/// the pipeline reports truncations to, and pipeline settings from the shared options.
/// </summary>
public sealed class PipelineRun : IDisposable
{
    public TextInputs Inputs { get; }
    public ProgressReporter Progress { get; }
    public Warnings Warnings { get; }
    public PipelineSettings Settings { get; }
    public bool Json { get; }
    public string ModelPath { get; }

    public PipelineRun(PipelineOptions options, ParseResult parse, Data.TextColumns? columns = null, string unit = "texts")
    {
        // A folder, or a Hub repo id resolved through the HF cache; checked before reading stdin or a large file.
        ModelPath = Hub.ModelPath.Resolve(parse.GetValue(options.Model)!);
        if (!Directory.Exists(ModelPath)) throw new ModelFileException(ModelPath, "expected a model folder");
        Json = parse.GetValue(options.Json);
        Inputs = options.OpenInputs(parse, columns);
        Progress = new ProgressReporter(Inputs.EstimatedCount, unit, enabled: Inputs.FromFile);
        Warnings = new Warnings(Progress);
        Settings = new PipelineSettings
        {
            BatchSize = options.GetBatchSize(parse), MaxLength = parse.GetValue(options.MaxLength), Warn = Warnings.Add,
            MaxWindows = options.GetMaxWindows(parse),
        };
    }

    /// <summary>Writes one result line to stdout (JSON mode), clearing the progress bar first when both share a terminal.</summary>
    public void WriteJson<T>(T value)
    {
        if (!Console.IsOutputRedirected) Progress.ClearLine();
        JsonLines.Write(Console.Out, value);
    }

    public void Dispose()
    {
        Progress.Dispose();
        Warnings.Summarize();
        Console.Out.Flush();
    }
}
