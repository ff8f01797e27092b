using System.Buffers;

namespace DistilBert.Tokenization;

/// <summary>
/// BERT's WordPiece tokenizer, giving the ids and offsets of Hugging Face's fast (Rust) <c>BertTokenizerFast</c>:
/// special tokens written in the text are kept whole, then BERT normalisation (clean-up, CJK spacing, accents, lowercase),
/// whitespace/punctuation split and greedy longest-match-first WordPiece; the template adds [CLS]/[SEP].
/// Thread-safe: any number of threads may encode with one instance.
/// </summary>
public sealed partial class WordPieceTokenizer
{
    readonly BertNormalizer normalizer;
    readonly string[] splitTokens;        // written-in-text tokens kept whole, longest first
    readonly int[] splitTokenIds;
    readonly SearchValues<char> splitTokenFirstChars;
    readonly HashSet<int> specialIds;
    readonly int[] asciiTokenIds;         // id of each ASCII character as a one-char word ([UNK] if absent)

    /// <summary>Creates a tokenizer from its parts; the loaders (<see cref="FromFolder"/> ...) fill them from HF files.</summary>
    /// <param name="vocabulary">Token ids.</param>
    /// <param name="normalizer">BERT normaliser settings (null: bert-base-uncased's).</param>
    /// <param name="template">Special tokens around sequences (null: BERT's [CLS] A [SEP] B [SEP]).</param>
    /// <param name="modelMaxLength">Default max_length for truncation and padding.</param>
    /// <param name="maxInputCharsPerWord">Words longer than this (code points) become [UNK].</param>
    /// <param name="extraSpecialTokens">Added special tokens besides the five of the vocabulary (kept whole in text).</param>
    /// <param name="cleanUpTokenizationSpaces">Default of <see cref="Decode(ReadOnlySpan{int}, bool, bool?)"/>'s clean-up.</param>
    public WordPieceTokenizer(Vocabulary vocabulary, BertNormalizerSettings? normalizer = null, Template? template = null,
        int modelMaxLength = 512, int maxInputCharsPerWord = 100, IEnumerable<(string Token, int Id)>? extraSpecialTokens = null,
        bool cleanUpTokenizationSpaces = true)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (modelMaxLength < 1) throw new ArgumentOutOfRangeException(nameof(modelMaxLength), "must be at least 1");
        if (maxInputCharsPerWord < 1) throw new ArgumentOutOfRangeException(nameof(maxInputCharsPerWord), "must be at least 1");
        Vocab = vocabulary;
        Normalizer = normalizer ?? new BertNormalizerSettings();
        this.normalizer = new BertNormalizer(Normalizer);
        Template = template ?? Template.Bert(vocabulary.ClsId, vocabulary.SepId);
        ModelMaxLength = modelMaxLength;
        MaxInputCharsPerWord = maxInputCharsPerWord;
        CleanUpTokenizationSpaces = cleanUpTokenizationSpaces;

