using DistilBert.Cli;
using DistilBert.Distillation;
using DistilBert.Modeling;
using DistilBert.Tokenization;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>Temp folders, golden teacher/student copies with a vocabulary, and a learnable corpus for distillation tests.</summary>
sealed class DistillFolders(string purpose) : IDisposable
{
    public static string Dist(params string[] parts) => Fixtures.Golden(["distillation", .. parts]);

    readonly TempDirectory _tmp = new(purpose);
    int _temps;

    public void Dispose() => _tmp.Dispose();

    /// <summary>A fresh folder named <paramref name="name"/> inside this test's temp directory.</summary>
    public string Temp(string name) => Directory.CreateDirectory(Path.Combine(_tmp.Path, (++_temps).ToString(), name)).FullName;

    /// <summary>A 1000-token vocabulary matching the golden models' vocab_size: specials, then w5 … w999.</summary>
    public static string[] VocabTokens() => ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. Enumerable.Range(5, 995).Select(i => $"w{i}")];

    /// <summary>Copies a golden model folder and gives it the vocabulary.</summary>
    public string ModelFolder(string golden, string[]? vocab = null)
    {
        var dir = Temp(golden);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Dist(golden, f), Path.Combine(dir, f));
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), vocab ?? VocabTokens());
        return dir;
    }

    /// <summary>Sentences over 40 words in a fixed cyclic order with random starts and lengths: learnable by an MLM.</summary>
    public string Corpus(int lines, int seed = 1)
    {
        var random = new Random(seed);
        var path = Path.Combine(Temp("corpus"), "corpus.txt");
        var text = new List<string>();
        for (int l = 0; l < lines; l++)
        {
            int start = random.Next(40), length = 12 + random.Next(12);
            text.Add(string.Join(' ', Enumerable.Range(0, length).Select(i => $"w{10 + (start + i) % 40}")));
        }
        File.WriteAllLines(path, text);
        return path;
    }
}

/// <summary>General distillation on a tiny teacher/student pair (the golden 12-layer BERT and its 6-layer student).</summary>
public sealed class DistillGeneralTests : IDisposable
{
    readonly DistillFolders _folders = new("distill");

    public void Dispose() => _folders.Dispose();

    static string Dist(params string[] parts) => DistillFolders.Dist(parts);
    static string[] VocabTokens() => DistillFolders.VocabTokens();
    string Temp(string name) => _folders.Temp(name);
    string ModelFolder(string golden, string[]? vocab = null) => _folders.ModelFolder(golden, vocab);
    string Corpus(int lines, int seed = 1) => _folders.Corpus(lines, seed);

    /// <summary>Collects each step's loss.</summary>
    sealed class Losses : ITrainingObserver
    {
        public List<double> Values { get; } = new();
        public void OnStep(StepRecord step) => Values.Add(step.Loss);
    }

    internal static GeneralDistiller Distiller(string teacherDir, string studentDir, string corpus, GeneralDistillationOptions options)
    {
        var tokenizer = DistillationFolders.SharedTokenizer(teacherDir, studentDir);
        var data = DistillationCorpus.Load(corpus, tokenizer, maxLength: 32, minLength: 8);
        var task = new GeneralDistillationTask(PretrainedModel.Load(teacherDir).Model, PretrainedModel.Load(studentDir).Model, data,
            DistillationFolders.SpecialTokenIds(tokenizer), tokenizer.MaskId, options.Loss, options.Masking);
        return new GeneralDistiller(task, options);
    }

    [Fact]
    public void TinyGeneralDistillationLowersTheTripleLoss()
    {
        var distiller = Distiller(ModelFolder("teacher_bert_12layer"), ModelFolder("student_distilbert_6layer"), Corpus(160),
            new GeneralDistillationOptions { BatchSize = 8, Epochs = 4, LearningRate = 3e-3, Seed = 3 });
        var observer = new Losses();
        var teacher = distiller.Task.Teacher;
        long teacherFloats = teacher.PlainParameterFloats;
        distiller.Run(Temp("run"), observer: observer);
        // the teacher only runs forward: its linear weights are kept packed only, not twice
        Assert.True(teacher.IsInferenceOnly);
        Assert.True(teacher.PlainParameterFloats < teacherFloats / 2, $"{teacher.PlainParameterFloats} of {teacherFloats} plain floats left");
        var losses = observer.Values;
        Assert.Equal(distiller.Plan().TotalSteps, losses.Count);
        double firstFive = losses.Take(5).Average(), lastFive = losses.TakeLast(5).Average();
        Assert.True(lastFive < 0.8 * firstFive, $"loss went from {firstFive:F3} to {lastFive:F3}");
    }

