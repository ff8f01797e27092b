using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Distillation;

/// <summary>Settings of general distillation; defaults follow HF's distillation project (train.py and its README command).</summary>
public sealed record GeneralDistillationOptions
{
    public DistillationLossOptions Loss { get; init; } = new();
    public MlmMaskingOptions Masking { get; init; } = new();
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    public int Epochs { get; init; } = 1;
    /// <summary>Stop after this many optimizer steps (overrides <see cref="Epochs"/> when smaller).</summary>
    public int? MaxSteps { get; init; }
    public double LearningRate { get; init; } = 5e-4;
    public double WarmupRatio { get; init; } = 0.05;
    public double MaxGradNorm { get; init; } = 5.0;
    public double WeightDecay { get; init; }
    public double AdamEps { get; init; } = 1e-6;
    public int Seed { get; init; } = 56;
    /// <summary>Write a resumable checkpoint every N optimizer steps (0: at each epoch end and at the end).</summary>
    public int SaveEvery { get; init; }

    /// <summary>The training-loop settings these options carry (optimizer, schedule, clipping, checkpoints).</summary>
    public TrainingOptions ToTrainingOptions() => new()
    {
        BatchSize = BatchSize, GradientAccumulation = GradientAccumulation, Epochs = Epochs, MaxSteps = MaxSteps,
        LearningRate = LearningRate, WarmupRatio = WarmupRatio, MaxGradNorm = MaxGradNorm,
        WeightDecay = WeightDecay, Eps = AdamEps, Seed = Seed, SaveEvery = SaveEvery,
    };

    public void Validate()
    {
        ToTrainingOptions().Validate();
        if (!(Loss.Temperature > 0)) throw new InvalidInputException($"temperature must be positive, got {Loss.Temperature}");
        if (Loss.AlphaCe < 0 || Loss.AlphaMlm < 0 || Loss.AlphaCos < 0) throw new InvalidInputException("the loss weights (AlphaCe, AlphaMlm, AlphaCos) must be ≥ 0");
        if (Loss.AlphaCe + Loss.AlphaMlm + Loss.AlphaCos <= 0) throw new InvalidInputException("at least one loss weight must be positive");
    }
}

/// <summary>
/// The general-distillation micro-batch: dynamic masking of the batch's sequences (a fresh draw per batch, derived from
/// the batch's position so a resumed run masks identically), teacher forward in eval mode, student forward/backward on
/// the triple loss. Ragged batches: padding costs nothing and needs no attention mask.
/// </summary>
public sealed class GeneralDistillationTask : ITrainingTask
{
    readonly TransformerModel _teacher;
    readonly DistillationCorpus _corpus;
    readonly MlmMasking _masking;
    readonly DistillationLossOptions _loss;

