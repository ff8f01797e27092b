namespace DistilBert.Compute;

/// <summary>Row-wise softmax with max subtraction, in place: x[rows, cols].</summary>
public static class Softmax
{
    public static void Rows(Span<float> x, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = x.Slice(r * cols, cols);
            float max = float.NegativeInfinity;
            for (int i = 0; i < cols; i++) if (row[i] > max) max = row[i];
            float sum = 0;
            for (int i = 0; i < cols; i++) { float e = MathF.Exp(row[i] - max); row[i] = e; sum += e; }
            float inv = 1f / sum;
            for (int i = 0; i < cols; i++) row[i] *= inv;
        }
    }
}
