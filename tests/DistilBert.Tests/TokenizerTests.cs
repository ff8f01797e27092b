using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using DistilBert.Tokenization;

namespace DistilBert.Tests;

public class TokenizerTests
{
    static WordPieceTokenizer Tok => TokenizerGoldenTests.Golden.Value;

    /// <summary>bert-base-uncased's tokenizer.json as transformers' BertConverter writes it, for the golden vocab.</summary>
    internal static JsonObject BertConverterJson()
    {
        var vocab = new JsonObject();
        var lines = File.ReadAllLines(Fixtures.Golden("tokenizer", "vocab.txt"));
        for (int i = 0; i < lines.Length; i++) vocab[lines[i]] = i;
        var added = new JsonArray();
        foreach (var (id, content) in new[] { (0, "[PAD]"), (100, "[UNK]"), (101, "[CLS]"), (102, "[SEP]"), (103, "[MASK]") })
            added.Add(new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        JsonObject Special(string id, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject Seq(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        return new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null,
                ["lowercase"] = true,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]", 0), Seq("A", 0), Special("[SEP]", 0)),
                ["pair"] = new JsonArray(Special("[CLS]", 0), Seq("A", 0), Special("[SEP]", 0), Seq("B", 1), Special("[SEP]", 1)),
                ["special_tokens"] = new JsonObject
                {
                    ["[CLS]"] = new JsonObject { ["id"] = "[CLS]", ["ids"] = new JsonArray(101), ["tokens"] = new JsonArray("[CLS]") },
                    ["[SEP]"] = new JsonObject { ["id"] = "[SEP]", ["ids"] = new JsonArray(102), ["tokens"] = new JsonArray("[SEP]") },
                },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100, ["vocab"] = vocab,
            },
        };
    }

    static void AssertSameEncoding(EncodedText expected, EncodedText actual, string because)
    {
        Assert.True(expected.Ids.SequenceEqual(actual.Ids), because + ": ids");
        Assert.True(expected.TypeIds.SequenceEqual(actual.TypeIds), because + ": type ids");
        Assert.True(expected.Offsets.SequenceEqual(actual.Offsets), because + ": offsets");
        Assert.True(expected.AttentionMask.SequenceEqual(actual.AttentionMask), because + ": attention mask");
    }

