using System.Text.Json.Nodes;
using DistilBert.Cli.Output;
using System.CommandLine;
using DistilBert.Distillation;
using DistilBert.Modeling;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert distill-task classify|ner|qa --teacher M (--student M | --init-from-teacher [--student-layers N | --layers LIST])
/// --train FILE [--eval FILE] --out DIR</c>: task-specific distillation with α·T²·KL + (1 − α)·CE.
/// </summary>
public static class DistillTaskCommand
{
    /// <summary>The <c>distill-task</c> command.</summary>
    public static Command Create()
    {
        var task = new Argument<string>("task") { Description = "classify | ner | qa" };
        var teacher = new Option<string>("--teacher") { Description = "fine-tuned teacher folder (…ForSequenceClassification / …ForTokenClassification / …ForQuestionAnswering)", Required = true };
        var student = new Option<string?>("--student") { Description = "student model folder with the same task head" };
        var initFromTeacher = new Option<bool>("--init-from-teacher") { Description = "build a DistilBERT student from the teacher's layers" };
        var studentLayers = new Option<int?>("--student-layers") { Description = "student depth with --init-from-teacher (default: half the teacher's)" };
        var layers = new Option<string?>("--layers") { Description = "teacher layers to copy, e.g. 0,2,4,7,9,11" };
        var train = new Option<string>("--train") { Description = "training data (tsv/csv/jsonl for classify, CoNLL for ner, SQuAD json for qa)", Required = true };
        var eval = new Option<string?>("--eval") { Description = "evaluation data; evaluated after each epoch, the best epoch is kept" };
        var output = new Option<string>("--out") { Description = "run folder: checkpoints, metrics.jsonl, best/, and at the end the (best) student", Required = true };
        var alpha = new Option<float>("--alpha") { Description = "weight of the soft-target KL term (1 − α on the hard labels)", DefaultValueFactory = _ => 0.5f };
        var temperature = new Option<float>("--temperature") { Description = "softmax temperature of the soft targets", DefaultValueFactory = _ => 2f };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var gradAccum = new Option<int>("--grad-accum") { DefaultValueFactory = _ => 1 };
        var maxLength = new Option<int?>("--max-length") { Description = "tokens per example, longer ones truncated (default 128; qa 384)" };
        var epochs = new Option<int>("--epochs") { DefaultValueFactory = _ => 3 };
        var maxSteps = new Option<int?>("--max-steps") { Description = "stop after this many optimizer steps" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 1e-4 };
        var warmup = new Option<double>("--warmup") { Description = "warmup fraction of the steps", DefaultValueFactory = _ => 0.1 };
        var weightDecay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0.01 };
        var maxGradNorm = new Option<double>("--max-grad-norm", "--clip") { Description = "gradient clipping norm", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 42 };
        var logEvery = new Option<int>("--log-every") { Description = "print a progress line every N steps", DefaultValueFactory = _ => 20 };
        var maxExamples = new Option<int?>("--max-examples") { Description = "use only the first N training examples" };
        var saveEvery = new Option<int>("--save-every") { Description = "write a resumable checkpoint every N steps (0: each epoch end and the end)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its checkpoint (same settings)" };
        var json = new Option<bool>("--json") { Description = "print the summary as JSON (progress lines go to stderr)" };
        var plain = new Option<bool>("--plain") { Description = "plain progress lines instead of the live table" };
        var cmd = new Command("distill-task", "Task-specific distillation: a fine-tuned teacher teaches a student (α·T²·KL + (1 − α)·CE)")
        {
            task, teacher, student, initFromTeacher, studentLayers, layers, train, eval, output, alpha, temperature, batchSize, gradAccum,
            maxLength, epochs, maxSteps, lr, warmup, weightDecay, maxGradNorm, seed, logEvery, maxExamples, saveEvery, resume, json, plain,
        };
        CliAction.Set(cmd, (parse, cancellation) =>
        {
            var kind = parse.GetValue(task) switch
            {
                "classify" => DistillationTaskKind.Classification,
                "ner" => DistillationTaskKind.TokenClassification,
                "qa" => DistillationTaskKind.QuestionAnswering,
                var other => throw new InvalidInputException($"unknown task '{other}': use classify, ner or qa"),
            };
            string teacherDir = parse.GetValue(teacher)!, outDir = parse.GetValue(output)!;
            string? studentDir = parse.GetValue(student);
            bool init = parse.GetValue(initFromTeacher);
            if ((studentDir is null) == !init) throw new InvalidInputException("give exactly one of --student DIR and --init-from-teacher");
            Input.OutputFolder.RefuseOverlap(outDir, ("--teacher", teacherDir), ("--student", studentDir));
            var options = new TaskDistillationOptions
            {
                Alpha = parse.GetValue(alpha), Temperature = parse.GetValue(temperature), BatchSize = parse.GetValue(batchSize),
                GradientAccumulation = parse.GetValue(gradAccum), Epochs = parse.GetValue(epochs), MaxSteps = parse.GetValue(maxSteps),
                LearningRate = parse.GetValue(lr), WarmupRatio = parse.GetValue(warmup), WeightDecay = parse.GetValue(weightDecay),
                MaxGradNorm = parse.GetValue(maxGradNorm), Seed = parse.GetValue(seed), SaveEvery = parse.GetValue(saveEvery),
            };
            options.Validate();
            bool asJson = parse.GetValue(json);
            var log = asJson ? Console.Error : Console.Out;

            var tokenizer = DistillationFolders.SharedTokenizer(teacherDir, studentDir);
            var teacherModel = PretrainedModel.Load(teacherDir).Model;
            TransformerModel studentModel;
            IReadOnlyList<string> notes = [];
            if (init)
            {
                int[] map = Input.LayerMapOption.Resolve(parse.GetValue(layers), parse.GetValue(studentLayers), teacherModel.Config.NumLayers);
                var built = TaskStudent.FromTeacher(teacherDir, teacherModel, kind, map, (ulong)options.Seed);
                studentModel = built.Student;
                notes = built.Notes;
                log.WriteLine($"student: {map.Length} layers ← teacher [{string.Join(", ", map)}]; {built.CopiedTensors} tensors copied, {built.FreshTensors.Count} fresh");
            }
            else
            {
                // Any checkpoint of the student's family: a general-distilled MLM student or a base model gets the task
                // head, freshly initialised with the teacher's labels; a matching task checkpoint keeps its own.
                var labels = kind == DistillationTaskKind.QuestionAnswering ? null : teacherModel.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToList();
                var loaded = DistilBert.Training.TaskModels.Load(studentDir!, TaskStudent.Head(kind), labels, (ulong)options.Seed);
                studentModel = loaded.Model;
                if (loaded.FreshParameters.Count > 0) notes = [$"student head freshly initialised: {string.Join(", ", loaded.FreshParameters)}"];
            }
            foreach (var note in notes) log.WriteLine($"note: {note}");

            int maxLen = parse.GetValue(maxLength) ?? (kind == DistillationTaskKind.QuestionAnswering ? 384 : 128);
            if (maxLen < 4) throw new InvalidInputException($"--max-length must be at least 4, got {maxLen}");
            List<TaskExample> Read(string path) => kind switch
            {
                DistillationTaskKind.Classification => TaskDataset.Classification(path, tokenizer, teacherModel.Config, maxLen),
                DistillationTaskKind.TokenClassification => TaskDataset.Tokens(path, tokenizer, teacherModel.Config, maxLen),
                _ => TaskDataset.Squad(path, tokenizer, maxLen),
            };
            var trainData = Read(parse.GetValue(train)!);
            if (parse.GetValue(maxExamples) is { } cap && cap < trainData.Count) trainData = trainData.Take(cap).ToList();
            var evalPath = parse.GetValue(eval);
            var evalData = evalPath is null ? null : Read(evalPath);

            var files = DistillationFolders.TokenizerFiles(studentDir is not null && File.Exists(Path.Combine(studentDir, "vocab.txt")) ? studentDir : teacherDir);
            var distiller = new TaskDistiller(kind, teacherModel, studentModel, trainData, evalData, options, files);
            log.WriteLine($"teacher {teacherModel.ArchitectureName} {teacherModel.Config.NumLayers} layers, {teacherModel.Parameters.ElementCount:N0} parameters; " +
                          $"student {studentModel.ArchitectureName} {studentModel.Config.NumLayers} layers, {studentModel.Parameters.ElementCount:N0} parameters");
            Dictionary<string, double>? teacherScores = null;
            if (evalData is not null)
            {
                teacherScores = distiller.Evaluate(teacherModel, evalData);
                log.WriteLine($"teacher on {evalPath}: {Format(teacherScores)}");
            }
            var (result, _, _) = DistillationRunner.Run(outDir, parse.GetValue(resume), asJson, parse.GetValue(plain), parse.GetValue(logEvery),
                () => $"soft {distiller.LastTerms.Soft:F4}  hard {distiller.LastTerms.Hard:F4}", observer => distiller.Run(outDir, parse.GetValue(resume), observer, cancellation));
            var best = result.Evaluations.Where(e => e.IsBest).LastOrDefault();
            double? retained = best is null || teacherScores is null || teacherScores[best.MainMetric] == 0 ? null : best.Metrics[best.MainMetric] / teacherScores[best.MainMetric];
            if (asJson)
            {
                Console.WriteLine(new JsonObject
                {
                    ["student"] = result.OutputDirectory, ["steps"] = result.GlobalStep, ["start_step"] = result.StartStep, ["last_loss"] = result.LastLoss,
                    ["teacher_metrics"] = JsonNodes.Numbers(teacherScores), ["best_step"] = best?.Step, ["best_metrics"] = JsonNodes.Numbers(best?.Metrics),
                    ["retained"] = retained,
                }.ToJsonString());
            }
            else
            {
                if (best is not null && teacherScores is not null)
                {
                    var table = new Table().AddColumn("").AddColumn("teacher").AddColumn($"student (step {best.Step})");
                    table.AddRow("layers", teacherModel.Config.NumLayers.ToString(), studentModel.Config.NumLayers.ToString());
                    table.AddRow("parameters", $"{teacherModel.Parameters.ElementCount:N0}", $"{studentModel.Parameters.ElementCount:N0}");
                    table.AddRow(best.MainMetric, $"{teacherScores[best.MainMetric]:F4}", $"{best.Metrics[best.MainMetric]:F4} ({100 * retained:F1}% of the teacher)");
                    AnsiConsole.Write(table);
                }
                AnsiConsole.MarkupLine($"{result.GlobalStep} steps; student written to [green]{Markup.Escape(result.OutputDirectory)}[/]");
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    static string Format(IReadOnlyDictionary<string, double> metrics) =>
        string.Join("  ", metrics.Select(kv => kv.Key is "examples" or "sentences" or "questions" ? $"{kv.Key} {kv.Value:N0}" : $"{kv.Key} {kv.Value:F4}"));
}
