using System.CommandLine;
using DistilBert.Data;

namespace DistilBert.Cli.Input;

/// <summary>The options every task command shares (model, inputs, output format, batching), declared once.</summary>
/// <remarks>Thread-safety: not for concurrent use; built and configured while the command tree is made, then only read while parsing.</remarks>
public sealed class PipelineOptions
{
    /// <summary><c>--model</c>: a model folder or Hub repo id.</summary>
    public readonly Option<string> Model = new("--model", "-m") { Description = "Model folder (config.json, weights, vocab.txt or tokenizer.json) or Hub repo id", Required = true };
    /// <summary>The texts given on the command line.</summary>
    public readonly Argument<string[]> Texts = new("text") { Description = "Texts to process (else --input or stdin)", Arity = ArgumentArity.ZeroOrMore };
    /// <summary><c>--input</c>: a file of inputs, or '-' for stdin.</summary>
    public readonly Option<string?> Input = new("--input", "-i") { Description = "Read inputs from a file: .txt (one per line), .jsonl, .tsv, .csv (optionally .gz); '-' for stdin" };
    /// <summary><c>--column</c>: the column or JSON key holding the text.</summary>
    public readonly Option<string?> Column = new("--column") { Description = "Column (tsv/csv header name or 0-based index) or jsonl key holding the text" };
    /// <summary><c>--json</c>: one JSON line per input instead of a table.</summary>
    public readonly Option<bool> Json = new("--json") { Description = "Write one JSON line per input with Hugging Face's field names" };
    /// <summary><c>--batch-size</c>: inputs per forward pass.</summary>
    public readonly Option<int> BatchSize = new("--batch-size") { Description = "Inputs per forward pass", DefaultValueFactory = _ => 32 };
    /// <summary><c>--max-length</c>: tokens per sequence.</summary>
    public readonly Option<int?> MaxLength = new("--max-length") { Description = "Maximum tokens per sequence (default: the model's maximum, 512)" };
    /// <summary>Added only by the commands that cut long inputs into windows (qa, ner).</summary>
    public readonly Option<int?> MaxWindows = MaxWindowsOption();

    /// <summary>A new <c>--max-windows</c> option, for commands that cut long inputs into windows.</summary>
    public static Option<int?> MaxWindowsOption() => new("--max-windows")
    {
        Description = $"Most windows one long input may take (QA context, NER text); longer inputs are refused [default: {Pipelines.PipelineSettings.DefaultMaxWindows}]",
    };
    /// <summary>Added only by the batch-scoring commands (classify, ner, embed).</summary>
    public readonly Option<string?> Shard = new("--shard")
    {
        Description = "Score only shard I of N (0 <= I < N; contiguous rows of --input FILE, so the shards' --json outputs concatenated in order are the whole file's)",
    };
    /// <summary><c>--skip-bad-lines</c>: warn about malformed lines and go on.</summary>
    public readonly Option<bool> SkipBadLines = new("--skip-bad-lines") { Description = "Warn about malformed input lines and continue, instead of stopping" };
    /// <summary><c>--int8</c>: run the encoder's linear layers in int8 (see <see cref="Int8Option"/>); one of the shared options.</summary>
    public readonly Option<bool> Int8 = Int8Option();

    /// <summary>A new <c>--int8</c> option: quantise the model's encoder linear layers on load (a quantised folder is int8 without it).</summary>
    public static Option<bool> Int8Option() => new("--int8")
    {
        Description = "Run the encoder's linear layers in int8, quantising the model on load (docs/int8.md); a folder written by 'distilbert quantize' runs in int8 anyway",
    };

    Func<string>? defaultModel;

    /// <summary>Makes <c>--model</c> optional for this command: without it, <paramref name="path"/> (found when used).</summary>
    public void DefaultModelTo(string description, Func<string> path)
    {
        Model.Required = false;
        Model.Description += $" [default: {description}]";
        defaultModel = path;
    }

    /// <summary>The <c>--model</c> given, else the command's default model.</summary>
    public string GetModel(ParseResult parse) =>
        parse.GetValue(Model) ?? defaultModel?.Invoke() ?? throw new InvalidInputException("--model is required");

    /// <summary>Adds the shared options and the text argument to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Arguments.Add(Texts);
        foreach (var option in new Option[] { Model, Input, Column, Json, BatchSize, MaxLength, SkipBadLines, Int8 }) command.Options.Add(option);
    }

    /// <param name="columnOptions">The command's own column options besides <c>--column</c> (<c>--pair-column</c> ...).</param>
    /// <param name="parse">The parsed command line.</param>
    /// <param name="columns">The columns to read from a tsv, csv or jsonl input (default: <c>--column</c>'s).</param>
    public TextInputs OpenInputs(ParseResult parse, TextColumns? columns = null, IEnumerable<Option<string?>>? columnOptions = null)
    {
        var given = new[] { Column }.Concat(columnOptions ?? []).Where(o => parse.GetValue(o) is not null).Select(o => o.Name).ToList();
        var shard = parse.GetValue(Shard) is { } spec ? ShardSpec.Parse(spec) : (ShardSpec?)null;
        if (shard is not null && !parse.GetValue(Json))
            throw new InvalidInputException("--shard needs --json: JSON lines of shards concatenate into the whole input's output, tables do not");
        return TextInputs.Open(parse.GetValue(Texts), parse.GetValue(Input), columns ?? new TextColumns(Text: parse.GetValue(Column)),
            parse.GetValue(SkipBadLines), given, shard);
    }

    /// <summary>--max-windows, checked; the default limit when not given.</summary>
    public int GetMaxWindows(ParseResult parse) => GetMaxWindows(parse, MaxWindows);

    /// <summary>
    /// The value of <paramref name="option"/>, checked to be at least 1; the default limit when not given.
    /// </summary>
    public static int GetMaxWindows(ParseResult parse, Option<int?> option)
    {
        int windows = parse.GetValue(option) ?? Pipelines.PipelineSettings.DefaultMaxWindows;
        return windows >= 1 ? windows : throw new InvalidInputException($"--max-windows must be at least 1, got {windows}");
    }

    /// <summary><c>--batch-size</c>, checked to be at least 1.</summary>
    public int GetBatchSize(ParseResult parse)
    {
        int size = parse.GetValue(BatchSize);
        return size >= 1 ? size : throw new InvalidInputException($"--batch-size must be at least 1, got {size}");
    }
}
