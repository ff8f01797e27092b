using System.CommandLine;
using DistilBert.Modeling;
using DistilBert.Onnx;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert export-onnx --model DIR --out model.onnx [--opset N]</c>: the model as an ONNX graph with
/// optimum's input/output names and dynamic axes (docs/onnx.md).</summary>
/// <remarks>Thread-safety: stateless; each call builds a new command.</remarks>
public static class ExportOnnxCommand
{
    /// <summary>The <c>export-onnx</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "HF model folder (DistilBERT or BERT, any head) or Hub repo id", Required = true };
        var output = new Option<string>("--out") { Description = "ONNX file to write (written atomically)", Required = true };
        var opset = new Option<int>("--opset")
        {
            Description = $"ONNX opset, {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset} (below 17 LayerNormalization is decomposed)",
            DefaultValueFactory = _ => OnnxExporter.DefaultOpset,
        };
        var command = new Command("export-onnx", "Export a model to ONNX (inputs input_ids, attention_mask[, token_type_ids]; dynamic batch and sequence axes)")
            { model, output, opset };
        CliAction.Set(command, parse =>
        {
            int version = parse.GetValue(opset);
            if (version is < OnnxExporter.MinOpset or > OnnxExporter.MaxOpset)
                throw new InvalidInputException($"--opset {version} is not supported (supported: {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset})");
            var loaded = PretrainedModel.Load(parse.GetValue(model)!);
            string path = parse.GetValue(output)!;
            OnnxExporter.Export(loaded.Model, path, version);
            Console.WriteLine($"wrote {path}: {loaded.Model.ArchitectureName}, opset {version}, {new FileInfo(path).Length / (1024.0 * 1024.0):F1} MiB");
            return 0;
        });
        return command;
    }
}