    [Fact]
    public void SameSeedGivesTheSameRunAndMaskingNeverTouchesSpecials()
    {
        string teacher = ModelFolder("teacher_bert_12layer"), student = ModelFolder("student_distilbert_6layer"), corpus = Corpus(40);
        var options = new GeneralDistillationOptions { BatchSize = 8, MaxSteps = 3, Seed = 9 };
        var a = new Losses();
        var b = new Losses();
        Distiller(teacher, student, corpus, options).Run(Temp("a"), observer: a);
        Distiller(teacher, student, corpus, options).Run(Temp("b"), observer: b);
        Assert.Equal(a.Values, b.Values);

        var tokenizer = DistillationFolders.SharedTokenizer(teacher, student);
        var data = DistillationCorpus.Load(corpus, tokenizer, 32, 8);
        var masking = new MlmMasking(data.TokenCounts, DistillationFolders.SpecialTokenIds(tokenizer), tokenizer.MaskId);
        foreach (var seq in data.Sequences)
        {
            var ids = (int[])seq.Clone();
            var labels = new int[ids.Length];
            var real = Enumerable.Repeat(true, ids.Length).ToArray();
            masking.Apply(ids, real, labels, new Random(seq.Length));
            Assert.Equal(DistillationLoss.IgnoreIndex, labels[0]);
            Assert.Equal(DistillationLoss.IgnoreIndex, labels[^1]);
            Assert.Equal(tokenizer.ClsId, ids[0]);
            Assert.Equal(tokenizer.SepId, ids[^1]);
        }
    }

    [Fact]
    public void InterruptedDistillationResumesExactly()
    {
        string teacher = ModelFolder("teacher_bert_12layer"), student = ModelFolder("student_distilbert_6layer"), corpus = Corpus(64);
        var options = new GeneralDistillationOptions { BatchSize = 8, Epochs = 2, SaveEvery = 3, Seed = 4 };
        var whole = new Losses();
        var wholeDir = Temp("whole");
        Distiller(teacher, student, corpus, options).Run(wholeDir, observer: whole);

        var runDir = Temp("interrupted");
        var first = Distiller(teacher, student, corpus, options);
        var crashing = new Trainer(first.Task, first.TrainingOptions, runDir) { AfterStep = s => { if (s == 7) throw new OperationCanceledException("simulated kill"); } };
        Assert.Throws<OperationCanceledException>(() => crashing.Run());
        // The checkpoint is at step 6; a fresh process (fresh models) resumes from it.
        var resumed = new Losses();
        var result = Distiller(teacher, student, corpus, options).Run(runDir, resume: true, observer: resumed);
        Assert.Equal(6, result.StartStep);
        Assert.Equal(whole.Values.Skip(6), resumed.Values);
        Assert.Equal(File.ReadAllBytes(Path.Combine(wholeDir, "model.safetensors")), File.ReadAllBytes(Path.Combine(runDir, "model.safetensors")));
    }

    [Fact]
    public void BadInputIsRefusedWithAClearMessage()
    {
        string teacher = ModelFolder("teacher_bert_12layer");
        var tokenizer = DistillationFolders.SharedTokenizer(teacher, null);

        var empty = Path.Combine(Temp("empty"), "empty.txt");
        File.WriteAllLines(empty, ["", "   ", ""]);
        var e1 = Assert.Throws<DataFileException>(() => DistillationCorpus.Load(empty, tokenizer, 32));
        Assert.Contains("no text", e1.Message);

        var binary = Path.Combine(Temp("binary"), "model.bin");
        File.WriteAllBytes(binary, [0x50, 0x4B, 0x03, 0x04, 0x00, 0xFF, 0xFE, 0x00, 0x0A, 0x41]);
        var e2 = Assert.Throws<DataFileException>(() => DistillationCorpus.Load(binary, tokenizer, 32));
        Assert.Contains("not UTF-8 text", e2.Message);
        Assert.Contains(":1:", e2.Message);

        // A student whose vocabulary file differs token for token.
        var other = VocabTokens();
        other[500] = "something-else";
        var student = ModelFolder("student_distilbert_6layer", other);
        var e3 = Assert.Throws<InvalidInputException>(() => DistillationFolders.SharedTokenizer(teacher, student));
        Assert.Contains("vocabularies differ at id 500", e3.Message);

        // A narrower student cannot take the cosine loss; a different vocab_size cannot take soft targets.
        var teacherModel = PretrainedModel.Load(teacher).Model;
        var narrow = (DistilBertConfig)ModelConfig.Parse(File.ReadAllText(Dist("student_distilbert_6layer", "config.json")));
        narrow.Dim = 8; narrow.HiddenDim = 16; narrow.NHeads = 2;
        var e4 = Assert.Throws<InvalidInputException>(() => TripleLossStep.CheckCompatible(teacherModel, PretrainedModel.Create(narrow), new DistillationLossOptions()));
        Assert.Contains("hidden size 16 ≠ student 8", e4.Message);
        TripleLossStep.CheckCompatible(teacherModel, PretrainedModel.Create(narrow), new DistillationLossOptions { AlphaCos = 0 });
        var small = (DistilBertConfig)ModelConfig.Parse(File.ReadAllText(Dist("student_distilbert_6layer", "config.json")));
        small.VocabSize = 999;
        var e5 = Assert.Throws<InvalidInputException>(() => TripleLossStep.CheckCompatible(teacherModel, PretrainedModel.Create(small), new DistillationLossOptions()));
        Assert.Contains("vocabularies differ", e5.Message);
    }
}

