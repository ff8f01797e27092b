namespace DistilBert.Tokenization;

/// <summary>The special tokens of a BERT vocabulary (their text; ids come from the vocabulary).</summary>
public sealed record SpecialTokens
{
    /// <summary>The unknown token.</summary>
    public string Unk { get; init; } = "[UNK]";
    /// <summary>The separator token.</summary>
    public string Sep { get; init; } = "[SEP]";
    /// <summary>The padding token.</summary>
    public string Pad { get; init; } = "[PAD]";
    /// <summary>The classification token, first in every sequence.</summary>
    public string Cls { get; init; } = "[CLS]";
    /// <summary>The mask token of masked language modelling.</summary>
    public string Mask { get; init; } = "[MASK]";

    /// <summary>In HF's order (unk, sep, pad, cls, mask).</summary>
    public IEnumerable<string> All => [Unk, Sep, Pad, Cls, Mask];
}

/// <summary>
/// Token ↔ id maps of a WordPiece vocabulary. Lookups by <see cref="ReadOnlySpan{T}"/> do not allocate; continuation
/// pieces (<c>##ing</c>) are also indexed without their prefix so WordPiece looks up a slice of the word directly.
/// </summary>
public sealed class Vocabulary
{
    readonly string[] tokens;
    readonly Dictionary<string, int> byToken;
    readonly SpanTable byTokenSpan;
    readonly SpanTable byContinuationSpan;

    /// <summary>Builds a vocabulary from tokens in id order. Refuses duplicates and missing special tokens.</summary>
    /// <param name="tokens">Token of each id, id = index.</param>
    /// <param name="specialTokens">The special tokens; unk, cls, sep must be present (pad and mask are optional).</param>
    /// <param name="continuingSubwordPrefix">WordPiece's continuation prefix.</param>
    /// <param name="source">File (or description) named in error messages.</param>
    public Vocabulary(IReadOnlyList<string> tokens, SpecialTokens specialTokens, string continuingSubwordPrefix = "##",
        string? source = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(specialTokens);
        ArgumentNullException.ThrowIfNull(continuingSubwordPrefix);
        this.tokens = new string[tokens.Count];
        byToken = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        var continuation = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
        {
            var token = tokens[id] ?? throw new TokenizerFileException(source, $"token {id} is null");
            if (!byToken.TryAdd(token, id))
                throw new TokenizerFileException(source,
                    $"duplicate token '{token}' at id {id} (first at id {byToken[token]}); a vocabulary maps each token to one id");
            this.tokens[id] = token;
            if (continuingSubwordPrefix.Length > 0 && token.Length > continuingSubwordPrefix.Length
                && token.StartsWith(continuingSubwordPrefix, StringComparison.Ordinal))
                continuation[token[continuingSubwordPrefix.Length..]] = id;
            MaxTokenLength = Math.Max(MaxTokenLength, token.Length);
        }
        foreach (var piece in continuation.Keys) MaxContinuationLength = Math.Max(MaxContinuationLength, piece.Length);
        byTokenSpan = new SpanTable(byToken.Select(kv => (kv.Key, kv.Value)).ToArray());
        byContinuationSpan = new SpanTable(continuation.Select(kv => (kv.Key, kv.Value)).ToArray());

        Special = specialTokens;
        ContinuingSubwordPrefix = continuingSubwordPrefix;
        UnkId = Require(specialTokens.Unk, "unknown (unk)", source);
        ClsId = Require(specialTokens.Cls, "classifier (cls)", source);
        SepId = Require(specialTokens.Sep, "separator (sep)", source);
        PadId = TokenToId(specialTokens.Pad) ?? -1;
        MaskId = TokenToId(specialTokens.Mask) ?? -1;
    }

    int Require(string token, string role, string? source) => TokenToId(token) ??
        throw new TokenizerFileException(source, $"the vocabulary has no {role} token '{token}'");

    /// <summary>Number of tokens (ids are 0..Count-1).</summary>
    public int Count => tokens.Length;
    /// <summary>The special tokens' texts.</summary>
    public SpecialTokens Special { get; }
    /// <summary>The prefix of tokens that continue a word, <c>##</c> in BERT's vocabularies.</summary>
    public string ContinuingSubwordPrefix { get; }
    /// <summary>Id of the unknown token.</summary>
    public int UnkId { get; }
    /// <summary>Id of [CLS].</summary>
    public int ClsId { get; }
    /// <summary>Id of [SEP].</summary>
    public int SepId { get; }
    /// <summary>Id of the padding token, -1 when the vocabulary has none.</summary>
    public int PadId { get; }
    /// <summary>Id of the mask token, -1 when the vocabulary has none.</summary>
    public int MaskId { get; }

    /// <summary>Longest token in UTF-16 units; WordPiece never tries longer candidates.</summary>
    internal int MaxTokenLength { get; }
    /// <summary>Longest continuation piece without its prefix.</summary>
    internal int MaxContinuationLength { get; }

    /// <summary>The tokens in id order.</summary>
    public IReadOnlyList<string> Tokens => tokens;

    /// <summary>The id of <paramref name="token"/>, or null when the vocabulary does not have it.</summary>
    public int? TokenToId(string token) => byToken.TryGetValue(token, out var id) ? id : null;

    /// <summary>Looks up <paramref name="token"/> without allocating a string.</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => byTokenSpan.TryGetValue(token, out id);

    /// <summary>Id of <c>prefix + piece</c> (e.g. <c>##ing</c> for "ing"), without building the string.</summary>
    public bool TryGetContinuationId(ReadOnlySpan<char> piece, out int id) => byContinuationSpan.TryGetValue(piece, out id);

    /// <summary>
    /// The token with id <paramref name="id"/>; an id outside the vocabulary is an <see cref="InvalidInputException"/>.
    /// </summary>
    public string IdToToken(int id) => (uint)id < (uint)tokens.Length
        ? tokens[id]
        : throw new InvalidInputException($"token id {id} is outside the vocabulary (0..{tokens.Length - 1})");

    /// <summary>The ids of the special tokens present in the vocabulary.</summary>
    public IEnumerable<int> SpecialIds => new[] { UnkId, SepId, PadId, ClsId, MaskId }.Where(id => id >= 0).Distinct();
}
