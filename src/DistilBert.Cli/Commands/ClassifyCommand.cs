using System.CommandLine;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Data;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert classify</c>: labels with scores for texts or text pairs.</summary>
public static class ClassifyCommand
{
    /// <summary>The <c>classify</c> command.</summary>
    public static Command Create()
    {
        var options = new PipelineOptions();
        // A first try needs no model folder: the sentiment model the tool and the checkout ship (DefaultAssets).
        options.DefaultModelTo("the shipped sentiment model", () => DefaultAssets.Teacher);
        var topK = new Option<int>("--top-k") { Description = "Labels per input", DefaultValueFactory = _ => 1 };
        var all = new Option<bool>("--all") { Description = "Every label, best first" };
        var function = new Option<string?>("--function") { Description = "softmax | sigmoid | none (default: by the model's problem_type, as HF)" };
        var pairColumn = new Option<string?>("--pair-column") { Description = "Column or jsonl key of the second text of a pair" };
        var textPair = new Option<string?>("--text-pair") { Description = "Second text paired with every text argument" };
        var cmd = new Command("classify", "Classify texts or text pairs (needs a *ForSequenceClassification model)");
        options.AddTo(cmd);
        cmd.Options.Add(options.Shard);
        foreach (var option in new Option[] { topK, all, function, pairColumn, textPair }) cmd.Options.Add(option);
        CliAction.Set(cmd, parse =>
        {
            var columns = new TextColumns(Text: parse.GetValue(options.Column), TextPair: parse.GetValue(pairColumn), ReadLabels: false);
            using var run = new PipelineRun(options, parse, columns, columnOptions: [pairColumn]);
            var scoreFunction = parse.GetValue(function) switch
            {
                null => (ScoreFunction?)null,
                "softmax" => ScoreFunction.Softmax,
                "sigmoid" => ScoreFunction.Sigmoid,
                "none" => ScoreFunction.None,
                var other => throw new InvalidInputException($"--function must be softmax, sigmoid or none, not '{other}'"),
            };
            int? k = parse.GetValue(all) ? null : parse.GetValue(topK);
            if (k is < 1) throw new InvalidInputException($"--top-k must be at least 1, got {k}");
            var pair = parse.GetValue(textPair);
            var examples = pair is null ? run.Inputs.Examples : run.Inputs.Examples.Select(e => e with { TextPair = pair });

            var pipeline = TextClassificationPipeline.Load(run.ModelPath, run.Settings);
            var table = new ResultTable(["#", "label", "score", "text"], run.Progress);
            foreach (var (output, example) in Zip(pipeline, examples, k, scoreFunction))
            {
                if (run.Json) run.WriteJson(output.Labels);
                else
                    foreach (var r in output.Labels)
                        table.Add(output.Input.ToString(), r.Label, ResultTable.Score(r.Score), Shorten(example));
                run.Progress.Advance(1);
            }
            table.Flush();
            return 0;
        });
        return cmd;
    }

    // The pipeline numbers outputs by the example's line; keeping the example beside its output lets the table show
    // the text without holding the whole input.
    static IEnumerable<(ClassificationOutput, TextExample)> Zip(TextClassificationPipeline pipeline, IEnumerable<TextExample> examples, int? k, ScoreFunction? function)
    {
        var window = new Queue<TextExample>();
        IEnumerable<TextExample> Remember() { foreach (var e in examples) { window.Enqueue(e); yield return e; } }
        foreach (var output in pipeline.Predict(Remember(), k, function)) yield return (output, window.Dequeue());
    }

    static string Shorten(TextExample e)
    {
        var text = e.TextPair is null ? e.Text : $"{e.Text} ‖ {e.TextPair}";
        return text.Length <= 80 ? text : text[..77] + "...";
    }
}
