using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Tokenization;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>The shared loop: learning, resume = uninterrupted, atomic checkpoints, accumulation, divergence, output folder.</summary>
public sealed class TrainerLoopTests : IDisposable
{
    readonly TempDirectory _tmp = new("trainer");
    static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.FromVocabFile(Fixtures.Golden("tokenizer", "vocab.txt")));
    static readonly string[] Positive = ["good", "great", "nice", "fine", "happy", "lovely"];
    static readonly string[] Negative = ["bad", "awful", "poor", "sad", "ugly", "nasty"];
    static readonly string[] Filler = ["the", "movie", "film", "was", "really", "quite", "very", "story", "plot", "a"];

    public void Dispose() => _tmp.Dispose();

    string Dir(string name) => _tmp.File(name);

    /// <summary>Toy sentiment: four filler words and one polar word at a random place (every text is 7 tokens).</summary>
    internal static List<LabeledText> ToyData(int count, int seed)
    {
        var random = new Random(seed);
        var data = new List<LabeledText>();
        for (int i = 0; i < count; i++)
        {
            int label = i % 2;
            var words = Enumerable.Range(0, 4).Select(_ => Filler[random.Next(Filler.Length)]).ToList();
            words.Insert(random.Next(5), (label == 1 ? Positive : Negative)[random.Next(6)]);
            data.Add(new LabeledText(string.Join(' ', words), null, label));
        }
        return data;
    }

    internal static TransformerModel TinyClassifier(ulong seed = 5, double dropout = 0.1)
    {
        var config = new DistilBertConfig
        {
            Dim = 16, NLayers = 1, NHeads = 2, HiddenDim = 32, MaxPositionEmbeddings = 32, VocabSize = 30522,
            Dropout = dropout, AttentionDropout = dropout, SeqClassifDropout = dropout,
        };
        config.Id2Label = new SortedDictionary<int, string> { [0] = "NEGATIVE", [1] = "POSITIVE" };
        config.Label2Id = new Dictionary<string, int> { ["NEGATIVE"] = 0, ["POSITIVE"] = 1 };
        return PretrainedModel.Create(config, "DistilBertForSequenceClassification", seed);
    }

    internal static ClassificationTraining Task(TransformerModel model, List<LabeledText> train, List<LabeledText>? eval = null) =>
        new(model, Tokenizer.Value, train,
            eval?.Select((e, i) => new TextExample(i + 1, e.Text, null, e.Label == 1 ? "POSITIVE" : "NEGATIVE")).ToList(), maxLength: 16);

    static List<double> Losses(string runDir) => MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName)).Steps.Select(s => s.Loss).ToList();

    [Fact]
    public void LossGoesDownAndTheToyTaskIsLearned()
    {
        var model = TinyClassifier();
        var options = new TrainingOptions { Epochs = 4, BatchSize = 8, LearningRate = 1e-2, WarmupSteps = 4, WeightDecay = 0.01 };
        var result = new Trainer(Task(model, ToyData(96, 1), ToyData(40, 2)), options, Dir("learn")).Run();
        var losses = Losses(Dir("learn"));
        Assert.Equal(48, result.GlobalStep);
        Assert.Equal(48, losses.Count);
        Assert.True(losses.TakeLast(12).Average() < 0.6 * losses.Take(12).Average(), $"loss {losses.Take(12).Average()} → {losses.TakeLast(12).Average()}");
        Assert.Equal(4, result.Evaluations.Count);
        Assert.True(result.BestMetric >= 0.9, $"best accuracy {result.BestMetric}");
        Assert.True(File.Exists(Path.Combine(Dir("learn"), Trainer.BestFolderName, "model.safetensors")));
    }

    [Fact]
    public void ResumeAfterACrashRepeatsTheUninterruptedRunExactly()
    {
        var options = new TrainingOptions { Epochs = 2, BatchSize = 4, GradientAccumulation = 2, LearningRate = 2e-3, WarmupSteps = 2, WeightDecay = 0.01, SaveEvery = 3, Seed = 7 };
        var train = ToyData(36, 3); // 9 batches: 5 steps per epoch, the last one a single batch
        var eval = ToyData(8, 4);
        var straight = TinyClassifier();
        new Trainer(Task(straight, train, eval), options, Dir("straight")).Run();

        var crashed = TinyClassifier();
        var crashing = new Trainer(Task(crashed, train, eval), options, Dir("resumed")) { AfterStep = s => { if (s == 8) throw new TimeoutException("simulated crash"); } };
        Assert.Throws<TimeoutException>(() => crashing.Run());
        Assert.Equal(6, TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(Dir("resumed"))!).GlobalStep);

        var resumedModel = TinyClassifier(seed: 99); // different init: everything must come from the checkpoint
        var result = new Trainer(Task(resumedModel, train, eval), options, Dir("resumed")).Run(resume: true);
        Assert.Equal(6, result.StartStep);
        Assert.Equal(10, result.GlobalStep);
        Assert.Equal(Losses(Dir("straight")), Losses(Dir("resumed")));
        foreach (var p in straight.Parameters) Assert.Equal(p.Value, resumedModel.Parameters[p.Name].Value);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Dir("straight"), "model.safetensors")), File.ReadAllBytes(Path.Combine(Dir("resumed"), "model.safetensors")));
    }

    [Fact]
    public void AFailedCheckpointWriteLeavesThePreviousOneIntact()
    {
        var model = TinyClassifier();
        var optimizer = new AdamW(AdamW.TrainerGroups(model.Parameters, 0));
        var run = Dir("atomic");
        TrainingCheckpoint.Save(run, model, optimizer, new TrainingState { GlobalStep = 1 });
        var before = File.ReadAllBytes(Path.Combine(run, "checkpoint", "model", "model.safetensors"));
        model.Parameters.First().Value[0] += 1;
        Assert.Throws<IOException>(() => TrainingCheckpoint.Save(run, model, optimizer, new TrainingState { GlobalStep = 2 },
            beforeCommit: _ => throw new IOException("disk full")));
        var found = TrainingCheckpoint.Find(run)!;
        Assert.Equal(1, TrainingCheckpoint.ReadState(found).GlobalStep);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(found, "model", "model.safetensors")));
        Assert.Equal(["checkpoint"], Directory.GetFileSystemEntries(run).Select(Path.GetFileName));

        // A crash between the two renames leaves only the previous checkpoint: it is still found.
        Directory.Move(Path.Combine(run, "checkpoint"), Path.Combine(run, ".checkpoint.previous"));
        Assert.Equal(1, TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(run)!).GlobalStep);
        TrainingCheckpoint.Save(run, model, optimizer, new TrainingState { GlobalStep = 3 });
        Assert.Equal(3, TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(run)!).GlobalStep);
        Assert.False(Directory.Exists(Path.Combine(run, ".checkpoint.previous")));
    }

    [Fact]
    public void GradientAccumulationEqualsOneBiggerBatch()
    {
        var train = ToyData(8, 5); // equal lengths: the mean of the two halves' means is the mean of all eight
        var big = TinyClassifier(dropout: 0);
        var accumulated = TinyClassifier(dropout: 0);
        var options = new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 1e-3, Schedule = LearningRateScheduleKind.Constant, MaxGradNorm = null };
        new Trainer(Task(big, train), options, Dir("big")).Run();
        new Trainer(Task(accumulated, train), options with { BatchSize = 4, GradientAccumulation = 2 }, Dir("accumulated")).Run();
        Assert.Equal(Losses(Dir("big"))[0], Losses(Dir("accumulated"))[0], 5);
        var gradNormBig = MetricsLog.Read(Path.Combine(Dir("big"), MetricsLog.FileName)).Steps[0].GradNorm;
        var gradNormAcc = MetricsLog.Read(Path.Combine(Dir("accumulated"), MetricsLog.FileName)).Steps[0].GradNorm;
        Assert.Equal(gradNormBig, gradNormAcc, 4);
        Assert.True(gradNormBig > 0);
        foreach (var p in big.Parameters)
        {
            var q = accumulated.Parameters[p.Name].Value;
            for (int i = 0; i < q.Length; i++) Assert.Equal(p.Value[i], q[i], 4);
        }
    }

    sealed class DivergingTask(ITrainingTask inner, int badStep, int accumulation) : ITrainingTask
    {
        int _calls;
        public TransformerModel Model => inner.Model;
        public IReadOnlyList<int> ExampleLengths => inner.ExampleLengths;
        public IReadOnlyList<string> FilesToCopy => inner.FilesToCopy;
        public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
        {
            var r = inner.ForwardBackward(batch, lossScale, position);
            return ++_calls > (badStep - 1) * accumulation ? r with { Loss = double.NaN } : r;
        }
        public EvaluationResult? Evaluate() => inner.Evaluate();
    }

    sealed class ComponentTask(ITrainingTask inner) : ITrainingTask
    {
        public TransformerModel Model => inner.Model;
        public IReadOnlyList<int> ExampleLengths => inner.ExampleLengths;
        public IReadOnlyList<string> FilesToCopy => inner.FilesToCopy;
        public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
        {
            var r = inner.ForwardBackward(batch, lossScale, position);
            return r with { Components = new Dictionary<string, double> { ["double_loss"] = 2 * r.Loss, ["batch"] = position.BatchIndex } };
        }
        public EvaluationResult? Evaluate() => inner.Evaluate();
    }

    [Fact]
    public void LossComponentsAreAveragedOverMicroBatchesAndLogged()
    {
        var options = new TrainingOptions { Epochs = 1, BatchSize = 4, GradientAccumulation = 2, LearningRate = 1e-3 };
        new Trainer(new ComponentTask(Task(TinyClassifier(), ToyData(16, 9))), options, Dir("components")).Run();
        var steps = MetricsLog.Read(Path.Combine(Dir("components"), MetricsLog.FileName)).Steps;
        Assert.Equal(2, steps.Count);
        foreach (var s in steps)
        {
            Assert.Equal(2 * s.Loss, s.Components!["double_loss"], 6);
            Assert.Equal(s.Step == 1 ? 0.5 : 2.5, s.Components["batch"]); // the mean of batch indices 0,1 and 2,3
        }
    }

    [Fact]
    public void ANanLossStopsTheRunNamingTheStepAndKeepsTheLastGoodCheckpoint()
    {
        var model = TinyClassifier();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 4, SaveEvery = 1, LearningRate = 1e-3 };
        var error = Assert.Throws<TrainingDivergedException>(() =>
            new Trainer(new DivergingTask(Task(model, ToyData(24, 6)), badStep: 3, accumulation: 1), options, Dir("nan")).Run());
        Assert.Contains("step 3", error.Message);
        Assert.Equal(2, TrainingCheckpoint.ReadState(TrainingCheckpoint.Find(Dir("nan"))!).GlobalStep);
    }

    [Fact]
    public void TheRunFolderReloadsAsAnHfModelWithTheSameLogits()
    {
        var model = TinyClassifier();
        var options = new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 1e-3 };
        new Trainer(Task(model, ToyData(16, 7)), options, Dir("out")).Run();
        var (reloaded, report) = PretrainedModel.Load(Dir("out"));
        Assert.True(report.IsComplete);
        Assert.Equal("DistilBertForSequenceClassification", reloaded.ArchitectureName);
        var ids = Tokenizer.Value.Encode("a good film").Ids;
        model.Eval();
        reloaded.Eval();
        Assert.Equal(model.Forward(ModelInput.FromSequences([ids]))["logits"].Data, reloaded.Forward(ModelInput.FromSequences([ids]))["logits"].Data);
    }

    [Fact]
    public void ResumingWithDifferentSettingsIsRefused()
    {
        var options = new TrainingOptions { Epochs = 1, BatchSize = 8, LearningRate = 1e-3 };
        new Trainer(Task(TinyClassifier(), ToyData(16, 8)), options, Dir("refuse")).Run();
        var error = Assert.Throws<InvalidInputException>(() =>
            new Trainer(Task(TinyClassifier(), ToyData(16, 8)), options with { LearningRate = 5e-3 }, Dir("refuse")).Run(resume: true));
        Assert.Contains("different settings", error.Message);
        Assert.Throws<InvalidInputException>(() => new Trainer(Task(TinyClassifier(), ToyData(16, 8)), options, Dir("none")).Run(resume: true));
    }
}
