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

    /// <summary>The model's loss recomputed here in double from its float outputs, by HF's formulas: the finite
    /// differences then see no rounding of the loss to float, and the model's own loss value is checked too.</summary>
    static double ReferenceLoss(ModelOutput output, ModelInput input, string architecture, string? problemType)
    {
        static double CrossEntropy(float[] logits, int classes, IReadOnlyList<long> labels, long ignore)
        {
            double total = 0;
            int count = 0;
            for (int r = 0; r < labels.Count; r++)
            {
                if (labels[r] == ignore) continue;
                var row = logits.AsSpan(r * classes, classes);
                double max = double.NegativeInfinity, sum = 0;
                foreach (var v in row) max = Math.Max(max, v);
                foreach (var v in row) sum += Math.Exp(v - max);
                total += max + Math.Log(sum) - row[(int)labels[r]];
                count++;
            }
            return total / count;
        }
        if (architecture.EndsWith("ForQuestionAnswering", StringComparison.Ordinal))
        {
            // positions clamped to [0, T]; T is ignored; the mean of the start and end losses
            long[] Clamp(long[] p) => p.Select(x => Math.Clamp(x, 0, Seq)).ToArray();
            return (CrossEntropy(output["start_logits"].Data, Seq, Clamp(input.StartPositions!), Seq)
                + CrossEntropy(output["end_logits"].Data, Seq, Clamp(input.EndPositions!), Seq)) / 2;
        }
        var logits = output["logits"].Data;
        if (architecture.EndsWith("ForMaskedLM", StringComparison.Ordinal) || architecture.EndsWith("ForTokenClassification", StringComparison.Ordinal))
            return CrossEntropy(logits, logits.Length / input.Labels!.Length, input.Labels, -100);
        if (problemType == "single_label_classification") return CrossEntropy(logits, logits.Length / Batch, input.Labels!, -100);
        var y = input.FloatLabels!;
        if (problemType == "regression") return logits.Zip(y, (a, b) => ((double)a - b) * (a - b)).Average();
        return logits.Zip(y, (a, b) => Math.Max(a, 0.0) - (double)a * b + Math.Log(1 + Math.Exp(-Math.Abs((double)a)))).Average();
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
        double Loss()
        {
            model.Random.State = dropoutSeed;
            return ReferenceLoss(model.Forward(input), input, architecture, problemType);
        }
        model.Parameters.ZeroGrad();
        model.Random.State = dropoutSeed;
        var output = model.Forward(input);
        double loss = ReferenceLoss(output, input, architecture, problemType);
        Assert.True(Math.Abs(output.Loss!.Value - loss) <= 1e-6 * Math.Max(1, loss), $"{architecture}: loss {output.Loss.Value}, recomputed {loss}");
        model.Backward();

        // Every element of every trainable tensor, by central differences of the loss in double. The forward pass runs
        // in float, so the loss jitters by ~5e-7: ≈ 1e-4 in a difference at h = 5e-3 (Absolute). The h² error, large
        // where the attention of these tiny wide-init models curves strongly, is estimated from the same difference at
        // h/2 (Richardson: error of D(h) ≈ 4/3·|D(h) − D(h/2)|) and allowed on top.
        const double h = 5e-3;
        int checkedCount = 0, kinks = 0;
        var bad = new List<(double Ratio, string What)>();
        foreach (var p in model.Parameters)
        {
            if (!p.RequiresGrad) { Assert.Null(p.Grad); continue; }
            var grad = p.Grad!;
            for (int i = 0; i < p.Length; i++)
            {
                float original = p.Value[i];
                double Difference(double step)
                {
                    float up = (float)(original + step), down = (float)(original - step);
                    p.Value[i] = up; double plus = Loss();
                    p.Value[i] = down; double minus = Loss();
                    p.Value[i] = original;
                    return (plus - minus) / ((double)up - down);
                }
                double coarse = Difference(h), fine = Difference(h / 2);
                // A ReLU switching inside [θ − h, θ + h] leaves the two steps disagreeing by far more than a smooth
                // function's h² term: no derivative to check there.
                if (Math.Abs(coarse - fine) > KinkGap * (Math.Abs(fine) + 1e-2)) { kinks++; continue; }
                double truncation = 4.0 / 3 * Math.Abs(coarse - fine);
                double ratio = Math.Abs(coarse - grad[i]) / (Absolute + Relative * Math.Abs(coarse) + truncation);
                if (ratio > 1) bad.Add((ratio, $"{p.Name}[{i}] analytic {grad[i]:E4}, numeric {coarse:E4} (at h/2 {fine:E4})"));
                checkedCount++;
            }
        }
        Assert.True(bad.Count == 0, $"{architecture}: {bad.Count} of {checkedCount} elements off:\n" + string.Join("\n", bad.OrderByDescending(b => b.Ratio).Take(8).Select(b => $"{b.Ratio:F2}× {b.What}")));
        Assert.True(checkedCount >= 1000 && kinks <= checkedCount / 100, $"{checkedCount} elements checked, {kinks} skipped at ReLU kinks");
    }

    const double Absolute = 1e-4, Relative = 2e-3, KinkGap = 0.1;

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
