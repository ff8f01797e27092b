using System.CommandLine;
using DistilBert.Modeling;
using DistilBert.Modeling.Layers;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert quantize</c>: writes an int8 copy of a model folder (docs/int8.md) that every command loads.</summary>
/// <remarks>Thread-safety: stateless; each call builds a new command.</remarks>
public static class QuantizeCommand
{
    static readonly string[] TokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>The <c>quantize</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "fp32 model folder (or Hub repo id) to quantise", Required = true };
        var output = new Option<string>("--out") { Description = "folder to write the int8 model to", Required = true };
        var json = new Option<bool>("--json") { Description = "print the result as JSON" };
        var command = new Command("quantize", "Quantise a model's encoder linear weights to int8 (per output feature) into a new model folder.")
        {
            model, output, json,
        };
        CliAction.Set(command, parse =>
        {
            string modelDir = Hub.ModelPath.Resolve(parse.GetValue(model)!), outDir = parse.GetValue(output)!;
            if (!Directory.Exists(modelDir)) throw new ModelFileException(modelDir, "model folder not found");
            Input.OutputFolder.RefuseOverlap(outDir, ("--model", modelDir));
            var configPath = Path.Combine(modelDir, Checkpoints.ModelFolder.ConfigName);
            if (ModelConfig.Load(configPath).IsInt8Quantized)
                throw new ModelFileException(configPath, $"the model is already quantised (quantization_config.quant_method '{ModelConfig.Int8QuantMethod}'); quantise its fp32 original instead");
            var net = PretrainedModel.Load(modelDir).Model;
            if (net.LoadedInt8Weights is { Count: > 0 } stored)
                throw new ModelFileException(modelDir, $"the checkpoint already holds int8 weights (such as '{stored.Keys.First()}{ParameterStateDict.Int8Suffix}'); quantise its fp32 original instead");
            var int8 = PretrainedModel.QuantizeWeights(net);
            var extra = TokenizerFiles.Select(f => Path.Combine(modelDir, f)).Where(File.Exists);
            PretrainedModel.SaveInt8(net, outDir, int8, extra);

            long fp32Bytes = net.Parameters.Sum(p => (long)p.Length) * sizeof(float);
            long quantizedFloats = int8.Values.Sum(q => (long)q.Values.Length);
            long int8Bytes = fp32Bytes - quantizedFloats * sizeof(float) + int8.Values.Sum(q => q.Values.LongLength + q.Scales.LongLength * sizeof(float));
            if (parse.GetValue(json))
            {
                // A JsonObject needs no reflection, so this also works in the NativeAOT binary.
                Console.WriteLine(new System.Text.Json.Nodes.JsonObject
                {
                    ["model"] = Path.GetFullPath(modelDir), ["output"] = Path.GetFullPath(outDir), ["quantized_weights"] = int8.Count,
                    ["quantized_parameters"] = quantizedFloats, ["fp32_weight_bytes"] = fp32Bytes, ["int8_weight_bytes"] = int8Bytes,
                }.ToJsonString());
                return 0;
            }
            AnsiConsole.MarkupLine($"quantised {int8.Count} linear weights ({quantizedFloats:N0} parameters) to int8; " +
                $"weights {fp32Bytes / 1e6:F1} MB → {int8Bytes / 1e6:F1} MB");
            AnsiConsole.MarkupLine($"written to [green]{Markup.Escape(Path.GetFullPath(outDir))}[/]");
            return 0;
        });
        return command;
    }
}
