namespace DistilBert.Tokenization;

/// <summary>How a text (pair) longer than <see cref="EncodeOptions.MaxLength"/> is cut, as HF's <c>truncation=</c>.</summary>
public enum TruncationStrategy
{
    /// <summary>No truncation: the encoding keeps every token.</summary>
    None,
    /// <summary>Cut the longer sequence first; as HF's fast tokenizer when both must be cut (the shorter keeps max/2).</summary>
    LongestFirst,
    /// <summary>Cut only the first sequence; refused when it is too short to make room.</summary>
    OnlyFirst,
    /// <summary>Cut only the second sequence (QA contexts); refused when it is too short to make room.</summary>
    OnlySecond,
}

/// <summary>Padding of encodings, as HF's <c>padding=</c>.</summary>
public enum PaddingStrategy
{
    /// <summary>No padding.</summary>
    None,
    /// <summary>Pad to the longest encoding of the batch (a single encoding is then unchanged).</summary>
    Longest,
    /// <summary>Pad to <see cref="EncodeOptions.MaxLength"/> (or the model's maximum length).</summary>
    MaxLength,
}

/// <summary>Which end of the sequence gets the padding (or loses tokens on truncation, HF's <c>truncation_side</c>).</summary>
public enum Side
{
    /// <summary>The end of the sequence.</summary>
    Right,
    /// <summary>The start of the sequence.</summary>
    Left,
}

/// <summary>Options of <see cref="WordPieceTokenizer.Encode(string, string?, EncodeOptions?)"/> and the batch API.</summary>
public sealed record EncodeOptions
{
    /// <summary>The defaults: special tokens added, no truncation, no padding.</summary>
    public static EncodeOptions Default { get; } = new();

    /// <summary>Add <c>[CLS]</c>/<c>[SEP]</c> (the template of the tokenizer). HF: <c>add_special_tokens</c>.</summary>
    public bool AddSpecialTokens { get; init; } = true;

    /// <summary>Maximum length in tokens, special tokens included. Null: the tokenizer's <see cref="WordPieceTokenizer.ModelMaxLength"/>.</summary>
    public int? MaxLength { get; init; }

    /// <summary>Truncation strategy; <see cref="TruncationStrategy.None"/> keeps every token.</summary>
    public TruncationStrategy Truncation { get; init; } = TruncationStrategy.None;

    /// <summary>Tokens of overlap between consecutive overflowing windows (HF's <c>stride</c>).</summary>
    public int Stride { get; init; }

    /// <summary>Keep the tokens cut by truncation as extra windows (HF's <c>return_overflowing_tokens</c>).</summary>
    public bool ReturnOverflowing { get; init; }

    /// <summary>
    /// The most windows (the truncated encoding and its overflowing ones) one input may give with
    /// <see cref="ReturnOverflowing"/>; an input needing more is refused with <see cref="InvalidInputException"/> before it
    /// is tokenized whole. Null: no limit (as HF). It bounds the time and memory one huge text can take.
    /// </summary>
    public int? MaxWindows { get; init; }

    /// <summary>Which end loses tokens when truncating.</summary>
    public Side TruncationSide { get; init; } = Side.Right;

    /// <summary>Padding strategy.</summary>
    public PaddingStrategy Padding { get; init; } = PaddingStrategy.None;

    /// <summary>Which end gets the padding.</summary>
    public Side PaddingSide { get; init; } = Side.Right;

    internal int ResolveMaxLength(int modelMaxLength) => MaxLength ?? modelMaxLength;
}
