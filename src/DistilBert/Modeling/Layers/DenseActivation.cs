namespace DistilBert.Modeling.Layers;

/// <summary>y = act(W·x + b): BERT's pooler (tanh) and DistilBERT's pre_classifier (ReLU).</summary>
public sealed class DenseActivation
{
    public LinearLayer Dense { get; }
    readonly ActivationKind _activation;
    readonly Workspace _cache = new();
    float[] _x = [];
    int _rows;

    public DenseActivation(ParameterRegistry registry, string name, int inFeatures, int outFeatures, ActivationKind activation)
    {
        Dense = new LinearLayer(registry, name, inFeatures, outFeatures);
        _activation = activation;
    }

    // x: [rows, in] → y: [rows, out]
    public void Forward(float[] x, int rows, LayerContext ctx, float[] y)
    {
        int n = rows * Dense.OutFeatures;
        var pre = ctx.Buffer(_cache, "dense.pre", n);
        Dense.Forward(x, rows, pre, ctx);
        ActivationFunction.Forward(_activation, pre.AsSpan(0, n), y);
        if (ctx.Training)
        {
            y.AsSpan(0, n).CopyTo(_cache.Get("dense.y", n));
            _x = x; _rows = rows;
        }
    }

    /// <summary>dy: [rows, out] → dx: [rows, in] (overwritten).</summary>
    public void Backward(float[] dy, LayerContext ctx, float[] dx)
    {
        int n = _rows * Dense.OutFeatures;
        var dPre = ctx.Shared.Get("dense.grad.pre", n);
        ActivationFunction.Backward(_activation, _cache.Get("dense.pre", 0).AsSpan(0, n), _cache.Get("dense.y", 0), dy.AsSpan(0, n), dPre);
        Dense.Backward(_x, dPre, _rows, dx);
    }
}

/// <summary>
/// logits = classifier(dropout(pre(x))) with an optional dense+ReLU before the dropout (DistilBERT's sequence head).
/// Serves every classification, token-classification and QA head of both architectures.
/// </summary>
public sealed class ClassifierHead
{
    public DenseActivation? Pre { get; }
    public LinearLayer Classifier { get; }
    readonly double _dropout;
    readonly Workspace _cache = new();
    int _rows;

    public ClassifierHead(ParameterRegistry registry, string? preName, string classifierName, int dim, int classes, double dropout)
    {
        if (preName is not null) Pre = new DenseActivation(registry, preName, dim, dim, ActivationKind.Relu);
        Classifier = new LinearLayer(registry, classifierName, dim, classes);
        _dropout = dropout;
    }

    // x: [rows, dim] → logits: [rows, classes]
    public void Forward(float[] x, int rows, LayerContext ctx, float[] logits)
    {
        int n = rows * Classifier.InFeatures;
        var input = ctx.Buffer(_cache, "head.input", n);
        if (Pre is not null) Pre.Forward(x, rows, ctx, input);
        else x.AsSpan(0, n).CopyTo(input);
        if (ctx.Drops(_dropout)) Dropout.Forward(input.AsSpan(0, n), _dropout, ctx.Random!, _cache.Get("head.dropmask", n));
        Classifier.Forward(input, rows, logits, ctx);
        _rows = rows;
    }

    /// <summary>dLogits: [rows, classes] → dx: [rows, dim] (overwritten).</summary>
    public void Backward(float[] dLogits, LayerContext ctx, float[] dx)
    {
        int n = _rows * Classifier.InFeatures;
        var dInput = ctx.Shared.Get("head.grad.input", n);
        Classifier.Backward(_cache.Get("head.input", 0), dLogits, _rows, dInput);
        if (ctx.Drops(_dropout)) Dropout.Backward(dInput.AsSpan(0, n), _cache.Get("head.dropmask", 0));
        if (Pre is not null) Pre.Backward(dInput, ctx, dx);
        else dInput.AsSpan(0, n).CopyTo(dx);
    }
}
