using System.CommandLine;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert fill-mask</c>: top-k tokens for every [MASK].</summary>
public static class FillMaskCommand
{
    /// <summary>The <c>fill-mask</c> command.</summary>
    public static Command Create()
    {
        var options = new PipelineOptions();
        var topK = new Option<int>("--top-k") { Description = "Proposals per [MASK]", DefaultValueFactory = _ => 5 };
        var targets = new Option<string[]>("--targets") { Description = "Only score these words (comma separated or repeated)" };
        var cmd = new Command("fill-mask", "Predict the tokens hidden by [MASK] (needs a *ForMaskedLM model)");
        options.AddTo(cmd);
        cmd.Options.Add(topK);
        cmd.Options.Add(targets);
        CliAction.Set(cmd, parse =>
        {
            using var run = new PipelineRun(options, parse);
            var targetWords = parse.GetValue(targets)?.SelectMany(t => t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            var pipeline = FillMaskPipeline.Load(run.ModelPath, run.Settings);
            var table = new ResultTable(["#", "mask", "token_str", "score", "token", "sequence"], run.Progress);
            foreach (var output in pipeline.Predict(run.Inputs.Examples.Select(e => e.Text), parse.GetValue(topK), targetWords is { Count: > 0 } ? targetWords : null))
            {
                if (run.Json)
                {
                    // HF returns a flat list for one [MASK] and a list per mask otherwise.
                    if (output.Masks.Count == 1) run.WriteJson(output.Masks[0]);
                    else run.WriteJson(output.Masks);
                }
                else
                    for (int m = 0; m < output.Masks.Count; m++)
                        foreach (var r in output.Masks[m])
                            table.Add(output.Input.ToString(), (m + 1).ToString(), r.TokenStr, ResultTable.Score(r.Score), r.Token.ToString(), r.Sequence);
                run.Progress.Advance(1);
            }
            table.Flush();
            return 0;
        });
        return cmd;
    }
}
