using DistilBert.Checkpoints;

namespace DistilBert.Tests;

public class SafeTensorsTests
{
    [Fact]
    public void ReadsGoldenModelAndRoundTripsBitIdentical()
    {
        var path = Fixtures.Golden("models", "distilbert_seqcls", "model.safetensors");
        using var st = SafeTensors.Open(path);
        Assert.Contains(st.Tensors, t => t.Name == "distilbert.embeddings.word_embeddings.weight");
        Assert.Equal("pt", st.Metadata["format"]);

        using var tmpDir = new TempDirectory("st");
        var tmp = tmpDir.File("model.safetensors");
        SafeTensors.Write(tmp, st.Tensors.Select(t => TensorToWrite.Float32(t.Name, t.Shape, st.ReadFloat32(t.Name))));
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(tmp));
    }

    [Fact]
    public void ReadsInt64Inputs()
    {
        using var st = SafeTensors.Open(Fixtures.Golden("models", "distilbert_seqcls", "expected.safetensors"));
        var ids = st.ReadInt64("input_ids");
        Assert.Equal(st.Info("input_ids").ElementCount, ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 100000));
    }

    [Fact]
    public void RejectsHugeHeaderLengthWithClearError()
    {
        using var tmpDir = new TempDirectory("st");
        var tmp = tmpDir.File("huge-header.safetensors");
        var bytes = new byte[16];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), ulong.MaxValue / 2);
        File.WriteAllBytes(tmp, bytes);
        var e = Assert.Throws<ModelFileException>(() => SafeTensors.Open(tmp));
        Assert.Contains("header length", e.Message);
        Assert.Contains(tmp, e.Message);
    }
}
