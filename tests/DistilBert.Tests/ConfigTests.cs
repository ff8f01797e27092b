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
    [InlineData("""{"model_type": "distilbert", "n_layers": 0}""", "field 'n_layers' must be positive")]
    [InlineData("""{"model_type": "distilbert", "activation": "swish"}""", "field 'activation'")]
    [InlineData("""{"model_type": "bert", "hidden_act": "tanh"}""", "field 'hidden_act'")]
    [InlineData("""{"model_type": "bert", "hidden_size": "big"}""", "field 'hidden_size': expected an integer")]
    [InlineData("""{"model_type": "gpt2"}""", "field 'model_type'")]
    [InlineData("""{"model_type": "distilbert", "vocab_size": -1}""", "field 'vocab_size' must be positive")]
    [InlineData("""[1]""", "not a JSON object")]
    public void InvalidConfigsNameTheField(string json, string expected)
    {
        var e = Assert.Throws<ModelFileException>(() => ModelConfig.Parse(json, "x/config.json"));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("x/config.json: ", e.Message);
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
