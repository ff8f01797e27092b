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
    /// <summary>The inputs to process.</summary>
    public TextInputs Inputs { get; }
    /// <summary>The progress bar (shown for file inputs).</summary>
    public ProgressReporter Progress { get; }
    /// <summary>Where the pipeline's warnings go.</summary>
    public Warnings Warnings { get; }
    /// <summary>Pipeline settings from the shared options.</summary>
    public PipelineSettings Settings { get; }
    /// <summary>Whether results are written as JSON lines.</summary>
    public bool Json { get; }
    /// <summary>The resolved model folder.</summary>
    public string ModelPath { get; }

    /// <param name="columnOptions">The command's column options besides <c>--column</c>, refused for inputs without columns.</param>
    /// <param name="options">The command's shared options.</param>
    /// <param name="parse">The parsed command line.</param>
    /// <param name="columns">The columns to read from a tsv, csv or jsonl input.</param>
    /// <param name="unit">What the progress bar counts ("texts", "questions", ...).</param>
    public PipelineRun(PipelineOptions options, ParseResult parse, Data.TextColumns? columns = null, string unit = "texts",
        IEnumerable<Option<string?>>? columnOptions = null)
    {
        // A folder, or a Hub repo id resolved through the HF cache; checked before reading stdin or a large file.
        ModelPath = Hub.ModelPath.Resolve(options.GetModel(parse));
        if (!Directory.Exists(ModelPath)) throw new ModelFileException(ModelPath, "expected a model folder");
        Json = parse.GetValue(options.Json);
        Inputs = options.OpenInputs(parse, columns, columnOptions);
        Progress = new ProgressReporter(Inputs.EstimatedCount, unit, enabled: Inputs.FromFile);
        Warnings = new Warnings(Progress);
        Settings = new PipelineSettings
        {
            BatchSize = options.GetBatchSize(parse), MaxLength = parse.GetValue(options.MaxLength), Warn = Warnings.Add,
            MaxWindows = options.GetMaxWindows(parse), Int8 = parse.GetValue(options.Int8),
        };
    }

    /// <summary>Writes one result line to stdout (JSON mode), clearing the progress bar first when both share a terminal.</summary>
    public void WriteJson<T>(T value)
    {
        if (!Console.IsOutputRedirected) Progress.ClearLine();
        JsonLines.Write(Console.Out, value);
    }

    /// <summary>Finishes the progress bar and prints the warnings' summary.</summary>
    public void Dispose()
    {
        // "done" only when every input went through: after an error, the error line is all there is to say.
        if (Inputs.ReadToEnd) Progress.Dispose();
        else Progress.ClearLine();
        Warnings.Summarize();
        Console.Out.Flush();
    }
}
