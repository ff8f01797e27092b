using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>torch.nn.Linear: y[rows, out] = x[rows, in] · Wᵀ + b, W stored [out, in].</summary>
public sealed class LinearLayer
{
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }
    /// <summary>The weight packed once into the GEMM's panel layout for inference (design note 5); re-packed in place
    /// when <see cref="Parameter.Version"/> says the weight changed.</summary>
    PackedMatrix? _packed;
    int _packedVersion;
    // concurrent inference calls may be the first to use a weight: one packs, the others wait and share it
    readonly object _packLock = new();

    /// <summary>Registers <c>{name}.weight</c> and <c>{name}.bias</c>.</summary>
    public LinearLayer(ParameterRegistry registry, string name, int inFeatures, int outFeatures, bool bias = true)
        : this(registry.Add(name + ".weight", [outFeatures, inFeatures]), bias ? registry.Add(name + ".bias", [outFeatures]) : null) { }

    /// <summary>Over existing parameters (a projector tied to the word embeddings).</summary>
    public LinearLayer(Parameter weight, Parameter? bias)
    {
        Weight = weight;
        Bias = bias;
        OutFeatures = weight.Shape[0];
        InFeatures = weight.Shape[1];
    }

    // x: [rows, in] → y: [rows, out]
    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> y) =>
        Linear.Forward(x[..(rows * InFeatures)], rows, InFeatures, Weight.Value, OutFeatures, Bias is null ? default : Bias.Value, y[..(rows * OutFeatures)]);

    /// <summary>Inference: y = epilogue(x·Wᵀ + b) with W packed once and reused by every later call; the rows of
    /// <paramref name="strassenBlocks"/> by Strassen (<see cref="Linear.Forward(ReadOnlySpan{float}, int, PackedMatrix,
    /// ReadOnlySpan{float}, Span{float}, Epilogue, ReadOnlySpan{int})"/>).</summary>
    public void ForwardPacked(ReadOnlySpan<float> x, int rows, Span<float> y, Epilogue epilogue = Epilogue.None,
        ReadOnlySpan<int> strassenBlocks = default)
    {
        var packed = EnsurePacked();
        Linear.Forward(x[..(rows * InFeatures)], rows, packed, Bias is null ? default : Bias.Value, y[..(rows * OutFeatures)],
            epilogue, strassenBlocks);
    }

    /// <summary>
    /// Inference at a few rows (the MLM projector at [MASK] rows) that never creates a packed copy: the plain weight is
    /// streamed once (<see cref="Linear.ForwardStreamingWeight"/>). Only when the plain copy was already released in favour
    /// of a packed one (an untied projector after a full-logits forward) is the packed copy used, rather than bringing a
    /// second copy back.
    /// </summary>
    public void ForwardWithoutPacking(ReadOnlySpan<float> x, int rows, Span<float> y)
    {
        if (Weight.IsReleased && Volatile.Read(ref _packed) is not null) ForwardPacked(x, rows, y);
        else Linear.ForwardStreamingWeight(x[..(rows * InFeatures)], rows, InFeatures, Weight.Value, OutFeatures,
            Bias is null ? default : Bias.Value, y[..(rows * OutFeatures)]);
    }

    /// <summary>The packed weight, (re)packed if missing or stale; for an inference-only model the plain copy is then
    /// released so the packed one is the only copy (a tied weight is kept: another layer reads it unpacked).</summary>
    PackedMatrix EnsurePacked()
    {
        lock (_packLock) return EnsurePackedLocked();
    }

    PackedMatrix EnsurePackedLocked()
    {
        if (_packed is null) (_packed, _packedVersion) = (PackedMatrix.FromLinearWeight(Weight.Value, OutFeatures, InFeatures), Weight.Version);
        else if (_packedVersion != Weight.Version) { _packed.Repack(Weight.Value); _packedVersion = Weight.Version; }
        if (Weight.ReleaseWhenPacked is not null && !Weight.IsReleased && Weight.Aliases.Count == 0)
        {
            var packed = _packed;
            int n = OutFeatures;
            Weight.Release(values => PackedSlices.UnpackLinearWeight(packed, 0, n, values));
        }
        return _packed;
    }

    /// <summary>Forward as the context asks: int8 when the session quantised this layer, packed weights in inference (when
    /// enabled), the plain path in training (weights change every step, and Backward needs nothing packed).</summary>
    public void Forward(ReadOnlySpan<float> x, int rows, Span<float> y, LayerContext ctx)
    {
        if (!ctx.Training && ctx.PackWeights) ForwardInference(x, rows, y, ctx);
        else Forward(x, rows, y);
    }

    /// <summary>Inference: through the session's int8 copy of this layer when there is one (<see cref="LayerContext.Int8"/>),
    /// else <see cref="ForwardPacked"/>.</summary>
    public void ForwardInference(ReadOnlySpan<float> x, int rows, Span<float> y, LayerContext ctx, Epilogue epilogue = Epilogue.None,
        ReadOnlySpan<int> strassenBlocks = default)
    {
        if (ctx.Int8?.For(this) is { } quantized)
            Int8Linear.Forward(x[..(rows * InFeatures)], rows, quantized, Bias is null ? default : Bias.Value, y[..(rows * OutFeatures)], epilogue);
        else ForwardPacked(x, rows, y, epilogue, strassenBlocks);
    }

    public bool HasPackedWeight => _packed is not null;

    /// <summary>dW += dyᵀ·x, db += Σrows dy; dx = dy·W (added to dx when <paramref name="accumulateDx"/>; skipped if dx is empty).
    /// Rows of dy that are all zero are skipped (<see cref="LinearBackward"/>).</summary>
    public void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int rows, Span<float> dx, bool accumulateDx = false)
    {
        LinearBackward.Backward(x, dy, rows, InFeatures, OutFeatures, Weight.Value, Weight.RequiresGrad ? Weight.EnsureGrad() : default,
            Bias is { RequiresGrad: true } ? Bias.EnsureGrad() : default, dx, accumulateDx);
    }
}
