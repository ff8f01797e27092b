using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary><c>distilbert export-onnx</c>: a file ONNX Runtime runs, and one <c>error:</c> line for a bad model, output
/// or opset, with nothing left behind.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class OnnxExportCliTests : IDisposable
{
    readonly TempDirectory _tmp = new("onnx");

    public void Dispose() => _tmp.Dispose();

    string SavedModel(string architecture)
    {
        var folder = _tmp.File(architecture);
        PretrainedModel.Save(OnnxExportTests.RandomModel(architecture), folder);
        return folder;
    }

    static void AssertOneErrorLine(int code, string err, string mentions)
    {
        Assert.Equal(1, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(mentions, lines[0]);
    }

    [Theory]
    [InlineData("DistilBertForTokenClassification", null)]
    [InlineData("BertForQuestionAnswering", "15")]
    public void ExportsAFileOnnxRuntimeRunsLikeOurEngine(string architecture, string? opset)
    {
        var folder = SavedModel(architecture);
        var output = _tmp.File("model.onnx");
        File.WriteAllText(output, "an older export"); // replaced whole
        string[] args = ["export-onnx", "--model", folder, "--out", output, .. opset is null ? Array.Empty<string>() : ["--opset", opset]];
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.True(code == 0, stderr);
        Assert.Contains(architecture, stdout);
        Assert.Equal(new[] { "model.onnx", architecture }.Order(StringComparer.Ordinal), Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        var model = PretrainedModel.Load(folder).Model;
        using var session = OnnxTestSupport.SessionOf(output);
        var input = PaddedInput.Ragged([6, 2, 4], 97, model.UsesTokenTypes, seed: 5);
        foreach (var (name, difference) in OnnxTestSupport.Compare(model, session, input))
            Assert.True(difference <= 1e-4, $"{name}: max |diff| {difference:G3}");
    }

    [Fact]
    public void AMissingModelIsOneErrorLine()
    {
        var output = _tmp.File("model.onnx");
        var (code, _, err) = CliRunner.Run("export-onnx", "--model", _tmp.File("nowhere"), "--out", output);
        AssertOneErrorLine(code, err, "nowhere");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void AFolderWithoutWeightsIsOneErrorLine()
    {
        var folder = SavedModel("DistilBertModel");
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var (code, _, err) = CliRunner.Run("export-onnx", "--model", folder, "--out", _tmp.File("model.onnx"));
        AssertOneErrorLine(code, err, folder);
    }

    [Fact]
    public void AnUnwritableOutputIsOneErrorLineNamingIt()
    {
        var folder = SavedModel("BertModel");
        var missingFolder = Path.Combine(_tmp.Path, "no-such-folder", "model.onnx");
        var (code, _, err) = CliRunner.Run("export-onnx", "--model", folder, "--out", missingFolder);
        AssertOneErrorLine(code, err, missingFolder);

        var isAFolder = _tmp.File("taken");
        Directory.CreateDirectory(isAFolder);
        (code, _, err) = CliRunner.Run("export-onnx", "--model", folder, "--out", isAFolder);
        AssertOneErrorLine(code, err, isAFolder);
        Assert.Empty(Directory.EnumerateFileSystemEntries(isAFolder));
        // no temporary file left beside the outputs
        Assert.Equal(["BertModel", "taken"], Directory.EnumerateFileSystemEntries(_tmp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("12")]
    [InlineData("30")]
    public void AnUnsupportedOpsetIsOneErrorLine(string opset)
    {
        var (code, _, err) = CliRunner.Run("export-onnx", "--model", SavedModel("DistilBertModel"), "--out", _tmp.File("m.onnx"), "--opset", opset);
        AssertOneErrorLine(code, err, $"--opset {opset}");
        Assert.False(File.Exists(_tmp.File("m.onnx")));
    }
}
