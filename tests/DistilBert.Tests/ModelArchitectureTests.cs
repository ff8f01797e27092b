using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>The one mapping between HF class names and (family, head), and the models built from it.</summary>
public class ModelArchitectureTests
{
    public static TheoryData<string> SupportedNames => [.. PretrainedModel.SupportedArchitectures];

    [Theory]
    [MemberData(nameof(SupportedNames))]
    public void EveryArchitectureNameRoundTripsThroughItsModel(string name)
    {
        var architecture = ModelArchitecture.Parse(name);
        Assert.Equal(name, architecture.Name);
        // The class built for the name reports the same family and head it was parsed into.
        var config = ModelConfig.Load(Fixtures.Golden("models", architecture.Family == ModelFamily.Bert ? "bert_seqcls" : "distilbert_seqcls"));
        Assert.Equal(architecture.Family, ModelArchitecture.FamilyOf(config));
        var model = PretrainedModel.Create(config, name);
        Assert.Equal(architecture, model.Architecture);
        Assert.Equal(name, model.ArchitectureName);
        Assert.Equal(architecture.Head, model.Head);
        Assert.Equal(architecture.Family == ModelFamily.Bert, model.UsesTokenTypes);
        Assert.Equal(architecture, PretrainedModel.ArchitectureOf(config, name));
        Assert.Equal(model.Parameters.ElementCount, PretrainedModel.ParameterCount(config, name));
        Assert.Equal(name, PretrainedModel.Create(config, architecture.Head).ArchitectureName);
    }

    [Fact]
    public void EveryFamilyAndHeadHasOneDistinctName()
    {
        var pairs = Enum.GetValues<ModelFamily>().SelectMany(f => Enum.GetValues<ModelHead>().Select(h => new ModelArchitecture(f, h))).ToList();
        Assert.Equal(pairs, ModelArchitecture.All);
        Assert.Equal(pairs.Count, pairs.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(pairs.Select(p => p.Name), PretrainedModel.SupportedArchitectures);
        Assert.Equal("DistilBertModel", new ModelArchitecture(ModelFamily.DistilBert, ModelHead.Base).Name);
        Assert.Equal("BertForQuestionAnswering", new ModelArchitecture(ModelFamily.Bert, ModelHead.QuestionAnswering).Name);
    }

    [Theory]
    [InlineData("BertForPreTraining")]
    [InlineData("RobertaForSequenceClassification")]
    [InlineData("distilbertmodel")]
    [InlineData("ForMaskedLM")]
    [InlineData("")]
    public void AnUnknownNameIsRefusedWithTheSupportedOnes(string name)
    {
        Assert.False(ModelArchitecture.TryParse(name, out _));
        var e = Assert.Throws<InvalidInputException>(() => ModelArchitecture.Parse(name));
        Assert.StartsWith($"'{name}' is not a supported architecture (supported: DistilBertModel, DistilBertForMaskedLM,", e.Message);
        var config = ModelConfig.Load(Fixtures.Golden("models", "bert_seqcls"));
        var unsupported = Assert.Throws<ModelFileException>(() => PretrainedModel.ArchitectureOf(config, name));
        Assert.Contains($"'architectures': '{name}' is not supported for model_type 'bert'", unsupported.Message);
    }

    [Fact]
    public void ConfigWithoutArchitecturesMeansItsFamilysBaseModel()
    {
        var config = ModelConfig.Load(Fixtures.Golden("models", "bert_seqcls"));
        config.Architectures = null;
        Assert.Equal("BertModel", ModelArchitecture.NameIn(config));
        Assert.Equal(new ModelArchitecture(ModelFamily.Bert, ModelHead.Base), PretrainedModel.ArchitectureOf(config));
    }
}
