using System.CommandLine;
using DistilBert.Checkpoints;
using DistilBert.Hub;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert info MODEL [--json]</c>: architecture, key config fields, parameter count, size by dtype, tensors.</summary>
public static class InfoCommand
{
    /// <summary>The <c>info</c> command.</summary>
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "model folder, weights file (safetensors, pytorch_model.bin, *.index.json) or Hub repo id" };
        var json = new Option<bool>("--json") { Description = "print everything as JSON" };
        var command = new Command("info", "Describe a model: architecture, config, parameter count, size by dtype, tensor list") { model, json };
        CliAction.Set(command, parse =>
        {
            var summary = CheckpointSummary.Create(ModelPath.Resolve(parse.GetValue(model)!));
            if (parse.GetValue(json))
            {
                Console.WriteLine(summary.ToJson());
                return 0;
            }
            var console = AnsiConsole.Console;
            console.MarkupLine($"[bold]{Markup.Escape(summary.Architecture ?? "(no config.json)")}[/]  model_type {Markup.Escape(summary.ModelType ?? "?")}");
            console.MarkupLine($"weights     {Markup.Escape(summary.WeightsPath)} [grey]({Markup.Escape(summary.Format)})[/]");
            if (summary.ConfigPath is { } config) console.MarkupLine($"config      {Markup.Escape(config)}");
            foreach (var f in summary.Config)
                console.MarkupLine($"  {Markup.Escape(f.Name),-24} {Markup.Escape(f.Value)}{(f.IsDefault ? " [grey](default)[/]" : "")}");
            console.MarkupLine($"parameters  [bold]{summary.ParameterCount:N0}[/]" + (summary.TiedAliases.Count > 0 ? $" [grey](tied: {Markup.Escape(string.Join(", ", summary.TiedAliases))} counted once)[/]" : ""));
            foreach (var d in summary.ByDType)
                console.MarkupLine($"  {TensorDTypes.Name(d.DType),-5} {d.Tensors,5} tensors {d.Elements,14:N0} elements {FormatBytes(d.Bytes),10}");

            var table = new Table().Border(TableBorder.Simple).AddColumn("tensor").AddColumn("dtype").AddColumn("shape");
            foreach (var t in summary.Tensors) table.AddRow(Markup.Escape(t.Name), TensorDTypes.Name(t.DType), Markup.Escape(t.ShapeText));
            console.Write(table);
            return 0;
        });
        return command;
    }

    static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
