using DistilBert.Modeling;

namespace DistilBert.Tests;

public class ConfigTests
{
    public static IEnumerable<object[]> GoldenConfigs() =>
        Directory.GetFiles(Fixtures.Golden(), "config.json", SearchOption.AllDirectories).Order().Select(p => new object[] { Path.GetRelativePath(Fixtures.Golden(), p) });

    [Theory]
    [MemberData(nameof(GoldenConfigs))]
    public void GoldenConfigRoundTripsByteForByte(string relativePath)
    {
        var text = File.ReadAllText(Path.Combine(Fixtures.Golden(), relativePath));
        var config = ModelConfig.Parse(text, relativePath);
        Assert.Equal(text, config.ToJson());
    }

    [Fact]
    public void AbsentFieldsTakeHfDefaults()
    {
        var d = ModelConfig.Parse<DistilBertConfig>("""{"model_type": "distilbert"}""");
        Assert.Equal((30522, 768, 6, 12, 3072, "gelu", 512), (d.VocabSize, d.Dim, d.NLayers, d.NHeads, d.HiddenDim, d.ActivationName, d.MaxPositionEmbeddings));
        Assert.Equal((0.1, 0.1, 0.1, 0.2, 0.02, 0), (d.Dropout, d.AttentionDropout, d.QaDropout, d.SeqClassifDropout, d.InitializerRange, d.PadTokenId));
        Assert.False(d.SinusoidalPosEmbds);
        Assert.True(d.TieWeights);
        Assert.Equal(2, d.NumLabels);
        Assert.Equal("LABEL_1", d.Id2Label[1]);
        Assert.Null(d.ProblemType);

        var b = ModelConfig.Parse<BertConfig>("""{"architectures": ["BertForMaskedLM"]}""");
        Assert.Equal((768, 12, 12, 3072, "gelu", 2, 1e-12), (b.HiddenSizeValue, b.NumHiddenLayers, b.NumAttentionHeads, b.IntermediateSizeValue, b.HiddenAct, b.TypeVocabSize, b.LayerNormEpsValue));
        Assert.Null(b.ClassifierDropout);
        Assert.Equal("absolute", b.PositionEmbeddingType);
    }

    [Fact]
    public void NumLabelsWithoutMapsGeneratesLabelNames()
    {
        var d = ModelConfig.Parse("""{"model_type": "distilbert", "num_labels": 3}""");
        Assert.Equal(3, d.NumLabels);
        Assert.Equal("LABEL_2", d.Id2Label[2]);
        Assert.Equal(2, d.Label2Id["LABEL_2"]);
        Assert.Contains("\"id2label\": {\n    \"0\": \"LABEL_0\"", d.ToJson());
    }

