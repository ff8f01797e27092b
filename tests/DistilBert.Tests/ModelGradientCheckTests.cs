using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>
/// Finite-difference checks of Backward for every architecture and head (and so for every layer and loss inside them),
/// on a padded batch with masked keys and with dropout active (the RNG is re-seeded before each forward, so the masks
/// are the same for every evaluation).
/// </summary>
public class ModelGradientCheckTests
{
    const int Batch = 2, Seq = 5;

    static ModelConfig Config(string model, string extra = "") => ModelConfig.Parse(model == "distilbert"
        ? $$"""{"model_type": "distilbert", "vocab_size": 20, "dim": 8, "n_layers": 2, "n_heads": 2, "hidden_dim": 12, "max_position_embeddings": 10, "initializer_range": 0.5, "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "qa_dropout": 0.1 {{extra}}}"""
        : $$"""{"model_type": "bert", "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 12, "max_position_embeddings": 10, "initializer_range": 0.5, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1 {{extra}}}""");

    static ModelInput Input(string architecture, int numLabels, string? problemType)
    {
        // No pad id (0) in the batch: the pad row's lookup gradient is zeroed on purpose, which a finite difference would see.
        long[] ids = [3, 7, 1, 19, 4, 2, 5, 5, 11, 6];
        long[] mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
        long[] types = [0, 0, 1, 1, 1, 0, 0, 1, 1, 1];
        var input = ModelInput.FromPadded(ids, Batch, Seq, mask, architecture.StartsWith("Bert", StringComparison.Ordinal) ? types : null);
        if (architecture.EndsWith("ForMaskedLM", StringComparison.Ordinal)) input.Labels = [-100, 7, -100, 2, -100, 9, -100, -100, 3, -100];
        else if (architecture.EndsWith("ForTokenClassification", StringComparison.Ordinal)) input.Labels = [-100, 1, 2, 0, 1, 2, 2, 0, -100, -100];
        else if (architecture.EndsWith("ForQuestionAnswering", StringComparison.Ordinal)) { input.StartPositions = [1, 3]; input.EndPositions = [3, 9]; }
        else if (problemType == "single_label_classification") input.Labels = [2, 0];
        else if (problemType == "regression") input.FloatLabels = [0.5f, -1.25f];
        else input.FloatLabels = Enumerable.Range(0, Batch * numLabels).Select(i => (float)(i % 2)).ToArray();
        return input;
    }

    [Theory]
    [InlineData("distilbert", "DistilBertForMaskedLM", null, "")]
    [InlineData("distilbert", "DistilBertForMaskedLM", null, ", \"activation\": \"relu\", \"sinusoidal_pos_embds\": true")]
    [InlineData("distilbert", "DistilBertForSequenceClassification", "single_label_classification", ", \"num_labels\": 3")]
    [InlineData("distilbert", "DistilBertForSequenceClassification", "regression", ", \"num_labels\": 1")]
    [InlineData("distilbert", "DistilBertForSequenceClassification", "multi_label_classification", ", \"num_labels\": 3, \"problem_type\": \"multi_label_classification\"")]
    [InlineData("distilbert", "DistilBertForTokenClassification", null, ", \"num_labels\": 3")]
    [InlineData("distilbert", "DistilBertForQuestionAnswering", null, "")]
    [InlineData("bert", "BertForMaskedLM", null, "")]
    [InlineData("bert", "BertForSequenceClassification", "single_label_classification", ", \"num_labels\": 3")]
    [InlineData("bert", "BertForSequenceClassification", "multi_label_classification", ", \"num_labels\": 2, \"problem_type\": \"multi_label_classification\"")]
    [InlineData("bert", "BertForTokenClassification", null, ", \"num_labels\": 3")]
    [InlineData("bert", "BertForQuestionAnswering", null, "")]
    public void BackwardMatchesFiniteDifferences(string modelType, string architecture, string? problemType, string extra)
    {
        var config = Config(modelType, extra);
        var model = PretrainedModel.Create(config, architecture, seed: 7);
        var input = Input(architecture, config.NumLabels, problemType);
        model.Train(dropout: true);
        const ulong dropoutSeed = 1234;
        float Loss()
        {
            model.Random.State = dropoutSeed;
            return model.Forward(input).Loss!.Value;
        }
        model.Parameters.ZeroGrad();
        Loss();
        model.Backward();

        var rng = new Random(5);
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            if (!p.RequiresGrad) { Assert.Null(p.Grad); continue; }
            var grad = p.Grad!;
            for (int sample = 0; sample < 4; sample++)
            {
                int i = rng.Next(p.Length);
                float original = p.Value[i];
                const float h = 2e-3f;
                p.Value[i] = original + h; double plus = Loss();
                p.Value[i] = original - h; double minus = Loss();
                p.Value[i] = original;
                double numeric = (plus - minus) / (2 * h);
                double tol = 2e-3 + 3e-2 * Math.Abs(numeric);
                Assert.True(Math.Abs(numeric - grad[i]) <= tol, $"{architecture}: {p.Name}[{i}] analytic {grad[i]}, numeric {numeric}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount >= 4 * 20);
    }

    [Fact]
    public void GradientAccumulatesAcrossBackwardCallsWithLossScale()
    {
        var config = Config("distilbert", ", \"num_labels\": 3");
        var model = PretrainedModel.Create(config, "DistilBertForSequenceClassification", seed: 3);
        var input = Input("DistilBertForSequenceClassification", 3, "single_label_classification");
        model.Train(dropout: false);
        model.Parameters.ZeroGrad();
        model.Forward(input); model.Backward();
        var once = model.Parameters.Select(p => p.Grad!.ToArray()).ToList();
        model.Parameters.ZeroGrad();
        model.Forward(input); model.Backward(0.5f);
        model.Forward(input); model.Backward(0.5f);
        var twice = model.Parameters.Select(p => p.Grad!).ToList();
        for (int t = 0; t < once.Count; t++)
            for (int i = 0; i < once[t].Length; i++)
                Assert.Equal(once[t][i], twice[t][i], 1e-5f + 1e-4f * Math.Abs(once[t][i]));
    }
}

public class ModelActivationDerivativeTests
{
    [Fact]
    public void FastGeluDerivativeMatchesTheExactOne()
    {
        var x = Enumerable.Range(-4000, 8001).Select(i => i / 500f).Concat([0f, 1e-30f, -1e-30f, 40f, -40f, 0.5f, -0.5f, 0.4999f]).ToArray();
        var y = new float[x.Length];
        DistilBert.Compute.Activations.Gelu(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double exact = DistilBert.Compute.Activations.GeluDerivative(x[i]);
            float fast = DistilBert.Modeling.Layers.ActivationFunction.GeluDerivative(x[i], y[i]);
            Assert.True(Math.Abs(fast - exact) <= 5e-6, $"x = {x[i]}: {fast} vs {exact}");
        }
    }
}