        ExtraSpecialTokens = (extraSpecialTokens ?? []).ToArray();
        var split = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in vocabulary.Special.All)
            if (token.Length > 0 && vocabulary.TokenToId(token) is int id) split.TryAdd(token, id);
        foreach (var (token, id) in ExtraSpecialTokens)
        {
            if ((uint)id >= (uint)vocabulary.Count)
                throw new ArgumentOutOfRangeException(nameof(extraSpecialTokens), $"special token '{token}' has id {id}, outside the vocabulary");
            if (token.Length > 0) split.TryAdd(token, id);
        }
        var ordered = split.OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToArray();
        splitTokens = ordered.Select(kv => kv.Key).ToArray();
        splitTokenIds = ordered.Select(kv => kv.Value).ToArray();
        splitTokenFirstChars = SearchValues.Create(splitTokens.Select(t => t[0]).Distinct().ToArray());
        specialIds = [.. vocabulary.SpecialIds, .. splitTokenIds];
        asciiTokenIds = new int[128];
        for (int c = 0; c < 128; c++)
            asciiTokenIds[c] = vocabulary.TokenToId(this.normalizer.AsciiMap[c].ToString()) ?? vocabulary.UnkId;
    }

    /// <summary>The vocabulary.</summary>
    public Vocabulary Vocab { get; }
    /// <summary>Text normalisation settings.</summary>
    public BertNormalizerSettings Normalizer { get; }
    /// <summary>Where special tokens go for single texts and pairs.</summary>
    public Template Template { get; }
    /// <summary>The model's maximum sequence length (HF's <c>model_max_length</c>), the default max_length.</summary>
    public int ModelMaxLength { get; }
    /// <summary>Words longer than this many characters become [UNK].</summary>
    public int MaxInputCharsPerWord { get; }
    /// <summary>Whether <c>Decode</c> removes spaces before punctuation by default.</summary>
    public bool CleanUpTokenizationSpaces { get; }
    internal IReadOnlyList<(string Token, int Id)> ExtraSpecialTokens { get; }

    /// <summary>Id of [CLS].</summary>
    public int ClsId => Vocab.ClsId;
    /// <summary>Id of [SEP].</summary>
    public int SepId => Vocab.SepId;
    /// <summary>Id of [PAD].</summary>
    public int PadId => Vocab.PadId;
    /// <summary>Id of [UNK].</summary>
    public int UnkId => Vocab.UnkId;
    /// <summary>Id of [MASK].</summary>
    public int MaskId => Vocab.MaskId;
    /// <summary>The id of <paramref name="token"/>, or null when the vocabulary does not have it.</summary>
    public int? TokenToId(string token) => Vocab.TokenToId(token);
    /// <summary>The token with id <paramref name="id"/>.</summary>
    public string IdToToken(int id) => Vocab.IdToToken(id);

    /// <summary>Per-thread buffers: encoding allocates nothing once they have grown to the largest input seen.</summary>
    internal sealed class Scratch
    {
        public char[] Word = new char[256];
        public char[] Lowered = [];
        public int[] WordStarts = new int[256];
        public int[] WordEnds = new int[256];
        public readonly TokenColumns First = new(), Second = new(), Output = new(), Counting = new();
        public bool Truncated;
        public readonly List<Window> Windows = [];
        public readonly List<(int From, int To)> WindowsA = [], WindowsB = [];
    }

    [ThreadStatic] static Scratch? threadScratch;
    internal static Scratch ThreadScratch => threadScratch ??= new Scratch();

    /// <summary>After a huge input, let the thread's buffers go rather than hold them for the thread's lifetime.</summary>
    static void ReleaseHugeScratch()
    {
        const int Limit = 1 << 20; // tokens
        if (threadScratch is { } s && (s.First.Ids.Length > Limit || s.Second.Ids.Length > Limit || s.Output.Ids.Length > Limit))
            threadScratch = null;
    }

    // ---------------------------------------------------------------- text → raw tokens

    /// <summary>The WordPiece tokens of <paramref name="text"/>, without special tokens (HF's <c>tokenize</c>).</summary>
    public string[] Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var raw = ThreadScratch.First;
        TokenizeInto(text, raw, ThreadScratch);
        var tokens = new string[raw.Count];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = Vocab.IdToToken(raw.Ids[i]);
        ReleaseHugeScratch();
        return tokens;
    }

    /// <summary>Raw tokens of one text into <paramref name="raw"/> (cleared first): ids, UTF-16 offsets, word ids.</summary>
    internal void TokenizeInto(string text, TokenColumns raw, Scratch scratch)
    {
        raw.Clear();
        TokenizeInto(text, 0, raw, scratch, int.MaxValue);
    }

    /// <summary>
    /// Appends the raw tokens of <paramref name="text"/> from char <paramref name="from"/> on, stopping at the first word
    /// boundary where <paramref name="raw"/> holds <paramref name="stopAfter"/> tokens or more. Tokens before a word
    /// boundary never depend on the text after it, so the tokens kept are those of the whole text, and tokenizing again
    /// from the returned position continues exactly (word ids then restart at 0).
    /// </summary>
    /// <returns>Where tokenizing stopped: <c>text.Length</c> when the whole text was read.</returns>
    internal int TokenizeInto(string text, int from, TokenColumns raw, Scratch scratch, int stopAfter)
    {
        int wordIndex = 0, position = from;
        var span = text.AsSpan();
        while (true)
        {
            int next = FindSplitToken(span, position, out int length, out int id);
            int stoppedAt = SplitWords(span, position, next < 0 ? span.Length : next, raw, scratch, ref wordIndex, stopAfter);
            if (stoppedAt >= 0) return stoppedAt;
            if (next < 0) return span.Length;
            if (raw.Count >= stopAfter) return next;
            raw.AddRaw(id, next, next + length, wordIndex++);
            position = next + length;
        }
    }

    /// <summary>Leftmost-longest match of a special token at or after <paramref name="from"/> (raw text, case-sensitive).</summary>
    int FindSplitToken(ReadOnlySpan<char> text, int from, out int length, out int id)
    {
        while (from < text.Length)
        {
            int at = text[from..].IndexOfAny(splitTokenFirstChars);
            if (at < 0) break;
            at += from;
            var rest = text[at..];
            for (int k = 0; k < splitTokens.Length; k++)
                if (rest.StartsWith(splitTokens[k], StringComparison.Ordinal))
                {
                    length = splitTokens[k].Length; id = splitTokenIds[k];
                    return at;
                }
            from = at + 1;
        }
        length = 0; id = -1;
        return -1;
    }

    /// <summary>
    /// Normalises and pre-tokenises text[start..end) into words, and WordPieces each word as it ends. A word is kept as
    /// normalised chars with, for each, the original UTF-16 range of the character it came from. Stops between words
    /// once <paramref name="raw"/> holds <paramref name="stopAfter"/> tokens.
    /// </summary>
    /// <returns>-1 when text[start..end) was read to the end, else the position where it stopped.</returns>
    int SplitWords(ReadOnlySpan<char> text, int start, int end, TokenColumns raw, Scratch s, ref int wordIndex, int stopAfter)
    {
        var asciiKind = normalizer.AsciiKind;
        var asciiMap = normalizer.AsciiMap;
        var asciiIds = asciiTokenIds;
        // Past this many chars the word is [UNK] anyway: stop storing, keep counting (a 10 MB word stays linear).
        int storeLimit = 2 * MaxInputCharsPerWord + 2;
        if (s.Word.Length < storeLimit + 64)
        {
            s.Word = new char[storeLimit + 64]; s.WordStarts = new int[storeLimit + 64]; s.WordEnds = new int[storeLimit + 64];
        }
        if (s.Lowered.Length < MaxInputCharsPerWord) s.Lowered = new char[MaxInputCharsPerWord];
        var word = s.Word; var starts = s.WordStarts; var ends = s.WordEnds;
        int length = 0, codePoints = 0, wordStart = 0, wordEnd = 0, words = wordIndex;

        int i = start;
        while (i < end)
        {
            if (raw.Count >= stopAfter && codePoints == 0)
            {
                wordIndex = words;
                return i;
            }
            char c = text[i];
            if (c < 128)
            {
                switch (asciiKind[c])
                {
                    case BertNormalizer.AsciiWord:
                    {
                        // Words are short: a table-driven scan beats a vectorised search here.
                        int runEnd = i + 1;
                        bool upper = (uint)(c - 'A') <= 'Z' - 'A';
                        while (runEnd < end && (c = text[runEnd]) < 128 && asciiKind[c] == BertNormalizer.AsciiWord)
                        {
                            upper |= (uint)(c - 'A') <= 'Z' - 'A';
                            runEnd++;
                        }
                        // Fast path, the common case: a whole ASCII word between spaces/punctuation maps one to one
                        // onto the text, so it is looked up in place (or lowercased into a buffer) with offsets by arithmetic.
                        if (codePoints == 0 && (runEnd == end || EndsWordBefore(text[runEnd])))
                        {
                            var run = text[i..runEnd];
                            if (run.Length > MaxInputCharsPerWord) raw.AddRaw(Vocab.UnkId, i, runEnd, words);
                            else
                            {
                                if (upper && Normalizer.Lowercase)
                                {
                                    System.Text.Ascii.ToLower(run, s.Lowered, out _);
                                    run = s.Lowered.AsSpan(0, run.Length);
                                }
                                WordPiece(run, i, null, null, raw, words);
                            }
                            words++;
                            i = runEnd;
                            continue;
                        }
                        // The run is part of a word that continues across removed or non-ASCII characters.
                        if (codePoints == 0) wordStart = i;
                        for (; i < runEnd; i++)
                        {
                            if (length < storeLimit) { word[length] = asciiMap[text[i]]; starts[length] = i; ends[length] = i + 1; length++; }
                            codePoints++;
                        }
                        wordEnd = runEnd;
                        continue;
                    }
                    case BertNormalizer.AsciiSpace:
                        EndWord(); i++; continue;
                    case BertNormalizer.AsciiPunct:
                        EndWord();
                        raw.AddRaw(asciiIds[c], i, i + 1, words++);
                        i++; continue;
                    default:
                        i++; continue; // removed control character
                }
            }

            int codePoint = c, width = 1;
            if (char.IsHighSurrogate(c) && i + 1 < end && char.IsLowSurrogate(text[i + 1]))
            {
                codePoint = char.ConvertToUtf32(c, text[i + 1]);
                width = 2;
            }
            var entry = normalizer.Get(codePoint);
            switch (entry.Kind)
            {
                case BertNormalizer.Kind.Whitespace: EndWord(); break;
                case BertNormalizer.Kind.Isolated:
                    EndWord(); Append(entry.Text, 0, i, i + width); EndWord(); break;
                case BertNormalizer.Kind.Text:
                    if (entry.PunctuationMask == 0) Append(entry.Text, 0, i, i + width);
                    else
                    {
                        var t = entry.Text;
                        for (int k = 0; k < t.Length; k++)
                        {
                            if ((entry.PunctuationMask >> Math.Min(k, 63) & 1) == 0) { Append(t, k, i, i + width, 1); continue; }
                            // A punctuation rune (1 or 2 chars) is a word of its own.
                            int runeLength = char.IsHighSurrogate(t[k]) && k + 1 < t.Length ? 2 : 1;
                            EndWord(); Append(t, k, i, i + width, runeLength); EndWord();
                            k += runeLength - 1;
                        }
                    }
                    break;
            }
            i += width;
        }
        EndWord();
        wordIndex = words;
        return -1;

        void Append(string t, int from, int originalStart, int originalEnd, int count = -1)
        {
            if (count < 0) count = t.Length - from;
            if (codePoints == 0) wordStart = originalStart;
            wordEnd = originalEnd;
            for (int k = from; k < from + count; k++)
            {
                char ch = t[k];
                if (length < storeLimit) { word[length] = ch; starts[length] = originalStart; ends[length] = originalEnd; length++; }
                if (!char.IsLowSurrogate(ch) || k == 0 || !char.IsHighSurrogate(t[k - 1])) codePoints++;
            }
        }

        void EndWord()
        {
            if (codePoints == 0) return;
            if (codePoints > MaxInputCharsPerWord) raw.AddRaw(Vocab.UnkId, wordStart, wordEnd, words);
            else WordPiece(word.AsSpan(0, length), 0, starts, ends, raw, words);
            words++;
            length = 0; codePoints = 0;
        }
    }

    /// <summary>Whether character <paramref name="c"/> ends the word before it (whitespace, punctuation, CJK).</summary>
    bool EndsWordBefore(char c)
    {
        if (c < 128) return normalizer.AsciiKind[c] != BertNormalizer.AsciiRemoved;
        if (char.IsSurrogate(c)) return false; // decided on the general path
        var entry = normalizer.Get(c);
        return entry.Kind is BertNormalizer.Kind.Whitespace or BertNormalizer.Kind.Isolated
            || entry.Kind == BertNormalizer.Kind.Text && (entry.PunctuationMask & 1) != 0;
    }

    /// <summary>
    /// Greedy longest-match-first WordPiece of one word (HF's algorithm). Candidates longer than the longest vocabulary
    /// entry are skipped without lookup; a word with an unmatchable piece becomes one [UNK] spanning the word.
    /// </summary>
    /// <param name="word">The normalised word.</param>
    /// <param name="offset">When <paramref name="starts"/> is null: char k of the word is text[offset + k].</param>
    /// <param name="starts">Original start of each char (null: offset + k).</param>
    /// <param name="ends">Original end of each char (null: offset + k + 1).</param>
    void WordPiece(ReadOnlySpan<char> word, int offset, int[]? starts, int[]? ends, TokenColumns raw, int wordIndex)
    {
        int firstToken = raw.Count;
        int position = 0;
        var vocab = Vocab;
        while (position < word.Length)
        {
            bool first = position == 0;
            int stop = Math.Min(word.Length, position + (first ? vocab.MaxTokenLength : vocab.MaxContinuationLength));
            int id = -1;
            for (; stop > position; stop--)
            {
                // Never cut between the two halves of a surrogate pair.
                if (stop < word.Length && char.IsLowSurrogate(word[stop]) && char.IsHighSurrogate(word[stop - 1])) continue;
                var piece = word[position..stop];
                if (first ? vocab.TryGetId(piece, out id) : vocab.TryGetContinuationId(piece, out id)) break;
            }
            if (stop == position)
            {
                raw.Count = firstToken;
                raw.AddRaw(vocab.UnkId, starts is null ? offset : starts[0], ends is null ? offset + word.Length : ends[word.Length - 1], wordIndex);
                return;
            }
            raw.AddRaw(id, starts is null ? offset + position : starts[position], ends is null ? offset + stop : ends[stop - 1], wordIndex);
            position = stop;
        }
    }

    // ---------------------------------------------------------------- raw tokens → sequences

    /// <summary>Token ranges [FromA, ToA) and [FromB, ToB) of one output sequence.</summary>
    internal readonly record struct Window(int FromA, int ToA, int FromB, int ToB);

    /// <summary>An input that needs more windows than <see cref="EncodeOptions.MaxWindows"/> allows.</summary>
    /// <param name="Windows">The windows it needs; 0 when it was too long to count them (then more than the limit).</param>
    /// <param name="Tokens">Tokens of its longer sequence; with <paramref name="Windows"/> 0, a lower bound.</param>
    internal readonly record struct WindowLimitExceeded(int Limit, long Windows, int Tokens, int MaxLength, int Stride)
    {
        public override string ToString() => Windows > 0
            ? $"needs {Windows} windows of up to {MaxLength} tokens (stride {Stride}) for its {Tokens} tokens, more than the limit of {Limit}"
            : $"needs more than the limit of {Limit} windows of up to {MaxLength} tokens (stride {Stride}): it has at least {Tokens} tokens";
    }

    /// <summary>
    /// Tokenizes one input (text or pair) only as far as truncation can use, then computes its windows. Tokenizing stops at
    /// <see cref="TokensWorthTokenizing"/> tokens per sequence (between words, so what is kept is exactly what the whole
    /// text gives); the stored count then stands for any length at least as large, which truncation treats alike.
    /// </summary>
    /// <returns>Null, or how far the input is over <see cref="EncodeOptions.MaxWindows"/> (its windows are then not computed).</returns>
    internal WindowLimitExceeded? TokenizeWindows(string text, string? pair, EncodeOptions options, Scratch s)
    {
        bool isPair = pair is not null;
        int tokenLimit = TokensWorthTokenizing(options, isPair);
        s.First.Clear();
        int stoppedA = TokenizeInto(text, 0, s.First, s, tokenLimit);
        int lengthA = s.First.Count, lengthB = 0;
        if (pair is not null)
        {
            s.Second.Clear();
            int stoppedB = TokenizeInto(pair, 0, s.Second, s, tokenLimit);
            lengthB = s.Second.Count;
            // longest_first gives the odd token of an odd budget to the longer text when both are cut: which is longer matters.
            int budget = Budget(options, isPair);
            if (options.Truncation == TruncationStrategy.LongestFirst && !options.ReturnOverflowing && (stoppedA < text.Length || stoppedB < pair.Length)
                && lengthA > budget && lengthB > budget && budget % 2 == 1)
                (lengthA, lengthB) = CountUntilOrdered(text, stoppedA, lengthA, pair, stoppedB, lengthB, s);
        }
        return ComputeWindows(lengthA, lengthB, isPair, options, s, tokenLimit);
    }

    /// <summary>Tokens left for the texts once the template's special tokens are in (may be negative: refused later).</summary>
    int Budget(EncodeOptions options, bool isPair) =>
        options.ResolveMaxLength(ModelMaxLength) - (options.AddSpecialTokens ? (isPair ? Template.AddedPair : Template.AddedSingle) : 0);

    /// <summary>
    /// Tokens of one sequence worth tokenizing. Truncation keeps at most budget tokens of a sequence, so budget + 1 tell
    /// that it was cut; with overflowing windows under a <see cref="EncodeOptions.MaxWindows"/> limit, limit × budget + 1
    /// tokens need more windows than allowed. Everything is tokenized without truncation, when truncating on the left
    /// (the end is kept), for overflowing windows without a limit, and for budgets under 2 (a sequence keeping 0 tokens
    /// gets one overflow window spanning all of it).
    /// </summary>
    int TokensWorthTokenizing(EncodeOptions options, bool isPair)
    {
        if (!StopTokenizingAtTruncation || options.Truncation == TruncationStrategy.None || options.TruncationSide == Side.Left)
            return int.MaxValue;
        int budget = Budget(options, isPair);
        if (budget < 2) return int.MaxValue;
        if (!options.ReturnOverflowing) return budget + 1;
        if (options.MaxWindows is int limit && limit >= 1) return (int)Math.Min(int.MaxValue, (long)limit * budget + 1);
        return int.MaxValue;
    }

    /// <summary>
    /// Whether <see cref="TokenizeWindows"/> stops at what truncation keeps (the default). Off, everything is tokenized
    /// first: the plain twin the tests compare the early stop against.
    /// </summary>
    internal bool StopTokenizingAtTruncation { get; set; } = true;

    /// <summary>
    /// Continues counting the tokens of two texts that were stopped early (counted in chunks, not kept) until their
    /// order is known; each returned count is then exact, or larger than the other's exact count.
    /// </summary>
    (int A, int B) CountUntilOrdered(string a, int stoppedA, int countA, string b, int stoppedB, int countB, Scratch s)
    {
        const int Chunk = 4096;
        while (true)
        {
            bool doneA = stoppedA >= a.Length, doneB = stoppedB >= b.Length;
            if (doneA && doneB || doneA && countB > countA || doneB && countA > countB) return (countA, countB);
            s.Counting.Clear();
            if (!doneA && (doneB || countA <= countB))
            {
                stoppedA = TokenizeInto(a, stoppedA, s.Counting, s, Chunk);
                countA += s.Counting.Count;
            }
            else
            {
                stoppedB = TokenizeInto(b, stoppedB, s.Counting, s, Chunk);
                countB += s.Counting.Count;
            }
        }
    }

    /// <summary>
    /// The windows of one input after truncation, as HF's Rust <c>truncate_encodings</c>: the first is the truncated
    /// encoding, the others are its overflowing windows (only with <see cref="EncodeOptions.ReturnOverflowing"/>).
    /// A length of <paramref name="tokenLimit"/> or more means "at least that many" (tokenizing stopped there).
    /// </summary>
    /// <returns>Null, or how far the input is over <see cref="EncodeOptions.MaxWindows"/> (no windows computed).</returns>
    internal WindowLimitExceeded? ComputeWindows(int lengthA, int lengthB, bool isPair, EncodeOptions options, Scratch s,
        int tokenLimit = int.MaxValue)
    {
        var windows = s.Windows;
        windows.Clear();
        s.Truncated = false;
        if (options.Truncation == TruncationStrategy.None)
        {
            windows.Add(new Window(0, lengthA, 0, lengthB));
            return null;
        }
        int maxLength = options.ResolveMaxLength(ModelMaxLength);
        int added = options.AddSpecialTokens ? (isPair ? Template.AddedPair : Template.AddedSingle) : 0;
        int budget = maxLength - added;
        if (budget < 0)
            throw new InvalidInputException($"max_length {maxLength} is smaller than the {added} special tokens of the template");
        if (options.Stride < 0) throw new InvalidInputException($"stride {options.Stride} must not be negative");
        if (options.Stride > 0 && options.Stride >= budget)
            throw new InvalidInputException($"stride {options.Stride} must be smaller than max_length {maxLength} minus the " +
                $"{added} special tokens ({budget}): each window must advance");
        if (options.MaxWindows is < 1) throw new InvalidInputException($"max windows must be at least 1, got {options.MaxWindows}");
        string Tokens(int length) => length >= tokenLimit ? $"at least {length}" : $"{length}";

        int keepA = lengthA, keepB = lengthB;
        int total = lengthA + lengthB;
        if (total > budget)
        {
            int toRemove = total - budget;
            switch (options.Truncation)
            {
                case TruncationStrategy.LongestFirst when isPair:
                {
                    // Rust: the shorter keeps all it can; if both must be cut the shorter gets max/2, the longer the rest.
                    int n1 = lengthA, n2 = lengthB;
                    bool swap = n1 > n2;
                    if (swap) (n1, n2) = (n2, n1);
                    n2 = n1 > budget ? n1 : Math.Max(n1, budget - n1);
                    if (n1 + n2 > budget) { n1 = budget / 2; n2 = n1 + budget % 2; }
                    if (swap) (n1, n2) = (n2, n1);
                    keepA = Math.Min(lengthA, n1); keepB = Math.Min(lengthB, n2);
                    break;
                }
                case TruncationStrategy.LongestFirst:
                    keepA = budget;
                    break;
                case TruncationStrategy.OnlyFirst:
                    if (lengthA <= toRemove)
                        throw new InvalidInputException($"truncation only_first cannot reach max_length {maxLength}: the first " +
                            $"sequence has {Tokens(lengthA)} tokens but {(lengthA >= tokenLimit || lengthB >= tokenLimit ? "at least " : "")}" +
                            $"{toRemove} must be removed (the second has {Tokens(lengthB)})");
                    keepA = lengthA - toRemove;
                    break;
                case TruncationStrategy.OnlySecond:
                    if (!isPair) throw new InvalidInputException("truncation only_second needs a pair of texts");
                    if (lengthB <= toRemove)
                        throw new InvalidInputException($"truncation only_second cannot reach max_length {maxLength}: the second " +
                            $"sequence has {Tokens(lengthB)} tokens but {(lengthA >= tokenLimit || lengthB >= tokenLimit ? "at least " : "")}" +
                            $"{toRemove} must be removed (the first has {Tokens(lengthA)})");
                    keepB = lengthB - toRemove;
                    break;
            }
        }
        s.Truncated = keepA < lengthA || keepB < lengthB;
        RequireAdvancingWindows(lengthA, keepA, options.Stride);
        RequireAdvancingWindows(lengthB, keepB, options.Stride);
        int? maxWindows = options.ReturnOverflowing ? options.MaxWindows : null;
        // A sequence cut into windows that was too long to tokenize whole needs more windows than the limit allows.
        if (maxWindows is int limit && (keepA < lengthA && lengthA >= tokenLimit || keepB < lengthB && lengthB >= tokenLimit))
            return new WindowLimitExceeded(limit, 0, Math.Max(lengthA, lengthB), maxLength, options.Stride);

        SplitWindows(lengthA, keepA, options, s.WindowsA);
        SplitWindows(lengthB, keepB, options, s.WindowsB);
        var a = s.WindowsA; var b = s.WindowsB;
        if (maxWindows is int max && (long)a.Count * b.Count > max)
            return new WindowLimitExceeded(max, (long)a.Count * b.Count, Math.Max(lengthA, lengthB), maxLength, options.Stride);
        windows.Add(new Window(a[0].From, a[0].To, b[0].From, b[0].To));
        if (!options.ReturnOverflowing) return null;
        // Rust's Encoding::merge_with order: each overflow of A with B's main window and B's overflows, then A with B's.
        for (int i = 1; i < a.Count; i++)
        {
            windows.Add(new Window(a[i].From, a[i].To, b[0].From, b[0].To));
            for (int j = 1; j < b.Count; j++) windows.Add(new Window(a[i].From, a[i].To, b[j].From, b[j].To));
        }
        for (int j = 1; j < b.Count; j++) windows.Add(new Window(a[0].From, a[0].To, b[j].From, b[j].To));
        return null;
    }

    static void RequireAdvancingWindows(int length, int keep, int stride)
    {
        if (keep < length && keep > 0 && stride >= keep)
            throw new InvalidInputException($"stride {stride} must be smaller than the {keep} tokens kept from a sequence " +
                "after truncation: each window must advance");
    }

    /// <summary>Windows of <paramref name="keep"/> tokens over a sequence of <paramref name="length"/>, overlapping by the stride.</summary>
    static void SplitWindows(int length, int keep, EncodeOptions options, List<(int From, int To)> windows)
    {
        windows.Clear();
        if (keep >= length) { windows.Add((0, length)); return; }
        if (keep == 0) { windows.Add((0, 0)); windows.Add((0, length)); return; }
        int step = keep - options.Stride;
        if (options.TruncationSide == Side.Right)
        {
            for (int from = 0; ; from += step)
            {
                int to = Math.Min(from + keep, length);
                windows.Add((from, to));
                if (to == length) break;
            }
        }
        else
        {
            for (int to = length; ; to -= step)
            {
                int from = Math.Max(0, to - keep);
                windows.Add((from, to));
                if (from == 0) break;
            }
        }
    }

    /// <summary>Appends one window with the template's special tokens to <paramref name="output"/>.</summary>
    internal void WriteWindow(TokenColumns a, TokenColumns? b, Window w, bool addSpecialTokens, TokenColumns output)
    {
        var pieces = b is null ? Template.SinglePieces : Template.PairPieces;
        for (int p = 0; p < pieces.Length; p++)
        {
            var piece = pieces[p];
            if (piece.Sequence < 0)
            {
                if (!addSpecialTokens) continue;
                for (int k = 0; k < piece.SpecialIds.Length; k++) output.Add(piece.SpecialIds[k], piece.TypeId, 0, 0, -1, -1, special: true);
            }
            else if (piece.Sequence == 0) output.AppendSequence(a, w.FromA, w.ToA, piece.TypeId, 0);
            else if (b is not null) output.AppendSequence(b, w.FromB, w.ToB, piece.TypeId, 1);
        }
    }

    // ---------------------------------------------------------------- public encoding

    /// <summary>Encodes a text, or a pair of texts, with special tokens, truncation and padding as options ask.</summary>
    /// <exception cref="ArgumentNullException">text is null.</exception>
    /// <exception cref="InvalidInputException">Impossible truncation (only_first/only_second too short, stride too large),
    /// or more windows than <see cref="EncodeOptions.MaxWindows"/>.</exception>
    public EncodedText Encode(string text, string? pair = null, EncodeOptions? options = null) =>
        EncodeWithinWindowLimit(text, pair, options ?? EncodeOptions.Default, out var exceeded)
            ?? throw new InvalidInputException($"the input {exceeded} (EncodeOptions.MaxWindows)");

    /// <summary>
    /// <see cref="Encode"/>, but an input over <see cref="EncodeOptions.MaxWindows"/> gives null and the reason, so that
    /// a pipeline can name its own setting.
    /// </summary>
    internal EncodedText? EncodeWithinWindowLimit(string text, string? pair, EncodeOptions options, out WindowLimitExceeded exceeded)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = ThreadScratch;
        exceeded = default;
        if (TokenizeWindows(text, pair, options, s) is { } over)
        {
            exceeded = over;
            ReleaseHugeScratch();
            return null;
        }

        var encodings = new EncodedText[s.Windows.Count];
        int padTo = PaddedLength(options, s, pair is not null);
        for (int k = 0; k < encodings.Length; k++)
        {
            s.Output.Clear();
            WriteWindow(s.First, pair is null ? null : s.Second, s.Windows[k], options.AddSpecialTokens, s.Output);
            encodings[k] = ToEncoding(s.Output, padTo, options.PaddingSide, s.Truncated);
        }
        ReleaseHugeScratch();
        if (encodings.Length == 1) return encodings[0];
        var main = encodings[0];
        return new EncodedText
        {
            Ids = main.Ids, TypeIds = main.TypeIds, AttentionMask = main.AttentionMask, SpecialTokensMask = main.SpecialTokensMask,
            WordIds = main.WordIds, SequenceIds = main.SequenceIds, Offsets = main.Offsets, Tokens = main.Tokens,
            Truncated = main.Truncated, Overflowing = encodings[1..],
        };
    }

    /// <summary>Length every window is padded to (0: no padding): max_length, or the longest window.</summary>
    int PaddedLength(EncodeOptions options, Scratch s, bool isPair)
    {
        if (options.Padding == PaddingStrategy.None) return 0;
        RequirePad();
        // As HF: padding to max_length with neither a max_length nor a model limit pads nothing.
        if (options.Padding == PaddingStrategy.MaxLength) return MaxLengthFor(options) ?? 0;
        int longest = 0;
        foreach (var w in s.Windows) longest = Math.Max(longest, w.ToA - w.FromA + w.ToB - w.FromB);
        return longest + (options.AddSpecialTokens ? (isPair ? Template.AddedPair : Template.AddedSingle) : 0);
    }

    /// <summary>
    /// The max_length that <paramref name="options"/> mean for this tokenizer: theirs, else <see cref="ModelMaxLength"/>;
    /// null when neither sets a limit (HF's model_max_length of 1e30 loads as int.MaxValue).
    /// </summary>
    public int? MaxLengthFor(EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxLength is int explicitLength) return explicitLength;
        return ModelMaxLength == int.MaxValue ? null : ModelMaxLength;
    }

    void RequirePad()
    {
        if (Vocab.PadId < 0)
            throw new InvalidInputException($"padding needs a padding token, but the vocabulary has no '{Vocab.Special.Pad}'");
    }

    EncodedText ToEncoding(TokenColumns o, int padTo, Side side, bool truncated)
    {
        int n = o.Count, length = Math.Max(n, padTo), pad = length - n;
        int offset = side == Side.Left ? pad : 0;
        var e = new EncodedText
        {
            Ids = new int[length], TypeIds = new int[length], AttentionMask = new int[length], SpecialTokensMask = new int[length],
            WordIds = new int[length], SequenceIds = new int[length], Offsets = new (int, int)[length], Tokens = new string[length],
            Truncated = truncated,
        };
        if (pad > 0)
        {
            int padStart = side == Side.Left ? 0 : n;
            e.Ids.AsSpan(padStart, pad).Fill(Vocab.PadId);
            e.SpecialTokensMask.AsSpan(padStart, pad).Fill(1);
            e.WordIds.AsSpan(padStart, pad).Fill(-1);
            e.SequenceIds.AsSpan(padStart, pad).Fill(-1);
            e.Tokens.AsSpan(padStart, pad).Fill(Vocab.Special.Pad);
        }
        for (int k = 0; k < n; k++)
        {
            int t = k + offset;
            e.Ids[t] = o.Ids[k];
            e.TypeIds[t] = o.TypeIds[k];
            e.AttentionMask[t] = 1;
            e.SpecialTokensMask[t] = o.SpecialMask[k];
            e.WordIds[t] = o.WordIds[k];
            e.SequenceIds[t] = o.SequenceIds[k];
            e.Offsets[t] = (o.Starts[k], o.Ends[k]);
            e.Tokens[t] = Vocab.IdToToken(o.Ids[k]);
        }
        return e;
    }
}
