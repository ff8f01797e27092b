using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>A linear weight as a quantised model folder stores it: values [out, in] in ±63 and one scale per output
/// feature (docs/int8.md).</summary>
/// <remarks>Thread-safety: read-only once made (nothing in the library writes its arrays), so any number of threads may
/// read it at once.</remarks>
public sealed record QuantizedWeight(sbyte[] Values, float[] Scales);

/// <summary>
/// The int8 copies of a model's encoder linear layers (q, k and v stacked into one matrix per layer, the attention
/// output, both FFN layers), made for one <see cref="Inference.InferenceSession"/> that holds them and passes them to the
/// layers through <see cref="LayerContext.Int8"/>. Embeddings, LayerNorms, attention's own products and the heads stay
/// fp32 (docs/int8.md says why).
/// <para>Thread-safety: immutable after <see cref="Build"/>; any number of inference calls read it at once.</para>
/// </summary>
public sealed class Int8Weights
{
    readonly Dictionary<LinearLayer, Int8Matrix> _linear = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<MultiHeadSelfAttention, (Int8Matrix Weight, float[] Bias)> _qkv = new(ReferenceEqualityComparer.Instance);

    /// <summary>Bytes held by the int8 matrices (values, scales, column sums).</summary>
    public long ByteCount => _linear.Values.Sum(m => m.ByteCount) + _qkv.Values.Sum(q => q.Weight.ByteCount + q.Bias.LongLength * sizeof(float));

    /// <summary>Floats of the fp32 weights the int8 matrices stand for.</summary>
    public long ReplacedFloats { get; private set; }

    internal Int8Matrix? For(LinearLayer layer) => _linear.GetValueOrDefault(layer);

    internal bool TryGetQkv(MultiHeadSelfAttention attention, out Int8Matrix weight, out float[] bias)
    {
        if (_qkv.TryGetValue(attention, out var qkv)) { (weight, bias) = qkv; return true; }
        (weight, bias) = (null!, null!);
        return false;
    }

    /// <summary>The linear layers of <paramref name="model"/> that int8 inference quantises, with their HF weight names.</summary>
    public static IEnumerable<LinearLayer> QuantizedLayers(TransformerModel model)
    {
        foreach (var block in model.EncoderBlocks)
        {
            yield return block.Attention.Query;
            yield return block.Attention.Key;
            yield return block.Attention.Value;
            yield return block.Attention.Output;
            yield return block.FeedForward.In;
            yield return block.FeedForward.Out;
        }
    }

    /// <summary>
    /// Quantises the encoder's linear weights of <paramref name="model"/>, taking the exact int8 values a quantised folder
    /// held (<see cref="TransformerModel.LoadedInt8Weights"/>) where there are some, else quantising the fp32 values.
    /// </summary>
    public static Int8Weights Build(TransformerModel model)
    {
        var weights = new Int8Weights();
        var loaded = model.LoadedInt8Weights;
        QuantizedWeight Quantized(LinearLayer layer)
        {
            // the stored values, unless the weight changed since loading (trained: Version counts the changes)
            if (loaded is not null && layer.Weight.Version == 0 && loaded.TryGetValue(layer.Weight.Name, out var stored)) return stored;
            var values = new sbyte[layer.Weight.Length];
            var scales = new float[layer.OutFeatures];
            Int8Matrix.Quantize(layer.Weight.Value, layer.OutFeatures, layer.InFeatures, values, scales);
            return new QuantizedWeight(values, scales);
        }

        foreach (var block in model.EncoderBlocks)
        {
            var attention = block.Attention;
            int dim = attention.Query.InFeatures;
            var parts = new[] { attention.Query, attention.Key, attention.Value };
            var stacked = new sbyte[3L * dim * dim];
            var scales = new float[3 * dim];
            var bias = new float[3 * dim];
            for (int i = 0; i < 3; i++)
            {
                var q = Quantized(parts[i]);
                q.Values.CopyTo(stacked, (long)i * dim * dim);
                q.Scales.CopyTo(scales, i * dim);
                parts[i].Bias?.Value.CopyTo(bias, i * dim);
            }
            weights._qkv[attention] = (Int8Matrix.FromQuantized(stacked, scales, 3 * dim, dim), bias);
            foreach (var layer in new[] { attention.Output, block.FeedForward.In, block.FeedForward.Out })
            {
                var q = Quantized(layer);
                weights._linear[layer] = Int8Matrix.FromQuantized(q.Values, q.Scales, layer.OutFeatures, layer.InFeatures);
            }
        }
        weights.ReplacedFloats = QuantizedLayers(model).Sum(l => (long)l.Weight.Length);
        return weights;
    }

    /// <summary>
    /// Drops the fp32 arrays of the quantised weights (inference-only models): the int8 copy is then the only one, and
    /// reading such a <see cref="Parameter.Value"/> again (save, info) gives the dequantised values q · scale.
    /// </summary>
    internal void ReleasePlainWeights()
    {
        foreach (var (attention, qkv) in _qkv)
        {
            int dim = attention.Query.InFeatures;
            var parts = new[] { attention.Query, attention.Key, attention.Value };
            for (int i = 0; i < 3; i++)
            {
                int first = i * dim;
                Release(parts[i].Weight, values => qkv.Weight.Dequantize(first, dim, values));
            }
        }
        foreach (var (layer, matrix) in _linear)
            Release(layer.Weight, values => matrix.Dequantize(0, layer.OutFeatures, values));
    }

    static void Release(Parameter weight, Action<Span<float>> restore)
    {
        if (weight.ReleaseWhenPacked is null || weight.IsReleased || weight.Aliases.Count > 0) return;
        weight.Release(restore);
    }
}
