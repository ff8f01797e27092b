using System.CommandLine;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert ner</c>: entities (or labelled tokens) with character offsets.</summary>
public static class NerCommand
{
    /// <summary>The <c>ner</c> command.</summary>
    public static Command Create()
    {
        var options = new PipelineOptions();
        var aggregation = new Option<string>("--aggregation") { Description = "none | simple | first | average | max (as HF's aggregation_strategy)", DefaultValueFactory = _ => "simple" };
        var ignore = new Option<string[]>("--ignore-labels") { Description = "Labels left out of the output, comma separated or repeated (default: O; an empty value keeps all)" };
        var stride = new Option<int?>("--stride") { Description = "Tokens shared by the windows of a long text (default: a quarter of the window, at most 128)" };
        var cmd = new Command("ner", "Find named entities (needs a *ForTokenClassification model)");
        options.AddTo(cmd);
        cmd.Options.Add(options.Shard);
        foreach (var option in new Option[] { aggregation, ignore, stride }) cmd.Options.Add(option);
        cmd.Options.Add(options.MaxWindows);
        CliAction.Set(cmd, parse =>
        {
            var strategy = parse.GetValue(aggregation) switch
            {
                "none" => AggregationStrategy.None,
                "simple" => AggregationStrategy.Simple,
                "first" => AggregationStrategy.First,
                "average" => AggregationStrategy.Average,
                "max" => AggregationStrategy.Max,
                var other => throw new InvalidInputException($"--aggregation must be none, simple, first, average or max, not '{other}'"),
            };
            var ignoreLabels = parse.GetValue(ignore) is { Length: > 0 } given
                ? given.SelectMany(l => l.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray()
                : null;
            using var run = new PipelineRun(options, parse);
            var pipeline = TokenClassificationPipeline.Load(run.ModelPath, run.Settings, parse.GetValue(stride));
            var table = new ResultTable(["#", strategy == AggregationStrategy.None ? "entity" : "entity_group", "score", "word", "start", "end"], run.Progress);
            foreach (var output in pipeline.Predict(run.Inputs.Examples.Select(e => e.Text), strategy, ignoreLabels))
            {
                if (run.Json) run.WriteJson(output.Entities);
                else
                    foreach (var e in output.Entities)
                        table.Add(output.Input.ToString(), e.Label, ResultTable.Score(e.Score), e.Word, e.Start.ToString(), e.End.ToString());
                run.Progress.Advance(1);
            }
            table.Flush();
            return 0;
        });
        return cmd;
    }
}
