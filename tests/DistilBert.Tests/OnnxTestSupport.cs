using DistilBert.Modeling;
using DistilBert.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DistilBert.Tests;

/// <summary>A padded [batch, seq] batch as ONNX Runtime and our engine both take it.</summary>
sealed record PaddedInput(long[] Ids, long[] Mask, long[]? Types, int Batch, int Seq)
{
    /// <summary>Right-padded ragged rows of random ids in [1, vocab); BERT's token types switch to 1 halfway along a row.</summary>
    public static PaddedInput Ragged(int[] lengths, int vocab, bool tokenTypes, int seed)
    {
        var random = new Random(seed);
        int batch = lengths.Length, seq = lengths.Max();
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        var types = tokenTypes ? new long[batch * seq] : null;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < lengths[b]; t++)
            {
                ids[b * seq + t] = random.Next(1, vocab);
                mask[b * seq + t] = 1;
                if (types is not null) types[b * seq + t] = t >= lengths[b] / 2 ? 1 : 0;
            }
        return new PaddedInput(ids, mask, types, batch, seq);
    }

    public static PaddedInput FromSequences(IReadOnlyList<int[]> rows, bool tokenTypes)
    {
        int batch = rows.Count, seq = rows.Max(r => r.Length);
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < rows[b].Length; t++) { ids[b * seq + t] = rows[b][t]; mask[b * seq + t] = 1; }
        return new PaddedInput(ids, mask, tokenTypes ? new long[batch * seq] : null, batch, seq);
    }

    public ModelInput ToModelInput() => ModelInput.FromPadded(Ids, Batch, Seq, Mask, Types);

    public bool IsReal(int b, int t) => Mask[b * Seq + t] != 0;
}

/// <summary>Exports models into ONNX Runtime sessions and compares what the two engines give.</summary>
static class OnnxTestSupport
{
    /// <summary>One intra-op thread: the test machines are shared, and the comparison is about numbers, not speed.</summary>
    public static InferenceSession Session(TransformerModel model, int opset = OnnxExporter.DefaultOpset)
    {
        using var stream = new MemoryStream();
        OnnxExporter.Export(model, stream, opset);
        return SessionOf(stream.ToArray());
    }

    public static InferenceSession SessionOf(byte[] onnx) =>
        new(onnx, new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 });

    public static InferenceSession SessionOf(string path) =>
        new(path, new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 });

    /// <summary>Every output of the session, by name: (data, shape).</summary>
    public static Dictionary<string, (float[] Data, int[] Shape)> Run(InferenceSession session, PaddedInput input)
    {
        var shape = new[] { input.Batch, input.Seq };
        var feeds = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(input.Ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(input.Mask, shape)),
        };
        if (session.InputMetadata.ContainsKey("token_type_ids"))
            feeds.Add(NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(input.Types ?? new long[input.Ids.Length], shape)));
        using var results = session.Run(feeds);
        return results.ToDictionary(r => r.Name, r =>
        {
            var tensor = r.AsTensor<float>();
            return (tensor.ToArray(), tensor.Dimensions.ToArray());
        });
    }

    /// <summary>Largest |ours − ORT| over the positions that are not padding (per-token outputs) or over all of a
    /// per-sequence output; asserts the shapes agree.</summary>
    public static double MaxDifference(string name, float[] ours, int[] ourShape, float[] theirs, int[] theirShape, PaddedInput input)
    {
        Assert.True(ourShape.SequenceEqual(theirShape), $"{name}: shape [{string.Join(", ", theirShape)}], ours [{string.Join(", ", ourShape)}]");
        bool perToken = ourShape.Length >= 2 && ourShape[0] == input.Batch && ourShape[1] == input.Seq;
        int inner = perToken ? ourShape.Skip(2).Aggregate(1, (a, d) => a * d) : 0;
        double max = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            if (perToken)
            {
                int row = i / inner;
                if (!input.IsReal(row / input.Seq, row % input.Seq)) continue;
            }
            double d = Math.Abs(ours[i] - (double)theirs[i]);
            if (!(d <= max)) max = double.IsNaN(d) ? double.PositiveInfinity : d;
        }
        return max;
    }

    /// <summary>Runs <paramref name="input"/> through both engines and returns the largest difference per output.</summary>
    public static Dictionary<string, double> Compare(TransformerModel model, InferenceSession session, PaddedInput input)
    {
        var ours = model.Forward(input.ToModelInput());
        var theirs = Run(session, input);
        var differences = new Dictionary<string, double>();
        foreach (var (name, (data, shape)) in theirs)
        {
            var mine = ours[name];
            differences[name] = MaxDifference(name, mine.Data, mine.Shape, data, shape, input);
        }
        return differences;
    }
}
