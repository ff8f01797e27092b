using DistilBert.Pipelines;
using Microsoft.Extensions.AI;

namespace DistilBert.Tests;

public sealed class PipelineEmbeddingGeneratorTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    [Fact]
    public async Task Generator_returns_one_normalised_vector_per_input_with_usage_and_metadata()
    {
        using var generator = DistilBertEmbeddingGenerator.Load(models.MaskedLm);
        IEmbeddingGenerator<string, Embedding<float>> asInterface = generator;
        var embeddings = await asInterface.GenerateAsync(["a cat sat", "dogs bark loudly at night"]);
        Assert.Equal(2, embeddings.Count);
        Assert.All(embeddings, e => Assert.Equal(16, e.Vector.Length));
        Assert.All(embeddings, e => Assert.Equal(1.0, Math.Sqrt(e.Vector.ToArray().Sum(v => (double)v * v)), 5));
        Assert.Equal(5 + 7, embeddings.Usage!.InputTokenCount); // [CLS] a cat sat [SEP] + [CLS] dogs bark loudly at night [SEP]

        var direct = EmbeddingPipeline.Load(models.MaskedLm).Embed("a cat sat");
        Assert.Equal(direct, embeddings[0].Vector.ToArray());

        var metadata = Assert.IsType<EmbeddingGeneratorMetadata>(asInterface.GetService(typeof(EmbeddingGeneratorMetadata)));
        Assert.Equal(16, metadata.DefaultModelDimensions);
        Assert.Same(generator, asInterface.GetService(typeof(DistilBertEmbeddingGenerator)));
        await Assert.ThrowsAsync<InvalidInputException>(() => asInterface.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 8 }));
    }
}
