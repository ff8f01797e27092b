using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>MLM pre-training computes vocabulary logits only at labelled positions: the loss and every gradient must not change.</summary>
public class ModelSparseMlmTests
{
    [Theory]
    [InlineData("""{"model_type": "distilbert", "vocab_size": 50, "dim": 16, "n_layers": 2, "n_heads": 2, "hidden_dim": 24, "max_position_embeddings": 12}""", "DistilBertForMaskedLM")]
    [InlineData("""{"model_type": "bert", "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 24, "max_position_embeddings": 12}""", "BertForMaskedLM")]
    public void LogitsOnlyAtLabelsGiveTheSameLossAndGradients(string configJson, string architecture)
    {
        var config = ModelConfig.Parse(configJson);
        var model = PretrainedModel.Create(config, architecture, seed: 11);
        long[] ids = [3, 17, 41, 9, 22, 5, 8, 30, 12, 6];
        long[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        long[] labels = [-100, 17, -100, -100, 22, -100, -100, 30, -100, -100];
        model.Train(dropout: false);

        (float Loss, Dictionary<string, float[]> Grads, bool HasLogits) Step(bool sparse)
        {
            model.MaskedLmLogitsOnlyAtLabels = sparse;
            model.Parameters.ZeroGrad();
            var input = ModelInput.FromPadded(ids, 2, 5, mask);
            input.Labels = labels;
            var output = model.Forward(input);
            model.Backward();
            return (output.Loss!.Value, model.Parameters.ToDictionary(p => p.Name, p => (float[])(p.Grad ?? []).Clone()), output.TryGet("logits", out _));
        }

        var full = Step(sparse: false);
        var sparse = Step(sparse: true);
        Assert.True(full.HasLogits);
        Assert.False(sparse.HasLogits);
        Assert.Equal(full.Loss, sparse.Loss, 1e-5f);
        foreach (var (name, g) in full.Grads)
        {
            float max = g.Length == 0 ? 0 : g.Max(MathF.Abs);
            var s = sparse.Grads[name];
            for (int i = 0; i < g.Length; i++)
                Assert.True(Math.Abs(g[i] - s[i]) <= 1e-4 * max + 1e-6, $"{name}[{i}]: {s[i]} vs {g[i]}");
        }

        // Eval mode is untouched: full logits, as HF gives them.
        model.Eval();
        var input2 = ModelInput.FromPadded(ids, 2, 5, mask);
        Assert.True(model.Forward(input2).TryGet("logits", out _));
    }
}
