using DistilBert.Modeling;

namespace DistilBert.Training;

/// <summary>Where a micro-batch sits in the run; a task derives any per-batch randomness (MLM masking) from it, so a
/// resumed run draws exactly the same.</summary>
public readonly record struct BatchPosition(int Epoch, int BatchIndex, int Seed);

/// <summary>What one forward + backward of a micro-batch produced; <paramref name="Components"/> are extra figures to log
/// per step (a distillation loss's terms...), averaged over the step's micro-batches like the loss.</summary>
public readonly record struct BatchResult(double Loss, long Tokens, IReadOnlyDictionary<string, double>? Components = null);

/// <summary>Scores of one evaluation; <see cref="MainMetric"/> (a key of <see cref="Metrics"/>) decides the best checkpoint.</summary>
public sealed record EvaluationResult(IReadOnlyDictionary<string, double> Metrics, string MainMetric, bool HigherIsBetter = true)
{
    public double Main => Metrics[MainMetric];

    /// <summary>A NaN or infinite score (a loss over no targets) is never the best: it would be no benchmark for later ones.</summary>
    public bool IsBetterThan(double? other) =>
        double.IsFinite(Main) && (other is not { } o || (HigherIsBetter ? Main > o : Main < o));
}

/// <summary>
/// What the <see cref="Trainer"/> loop drives: a model to train and examples to feed it. Fine-tuning tasks and
/// distillation both implement it; the loop owns batching, accumulation, clipping, the schedule, AdamW, evaluation,
/// checkpoints and logs.
/// </summary>
public interface ITrainingTask
{
    /// <summary>The model whose parameters the optimizer updates and checkpoints save.</summary>
    TransformerModel Model { get; }
    /// <summary>[examples] token count of each training example (for length-grouped batches and throughput).</summary>
    IReadOnlyList<int> ExampleLengths { get; }
    /// <summary>Files copied into every saved model folder (tokenizer files of the source model).</summary>
    IReadOnlyList<string> FilesToCopy { get; }
    /// <summary>
    /// Forward and backward of the examples <paramref name="batch"/> in training mode, adding
    /// <paramref name="lossScale"/>·∂loss/∂p into the gradients. Returns the (unscaled) loss.
    /// </summary>
    BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position);
    /// <summary>Scores the current model (the loop has put it in eval mode), or null when there is no evaluation data.</summary>
    EvaluationResult? Evaluate();
}
