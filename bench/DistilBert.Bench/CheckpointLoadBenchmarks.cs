using BenchmarkDotNet.Attributes;
using DistilBert.Checkpoints;

namespace DistilBert.Bench;

/// <summary>
/// Loading a DistilBERT-base-sized checkpoint (66.4 M float32 parameters, 265 MB, synthetic values, HF's tensor names
/// and shapes) from safetensors: header + mapping only, copying every tensor out, and touching every 4 KiB page through
/// the zero-copy span. The file is in the page cache after the first iteration, so this measures our code, not the disk.
/// Run: dotnet run -c Release --project bench/DistilBert.Bench -- --filter '*CheckpointLoad*'
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 6)]
[MemoryDiagnoser]
public class CheckpointLoadBenchmarks
{
    string _path = "";
    float[][] _destinations = [];

    static IEnumerable<(string Name, long[] Shape)> DistilBertBase()
    {
        const int dim = 768, hidden = 3072, vocab = 30522, positions = 512;
        yield return ("distilbert.embeddings.word_embeddings.weight", [vocab, dim]);
        yield return ("distilbert.embeddings.position_embeddings.weight", [positions, dim]);
        yield return ("distilbert.embeddings.LayerNorm.weight", [dim]);
        yield return ("distilbert.embeddings.LayerNorm.bias", [dim]);
        for (int l = 0; l < 6; l++)
        {
            var p = $"distilbert.transformer.layer.{l}.";
            foreach (var lin in new[] { "q_lin", "k_lin", "v_lin", "out_lin" })
            {
                yield return (p + "attention." + lin + ".weight", [dim, dim]);
                yield return (p + "attention." + lin + ".bias", [dim]);
            }
            yield return (p + "sa_layer_norm.weight", [dim]);
            yield return (p + "sa_layer_norm.bias", [dim]);
            yield return (p + "ffn.lin1.weight", [hidden, dim]);
            yield return (p + "ffn.lin1.bias", [hidden]);
            yield return (p + "ffn.lin2.weight", [dim, hidden]);
            yield return (p + "ffn.lin2.bias", [dim]);
            yield return (p + "output_layer_norm.weight", [dim]);
            yield return (p + "output_layer_norm.bias", [dim]);
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), "distilbert-bench-base.safetensors");
        var rng = new Random(1);
        var tensors = DistilBertBase().Select(t =>
        {
            var values = new float[t.Shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble() - 0.5f;
            return TensorToWrite.Float32(t.Name, t.Shape, values);
        }).ToList();
        SafeTensors.Write(_path, tensors);
        using var st = SafeTensors.Open(_path);
        _destinations = st.Tensors.Select(t => new float[t.ElementCount]).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    [Benchmark(Description = "open (header + mmap)")]
    public int Open()
    {
        using var st = SafeTensors.Open(_path);
        return st.Tensors.Count;
    }

    [Benchmark(Description = "open + ReadFloat32 every tensor (copy)")]
    public int OpenAndCopyAll()
    {
        using var st = SafeTensors.Open(_path);
        for (int i = 0; i < st.Tensors.Count; i++) st.ReadFloat32(st.Tensors[i].Name, _destinations[i]);
        return st.Tensors.Count;
    }

    [Benchmark(Description = "open + read one float per 4 KiB page via GetFloat32Span (zero-copy)")]
    public float OpenAndTouchAll()
    {
        using var st = SafeTensors.Open(_path);
        float sum = 0;
        foreach (var t in st.Tensors)
        {
            var span = st.GetFloat32Span(t.Name);
            for (int i = 0; i < span.Length; i += 1024) sum += span[i];
        }
        return sum;
    }
}
