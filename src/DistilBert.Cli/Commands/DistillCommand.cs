using System.Text.Json.Nodes;
using DistilBert.Cli.Output;
using DistilBert.Training;
using System.CommandLine;
using DistilBert.Distillation;
using DistilBert.Modeling;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert distill --teacher M --student DIR --corpus FILE --out DIR</c>: general distillation (DistilBERT's
/// triple loss) of an MLM student from an MLM teacher on raw text.
/// </summary>
public static class DistillCommand
{
    /// <summary>The <c>distill</c> command.</summary>
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") { Description = "teacher model folder (BertForMaskedLM / DistilBertForMaskedLM)", Required = true };
        var student = new Option<string>("--student") { Description = "student model folder (DistilBertForMaskedLM, e.g. from init-student)", Required = true };
        var corpus = new Option<string>("--corpus") { Description = "raw text, one passage per line (.gz accepted)", Required = true };
        var output = new Option<string>("--out") { Description = "run folder: checkpoints, metrics.jsonl, and at the end the distilled student", Required = true };
        var temperature = new Option<float>("--temperature") { Description = "softmax temperature of the soft targets", DefaultValueFactory = _ => 2f };
        var alphaCe = new Option<float>("--alpha-ce") { Description = "weight of the KL (soft target) loss", DefaultValueFactory = _ => 5f };
        var alphaMlm = new Option<float>("--alpha-mlm") { Description = "weight of the MLM loss", DefaultValueFactory = _ => 2f };
        var alphaCos = new Option<float>("--alpha-cos") { Description = "weight of the hidden-state cosine loss (needs equal widths)", DefaultValueFactory = _ => 1f };
        var restrict = new Option<bool>("--restrict-ce-to-mask") { Description = "compute the KL term on masked positions only" };
        var smoothing = new Option<double>("--mlm-smoothing") { Description = "token-count smoothing exponent (rarer tokens masked more)", DefaultValueFactory = _ => 0.7 };
        var maskProb = new Option<double>("--mask-prob") { Description = "fraction of tokens chosen as MLM targets", DefaultValueFactory = _ => 0.15 };
        var batchSize = new Option<int>("--batch-size") { Description = "sequences per micro-batch", DefaultValueFactory = _ => 16 };
        var gradAccum = new Option<int>("--grad-accum") { Description = "micro-batches per optimizer step", DefaultValueFactory = _ => 1 };
        var maxLength = new Option<int>("--max-length") { Description = "tokens per sequence; longer lines are cut into chunks", DefaultValueFactory = _ => 128 };
        var minLength = new Option<int>("--min-length") { Description = "sequences shorter than this are dropped (HF: 12)", DefaultValueFactory = _ => 12 };
        var maxLines = new Option<int?>("--max-lines") { Description = "read at most this many corpus lines" };
        var epochs = new Option<int>("--epochs") { Description = "passes over the corpus", DefaultValueFactory = _ => 1 };
        var maxSteps = new Option<int?>("--max-steps") { Description = "stop after this many optimizer steps" };
        var lr = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 5e-4 };
        var warmup = new Option<double>("--warmup") { Description = "warmup fraction of the steps", DefaultValueFactory = _ => 0.05 };
        var maxGradNorm = new Option<double>("--max-grad-norm", "--clip") { Description = "gradient clipping norm", DefaultValueFactory = _ => 5.0 };
        var seed = new Option<int>("--seed") { Description = "seed of batching, masking and dropout", DefaultValueFactory = _ => 56 };
        var logEvery = new Option<int>("--log-every") { Description = "print a progress line every N steps", DefaultValueFactory = _ => 10 };
        var saveEvery = new Option<int>("--save-every") { Description = "write a resumable checkpoint every N steps (0: each epoch end and the end)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its checkpoint (same settings)" };
        var json = new Option<bool>("--json") { Description = "print the summary as JSON (progress lines go to stderr)" };
        var plain = new Option<bool>("--plain") { Description = "plain progress lines instead of the live table" };
        var cmd = new Command("distill", "General distillation: a masked-LM teacher teaches a DistilBERT student on raw text (triple loss)")
        {
            teacher, student, corpus, output, temperature, alphaCe, alphaMlm, alphaCos, restrict, smoothing, maskProb, batchSize, gradAccum,
            maxLength, minLength, maxLines, epochs, maxSteps, lr, warmup, maxGradNorm, seed, logEvery, saveEvery, resume, json, plain,
        };
        CliAction.Set(cmd, (parse, cancellation) =>
        {
            string teacherDir = parse.GetValue(teacher)!, studentDir = parse.GetValue(student)!, outDir = parse.GetValue(output)!;
            Input.OutputFolder.RefuseOverlap(outDir, ("--teacher", teacherDir), ("--student", studentDir));
            var options = new GeneralDistillationOptions
            {
                Loss = new DistillationLossOptions
                {
                    Temperature = parse.GetValue(temperature), AlphaCe = parse.GetValue(alphaCe), AlphaMlm = parse.GetValue(alphaMlm),
                    AlphaCos = parse.GetValue(alphaCos), RestrictCeToMask = parse.GetValue(restrict),
                },
                Masking = new MlmMaskingOptions { Smoothing = parse.GetValue(smoothing), MaskProportion = ValidProbability(parse.GetValue(maskProb)) },
                BatchSize = parse.GetValue(batchSize), GradientAccumulation = parse.GetValue(gradAccum), Epochs = parse.GetValue(epochs),
                MaxSteps = parse.GetValue(maxSteps), LearningRate = parse.GetValue(lr), WarmupRatio = parse.GetValue(warmup),
                MaxGradNorm = parse.GetValue(maxGradNorm), Seed = parse.GetValue(seed), SaveEvery = parse.GetValue(saveEvery),
            };
            options.Validate();
            bool asJson = parse.GetValue(json);
            var log = asJson ? Console.Error : Console.Out;

            var tokenizer = DistillationFolders.SharedTokenizer(teacherDir, studentDir);
            var teacherModel = PretrainedModel.Load(teacherDir).Model;
            var studentModel = PretrainedModel.Load(studentDir).Model;
            var data = DistillationCorpus.Load(parse.GetValue(corpus)!, tokenizer, parse.GetValue(maxLength), parse.GetValue(minLength), parse.GetValue(maxLines));
            var files = DistillationFolders.TokenizerFiles(File.Exists(Path.Combine(studentDir, "vocab.txt")) || File.Exists(Path.Combine(studentDir, "tokenizer.json")) ? studentDir : teacherDir);
            var task = new GeneralDistillationTask(teacherModel, studentModel, data, DistillationFolders.SpecialTokenIds(tokenizer), tokenizer.MaskId,
                options.Loss, options.Masking, files);
            var distiller = new GeneralDistiller(task, options);
            log.WriteLine($"teacher {teacherModel.ArchitectureName} {teacherModel.Config.NumLayers} layers, {teacherModel.Parameters.ElementCount:N0} parameters; " +
                          $"student {studentModel.ArchitectureName} {studentModel.Config.NumLayers} layers, {studentModel.Parameters.ElementCount:N0} parameters");
            log.WriteLine($"corpus: {data.Lines:N0} lines → {data.Sequences.Count:N0} sequences, {data.Tokens:N0} tokens ({data.DroppedShort:N0} short chunks dropped)");
            var (result, first, last) = DistillationRunner.Run(outDir, parse.GetValue(resume), asJson, parse.GetValue(plain), parse.GetValue(logEvery),
                () => $"ce {task.LastLoss.LossCe:F4}  mlm {task.LastLoss.LossMlm:F4}  cos {task.LastLoss.LossCos:F4}", observer => distiller.Run(outDir, parse.GetValue(resume), observer, cancellation));
            if (asJson)
            {
                Console.WriteLine(new JsonObject
                {
                    ["student"] = Path.GetFullPath(outDir), ["steps"] = result.GlobalStep, ["start_step"] = result.StartStep, ["seconds"] = last?.ElapsedSeconds,
                    ["first_loss"] = first?.Loss, ["last_loss"] = result.LastLoss,
                    ["last_components"] = new JsonObject { ["loss_ce"] = task.LastLoss.LossCe, ["loss_mlm"] = task.LastLoss.LossMlm, ["loss_cos"] = task.LastLoss.LossCos },
                }.ToJsonString());
            }
            else
            {
                if (first is not null && last is not null)
                {
                    var table = new Table().AddColumn("").AddColumn($"step {first.Step}").AddColumn($"step {last.Step}");
                    table.AddRow("loss", $"{first.Loss:F4}", $"{last.Loss:F4}");
                    table.AddRow("tokens/s", $"{first.TokensPerSecond:N0}", $"{last.TokensPerSecond:N0}");
                    table.AddRow("last batch: ce / mlm / cos", "", $"{task.LastLoss.LossCe:F4} / {task.LastLoss.LossMlm:F4} / {task.LastLoss.LossCos:F4}");
                    AnsiConsole.Write(table);
                }
                AnsiConsole.MarkupLine($"{result.GlobalStep} steps in {last?.ElapsedSeconds ?? 0:F1} s; student written to [green]{Markup.Escape(result.OutputDirectory)}[/]");
            }
            return Task.FromResult(0);
        });
        return cmd;
    }

    static double ValidProbability(double p) =>
        p is > 0 and <= 1 ? p : throw new InvalidInputException($"--mask-prob must be in (0, 1], got {p}");
}
