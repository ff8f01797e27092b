using DistilBert.Modeling;
using DistilBert.Pipelines;

namespace DistilBert.Tests;

/// <summary>ForwardOptions.LogitPositions: MLM logits only at the rows asked for (fill-mask's [MASK] rows), with the
/// projector streamed from its plain weight, never packed, against the full-logits path.</summary>
public sealed class FillMaskLogitRowsTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    const string DistilBertMlm = """{"model_type": "distilbert", "vocab_size": 301, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 40, "max_position_embeddings": 16}""";
    const string BertMlm = """{"model_type": "bert", "vocab_size": 301, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 40, "max_position_embeddings": 16}""";
    const string UntiedDistilBertMlm = """{"model_type": "distilbert", "vocab_size": 301, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 40, "max_position_embeddings": 16, "tie_word_embeddings": false}""";

    static TransformerModel Create(string configJson, string architecture, ulong seed = 5)
    {
        var config = ModelConfig.Parse(configJson);
        config.InitializerRange = 0.5; // decisive logits: top-k orders far apart from float noise
        var model = PretrainedModel.Create(config, architecture, seed);
        model.Eval();
        return model;
    }

    static ModelInput RaggedBatch() => ModelInput.FromSequences([[2, 17, 40, 3], [2, 250, 9, 11, 300, 3], [5]]);

    static void AssertRowsClose(OutputTensor full, int[] positions, OutputTensor rows, string what)
    {
        int vocab = full.Shape[^1];
        Assert.Equal([positions.Length, vocab], rows.Shape);
        for (int r = 0; r < positions.Length; r++)
            for (int v = 0; v < vocab; v++)
            {
                float expected = full.Data[positions[r] * vocab + v], actual = rows.Data[r * vocab + v];
                Assert.True(MathF.Abs(expected - actual) <= 1e-5f * (1 + MathF.Abs(expected)),
                    $"{what}: logits row {r} (token row {positions[r]}), token {v}: {actual} vs full {expected}");
            }
    }

    [Theory]
    [InlineData(DistilBertMlm, "DistilBertForMaskedLM")]
    [InlineData(BertMlm, "BertForMaskedLM")]
    [InlineData(UntiedDistilBertMlm, "DistilBertForMaskedLM")]
    public void LogitsAtPositionsAreTheFullLogitsRows(string configJson, string architecture)
    {
        var model = Create(configJson, architecture);
        var full = model.Forward(RaggedBatch())["logits"];
        Assert.Equal(new[] { 11, 301 }, full.Shape);
        int[][] cases =
        [
            [1],
            [7, 0, 3, 3, 10],                                              // any order, duplicates
            [.. Enumerable.Range(0, 11), .. Enumerable.Range(0, 11)],     // 22 rows: past the kernel's few-row sweet spot
        ];
        foreach (var positions in cases)
            AssertRowsClose(full, positions, model.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = positions })["logits"], architecture);

        // a padded HF batch: row b · seq + i
        long[] ids = [2, 17, 40, 3, 0, 0, 2, 250, 9, 11, 300, 3];
        long[] mask = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
        var fullPadded = model.Forward(ModelInput.FromPadded(ids, 2, 6, mask))["logits"];
        Assert.Equal(new[] { 2, 6, 301 }, fullPadded.Shape);
        int[] padded = [2, 8, 4];
        var rows = model.Forward(ModelInput.FromPadded(ids, 2, 6, mask), new ForwardOptions { LogitPositions = padded })["logits"];
        AssertRowsClose(new OutputTensor(fullPadded.Data, [12, 301]), padded, rows, architecture + " padded");

        var none = model.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = [] })["logits"];
        Assert.Equal(new[] { 0, 301 }, none.Shape);
    }

    [Theory]
    [InlineData(DistilBertMlm)]
    [InlineData(UntiedDistilBertMlm)]
    public void InferenceOnlyModelKeepsTheProjectorUnpackedUntilAFullLogitsForward(string configJson)
    {
        var normal = (DistilBertForMaskedLM)Create(configJson, "DistilBertForMaskedLM");
        var prepared = (DistilBertForMaskedLM)Create(configJson, "DistilBertForMaskedLM");
        prepared.PrepareForInference();
        var projector = prepared.Task.Head.Projector;
        Assert.False(projector.HasPackedWeight); // the warm-up ran the head at one row without packing it
        Assert.False(projector.Weight.IsReleased);
        Assert.True(prepared.Task.Head.Transform.HasPackedWeight); // the rest of the head is packed as before
        Assert.True(prepared.Task.Head.Transform.Weight.IsReleased);

        int[] positions = [1, 9, 4];
        var expectedFull = normal.Forward(RaggedBatch())["logits"];
        var atRows = prepared.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = positions })["logits"];
        AssertRowsClose(expectedFull, positions, atRows, "inference-only");
        Assert.False(projector.HasPackedWeight);

        // a later full-logits forward packs the projector on first use, as before, with bit-identical outputs
        var full = prepared.Forward(RaggedBatch())["logits"];
        Assert.True(projector.HasPackedWeight);
        Assert.Equal(expectedFull.Data, full.Data);
        // tied: the embedding lookup still reads the plain copy; untied: the packed copy became the only one
        bool tied = projector.Weight.Aliases.Count > 0;
        Assert.Equal(!tied, projector.Weight.IsReleased);
        // and the rows path then neither re-materialises a released projector nor packs anything new
        var again = prepared.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = positions })["logits"];
        AssertRowsClose(expectedFull, positions, again, "after a full forward");
        Assert.Equal(!tied, projector.Weight.IsReleased);
    }

    [Fact]
    public void BadLogitPositionsAreClearErrors()
    {
        var mlm = Create(DistilBertMlm, "DistilBertForMaskedLM");
        var e = Assert.Throws<InvalidInputException>(() => mlm.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = [0, 11] }));
        Assert.Contains("LogitPositions[1] = 11", e.Message);
        Assert.Contains("[0, 11)", e.Message);
        e = Assert.Throws<InvalidInputException>(() => mlm.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = [-1] }));
        Assert.Contains("LogitPositions[0] = -1", e.Message);

        var labelled = RaggedBatch();
        labelled.Labels = Enumerable.Repeat(-100L, 11).ToArray();
        e = Assert.Throws<InvalidInputException>(() => mlm.Forward(labelled, new ForwardOptions { LogitPositions = [0] }));
        Assert.Contains("labels", e.Message);

        mlm.Train(dropout: false);
        e = Assert.Throws<InvalidInputException>(() => mlm.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = [0] }));
        Assert.Contains("inference", e.Message);

        var classifier = PretrainedModel.Create(ModelConfig.Parse(DistilBertMlm), "DistilBertForSequenceClassification", 1);
        classifier.Eval();
        e = Assert.Throws<InvalidInputException>(() => classifier.Forward(RaggedBatch(), new ForwardOptions { LogitPositions = [0] }));
        Assert.Contains("DistilBertForSequenceClassification", e.Message);
        Assert.False(classifier.SupportsLogitPositions);
        Assert.True(mlm.SupportsLogitPositions);
    }

    [Fact]
    public void FillMaskAtTheMaskRowsEqualsTopKOfTheFullLogits()
    {
        var pipeline = FillMaskPipeline.Load(models.MaskedLm, new PipelineSettings { BatchSize = 2 });
        string[] texts = ["The capital of France is [MASK].", "[MASK] and [MASK] went up the hill", "a [MASK] film", "it was [MASK] , truly [MASK] ."];
        string[] targets = ["paris", "good", "the"];
        foreach (var targetWords in new[] { null, targets })
        {
            var outputs = pipeline.Predict(texts, topK: 4, targetWords).ToList();
            Assert.Equal(texts.Length, outputs.Count);
            int[]? targetIds = targetWords?.Select(t => pipeline.Tokenizer.TokenToId(t)!.Value).ToArray();
            for (int i = 0; i < texts.Length; i++)
            {
                // the full-logits path: every token's logits, then the rows at the masks
                var ids = pipeline.Tokenizer.Encode(texts[i]).Ids;
                var full = pipeline.Model.Forward(ModelInput.FromSequences([ids]))["logits"];
                int vocab = full.Shape[^1];
                var maskPositions = Enumerable.Range(0, ids.Length).Where(p => ids[p] == pipeline.Tokenizer.MaskId).ToArray();
                Assert.Equal(maskPositions.Length, outputs[i].Masks.Count);
                for (int m = 0; m < maskPositions.Length; m++)
                {
                    var expected = FillMaskDecoder.TopK(full.Data.AsSpan(maskPositions[m] * vocab, vocab), 4, targetIds);
                    var actual = outputs[i].Masks[m];
                    Assert.Equal(expected.Select(c => c.Token), actual.Select(r => r.Token));
                    for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j].Score, actual[j].Score, 1e-6f);
                }
            }
        }
    }

    [Fact]
    public void FillMaskRefusesAModelWithoutAnMlmHead()
    {
        var pipeline = FillMaskPipeline.Load(models.MaskedLm);
        var config = ModelConfig.Parse(DistilBertMlm.Replace("\"vocab_size\": 301", "\"vocab_size\": 30522"));
        var classifier = PretrainedModel.Create(config, "DistilBertForSequenceClassification", 1);
        var e = Assert.Throws<InvalidInputException>(() => new FillMaskPipeline(pipeline.Tokenizer, classifier));
        Assert.Contains("ForMaskedLM", e.Message);
    }
}
