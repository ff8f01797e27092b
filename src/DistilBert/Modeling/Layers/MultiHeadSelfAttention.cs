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

    /// <summary>q, k and v of one row side by side, [3·dim, dim] packed once: one GEMM instead of three.</summary>
    PackedMatrix? _packedQkv;
    float[] _qkvBias = [];
    (int, int, int) _packedVersions;

    /// <summary>Inference: qkv [tokens, 3·dim] from one GEMM with the three weights packed together; the attention kernel
    /// reads q, k and v from it by stride. Nothing is kept.</summary>
    void ForwardFusedQkv(float[] x, BatchLayout layout, LayerContext ctx, float[] y, Span<float> probabilitiesOut)
    {
        int tokens = layout.Tokens, dim = _dim, width = 3 * dim;
        var versions = (Query.Weight.Version, Key.Weight.Version, Value.Weight.Version);
        if (_packedQkv is null || versions != _packedVersions)
        {
            var stacked = new float[(long)width * dim]; // [3·dim, dim]: W_q, W_k, W_v one under the other
            Query.Weight.Value.CopyTo(stacked, 0);
            Key.Weight.Value.CopyTo(stacked, dim * dim);
            Value.Weight.Value.CopyTo(stacked, 2 * dim * dim);
            if (_packedQkv is null) _packedQkv = PackedMatrix.FromLinearWeight(stacked, width, dim);
            else _packedQkv.Repack(stacked);
            _packedVersions = versions;
        }
        // Biases are read at every call (cheap), so they never go stale.
        if (_qkvBias.Length != width) _qkvBias = new float[width];
        Query.Bias!.Value.CopyTo(_qkvBias, 0);
        Key.Bias!.Value.CopyTo(_qkvBias, dim);
        Value.Bias!.Value.CopyTo(_qkvBias, 2 * dim);

        var qkv = ctx.Shared.Get("attn.qkv", (long)tokens * width);
        var context = ctx.Shared.Get("attn.context", (long)tokens * dim);
        Linear.Forward(x.AsSpan(0, tokens * dim), tokens, _packedQkv, _qkvBias, qkv.AsSpan(0, tokens * width));
        Attention.Forward(qkv, width, qkv.AsSpan(dim), width, qkv.AsSpan(2 * dim), width, layout.SequenceStarts, _heads, _headDim, Scale,
            layout.KeyMask, context, dim, probabilitiesOut);
        Output.Forward(context, tokens, y, ctx);
    }

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
