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
}
