namespace DistilBert.Modeling.Layers;

/// <summary>HF names of an MLM head. DistilBERT: vocab_transform / vocab_layer_norm / vocab_projector;
/// BERT: cls.predictions.transform.dense / .LayerNorm / decoder (+ cls.predictions.bias, registered first as HF does).</summary>
public sealed record MaskedLmNames(string Transform, string Norm, string ProjectorWeightAlias, string ProjectorBias, string? ProjectorBiasAlias, bool BiasFirst)
{
    public static readonly MaskedLmNames DistilBert = new("vocab_transform", "vocab_layer_norm", "vocab_projector.weight", "vocab_projector.bias", null, false);
    public static readonly MaskedLmNames Bert = new("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder.weight", "cls.predictions.bias", "cls.predictions.decoder.bias", true);
}

/// <summary>
/// logits = LN(act(transform(h))) · Eᵀ + b, with E the word-embedding matrix itself (tied: one tensor, two names, so
/// the projector's gradient lands in the embedding's).
/// </summary>
public sealed class MaskedLmHead
{
    public LinearLayer Transform { get; }
    public LayerNormLayer Norm { get; }
    public LinearLayer Projector { get; }
    readonly ActivationKind _activation;
    readonly int _dim;
    readonly Workspace _cache = new();
    float[] _h = [];
    int _rows;

    /// <param name="tied">false (config tie_word_embeddings false): the projector is its own [vocab, dim] parameter</param>
    public MaskedLmHead(ParameterRegistry registry, MaskedLmNames names, Parameter wordEmbeddings, int dim, ActivationKind activation, float eps, bool tied = true)
    {
        int vocab = wordEmbeddings.Shape[0];
        Parameter? bias = names.BiasFirst ? registry.Add(names.ProjectorBias, [vocab]) : null;
        Transform = new LinearLayer(registry, names.Transform, dim, dim);
        Norm = new LayerNormLayer(registry, names.Norm, dim, eps);
        Parameter projector;
        if (tied)
        {
            registry.Tie(names.ProjectorWeightAlias, wordEmbeddings.Name);
            projector = wordEmbeddings;
        }
        else projector = registry.Add(names.ProjectorWeightAlias, [vocab, dim]);
        bias ??= registry.Add(names.ProjectorBias, [vocab]);
        if (names.ProjectorBiasAlias is not null) registry.Tie(names.ProjectorBiasAlias, bias.Name);
        Projector = new LinearLayer(projector, bias);
        _activation = activation;
        _dim = dim;
    }

    public int VocabSize => Projector.OutFeatures;

    // h: [rows, dim] → logits: [rows, vocab]
    /// <param name="streamProjector">inference at a few rows: multiply by the plain projector weight without packing it
    /// (<see cref="LinearLayer.ForwardWithoutPacking"/>)</param>
    public void Forward(float[] h, int rows, LayerContext ctx, float[] logits, bool streamProjector = false)
    {
        int n = rows * _dim;
        var pre = ctx.Buffer(_cache, "mlm.pre", n);
        var act = ctx.Buffer(_cache, "mlm.act", n);
        var normed = ctx.Buffer(_cache, "mlm.normed", n);
        Transform.Forward(h, rows, pre, ctx);
        ActivationFunction.Forward(_activation, pre.AsSpan(0, n), act);
        var mean = ctx.Training ? _cache.Get("mlm.mean", rows).AsSpan(0, rows) : default;
        var rstd = ctx.Training ? _cache.Get("mlm.rstd", rows).AsSpan(0, rows) : default;
        Norm.Forward(act, rows, normed, mean, rstd);
        if (streamProjector) Projector.ForwardWithoutPacking(normed, rows, logits);
        else Projector.Forward(normed, rows, logits, ctx);
        if (ctx.Training) { _h = h; _rows = rows; }
    }

    /// <summary>dLogits: [rows, vocab] → dh: [rows, dim] (overwritten).</summary>
    public void Backward(float[] dLogits, LayerContext ctx, float[] dh)
    {
        int rows = _rows, n = rows * _dim;
        var dNormed = ctx.Shared.Get("mlm.grad.normed", n);
        Projector.Backward(_cache.Get("mlm.normed", 0), dLogits, rows, dNormed);
        var dAct = ctx.Shared.Get("mlm.grad.act", n);
        Norm.Backward(_cache.Get("mlm.act", 0), _cache.Get("mlm.mean", 0), _cache.Get("mlm.rstd", 0), dNormed, rows, dAct);
        ActivationFunction.Backward(_activation, _cache.Get("mlm.pre", 0).AsSpan(0, n), _cache.Get("mlm.act", 0), dAct.AsSpan(0, n), dAct);
        Transform.Backward(_h, dAct, rows, dh);
    }
}
