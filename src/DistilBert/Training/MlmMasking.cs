namespace DistilBert.Training;

/// <summary>Settings of DistilBERT's dynamic masking (distiller.py's prepare_batch_mlm).</summary>
public sealed record MlmMaskingOptions
{
    /// <summary>Fraction of real tokens chosen as prediction targets in each batch.</summary>
    public double MaskProportion { get; init; } = 0.15;
    /// <summary>Of the targets: replaced by [MASK], kept, replaced by a random token.</summary>
    public double ProbMask { get; init; } = 0.8;
    public double ProbKeep { get; init; } = 0.1;
    public double ProbRandom { get; init; } = 0.1;
    /// <summary>Token-count smoothing exponent: a token is chosen with weight max(count, 1)^−smoothing (rarer → more often).</summary>
    public double Smoothing { get; init; } = 0.7;
}

/// <summary>
/// Dynamic MLM masking with token-frequency smoothing: targets are drawn without replacement with weight
/// count^−0.7 (0 for special tokens), ⌈15 %⌉ of the batch's real tokens; each target becomes [MASK] (80 %), stays
/// (10 %) or becomes a random token (10 %). Labels hold the original id at targets and −100 elsewhere.
/// Deterministic for a given <see cref="Random"/> state.
/// </summary>
public sealed class MlmMasking
{
    readonly double[] _tokenWeights;
    readonly int _maskTokenId;
    readonly MlmMaskingOptions _options;

    /// <param name="tokenCounts">[vocab] occurrences of each token id in the corpus</param>
    /// <param name="specialTokenIds">ids never masked ([CLS], [SEP], [PAD], [MASK], [UNK] as the caller decides)</param>
    public MlmMasking(ReadOnlySpan<long> tokenCounts, IEnumerable<int> specialTokenIds, int maskTokenId, MlmMaskingOptions? options = null)
    {
        _options = options ?? new MlmMaskingOptions();
        if (_options.MaskProportion is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), "MaskProportion must be in [0, 1]");
        double total = _options.ProbMask + _options.ProbKeep + _options.ProbRandom;
        if (Math.Abs(total - 1) > 1e-9) throw new ArgumentOutOfRangeException(nameof(options), $"mask/keep/random probabilities sum to {total}, not 1");
        _tokenWeights = new double[tokenCounts.Length];
        for (int i = 0; i < tokenCounts.Length; i++) _tokenWeights[i] = Math.Pow(Math.Max(tokenCounts[i], 1), -_options.Smoothing);
        foreach (var id in specialTokenIds)
            if (id >= 0 && id < _tokenWeights.Length) _tokenWeights[id] = 0;
        if (maskTokenId < 0 || maskTokenId >= tokenCounts.Length) throw new ArgumentOutOfRangeException(nameof(maskTokenId));
        _maskTokenId = maskTokenId;
    }

    public int VocabSize => _tokenWeights.Length;

    /// <summary>Masks <paramref name="tokenIds"/> in place and writes the labels.</summary>
    /// <param name="tokenIds">[positions] of the batch (ragged or padded)</param>
    /// <param name="isReal">[positions]: false for padding, which is never chosen</param>
    /// <param name="labels">[positions] output: original id at targets, −100 elsewhere</param>
    /// <returns>the number of targets</returns>
    public int Apply(Span<int> tokenIds, ReadOnlySpan<bool> isReal, Span<int> labels, Random random)
    {
        if (isReal.Length != tokenIds.Length || labels.Length != tokenIds.Length)
            throw new ArgumentException("tokenIds, isReal and labels must have the same length");
        int realTokens = 0;
        for (int i = 0; i < tokenIds.Length; i++) if (isReal[i]) realTokens++;
        int targets = (int)Math.Ceiling(_options.MaskProportion * realTokens);

        // Weighted sampling without replacement (Efraimidis–Spirakis): keep the largest keys u^(1/w).
        var keys = new List<(double Key, int Position)>(realTokens);
        for (int i = 0; i < tokenIds.Length; i++)
        {
            int id = tokenIds[i];
            if (id < 0 || id >= _tokenWeights.Length) throw new InvalidInputException($"token id {id} at position {i} is outside the vocabulary of {_tokenWeights.Length}");
            double w = isReal[i] ? _tokenWeights[id] : 0;
            if (w <= 0) continue;
            keys.Add((Math.Log(random.NextDouble()) / w, i));
        }
        keys.Sort((a, b) => b.Key.CompareTo(a.Key));
        targets = Math.Min(targets, keys.Count);

        labels.Fill(Modeling.Layers.CrossEntropyLoss.DefaultIgnoreIndex);
        for (int t = 0; t < targets; t++)
        {
            int pos = keys[t].Position;
            labels[pos] = tokenIds[pos];
            double r = random.NextDouble();
            if (r < _options.ProbMask) tokenIds[pos] = _maskTokenId;
            else if (r >= _options.ProbMask + _options.ProbKeep) tokenIds[pos] = random.Next(_tokenWeights.Length);
        }
        return targets;
    }
}
