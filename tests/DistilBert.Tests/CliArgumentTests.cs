namespace DistilBert.Tests;

/// <summary>
/// Command lines that do not parse: one <c>error:</c> line per problem plus a one-line hint, exit code 1, no help dump.
/// Serial: the console is captured.
/// </summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class CliArgumentTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    static void AssertOneError(string[] args, string expectedError, string hint)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Equal([$"error: {expectedError}", $"see '{hint} --help'"], Lines(error));
        Assert.Equal("", output);
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_one_error_line_and_a_hint()
    {
        var (code, output, error) = CliRunner.Run("classify", "-m", models.Classifier, "--batch-size", "abc", "hi");
        Assert.Equal(1, code);
        var lines = Lines(error);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("'abc'", lines[0]);
        Assert.Contains("--batch-size", lines[0]);
        Assert.Equal("see 'distilbert classify --help'", lines[1]);
        Assert.DoesNotContain("Usage:", error + output);
    }

    [Fact]
    public void An_unknown_command_is_named()
    {
        AssertOneError(["frobnicate"], "unknown command 'frobnicate'", "distilbert");
        AssertOneError(["train", "nerr"], "unknown command 'nerr'", "distilbert train");
    }

    [Fact]
    public void A_missing_required_option_is_one_error_line()
    {
        var (code, _, error) = CliRunner.Run("ner", "hi"); // classify alone has a default model
        Assert.Equal(1, code);
        var lines = Lines(error);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("--model", lines[0]);
        Assert.Equal("see 'distilbert ner --help'", lines[1]);
    }

    [Fact]
    public void An_unknown_option_is_not_taken_for_a_text_unless_it_follows_double_dash()
    {
        AssertOneError(["classify", "-m", models.Classifier, "--bogus", "hi"],
            "unknown option '--bogus' (a text starting with '-' goes after '--')", "distilbert classify");

        var (code, output, _) = CliRunner.Run("classify", "-m", models.Classifier, "--json", "--", "--bogus");
        Assert.Equal(0, code);
        Assert.Single(Lines(output));
    }

    [Fact]
    public void No_command_at_all_still_shows_the_help()
    {
        var (_, output, _) = CliRunner.Run();
        Assert.Contains("Commands:", output);
    }
}
