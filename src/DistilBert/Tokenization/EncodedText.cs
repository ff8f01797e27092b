namespace DistilBert.Tokenization;

/// <summary>
/// One encoded text (or pair), as HF's <c>BatchEncoding</c> row / Rust <c>Encoding</c>. All arrays have <see cref="Length"/>
/// entries. Offsets are UTF-16 indices [Start, End) into the text (or pair text, see <see cref="SequenceIds"/>);
/// special and padding tokens have (0, 0), word id -1 and sequence id -1.
/// </summary>
public sealed class EncodedText
{
    /// <summary>Token ids, special tokens included.</summary>
    public required int[] Ids { get; init; }
    /// <summary>Token type ids: 0 for the first text, 1 for the second of a pair.</summary>
    public required int[] TypeIds { get; init; }
    /// <summary>1 on real tokens, 0 on padding.</summary>
    public required int[] AttentionMask { get; init; }
    /// <summary>1 for tokens added by the template and for padding, 0 for tokens of the texts.</summary>
    public required int[] SpecialTokensMask { get; init; }
    /// <summary>Index of the pre-tokenised word each token comes from (counted per sequence), -1 for special tokens.</summary>
    public required int[] WordIds { get; init; }
    /// <summary>0 (text) or 1 (pair) for tokens of the texts, -1 for special and padding tokens.</summary>
    public required int[] SequenceIds { get; init; }
    /// <summary>
    /// Each token's (start, end) in its text, in UTF-16 characters; (0, 0) for special tokens and padding.
    /// </summary>
    public required (int Start, int End)[] Offsets { get; init; }
    /// <summary>The token strings (references into the vocabulary).</summary>
    public required string[] Tokens { get; init; }
    /// <summary>The extra windows cut off by truncation when <see cref="EncodeOptions.ReturnOverflowing"/> is set.</summary>
    public IReadOnlyList<EncodedText> Overflowing { get; init; } = [];
    /// <summary>
    /// Whether truncation cut tokens off the text(s), that is, this window does not hold all of them (with or without
    /// <see cref="EncodeOptions.ReturnOverflowing"/>; not part of HF's encoding).
    /// </summary>
    public bool Truncated { get; init; }

    /// <summary>Tokens in the encoding.</summary>
    public int Length => Ids.Length;
}
