using DistilBert.Training;
using System.CommandLine;
using System.Globalization;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Data;
using DistilBert.Metrics;
using DistilBert.Pipelines;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert eval</c>: scores a model on labelled data — accuracy and macro-F1 (classify), seqeval entity-level
/// P/R/F1 (ner, CoNLL), SQuAD v1.1 EM/F1 (qa).
/// </summary>
public static class EvalCommand
{
    /// <summary>The <c>eval</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model folder", Required = true };
        var task = new Option<string>("--task") { Description = "classify | ner | qa", Required = true };
        var data = new Option<string>("--data") { Description = "classify: tsv/csv/jsonl with text and label (SST-2's sentence\\tlabel); ner: CoNLL; qa: SQuAD v1.1 json", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the scores as one JSON object" };
        var batchSize = new Option<int>("--batch-size") { Description = "Inputs per forward pass", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Maximum tokens per sequence (default: the model's)" };
        var limit = new Option<int?>("--limit") { Description = "Score only the first N examples" };
        var column = new Option<string?>("--column") { Description = "classify: text column or key" };
        var labelColumn = new Option<string?>("--label-column") { Description = "classify: label column or key (default: label)" };
        var skipBad = new Option<bool>("--skip-bad-lines") { Description = "Warn about malformed lines and continue" };
        var maxWindows = PipelineOptions.MaxWindowsOption();
        var int8 = PipelineOptions.Int8Option();
        var cmd = new Command("eval", "Score a model on labelled data");
        foreach (var option in new Option[] { model, task, data, json, batchSize, maxLength, limit, column, labelColumn, skipBad, maxWindows, int8 }) cmd.Options.Add(option);
        CliAction.Set(cmd, parse =>
        {
            var folder = Hub.ModelPath.Resolve(parse.GetValue(model)!);
            var path = parse.GetValue(data)!;
            if (!Directory.Exists(folder)) throw new ModelFileException(folder, "expected a model folder");
            if (!File.Exists(path)) throw new DataFileException(path, null, "data file not found");
            int take = parse.GetValue(limit) ?? int.MaxValue;
            if (take < 1) throw new InvalidInputException($"--limit must be at least 1, got {take}");
            if (parse.GetValue(batchSize) < 1) throw new InvalidInputException($"--batch-size must be at least 1, got {parse.GetValue(batchSize)}");
            var taskName = parse.GetValue(task);
            var columnFlags = new[] { column, labelColumn }.Where(o => parse.GetValue(o) is not null).Select(o => o.Name).ToList();
            if (columnFlags.Count > 0 && (taskName != "classify" || !TextClassificationReader.HasColumns(path)))
                throw new InvalidInputException($"{string.Join(" and ", columnFlags)} appl{(columnFlags.Count == 1 ? "ies" : "y")} to --task classify " +
                    $"on .tsv, .csv or .jsonl data, not to {(taskName == "classify" ? $"'{path}'" : $"--task {taskName}")}");
            // Counting first gives the progress bar its total (a quick pass: the files are small next to inference).
            (long total, string unit) = taskName switch
            {
                "classify" => (TextInputs.EstimateRows(path) ?? 0, "examples"),
                "ner" => (ConllReader.Read(path).LongCount(), "sentences"),
                "qa" => (SquadReader.Read(path).LongCount(), "questions"),
                _ => throw new InvalidInputException($"--task must be classify, ner or qa, not '{taskName}'"),
            };
            var progress = new ProgressReporter(Math.Min(total, take), unit, enabled: true);
            var warnings = new Warnings(progress);
            var settings = new PipelineSettings
            {
                BatchSize = parse.GetValue(batchSize), MaxLength = parse.GetValue(maxLength), Warn = warnings.Add,
                MaxWindows = PipelineOptions.GetMaxWindows(parse, maxWindows), Int8 = parse.GetValue(int8),
            };
            Action<DataFileException>? onBad = parse.GetValue(skipBad) ? e => warnings.Add("skipped " + e.Message) : null;
            var scores = taskName switch
            {
                "classify" => EvalClassify(folder, path, new TextColumns(parse.GetValue(column), null, parse.GetValue(labelColumn)), onBad, take, settings, progress, warnings),
                "ner" => EvalNer(folder, path, take, settings, progress),
                _ => EvalQa(folder, path, take, settings, progress),
            };
            double seconds = progress.Elapsed.TotalSeconds;
            progress.Dispose();
            warnings.Summarize();
            scores["seconds"] = Math.Round(seconds, 2);
            if (parse.GetValue(json)) JsonLines.Write(Console.Out, scores);
            else Print(scores);
            return 0;
        });
        return cmd;
    }

    // The scoring itself is the library's (Training.Evaluation, also run after each training epoch); here only the report.
    static Dictionary<string, object> EvalClassify(string folder, string path, TextColumns columns, Action<DataFileException>? onBad, int take,
        PipelineSettings settings, ProgressReporter progress, Warnings warnings)
    {
        var pipeline = TextClassificationPipeline.Load(folder, settings);
        var examples = TextClassificationReader.Read(path, columns, onBad).Take(take).Select(e =>
            e.Label is null ? throw new DataFileException(path, e.Line, "no label: eval needs a label in every row (a 'label' column or key, or name it with --label-column)") : e);
        var report = Evaluation.Classification(pipeline, examples, warnings.Add, n => progress.Advance(n));
        return new Dictionary<string, object>
        {
            ["task"] = "classify", ["examples"] = report.Count, ["accuracy"] = Round(report.Accuracy), ["macro_f1"] = Round(report.MacroF1),
            ["per_class"] = report.PerClass.Select(c => new Dictionary<string, object>
            {
                ["label"] = c.Label, ["precision"] = Round(c.Precision), ["recall"] = Round(c.Recall), ["f1"] = Round(c.F1), ["support"] = c.Support,
            }).ToList(),
        };
    }

    static Dictionary<string, object> EvalNer(string folder, string path, int take, PipelineSettings settings, ProgressReporter progress)
    {
        var report = Evaluation.Entities(TokenClassificationPipeline.Load(folder, settings), ConllReader.Read(path).Take(take), n => progress.Advance(n));
        return new Dictionary<string, object>
        {
            ["task"] = "ner", ["sentences"] = report.Sentences, ["entities"] = report.GoldEntities,
            ["precision"] = Round(report.Precision), ["recall"] = Round(report.Recall), ["f1"] = Round(report.F1), ["token_accuracy"] = Round(report.TokenAccuracy),
            ["per_type"] = report.PerType.Select(c => new Dictionary<string, object>
            {
                ["type"] = c.Label, ["precision"] = Round(c.Precision), ["recall"] = Round(c.Recall), ["f1"] = Round(c.F1), ["support"] = c.Support,
            }).ToList(),
        };
    }

    static Dictionary<string, object> EvalQa(string folder, string path, int take, PipelineSettings settings, ProgressReporter progress)
    {
        var report = Evaluation.Squad(QuestionAnsweringPipeline.Load(folder, settings), SquadReader.Read(path).Take(take), progress: n => progress.Advance(n));
        return new Dictionary<string, object>
        {
            ["task"] = "qa", ["questions"] = report.Count, ["exact_match"] = Round(report.ExactMatch), ["f1"] = Round(report.F1),
        };
    }

    static double Round(double value) => Math.Round(value, 4);

    static void Print(Dictionary<string, object> scores)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (key, value) in scores)
            if (value is not System.Collections.IEnumerable || value is string)
                table.AddRow(Markup.Escape(key), Markup.Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        AnsiConsole.Write(table);
        foreach (var (key, value) in scores)
        {
            if (value is not List<Dictionary<string, object>> rows || rows.Count == 0) continue;
            var detail = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(key));
            foreach (var column in rows[0].Keys) detail.AddColumn(Markup.Escape(column));
            foreach (var row in rows)
                detail.AddRow(row.Values.Select(v => Markup.Escape(Convert.ToString(v, CultureInfo.InvariantCulture) ?? "")).ToArray());
            AnsiConsole.Write(detail);
        }
    }
}
