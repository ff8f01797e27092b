using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>HF parameter names of one post-LN transformer layer.</summary>
public sealed record BlockNames(AttentionNames Attention, string AttentionNorm, string FfnIn, string FfnOut, string OutputNorm)
{
    public static BlockNames DistilBert(string prefix) => new(
        new AttentionNames(prefix + "attention.q_lin", prefix + "attention.k_lin", prefix + "attention.v_lin", prefix + "attention.out_lin"),
        prefix + "sa_layer_norm", prefix + "ffn.lin1", prefix + "ffn.lin2", prefix + "output_layer_norm");

    public static BlockNames Bert(string prefix) => new(
        new AttentionNames(prefix + "attention.self.query", prefix + "attention.self.key", prefix + "attention.self.value", prefix + "attention.output.dense", AdditiveMask: true),
        prefix + "attention.output.LayerNorm", prefix + "intermediate.dense", prefix + "output.dense", prefix + "output.LayerNorm");
}

/// <summary>Dropout probabilities of one layer: on attention probabilities, after the attention output projection
/// (BERT only; DistilBERT has none there), after the FFN.</summary>
public sealed record BlockDropout(double AttentionProbabilities, double AttentionOutput, double FeedForwardOutput);

/// <summary>
/// One post-LN layer: h = LN(x + drop(Attn(x))), y = LN(h + drop(FFN(h))). The same type serves DistilBERT and BERT;
/// only names, eps and dropout placement differ.
/// </summary>
public sealed class TransformerBlock
{
    public MultiHeadSelfAttention Attention { get; }
    public LayerNormLayer AttentionNorm { get; }
    public FeedForward FeedForward { get; }
    public LayerNormLayer OutputNorm { get; }
    readonly BlockDropout _dropout;
    readonly int _dim;
    readonly Workspace _cache = new();
    float[] _x = [];
    int _tokens;

    public TransformerBlock(ParameterRegistry registry, BlockNames names, int dim, int heads, int hidden, ActivationKind activation, float eps, BlockDropout dropout)
    {
        Attention = new MultiHeadSelfAttention(registry, names.Attention, dim, heads, dropout.AttentionProbabilities);
        AttentionNorm = new LayerNormLayer(registry, names.AttentionNorm, dim, eps);
        FeedForward = new FeedForward(registry, names.FfnIn, names.FfnOut, dim, hidden, activation);
        OutputNorm = new LayerNormLayer(registry, names.OutputNorm, dim, eps);
        _dropout = dropout;
        _dim = dim;
    }

    /// <summary>x: [tokens, dim] → y: [tokens, dim] (y must not alias x). Inference overwrites x: it is consumed.</summary>
    public void Forward(float[] x, BatchLayout layout, LayerContext ctx, float[] y, Span<float> probabilitiesOut)
    {
        int tokens = layout.Tokens;
        int n = tokens * _dim;
        var attn = ctx.Buffer(_cache, "block.attn", n);
        Attention.Forward(x, layout, ctx, attn, probabilitiesOut);
        if (!ctx.Training)
        {
            // Inference: residual add fused into each LayerNorm; nothing kept. LN(attn + x) goes into x's buffer: x is
            // not needed again, and a separate [tokens, dim] buffer was 12 MiB of peak memory at 32 × 128.
            var hidden = x;
            AttentionNorm.ForwardResidual(attn, x, tokens, hidden);
            var ffnOut = attn; // the attention output is consumed: reuse its buffer
            FeedForward.Forward(hidden, tokens, ctx, ffnOut, layout);
            OutputNorm.ForwardResidual(ffnOut, hidden, tokens, y);
            return;
        }
        if (ctx.Drops(_dropout.AttentionOutput)) Dropout.Forward(attn.AsSpan(0, n), _dropout.AttentionOutput, ctx.Random!, _cache.Get("block.attn.dropmask", n));
        for (int i = 0; i < n; i++) attn[i] += x[i]; // attn now holds the residual sum
        var h = ctx.Buffer(_cache, "block.h", n);
        AttentionNorm.Forward(attn, tokens, h, Stats(ctx, "block.h.mean", tokens), Stats(ctx, "block.h.rstd", tokens));
        var ffn = ctx.Buffer(_cache, "block.ffn", n);
        FeedForward.Forward(h, tokens, ctx, ffn);
        if (ctx.Drops(_dropout.FeedForwardOutput)) Dropout.Forward(ffn.AsSpan(0, n), _dropout.FeedForwardOutput, ctx.Random!, _cache.Get("block.ffn.dropmask", n));
        for (int i = 0; i < n; i++) ffn[i] += h[i];
        OutputNorm.Forward(ffn, tokens, y, Stats(ctx, "block.y.mean", tokens), Stats(ctx, "block.y.rstd", tokens));
        if (ctx.Training) { _x = x; _tokens = tokens; }
    }

    Span<float> Stats(LayerContext ctx, string key, int rows) => ctx.Training ? _cache.Get(key, rows).AsSpan(0, rows) : default;

    /// <summary>dy: [tokens, dim] → dx: [tokens, dim] (overwritten; must not alias dy).</summary>
    public void Backward(float[] dy, LayerContext ctx, float[] dx)
    {
        int tokens = _tokens, n = tokens * _dim;
        var dSum2 = ctx.Shared.Get("block.grad.sum2", n);
        OutputNorm.Backward(_cache.Get("block.ffn", 0), _cache.Get("block.y.mean", 0), _cache.Get("block.y.rstd", 0), dy, tokens, dSum2);
        // The residual passes dSum2 to h unchanged; the FFN branch adds its own gradient.
        var dFfn = ctx.Shared.Get("block.grad.ffn", n);
        dSum2.AsSpan(0, n).CopyTo(dFfn);
        if (ctx.Drops(_dropout.FeedForwardOutput)) Dropout.Backward(dFfn.AsSpan(0, n), _cache.Get("block.ffn.dropmask", 0));
        var dh = ctx.Shared.Get("block.grad.h", n);
        FeedForward.Backward(dFfn, ctx, dh);
        Elementwise.Add(dh.AsSpan(0, n), dSum2.AsSpan(0, n), dh);
        var dSum1 = ctx.Shared.Get("block.grad.sum1", n);
        AttentionNorm.Backward(_cache.Get("block.attn", 0), _cache.Get("block.h.mean", 0), _cache.Get("block.h.rstd", 0), dh, tokens, dSum1);
        var dAttn = ctx.Shared.Get("block.grad.attn", n);
        dSum1.AsSpan(0, n).CopyTo(dAttn);
        if (ctx.Drops(_dropout.AttentionOutput)) Dropout.Backward(dAttn.AsSpan(0, n), _cache.Get("block.attn.dropmask", 0));
        Attention.Backward(dAttn, ctx, dx);
        Elementwise.Add(dx.AsSpan(0, n), dSum1.AsSpan(0, n), dx);
    }
}
