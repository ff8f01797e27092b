using System.CommandLine;
using System.Globalization;
using DistilBert.Checkpoints;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert grad --model DIR --inputs IN.safetensors --out OUT.safetensors [--lr LR --betas B1,B2 --eps E
/// --weight-decay WD] [--clip MAXNORM] [--trainer-groups]</c>: one training-mode forward and backward with dropout off;
/// writes loss, grad.&lt;name&gt; for every parameter that gets a gradient and, given --lr, every parameter after one AdamW
/// step (after clipping with --clip; --trainer-groups exempts biases and LayerNorm weights from weight decay).
/// </summary>
public static class GradCommand
{
    /// <summary>What one grad run does; LearningRate null = gradients only.</summary>
    public sealed record Settings(double? LearningRate = null, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8,
        double WeightDecay = 0.01, double? ClipMaxNorm = null, bool TrainerGroups = false);

    /// <summary>What one training-mode step computed. Immutable: safe to share between threads.</summary>
    /// <param name="Loss">The batch's loss.</param>
    /// <param name="GradNormBeforeClip">The global L2 norm of every gradient before clipping.</param>
    /// <param name="Tensors">Every gradient (and with an AdamW step, every updated parameter) under HF's names.</param>
    public sealed record Result(float Loss, double GradNormBeforeClip, IReadOnlyList<TensorToWrite> Tensors);

    /// <summary>The <c>grad</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "HF model folder", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "safetensors with input_ids, attention_mask and labels (or start_positions / end_positions)", Required = true };
        var output = new Option<string>("--out") { Description = "safetensors file for loss, grad.<name> and (with --lr) the updated parameters", Required = true };
        var lr = new Option<double?>("--lr") { Description = "take one AdamW step with this learning rate" };
        var betas = new Option<string>("--betas") { Description = "AdamW betas as B1,B2", DefaultValueFactory = _ => "0.9,0.999" };
        var eps = new Option<double>("--eps") { Description = "AdamW eps", DefaultValueFactory = _ => 1e-8 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay", DefaultValueFactory = _ => 0.01 };
        var clip = new Option<double?>("--max-grad-norm", "--clip") { Description = "clip the global gradient norm to MAXNORM before the step" };
        var trainerGroups = new Option<bool>("--trainer-groups") { Description = "no weight decay for biases and LayerNorm weights (HF Trainer)" };
        var cmd = new Command("grad", "One training-mode forward + backward (dropout off): loss, every gradient, optionally one AdamW step")
        {
            model, inputs, output, lr, betas, eps, weightDecay, clip, trainerGroups,
        };
        CliAction.Set(cmd, parseResult =>
        {
            var (b1, b2) = ParseBetas(parseResult.GetValue(betas)!);
            var settings = new Settings(parseResult.GetValue(lr), b1, b2, parseResult.GetValue(eps), parseResult.GetValue(weightDecay),
                parseResult.GetValue(clip), parseResult.GetValue(trainerGroups));
            var result = Run(parseResult.GetValue(model)!, parseResult.GetValue(inputs)!, settings, Console.Error);
            SafeTensors.Write(parseResult.GetValue(output)!, result.Tensors);
            Console.WriteLine($"loss = {result.Loss:G9}");
            Console.WriteLine($"gradient norm = {result.GradNormBeforeClip:G9}");
            Console.WriteLine($"wrote {result.Tensors.Count} tensors to {parseResult.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    static (double, double) ParseBetas(string text)
    {
        var parts = text.Split(',');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var b1)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b2)
            && b1 is >= 0 and < 1 && b2 is >= 0 and < 1)
            return (b1, b2);
        throw new InvalidInputException($"--betas must be two numbers in [0, 1) as B1,B2, got '{text}'");
    }

    /// <summary>
    /// One training-mode forward and backward of the model in <paramref name="modelDir"/> on the tensors of <paramref
    /// name="inputsPath"/>.
    /// </summary>
    public static Result Run(string modelDir, string inputsPath, Settings settings, TextWriter log)
    {
        var (net, report) = PretrainedModel.Load(modelDir);
        if (!report.IsComplete) log.WriteLine($"warning: {report}");
        ModelInput input;
        using (var source = CheckpointFile.Open(inputsPath)) input = InferCommand.ReadInput(source);
        net.Train(dropout: false);
        net.Parameters.ZeroGrad();
        var output = net.Forward(input);
        float loss = output.Loss ?? throw new InvalidInputException($"{inputsPath}: no labels (labels, or start_positions and end_positions), so there is no loss to differentiate");
        net.Backward();

        var tensors = new List<TensorToWrite> { TensorToWrite.Float32("loss", [], [loss]) };
        foreach (var p in net.Parameters)
            if (p.RequiresGrad && p.Grad is { } g)
                tensors.Add(TensorToWrite.Float32("grad." + p.Name, Shape(p), g));
        double norm = GradientClipping.GlobalNorm(net.Parameters.Where(p => p.RequiresGrad && p.Grad is not null).Select(p => p.Grad!));
        if (settings.LearningRate is { } lr)
        {
            if (settings.ClipMaxNorm is { } max) GradientClipping.ClipGlobalNorm(net.Parameters, max);
            var groups = settings.TrainerGroups ? AdamW.TrainerGroups(net.Parameters, settings.WeightDecay) : AdamW.SingleGroup(net.Parameters, settings.WeightDecay);
            new AdamW(groups, settings.Beta1, settings.Beta2, settings.Eps).Step(lr);
            foreach (var p in net.Parameters) tensors.Add(TensorToWrite.Float32(p.Name, Shape(p), p.Value));
        }
        return new Result(loss, norm, tensors);
    }

    static long[] Shape(Parameter p) => p.Shape.Select(d => (long)d).ToArray();
}
