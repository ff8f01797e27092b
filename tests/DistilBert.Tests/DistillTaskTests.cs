using System.Text.Json.Nodes;
using DistilBert.Cli;
using DistilBert.Distillation;
using DistilBert.Modeling;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>
/// Task distillation on a toy sentiment-like task: a 4-layer BERT teacher is fine-tuned here (its own Backward), then a
/// 2-layer DistilBERT student initialised from its layers learns from it.
/// </summary>
[Collection(nameof(PipelineCliCollection))] // captures the process-wide console (CliRunner)
public sealed class DistillTaskTests : IDisposable
{
    readonly TempDirectory _tmp = new("distill-task");
    int _temps;

    public void Dispose() => _tmp.Dispose();

    /// <summary>A fresh folder named <paramref name="name"/> inside this test's temp directory.</summary>
    string Temp(string name) => Directory.CreateDirectory(Path.Combine(_tmp.Path, (++_temps).ToString(), name)).FullName;

    static readonly string[] Vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. Enumerable.Range(5, 95).Select(i => $"w{i}")];

    /// <summary>Label 1 when "good" words (w10–w19) outnumber "bad" ones (w20–w29); fillers w30–w79 around them.</summary>
    static (string Text, int Label) Example(Random random)
    {
        int good = random.Next(4), bad = random.Next(4);
        if (good == bad) good++;
        var words = new List<string>();
        for (int i = 0; i < good; i++) words.Add($"w{10 + random.Next(10)}");
        for (int i = 0; i < bad; i++) words.Add($"w{20 + random.Next(10)}");
        for (int i = 0, n = 3 + random.Next(5); i < n; i++) words.Add($"w{30 + random.Next(50)}");
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(words));
        return (string.Join(' ', words), good > bad ? 1 : 0);
    }

    static string WriteTsv(string dir, string name, int count, int seed)
    {
        var random = new Random(seed);
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, ["sentence\tlabel", .. Enumerable.Range(0, count).Select(_ => { var (t, l) = Example(random); return $"{t}\t{l}"; })]);
        return path;
    }

    /// <summary>Fine-tunes a 4-layer BERT classifier on the toy task and saves it with the vocabulary.</summary>
    string TrainTeacher(string dataDir, string train)
    {
        var config = ModelConfig.Parse("""
            {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": 100, "hidden_size": 32,
             "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64,
             "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "num_labels": 2}
            """);
        var teacher = PretrainedModel.Create(config, seed: 7);
        var dir = Temp("teacher");
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), Vocab);
        var tokenizer = Tokenization.WordPieceTokenizer.FromFolder(dir);
        var data = TaskDataset.Classification(train, tokenizer, teacher.Config, 64);
        var optimizer = new AdamW(AdamW.SingleGroup(teacher.Parameters, 0));
        teacher.Train(dropout: false);
        for (int epoch = 0; epoch < 6; epoch++)
            foreach (var batch in Batching.LengthGroupedEpoch(data.Select(e => e.Ids.Length).ToArray(), 16, 1, epoch))
            {
                var input = ModelInput.FromSequences(batch.Select(i => data[i].Ids).ToList());
                input.Labels = batch.Select(i => (long)data[i].Labels[0]).ToArray();
                teacher.Parameters.ZeroGrad();
                teacher.Forward(input);
                teacher.Backward();
                optimizer.Step(2e-3);
            }
        teacher.Eval();
        PretrainedModel.Save(teacher, dir, [Path.Combine(dir, "vocab.txt")]);
        return dir;
    }

    [Fact]
    public void StudentFromTheTeachersLayersApproachesTheTeacher()
    {
        var dataDir = Temp("data");
        string train = WriteTsv(dataDir, "train.tsv", 640, 1), dev = WriteTsv(dataDir, "dev.tsv", 200, 2);
        var teacherDir = TrainTeacher(dataDir, train);
        var teacher = PretrainedModel.Load(teacherDir).Model;
        var tokenizer = DistillationFolders.SharedTokenizer(teacherDir, null);
        var trainData = TaskDataset.Classification(train, tokenizer, teacher.Config, 64);
        var devData = TaskDataset.Classification(dev, tokenizer, teacher.Config, 64);

        var init = TaskStudent.FromTeacher(teacherDir, teacher, DistillationTaskKind.Classification, StudentExtraction.DefaultLayerMap(4, 2));
        Assert.Equal([0, 3], init.LayerMap);
        // DistilBERT's head has no BERT counterpart; everything else comes from the teacher.
        Assert.Equal(["pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"], init.FreshTensors);
        Assert.Equal(teacher.Parameters["bert.encoder.layer.3.output.dense.weight"].Value, init.Student.Parameters["distilbert.transformer.layer.1.ffn.lin2.weight"].Value);

        var distiller = new TaskDistiller(DistillationTaskKind.Classification, teacher, init.Student, trainData, devData,
            new TaskDistillationOptions { Epochs = 4, BatchSize = 16, LearningRate = 2e-3, Seed = 5 });
        double teacherAccuracy = distiller.Evaluate(teacher, devData)["accuracy"];
        double before = distiller.Evaluate(init.Student, devData)["accuracy"];
        var result = distiller.Run(Temp("run"));
        double best = result.Evaluations.Max(e => e.Metrics["accuracy"]);
        Assert.True(teacherAccuracy > 0.85, $"the toy teacher only reached {teacherAccuracy:P1}");
        Assert.True(best >= 0.9 * teacherAccuracy, $"student {best:P1} vs teacher {teacherAccuracy:P1} (before distillation {before:P1})");
        Assert.True(best > before + 0.1, $"student went from {before:P1} to {best:P1}");
        Assert.Equal(4, result.Evaluations.Count);
        Assert.Equal(best, result.BestMetric);
        // The run folder holds the best student: evaluating it again gives the best accuracy.
        var bestStudent = PretrainedModel.Load(result.OutputDirectory).Model;
        Assert.Equal(best, distiller.Evaluate(bestStudent, devData)["accuracy"], 9);

        // The command line: init from the teacher, distil briefly, write the best student, report the teacher too.
        var outDir = Temp("student");
        var (code, stdout, _) = CliRunner.Run("distill-task", "classify", "--teacher", teacherDir, "--init-from-teacher", "--student-layers", "2",
            "--train", train, "--eval", dev, "--out", outDir, "--epochs", "1", "--max-examples", "64", "--batch-size", "16", "--json");
        Assert.Equal(0, code);
        var summary = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.Equal(teacherAccuracy, summary["teacher_metrics"]!["accuracy"]!.GetValue<double>(), 6);
        Assert.Equal("DistilBertForSequenceClassification", PretrainedModel.Load(outDir).Model.ArchitectureName);
    }

    [Fact]
    public void MismatchedTeacherAndStudentAreRefused()
    {
        var bertMlm = PretrainedModel.Load(Fixtures.Golden("distillation", "teacher_bert_12layer")).Model;
        var studentMlm = PretrainedModel.Load(Fixtures.Golden("distillation", "student_distilbert_6layer")).Model;
        var e = Assert.Throws<InvalidInputException>(() => new TaskDistiller(DistillationTaskKind.Classification, bertMlm, studentMlm, [], null, new TaskDistillationOptions()));
        Assert.Contains("must be a …ForSequenceClassification model", e.Message);
        var deep = Assert.Throws<InvalidInputException>(() => StudentExtraction.DefaultLayerMap(12, 13));
        Assert.Contains("between 1 and 12", deep.Message);
    }
}

