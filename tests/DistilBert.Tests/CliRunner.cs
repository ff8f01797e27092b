using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>Runs the `distilbert` command in-process with the console captured. Tests that use it belong to a
/// non-parallel collection (PipelineCliCollection): the console is process-wide.</summary>
static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (output, error) = (new StringWriter(), new StringWriter());
        Console.SetOut(output);
        Console.SetError(error);
        try { return (Program.Run(args), output.ToString(), error.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
