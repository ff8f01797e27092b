using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace DistilBert.Tokenization;

/// <summary>Settings of BERT's normaliser (HF's <c>BertNormalizer</c> / <c>BasicTokenizer</c>).</summary>
public sealed record BertNormalizerSettings
{
    /// <summary>Delete control/format characters and turn whitespace into spaces.</summary>
    public bool CleanText { get; init; } = true;
    /// <summary>Put spaces around CJK ideographs so each becomes a word.</summary>
    public bool HandleChineseChars { get; init; } = true;
    /// <summary>NFD then drop non-spacing marks. Null: follow <see cref="Lowercase"/>, as HF does.</summary>
    public bool? StripAccents { get; init; }
    /// <summary>Lowercase every character.</summary>
    public bool Lowercase { get; init; } = true;

    internal bool ShouldStripAccents => StripAccents ?? Lowercase;
}

/// <summary>
/// BERT normalisation and pre-tokenisation as one per-character decision, following HF's Rust <c>BertNormalizer</c> +
/// <c>BertPreTokenizer</c>. Every step of that pipeline (clean-up, CJK spacing, NFD + drop Mn, lowercase, whitespace and
/// punctuation split) looks at one code point at a time, so the outcome for a code point is computed once and cached.
/// </summary>
internal sealed class BertNormalizer
{
    internal enum Kind : byte
    {
        /// <summary>Deleted (control, format, U+FFFD, a lone accent): glues its neighbours together.</summary>
        Removed,
        /// <summary>Ends the current word.</summary>
        Whitespace,
        /// <summary>Adds <see cref="Entry.Text"/> to the current word; characters flagged in PunctuationMask stand alone.</summary>
        Text,
        /// <summary>A CJK ideograph: a word of its own.</summary>
        Isolated,
    }

    /// <summary>What one input code point becomes. PunctuationMask bit i: Text[i] is punctuation (a word of its own).</summary>
    internal sealed record Entry(Kind Kind, string Text, ulong PunctuationMask);

    public BertNormalizerSettings Settings { get; }

    // ASCII is decided by two tables: what the character is, and what it becomes.
    internal const byte AsciiWord = 0, AsciiSpace = 1, AsciiPunct = 2, AsciiRemoved = 3;
    internal readonly byte[] AsciiKind = new byte[128];
    internal readonly char[] AsciiMap = new char[128];

    readonly Entry?[] bmp = new Entry?[65536];
    readonly ConcurrentDictionary<int, Entry> astral = new();

    public BertNormalizer(BertNormalizerSettings settings)
    {
        Settings = settings;
        for (int c = 0; c < 128; c++)
        {
            AsciiMap[c] = settings.Lowercase ? char.ToLowerInvariant((char)c) : (char)c;
            AsciiKind[c] =
                c is '\t' or '\n' or '\r' or ' ' ? AsciiSpace
                : char.IsWhiteSpace((char)c) ? (settings.CleanText ? AsciiRemoved : AsciiSpace) // \v \f: controls first
                : settings.CleanText && (c == 0 || char.IsControl((char)c)) ? AsciiRemoved
                : IsAsciiPunctuation(c) ? AsciiPunct
                : AsciiWord;
        }
    }

    /// <summary>The decision for a non-ASCII code point (thread-safe; racing writers store equal values).</summary>
    public Entry Get(int codePoint)
    {
        if (codePoint < 65536) return bmp[codePoint] ??= Compute(codePoint);
        return astral.TryGetValue(codePoint, out var e) ? e : astral.GetOrAdd(codePoint, Compute(codePoint));
    }

    Entry Compute(int codePoint)
    {
        var category = RustCategory(codePoint);
        bool whitespace = codePoint is '\t' or '\n' or '\r' || (IsScalar(codePoint) && Rune.IsWhiteSpace(new Rune(codePoint)));
        if (Settings.CleanText)
        {
            // Rust's is_other() covers Cc Cf Co Cs; unassigned (Cn) code points are kept.
            if (codePoint is 0 or 0xFFFD || codePoint is not ('\t' or '\n' or '\r') && category is UnicodeCategory.Control
                    or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate)
                return new Entry(Kind.Removed, "", 0);
        }
        if (whitespace) return new Entry(Kind.Whitespace, " ", 0);
        if (!IsScalar(codePoint)) return new Entry(Kind.Text, ((char)codePoint).ToString(), 0); // only without clean-up

        bool isolated = Settings.HandleChineseChars && IsChineseChar(codePoint);
        string text = char.ConvertFromUtf32(codePoint);
        if (Settings.ShouldStripAccents)
        {
            var decomposedBuilder = new StringBuilder();
            CanonicalDecomposition.Decompose(codePoint, decomposedBuilder);
            var decomposed = decomposedBuilder.ToString();
            var kept = new StringBuilder(decomposed.Length);
            foreach (var rune in decomposed.EnumerateRunes())
                if (RustCategory(rune.Value) != UnicodeCategory.NonSpacingMark) kept.Append(rune.ToString());
            text = kept.ToString();
        }
        if (Settings.Lowercase) text = Lowercase(text);
        if (text.Length == 0) return new Entry(Kind.Removed, "", 0);

        ulong punctuation = 0;
        int i = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsBertPunctuation(rune.Value))
                for (int k = 0; k < rune.Utf16SequenceLength; k++) punctuation |= 1UL << Math.Min(63, i + k);
            i += rune.Utf16SequenceLength;
        }
        return new Entry(isolated ? Kind.Isolated : Kind.Text, text, punctuation);
    }

    /// <summary>Per-character full lowercase mapping, like Rust's <c>char::to_lowercase</c>.</summary>
    static string Lowercase(string text)
    {
        var sb = new StringBuilder(text.Length + 1);
        foreach (var rune in text.EnumerateRunes())
        {
            // The only unconditional multi-character lowercase mapping (SpecialCasing.txt); .NET applies simple mappings.
            if (rune.Value == 0x130) sb.Append("i\u0307");
            else sb.Append(Rune.ToLowerInvariant(rune).ToString());
        }
        return sb.ToString();
    }

    static bool IsScalar(int codePoint) => Rune.IsValid(codePoint);

    /// <summary>The category HF's Rust tokenizers see: code points assigned after Unicode 9.0 count as unassigned.</summary>
    internal static UnicodeCategory RustCategory(int codePoint)
    {
        if (codePoint is >= 0xD800 and <= 0xDFFF) return UnicodeCategory.Surrogate;
        if (!Unicode9Assigned.Contains(codePoint)) return UnicodeCategory.OtherNotAssigned;
        return CharUnicodeInfo.GetUnicodeCategory(codePoint);
    }

    /// <summary>BERT's punctuation: all ASCII non-alphanumeric symbols plus Unicode P*.</summary>
    internal static bool IsBertPunctuation(int codePoint)
    {
        if (codePoint < 128) return IsAsciiPunctuation(codePoint);
        return RustCategory(codePoint) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    static bool IsAsciiPunctuation(int c) => c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126;

    /// <summary>The CJK blocks HF's Rust BertNormalizer spaces out (its list starts the 0x2B820 block at 0x2B920).</summary>
    internal static bool IsChineseChar(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
