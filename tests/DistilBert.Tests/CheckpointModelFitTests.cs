using System.Buffers.Binary;
using System.Text.Json.Nodes;
using DistilBert.Checkpoints;
using DistilBert.Modeling;
using static DistilBert.Tests.CheckpointTestFiles;

namespace DistilBert.Tests;

/// <summary>
/// A config.json and a checkpoint that do not belong together: the model the config describes must fit the weights
/// (checked before anything is allocated), the weights must be there, and they must be finite.
/// </summary>
public sealed class CheckpointModelFitTests : IDisposable
{
    readonly TempDirectory _tmp = new("ckpt-fit");

    public void Dispose() => _tmp.Dispose();

    const string TinyBert = """{"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 100, "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64, "max_position_embeddings": 64}""";

    static long TinyBertParameters => PretrainedModel.Create(ModelConfig.Parse(TinyBert)).Parameters.ElementCount;

    /// <summary>A saved tiny BertModel folder whose config.json then gets <paramref name="changes"/>.</summary>
    string SavedFolder(string name, Action<JsonObject>? changes = null)
    {
        var folder = _tmp.File(name);
        PretrainedModel.Save(PretrainedModel.Create(ModelConfig.Parse(TinyBert)), folder);
        if (changes is not null)
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
            changes(config);
            File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        }
        return folder;
    }

    public static TheoryData<string, string, bool> Architectures()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var architecture in PretrainedModel.SupportedArchitectures)
            foreach (var tied in new[] { true, false })
                data.Add(architecture, architecture.StartsWith("Bert", StringComparison.Ordinal) ? "bert" : "distilbert", tied);
        return data;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ParameterCountIsWhatCreateAllocates(string architecture, string modelType, bool tied)
    {
        var json = modelType == "bert"
            ? $$"""{"model_type": "bert", "vocab_size": 50, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 12, "max_position_embeddings": 20, "type_vocab_size": 3, "num_labels": 5, "tie_word_embeddings": {{(tied ? "true" : "false")}}}"""
            : $$"""{"model_type": "distilbert", "vocab_size": 50, "dim": 8, "n_heads": 2, "n_layers": 2, "hidden_dim": 12, "max_position_embeddings": 20, "num_labels": 5, "tie_word_embeddings": {{(tied ? "true" : "false")}}}""";
        var config = ModelConfig.Parse(json);
        Assert.Equal(PretrainedModel.Create(config, architecture).Parameters.ElementCount, PretrainedModel.ParameterCount(config, architecture));
    }

    [Theory]
    [InlineData("num_hidden_layers", 200, "num_hidden_layers 200")]
    [InlineData("vocab_size", 60000, "vocab_size 60000")]
    [InlineData("hidden_size", 512, "hidden_size 512")]
    [InlineData("intermediate_size", 30000, "intermediate_size 30000")]
    public void ConfigLargerThanItsCheckpointIsRefusedBeforeAllocating(string field, int value, string named)
    {
        var folder = SavedFolder(field, c => c[field] = value);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => PretrainedModel.Load(folder));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 2_000_000, "the model must not be allocated");
        Assert.StartsWith(Path.Combine(folder, "config.json") + ": describes embeddings and layers of", e.Message);
        Assert.Contains(named, e.Message);
        Assert.EndsWith($"but {Path.Combine(folder, "model.safetensors")} holds {TinyBertParameters} weights", e.Message);
    }

    [Fact]
    public void HeadFarLargerThanItsCheckpointIsRefused()
    {
        var folder = SavedFolder("labels", c => { c["architectures"] = new JsonArray("BertForTokenClassification"); c["num_labels"] = 65536; });
        var e = Assert.Throws<ModelFileException>(() => PretrainedModel.Load(folder));
        Assert.Contains("describes a BertForTokenClassification of", e.Message);
        Assert.Contains($"65536 labels), over twice the {TinyBertParameters} weights", e.Message);
        // A new head of ordinary size over the same base checkpoint loads, its head left to train.
        var ok = SavedFolder("head", c => { c["architectures"] = new JsonArray("BertForSequenceClassification"); c["num_labels"] = 3; });
        Assert.Equal(["classifier.weight", "classifier.bias"], PretrainedModel.Load(ok).Report.Missing);
    }

    [Fact]
    public void CheckpointWithNoTensorsIsAnErrorNamingTheFile()
    {
        var folder = SavedFolder("empty");
        var weights = Path.Combine(folder, "model.safetensors");
        File.WriteAllBytes(weights, SafeTensorsBytes("{}      ", []));
        var e = Assert.Throws<ModelFileException>(() => PretrainedModel.Load(folder));
        Assert.Equal($"{weights}: the checkpoint holds no tensors", e.Message);
    }

    [Fact]
    public void CheckpointWithoutTheModelsTensorsIsAnErrorNamingTheFile()
    {
        var path = _tmp.File("other.safetensors");
        SafeTensors.Write(path, [TensorToWrite.Float32("something.else", [2], [1f, 2f])]);
        var model = PretrainedModel.Create(ModelConfig.Parse(TinyBert));
        using var source = CheckpointFile.Open(path);
        var e = Assert.Throws<ModelFileException>(() => ParameterStateDict.LoadInto(model.Parameters, source, model.BaseModelPrefix));
        Assert.StartsWith($"{path}: the checkpoint holds none of the model's", e.Message);
        Assert.Contains("'something.else'", e.Message);
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    [InlineData(float.NegativeInfinity, "-Infinity")]
    public void NonFiniteWeightIsRefusedNamingTheTensor(float bad, string shown)
    {
        var folder = SavedFolder("nonfinite");
        var weights = Path.Combine(folder, "model.safetensors");
        const string Tensor = "encoder.layer.1.attention.self.query.weight";
        long at;
        using (var source = SafeTensorsFile.Open(weights)) at = source.Info(Tensor).DataOffset;
        var bytes = File.ReadAllBytes(weights);
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)(dataStart + at + 4 * (32 * 5 + 7))), bad);
        File.WriteAllBytes(weights, bytes);
        var e = Assert.Throws<ModelFileException>(() => PretrainedModel.Load(folder));
        Assert.Equal($"{weights}: tensor '{Tensor}' holds {shown} at [5, 7]: a model with non-finite weights gives meaningless answers", e.Message);
    }

    [Fact]
    public void NonFiniteWeightIsRefusedWhateverTheDType()
    {
        // F16 goes through conversion rather than the direct float32 read.
        var path = _tmp.File("half.safetensors");
        var half = new byte[12];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteHalfLittleEndian(half.AsSpan(2 * i), i == 4 ? Half.PositiveInfinity : (Half)i);
        SafeTensors.Write(path, [new TensorToWrite("w", TensorDType.F16, [2, 3], half)]);
        var registry = new ParameterRegistry();
        registry.Add("w", [2, 3]);
        using var source = CheckpointFile.Open(path);
        var e = Assert.Throws<ModelFileException>(() => ParameterStateDict.LoadInto(registry, source, null));
        Assert.Contains("tensor 'w' holds Infinity at [1, 1]", e.Message);
    }

    [Fact]
    public void IndexOfNonFiniteFindsTheFirstBadValueAnywhere()
    {
        float[] finite = [0f, -0f, float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 1e-38f, 3.5f];
        for (int length = 0; length <= 100; length++)
        {
            var values = Enumerable.Range(0, length).Select(i => finite[i % finite.Length]).ToArray();
            Assert.Equal(-1, StateDict.IndexOfNonFinite(values));
            for (int at = 0; at < length; at += Math.Max(1, length / 7))
                foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, BitConverter.Int32BitsToSingle(unchecked((int)0xFFC0_0001)) })
                {
                    var copy = (float[])values.Clone();
                    copy[at] = bad;
                    if (at + 1 < length) copy[length - 1] = float.NaN;
                    Assert.Equal(at, StateDict.IndexOfNonFinite(copy));
                }
        }
    }
}