    [Fact]
    public void UnknownFieldsArePreservedSortedInPythonStyle()
    {
        var d = ModelConfig.Parse("""{"zeta": [1, 2.5, {"b": 1e-5, "a": "é"}], "model_type": "distilbert", "alpha": 3.0}""");
        var json = d.ToJson();
        Assert.StartsWith("{\n  \"activation\": \"gelu\",\n  \"alpha\": 3.0,", json);
        Assert.Contains("\"zeta\": [\n    1,\n    2.5,\n    {\n      \"a\": \"\\u00e9\",\n      \"b\": 1e-05\n    }\n  ]\n}\n", json);
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1e-12, "1e-12")]
    [InlineData(1e-5, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.0, "0.0")]
    [InlineData(3.0, "3.0")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(-2.5e-7, "-2.5e-07")]
    [InlineData(123.456, "123.456")]
    public void FloatsAreSpelledAsPythonRepr(double value, string expected) => Assert.Equal(expected, PyJsonWriter.PythonFloat(value));

    [Theory]
    [InlineData("""{"model_type": "distilbert", "dim": 30, "n_heads": 4}""", "'dim' (30) is not a multiple of 'n_heads' (4)")]
    [InlineData("""{"model_type": "distilbert", "n_layers": 0}""", "field 'n_layers': must be an integer from 1 to 256, got 0")]
    [InlineData("""{"model_type": "distilbert", "activation": "swish"}""", "field 'activation'")]
    [InlineData("""{"model_type": "bert", "hidden_act": "tanh"}""", "field 'hidden_act'")]
    [InlineData("""{"model_type": "bert", "hidden_size": "big"}""", "field 'hidden_size': must be an integer from 1 to 16384, got \"big\"")]
    [InlineData("""{"model_type": "gpt2"}""", "field 'model_type'")]
    [InlineData("""{"model_type": "distilbert", "vocab_size": -1}""", "field 'vocab_size': must be an integer from 1 to 1048576, got -1")]
    // sizes beyond ConfigLimits, refused before anything is allocated
    [InlineData("""{"model_type": "bert", "num_hidden_layers": 1000000}""", "field 'num_hidden_layers': must be an integer from 1 to 256, got 1000000")]
    [InlineData("""{"model_type": "bert", "vocab_size": 100000000}""", "field 'vocab_size': must be an integer from 1 to 1048576, got 100000000")]
    [InlineData("""{"model_type": "bert", "vocab_size": 1e8}""", "field 'vocab_size': must be an integer from 1 to 1048576, got 1e8")]
    [InlineData("""{"model_type": "bert", "hidden_size": 1048576}""", "field 'hidden_size': must be an integer from 1 to 16384, got 1048576")]
    [InlineData("""{"model_type": "bert", "intermediate_size": 1000000000}""", "field 'intermediate_size': must be an integer from 1 to 65536, got 1000000000")]
    [InlineData("""{"model_type": "bert", "type_vocab_size": 1000000000}""", "field 'type_vocab_size': must be an integer from 1 to 1024, got 1000000000")]
    [InlineData("""{"model_type": "bert", "max_position_embeddings": 2147483647}""", "field 'max_position_embeddings': must be an integer from 1 to 65536, got 2147483647")]
    [InlineData("""{"model_type": "bert", "max_position_embeddings": 99999999999999999999}""", "field 'max_position_embeddings': must be an integer from 1 to 65536, got 99999999999999999999")]
    [InlineData("""{"model_type": "distilbert", "hidden_dim": 3072.5}""", "field 'hidden_dim': must be an integer from 1 to 65536, got 3072.5")]
    [InlineData("""{"model_type": "distilbert", "dim": 768.0}""", "field 'dim': must be an integer from 1 to 16384, got 768.0")]
    [InlineData("""{"model_type": "bert", "num_hidden_layers": "12"}""", "field 'num_hidden_layers': must be an integer from 1 to 256, got \"12\"")]
    [InlineData("""{"model_type": "bert", "num_hidden_layers": -1}""", "field 'num_hidden_layers': must be an integer from 1 to 256, got -1")]
    [InlineData("""{"model_type": "bert", "num_hidden_layers": null}""", "field 'num_hidden_layers': must be an integer from 1 to 256, got null")]
    [InlineData("""{"model_type": "bert", "num_attention_heads": 0}""", "field 'num_attention_heads': must be an integer from 1 to 16384, got 0")]
    [InlineData("""{"model_type": "bert", "num_attention_heads": 5}""", "field 'hidden_size' (768) is not a multiple of 'num_attention_heads' (5)")]
    [InlineData("""{"model_type": "bert", "num_labels": 0}""", "field 'num_labels': must be an integer from 1 to 65536, got 0")]
    [InlineData("""{"model_type": "bert", "hidden_size": 16384, "num_attention_heads": 16, "num_hidden_layers": 256, "intermediate_size": 65536}""", "over the limit of 2147483648")]
    // values as given: 1e-300 is not "0" (what float32 makes of it)
    [InlineData("""{"model_type": "bert", "layer_norm_eps": 1e-300}""", "field 'layer_norm_eps' must be from 1.1754943508222875E-38 (float32's smallest normal number) to 1, got 1E-300")]
    [InlineData("""{"model_type": "bert", "layer_norm_eps": -1e-5}""", "field 'layer_norm_eps' must be from 1.1754943508222875E-38 (float32's smallest normal number) to 1, got -1E-05")]
    [InlineData("""{"model_type": "bert", "layer_norm_eps": 0}""", "got 0")]
    [InlineData("""{"model_type": "bert", "layer_norm_eps": 2}""", "got 2")]
    [InlineData("""{"model_type": "bert", "layer_norm_eps": 1e400}""", "field 'layer_norm_eps': 1e400 is beyond a 64-bit float")]
    [InlineData("""{"model_type": "bert", "hidden_dropout_prob": -1e999}""", "field 'hidden_dropout_prob': -1e999 is beyond a 64-bit float")]
    [InlineData("""{"model_type": "bert", "initializer_range": 5}""", "field 'initializer_range' must be from 0 to 1, got 5")]
    [InlineData("""[1]""", "not a JSON object")]
    public void InvalidConfigsNameTheField(string json, string expected)
    {
        var e = Assert.Throws<ModelFileException>(() => ModelConfig.Parse(json, "x/config.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("x/config.json: ", e.Message);
    }

    [Fact]
    public void HugeNumLabelsIsRefusedBeforeNamingTheLabels()
    {
        // num_labels without id2label makes LABEL_0... names: a billion of them took minutes and 7 GB.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => ModelConfig.Parse("""{"model_type": "bert", "num_labels": 1000000000}""", "x/config.json"));
        Assert.Contains("field 'num_labels': must be an integer from 1 to 65536, got 1000000000", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
    }

    [Theory]
    [InlineData("hidden_size", 16384, """ "num_attention_heads": 16, "num_hidden_layers": 1 """)]
    [InlineData("num_hidden_layers", 256, "")]
    [InlineData("intermediate_size", 65536, "")]
    [InlineData("vocab_size", 1048576, "")]
    [InlineData("max_position_embeddings", 65536, "")]
    [InlineData("type_vocab_size", 1024, "")]
    [InlineData("num_labels", 65536, "")]
    public void EachSizeAtItsLimitIsAccepted(string field, int value, string others)
    {
        var json = $$"""{"model_type": "bert", "{{field}}": {{value}}{{(others.Length > 0 ? ", " + others : "")}}}""";
        var config = ModelConfig.Parse(json);
        if (field == "num_labels") Assert.Equal(value, config.NumLabels);
        else Assert.Contains($"\"{field}\": {value}", config.ToJson());
    }

    [Fact]
    public void SmallestNormalLayerNormEpsIsAccepted() =>
        Assert.Equal(1.1754943508222875e-38, ((BertConfig)ModelConfig.Parse("""{"model_type": "bert", "layer_norm_eps": 1.1754943508222875e-38}""")).LayerNormEpsValue);

    [Fact]
    public void OversizedConfigFileIsRefusedBeforeReadingIt()
    {
        using var tmp = new TempDirectory("config");
        var path = tmp.File("config.json");
        using (var fs = File.Create(path)) fs.SetLength(ConfigLimits.ConfigBytes + 1);
        var e = Assert.Throws<ModelFileException>(() => ModelConfig.Load(path));
        Assert.Contains("over the 8388608-byte limit", e.Message);
    }
}

public class ConfigTieWordEmbeddingsTests
{
    [Fact]
    public void UntiedConfigGivesTheProjectorItsOwnParameter()
    {
        var tied = PretrainedModel.Create(ModelConfig.Parse("""{"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"], "vocab_size": 50, "dim": 8, "n_heads": 2, "n_layers": 1, "hidden_dim": 16}"""));
        Assert.Same(tied.Parameters["vocab_projector.weight"], tied.Parameters["distilbert.embeddings.word_embeddings.weight"]);
        var config = ModelConfig.Parse("""{"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 50, "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16, "tie_word_embeddings": false}""");
        Assert.False(config.TieWordEmbeddings);
        Assert.Contains("\"tie_word_embeddings\": false", config.ToJson());
        var untied = PretrainedModel.Create(config);
        Assert.NotSame(untied.Parameters["cls.predictions.decoder.weight"], untied.Parameters["bert.embeddings.word_embeddings.weight"]);
    }
}
