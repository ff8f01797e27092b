using System.Text.Json.Nodes;
using DistilBert.Cli.Output;
using System.CommandLine;
using System.Diagnostics;
using DistilBert.Distillation;
using DistilBert.Modeling;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert quickstart</c>: the DistilBERT recipe end to end on the embedded default. The shipped BERT sentiment
/// teacher initialises a half-depth DistilBERT student from its own layers, teaches it on shipped SST-2 data
/// (α·T²·KL + (1 − α)·CE), and both are measured in the same run: parameters, size on disk, speed, accuracy, and the
/// accuracy the student retains — the DistilBERT paper's table, for our own models.
/// </summary>
public static class QuickstartCommand
{
    /// <summary>The <c>quickstart</c> command.</summary>
    public static Command Create()
    {
        var teacher = new Option<string?>("--teacher") { Description = "fine-tuned BERT/DistilBERT sentiment teacher (default: the shipped one)" };
        var train = new Option<string?>("--train") { Description = "distillation data, tsv sentence<TAB>label (default: shipped SST-2 sample, 8,000 rows)" };
        var validation = new Option<string?>("--validation") { Description = "validation data (default: 1,000 held-out SST-2 sentences)" };
        var output = new Option<string>("--out") { Description = "folder the student is written to", DefaultValueFactory = _ => "quickstart-student" };
        var studentLayers = new Option<int?>("--student-layers") { Description = "student depth (default: half the teacher's)" };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 3 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 3e-4 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var alpha = new Option<float>("--alpha") { Description = "weight of the soft targets (1 − α on the labels)", DefaultValueFactory = _ => 0.5f };
        var temperature = new Option<float>("--temperature") { DefaultValueFactory = _ => 2f };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 42 };
        var json = new Option<bool>("--json") { Description = "print the results as JSON (progress goes to stderr)" };
        var command = new Command("quickstart", "Distil the shipped BERT sentiment teacher into a half-depth DistilBERT student and compare them")
        {
            teacher, train, validation, output, studentLayers, epochs, lr, batchSize, alpha, temperature, seed, json,
        };
        CliAction.Set(command, (parse, cancellation) =>
        {
            bool asJson = parse.GetValue(json);
            var log = asJson ? Console.Error : Console.Out;
            string teacherDir = Path.GetFullPath(parse.GetValue(teacher) ?? DefaultAssets.Teacher);
            string trainPath = parse.GetValue(train) ?? DefaultAssets.Train;
            string validationPath = parse.GetValue(validation) ?? DefaultAssets.Validation;
            string outDir = Path.GetFullPath(parse.GetValue(output)!);
            Input.OutputFolder.RefuseOverlap(parse.GetValue(output)!, ("--teacher", teacherDir));
            var clock = Stopwatch.StartNew();

            var teacherModel = PretrainedModel.Load(teacherDir).Model;
            var map = Input.LayerMapOption.Resolve(null, parse.GetValue(studentLayers), teacherModel.Config.NumLayers);
            int depth = map.Length;
            var student = TaskStudent.FromTeacher(teacherDir, teacherModel, DistillationTaskKind.Classification, map, (ulong)parse.GetValue(seed));
            log.WriteLine($"teacher {teacherModel.ArchitectureName}, {teacherModel.Config.NumLayers} layers ({teacherDir})");
            log.WriteLine($"student {student.Student.ArchitectureName}, {depth} layers ← teacher layers [{string.Join(", ", map)}]; " +
                          $"{student.CopiedTensors} tensors copied, {student.FreshTensors.Count} fresh (the classification head)");

            var tokenizer = DistillationFolders.SharedTokenizer(teacherDir, null);
            const int maxLength = 128;
            var trainData = TaskDataset.Classification(trainPath, tokenizer, teacherModel.Config, maxLength);
            var validationData = TaskDataset.Classification(validationPath, tokenizer, teacherModel.Config, maxLength);
            var options = new TaskDistillationOptions
            {
                Alpha = parse.GetValue(alpha), Temperature = parse.GetValue(temperature), BatchSize = parse.GetValue(batchSize),
                Epochs = parse.GetValue(epochs), LearningRate = parse.GetValue(lr), Seed = parse.GetValue(seed),
            };
            var distiller = new TaskDistiller(DistillationTaskKind.Classification, teacherModel, student.Student, trainData, validationData,
                options, DistillationFolders.TokenizerFiles(teacherDir));
            log.WriteLine($"distilling on {trainData.Count:N0} examples ({trainPath}), validating on {validationData.Count:N0} ({validationPath})");
            var result = distiller.Run(outDir, resume: false, new DistillationConsole(log, 50,
                () => $"soft {distiller.LastTerms.Soft:F4}  hard {distiller.LastTerms.Hard:F4}"), cancellation);
            double distillSeconds = clock.Elapsed.TotalSeconds;

            // Both models measured now, in this run, on the same validation texts.
            var studentModel = PretrainedModel.Load(result.OutputDirectory).Model;
            log.WriteLine("measuring both models on the validation split…");
            var rows = new[]
            {
                Measure("teacher", teacherModel, teacherDir, distiller, validationData),
                Measure("student", studentModel, result.OutputDirectory, distiller, validationData),
            };
            var (t, s) = (rows[0], rows[1]);
            double retained = t.Accuracy == 0 ? 0 : s.Accuracy / t.Accuracy;
            double speedup = s.SentencesPerSecond / t.SentencesPerSecond;
            double fewerParameters = 1 - (double)s.Parameters / t.Parameters;

            if (asJson)
            {
                JsonObject Row(string path, ModelRow m) => new()
                {
                    ["path"] = path, ["architecture"] = m.Architecture, ["layers"] = m.Layers, ["parameters"] = m.Parameters, ["size_bytes"] = m.SizeBytes,
                    ["sentences_per_second"] = m.SentencesPerSecond, ["accuracy"] = m.Accuracy,
                };
                Console.WriteLine(new JsonObject
                {
                    ["teacher"] = Row(teacherDir, t), ["student"] = Row(result.OutputDirectory, s),
                    ["layer_map"] = JsonNodes.Array(map), ["accuracy_retained"] = retained, ["speedup"] = speedup, ["fewer_parameters"] = fewerParameters,
                    ["train"] = Path.GetFullPath(trainPath), ["validation"] = Path.GetFullPath(validationPath), ["train_examples"] = trainData.Count,
                    ["validation_examples"] = validationData.Count, ["steps"] = result.GlobalStep, ["seconds"] = clock.Elapsed.TotalSeconds,
                }.ToJsonString());
                return Task.FromResult(0);
            }
            var table = new Table().Title("[bold]DistilBERT recipe on our own models[/] (SST-2 validation, measured in this run)")
                .AddColumn("").AddColumn($"teacher ({Family(t.Architecture)})", c => c.RightAligned())
                .AddColumn($"student ({Family(s.Architecture)})", c => c.RightAligned()).AddColumn("student / teacher", c => c.RightAligned());
            table.AddRow("layers", t.Layers.ToString(), s.Layers.ToString(), $"{(double)s.Layers / t.Layers:F2}");
            table.AddRow("parameters", $"{t.Parameters / 1e6:F2} M", $"{s.Parameters / 1e6:F2} M", $"{(double)s.Parameters / t.Parameters:F2}");
            table.AddRow("size on disk", $"{t.SizeBytes / 1048576.0:F1} MB", $"{s.SizeBytes / 1048576.0:F1} MB", $"{(double)s.SizeBytes / Math.Max(1, t.SizeBytes):F2}");
            table.AddRow("speed (sentences/s)", $"{t.SentencesPerSecond:N0}", $"{s.SentencesPerSecond:N0}", $"{speedup:F2}× faster");
            table.AddRow("accuracy", $"{100 * t.Accuracy:F1}%", $"{100 * s.Accuracy:F1}%", $"{100 * retained:F1}% retained");
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"distilled in {distillSeconds:F0} s ({result.GlobalStep} steps); total {clock.Elapsed.TotalSeconds:F0} s. " +
                                   $"Student: [green]{Markup.Escape(result.OutputDirectory)}[/] — try [grey]distilbert classify --model {Markup.Escape(result.OutputDirectory)} \"a gorgeous, witty film\"[/]");
            return Task.FromResult(0);
        });
        return command;
    }

    static string Family(string architecture) => architecture.StartsWith("DistilBert", StringComparison.Ordinal) ? "DistilBERT" : "BERT";

    sealed record ModelRow(string Role, string Architecture, int Layers, long Parameters, long SizeBytes, double SentencesPerSecond, double Accuracy);

    static ModelRow Measure(string role, TransformerModel model, string folder, TaskDistiller distiller, IReadOnlyList<TaskExample> examples)
    {
        model.Eval();
        double accuracy = distiller.Evaluate(model, examples)["accuracy"];
        // Speed: ragged batches of 32 validation sentences; one warm-up pass, then the best of three timed passes.
        var batches = DistilBert.Training.Batching.Sequential(examples.Count, 32)
            .Select(b => ModelInput.FromSequences(b.Select(i => examples[i].Ids).ToList())).ToList();
        foreach (var batch in batches) model.Forward(batch);
        double best = double.MaxValue;
        for (int pass = 0; pass < 3; pass++)
        {
            var watch = Stopwatch.StartNew();
            foreach (var batch in batches) model.Forward(batch);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        var weights = Path.Combine(folder, "model.safetensors");
        long size = File.Exists(weights) ? new FileInfo(weights).Length : 0;
        return new ModelRow(role, model.ArchitectureName, model.Config.NumLayers, model.Parameters.ElementCount, size, examples.Count / best, accuracy);
    }
}
