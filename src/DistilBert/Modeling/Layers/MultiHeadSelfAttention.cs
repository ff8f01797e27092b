using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>HF parameter names of one attention module (DistilBERT: q_lin…, BERT: self.query…), and how HF masks:
/// DistilBERT replaces masked scores (masked_fill: no gradient through them), BERT adds finfo.min to them (autograd
/// still passes the gradient of a fully masked row's uniform softmax back to q and k).</summary>
public sealed record AttentionNames(string Query, string Key, string Value, string Output, bool AdditiveMask = false);

/// <summary>
/// Multi-head self-attention over a ragged batch: q/k/v projections, softmax(q·kᵀ/√d) with masked keys at
/// probability 0 (a fully masked query row is uniform, as HF's finfo.min fill gives), dropout on the probabilities,
/// context = P·v, output projection. Each sequence attends only within itself.
/// </summary>
public sealed class MultiHeadSelfAttention
{
    public LinearLayer Query { get; }
    public LinearLayer Key { get; }
    public LinearLayer Value { get; }
    public LinearLayer Output { get; }
    readonly int _dim, _heads, _headDim;
    readonly double _dropout;
    readonly bool _additiveMask;
    readonly Workspace _cache = new();
    float[] _x = [];
    BatchLayout? _layout;

    public MultiHeadSelfAttention(ParameterRegistry registry, AttentionNames names, int dim, int heads, double dropout)
    {
        Query = new LinearLayer(registry, names.Query, dim, dim);
        Key = new LinearLayer(registry, names.Key, dim, dim);
        Value = new LinearLayer(registry, names.Value, dim, dim);
        Output = new LinearLayer(registry, names.Output, dim, dim);
        _dim = dim;
        _heads = heads;
        _headDim = dim / heads;
        _dropout = dropout;
        _additiveMask = names.AdditiveMask;
    }

    float Scale => 1f / MathF.Sqrt(_headDim);

    /// <summary>x: [tokens, dim] → y: [tokens, dim]. <paramref name="probabilitiesOut"/>: empty, or [Σ heads·T_s²] to receive
    /// the (post-dropout, as HF returns them) attention probabilities.</summary>
    public void Forward(float[] x, BatchLayout layout, LayerContext ctx, float[] y, Span<float> probabilitiesOut)
    {
        if (!ctx.Training && ctx.PackWeights)
        {
            ForwardFusedQkv(x, layout, ctx, y, probabilitiesOut);
            return;
        }
        int tokens = layout.Tokens, dim = _dim;
        long n = (long)tokens * dim;
        var q = ctx.Buffer(_cache, "attn.q", n);
        var k = ctx.Buffer(_cache, "attn.k", n);
        var v = ctx.Buffer(_cache, "attn.v", n);
        var context = ctx.Buffer(_cache, "attn.context", n);
        Query.Forward(x, tokens, q, ctx);
        Key.Forward(x, tokens, k, ctx);
        Value.Forward(x, tokens, v, ctx);
        long probLength = Attention.ProbabilitiesLength(layout.SequenceStarts, _heads);
        bool keepProbabilities = ctx.Training || !probabilitiesOut.IsEmpty;
        var probs = keepProbabilities ? ctx.Buffer(_cache, "attn.probs", probLength) : [];
        Attention.Forward(q, dim, k, dim, v, dim, layout.SequenceStarts, _heads, _headDim, Scale, layout.KeyMask,
            context, dim, probs.AsSpan(0, keepProbabilities ? (int)probLength : 0));
        var returned = probs;
        if (ctx.Drops(_dropout))
        {
            // Dropout acts on the probabilities, so the context must be recomputed from the dropped ones.
            var dropped = _cache.Get("attn.probs.dropped", probLength);
            probs.AsSpan(0, (int)probLength).CopyTo(dropped);
            Dropout.Forward(dropped.AsSpan(0, (int)probLength), _dropout, ctx.Random!, _cache.Get("attn.dropmask", probLength));
            AttentionContext.FromProbabilities(dropped.AsSpan(0, (int)probLength), v, dim, layout.SequenceStarts, _heads, _headDim, context);
            returned = dropped;
        }
        if (!probabilitiesOut.IsEmpty) returned.AsSpan(0, (int)probLength).CopyTo(probabilitiesOut);
        Output.Forward(context, tokens, y, ctx);
        if (ctx.Training) { _x = x; _layout = layout; }
    }

