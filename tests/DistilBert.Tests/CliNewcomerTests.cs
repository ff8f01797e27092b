using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>What a first-time user meets: the program's name in help, <c>--version</c>, tables on a pipe. In the serial
/// collection: they read the captured console.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class CliNewcomerTests
{
    [Fact]
    public void HelpNamesTheCommandAUserTypes()
    {
        var (code, output, _) = CliRunner.Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("distilbert [command] [options]", output);
        Assert.DoesNotContain("DistilBert.Cli", output);

        var (_, subcommand, _) = CliRunner.Run("info", "--help");
        Assert.Contains("distilbert info <model> [options]", subcommand);
    }

    [Fact]
    public void VersionPrintsThePackageVersionAndAShortCommit()
    {
        var (code, output, _) = CliRunner.Run("--version");
        Assert.Equal(0, code);
        var printed = output.Trim();
        Assert.Equal(Program.Version, printed);
        // The version the packages carry (Directory.Build.props), then at most a 7-digit commit as build metadata.
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?(\+[0-9a-f]{7})?$", printed);
    }

    [Fact]
    public void PipedTablesKeepEveryCellWhole()
    {
        // A word too long for WordPiece becomes one [UNK] row whose text column alone is wider than 80 columns: on a
        // pipe (a captured console is not a terminal) the row must still show it whole, not wrapped over lines.
        var word = new string('q', 110);
        var (code, output, _) = CliRunner.Run("tokenize", $"short {word}");
        Assert.Equal(0, code);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.Contains("offsets") && l.Contains("text"));
        Assert.Contains(lines, l => l.Contains("[UNK]") && l.Contains(word));
    }

    [Fact]
    public void ClassifyWithoutAModelUsesTheShippedSentimentModel()
    {
        var (code, output, error) = CliRunner.Run("classify", "a gorgeous, witty, seductive movie", "--json");
        Assert.True(code == 0, error);
        Assert.Matches(@"^\[\{""label"":""positive"",""score"":0\.\d+\}\]$", output.Trim());
    }

    [Fact]
    public void LongBenchmarksSayHowLongTheyWillTake()
    {
        var (code, _, error) = CliRunner.Run("bench", "--soak", "4", "--soak-warmup", "1", "--batch", "1", "--seq", "4", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Matches(@"warm-up took [\d.]+ s: the soak should take about \d", error);
        Assert.Contains(" left", error);

        var texts = Path.Combine(Fixtures.Root, "..", "..", "samples", "sst2", "validation.tsv");
        (code, _, error) = CliRunner.Run("bench", "--texts", texts, "--limit", "2", "--batch", "2", "--seq", "8", "--warmup", "0", "--iterations", "2", "--threads", "1");
        Assert.True(code == 0, error);
        Assert.Contains("2 texts in 1 batches", error);
        Assert.Matches(@"one pass took \d+ s: about \d+ s for the other 1", error);
    }
}
