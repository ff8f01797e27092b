using System.Text.Json.Nodes;
using DistilBert.Cli;
using DistilBert.Cli.Commands;
using DistilBert.Tokenization;

namespace DistilBert.Tests;

/// <summary>`distilbert tokenize`. In the serial collection: errors are read from the captured console.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class TokenizerCliTests : IDisposable
{
    static int Run(params string[] args) => CliRunner.Run(args).Code;

    readonly TempDirectory _tmp = new("tokenizer-cli");

    public void Dispose() => _tmp.Dispose();

    string Temp(string name) => _tmp.File(name);

    [Fact]
    public void EmbeddedVocabularyIsTheGoldenOne()
    {
        var embedded = TokenizeCommand.LoadTokenizer(null);
        var golden = TokenizerGoldenTests.Golden.Value;
        Assert.Equal(golden.Vocab.Tokens, embedded.Vocab.Tokens);
        Assert.Equal(512, embedded.ModelMaxLength);
    }

    [Fact]
    public void InputFileOfPlainAndJsonLinesGivesOneJsonLineEach()
    {
        var input = Temp("in.txt");
        var output = Temp("out.jsonl");
        File.WriteAllLines(input, [
            "Hello, world!",
            """{"text": "who wrote hamlet?", "text_pair": "Shakespeare, around 1600."}""",
            "{not json, a plain line",
            "",
        ]);
        Assert.Equal(0, Run("tokenize", "--model", Fixtures.Golden("tokenizer"), "--input", input, "--output", output));
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(4, lines.Count);
        var tok = TokenizerGoldenTests.Golden.Value;
        var expected = new[]
        {
            tok.Encode("Hello, world!"), tok.Encode("who wrote hamlet?", "Shakespeare, around 1600."),
            tok.Encode("{not json, a plain line"), tok.Encode(""),
        };
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(expected[i].Ids, lines[i]!["input_ids"]!.AsArray().Select(x => (int)x!));
            Assert.Equal(expected[i].TypeIds, lines[i]!["token_type_ids"]!.AsArray().Select(x => (int)x!));
            Assert.Equal(expected[i].Tokens, lines[i]!["tokens"]!.AsArray().Select(x => (string)x!));
            Assert.Equal(expected[i].Offsets, lines[i]!["offsets"]!.AsArray().Select(x => ((int)x![0]!, (int)x[1]!)));
        }
    }

    [Fact]
    public void StrideWritesOverflowWindowsAndPaddingPads()
    {
        var input = Temp("in.jsonl");
        var output = Temp("out.jsonl");
        File.WriteAllText(input, """{"text": "who wrote it?", "text_pair": "it was written by william shakespeare around 1600 in london"}""" + "\n");
        Assert.Equal(0, Run("tokenize", "--input", input, "--output", output, "--max-length", "12", "--stride", "2",
            "--truncation", "only_second", "--padding", "max_length"));
        var line = JsonNode.Parse(File.ReadAllLines(output).Single())!;
        var expected = TokenizerGoldenTests.Golden.Value.Encode("who wrote it?", "it was written by william shakespeare around 1600 in london",
            new EncodeOptions
            {
                MaxLength = 12, Stride = 2, Truncation = TruncationStrategy.OnlySecond, ReturnOverflowing = true,
                Padding = PaddingStrategy.MaxLength,
            });
        Assert.Equal(expected.Ids, line["input_ids"]!.AsArray().Select(x => (int)x!));
        var overflow = line["overflow"]!.AsArray();
        Assert.Equal(expected.Overflowing.Count, overflow.Count);
        Assert.True(overflow.Count >= 1);
        for (int w = 0; w < overflow.Count; w++)
        {
            Assert.Equal(expected.Overflowing[w].Ids, overflow[w]!["input_ids"]!.AsArray().Select(x => (int)x!));
            Assert.Equal(expected.Overflowing[w].AttentionMask, overflow[w]!["attention_mask"]!.AsArray().Select(x => (int)x!));
        }
    }

    [Theory]
    [InlineData("stride", "tokenize", "x", "--max-length", "8", "--stride", "6")]
    [InlineData("sideways", "tokenize", "x", "--truncation", "sideways")]
    [InlineData("/no/such/folder", "tokenize", "x", "--model", "/no/such/folder")]
    [InlineData("--vocab", "tokenize", "x", "--model", "a", "--vocab", "b")]
    public void BadArgumentsExitWithOneAndNameTheProblem(string named, params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(named, line);
    }

    [Fact]
    public void BadJsonLineNamesFileAndLine()
    {
        var input = Temp("bad.jsonl");
        File.WriteAllLines(input, ["fine", """{"text": 5}"""]);
        var e = Assert.Throws<DataFileException>(() => TokenizeCommand.ParseLine("""{"text": 5}""", input, 2));
        Assert.Contains($"{input}:2", e.Message);
        var (code, _, error) = CliRunner.Run("tokenize", "--input", input, "--output", Temp("o.jsonl"));
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {input}:2", error);
    }

    [Fact]
    public void ABadLineLeavesNoPartialOutputAndThePreviousOneIntact()
    {
        var input = Temp("half-bad.jsonl");
        // the bad line comes after a first batch has been written (LinesPerBatch lines)
        File.WriteAllLines(input, [.. Enumerable.Repeat("fine text", TokenizeCommand.LinesPerBatch + 5), "{\"text\": 5}"]);
        var output = Temp("kept.jsonl");
        File.WriteAllText(output, "previous\n");
        var (code, _, error) = CliRunner.Run("tokenize", "--input", input, "--output", output);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {input}:{TokenizeCommand.LinesPerBatch + 6}", error);
        Assert.Equal("previous\n", File.ReadAllText(output));
        var left = Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!).Select(p => Path.GetFileName(p)!).Order();
        Assert.Equal(["half-bad.jsonl", "kept.jsonl"], left); // no temporary file beside it
    }
}
