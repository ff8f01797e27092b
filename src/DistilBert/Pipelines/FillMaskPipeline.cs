using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Pipelines;

/// <summary>The proposals for each [MASK] of one input, in the order the masks appear.</summary>
public sealed record FillMaskOutput(long Input, IReadOnlyList<IReadOnlyList<FillMaskResult>> Masks);

/// <summary>
/// Fill-mask as transformers' FillMaskPipeline: for every [MASK], the top-k tokens with their probability, token
/// id, token text and the input with the mask replaced (special tokens skipped when there is a single mask).
/// Needs a *ForMaskedLM model. The model computes vocabulary logits only at the [MASK] rows
/// (<see cref="Modeling.ForwardOptions.LogitPositions"/>), not at every token.
/// </summary>
public sealed class FillMaskPipeline : TaskPipeline
{
    /// <summary>A pipeline over a loaded <paramref name="tokenizer"/> and masked-LM <paramref name="model"/>.</summary>
    public FillMaskPipeline(WordPieceTokenizer tokenizer, Modeling.TransformerModel model, PipelineSettings? settings = null)
        : base(tokenizer, model, settings)
    {
        if (!model.SupportsLogitPositions)
            throw new InvalidInputException($"fill-mask needs a *ForMaskedLM model; got {model.ArchitectureName}");
    }

    /// <summary>
    /// Loads the model and tokenizer in <paramref name="folder"/> (or a Hub repo id); the model must have a masked-LM
    /// head.
    /// </summary>
    public static FillMaskPipeline Load(string folder, PipelineSettings? settings = null)
    {
        var (tokenizer, model) = LoadFolder(folder, "fill-mask", ModelHead.MaskedLM, settings);
        return new FillMaskPipeline(tokenizer, model, settings);
    }

    /// <summary>Proposals for each [MASK] of <paramref name="text"/>.</summary>
    public IReadOnlyList<IReadOnlyList<FillMaskResult>> Predict(string text, int topK = 5, IReadOnlyList<string>? targets = null) =>
        Predict([text], topK, targets).Single().Masks;

    /// <summary>
    /// The best tokens for the [MASK] of each text, in input order: <paramref name="topK"/> each, or scored over
    /// <paramref name="targets"/> only.
    /// </summary>
    public IEnumerable<FillMaskOutput> Predict(IEnumerable<string> texts, int topK = 5, IReadOnlyList<string>? targets = null)
    {
        var targetIds = ResolveTargets(targets);
        return LengthBatcher.Run(Prepare(texts), p => p.Encoding.Length, Settings.BatchSize, batch => RunBatch(batch, topK, targetIds));
    }

    /// <summary>The best tokens for the [MASK] of each text as texts arrive, in input order.</summary>
    public IAsyncEnumerable<FillMaskOutput> PredictAsync(IAsyncEnumerable<string> texts, int topK = 5, IReadOnlyList<string>? targets = null,
        CancellationToken cancellationToken = default)
    {
        var targetIds = ResolveTargets(targets);
        return LengthBatcher.RunAsync(PrepareAsync(texts, cancellationToken), p => p.Encoding.Length, Settings.BatchSize,
            batch => RunBatch(batch, topK, targetIds), cancellationToken: cancellationToken);
    }

    sealed record Prepared(long Input, EncodedText Encoding, int[] MaskPositions);

    IEnumerable<Prepared> Prepare(IEnumerable<string> texts)
    {
        long number = 0;
        foreach (var text in texts) yield return PrepareOne(++number, text);
    }

    async IAsyncEnumerable<Prepared> PrepareAsync(IAsyncEnumerable<string> texts, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long number = 0;
        await foreach (var text in texts.WithCancellation(cancellationToken)) yield return PrepareOne(++number, text);
    }

    Prepared PrepareOne(long number, string text)
    {
        var encoding = Tokenizer.Encode(text, null, Truncating);
        var masks = Enumerable.Range(0, encoding.Length).Where(i => encoding.Ids[i] == Tokenizer.MaskId).ToArray();
        // The mask token is matched in the raw text, so a truncated text holds one past the cut exactly when it contains it.
        if (masks.Length == 0)
            throw new InvalidInputException(encoding.Truncated && text.Contains(Tokenizer.Vocab.Special.Mask, StringComparison.Ordinal)
                ? $"input {number}: its {Tokenizer.Vocab.Special.Mask} token lies beyond the first {MaxLength} tokens"
                : $"input {number}: no {Tokenizer.Vocab.Special.Mask} token in \"{Shorten(text)}\"");
        // Warned only now: an input refused above needs its error, not a truncation warning before it.
        if (encoding.Truncated) WarnTruncated(number);
        return new Prepared(number, encoding, masks);
    }

    static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    FillMaskOutput[] RunBatch(IReadOnlyList<Prepared> batch, int topK, int[]? targetIds)
    {
        // the [MASK] rows of the ragged batch, in order: logits come back as [masks, vocab]
        var maskRows = new List<int>();
        int sequenceStart = 0;
        foreach (var prepared in batch)
        {
            foreach (int position in prepared.MaskPositions) maskRows.Add(sequenceStart + position);
            sequenceStart += prepared.Encoding.Length;
        }
        var (output, _) = Forward(batch.Select(p => p.Encoding).ToList(), new Modeling.ForwardOptions { LogitPositions = maskRows.ToArray() });
        var logits = output["logits"];
        int vocab = logits.Shape[^1];
        int maskRow = 0;
        var results = new FillMaskOutput[batch.Count];
        for (int b = 0; b < batch.Count; b++)
        {
            var prepared = batch[b];
            bool singleMask = prepared.MaskPositions.Length == 1;
            var perMask = new List<IReadOnlyList<FillMaskResult>>(prepared.MaskPositions.Length);
            foreach (int position in prepared.MaskPositions)
            {
                var row = logits.Data.AsSpan(maskRow++ * vocab, vocab);
                var proposals = new List<FillMaskResult>();
                foreach (var candidate in FillMaskDecoder.TopK(row, topK, targetIds))
                {
                    var ids = (int[])prepared.Encoding.Ids.Clone();
                    ids[position] = candidate.Token;
                    var sequence = Tokenizer.Decode(ids.Where(id => id != Tokenizer.PadId).ToArray(), skipSpecialTokens: singleMask);
                    proposals.Add(new FillMaskResult(candidate.Score, candidate.Token, Tokenizer.Decode([candidate.Token]), sequence));
                }
                perMask.Add(proposals);
            }
            results[b] = new FillMaskOutput(prepared.Input, perMask);
        }
        return results;
    }

    /// <summary>
    /// Target words to vocabulary ids as HF: a word not in the vocabulary is tokenised and its first token used
    /// (with a warning); duplicates are dropped.
    /// </summary>
    int[]? ResolveTargets(IReadOnlyList<string>? targets)
    {
        if (targets is null) return null;
        var ids = new List<int>();
        foreach (var target in targets)
        {
            if (Tokenizer.TokenToId(target) is { } id) { if (!ids.Contains(id)) ids.Add(id); continue; }
            var pieces = Tokenizer.Encode(target, null, new EncodeOptions { AddSpecialTokens = false });
            if (pieces.Length == 0) { Warn($"target \"{target}\" gives no token; ignored"); continue; }
            Warn($"target \"{target}\" is not in the vocabulary; using its first token \"{pieces.Tokens[0]}\"");
            if (!ids.Contains(pieces.Ids[0])) ids.Add(pieces.Ids[0]);
        }
        if (ids.Count == 0) throw new InvalidInputException("none of the target words gives a token");
        return ids.ToArray();
    }
}
