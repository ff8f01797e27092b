namespace DistilBert.Distillation;

/// <summary>
/// Task-specific distillation (classification, NER, QA logits):
///   loss = α · T² · KL(softmax(t/T) ‖ softmax(s/T)) [mean over selected rows] + (1 − α) · CE(s, labels) [mean over labels ≠ −100].
/// Forward and backward together; the gradient is with respect to the student's logits.
/// </summary>
public static class TaskDistillationLoss
{
    /// <param name="studentLogits">[rows, classes]</param>
    /// <param name="teacherLogits">[rows, classes]</param>
    /// <param name="labels">[rows] hard labels, −100 = none (e.g. sub-tokens, padding)</param>
    /// <param name="softSelected">[rows] or empty (= all rows): which rows take the soft-target term</param>
    /// <param name="gradLogits">[rows, classes] or empty</param>
    /// <returns>(loss, soft term before α, hard term before 1 − α)</returns>
    public static (float Loss, float Soft, float Hard) Compute(ReadOnlySpan<float> studentLogits, ReadOnlySpan<float> teacherLogits,
        int classes, ReadOnlySpan<int> labels, ReadOnlySpan<bool> softSelected, float alpha, float temperature, Span<float> gradLogits)
    {
        int rows = labels.Length;
        if (studentLogits.Length != (long)rows * classes || teacherLogits.Length != studentLogits.Length)
            throw new InvalidInputException($"task distillation loss: logits hold {studentLogits.Length} and {teacherLogits.Length} values, expected {rows} rows × {classes} classes");
        if (!softSelected.IsEmpty && softSelected.Length != rows) throw new InvalidInputException("task distillation loss: softSelected must have one entry per row");
        if (!gradLogits.IsEmpty) gradLogits.Clear();
        int nSoft = 0, nHard = 0;
        for (int r = 0; r < rows; r++)
        {
            if (softSelected.IsEmpty || softSelected[r]) nSoft++;
            if (labels[r] != DistillationLoss.IgnoreIndex) nHard++;
        }
        var logP = new double[classes];
        var logQ = new double[classes];
        double softSum = 0, hardSum = 0;
        float T = temperature;
        for (int r = 0; r < rows; r++)
        {
            var s = studentLogits.Slice(r * classes, classes);
            var g = gradLogits.IsEmpty ? default : gradLogits.Slice(r * classes, classes);
            if (softSelected.IsEmpty || softSelected[r])
            {
                DistillationLoss.LogSoftmax(s, T, logP);
                DistillationLoss.LogSoftmax(teacherLogits.Slice(r * classes, classes), T, logQ);
                for (int c = 0; c < classes; c++)
                {
                    double q = Math.Exp(logQ[c]);
                    if (q > 0) softSum += q * (logQ[c] - logP[c]);
                    if (!g.IsEmpty) g[c] += (float)(alpha * T / nSoft * (Math.Exp(logP[c]) - q));
                }
            }
            int label = labels[r];
            if (label != DistillationLoss.IgnoreIndex)
            {
                if (label < 0 || label >= classes) throw new InvalidInputException($"label {label} in row {r} is outside [0, {classes})");
                DistillationLoss.LogSoftmax(s, 1f, logP);
                hardSum -= logP[label];
                if (!g.IsEmpty)
                {
                    double scale = (1 - alpha) / nHard;
                    for (int c = 0; c < classes; c++) g[c] += (float)(scale * Math.Exp(logP[c]));
                    g[label] -= (float)scale;
                }
            }
        }
        double soft = nSoft == 0 ? 0 : softSum / nSoft * T * T;
        double hard = nHard == 0 ? 0 : hardSum / nHard;
        return ((float)(alpha * soft + (1 - alpha) * hard), (float)soft, (float)hard);
    }
}
