using System.CommandLine;
using DistilBert.Modeling;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert init --config FILE --out DIR [--architecture NAME] [--seed N]</c>: a from-scratch HF model folder with
/// HF's initialisation (normal(0, initializer_range) weights, zero biases, LayerNorm ones, zero padding row, the
/// sinusoidal position table when configured), drawn from a seeded RNG so the same seed gives the same weights.
/// </summary>
public static class InitCommand
{
    /// <summary>The <c>init</c> command.</summary>
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "config.json (DistilBERT or BERT)", Required = true };
        var output = new Option<string>("--out") { Description = "model folder to write (config.json + model.safetensors)", Required = true };
        var architecture = new Option<string?>("--architecture") { Description = "HF class (default: the config's architectures[0], else the base model)" };
        var seed = new Option<ulong>("--seed") { Description = "RNG seed of the initial weights", DefaultValueFactory = _ => 42 };
        var cmd = new Command("init", "Create a randomly initialised model folder from a config (HF's init)") { config, output, architecture, seed };
        CliAction.Set(cmd, parseResult =>
        {
            var model = Run(parseResult.GetValue(config)!, parseResult.GetValue(output)!, parseResult.GetValue(architecture), parseResult.GetValue(seed));
            Console.WriteLine($"{model.ArchitectureName}: {model.Parameters.Count} tensors, {model.Parameters.ElementCount:N0} parameters → {parseResult.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Writes a randomly initialised model of the config at <paramref name="configPath"/> to <paramref name="outDir"/>.
    /// </summary>
    public static TransformerModel Run(string configPath, string outDir, string? architecture, ulong seed)
    {
        Input.OutputFolder.RefuseOverlap(outDir, ("--config", configPath));
        var config = ModelConfig.Load(configPath);
        TransformerModel model;
        try { model = PretrainedModel.Create(config, architecture, seed); }
        catch (ModelFileException e) when (e.FilePath is null) { throw new ModelFileException(configPath, e.Message, e); }
        PretrainedModel.Save(model, outDir);
        return model;
    }
}
