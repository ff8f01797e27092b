using DistilBert.Modeling;

namespace DistilBert.Distillation;

/// <summary>
/// One forward/backward of general distillation (distiller.py's step, MLM branch): the teacher runs forward only in
/// eval mode, the student in training mode; <see cref="DistillationLoss"/> gives ∂loss/∂logits and ∂loss/∂last hidden,
/// which flow back through the student with <see cref="TransformerModel.BackwardFromOutputs"/>.
/// </summary>
public static class TripleLossStep
{
    /// <summary>Refuses a teacher/student pair the triple loss cannot compare (vocabulary and, for the cosine term, width).</summary>
    public static void CheckCompatible(TransformerModel teacher, TransformerModel student, DistillationLossOptions options)
    {
        if (teacher.Config.VocabSize != student.Config.VocabSize)
            throw new InvalidInputException($"teacher and student vocabularies differ: teacher vocab_size {teacher.Config.VocabSize}, student {student.Config.VocabSize}; the soft targets need the same vocabulary");
        if (options.AlphaCos != 0 && teacher.Config.HiddenSize != student.Config.HiddenSize)
            throw new InvalidInputException($"the cosine loss compares hidden states: teacher hidden size {teacher.Config.HiddenSize} ≠ student {student.Config.HiddenSize}; use a student as wide as the teacher or a cosine loss weight (AlphaCos) of 0");
    }

    /// <param name="input">the masked batch (ragged or padded); labels are not read from it</param>
    /// <param name="attentionMask">[tokens] 0 = padding, or empty for a ragged batch (every token real)</param>
    /// <param name="lmLabels">[tokens] original ids at MLM targets, −100 elsewhere</param>
    /// <param name="lossScale">multiplies every gradient (1/accumulation steps)</param>
    public static DistillationLossValue Run(TransformerModel teacher, TransformerModel student, ModelInput input,
        ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> lmLabels, DistillationLossOptions options, float lossScale = 1f)
    {
        CheckCompatible(teacher, student, options);
        if (teacher.IsTraining) teacher.Eval();
        if (!student.IsTraining) throw new InvalidOperationException("the student must be in training mode (call Train())");
        var teacherOut = teacher.Forward(input);
        var studentOut = student.Forward(input);
        var sLogits = studentOut["logits"].Data;
        var sHidden = studentOut["last_hidden_state"].Data;
        int vocab = student.Config.VocabSize, dim = student.Config.HiddenSize;
        var gLogits = new float[sLogits.Length];
        bool wantHidden = options.AlphaCos != 0;
        var gHidden = wantHidden ? new float[sHidden.Length] : [];
        var value = DistillationLoss.Compute(sLogits, teacherOut["logits"].Data, vocab,
            sHidden, wantHidden ? teacherOut["last_hidden_state"].Data : sHidden, dim,
            attentionMask, lmLabels, options, gLogits, gHidden);
        student.BackwardFromOutputs(gLogits, wantHidden ? gHidden : null, lossScale);
        return value;
    }
}
