using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>The entities (or labelled tokens) found in one input.</summary>
public sealed record TokenClassificationOutput(long Input, IReadOnlyList<TokenEntity> Entities);

/// <summary>
/// Token classification (NER) as transformers' TokenClassificationPipeline, with its aggregation strategies and
/// ignore_labels. A text longer than the model's limit runs in overlapping windows (<see cref="Stride"/> tokens
/// shared by neighbours) whose entities are merged, so nothing is cut. Needs a *ForTokenClassification model.
/// </summary>
public sealed class TokenClassificationPipeline : TaskPipeline
{
    readonly string[] labels;

    /// <summary>
    /// A pipeline over a loaded <paramref name="tokenizer"/> and token-classification <paramref name="model"/>.
    /// </summary>
    public TokenClassificationPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null, int? stride = null)
        : base(tokenizer, model, settings)
    {
        labels = model.Config.Id2Label.OrderBy(kv => kv.Key).Select(kv => kv.Value).ToArray();
        // Room for content in a window is MaxLength minus [CLS] and [SEP]; the overlap must leave some of it new.
        int room = MaxLength - 2;
        Stride = stride ?? Math.Min(128, room / 4);
        if (Stride < 0 || Stride >= room) throw new InvalidInputException($"stride must be in [0, {room - 1}] for max length {MaxLength}, got {Stride}");
    }

    /// <summary>
    /// Loads the model and tokenizer in <paramref name="folder"/> (or a Hub repo id); the model must have a token-
    /// classification head.
    /// </summary>
    public static TokenClassificationPipeline Load(string folder, PipelineSettings? settings = null, int? stride = null)
    {
        var (tokenizer, model) = LoadFolder(folder, "token classification", ModelHead.TokenClassification, settings);
        return new TokenClassificationPipeline(tokenizer, model, settings, stride);
    }

    /// <summary>The model's label names, by id.</summary>
    public IReadOnlyList<string> Labels => labels;
    /// <summary>Tokens shared by consecutive windows of a long text.</summary>
    public int Stride { get; }

    /// <summary>The entities of <paramref name="text"/>, in text order.</summary>
    public IReadOnlyList<TokenEntity> Predict(string text, AggregationStrategy strategy = AggregationStrategy.None, IReadOnlyList<string>? ignoreLabels = null) =>
        Predict([text], strategy, ignoreLabels).Single().Entities;

    /// <summary>The entities of each text, in input order.</summary>
    public IEnumerable<TokenClassificationOutput> Predict(IEnumerable<string> texts, AggregationStrategy strategy = AggregationStrategy.None,
        IReadOnlyList<string>? ignoreLabels = null) =>
        LengthBatcher.Run(texts.Select((t, i) => Prepare(i + 1, t)), p => p.Tokens, Settings.BatchSize, batch => RunBatch(batch, strategy, ignoreLabels),
            sequences: p => p.Windows.Length);

    /// <summary>The entities of each text as texts arrive, in input order.</summary>
    public IAsyncEnumerable<TokenClassificationOutput> PredictAsync(IAsyncEnumerable<string> texts, AggregationStrategy strategy = AggregationStrategy.None,
        IReadOnlyList<string>? ignoreLabels = null, CancellationToken cancellationToken = default) =>
        LengthBatcher.RunAsync(texts.Select((t, i) => Prepare(i + 1, t)), p => p.Tokens, Settings.BatchSize,
            batch => RunBatch(batch, strategy, ignoreLabels), sequences: p => p.Windows.Length, cancellationToken: cancellationToken);

    sealed record Prepared(long Input, string Text, EncodedText[] Windows)
    {
        public int Tokens => Windows.Sum(w => w.Length);
    }

    Prepared Prepare(long number, string text)
    {
        var encoding = Tokenizer.EncodeWithinWindowLimit(text, null, Windowed(TruncationStrategy.LongestFirst, Stride), out var exceeded)
            ?? throw TooManyWindows(number, "the text", exceeded);
        return new(number, text, Windows(encoding).ToArray());
    }

    TokenClassificationOutput[] RunBatch(IReadOnlyList<Prepared> batch, AggregationStrategy strategy, IReadOnlyList<string>? ignoreLabels)
    {
        // Every window of every text is one sequence of the forward pass.
        var sequences = batch.SelectMany(p => p.Windows).ToList();
        var (output, starts) = Forward(sequences);
        var logits = output["logits"]; // [tokens, labels]
        var results = new TokenClassificationOutput[batch.Count];
        int sequence = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var windows = new List<(float[] Logits, IReadOnlyList<TokenSpan> Tokens)>();
            foreach (var window in batch[b].Windows)
                windows.Add((Rows(logits, starts, sequence++, labels.Length), Spans(window)));
            results[b] = new TokenClassificationOutput(batch[b].Input,
                TokenClassificationDecoder.Decode(batch[b].Text, windows, labels, strategy, ignoreLabels));
        }
        return results;
    }

    TokenSpan[] Spans(EncodedText window)
    {
        var spans = new TokenSpan[window.Length];
        for (int i = 0; i < spans.Length; i++)
            spans[i] = new TokenSpan(window.Tokens[i], window.Offsets[i].Start, window.Offsets[i].End,
                IsSpecial: window.SpecialTokensMask[i] != 0, IsUnknown: window.Ids[i] == Tokenizer.UnkId);
        return spans;
    }

    /// <summary>
    /// Word-level tags for pre-tokenised words (CoNLL): the words are joined with spaces, every token labelled
    /// (nothing ignored), and each word takes its first token's label.
    /// </summary>
    public IEnumerable<string[]> PredictWordTags(IEnumerable<IReadOnlyList<string>> sentences)
    {
        var spans = new Queue<(int Start, int End)[]>();
        IEnumerable<string> Texts()
        {
            foreach (var words in sentences)
            {
                var (text, wordSpans) = WordTags.Join(words);
                spans.Enqueue(wordSpans);
                yield return text;
            }
        }
        // Results come back in input order, so the queue of spans lines up with them.
        foreach (var result in Predict(Texts(), AggregationStrategy.None, ignoreLabels: []))
            yield return WordTags.FromTokens(spans.Dequeue(), result.Entities);
    }
}