/// <summary>Extractive-QA distillation plumbing: SQuAD windows, answer token labels, per-sequence start/end soft targets.</summary>
public class DistillTaskQuestionAnsweringTests
{
    static readonly string[] Vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "wrote", "it", "?", "the", "book", "was", "written", "by", "alice", "bob", "in", "paris", "."];

    [Fact]
    public void LabelsPointAtTheAnswerAndAnIdenticalStudentHasNoSoftLoss()
    {
        using var tmp = new TempDirectory("distill-qa");
        var dir = tmp.Path;
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), Vocab);
        var squad = Path.Combine(dir, "squad.json");
        File.WriteAllText(squad, """
            {"data": [{"title": "t", "paragraphs": [
              {"context": "the book was written by alice in paris.", "qas": [
                {"id": "1", "question": "who wrote it?", "answers": [{"text": "alice", "answer_start": 24}]},
                {"id": "2", "question": "who wrote the book?", "answers": [{"text": "in paris", "answer_start": 30}]}]}]}]}
            """);
        var tokenizer = Tokenization.WordPieceTokenizer.FromFolder(dir);
        var examples = TaskDataset.Squad(squad, tokenizer, 64);
        foreach (var e in examples)
        {
            var q = e.Question!;
            Assert.Equal(q.Answers[0], q.Context[q.Offsets[e.Labels[0]].Start..q.Offsets[e.Labels[1]].End]);
        }
        // A window too short for the answer points at [CLS].
        Assert.Equal([0, 0], TaskDataset.Squad(squad, tokenizer, 10)[0].Labels);

        var config = ModelConfig.Parse("""
            {"architectures": ["DistilBertForQuestionAnswering"], "model_type": "distilbert", "vocab_size": 19, "dim": 16, "n_layers": 2,
             "n_heads": 2, "hidden_dim": 32, "max_position_embeddings": 64, "dropout": 0.0, "attention_dropout": 0.0, "qa_dropout": 0.0}
            """);
        var teacher = PretrainedModel.Create(config, seed: 3);
        var init = TaskStudent.FromTeacher(dir, teacher, DistillationTaskKind.QuestionAnswering, [0, 1]);
        Assert.Empty(init.FreshTensors);
        var distiller = new TaskDistiller(DistillationTaskKind.QuestionAnswering, teacher, init.Student, examples, examples,
            new TaskDistillationOptions { Alpha = 1f, BatchSize = 2, Epochs = 1 });
        init.Student.Train(dropout: false);
        distiller.ForwardBackward([0, 1], 1f, new BatchPosition(0, 0, 0));
        Assert.True(distiller.LastTerms.Soft < 1e-6, $"soft term {distiller.LastTerms.Soft}");
        var grads = init.Student.Parameters.Where(p => p.Grad is not null).SelectMany(p => p.Grad!).ToArray();
        Assert.True(grads.All(g => Math.Abs(g) < 1e-5), "identical student: no gradient from the soft term");
        Assert.Equal(distiller.Evaluate(teacher, examples)["f1"], distiller.Evaluate(init.Student, examples)["f1"]);
    }
}

