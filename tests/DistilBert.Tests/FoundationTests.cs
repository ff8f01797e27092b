using DistilBert.Compute;
using DistilBert.Modeling;

namespace DistilBert.Tests;

public class FoundationTests
{
    [Fact]
    public void RegistryTiesAliasToOneTensor()
    {
        var reg = new ParameterRegistry();
        var emb = reg.Add("distilbert.embeddings.word_embeddings.weight", [10, 4]);
        reg.Tie("vocab_projector.weight", emb.Name);
        Assert.Same(emb, reg["vocab_projector.weight"]);
        Assert.Equal(1, reg.Count);
        Assert.Throws<ArgumentException>(() => reg.Add("vocab_projector.weight", [1]));
    }

    [Fact]
    public void ErfMatchesKnownValues()
    {
        Assert.Equal(0.8427007929497149, Activations.Erf(1.0), 14);
        Assert.Equal(-0.9953222650189527, Activations.Erf(-2.0), 14);
        Assert.Equal(0.0, Activations.Erf(0.0));
    }
}