    /// <summary>q, k and v of one row side by side, [3·dim, dim] packed once: one GEMM instead of three; with their
    /// biases side by side [3·dim]. Built under <see cref="_packLock"/>, then only read, so concurrent inference calls
    /// share them.</summary>
    PackedMatrix? _packedQkv;
    float[] _qkvBias = [];
    (int, int, int, int, int, int) _packedVersions;
    readonly object _packLock = new();

    /// <summary>Inference runs whole sequences in blocks of about this many tokens (a longer sequence is a block of its
    /// own), so qkv and context are [block, 3·dim] and [block, dim] instead of [tokens, …]: at batch 32 × 128 that is
    /// 12 MB of workspace instead of 50 MB, with the GEMMs still tall enough to run at full speed.</summary>
    public const int InferenceTokenBlock = 512;

    /// <summary>Inference: qkv [block, 3·dim] from one GEMM with the three weights packed together; the attention kernel
    /// reads q, k and v from it by stride. Nothing is kept.</summary>
    void ForwardFusedQkv(float[] x, BatchLayout layout, LayerContext ctx, float[] y, Span<float> probabilitiesOut)
    {
        int dim = _dim, width = 3 * dim;
        PackedMatrix? packedQkv = null;
        float[] qkvBias;
        if (ctx.Int8 is null || !ctx.Int8.TryGetQkv(this, out var int8Qkv, out qkvBias))
        {
            (packedQkv, qkvBias) = EnsurePackedQkv();
            int8Qkv = null;
        }

        var starts = layout.SequenceStarts;
        int blockCapacity = layout.BlockCapacity(InferenceTokenBlock);
        var qkv = ctx.Shared.Get("attn.qkv", (long)blockCapacity * width);
        var context = ctx.Shared.Get("attn.context", (long)blockCapacity * dim);
        var blockStartsBuffer = ctx.Shared.GetInts("attn.blockstarts", layout.Sequences + 1);
        long probabilitiesOffset = 0;
        for (int first = 0, last; first < layout.Sequences; first = last)
        {
            // sequences [first, last) fill the block; their token starts relative to the block's first row
            int row0 = starts[first];
            last = layout.BlockEnd(first, blockCapacity);
            int rows = starts[last] - row0, count = last - first;
            for (int s = 0; s <= count; s++) blockStartsBuffer[s] = starts[first + s] - row0;
            var blockStarts = blockStartsBuffer.AsSpan(0, count + 1);
            var strassenStarts = ctx.Shared.GetInts("attn.strassen", rows / GemmDriver.StrassenRows + 1);
            int strassenCount = ctx.Strassen ? StrassenBlocks.Find(blockStarts, 0, rows, ref strassenStarts) : 0;
            var strassen = strassenStarts.AsSpan(0, strassenCount);

            if (int8Qkv is not null) Int8Linear.Forward(x.AsSpan(row0 * dim, rows * dim), rows, int8Qkv, qkvBias, qkv.AsSpan(0, rows * width));
            else Linear.Forward(x.AsSpan(row0 * dim, rows * dim), rows, packedQkv!, qkvBias, qkv.AsSpan(0, rows * width),
                Epilogue.None, strassen);
            var probabilities = Span<float>.Empty;
            if (!probabilitiesOut.IsEmpty)
            {
                long length = Attention.ProbabilitiesLength(blockStarts, _heads);
                probabilities = probabilitiesOut.Slice((int)probabilitiesOffset, (int)length);
                probabilitiesOffset += length;
            }
            var keyMask = layout.KeyMask is { } mask ? mask.AsSpan(row0, rows) : default;
            Attention.Forward(qkv, width, qkv.AsSpan(dim), width, qkv.AsSpan(2 * dim), width, blockStarts, _heads, _headDim, Scale,
                keyMask, context, dim, probabilities);
            Output.ForwardInference(context.AsSpan(0, rows * dim), rows, y.AsSpan(row0 * dim, rows * dim), ctx, Epilogue.None, strassen);
        }
    }

