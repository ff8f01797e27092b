namespace DistilBert.Tests;

/// <summary>
/// Input files through the CLI: a file in another task's format, options that do not apply to the input, text that is
/// not UTF-8, rows without the label a prediction does not need. Each failure is one <c>error:</c> line naming the
/// file and line. Serial: the console is captured.
/// </summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class CliInputFileTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    string Write(string name, string content) => WriteBytes(name, System.Text.Encoding.UTF8.GetBytes(content));

    string WriteBytes(string name, byte[] content)
    {
        var path = Path.Combine(models.Root, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    static string OneErrorLine((int Code, string Out, string Err) run)
    {
        Assert.Equal(1, run.Code);
        return Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void Train_ner_on_a_classification_tsv_is_refused_naming_file_line_and_format()
    {
        var tsv = Write("validation.tsv", "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nunflinchingly bleak \t0\n");
        var line = OneErrorLine(CliRunner.Run("train", "ner", "--model", models.Tagger, "--train", tsv, "--out", Path.Combine(models.Root, "ner-run")));
        Assert.StartsWith($"error: {tsv}:2: a field holds spaces", line);
        Assert.Contains("expected CoNLL: one token per line, 'token<TAB>tag'", line);
    }

    [Fact]
    public void A_column_option_on_input_without_columns_is_refused()
    {
        var txt = Write("lines.txt", "hello\nworld\n");
        Assert.Equal($"error: --column applies to .tsv, .csv and .jsonl inputs, but '{txt}' is one text per line",
            OneErrorLine(CliRunner.Run("classify", "-m", models.Classifier, "--input", txt, "--column", "5")));
        Assert.Equal("error: --pair-column applies to .tsv, .csv and .jsonl inputs, but text arguments are one text per line",
            OneErrorLine(CliRunner.Run("classify", "-m", models.Classifier, "--pair-column", "x", "some text")));
        Assert.Equal("error: --column applies to --task classify on .tsv, .csv or .jsonl data, not to --task ner",
            OneErrorLine(CliRunner.Run("eval", "-m", models.Tagger, "--task", "ner", "--data", txt, "--column", "1")));
    }

    [Fact]
    public void Invalid_utf8_input_is_refused_with_its_line_and_byte_offset()
    {
        var bad = WriteBytes("bad-utf8.txt", [.. "fine\ngood"u8, 0xFF, .. " movie\n"u8]);
        Assert.Equal($"error: {bad}:2: not UTF-8 text: invalid byte 0xFF at byte offset 9",
            OneErrorLine(CliRunner.Run("classify", "-m", models.Classifier, "--input", bad, "--json")));
        Assert.StartsWith($"error: {bad}:2: not UTF-8 text",
            OneErrorLine(CliRunner.Run("qa", "-m", models.Reader, "--context-file", bad, "why?")));
    }

    [Fact]
    public void Classify_needs_no_label_column_and_eval_says_it_needs_one()
    {
        var tsv = Write("unlabelled.tsv", "sentence\tlabel\nwhat a film \t\nnice\n");
        var (code, output, _) = CliRunner.Run("classify", "-m", models.Classifier, "--input", tsv, "--json");
        Assert.Equal(0, code);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var line = OneErrorLine(CliRunner.Run("eval", "-m", models.Classifier, "--task", "classify", "--data", tsv, "--json"));
        Assert.Equal($"error: {tsv}:2: no label: eval needs a label in every row (a 'label' column or key, or name it with --label-column)", line);
    }
}
