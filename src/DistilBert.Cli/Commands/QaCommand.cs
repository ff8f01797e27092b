using System.CommandLine;
using DistilBert.Cli.Input;
using DistilBert.Cli.Output;
using DistilBert.Data;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert qa</c>: answer spans from a context.</summary>
public static class QaCommand
{
    /// <summary>The <c>qa</c> command.</summary>
    public static Command Create()
    {
        var options = new PipelineOptions();
        var context = new Option<string?>("--context", "-c") { Description = "The context every question (text argument or input line) is asked about" };
        var contextFile = new Option<string?>("--context-file") { Description = "Read the context from a text file" };
        var contextColumn = new Option<string?>("--context-column") { Description = "Column or jsonl key of the context in --input (default: context)" };
        var topK = new Option<int>("--top-k") { Description = "Answers per question", DefaultValueFactory = _ => 1 };
        var maxAnswer = new Option<int>("--max-answer-len") { Description = "Longest answer in tokens", DefaultValueFactory = _ => 15 };
        var docStride = new Option<int>("--doc-stride") { Description = "Tokens shared by the windows of a long context", DefaultValueFactory = _ => 128 };
        var impossible = new Option<bool>("--handle-impossible-answer") { Description = "Let the empty answer compete (SQuAD 2.0 style models)" };
        var cmd = new Command("qa", "Answer questions from a context (needs a *ForQuestionAnswering model)");
        options.AddTo(cmd);
        foreach (var option in new Option[] { context, contextFile, contextColumn, topK, maxAnswer, docStride, impossible }) cmd.Options.Add(option);
        cmd.Options.Add(options.MaxWindows);
        CliAction.Set(cmd, parse =>
        {
            string? sharedContext = parse.GetValue(context);
            if (parse.GetValue(contextFile) is { } file)
            {
                if (sharedContext is not null) throw new InvalidInputException("give either --context or --context-file, not both");
                sharedContext = DataFile.ReadAllText(file);
            }
            var columns = new TextColumns(Text: parse.GetValue(options.Column) ?? "question", TextPair: parse.GetValue(contextColumn) ?? (sharedContext is null ? "context" : null));
            using var run = new PipelineRun(options, parse, sharedContext is null ? columns : columns with { TextPair = null }, unit: "questions",
                columnOptions: [contextColumn]);
            var answerOptions = new AnswerOptions
            {
                TopK = parse.GetValue(topK), MaxAnswerLength = parse.GetValue(maxAnswer), DocStride = parse.GetValue(docStride),
                HandleImpossibleAnswer = parse.GetValue(impossible),
            };
            var questions = run.Inputs.Examples.Select(e => new QuestionContext(e.Text,
                sharedContext ?? e.TextPair ?? throw new InvalidInputException($"input {e.Line}: no context (give --context, or a context column in --input)"), e.Line));

            var pipeline = QuestionAnsweringPipeline.Load(run.ModelPath, run.Settings);
            var table = new ResultTable(["#", "answer", "score", "start", "end"], run.Progress);
            foreach (var output in pipeline.Predict(questions, answerOptions))
            {
                if (run.Json) run.WriteJson(output.Answers);
                else
                    foreach (var a in output.Answers)
                        table.Add(output.Input.ToString(), a.Answer, ResultTable.Score(a.Score), a.Start.ToString(), a.End.ToString());
                run.Progress.Advance(1);
            }
            table.Flush();
            return 0;
        });
        return cmd;
    }
}
