namespace DistilBert.Tests;

/// <summary><c>--shard I/N</c> on the batch-scoring commands: disjoint shards that concatenate into the whole run.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class ShardCliTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    static string Samples(params string[] parts) => Path.GetFullPath(Path.Combine([Fixtures.Root, "..", "..", "samples", .. parts]));

    string Sst2Head(int rows)
    {
        var path = Path.Combine(models.Root, $"sst2-{rows}.tsv");
        if (!File.Exists(path)) File.WriteAllLines(path, File.ReadLines(Samples("sst2", "distill-train.tsv")).Take(rows + 1));
        return path;
    }

    static string RunOk(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.True(code == 0, error);
        return output;
    }

    static void AssertShardsConcatenate(int shards, params string[] command)
    {
        var whole = RunOk(command);
        var parts = Enumerable.Range(0, shards).Select(i => RunOk([.. command, "--shard", $"{i}/{shards}"])).ToList();
        Assert.All(parts, p => Assert.NotEmpty(p));
        Assert.Equal(whole, string.Concat(parts));
    }

    [Fact]
    public void Four_classify_shards_of_sst2_train_concatenate_into_the_single_run_byte_for_byte()
    {
        var input = Sst2Head(3000);
        AssertShardsConcatenate(4, "classify", "--model", models.Classifier, "--input", input, "--json", "--all");
    }

    [Fact]
    public void Ner_and_embed_shards_concatenate_too()
    {
        var input = Sst2Head(300);
        AssertShardsConcatenate(4, "ner", "--model", models.Tagger, "--input", input, "--json", "--aggregation", "none", "--ignore-labels", "");
        AssertShardsConcatenate(3, "embed", "--model", models.Classifier, "--input", input, "--json");
    }

    [Fact]
    public void Shards_split_rows_into_contiguous_ranges_that_differ_by_at_most_one()
    {
        var input = Sst2Head(10);
        var sizes = Enumerable.Range(0, 4)
            .Select(i => RunOk("classify", "--model", models.Classifier, "--input", input, "--json", "--shard", $"{i}/4").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length)
            .ToArray();
        Assert.Equal([2, 3, 2, 3], sizes);
        // More shards than rows: the spare shards are empty, not errors, so a Job of fixed width can score a small file.
        var (code, output, _) = CliRunner.Run("classify", "--model", models.Classifier, "--input", Sst2Head(2), "--json", "--shard", "0/4");
        Assert.Equal(0, code);
        Assert.Equal("", output);
    }

    [Fact]
    public void A_skipped_bad_line_is_reported_by_exactly_one_shard()
    {
        var input = Path.Combine(models.Root, "with-bad-lines.jsonl");
        // Bad lines inside the first shard (2), at the boundary between the shards (4) and after the last row (7).
        File.WriteAllLines(input, ["{\"text\": \"one\"}", "not json", "{\"text\": \"two\"}", "{x", "{\"text\": \"three\"}", "{\"text\": \"four\"}", "{broken"]);
        var errors = Enumerable.Range(0, 2)
            .Select(i => CliRunner.Run("classify", "--model", models.Classifier, "--input", input, "--json", "--skip-bad-lines", "--shard", $"{i}/2").Err)
            .ToArray();
        int Count(string text, string what) => text.Split('\n').Count(l => l.Contains(what));
        foreach (var line in new[] { 2, 4, 7 })
            Assert.Equal(1, errors.Sum(e => Count(e, $".jsonl:{line}:")));
    }

    [Theory]
    [InlineData("4/4", "numbered from 0 to 3")]
    [InlineData("5/4", "numbered from 0 to 3")]
    [InlineData("1/0", "at least 1")]
    [InlineData("a/b", "I/N")]
    [InlineData("-1/4", "I/N")]
    [InlineData("1", "I/N")]
    [InlineData("1/2/3", "I/N")]
    public void A_bad_shard_spec_is_one_error_line(string spec, string expected)
    {
        var (code, output, error) = CliRunner.Run("classify", "--model", models.Classifier, "--input", Sst2Head(10), "--json", "--shard", spec);
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error:", line);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void Shard_needs_a_file_and_json_output()
    {
        var noJson = CliRunner.Run("embed", "--model", models.Classifier, "--input", Sst2Head(10), "--shard", "0/2");
        Assert.Equal(1, noJson.Code);
        Assert.Contains("--shard needs --json", noJson.Err);
        var arguments = CliRunner.Run("embed", "--model", models.Classifier, "--json", "--shard", "0/2", "some text");
        Assert.Equal(1, arguments.Code);
        Assert.Contains("--shard needs --input FILE", arguments.Err);
    }
}