    [Fact]
    public void TokenizerJsonAsBertConverterWritesItGivesTheSameEncodings()
    {
        using var tmp = new TempDirectory("tok");
        var dir = tmp.Path;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), BertConverterJson().ToJsonString());
        var fromJson = WordPieceTokenizer.FromFolder(dir);
        Assert.Equal(512, fromJson.ModelMaxLength);
        int n = 0;
        foreach (var c in TokenizerGoldenTests.Cases())
        {
            if (c.Fast["error"] is not null) continue;
            AssertSameEncoding(Tok.Encode(c.Text, c.Pair, c.Options), fromJson.Encode(c.Text, c.Pair, c.Options), c.Id);
            n++;
        }
        Assert.True(n > 1700);
    }

    [Fact]
    public void FolderConfigOverridesTheTokenizerJsonNormalizerAsTransformersDoes()
    {
        using var tmp = new TempDirectory("tok");
        var dir = tmp.Path;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), BertConverterJson().ToJsonString());
        Assert.True(WordPieceTokenizer.FromFolder(dir).Normalizer.Lowercase);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"do_lower_case": false, "model_max_length": 128}""");
        var cased = WordPieceTokenizer.FromFolder(dir);
        Assert.False(cased.Normalizer.Lowercase);
        Assert.Equal(128, cased.ModelMaxLength);
        Assert.Equal(["[UNK]", "world"], cased.Tokenize("Hello world"));
    }

    [Theory]
    [InlineData("model.type", "\"BPE\"", "$.model.type")]
    [InlineData("normalizer.type", "\"NFKC\"", "$.normalizer.type")]
    [InlineData("normalizer.lowercase", "\"yes\"", "$.normalizer.lowercase")]
    [InlineData("pre_tokenizer.type", "\"Whitespace\"", "$.pre_tokenizer.type")]
    [InlineData("model.vocab.hello", "-4", "$.model.vocab[\"hello\"]")]
    [InlineData("model.unk_token", "7", "$.model.unk_token")]
    [InlineData("post_processor.single", "[{\"Other\": {}}]", "$.post_processor.single[0]")]
    [InlineData("added_tokens", "[{\"id\": 103, \"content\": \"[MASK]\", \"lstrip\": true}]", "$.added_tokens[0].lstrip")]
    [InlineData("added_tokens", "[{\"id\": 40000, \"content\": \"[NEW]\"}]", "$.added_tokens[0]: id 40000")]
    public void MalformedTokenizerJsonNamesThePathAtFault(string field, string json, string expectedPath)
    {
        var root = BertConverterJson();
        var parts = field.Split('.');
        JsonObject node = root;
        foreach (var part in parts[..^1]) node = (JsonObject)node[part]!;
        node[parts[^1]] = JsonNode.Parse(json);
        using var tmp = new TempDirectory("tok");
        var dir = tmp.Path;
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, root.ToJsonString());
        var e = Assert.Throws<TokenizerFileException>(() => WordPieceTokenizer.FromTokenizerJson(path));
        Assert.Contains(expectedPath, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void InvalidJsonIsRefusedWithFileAndLine()
    {
        using var tmp = new TempDirectory("tok");
        var path = tmp.File("tokenizer.json");
        File.WriteAllText(path, "{\n \"model\": [1, 2,\n");
        var e = Assert.Throws<TokenizerFileException>(() => WordPieceTokenizer.FromTokenizerJson(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("invalid JSON", e.Message);
    }

    [Theory]
    [InlineData("[PAD]\n[CLS]\n[SEP]\nhello\n", "[UNK]")]
    [InlineData("[PAD]\n[UNK]\n[SEP]\nhello\n", "[CLS]")]
    [InlineData("[PAD]\n[UNK]\n[CLS]\nhello\n", "[SEP]")]
    [InlineData("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\nhello\n", "duplicate token 'hello' at id 6 (first at id 4)")]
    [InlineData("", "empty")]
    public void BadVocabularyIsRefusedNamingFileAndProblem(string content, string expected)
    {
        using var tmp = new TempDirectory("tok");
        var path = tmp.File("vocab.txt");
        File.WriteAllText(path, content);
        var e = Assert.Throws<TokenizerFileException>(() => WordPieceTokenizer.FromVocabFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void NullInputsThrowArgumentNull()
    {
        Assert.Throws<ArgumentNullException>(() => Tok.Encode(null!));
        Assert.Throws<ArgumentNullException>(() => Tok.Tokenize(null!));
        Assert.Throws<ArgumentNullException>(() => Tok.EncodeBatch(null!));
        Assert.Throws<ArgumentNullException>(() => Tok.EncodeBatch(["fine", null!]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t\n\r \u00a0\u2003\u3000")]
    [InlineData("\u200b\u00ad\ufeff")] // format characters vanish
    public void EmptyOrWhitespaceGivesJustTheSpecialTokens(string text)
    {
        var e = Tok.Encode(text);
        Assert.Equal([Tok.ClsId, Tok.SepId], e.Ids);
        Assert.Equal([(0, 0), (0, 0)], e.Offsets);
        Assert.Empty(Tok.Tokenize(text));
    }

    [Fact]
    public void LoneSurrogatesAndArbitraryUnicodeNeverThrow()
    {
        var random = new Random(1234);
        var reference = new ReferenceBertTokenizer(Tok);
        for (int trial = 0; trial < 1500; trial++)
        {
            var chars = new char[random.Next(0, 40)];
            for (int i = 0; i < chars.Length; i++)
                chars[i] = random.Next(6) switch
                {
                    0 => (char)random.Next(0xD800, 0xE000),        // surrogates, often unpaired
                    1 => (char)random.Next(0, 128),
                    2 => " .,'-[]#"[random.Next(8)],
                    3 => "[MASK]"[random.Next(6)],
                    _ => (char)random.Next(0, 0x10000),
                };
            var text = new string(chars);
            var e = Tok.Encode(text, trial % 3 == 0 ? text : null);
            for (int k = 0; k < e.Length; k++)
            {
                var (start, end) = e.Offsets[k];
                Assert.True(start >= 0 && end <= text.Length && start <= end, $"offsets {start},{end} in {text.Length}");
            }
            var expected = reference.Tokenize(text);
            var actual = Tok.EncodeBatch([text], options: new EncodeOptions { AddSpecialTokens = false }, maxDegreeOfParallelism: 1);
            Assert.Equal(expected.Select(t => t.Id), actual.Ids.ToArray());
            Assert.Equal(expected.Select(t => (t.Start, t.End)), actual.OffsetStarts.ToArray().Zip(actual.OffsetEnds.ToArray()));
        }
    }

    [Fact]
    public void FastPathMatchesTheReferenceTwinOnRealText()
    {
        var reference = new ReferenceBertTokenizer(Tok);
        var lines = File.ReadLines(Fixtures.Path_("..", "..", "samples", "reviews.txt")).ToList();
        Assert.True(lines.Count >= 200);
        foreach (var line in lines.Concat(TokenizerGoldenTests.Cases().Select(c => c.Text)))
        {
            var expected = reference.Tokenize(line);
            var raw = new TokenColumns();
            Tok.TokenizeInto(line, raw, WordPieceTokenizer.ThreadScratch);
            Assert.Equal(expected.Select(t => (t.Id, t.Start, t.End, t.Word)),
                Enumerable.Range(0, raw.Count).Select(k => (raw.Ids[k], raw.Starts[k], raw.Ends[k], raw.WordIds[k])));
        }
    }

    [Fact]
    public void TenMegabyteSingleLineTokenizesInLinearTime()
    {
        var words = "the quick brown fox jumps over a lazy dog, unbelievably! ";
        int repeats = 1_000_000 / words.Length;
        var oneMb = new StringBuilder().Insert(0, words, repeats).ToString();
        var tenMb = new StringBuilder().Insert(0, words, repeats * 10).ToString();
        Tok.Tokenize(oneMb); // warm up
        var watch = Stopwatch.StartNew();
        int small = Tok.Tokenize(oneMb).Length;
        var smallTime = watch.Elapsed;
        watch.Restart();
        int large = Tok.Tokenize(tenMb).Length;
        var largeTime = watch.Elapsed;
        Assert.Equal(small * 10, large);
        // Linear: 10× the text must not cost 100×. The margins are wide because CI machines are shared and noisy; a
        // quadratic pass over 10 MB would take hours, far beyond them. Speed itself is measured in bench/, not here.
        Assert.True(largeTime < smallTime * 40 + TimeSpan.FromSeconds(20), $"1 MB {smallTime}, 10 MB {largeTime}");

        // One 10 MB word (no spaces) and one of unmatchable characters: a single [UNK] each, quickly.
        var oneWord = new string('a', 10_000_000);
        watch.Restart();
        Assert.Equal(["[UNK]"], Tok.Tokenize(oneWord));
        Assert.Equal(["[UNK]"], Tok.Tokenize(new string('\u0378', 10_000_000)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"{watch.Elapsed}");
        var e = Tok.Encode(oneWord);
        Assert.Equal((0, 10_000_000), e.Offsets[1]);
    }

    [Fact]
    public void WordsOfMoreThanAHundredCodePointsBecomeUnk()
    {
        Assert.NotEqual(["[UNK]"], Tok.Tokenize(new string('a', 100)));
        Assert.Equal(["[UNK]"], Tok.Tokenize(new string('a', 101)));
        // Counted in code points: 100 astral characters (200 UTF-16 units) are within the limit.
        var astral = string.Concat(Enumerable.Repeat("\U0001F600", 100));
        Assert.Equal(["[UNK]"], Tok.Tokenize(astral)); // unknown pieces: still one [UNK] for the word
        Assert.Equal((0, 200), Tok.Encode(astral).Offsets[1]);
    }

    [Fact]
    public void StrideMustBeSmallerThanMaxLength()
    {
        var text = string.Join(' ', Enumerable.Repeat("hello world", 50));
        var e = Assert.Throws<InvalidInputException>(() => Tok.Encode(text, options: new EncodeOptions
        {
            Truncation = TruncationStrategy.LongestFirst, MaxLength = 10, Stride = 8, ReturnOverflowing = true,
        }));
        Assert.Contains("stride 8", e.Message);
        Assert.Contains("max_length 10", e.Message);
        Assert.Throws<InvalidInputException>(() => Tok.Encode(text, options: new EncodeOptions
        {
            Truncation = TruncationStrategy.LongestFirst, MaxLength = 10, Stride = 10,
        }));
    }

    [Fact]
    public void OverflowingWindowsOverlapByTheStrideAndCoverTheText()
    {
        var text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen";
        var all = Tok.Encode(text, options: new EncodeOptions { AddSpecialTokens = false });
        Assert.Equal(15, all.Length);
        var e = Tok.Encode(text, options: new EncodeOptions
        {
            Truncation = TruncationStrategy.LongestFirst, MaxLength = 8, Stride = 2, ReturnOverflowing = true,
        });
        // 6 tokens per window advancing by 4 (HF): [0,6) [4,10) [8,14) [12,15).
        var windows = new[] { e }.Concat(e.Overflowing).ToList();
        Assert.Equal(4, windows.Count);
        for (int w = 0; w < windows.Count; w++)
        {
            int from = 4 * w, to = Math.Min(15, from + 6);
            Assert.Equal([Tok.ClsId, .. all.Ids[from..to], Tok.SepId], windows[w].Ids);
            Assert.Equal([(0, 0), .. all.Offsets[from..to], (0, 0)], windows[w].Offsets);
        }
        // Without ReturnOverflowing only the first window is kept.
        var truncated = Tok.Encode(text, options: new EncodeOptions { Truncation = TruncationStrategy.LongestFirst, MaxLength = 8 });
        Assert.Equal(windows[0].Ids, truncated.Ids);
        Assert.Empty(truncated.Overflowing);
    }

    [Fact]
    public void QuestionAnsweringWindowsKeepTheQuestion()
    {
        var question = "who wrote hamlet?";
        var context = string.Join(' ', Enumerable.Range(0, 40).Select(i => $"word{i % 7}"));
        var options = new EncodeOptions
        {
            Truncation = TruncationStrategy.OnlySecond, MaxLength = 24, Stride = 4, ReturnOverflowing = true,
            Padding = PaddingStrategy.MaxLength,
        };
        var e = Tok.Encode(question, context, options);
        var q = Tok.Encode(question, options: new EncodeOptions { AddSpecialTokens = false }).Ids;
        var c = Tok.Encode(context, options: new EncodeOptions { AddSpecialTokens = false });
        var windows = new[] { e }.Concat(e.Overflowing).ToList();
        int budget = 24 - 3 - q.Length, step = budget - 4;
        Assert.Equal((c.Length - budget + step - 1) / step + 1, windows.Count);
        for (int w = 0; w < windows.Count; w++)
        {
            var win = windows[w];
            Assert.Equal(24, win.Length);
            Assert.Equal(q, win.Ids[1..(1 + q.Length)]);
            int from = w * step, count = Math.Min(budget, c.Length - from);
            var contextIds = win.Ids.Where((_, k) => win.SequenceIds[k] == 1).ToArray();
            Assert.Equal(c.Ids[from..(from + count)], contextIds);
            Assert.Equal(c.Offsets[from..(from + count)], win.Offsets.Where((_, k) => win.SequenceIds[k] == 1));
        }
    }

    [Fact]
    public void LeftTruncationKeepsTheEnd()
    {
        var e = Tok.Encode("one two three four five", options: new EncodeOptions
        {
            Truncation = TruncationStrategy.LongestFirst, MaxLength = 5, TruncationSide = Side.Left, ReturnOverflowing = true,
            Stride = 1,
        });
        Assert.Equal(["[CLS]", "three", "four", "five", "[SEP]"], e.Tokens);
        Assert.Equal(["[CLS]", "one", "two", "three", "[SEP]"], e.Overflowing.Single().Tokens);
    }

    [Theory]
    [InlineData(0xE9, "e\u0301")]               // é
    [InlineData(0x212B, "A\u030A")]             // ANGSTROM SIGN → A + ring (via Å)
    [InlineData(0x1E69, "s\u0323\u0307")]       // ṩ: two marks, canonical order
    [InlineData(0xD55C, "\u1112\u1161\u11AB")]  // 한: Hangul by formula
    [InlineData(0xAC00, "\u1100\u1161")]        // 가: no trailing consonant
    [InlineData(0xF902, "\u8ECA")]              // CJK compatibility ideograph → 車
    [InlineData(0x1D15E, "\U0001D157\U0001D165")] // musical half note, astral
    [InlineData('a', "a")]
    public void CanonicalDecompositionTable(int codePoint, string expected)
    {
        var sb = new StringBuilder();
        CanonicalDecomposition.Decompose(codePoint, sb);
        Assert.Equal(expected, sb.ToString());
    }

    [Fact]
    public void PaddingRightAndLeft()
    {
        var right = Tok.Encode("hello world", options: new EncodeOptions { Padding = PaddingStrategy.MaxLength, MaxLength = 6 });
        Assert.Equal([101, 7592, 2088, 102, 0, 0], right.Ids);
        Assert.Equal([1, 1, 1, 1, 0, 0], right.AttentionMask);
        Assert.Equal([1, 0, 0, 1, 1, 1], right.SpecialTokensMask);
        Assert.Equal([-1, 0, 1, -1, -1, -1], right.WordIds);
        var left = Tok.Encode("hello world", options: new EncodeOptions
        {
            Padding = PaddingStrategy.MaxLength, MaxLength = 6, PaddingSide = Side.Left,
        });
        Assert.Equal([0, 0, 101, 7592, 2088, 102], left.Ids);
        Assert.Equal([(0, 0), (0, 0), (0, 0), (0, 5), (6, 11), (0, 0)], left.Offsets);
    }

    [Fact]
    public void WordIdsAndSpecialTokensWrittenInText()
    {
        var e = Tok.Encode("Unaffable [MASK] day", "second text");
        Assert.Equal(["[CLS]", "una", "##ffa", "##ble", "[MASK]", "day", "[SEP]", "second", "text", "[SEP]"], e.Tokens);
        Assert.Equal([-1, 0, 0, 0, 1, 2, -1, 0, 1, -1], e.WordIds);
        Assert.Equal([-1, 0, 0, 0, 0, 0, -1, 1, 1, -1], e.SequenceIds);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], e.TypeIds);
        Assert.Equal((7, 11), e.Offsets[8]);
    }

    [Fact]
    public void DecodeJoinsPiecesAndCleansUpSpaces()
    {
        var e = Tok.Encode("Hello, world! I can't believe it's unaffable.");
        Assert.Equal("[CLS] hello, world! i can't believe it's unaffable. [SEP]", Tok.Decode(e.Ids));
        Assert.Equal("hello, world! i can't believe it's unaffable.", Tok.Decode(e.Ids, skipSpecialTokens: true));
        Assert.Equal("hello , world ! i can ' t believe it ' s unaffable .",
            Tok.Decode(e.Ids, skipSpecialTokens: true, cleanUpTokenizationSpaces: false));
        Assert.Throws<InvalidInputException>(() => Tok.Decode([5, 999_999]));
    }

    [Fact]
    public void SaveWritesAFolderThatLoadsBackIdentically()
    {
        using var tmp = new TempDirectory("tok");
        var dir = tmp.Path;
        Tok.Save(dir);
        Assert.Equal(File.ReadAllBytes(Fixtures.Golden("tokenizer", "vocab.txt")), File.ReadAllBytes(Path.Combine(dir, "vocab.txt")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")))!;
        Assert.True((bool)config["do_lower_case"]!);
        Assert.Equal(512, (int)config["model_max_length"]!);
        Assert.Equal("[MASK]", (string)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "special_tokens_map.json")))!["mask_token"]!);
        var loaded = WordPieceTokenizer.FromFolder(dir);
        foreach (var c in TokenizerGoldenTests.Cases().Take(300))
            AssertSameEncoding(Tok.Encode(c.Text, c.Pair), loaded.Encode(c.Text, c.Pair), c.Id);
    }

    [Fact]
    public void FolderSettingsAreRead()
    {
        using var tmp = new TempDirectory("tok");
        var dir = tmp.Path;
        File.Copy(Fixtures.Golden("tokenizer", "vocab.txt"), Path.Combine(dir, "vocab.txt"));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            """{"do_lower_case": false, "model_max_length": 1000000000000000019884624838656, "tokenize_chinese_chars": false}""");
        var cased = WordPieceTokenizer.FromFolder(dir);
        Assert.False(cased.Normalizer.Lowercase);
        Assert.Equal(int.MaxValue, cased.ModelMaxLength);
        Assert.Null(cased.MaxLengthFor(EncodeOptions.Default));
        Assert.Equal(3, cased.Encode("world", options: new EncodeOptions { Padding = PaddingStrategy.MaxLength }).Length); // no limit: no padding
        Assert.Equal(["[UNK]", "world"], cased.Tokenize("Hello world")); // "Hello" is not in an uncased vocab
        Assert.Equal(["[UNK]"], cased.Tokenize("你好")); // CJK not split: one unknown word
        using var stream = File.OpenRead(Fixtures.Golden("tokenizer", "vocab.txt"));
        var fromStream = WordPieceTokenizer.FromVocabStream(stream);
        Assert.Equal(Tok.Encode("Hello world").Ids, fromStream.Encode("Hello world").Ids);
    }

    [Fact]
    public void BatchMatchesSingleEncodingsAndPadsLikeHf()
    {
        var cases = TokenizerGoldenTests.Cases().Where(c => c.Fast["error"] is null && c.Json["truncation"] is null).ToList();
        var texts = cases.Select(c => c.Text).ToList();
        var pairs = cases.Select(c => c.Pair).ToList();
        var batch = new TokenizedBatch();
        for (int round = 0; round < 2; round++) // the second round reuses the batch's buffers
        {
            Tok.EncodeBatch(texts, pairs, into: batch, maxDegreeOfParallelism: 2);
            Assert.Equal(cases.Count, batch.Count);
            for (int i = 0; i < cases.Count; i++)
            {
                var single = Tok.Encode(texts[i], pairs[i]);
                Assert.Equal(single.Ids, batch.IdsOf(i).ToArray());
                Assert.Equal(single.TypeIds, batch.TypeIdsOf(i).ToArray());
                int s = batch.SequenceStarts[i];
                Assert.Equal(single.Offsets.Select(o => o.Start), batch.OffsetStarts.Slice(s, single.Length).ToArray());
                Assert.Equal(single.Offsets.Select(o => o.End), batch.OffsetEnds.Slice(s, single.Length).ToArray());
                Assert.Equal(i, batch.SampleIndex[i]);
            }
        }
        var padded = Tok.EncodeBatch(["hello world", "hi"]).ToPadded();
        Assert.Equal(4, padded.SequenceLength);
        Assert.Equal([101L, 7592, 2088, 102, 101, 7632, 102, 0], padded.InputIds);
        Assert.Equal([1L, 1, 1, 1, 1, 1, 1, 0], padded.AttentionMask);
        var left = Tok.EncodeBatch(["hello world", "hi"]).ToPadded(5, Side.Left);
        Assert.Equal([0L, 101, 7592, 2088, 102, 0, 0, 101, 7632, 102], left.InputIds);
    }

    [Fact]
    public void SpanLookupAgreesWithTheDictionary()
    {
        var vocab = Tok.Vocab;
        for (int id = 0; id < vocab.Count; id++)
        {
            var token = vocab.IdToToken(id);
            Assert.True(vocab.TryGetId(token.AsSpan(), out var found) && found == id, token);
            if (token.StartsWith("##") && token.Length > 2)
                Assert.True(vocab.TryGetContinuationId(token.AsSpan(2), out found) && found == id, token);
            // Near misses: a char more, a char less, shifted by one.
            foreach (var other in new[] { token + "x", token[..^1], "x" + token })
                Assert.Equal(vocab.TokenToId(other) ?? -1, vocab.TryGetId(other.AsSpan(), out found) ? found : -1);
        }
        var random = new Random(7);
        for (int k = 0; k < 20000; k++)
        {
            var text = new string(Enumerable.Range(0, random.Next(0, 12)).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
            Assert.Equal(vocab.TokenToId(text) ?? -1, vocab.TryGetId(text.AsSpan(), out var found) ? found : -1);
        }
    }

    [Fact]
    public void PaddedBatchReproducesTheRealVocabModelInputs()
    {
        // The e2e golden model case was fed DistilBertTokenizer(texts, padding=True): same ids and mask from our batch.
        var folder = Fixtures.Golden("models", "distilbert_realvocab_e2e");
        var texts = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "case.json")))!["texts"]!.AsArray().Select(t => (string)t!).ToList();
        var padded = Tok.EncodeBatch(texts).ToPadded();
        using var expected = DistilBert.Checkpoints.SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        Assert.Equal(expected.ReadInt64("input_ids"), padded.InputIds);
        Assert.Equal(expected.ReadInt64("attention_mask"), padded.AttentionMask);
    }

    [Fact]
    public void BatchReportsTheFailingInput()
    {
        var e = Assert.Throws<InvalidInputException>(() => Tok.EncodeBatch(["a b", "c d e f g h"], ["x", "y"],
            new EncodeOptions { Truncation = TruncationStrategy.OnlyFirst, MaxLength = 4 }));
        Assert.StartsWith("text 0:", e.Message);
    }
}