/// <summary>CoNLL data for token-classification distillation: tags on first sub-tokens only, specials unlabelled.</summary>
public class DistillTaskTokenDataTests
{
    [Fact]
    public void TagsSitOnFirstSubTokensAndTruncatedWordsAreMarked()
    {
        using var tmp = new TempDirectory("distill-ner");
        var dir = tmp.Path;
        File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "new", "york", "is", "big", "##ger", "."]);
        var conll = Path.Combine(dir, "train.conll");
        File.WriteAllLines(conll, ["new\tB-location", "york\tI-location", "is\tO", "bigger\tO", ".\tO", ""]);
        var tokenizer = Tokenization.WordPieceTokenizer.FromFolder(dir);
        var config = ModelConfig.Parse("""{"model_type": "distilbert", "id2label": {"0": "O", "1": "B-location", "2": "I-location"}, "label2id": {"O": 0, "B-location": 1, "I-location": 2}}""");

        var e = Assert.Single(TaskDataset.Tokens(conll, tokenizer, config, 64));
        // [CLS] new york is big ##ger . [SEP]
        Assert.Equal([2, 5, 6, 7, 8, 9, 10, 3], e.Ids);
        Assert.Equal([-100, 1, 2, 0, 0, -100, 0, -100], e.Labels);
        Assert.Equal([1, 2, 3, 4, 6], e.FirstTokenOfWord!);

        // Room for [CLS] + 3 tokens + [SEP]: "bigger" (2 pieces) and "." no longer fit and are marked −1.
        var cut = Assert.Single(TaskDataset.Tokens(conll, tokenizer, config, 5));
        Assert.Equal([2, 5, 6, 7, 3], cut.Ids);
        Assert.Equal([1, 2, 3, -1, -1], cut.FirstTokenOfWord!);

        var bad = Path.Combine(dir, "bad.conll");
        File.WriteAllLines(bad, ["new\tB-city", ""]);
        var error = Assert.Throws<DataFileException>(() => TaskDataset.Tokens(bad, tokenizer, config, 64));
        Assert.Contains("'B-city' is not one of the teacher's labels", error.Message);
    }
}