    public TransformerModel Teacher => _teacher;
    public TransformerModel Model { get; }
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }
    /// <summary>The triple loss's components of the last micro-batch (for displays; the loop logs the total).</summary>
    public DistillationLossValue LastLoss { get; private set; }

    public GeneralDistillationTask(TransformerModel teacher, TransformerModel student, DistillationCorpus corpus,
        IEnumerable<int> specialTokenIds, int maskTokenId, DistillationLossOptions loss, MlmMaskingOptions masking,
        IReadOnlyList<string>? filesToCopy = null)
    {
        if (teacher.Head != ModelHead.MaskedLM)
            throw new InvalidInputException($"the teacher ({teacher.ArchitectureName}) has no MLM head: general distillation needs a masked-LM teacher");
        if (student.Head != ModelHead.MaskedLM)
            throw new InvalidInputException($"the student ({student.ArchitectureName}) has no MLM head: initialise it with init-student from an MLM teacher");
        TripleLossStep.CheckCompatible(teacher, student, loss);
        if (corpus.TokenCounts.Length != student.Config.VocabSize)
            throw new InvalidInputException($"the tokenizer has {corpus.TokenCounts.Length} tokens but the models' vocab_size is {student.Config.VocabSize}");
        _teacher = teacher;
        Model = student;
        _corpus = corpus;
        _loss = loss;
        _masking = new MlmMasking(corpus.TokenCounts, specialTokenIds, maskTokenId, masking);
        ExampleLengths = corpus.Sequences.Select(s => s.Length).ToArray();
        FilesToCopy = filesToCopy ?? [];
    }

    /// <summary>The masking draw of a batch depends only on (seed, epoch, batch index).</summary>
    public static Random BatchRandom(int seed, int epoch, int batchIndex) => new(HashCode32(seed, epoch, batchIndex));

    static int HashCode32(int a, int b, int c)
    {
        unchecked
        {
            uint h = 2166136261;
            foreach (var v in new[] { a, b, c }) { h ^= (uint)v; h *= 16777619; h ^= h >> 15; }
            return (int)(h & 0x7FFFFFFF);
        }
    }

    /// <summary>Forward/backward of <paramref name="batch"/> (corpus indices), gradients × <paramref name="lossScale"/>.</summary>
    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        var random = BatchRandom(position.Seed, position.Epoch, position.BatchIndex);
        var sequences = new List<int[]>(batch.Length);
        int total = 0;
        foreach (var i in batch) { var s = (int[])_corpus.Sequences[i].Clone(); sequences.Add(s); total += s.Length; }
        var ids = new int[total];
        int at = 0;
        foreach (var s in sequences) { s.CopyTo(ids, at); at += s.Length; }
        var labels = new int[total];
        var isReal = new bool[total];
        isReal.AsSpan().Fill(true);
        _masking.Apply(ids, isReal, labels, random);
        at = 0;
        foreach (var s in sequences) { ids.AsSpan(at, s.Length).CopyTo(s); at += s.Length; }

        var input = ModelInput.FromSequences(sequences);
        var lmLabels = Array.ConvertAll(labels, l => (long)l);
        LastLoss = TripleLossStep.Run(_teacher, Model, input, [], lmLabels, _loss, lossScale);
        return new BatchResult(LastLoss.Loss, total,
            new Dictionary<string, double> { ["loss_ce"] = LastLoss.LossCe, ["loss_mlm"] = LastLoss.LossMlm, ["loss_cos"] = LastLoss.LossCos });
    }

    /// <summary>General distillation has no held-out metric: the run keeps its last student.</summary>
    public EvaluationResult? Evaluate() => null;
}

/// <summary>
/// General distillation (DistilBERT's pre-training): a masked-LM teacher teaches a DistilBERT MLM student on raw text with
/// the triple loss; AdamW (eps 1e-6, no weight decay), linear warmup then decay, gradient clipping at 5.0, as HF's
/// distiller. Batches are grouped by length; gradient accumulation sums micro-batches before each step.
/// </summary>
public sealed class GeneralDistiller
{
    public GeneralDistillationTask Task { get; }
    public GeneralDistillationOptions Options { get; }

    public GeneralDistiller(GeneralDistillationTask task, GeneralDistillationOptions options)
    {
        options.Validate();
        Task = task;
        Options = options;
    }

    /// <summary>The training-loop settings: HF distiller's optimizer (AdamW eps 1e-6, no decay), warmup, clipping.</summary>
    public TrainingOptions TrainingOptions => Options.ToTrainingOptions();

    /// <summary>
    /// Distils into <paramref name="runDirectory"/> with the shared training loop: metrics.jsonl, atomic resumable
    /// checkpoints (every <see cref="GeneralDistillationOptions.SaveEvery"/> steps and at each epoch end), and at the end
    /// the folder itself is the student's HF model folder.
    /// </summary>
    public TrainingResult Run(string runDirectory, bool resume = false, ITrainingObserver? observer = null, CancellationToken cancellation = default)
    {
        Task.Teacher.PrepareForInference();
        return new Trainer(Task, TrainingOptions, runDirectory, observer).Run(resume, cancellation);
    }

    public TrainingPlan Plan() => new Trainer(Task, TrainingOptions, Path.GetTempPath()).Plan();
}
