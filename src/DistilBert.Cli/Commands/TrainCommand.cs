using System.CommandLine;
using System.Globalization;
using DistilBert.Cli.Training;
using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert train classify|ner|qa|mlm --model M --train FILE [--eval FILE] --out DIR [...]</c>: fine-tunes (or
/// pre-trains, mlm) a model folder on a data file with the shared <see cref="Trainer"/> loop; the run folder ends up an
/// HF model folder (best evaluated model, else the last) with metrics.jsonl, curves.png, best/ and a resumable checkpoint/.
/// </summary>
public static class TrainCommand
{
    sealed record Common(
        Option<string> Model, Option<string> Train, Option<string?> Eval, Option<string> Out, Option<int> Epochs, Option<double> Lr,
        Option<int> BatchSize, Option<int?> MaxLength, Option<double> Warmup, Option<double> WeightDecay, Option<int> Seed, Option<int> GradAccum,
        Option<int> SaveEvery, Option<int> EvalEvery, Option<int?> Patience, Option<int?> MaxSteps, Option<bool> Resume, Option<double> Clip,
        Option<string> Schedule, Option<int?> Limit, Option<int?> EvalLimit, Option<string?> Tokenizer, Option<bool> Plain)
    {
        public static Common Create() => new(
            new Option<string>("--model", "-m") { Description = "model folder to start from (a base, MLM or task checkpoint)", Required = true },
            new Option<string>("--train") { Description = "training data file", Required = true },
            new Option<string?>("--eval") { Description = "evaluation data file (scored every epoch or --eval-every steps)" },
            new Option<string>("--out", "-o") { Description = "run folder: the trained HF model, metrics.jsonl, curves.png, checkpoint/", Required = true },
            new Option<int>("--epochs") { Description = "passes over the training data", DefaultValueFactory = _ => 3 },
            new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 5e-5 },
            new Option<int>("--batch-size") { Description = "examples per micro-batch", DefaultValueFactory = _ => 16 },
            new Option<int?>("--max-length") { Description = "tokens per sequence (default 128; qa 384)" },
            new Option<double>("--warmup") { Description = "warmup: a number of steps (≥ 1) or a fraction of all steps (< 1)", DefaultValueFactory = _ => 0 },
            new Option<double>("--weight-decay") { Description = "AdamW weight decay (none on biases and LayerNorm weights)", DefaultValueFactory = _ => 0.01 },
            new Option<int>("--seed") { Description = "seed of the data order, dropout and any new head", DefaultValueFactory = _ => 42 },
            new Option<int>("--grad-accum") { Description = "micro-batches per optimizer step", DefaultValueFactory = _ => 1 },
            new Option<int>("--save-every") { Description = "checkpoint every N steps (always at each epoch end and at the end)", DefaultValueFactory = _ => 0 },
            new Option<int>("--eval-every") { Description = "evaluate every N steps (default: each epoch)", DefaultValueFactory = _ => 0 },
            new Option<int?>("--patience") { Description = "stop after N evaluations without improvement" },
            new Option<int?>("--max-steps") { Description = "stop after N optimizer steps (the schedule spans them)" },
            new Option<bool>("--resume") { Description = "continue the run in --out from its last checkpoint" },
            new Option<double>("--max-grad-norm", "--clip") { Description = "global gradient-norm clipping (0: off; HF's max_grad_norm)", DefaultValueFactory = _ => 1.0 },
            new Option<string>("--schedule") { Description = "linear | constant", DefaultValueFactory = _ => "linear" },
            new Option<int?>("--limit") { Description = "use only the first N training examples" },
            new Option<int?>("--eval-limit") { Description = "use only the first N evaluation examples" },
            new Option<string?>("--tokenizer") { Description = "tokenizer folder, tokenizer.json or vocab.txt (default: the model folder's)" },
            new Option<bool>("--plain") { Description = "plain progress lines instead of the live display" });

        public IEnumerable<Option> All => [Model, Train, Eval, Out, Epochs, Lr, BatchSize, MaxLength, Warmup, WeightDecay, Seed, GradAccum,
            SaveEvery, EvalEvery, Patience, MaxSteps, Resume, Clip, Schedule, Limit, EvalLimit, Tokenizer, Plain];

        public TrainingOptions Options(ParseResult p)
        {
            double warmup = p.GetValue(Warmup);
            if (warmup < 0) throw new InvalidInputException($"--warmup must not be negative, got {warmup}");
            var schedule = p.GetValue(Schedule) switch
            {
                "linear" => LearningRateScheduleKind.Linear,
                "constant" => LearningRateScheduleKind.Constant,
                var s => throw new InvalidInputException($"--schedule must be linear or constant, not '{s}'"),
            };
            return new TrainingOptions
            {
                Epochs = p.GetValue(Epochs), MaxSteps = p.GetValue(MaxSteps), BatchSize = p.GetValue(BatchSize), GradientAccumulation = p.GetValue(GradAccum),
                LearningRate = p.GetValue(Lr), Schedule = schedule,
                WarmupSteps = warmup >= 1 ? (int)warmup : null, WarmupRatio = warmup < 1 ? warmup : 0,
                WeightDecay = p.GetValue(WeightDecay), MaxGradNorm = p.GetValue(Clip) > 0 ? p.GetValue(Clip) : null, Seed = p.GetValue(Seed),
                SaveEvery = p.GetValue(SaveEvery), EvalEvery = p.GetValue(EvalEvery), Patience = p.GetValue(Patience),
            };
        }

        public static IEnumerable<T> Take<T>(IEnumerable<T> items, int? limit) =>
            limit is { } n ? (n >= 1 ? items.Take(n) : throw new InvalidInputException($"limits must be at least 1, got {n}")) : items;
    }

    /// <summary>The <c>train</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var cmd = new Command("train", "Fine-tune a model (classify, ner, qa) or pre-train it (mlm), with checkpoints, resume, metrics and curves");
        cmd.Subcommands.Add(Classify());
        cmd.Subcommands.Add(Ner());
        cmd.Subcommands.Add(Qa());
        cmd.Subcommands.Add(Mlm());
        return cmd;
    }

    static Command Classify()
    {
        var common = Common.Create();
        var labels = new Option<string?>("--labels") { Description = "comma-separated label names for the head, in id order (default: the labels found in --train)" };
        var column = new Option<string?>("--column") { Description = "text column or key" };
        var pairColumn = new Option<string?>("--pair-column") { Description = "second text column or key" };
        var labelColumn = new Option<string?>("--label-column") { Description = "label column or key" };
        var cmd = new Command("classify", "Sequence classification on tsv/csv/jsonl (text[, text pair], label)");
        foreach (var o in common.All.Append(labels).Append(column).Append(pairColumn).Append(labelColumn)) cmd.Options.Add(o);
        CliAction.Set(cmd, p =>
        {
            var columns = new TextColumns(p.GetValue(column), p.GetValue(pairColumn), p.GetValue(labelColumn));
            var trainPath = RequireFile(p.GetValue(common.Train)!);
            var train = Common.Take(TextClassificationReader.Read(trainPath, columns), p.GetValue(common.Limit)).ToList();
            foreach (var e in train)
                if (e.Label is null) throw new DataFileException(trainPath, e.Line, "no label: training needs a label column");
            var names = p.GetValue(labels) is { } given ? given.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList() : LabelsOf(train);
            var eval = p.GetValue(common.Eval) is { } evalPath ? Common.Take(TextClassificationReader.Read(RequireFile(evalPath), columns), p.GetValue(common.EvalLimit)).ToList() : null;
            var options = common.Options(p);
            var prepared = Prepare(p, common, ModelHead.SequenceClassification, names, options);
            var examples = train.Select(e => new LabeledText(e.Text, e.TextPair, LabelId(e, names, trainPath))).ToList();
            var task = new ClassificationTraining(prepared.Model, prepared.Tokenizer, examples, eval, MaxLength(p, common, prepared, 128), prepared.TokenizerFiles);
            Console.WriteLine($"labels: {string.Join(", ", names.Select((n, i) => $"{i}={n}"))}");
            return Run(p, common, task, options);
        });
        return cmd;
    }

    static Command Ner()
    {
        var common = Common.Create();
        var cmd = new Command("ner", "Token classification on CoNLL files (token<TAB>tag per line); labels on first sub-tokens");
        foreach (var o in common.All) cmd.Options.Add(o);
        CliAction.Set(cmd, p =>
        {
            var trainPath = RequireFile(p.GetValue(common.Train)!);
            var train = Common.Take(ConllReader.Read(trainPath), p.GetValue(common.Limit)).ToList();
            var eval = p.GetValue(common.Eval) is { } evalPath ? Common.Take(ConllReader.Read(RequireFile(evalPath)), p.GetValue(common.EvalLimit)).ToList() : null;
            // "O" first, then the tags in file order of first appearance, as a stable id order.
            var tags = train.SelectMany(s => s.Tags).Distinct().OrderBy(t => t == "O" ? 0 : 1).ToList();
            var options = common.Options(p);
            var prepared = Prepare(p, common, ModelHead.TokenClassification, tags, options);
            var task = new TokenClassificationTraining(prepared.Model, prepared.Tokenizer, train, eval, p.GetValue(common.MaxLength) ?? 128, prepared.TokenizerFiles, trainPath);
            Console.WriteLine($"labels: {string.Join(", ", tags)}");
            return Run(p, common, task, options);
        });
        return cmd;
    }

    static Command Qa()
    {
        var common = Common.Create();
        var docStride = new Option<int>("--doc-stride") { Description = "tokens shared by consecutive windows of a long context", DefaultValueFactory = _ => 128 };
        var cmd = new Command("qa", "Extractive question answering on SQuAD v1.1 json (windows with doc stride)");
        foreach (var o in common.All.Append(docStride)) cmd.Options.Add(o);
        CliAction.Set(cmd, p =>
        {
            var train = Common.Take(SquadReader.Read(RequireFile(p.GetValue(common.Train)!)), p.GetValue(common.Limit)).ToList();
            var eval = p.GetValue(common.Eval) is { } evalPath ? Common.Take(SquadReader.Read(RequireFile(evalPath)), p.GetValue(common.EvalLimit)).ToList() : null;
            var options = common.Options(p);
            var prepared = Prepare(p, common, ModelHead.QuestionAnswering, null, options);
            int maxLength = MaxLength(p, common, prepared, 384);
            var task = new QuestionAnsweringTraining(prepared.Model, prepared.Tokenizer, train, eval, maxLength, p.GetValue(docStride), prepared.TokenizerFiles);
            Console.WriteLine($"{train.Count:N0} questions → {task.Windows:N0} windows of ≤ {maxLength} tokens");
            return Run(p, common, task, options);
        });
        return cmd;
    }

    static Command Mlm()
    {
        var common = Common.Create();
        var cmd = new Command("mlm", "Masked-LM pre-training on a text corpus (one text per line, packed into max-length blocks, dynamic masking)");
        foreach (var o in common.All) cmd.Options.Add(o);
        CliAction.Set(cmd, p =>
        {
            var lines = Common.Take(TextLinesReader.Read(RequireFile(p.GetValue(common.Train)!)).Select(l => l.Text), p.GetValue(common.Limit)).ToList();
            var evalLines = p.GetValue(common.Eval) is { } evalPath ? Common.Take(TextLinesReader.Read(RequireFile(evalPath)).Select(l => l.Text), p.GetValue(common.EvalLimit)).ToList() : null;
            var options = common.Options(p);
            var prepared = Prepare(p, common, ModelHead.MaskedLM, null, options);
            var task = new MaskedLmTraining(prepared.Model, prepared.Tokenizer, lines, evalLines, MaxLength(p, common, prepared, 128), filesToCopy: prepared.TokenizerFiles);
            Console.WriteLine($"{lines.Count:N0} lines → {task.Blocks:N0} blocks");
            return Run(p, common, task, options);
        });
        return cmd;
    }

    static string RequireFile(string path) => File.Exists(path) ? path : throw new DataFileException(path, null, "data file not found");

    static TaskModel Prepare(ParseResult p, Common common, ModelHead head, IReadOnlyList<string>? labels, TrainingOptions options)
    {
        Input.OutputFolder.RefuseOverlap(p.GetValue(common.Out)!, ("--model", p.GetValue(common.Model)), ("--tokenizer", p.GetValue(common.Tokenizer)));
        var prepared = TaskModels.Load(p.GetValue(common.Model)!, head, labels, (ulong)options.Seed, p.GetValue(common.Tokenizer));
        var m = prepared.Model;
        Console.WriteLine($"{m.ArchitectureName}: {m.Config.NumLayers} layers, dim {m.Config.HiddenSize}, {m.Parameters.ElementCount:N0} parameters");
        if (prepared.FreshParameters.Count > 0 && !p.GetValue(common.Resume))
            Console.WriteLine($"newly initialised (not in the checkpoint): {string.Join(", ", prepared.FreshParameters)}");
        return prepared;
    }

    /// <summary>--max-length (or the task's default) within the model's and the tokenizer's limits.</summary>
    static int MaxLength(ParseResult p, Common common, TaskModel prepared, int fallback)
    {
        int requested = p.GetValue(common.MaxLength) ?? fallback;
        if (requested < 4) throw new InvalidInputException($"--max-length must be at least 4, got {requested}");
        int limit = Math.Min(prepared.Model.Config.MaxPositionEmbeddings, prepared.Tokenizer.ModelMaxLength);
        if (requested <= limit) return requested;
        Console.WriteLine($"max length {requested} is above the model's limit; using {limit}");
        return limit;
    }

    /// <summary>
    /// Label names found in the data: its own names, sorted ordinally. Bare ids 0..n-1 (SST-2's 0/1) are named as a
    /// Hugging Face config names labels it was given no names for, LABEL_0..LABEL_n-1, so predictions do not read as
    /// scores; other integers keep their text (sorted numerically), so the id each one got stays visible.
    /// </summary>
    internal static List<string> LabelsOf(IEnumerable<TextExample> examples)
    {
        var distinct = examples.Select(e => e.Label!).Distinct().ToList();
        if (!distinct.All(l => long.TryParse(l, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
            return distinct.OrderBy(l => l, StringComparer.Ordinal).ToList();
        var ids = distinct.Select(l => long.Parse(l, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        return ids.Count == distinct.Count && ids[0] == 0 && ids[^1] == ids.Count - 1
            ? ids.Select(id => $"LABEL_{id}").ToList()
            : distinct.OrderBy(l => long.Parse(l, CultureInfo.InvariantCulture)).ToList();
    }

    static int LabelId(TextExample e, List<string> names, string path)
    {
        int id = names.IndexOf(e.Label!);
        if (id >= 0) return id;
        if (int.TryParse(e.Label, NumberStyles.Integer, CultureInfo.InvariantCulture, out id) && id >= 0 && id < names.Count) return id;
        throw new DataFileException(path, e.Line, $"label '{e.Label}' is not one of --labels ({string.Join(", ", names)}) nor an id below {names.Count}");
    }

    static int Run(ParseResult p, Common common, ITrainingTask task, TrainingOptions options)
    {
        var outDir = p.GetValue(common.Out)!;
        bool resume = p.GetValue(common.Resume);
        if (!resume && TrainingCheckpoint.Find(outDir) is { } existing)
            throw new InvalidInputException($"{outDir} already holds a run (checkpoint {existing}): pass --resume to continue it, or choose another --out");
        var display = new TrainingDisplay(p.GetValue(common.Plain) ? false : null);
        var trainer = new Trainer(task, options, outDir, display);
        TrainingResult result;
        try { result = display.Run(() => trainer.Run(resume)); }
        finally { WritePlot(outDir); }
        var best = result.BestMetric is { } b ? $", best {result.Evaluations.First(e => e.IsBest && e.Step == result.BestStep).MainMetric} {b:0.####} at step {result.BestStep}" : "";
        Console.WriteLine($"done: {result.GlobalStep}/{result.TotalSteps} steps{(result.StoppedEarly ? " (stopped early: no improvement)" : "")}, " +
                          $"last loss {result.LastLoss?.ToString("0.####", CultureInfo.InvariantCulture) ?? "-"}{best}");
        Console.WriteLine($"model: {result.OutputDirectory} ({(result.BestMetric is null ? "last" : "best")} weights), metrics: {Path.Combine(outDir, MetricsLog.FileName)}, curves: {Path.Combine(outDir, TrainingPlot.FileName)}");
        return 0;
    }

    static void WritePlot(string outDir)
    {
        var metrics = Path.Combine(outDir, MetricsLog.FileName);
        if (!File.Exists(metrics)) return;
        try { TrainingPlot.Write(metrics, Path.Combine(outDir, TrainingPlot.FileName)); }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or IOException)
        {
            Console.Error.WriteLine($"warning: could not draw {TrainingPlot.FileName}: {e.Message}");
        }
    }
}
