using System.Text.Json;
using DistilBert.Pipelines;

namespace DistilBert.Tests;

/// <summary><c>distilbert embed</c> on a sentence-transformers folder: the folder's settings unless options say otherwise.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class SentenceTransformerCliTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    static float[] Vector(string jsonLine) => JsonSerializer.Deserialize<float[]>(jsonLine)!;

    [Fact]
    public void Embed_takes_the_folders_pooling_and_normalisation_and_options_override_them()
    {
        var folder = SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(models.Root, "st-cli-max"), "max", normalize: false, maxSeqLength: 8);
        const string text = "a gorgeous, witty, seductive movie about love";
        var (code, output, error) = CliRunner.Run("embed", "--model", folder, "--json", text);
        Assert.True(code == 0, error);
        Assert.Equal(EmbeddingPipeline.Load(folder).Embed(text), Vector(output.Trim()));
        Assert.Contains("truncated", error);

        var overridden = CliRunner.Run("embed", "--model", folder, "--json", "--pooling", "mean", "--normalize", "--max-length", "20", text);
        Assert.Equal(EmbeddingPipeline.Load(folder, new PipelineSettings { MaxLength = 20 }, PoolingMode.Mean, normalize: true).Embed(text),
            Vector(overridden.Out.Trim()));
        Assert.NotEqual(Vector(output.Trim()), Vector(overridden.Out.Trim()));

        var both = CliRunner.Run("embed", "--model", folder, "--json", "--normalize", "--no-normalize", text);
        Assert.Equal((1, ""), (both.Code, both.Out));
        Assert.StartsWith("error: give --normalize or --no-normalize, not both", both.Err);
        var unknown = CliRunner.Run("embed", "--model", folder, "--json", "--pooling", "weightedmean", text);
        Assert.StartsWith("error: --pooling must be mean, cls, max or mean-sqrt-len", unknown.Err);
    }

    [Fact]
    public void An_unsupported_module_is_one_error_line_naming_the_file()
    {
        var folder = SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(models.Root, "st-cli-dense"));
        File.WriteAllText(Path.Combine(folder, "modules.json"),
            """[{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]""");
        var (code, output, error) = CliRunner.Run("embed", "--model", folder, "--json", "text");
        Assert.Equal((1, ""), (code, output));
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {Path.Combine(folder, "modules.json")}: [2].type: sentence_transformers.models.Dense is not supported", line);
    }
}
