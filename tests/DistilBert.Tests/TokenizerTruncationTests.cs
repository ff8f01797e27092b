using DistilBert.Tokenization;

namespace DistilBert.Tests;

/// <summary>
/// Truncation tokenizes only what it keeps: checked against the plain twin that tokenizes everything first, and bounded
/// in memory on huge texts. Window limits refuse an input before it is tokenized whole.
/// </summary>
public class TokenizerTruncationTests
{
    static WordPieceTokenizer Tok => TokenizerGoldenTests.Golden.Value;

    static readonly Lazy<WordPieceTokenizer> TokenizeEverything = new(() =>
    {
        var tokenizer = WordPieceTokenizer.FromFolder(Fixtures.Golden("tokenizer"));
        tokenizer.StopTokenizingAtTruncation = false;
        return tokenizer;
    });

    /// <summary>The encoding (all windows) or the refusal, as text, for comparing two tokenizers.</summary>
    static string Describe(WordPieceTokenizer tokenizer, string text, string? pair, EncodeOptions options)
    {
        EncodedText? e;
        try { e = tokenizer.EncodeWithinWindowLimit(text, pair, options, out _); }
        catch (InvalidInputException) { return "refused"; }
        if (e is null) return "over the window limit";
        return string.Join("\n", new[] { e }.Concat(e.Overflowing).Select(w =>
            $"{w.Truncated}|{string.Join(",", w.Ids)}|{string.Join(",", w.TypeIds)}|{string.Join(",", w.WordIds)}|" +
            $"{string.Join(",", w.SequenceIds)}|{string.Join(",", w.Offsets)}|{string.Join(",", w.AttentionMask)}"));
    }

    [Fact]
    public void Stopping_at_what_truncation_keeps_gives_what_tokenizing_everything_gives()
    {
        var texts = TokenizerGoldenTests.Cases().Select(c => c.Text).Where(t => t.Length > 0).ToList();
        // Longer texts so that stopping early happens often, including at special tokens written in the text.
        var rng = new Random(7);
        for (int k = 0; k < 200; k++)
            texts.Add(string.Join(rng.Next(4) == 0 ? " [SEP] " : " ", Enumerable.Range(0, rng.Next(1, 12)).Select(_ => texts[rng.Next(texts.Count)])));
        var strategies = new[] { TruncationStrategy.LongestFirst, TruncationStrategy.OnlyFirst, TruncationStrategy.OnlySecond };
        int compared = 0, differing = 0;
        var failures = new List<string>();
        for (int k = 0; k < 3000; k++)
        {
            string text = texts[rng.Next(texts.Count)];
            string? pair = rng.Next(2) == 0 ? null : texts[rng.Next(texts.Count)];
            bool overflow = rng.Next(2) == 0;
            int maxLength = rng.Next(3, 40);
            var options = new EncodeOptions
            {
                Truncation = strategies[rng.Next(strategies.Length)],
                MaxLength = maxLength,
                Stride = overflow ? rng.Next(0, 4) : 0,
                ReturnOverflowing = overflow,
                MaxWindows = overflow && rng.Next(2) == 0 ? rng.Next(1, 6) : null,
                AddSpecialTokens = rng.Next(5) != 0,
                Padding = rng.Next(3) == 0 ? PaddingStrategy.MaxLength : PaddingStrategy.None,
            };
            var expected = Describe(TokenizeEverything.Value, text, pair, options);
            var actual = Describe(Tok, text, pair, options);
            compared++;
            if (expected != actual && failures.Count < 5) failures.Add($"{options} text '{text}' pair '{pair}':\n{actual}\nexpected\n{expected}");
            if (expected != actual) differing++;
        }
        Assert.True(failures.Count == 0, $"{differing} of {compared} differ:\n" + string.Join("\n\n", failures));
    }

    [Fact]
    public void Longest_first_gives_the_odd_token_to_the_longer_text_when_both_are_cut_however_long()
    {
        // Budget 7 (odd): the longer text keeps 4 tokens, the shorter 3, even when both are far past the point where
        // tokenizing stops.
        var options = new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 10 };
        var shorter = string.Join(' ', Enumerable.Repeat("one", 5000));
        var longer = string.Join(' ', Enumerable.Repeat("two", 5001));
        Assert.Equal((3, 4), Kept(Tok.Encode(shorter, longer, options)));
        Assert.Equal((4, 3), Kept(Tok.Encode(longer, shorter, options)));
        Assert.Equal((3, 4), Kept(Tok.Encode(shorter, shorter, options))); // equal: no swap, as Rust

        static (int A, int B) Kept(EncodedText e) => (e.SequenceIds.Count(s => s == 0), e.SequenceIds.Count(s => s == 1));
    }

    [Fact]
    public void Truncated_tells_whether_tokens_were_cut()
    {
        var options = new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 5 };
        Assert.False(Tok.Encode("one two three", options: options).Truncated);  // exactly 3 + 2 special tokens
        Assert.True(Tok.Encode("one two three four", options: options).Truncated);
        Assert.False(Tok.Encode("one two three four").Truncated);               // no truncation asked
        var windows = Tok.Encode("one two three four", options: options with { ReturnOverflowing = true });
        Assert.True(windows.Truncated);
        Assert.True(windows.Overflowing.Single().Truncated);
    }

    [Fact]
    public void A_huge_text_truncated_to_max_length_is_tokenized_only_as_far_as_it_is_kept()
    {
        var huge = string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog ", 450_000)); // 20 MB
        var options = new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 512 };
        Tok.Encode("warm up", options: options);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Tok.Encode(huge, options: options);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(512, e.Length);
        Assert.True(e.Truncated);
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes to keep 512 tokens of a 20 MB text");
        Assert.Equal(TokenizeEverything.Value.Encode(huge[..10_000], options: options).Ids, e.Ids);
    }

    [Fact]
    public void An_input_needing_more_windows_than_the_limit_is_refused_before_it_is_tokenized_whole()
    {
        var huge = string.Concat(Enumerable.Repeat("alice moved to paris in the year of the great river ", 20_000)); // 1 MB
        var options = new EncodeOptions
        {
            Truncation = TruncationStrategy.OnlySecond, MaxLength = 384, Stride = 128, ReturnOverflowing = true, MaxWindows = 8,
        };
        Tok.Encode("q", "warm up", options);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<InvalidInputException>(() => Tok.Encode("who moved?", huge, options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("needs more than the limit of 8 windows of up to 384 tokens", error.Message);
        Assert.Contains("MaxWindows", error.Message);
        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes to refuse a 1 MB context");

        // Within the limit the windows are all there; just over it, the count is exact.
        var fits = Tok.Encode("who moved?", huge[..8_000], options with { MaxWindows = 100 });
        int windows = 1 + fits.Overflowing.Count;
        Assert.InRange(windows, 2, 100);
        Assert.NotNull(Tok.Encode("who moved?", huge[..8_000], options with { MaxWindows = windows }));
        var over = Assert.Throws<InvalidInputException>(() => Tok.Encode("who moved?", huge[..8_000], options with { MaxWindows = windows - 1 }));
        Assert.Contains($"needs {windows} windows", over.Message);

        var batch = Assert.Throws<InvalidInputException>(() => Tok.EncodeBatch(["short", huge], options: options with
        {
            Truncation = TruncationStrategy.LongestFirst,
        }));
        Assert.StartsWith("text 1: needs more than the limit of 8 windows", batch.Message);
    }
}
