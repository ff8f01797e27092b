using DistilBert.Checkpoints;
using DistilBert.Distillation;
using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>Backward from gradients of the outputs computed outside the model (what distillation needs).</summary>
public class ModelExternalGradientTests
{
    [Fact]
    public void DistillationStudentGradientsMatchDistillerPy()
    {
        // The golden Distiller.step: student forward, triple loss over logits and last hidden state, loss.backward().
        var student = PretrainedModel.Load(Fixtures.Golden("distillation", "student_distilbert_6layer")).Model;
        using var golden = SafeTensors.Open(Fixtures.Golden("distillation", "triple_loss", "expected.safetensors"));
        long[] ids = golden.ReadInt64("input_ids"), mask = golden.ReadInt64("attention_mask"), labels = golden.ReadInt64("lm_labels");
        int seq = (int)golden.Info("input_ids").Shape[1];
        student.Train(dropout: false);
        student.Parameters.ZeroGrad();
        var output = student.Forward(ModelInput.FromPadded(ids, ids.Length / seq, seq, mask));
        var logits = output["logits"].Data;
        var hidden = output["last_hidden_state"].Data;
        int vocab = student.Config.VocabSize, dim = student.Config.HiddenSize;
        ModelGoldenTests.AssertClose("triple_loss", "student_logits", golden.ReadFloat32("student_logits"), logits, (5e-4, 1e-4));

        var gradLogits = new float[logits.Length];
        var gradHidden = new float[hidden.Length];
        var loss = DistillationLoss.Compute(logits, golden.ReadFloat32("teacher_logits"), vocab, hidden, golden.ReadFloat32("teacher_last_hidden"), dim,
            mask, labels, new DistillationLossOptions(), gradLogits, gradHidden);
        Assert.Equal(golden.ReadFloat32("loss.all")[0], loss.Loss, 1e-3);
        student.Backward(new OutputGradients { Logits = gradLogits, LastHiddenState = gradHidden });

        int compared = 0;
        foreach (var info in golden.Tensors.Where(t => t.Name.StartsWith("grad.all.", StringComparison.Ordinal)))
        {
            var p = student.Parameters[info.Name["grad.all.".Length..]];
            var e = golden.ReadFloat32(info.Name);
            double tol = 1e-4 * e.Max(Math.Abs) + 1e-6;
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(p.Grad![i] - e[i]) <= tol, $"{p.Name}[{i}]: got {p.Grad[i]}, expected {e[i]}");
            compared++;
        }
        Assert.True(compared > 50);
        Assert.Null(student.Parameters["distilbert.embeddings.position_embeddings.weight"].Grad); // frozen
    }

    [Fact]
    public void ExternalLogitGradientEqualsTheOwnLossPath()
    {
        var folder = Fixtures.Golden("models", "bert_seqcls");
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var a = PretrainedModel.Load(folder).Model;
        var b = PretrainedModel.Load(folder).Model;
        var input = DistilBert.Cli.Commands.InferCommand.ReadInput(expected);
        a.Train(false); b.Train(false);
        a.Forward(input); a.Backward(1f);
        var output = b.Forward(input);
        // d CE / d logits = (softmax − onehot) / batch
        var logits = output["logits"].Data;
        int classes = 3, batch = logits.Length / classes;
        var d = new float[logits.Length];
        for (int r = 0; r < batch; r++)
        {
            double max = logits.Skip(r * classes).Take(classes).Max(), sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(logits[r * classes + c] - max);
            for (int c = 0; c < classes; c++) d[r * classes + c] = (float)(Math.Exp(logits[r * classes + c] - max) / sum / batch);
            d[r * classes + (int)input.Labels![r]] -= 1f / batch;
        }
        b.Backward(new OutputGradients { Logits = d });
        foreach (var p in a.Parameters)
        {
            var ga = p.Grad!; var gb = b.Parameters[p.Name].Grad!;
            double tol = 1e-4 * ga.Max(Math.Abs) + 1e-6;
            for (int i = 0; i < ga.Length; i++) Assert.True(Math.Abs(ga[i] - gb[i]) <= tol, $"{p.Name}[{i}]");
        }
        var e = Assert.Throws<InvalidInputException>(() => b.Backward(new OutputGradients { Logits = new float[2] }));
        Assert.Contains("Logits has 2 elements, logits has 9", e.Message);
    }
}