/// <summary>`distilbert distill` end to end; in the serial collection because it reads the captured console.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class DistillCliTests : IDisposable
{
    readonly DistillFolders _folders = new("distill-cli");

    public void Dispose() => _folders.Dispose();

    /// <summary>Records every step the way the metrics log does.</summary>
    sealed class Steps : ITrainingObserver
    {
        public List<StepRecord> Records { get; } = new();
        public void OnStep(StepRecord step) => Records.Add(step);
    }

    [Fact]
    public void AnEmptyCorpusIsOneErrorLineNamingIt()
    {
        var empty = Path.Combine(_folders.Temp("empty"), "empty.txt");
        File.WriteAllLines(empty, ["", "   ", ""]);
        var (code, _, error) = CliRunner.Run("distill", "--teacher", _folders.ModelFolder("teacher_bert_12layer"),
            "--student", _folders.ModelFolder("student_distilbert_6layer"), "--corpus", empty, "--out", _folders.Temp("out"));
        Assert.Equal(1, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(empty, line);
        Assert.Contains("no text", line);
    }

    [Fact]
    public void DistillCommandWritesALoadableStudentAndLogsTheLossTermsOfTheRun()
    {
        string teacher = _folders.ModelFolder("teacher_bert_12layer"), student = _folders.ModelFolder("student_distilbert_6layer");
        string corpus = _folders.Corpus(30), outDir = _folders.Temp("distilled");
        var (code, _, error) = CliRunner.Run("distill", "--teacher", teacher, "--student", student, "--corpus", corpus, "--out", outDir,
            "--max-steps", "2", "--batch-size", "8", "--min-length", "8", "--max-length", "32", "--json");
        Assert.True(code == 0, error);
        var loaded = PretrainedModel.Load(outDir).Model;
        Assert.Equal("DistilBertForMaskedLM", loaded.ArchitectureName);
        Assert.True(File.Exists(Path.Combine(outDir, "vocab.txt")));
        var before = PretrainedModel.Load(student).Model;
        Assert.NotEqual(before.Parameters["distilbert.transformer.layer.0.ffn.lin1.weight"].Value, loaded.Parameters["distilbert.transformer.layer.0.ffn.lin1.weight"].Value);

        // The same run through the library with the command's documented defaults: the logged terms are this run's terms.
        var options = new GeneralDistillationOptions
        {
            Loss = new DistillationLossOptions { Temperature = 2, AlphaCe = 5, AlphaMlm = 2, AlphaCos = 1, RestrictCeToMask = false },
            Masking = new MlmMaskingOptions { Smoothing = 0.7, MaskProportion = 0.15 },
            BatchSize = 8, GradientAccumulation = 1, Epochs = 1, MaxSteps = 2, LearningRate = 5e-4, WarmupRatio = 0.05, MaxGradNorm = 5, Seed = 56,
        };
        var expected = new Steps();
        DistillGeneralTests.Distiller(teacher, student, corpus, options).Run(_folders.Temp("library"), observer: expected);
        var logged = MetricsLog.Read(Path.Combine(outDir, MetricsLog.FileName)).Steps;
        Assert.Equal(2, logged.Count);
        for (int s = 0; s < logged.Count; s++)
        {
            var (want, got) = (expected.Records[s], logged[s]);
            Assert.Equal(want.Loss, got.Loss, 12);
            var terms = got.Components!;
            foreach (var term in new[] { "loss_ce", "loss_mlm", "loss_cos" }) Assert.Equal(want.Components![term], terms[term], 12);
            // loss = α_ce·ce + α_mlm·mlm + α_cos·cos with the defaults 5, 2, 1, and each term a real loss value
            Assert.Equal(got.Loss, 5 * terms["loss_ce"] + 2 * terms["loss_mlm"] + terms["loss_cos"], 5);
            Assert.InRange(terms["loss_ce"], 1e-6, 100);
            Assert.InRange(terms["loss_mlm"], 1e-3, 3 * Math.Log(1000));
            Assert.InRange(terms["loss_cos"], 1e-9, 2);
        }
    }
}