    /// <summary>The stacked q/k/v weight and bias, packed on first use and re-packed when any of the six changed. For an
    /// inference-only model the three plain weight copies are then released: the packed one is the only copy, and reading
    /// a released Value unpacks its columns again. Safe to call from concurrent inference calls: the pack is (re)built
    /// under a lock, and a new bias array is published only once it is complete.</summary>
    (PackedMatrix Weight, float[] Bias) EnsurePackedQkv()
    {
        int dim = _dim;
        lock (_packLock)
        {
            var versions = (Query.Weight.Version, Key.Weight.Version, Value.Weight.Version,
                Query.Bias!.Version, Key.Bias!.Version, Value.Bias!.Version);
            if (_packedQkv is null || versions != _packedVersions)
            {
                // Read every Value before packing into the stacked matrix: a released weight unpacks from that very matrix.
                var weights = new[] { Query.Weight.Value, Key.Weight.Value, Value.Weight.Value };
                if (_packedQkv is null) _packedQkv = PackedMatrix.FromLinearWeight(StackedQkv(weights), 3 * dim, dim);
                else if (PackedSlices.CanPackInto(_packedQkv, dim, dim))
                    for (int i = 0; i < 3; i++) PackedSlices.PackLinearWeightInto(_packedQkv, i * dim, weights[i], dim);
                else _packedQkv.Repack(StackedQkv(weights));
                var bias = new float[3 * dim];
                Query.Bias.Value.CopyTo(bias, 0);
                Key.Bias.Value.CopyTo(bias, dim);
                Value.Bias.Value.CopyTo(bias, 2 * dim);
                _qkvBias = bias;
                _packedVersions = versions;
            }
            ReleaseIntoPack(Query.Weight, _packedQkv, 0);
            ReleaseIntoPack(Key.Weight, _packedQkv, dim);
            ReleaseIntoPack(Value.Weight, _packedQkv, 2 * dim);
            return (_packedQkv, _qkvBias);
        }
    }

    /// <summary>Makes columns [firstColumn, firstColumn + dim) of the stacked pack the only copy of <paramref name="weight"/>.</summary>
    void ReleaseIntoPack(Parameter weight, PackedMatrix packed, int firstColumn)
    {
        if (weight.ReleaseWhenPacked is null || weight.IsReleased || weight.Aliases.Count > 0) return;
        int dim = _dim;
        weight.Release(values => PackedSlices.UnpackLinearWeight(packed, firstColumn, dim, values));
    }

    /// <summary>The reference layout the fused pack must equal: [3·dim, dim], W_q, W_k, W_v one under the other.</summary>
    internal static float[] StackedQkv(float[][] weights)
    {
        int size = weights[0].Length;
        var stacked = new float[3L * size];
        for (int i = 0; i < 3; i++) weights[i].CopyTo(stacked, i * size);
        return stacked;
    }

    /// <summary>The fused q/k/v pack (tests), or null before the first inference call.</summary>
    internal PackedMatrix? PackedQkv => _packedQkv;

    /// <summary>dy: [tokens, dim] → dx: [tokens, dim] (overwritten). Softmax backward dS = P∘(dP − rowsum(P∘dP)); masked
    /// keys have P = 0 and get no gradient; a fully masked row gets none with DistilBERT's fill, and the uniform-softmax
    /// gradient with BERT's additive mask, as autograd gives in HF.</summary>
    public void Backward(float[] dy, LayerContext ctx, float[] dx)
    {
        var layout = _layout ?? throw new InvalidOperationException("attention Backward without a training forward");
        int tokens = layout.Tokens, dim = _dim;
        long n = (long)tokens * dim;
        var q = _cache.Get("attn.q", 0);
        var k = _cache.Get("attn.k", 0);
        var v = _cache.Get("attn.v", 0);
        var context = _cache.Get("attn.context", 0);
        var probs = _cache.Get("attn.probs", 0);
        bool dropped = ctx.Drops(_dropout);
        var usedProbs = dropped ? _cache.Get("attn.probs.dropped", 0) : probs;
        var dropMask = dropped ? _cache.Get("attn.dropmask", 0) : null;

        var dContext = ctx.Shared.Get("attn.grad.context", n);
        Output.Backward(context, dy, tokens, dContext);
        var dq = ctx.Shared.Get("attn.grad.q", n);
        var dk = ctx.Shared.Get("attn.grad.k", n);
        var dv = ctx.Shared.Get("attn.grad.v", n);
        int probLength = (int)Attention.ProbabilitiesLength(layout.SequenceStarts, _heads);
        AttentionBackward.Backward(q, k, v, dim, layout.SequenceStarts, _heads, _headDim, Scale, layout.KeyMask,
            fullyMaskedRowsGetNoGradient: !_additiveMask, probs.AsSpan(0, probLength), usedProbs.AsSpan(0, probLength),
            dropMask is null ? default : dropMask.AsSpan(0, probLength), dContext, dq, dk, dv);
        Query.Backward(_x, dq, tokens, dx);
        Key.Backward(_x, dk, tokens, dx, accumulateDx: true);
        Value.Backward(_x, dv, tokens, dx, accumulateDx: true);
    }
}
