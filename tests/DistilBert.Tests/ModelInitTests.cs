using DistilBert.Checkpoints;
using DistilBert.Cli.Commands;
using DistilBert.Modeling;

namespace DistilBert.Tests;

public class ModelInitTests
{
    [Fact]
    public void InitWritesAFolderWithHfInitThatLoadsBackComplete()
    {
        using var tmp = new TempDirectory("init");
        var dir = tmp.Path;
        var outDir = Path.Combine(dir, "model");
        var model = InitCommand.Run(Fixtures.Golden("models", "distilbert_tokcls", "config.json"), outDir, null, seed: 9);
        var config = (DistilBertConfig)model.Config;
        Assert.True(config.SinusoidalPosEmbds);
        var (loaded, report) = PretrainedModel.Load(outDir);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.Equal("DistilBertForTokenClassification", loaded.ArchitectureName);
        Assert.Equal(ModelConfig.Load(outDir).ToJson(), File.ReadAllText(Path.Combine(outDir, "config.json")));
        foreach (var p in loaded.Parameters)
        {
            Assert.Equal(model.Parameters[p.Name].Value, p.Value);
            if (p.Name.EndsWith("layer_norm.weight") || p.Name.EndsWith("LayerNorm.weight")) Assert.All(p.Value, v => Assert.Equal(1f, v));
            else if (p.Name.EndsWith(".bias")) Assert.All(p.Value, v => Assert.Equal(0f, v));
        }
        var word = loaded.Parameters["distilbert.embeddings.word_embeddings.weight"];
        int dim = config.Dim;
        Assert.All(word.Value.Take(dim), v => Assert.Equal(0f, v)); // pad row
        double std = Math.Sqrt(word.Value.Skip(dim).Select(v => (double)v * v).Average());
        Assert.InRange(std, config.InitializerRange * 0.95, config.InitializerRange * 1.05);
        var positions = loaded.Parameters["distilbert.embeddings.position_embeddings.weight"];
        using var tables = SafeTensors.Open(Fixtures.Golden("primitives", "sinusoidal.safetensors"));
        var expected = tables.ReadFloat32($"n_pos{config.MaxPositionEmbeddings}_dim{dim}");
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - positions.Value[i]) <= 1e-6, $"sinusoidal[{i}]");
        Assert.False(positions.RequiresGrad);
    }

    [Fact]
    public void SameSeedSameWeightsOtherSeedOtherWeights()
    {
        var config = ModelConfig.Load(Fixtures.Golden("models", "bert_seqcls"));
        var a = PretrainedModel.Create(config, seed: 1).Parameters.First().Value;
        var b = PretrainedModel.Create(config, seed: 1).Parameters.First().Value;
        var c = PretrainedModel.Create(config, seed: 2).Parameters.First().Value;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [InlineData(37, 7)]
    [InlineData(512, 64)]
    public void SinusoidalTableMatchesHf(int positions, int dim)
    {
        using var tables = SafeTensors.Open(Fixtures.Golden("primitives", "sinusoidal.safetensors"));
        var expected = tables.ReadFloat32($"n_pos{positions}_dim{dim}");
        var actual = new float[positions * dim];
        ModelInitializer.SinusoidalTable(positions, dim, actual);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6, $"[{i}] {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void UnsupportedArchitectureNamesTheField()
    {
        var config = ModelConfig.Load(Fixtures.Golden("models", "bert_seqcls"));
        var e = Assert.Throws<ModelFileException>(() => PretrainedModel.Create(config, "DistilBertForMaskedLM"));
        Assert.Contains("'architectures': 'DistilBertForMaskedLM' is not supported for model_type 'bert'", e.Message);
    }
}
