using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DistilBert.Data;
using DistilBert.Tokenization;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert tokenize</c>: texts → WordPiece ids, as HF's fast BERT tokenizer. TEXT arguments are shown as a table
/// (or JSON with --json); lines from --input FILE or stdin (plain text, or JSON lines with "text"/"text_pair") are written
/// as one JSON line each, with a progress bar and a throughput summary on stderr.
/// </summary>
public static class TokenizeCommand
{
    const string EmbeddedVocab = "DistilBert.Cli.bert-base-uncased-vocab.txt";
    internal const int LinesPerBatch = 256;
    static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The <c>tokenize</c> command.</summary>
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "model folder, tokenizer.json or vocab.txt (default: embedded bert-base-uncased vocabulary)" };
        var vocab = new Option<string?>("--vocab") { Description = "a vocab.txt (same as --model FILE)" };
        var texts = new Argument<string[]>("text") { Arity = ArgumentArity.ZeroOrMore, Description = "texts to tokenize (shown as a table)" };
        var input = new Option<string?>("--input") { Description = "file of lines to tokenize, plain text or JSON {\"text\", \"text_pair\"}; - for stdin" };
        var pair = new Option<string?>("--pair") { Description = "second text of a pair, for every TEXT" };
        var maxLength = new Option<int?>("--max-length") { Description = "maximum tokens per sequence, special tokens included (implies truncation)" };
        var truncation = new Option<string?>("--truncation") { Description = "longest_first | only_first | only_second | none (default: longest_first with --max-length or --stride)" };
        var stride = new Option<int>("--stride") { Description = "overlap between overflowing windows; the windows are written as \"overflow\"" };
        var padding = new Option<string?>("--padding") { Description = "longest (per batch of 256 lines) | max_length" };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "do not add [CLS]/[SEP]" };
        var json = new Option<bool>("--json") { Description = "write JSON lines for TEXT arguments too" };
        var output = new Option<string?>("--output") { Description = "write the JSON lines to this file instead of stdout" };
        var command = new Command("tokenize", "Tokenize text with BERT's WordPiece (ids, tokens, offsets), exactly as Hugging Face's fast tokenizer.")
        {
            texts, model, vocab, input, pair, maxLength, truncation, stride, padding, noSpecial, json, output,
        };
        CliAction.Set(command, parse =>
        {
            if (parse.GetValue(model) is not null && parse.GetValue(vocab) is not null)
                throw new InvalidInputException("give either --model or --vocab, not both");
            var tokenizer = LoadTokenizer(parse.GetValue(model) ?? parse.GetValue(vocab));
            var options = BuildOptions(parse.GetValue(maxLength), parse.GetValue(truncation), parse.GetValue(stride),
                parse.GetValue(padding), !parse.GetValue(noSpecial));
            var arguments = parse.GetValue(texts) ?? [];
            var inputPath = parse.GetValue(input);
            if (arguments.Length > 0 && inputPath is not null)
                throw new InvalidInputException("give either TEXT arguments or --input, not both");
            if (arguments.Length > 0)
            {
                var pairText = parse.GetValue(pair);
                if (parse.GetValue(json) || parse.GetValue(output) is not null)
                    return WithOutput(parse.GetValue(output), writer =>
                    {
                        using var jsonWriter = new Utf8JsonWriter(writer, JsonOptions);
                        foreach (var text in arguments) WriteJsonLine(jsonWriter, writer, tokenizer.Encode(text, pairText, options), options);
                        return 0;
                    });
                foreach (var text in arguments) ShowTable(tokenizer, text, pairText, options);
                return 0;
            }
            if (inputPath is null && !Console.IsInputRedirected)
                throw new InvalidInputException("nothing to tokenize: give TEXT arguments, --input FILE, or pipe lines on stdin");
            if (parse.GetValue(pair) is not null)
                throw new InvalidInputException("--pair applies to TEXT arguments; in --input files give \"text_pair\" in each JSON line");
            return WithOutput(parse.GetValue(output), writer => TokenizeLines(tokenizer, options, inputPath ?? "-", writer));
        });
        return command;
    }

    internal static WordPieceTokenizer LoadTokenizer(string? path)
    {
        if (path is not null) return WordPieceTokenizer.Load(path);
        using var stream = typeof(TokenizeCommand).Assembly.GetManifestResourceStream(EmbeddedVocab)
            ?? throw new InvalidOperationException("embedded vocabulary missing from the build");
        return WordPieceTokenizer.FromVocabStream(stream, source: "embedded bert-base-uncased vocab.txt");
    }

    internal static EncodeOptions BuildOptions(int? maxLength, string? truncation, int stride, string? padding, bool addSpecialTokens)
    {
        if (maxLength is < 1) throw new InvalidInputException($"--max-length {maxLength} must be at least 1");
        if (stride < 0) throw new InvalidInputException($"--stride {stride} must not be negative");
        var strategy = truncation switch
        {
            null => maxLength is not null || stride > 0 ? TruncationStrategy.LongestFirst : TruncationStrategy.None,
            "longest_first" => TruncationStrategy.LongestFirst,
            "only_first" => TruncationStrategy.OnlyFirst,
            "only_second" => TruncationStrategy.OnlySecond,
            "none" or "do_not_truncate" => TruncationStrategy.None,
            _ => throw new InvalidInputException($"--truncation '{truncation}' must be longest_first, only_first, only_second or none"),
        };
        var pad = padding switch
        {
            null => PaddingStrategy.None,
            "longest" => PaddingStrategy.Longest,
            "max_length" => PaddingStrategy.MaxLength,
            _ => throw new InvalidInputException($"--padding '{padding}' must be longest or max_length"),
        };
        if (stride > 0 && strategy == TruncationStrategy.None)
            throw new InvalidInputException("--stride needs truncation (--max-length and a --truncation other than none)");
        return new EncodeOptions
        {
            AddSpecialTokens = addSpecialTokens, MaxLength = maxLength, Truncation = strategy, Stride = stride,
            ReturnOverflowing = stride > 0, Padding = pad,
        };
    }

    static void ShowTable(WordPieceTokenizer tokenizer, string text, string? pair, EncodeOptions options)
    {
        var e = tokenizer.Encode(text, pair, options);
        var windows = new[] { e }.Concat(e.Overflowing).ToList();
        for (int w = 0; w < windows.Count; w++)
        {
            var enc = windows[w];
            var title = windows.Count > 1 ? $"window {w + 1} of {windows.Count}" : $"{enc.Length} tokens";
            var table = new Table().Title(Markup.Escape(title)).AddColumn("#").AddColumn("token").AddColumn("id")
                .AddColumn("type").AddColumn("offsets").AddColumn("text");
            for (int k = 0; k < enc.Length; k++)
            {
                var (start, end) = enc.Offsets[k];
                var source = enc.SequenceIds[k] == 1 ? pair! : text;
                var span = enc.SequenceIds[k] < 0 ? "" : source[start..end];
                table.AddRow(k.ToString(), Markup.Escape(enc.Tokens[k]), enc.Ids[k].ToString(), enc.TypeIds[k].ToString(),
                    enc.SequenceIds[k] < 0 ? "" : $"{start}..{end}", Markup.Escape(span));
            }
            AnsiConsole.Write(table);
        }
    }

    /// <summary>Runs <paramref name="write"/> on stdout, or on a file that appears only once it is complete: a bad input
    /// line that stops the command half-way leaves no partial file behind (nor the previous one damaged).</summary>
    static int WithOutput(string? path, Func<Stream, int> write)
    {
        if (path is null)
        {
            using var stdout = Console.OpenStandardOutput();
            return write(stdout);
        }
        int exitCode = 0;
        AtomicFile.Write(path, temporary =>
        {
            using var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            exitCode = write(file);
        });
        return exitCode;
    }

    /// <summary>Streams lines through the batch API, in blocks of <see cref="LinesPerBatch"/>, writing JSON lines in order.</summary>
    static int TokenizeLines(WordPieceTokenizer tokenizer, EncodeOptions options, string inputPath, Stream destination)
    {
        bool fromStdin = inputPath == "-";
        var displayName = fromStdin ? "stdin" : inputPath;
        using var inputStream = fromStdin ? Console.OpenStandardInput() : File.OpenRead(inputPath);
        long totalBytes = fromStdin ? 0 : inputStream.Length;
        using var reader = new StreamReader(new Utf8CheckingStream(inputStream, displayName), new UTF8Encoding(false),
            detectEncodingFromByteOrderMarks: true, 1 << 16);
        using var output = new BufferedStream(destination, 1 << 16);
        using var json = new Utf8JsonWriter(output, JsonOptions);
        var stderr = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

        var texts = new List<string>(LinesPerBatch);
        var pairs = new List<string?>(LinesPerBatch);
        var batch = new TokenizedBatch();
        long lines = 0, tokens = 0, bytes = 0, unknown = 0;
        var clock = Stopwatch.StartNew();

        void Flush()
        {
            if (texts.Count == 0) return;
            tokenizer.EncodeBatch(texts, pairs.Any(p => p is not null) ? pairs : null, options, batch);
            tokens += batch.TotalTokens;
            foreach (var id in batch.Ids) if (id == tokenizer.UnkId) unknown++;
            WriteBatch(json, output, batch, tokenizer, options);
            texts.Clear(); pairs.Clear();
        }

        void ReadAll(Action<long>? progress)
        {
            while (reader.ReadLine() is { } line)
            {
                lines++;
                bytes += Encoding.UTF8.GetByteCount(line) + 1;
                var (text, pair) = ParseLine(line, displayName, lines);
                texts.Add(text); pairs.Add(pair);
                if (texts.Count == LinesPerBatch) { Flush(); progress?.Invoke(bytes); }
            }
            Flush();
            progress?.Invoke(bytes);
        }

        if (!fromStdin && totalBytes > 0 && !Console.IsErrorRedirected)
            stderr.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                    new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(Path.GetFileName(inputPath)), maxValue: totalBytes);
                    ReadAll(done => task.Value = Math.Min(done, totalBytes));
                });
        else ReadAll(null);
        json.Flush();
        output.Flush();
        clock.Stop();

        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        Console.Error.WriteLine(
            $"{lines:N0} lines, {tokens:N0} tokens ({(lines > 0 ? (double)tokens / lines : 0):F1} per line, {unknown:N0} [UNK]), " +
            $"{bytes / 1e6:F2} MB in {seconds:F2} s = {bytes / 1e6 / seconds:F1} MB/s (reading and writing JSON included)");
        return 0;
    }

    internal static (string Text, string? Pair) ParseLine(string line, string file, long lineNumber)
    {
        if (!line.StartsWith('{')) return (line, null);
        JsonDocument document;
        try { document = JsonDocument.Parse(line); }
        catch (JsonException) { return (line, null); } // a plain line that happens to start with '{'
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new DataFileException(file, lineNumber, "a JSON line needs a \"text\" string");
            string? pair = null;
            if (root.TryGetProperty("text_pair", out var p) && p.ValueKind != JsonValueKind.Null)
                pair = p.ValueKind == JsonValueKind.String ? p.GetString()
                    : throw new DataFileException(file, lineNumber, "\"text_pair\" must be a string or null");
            return (text.GetString()!, pair);
        }
    }

    static void WriteBatch(Utf8JsonWriter json, Stream output, TokenizedBatch batch, WordPieceTokenizer tokenizer, EncodeOptions options)
    {
        int padTo = options.Padding switch
        {
            PaddingStrategy.MaxLength => tokenizer.MaxLengthFor(options) ?? 0,
            PaddingStrategy.Longest => batch.MaxSequenceLength,
            _ => 0,
        };
        for (int i = 0; i < batch.Count;)
        {
            // One JSON line per input: its main window, then its overflowing windows.
            int sample = batch.SampleIndex[i];
            json.Reset(output);
            json.WriteStartObject();
            WriteSequence(json, batch, i, tokenizer, padTo);
            int next = i + 1;
            if (options.ReturnOverflowing)
            {
                json.WriteStartArray("overflow");
                for (; next < batch.Count && batch.SampleIndex[next] == sample; next++)
                {
                    json.WriteStartObject();
                    WriteSequence(json, batch, next, tokenizer, padTo);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
            json.Flush();
            output.WriteByte((byte)'\n');
            i = next;
        }
    }

    static void WriteSequence(Utf8JsonWriter json, TokenizedBatch batch, int sequence, WordPieceTokenizer tokenizer, int padTo)
    {
        int start = batch.SequenceStarts[sequence], length = batch.Length(sequence), pad = Math.Max(0, padTo - length);
        var ids = batch.Ids.Slice(start, length);
        json.WriteStartArray("input_ids");
        foreach (var id in ids) json.WriteNumberValue(id);
        for (int k = 0; k < pad; k++) json.WriteNumberValue(tokenizer.PadId);
        json.WriteEndArray();
        json.WriteStartArray("token_type_ids");
        foreach (var t in batch.TypeIds.Slice(start, length)) json.WriteNumberValue(t);
        for (int k = 0; k < pad; k++) json.WriteNumberValue(0);
        json.WriteEndArray();
        json.WriteStartArray("attention_mask");
        for (int k = 0; k < length; k++) json.WriteNumberValue(1);
        for (int k = 0; k < pad; k++) json.WriteNumberValue(0);
        json.WriteEndArray();
        json.WriteStartArray("tokens");
        foreach (var id in ids) json.WriteStringValue(tokenizer.IdToToken(id));
        for (int k = 0; k < pad; k++) json.WriteStringValue(tokenizer.Vocab.Special.Pad);
        json.WriteEndArray();
        json.WriteStartArray("offsets");
        var starts = batch.OffsetStarts.Slice(start, length);
        var ends = batch.OffsetEnds.Slice(start, length);
        for (int k = 0; k < length + pad; k++)
        {
            json.WriteStartArray();
            json.WriteNumberValue(k < length ? starts[k] : 0);
            json.WriteNumberValue(k < length ? ends[k] : 0);
            json.WriteEndArray();
        }
        json.WriteEndArray();
    }

    static void WriteJsonLine(Utf8JsonWriter json, Stream output, EncodedText e, EncodeOptions options)
    {
        json.Reset(output);
        json.WriteStartObject();
        WriteEncoding(json, e);
        if (options.ReturnOverflowing)
        {
            json.WriteStartArray("overflow");
            foreach (var o in e.Overflowing) { json.WriteStartObject(); WriteEncoding(json, o); json.WriteEndObject(); }
            json.WriteEndArray();
        }
        json.WriteEndObject();
        json.Flush();
        output.WriteByte((byte)'\n');
        output.Flush();
    }

    static void WriteEncoding(Utf8JsonWriter json, EncodedText e)
    {
        void Ints(string name, int[] values)
        {
            json.WriteStartArray(name);
            foreach (var v in values) json.WriteNumberValue(v);
            json.WriteEndArray();
        }
        Ints("input_ids", e.Ids);
        Ints("token_type_ids", e.TypeIds);
        Ints("attention_mask", e.AttentionMask);
        json.WriteStartArray("tokens");
        foreach (var t in e.Tokens) json.WriteStringValue(t);
        json.WriteEndArray();
        json.WriteStartArray("offsets");
        foreach (var (start, end) in e.Offsets) { json.WriteStartArray(); json.WriteNumberValue(start); json.WriteNumberValue(end); json.WriteEndArray(); }
        json.WriteEndArray();
    }
}
