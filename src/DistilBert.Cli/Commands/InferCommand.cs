using System.CommandLine;
using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert infer --model DIR --inputs IN.safetensors --out OUT.safetensors [--hidden-states] [--attentions]</c>:
/// one eval-mode forward on the tensors of a file, every output written under HF's names, so any golden case replays
/// from the command line.
/// </summary>
public static class InferCommand
{
    /// <summary>The <c>infer</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "HF model folder (config.json + model.safetensors or pytorch_model.bin)", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors with input_ids [, attention_mask, token_type_ids, labels, start_positions, end_positions]", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file to write the outputs to", Required = true };
        var hidden = new Option<bool>("--hidden-states") { Description = "also write hidden_states.{i}" };
        var attentions = new Option<bool>("--attentions") { Description = "also write attentions.{i}" };
        var cmd = new Command("infer", "Run a model forward on the tensors of a safetensors file and write every output under HF's names")
        {
            model, inputs, output, hidden, attentions,
        };
        CliAction.Set(cmd, parseResult =>
        {
            var written = Run(parseResult.GetValue(model)!, parseResult.GetValue(inputs)!, parseResult.GetValue(output)!,
                new ForwardOptions(parseResult.GetValue(hidden), parseResult.GetValue(attentions)), Console.Error);
            foreach (var (name, tensor) in written.All)
                Console.WriteLine(name == "loss" ? $"loss = {tensor.Data[0]:G9}" : $"{name} [{string.Join(", ", tensor.Shape)}]");
            return 0;
        });
        return cmd;
    }

    /// <summary>Loads the model, runs it on the inputs file and writes the outputs; returns what was written.</summary>
    public static ModelOutput Run(string modelDir, string inputsPath, string outPath, ForwardOptions options, TextWriter log)
    {
        var (net, report) = PretrainedModel.Load(modelDir, inferenceOnly: true);
        if (!report.IsComplete) log.WriteLine($"warning: {report}");
        ModelInput input;
        using (var source = CheckpointFile.Open(inputsPath)) input = ReadInput(source);
        var result = net.Forward(input, options);
        SafeTensors.Write(outPath, result.All.Select(kv => TensorToWrite.Float32(kv.Key, kv.Value.Shape.Select(d => (long)d).ToArray(), kv.Value.Data)));
        return result;
    }

    /// <summary>
    /// input_ids [batch, seq] (or [seq]), optional attention_mask / token_type_ids of the same shape, and optional labels
    /// (integer → class ids, float → regression / multi-label targets), start_positions, end_positions. Other tensors are ignored.
    /// </summary>
    public static ModelInput ReadInput(ITensorSource source)
    {
        if (!source.Contains("input_ids")) throw new InvalidInputException($"{source.FilePath}: missing tensor 'input_ids'");
        var idsInfo = source.Info("input_ids");
        if (idsInfo.Shape.Length is not (1 or 2)) throw new InvalidInputException($"{source.FilePath}: input_ids must be [batch, seq] or [seq], got {idsInfo.ShapeText}");
        int batch = idsInfo.Shape.Length == 2 ? checked((int)idsInfo.Shape[0]) : 1;
        int seq = checked((int)idsInfo.Shape[^1]);
        long[]? Optional(string name)
        {
            if (!source.Contains(name)) return null;
            var info = source.Info(name);
            if (!info.Shape.SequenceEqual(idsInfo.Shape))
                throw new InvalidInputException($"{source.FilePath}: {name} has shape {info.ShapeText} but input_ids has {idsInfo.ShapeText}");
            return source.ReadInt64(name);
        }
        var mask = Optional("attention_mask");
        var types = Optional("token_type_ids");
        long[]? labels = null;
        float[]? floatLabels = null;
        if (source.Contains("labels"))
        {
            if (source.Info("labels").DType is TensorDType.F32 or TensorDType.F64 or TensorDType.F16 or TensorDType.BF16) floatLabels = source.ReadFloat32("labels");
            else labels = source.ReadInt64("labels");
        }
        var input = ModelInput.FromPadded(source.ReadInt64("input_ids"), batch, seq, mask, types);
        input.Labels = labels;
        input.FloatLabels = floatLabels;
        if (source.Contains("start_positions")) input.StartPositions = source.ReadInt64("start_positions");
        if (source.Contains("end_positions")) input.EndPositions = source.ReadInt64("end_positions");
        return input;
    }
}
