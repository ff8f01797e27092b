using DistilBert.Training;
using DistilBert.Checkpoints;
using DistilBert.Distillation;

namespace DistilBert.Tests;

[Collection(nameof(PipelineCliCollection))] // runs a CLI command, which writes to the process-wide console
public class DistillationTests
{
    static string Dist(params string[] parts) => Fixtures.Golden(["distillation", .. parts]);

    [Fact]
    public void DefaultLayerMapIsHfsForTwelveToSix()
    {
        Assert.Equal([0, 2, 4, 7, 9, 11], StudentExtraction.DefaultLayerMap(12, 6));
        Assert.Equal([0, 3], StudentExtraction.DefaultLayerMap(4, 2));
        Assert.Equal([0], StudentExtraction.DefaultLayerMap(12, 1));
        Assert.Throws<InvalidInputException>(() => StudentExtraction.DefaultLayerMap(6, 7));
    }

    [Theory]
    [InlineData(false, "student_init.safetensors")]
    [InlineData(true, "student_init_vocab_transform.safetensors")]
    public void ExtractedStudentEqualsHfExtractDistilbertTensorForTensor(bool vocabTransform, string expectedFile)
    {
        using var teacher = SafeTensors.Open(Dist("teacher_bert_12layer", "model.safetensors"));
        using var expected = SafeTensors.Open(Dist("extract_distilbert", expectedFile));
        var layers = StudentExtraction.DefaultLayerMap(StudentExtraction.CountTeacherLayers(teacher), 6);
        var student = StudentExtraction.Extract(teacher, layers, vocabTransform);

        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), student.Select(t => t.Name).Order());
        foreach (var t in student)
        {
            Assert.Equal(expected.Info(t.Name).Shape, t.Shape);
            Assert.Equal(expected.ReadFloat32(t.Name), t.Value);
        }
    }

    [Theory]
    [InlineData("model.safetensors")]
    [InlineData("pytorch_model.bin")]
    public void InitStudentCommandWritesHfsStudentByteForByte(string teacherWeights)
    {
        using var tmp = new TempDirectory("init-student");
        var outDir = tmp.File("student");
        var teacherDir = tmp.File("teacher");
        Directory.CreateDirectory(teacherDir);
        File.Copy(Dist("teacher_bert_12layer", "config.json"), Path.Combine(teacherDir, "config.json"));
        File.Copy(Dist("teacher_bert_12layer", teacherWeights), Path.Combine(teacherDir, teacherWeights));
        int rc = DistilBert.Cli.Program.BuildRoot().Parse(["init-student", "--teacher", teacherDir, "--out", outDir, "--json"]).Invoke();
        Assert.Equal(0, rc);
        // HF: extract_distilbert.py --vocab_transform, then DistilBertForMaskedLM.from_pretrained(...).save_pretrained(...)
        Assert.Equal(File.ReadAllBytes(Dist("student_distilbert_6layer", "model.safetensors")), File.ReadAllBytes(Path.Combine(outDir, "model.safetensors")));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")))!;
        Assert.Equal(6, (int)config["n_layers"]!);
        Assert.Equal(16, (int)config["dim"]!);
        Assert.Equal("DistilBertForMaskedLM", (string)config["architectures"]![0]!);
    }

    [Fact]
    public void ExplicitLayerListIsHonouredAndMissingLayersRefused()
    {
        using var teacher = SafeTensors.Open(Dist("teacher_bert_12layer", "model.safetensors"));
        var student = StudentExtraction.Extract(teacher, [1, 11], includeVocabTransform: false);
        Assert.Contains(student, t => t.Name == "distilbert.transformer.layer.1.ffn.lin2.bias" && t.SourceName == "bert.encoder.layer.11.output.dense.bias");
        Assert.Throws<InvalidInputException>(() => StudentExtraction.Extract(teacher, [0, 12], false));
    }

    [Theory]
    [InlineData("all", false)]
    [InlineData("restrict", true)]
    public void TripleLossAndGradientsMatchDistillerOnStandaloneTensors(string tag, bool restrict)
    {
        using var st = SafeTensors.Open(Dist("triple_loss", "standalone.safetensors"));
        var shape = st.Info("student_logits").Shape;
        int vocab = (int)shape[2], dim = (int)st.Info("student_last_hidden").Shape[2];
        var gradLogits = new float[st.Info("student_logits").ElementCount];
        var gradHidden = new float[st.Info("student_last_hidden").ElementCount];

        var value = DistillationLoss.Compute(st.ReadFloat32("student_logits"), st.ReadFloat32("teacher_logits"), vocab,
            st.ReadFloat32("student_last_hidden"), st.ReadFloat32("teacher_last_hidden"), dim,
            st.ReadInt64("attention_mask"), st.ReadInt64("lm_labels"), new DistillationLossOptions { RestrictCeToMask = restrict },
            gradLogits, gradHidden);

        float expectedLoss = st.ReadFloat32($"loss.{tag}")[0];
        Assert.True(Math.Abs(value.Loss - expectedLoss) <= 1e-5 * Math.Max(1, Math.Abs(expectedLoss)), $"loss {value.Loss} vs {expectedLoss}");
        AssertGradClose(st.ReadFloat32($"grad_student_logits.{tag}"), gradLogits);
        AssertGradClose(st.ReadFloat32($"grad_student_last_hidden.{tag}"), gradHidden);
    }

    [Fact]
    public void TripleLossComponentsMatchDistillerOnTheRealBatch()
    {
        using var st = SafeTensors.Open(Dist("triple_loss", "expected.safetensors"));
        int vocab = (int)st.Info("student_logits").Shape[2], dim = (int)st.Info("student_last_hidden").Shape[2];
        var value = DistillationLoss.Compute(st.ReadFloat32("student_logits"), st.ReadFloat32("teacher_logits"), vocab,
            st.ReadFloat32("student_last_hidden"), st.ReadFloat32("teacher_last_hidden"), dim,
            st.ReadInt64("attention_mask"), st.ReadInt64("lm_labels"), new DistillationLossOptions(), [], []);
        // distillation.json: loss 49.71999, ce 3.27955, mlm 16.54489, cos 0.23246.
        Assert.Equal(st.ReadFloat32("loss.all")[0], value.Loss, 49.72f * 1e-5f);
        Assert.Equal(3.279552698135376f, value.LossCe, 1e-5f);
        Assert.Equal(16.544885635375977f, value.LossMlm, 2e-4f);
        Assert.Equal(0.23246100544929504f, value.LossCos, 1e-5f);
    }

    static void AssertGradClose(float[] expected, float[] actual)
    {
        float max = expected.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * max + 1e-6, $"element {i}: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void TaskLossGradientMatchesFiniteDifferences()
    {
        var rng = new Random(3);
        int rows = 4, classes = 3;
        var s = Enumerable.Range(0, rows * classes).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        var t = Enumerable.Range(0, rows * classes).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        int[] labels = [0, 2, -100, 1];
        var grad = new float[s.Length];
        var (loss, soft, hard) = TaskDistillationLoss.Compute(s, t, classes, labels, [], 0.5f, 2f, grad);
        Assert.Equal(0.5f * soft + 0.5f * hard, loss, 1e-5f);
        for (int i = 0; i < s.Length; i++)
        {
            var plus = (float[])s.Clone(); plus[i] += 1e-3f;
            var minus = (float[])s.Clone(); minus[i] -= 1e-3f;
            double numeric = (TaskDistillationLoss.Compute(plus, t, classes, labels, [], 0.5f, 2f, []).Loss
                - TaskDistillationLoss.Compute(minus, t, classes, labels, [], 0.5f, 2f, []).Loss) / 2e-3;
            Assert.Equal(numeric, grad[i], 2e-3);
        }
    }

    [Fact]
    public void MaskingChoosesFifteenPercentNeverSpecialAndFavoursRareTokens()
    {
        int vocab = 50, mask = 4;
        var counts = new long[vocab];
        for (int i = 5; i < vocab; i++) counts[i] = i < 10 ? 1 : 10_000; // ids 5..9 are rare
        var masking = new MlmMasking(counts, [0, 1, 2, 3, 4], mask);
        var rng = new Random(42);
        int rareTargets = 0, rarePositions = 0, targetsTotal = 0, masked = 0, kept = 0, random = 0;
        for (int batch = 0; batch < 400; batch++)
        {
            var ids = new int[40];
            var real = new bool[40];
            ids[0] = 1; ids[^1] = 2; real[0] = real[^1] = true;
            for (int i = 1; i < 30; i++) { ids[i] = rng.Next(5, vocab); real[i] = true; }
            for (int i = 30; i < 39; i++) ids[i] = 0; // padding
            var original = (int[])ids.Clone();
            var labels = new int[40];
            int n = masking.Apply(ids, real, labels, rng);
            Assert.Equal((int)Math.Ceiling(0.15 * 31), n);
            Assert.Equal(n, labels.Count(l => l != -100));
            Assert.Equal(-100, labels[0]); Assert.Equal(-100, labels[^1]);
            for (int i = 30; i < 39; i++) Assert.Equal(-100, labels[i]);
            for (int i = 0; i < 40; i++)
            {
                if (original[i] is >= 5 and < 10) rarePositions++;
                if (labels[i] == -100) { Assert.Equal(original[i], ids[i]); continue; }
                Assert.Equal(original[i], labels[i]);
                targetsTotal++;
                if (original[i] < 10) rareTargets++;
                if (ids[i] == mask) masked++; else if (ids[i] == original[i]) kept++; else random++;
            }
        }
        // Rare ids are 5 of 45 candidates (11 %) but carry ~1000x the weight: most targets land on them.
        Assert.True(rareTargets > 0.5 * Math.Min(targetsTotal, rarePositions), $"{rareTargets} rare of {targetsTotal}");
        Assert.InRange(masked / (double)targetsTotal, 0.75, 0.85);
        Assert.InRange((kept + random) / (double)targetsTotal, 0.15, 0.25);
    }
}
