using DistilBert.Data;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;
using DistilBert.Training;

namespace DistilBert.Tests;

/// <summary>Task preprocessing: NER first-sub-token labels, QA windows and answer positions, MLM blocks, task model heads.</summary>
public sealed class TrainerTaskTests : IDisposable
{
    readonly TempDirectory _tmp = new("trainer-tasks");
    string _root => _tmp.Path;
    static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.FromVocabFile(Fixtures.Golden("tokenizer", "vocab.txt")));

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void NerLabelsGoOnTheFirstSubTokenOnly()
    {
        string[] words = ["Schwarzenegger", "visited", "Kathmandu", "."];
        int[] tags = [1, 0, 3, 0];
        var (text, spans) = WordTags.Join(words);
        var encoded = Tokenizer.Value.Encode(text);
        var labels = TokenClassificationTraining.AlignLabels(encoded, spans, tags);
        Assert.Equal(-100, labels[0]); // [CLS]
        Assert.Equal(-100, labels[^1]); // [SEP]
        var labelled = Enumerable.Range(0, labels.Length).Where(t => labels[t] != -100).ToList();
        Assert.Equal(4, labelled.Count); // one per word, though the names split into several pieces
        Assert.True(encoded.Length > 6, string.Join(" ", encoded.Tokens));
        Assert.Equal(tags.Select(t => (long)t), labelled.Select(t => labels[t]));
        for (int w = 0; w < words.Length; w++) Assert.Equal(spans[w].Start, encoded.Offsets[labelled[w]].Start);
        Assert.StartsWith("##", encoded.Tokens[labelled[0] + 1]); // the next piece of the name is not labelled
        Assert.Equal(-100, labels[labelled[0] + 1]);
    }

    [Fact]
    public void QaAnswerPositionsAreMappedInEveryWindowOrPointAtCls()
    {
        var filler = string.Join(" ", Enumerable.Range(0, 30).Select(i => $"word{i % 7} is here."));
        var context = filler + " The capital of Nepal is Kathmandu city, famous for temples. " + filler;
        const string answer = "Kathmandu city";
        var example = new SquadExample("q1", "t", context, "What is the capital of Nepal?", [new SquadAnswer(answer, context.IndexOf(answer, StringComparison.Ordinal))]);
        var windows = QuestionAnsweringTraining.MakeWindows(Tokenizer.Value, example, maxLength: 48, docStride: 16).ToList();
        Assert.True(windows.Count > 4);
        int containing = 0;
        foreach (var w in windows)
        {
            Assert.True(w.Ids.Length <= 48);
            if (w.StartPosition == 0) { Assert.Equal(0, w.EndPosition); continue; }
            containing++;
            Assert.True(w.EndPosition >= w.StartPosition);
            Assert.Equal("kathmandu city", Tokenizer.Value.Decode(w.Ids.AsSpan(w.StartPosition, w.EndPosition - w.StartPosition + 1)));
        }
        Assert.InRange(containing, 1, 3); // overlapping windows may each hold the answer
        Assert.True(windows.Count - containing >= 2);
    }

    [Fact]
    public void AnAnswerCutByTheWindowEdgeIsNotInTheWindow()
    {
        var encoded = Tokenizer.Value.Encode("who?", "alpha beta gamma delta", new EncodeOptions { MaxLength = 7, Truncation = TruncationStrategy.OnlySecond });
        // [CLS] who ? [SEP] alpha beta [SEP]: "beta gamma" runs past the window.
        int start = "alpha beta gamma delta".IndexOf("beta", StringComparison.Ordinal);
        Assert.Equal((0, 0), QuestionAnsweringTraining.AnswerPositions(encoded, start, start + "beta gamma".Length));
        Assert.Equal((5, 5), QuestionAnsweringTraining.AnswerPositions(encoded, start, start + "beta".Length));
        Assert.Equal((4, 5), QuestionAnsweringTraining.AnswerPositions(encoded, 0, "alpha beta".Length));
    }

    [Fact]
    public void MlmBlocksPackTheCorpusBetweenClsAndSep()
    {
        var lines = new[] { "the cat sat on the mat", "", "dogs bark at night and sleep by day" };
        var blocks = MaskedLmTraining.Pack(Tokenizer.Value, lines, maxLength: 8);
        var all = lines.Where(l => l.Length > 0).SelectMany(l => Tokenizer.Value.Encode(l, null, new EncodeOptions { AddSpecialTokens = false }).Ids).ToList();
        Assert.Equal((all.Count + 5) / 6, blocks.Length);
        Assert.All(blocks, b => { Assert.Equal(Tokenizer.Value.ClsId, b[0]); Assert.Equal(Tokenizer.Value.SepId, b[^1]); Assert.True(b.Length <= 8); });
        Assert.Equal(all, blocks.SelectMany(b => b[1..^1]));
    }

    static DistilBertConfig TinyConfig() => new() { Dim = 16, NLayers = 1, NHeads = 2, HiddenDim = 32, MaxPositionEmbeddings = 64, VocabSize = 30522 };

    string SaveWithVocab(TransformerModel model, string name)
    {
        var folder = Path.Combine(_root, name);
        PretrainedModel.Save(model, folder, [Fixtures.Golden("tokenizer", "vocab.txt")]);
        return folder;
    }

    [Fact]
    public void AnMlmCheckpointGetsAFreshClassificationHeadAndKeepsItsEncoder()
    {
        var mlm = PretrainedModel.Create(TinyConfig(), "DistilBertForMaskedLM", 3);
        var folder = SaveWithVocab(mlm, "mlm");
        var task = TaskModels.Load(folder, ModelHead.SequenceClassification, ["neg", "neu", "pos"], seed: 1);
        Assert.Equal("DistilBertForSequenceClassification", task.Model.ArchitectureName);
        Assert.Equal(3, task.Model.Config.NumLabels);
        Assert.Contains("classifier.weight", task.FreshParameters);
        Assert.Contains("pre_classifier.weight", task.FreshParameters);
        Assert.DoesNotContain(task.FreshParameters, n => n.StartsWith("distilbert.", StringComparison.Ordinal));
        Assert.Equal(mlm.Parameters["distilbert.transformer.layer.0.ffn.lin1.weight"].Value, task.Model.Parameters["distilbert.transformer.layer.0.ffn.lin1.weight"].Value);
        Assert.Equal([Path.Combine(folder, "vocab.txt")], task.TokenizerFiles);

        // The task model itself, same labels: nothing is fresh.
        var again = TaskModels.Load(SaveWithVocab(task.Model, "cls"), ModelHead.SequenceClassification, ["neg", "neu", "pos"]);
        Assert.Empty(again.FreshParameters);
    }

    [Fact]
    public void MlmTrainingMasksDeterministicallyAndLearns()
    {
        var model = PretrainedModel.Create(TinyConfig(), "DistilBertForMaskedLM", 4);
        var lines = Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? "the cat sat on the mat" : "the dog ran in the park").ToList();
        var task = new MaskedLmTraining(model, Tokenizer.Value, lines, lines.Take(8), maxLength: 16);
        var options = new TrainingOptions { Epochs = 3, BatchSize = 4, LearningRate = 3e-2, WarmupSteps = 2 };
        var result = new Trainer(task, options, Path.Combine(_root, "mlm-run")).Run();
        var evals = result.Evaluations;
        Assert.Equal(3, evals.Count);
        Assert.True(evals[^1].Metrics["loss"] < evals[0].Metrics["loss"] - 1.5, $"{evals[0].Metrics["loss"]} → {evals[^1].Metrics["loss"]}");
        Assert.False(evals[0].Metrics["accuracy"] > evals[^1].Metrics["accuracy"]);
    }
}
