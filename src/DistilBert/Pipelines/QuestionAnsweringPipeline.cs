using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>A question about a context.</summary>
public sealed record QuestionContext(string Question, string Context, long Input = 0);

/// <summary>The best answers to one question, best first.</summary>
public sealed record AnswerOutput(long Input, IReadOnlyList<AnswerResult> Answers);

/// <summary>Question-answering options, named and defaulted as HF's pipeline arguments.</summary>
public sealed record AnswerOptions
{
    /// <summary>Answers per question, best first.</summary>
    public int TopK { get; init; } = 1;
    /// <summary>Longest answer in tokens.</summary>
    public int MaxAnswerLength { get; init; } = 15;
    /// <summary>Tokens shared by consecutive context windows (HF's doc_stride; capped at half the window, as HF).</summary>
    public int DocStride { get; init; } = 128;
    /// <summary>Window length in tokens, question included (HF's max_seq_len, default min(384, model limit)).</summary>
    public int? MaxSequenceLength { get; init; }
    /// <summary>Allow the empty answer (SQuAD 2.0 models), scored by the [CLS] token.</summary>
    public bool HandleImpossibleAnswer { get; init; }
    /// <summary>Widen answers to whole words.</summary>
    public bool AlignToWords { get; init; } = true;
}

/// <summary>
/// Extractive question answering as transformers' QuestionAnsweringPipeline: the context is cut into windows
/// of max_seq_len tokens sharing doc_stride tokens, each window is [CLS] question [SEP] context-part [SEP], and the
/// best spans across windows are kept (<see cref="QuestionAnsweringDecoder"/>). Needs a *ForQuestionAnswering model.
/// </summary>
public sealed class QuestionAnsweringPipeline : TaskPipeline
{
    /// <summary>
    /// A pipeline over a loaded <paramref name="tokenizer"/> and question-answering <paramref name="model"/>.
    /// </summary>
    public QuestionAnsweringPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null)
        : base(tokenizer, model, settings) { }

    /// <summary>
    /// Loads the model and tokenizer in <paramref name="folder"/> (or a Hub repo id); the model must have a QA head.
    /// </summary>
    public static QuestionAnsweringPipeline Load(string folder, PipelineSettings? settings = null)
    {
        var (tokenizer, model) = LoadFolder(folder, "question answering", ModelHead.QuestionAnswering, settings);
        return new QuestionAnsweringPipeline(tokenizer, model, settings);
    }

    /// <summary>
    /// The best answers to <paramref name="question"/> in <paramref name="context"/>, best first; long contexts are cut
    /// into overlapping windows.
    /// </summary>
    public IReadOnlyList<AnswerResult> Predict(string question, string context, AnswerOptions? options = null) =>
        Predict([new QuestionContext(question, context, 1)], options).Single().Answers;

    /// <summary>The answers to each question, in input order.</summary>
    public IEnumerable<AnswerOutput> Predict(IEnumerable<QuestionContext> inputs, AnswerOptions? options = null)
    {
        options ??= new AnswerOptions();
        var encode = EncodeOptionsFor(options);
        return LengthBatcher.Run(inputs.Select(i => Prepare(i, encode)), p => p.Tokens, Settings.BatchSize, batch => RunBatch(batch, options),
            sequences: p => p.Windows.Length);
    }

    /// <summary>The answers to each question as questions arrive, in input order.</summary>
    public IAsyncEnumerable<AnswerOutput> PredictAsync(IAsyncEnumerable<QuestionContext> inputs, AnswerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new AnswerOptions();
        var encode = EncodeOptionsFor(options);
        return LengthBatcher.RunAsync(inputs.Select(i => Prepare(i, encode)), p => p.Tokens, Settings.BatchSize,
            batch => RunBatch(batch, options), sequences: p => p.Windows.Length, cancellationToken: cancellationToken);
    }

    EncodeOptions EncodeOptionsFor(AnswerOptions options)
    {
        int length = Math.Min(options.MaxSequenceLength ?? 384, MaxLength);
        if (options.MaxSequenceLength is { } requested && requested < 4)
            throw new InvalidInputException($"max_seq_len must be at least 4, got {requested}");
        if (options.DocStride < 0) throw new InvalidInputException($"doc_stride must not be negative, got {options.DocStride}");
        int stride = Math.Min(options.DocStride, length / 2);
        return new EncodeOptions
        {
            MaxLength = length, Truncation = TruncationStrategy.OnlySecond, Stride = stride, ReturnOverflowing = true, MaxWindows = Settings.MaxWindows,
        };
    }

    sealed record Prepared(long Input, string Context, EncodedText[] Windows)
    {
        public int Tokens => Windows.Sum(w => w.Length);
    }

    Prepared Prepare(QuestionContext input, EncodeOptions encode)
    {
        if (string.IsNullOrWhiteSpace(input.Question)) throw new InvalidInputException($"input {input.Input}: the question is empty");
        if (string.IsNullOrWhiteSpace(input.Context)) throw new InvalidInputException($"input {input.Input}: the context is empty");
        EncodedText? encoding;
        WordPieceTokenizer.WindowLimitExceeded exceeded;
        try { encoding = Tokenizer.EncodeWithinWindowLimit(input.Question, input.Context, encode, out exceeded); }
        catch (InvalidInputException e)
        {
            throw new InvalidInputException($"input {input.Input}: the question is too long for windows of {encode.MaxLength} tokens with stride {encode.Stride} ({e.Message})", e);
        }
        if (encoding is null) throw TooManyWindows(input.Input, "the context", exceeded);
        return new Prepared(input.Input, input.Context, Windows(encoding).ToArray());
    }

    AnswerOutput[] RunBatch(IReadOnlyList<Prepared> batch, AnswerOptions options)
    {
        var (output, starts) = Forward(batch.SelectMany(p => p.Windows).ToList());
        var startLogits = output["start_logits"]; // [tokens]
        var endLogits = output["end_logits"];
        var results = new AnswerOutput[batch.Count];
        int sequence = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var windows = new List<AnswerWindow>();
            foreach (var window in batch[b].Windows)
            {
                windows.Add(new AnswerWindow(Rows(startLogits, starts, sequence, 1), Rows(endLogits, starts, sequence, 1),
                    IsContext: window.SequenceIds.Select(s => s == 1).ToArray(), Offsets: window.Offsets, WordIds: window.WordIds));
                sequence++;
            }
            results[b] = new AnswerOutput(batch[b].Input, QuestionAnsweringDecoder.Decode(batch[b].Context, windows, options.TopK,
                options.MaxAnswerLength, options.HandleImpossibleAnswer, options.AlignToWords));
        }
        return results;
    }
}
