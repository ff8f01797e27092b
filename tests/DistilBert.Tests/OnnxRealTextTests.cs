using DistilBert.Cli;
using DistilBert.Modeling;
using DistilBert.Tokenization;
using Xunit.Abstractions;

namespace DistilBert.Tests;

/// <summary>Exports of real models on 200 real SST-2 sentences (validation split, file order, padded batches of 20):
/// ONNX Runtime and our engine agree within 1e-4 on every non-padded output.</summary>
public class OnnxRealTextTests(ITestOutputHelper log)
{
    const double Tolerance = 1e-4;
    const int Sentences = 200, BatchSize = 20;

    static string RepoRoot => Path.GetFullPath(Path.Combine(Fixtures.Root, "..", ".."));

    static List<string> Sst2Sentences() =>
        File.ReadLines(Path.Combine(RepoRoot, "samples", "sst2", "validation.tsv")).Skip(1).Take(Sentences).Select(l => l.Split('\t')[0]).ToList();

    static double MaxDifferenceOnSst2(string folder)
    {
        var model = PretrainedModel.Load(folder).Model;
        var tokenizer = WordPieceTokenizer.FromFolder(folder);
        using var session = OnnxTestSupport.Session(model);
        var sentences = Sst2Sentences();
        Assert.Equal(Sentences, sentences.Count);
        double max = 0;
        foreach (var chunk in sentences.Chunk(BatchSize))
        {
            var input = PaddedInput.FromSequences([.. chunk.Select(s => tokenizer.Encode(s).Ids)], model.UsesTokenTypes);
            foreach (var (_, difference) in OnnxTestSupport.Compare(model, session, input)) max = Math.Max(max, difference);
        }
        return max;
    }

    [Fact]
    public void TheShippedSentimentTeacherAgreesOnSst2()
    {
        double difference = MaxDifferenceOnSst2(DefaultAssets.Teacher);
        log.WriteLine($"sentiment teacher, {Sentences} SST-2 sentences: max |diff| of logits {difference:G3}");
        Assert.True(difference <= Tolerance, $"max |diff| of logits {difference:G3}");
    }

    /// <summary>Any model folder named by DISTILBERT_ONNX_CHECK_MODEL (e.g. a quickstart student), checked the same way.</summary>
    [SkippableFact]
    public void AModelOfYourOwnAgreesOnSst2()
    {
        var folder = Environment.GetEnvironmentVariable("DISTILBERT_ONNX_CHECK_MODEL");
        Skip.If(string.IsNullOrEmpty(folder), "DISTILBERT_ONNX_CHECK_MODEL is not set");
        double difference = MaxDifferenceOnSst2(folder);
        log.WriteLine($"{folder}, {Sentences} SST-2 sentences: max |diff| {difference:G3}");
        Assert.True(difference <= Tolerance, $"max |diff| {difference:G3}");
    }

    [SkippableFact]
    public void AllMiniLmAgreesOnSst2()
    {
        var folder = Path.Combine(RepoRoot, "..", "shared", "models", "all-MiniLM-L6-v2");
        if (!File.Exists(Path.Combine(folder, "model.safetensors"))) folder = "/work/shared/models/all-MiniLM-L6-v2";
        Skip.IfNot(File.Exists(Path.Combine(folder, "model.safetensors")), "all-MiniLM-L6-v2 is not on this machine");
        double difference = MaxDifferenceOnSst2(folder);
        log.WriteLine($"all-MiniLM-L6-v2, {Sentences} SST-2 sentences: max |diff| of last_hidden_state {difference:G3}");
        Assert.True(difference <= Tolerance, $"max |diff| of last_hidden_state {difference:G3}");
    }
}
