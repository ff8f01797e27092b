using System.CommandLine;
using System.Globalization;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert embed</c>: sentence vectors, and their cosine similarity to the first input.</summary>
public static class EmbedCommand
{
    /// <summary>The <c>embed</c> command.</summary>
    public static Command Create()
    {
        var options = new PipelineOptions();
        var pooling = new Option<string?>("--pooling")
        {
            Description = "mean | cls | max | mean-sqrt-len (default: a sentence-transformers folder's 1_Pooling, else mean)",
        };
        var normalizeOption = new Option<bool>("--normalize") { Description = "L2-normalise the vectors (default: as a sentence-transformers folder's modules.json says, else yes)" };
        var noNormalize = new Option<bool>("--no-normalize") { Description = "Keep the raw pooled vector" };
        var cmd = new Command("embed", "Sentence embeddings (any DistilBERT/BERT model; task heads are ignored)");
        options.AddTo(cmd);
        cmd.Options.Add(options.Shard);
        cmd.Options.Add(pooling);
        cmd.Options.Add(normalizeOption);
        cmd.Options.Add(noNormalize);
        CliAction.Set(cmd, parse =>
        {
            var mode = parse.GetValue(pooling) switch
            {
                null => (PoolingMode?)null,
                "mean" => PoolingMode.Mean,
                "cls" => PoolingMode.Cls,
                "max" => PoolingMode.Max,
                "mean-sqrt-len" => PoolingMode.MeanSqrtLen,
                var other => throw new InvalidInputException($"--pooling must be mean, cls, max or mean-sqrt-len, not '{other}'"),
            };
            if (parse.GetValue(normalizeOption) && parse.GetValue(noNormalize)) throw new InvalidInputException("give --normalize or --no-normalize, not both");
            bool? normalize = parse.GetValue(normalizeOption) ? true : parse.GetValue(noNormalize) ? false : null;
            using var run = new PipelineRun(options, parse);
            var pipeline = EmbeddingPipeline.Load(run.ModelPath, run.Settings, mode, normalize);
            var table = new ResultTable(["#", "dim", "norm", "cosine to #1", "first values"], run.Progress);
            float[]? first = null;
            foreach (var output in pipeline.Embed(run.Inputs.Examples.Select(e => e.Text)))
            {
                first ??= output.Vector;
                if (run.Json) run.WriteJson(output.Vector);
                else
                {
                    double norm = Math.Sqrt(output.Vector.Sum(v => (double)v * v));
                    table.Add(output.Input.ToString(), output.Vector.Length.ToString(), norm.ToString("0.0000", CultureInfo.InvariantCulture),
                        ResultTable.Score(EmbeddingPooling.CosineSimilarity(first, output.Vector)),
                        string.Join(" ", output.Vector.Take(4).Select(v => v.ToString("0.0000", CultureInfo.InvariantCulture))) + " ...");
                }
                run.Progress.Advance(1);
            }
            table.Flush();
            return 0;
        });
        return cmd;
    }
}
