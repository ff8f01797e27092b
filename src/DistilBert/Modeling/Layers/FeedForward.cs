using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>Position-wise feed-forward: y = lin2(act(lin1(x))), the hidden width in between.</summary>
public sealed class FeedForward
{
    public LinearLayer In { get; }
    public LinearLayer Out { get; }
    readonly ActivationKind _activation;
    readonly int _hidden;
    readonly Workspace _cache = new();
    float[] _x = [];
    int _rows;

    public FeedForward(ParameterRegistry registry, string inName, string outName, int dim, int hidden, ActivationKind activation)
    {
        In = new LinearLayer(registry, inName, dim, hidden);
        Out = new LinearLayer(registry, outName, hidden, dim);
        _activation = activation;
        _hidden = hidden;
    }

    /// <summary>Inference runs the FFN over row blocks of this many tokens, so its widest buffer is [block, hidden]
    /// instead of [tokens, hidden] (a quarter of the workspace at batch 32 × 128), with GEMMs still large.</summary>
    public const int InferenceRowBlock = 512;

    // x: [rows, dim] → y: [rows, dim]; inner activations [rows, hidden]
    public void Forward(float[] x, int rows, LayerContext ctx, float[] y)
    {
        long n = (long)rows * _hidden;
        if (!ctx.Training)
        {
            // Inference: row blocks; with packed weights the activation runs inside the GEMM's epilogue.
            int dim = In.InFeatures, block = Math.Min(rows, InferenceRowBlock);
            var blockAct = ctx.Shared.Get("ffn.act", (long)block * _hidden);
            bool fused = ctx.PackWeights && _activation is ActivationKind.Gelu or ActivationKind.Relu;
            var epilogue = _activation == ActivationKind.Gelu ? Epilogue.Gelu : Epilogue.Relu;
            for (int start = 0; start < rows; start += block)
            {
                int r = Math.Min(block, rows - start);
                var xBlock = x.AsSpan(start * dim, r * dim);
                if (fused) In.ForwardPacked(xBlock, r, blockAct, epilogue);
                else
                {
                    In.Forward(xBlock, r, blockAct, ctx);
                    ActivationFunction.Forward(_activation, blockAct.AsSpan(0, r * _hidden), blockAct);
                }
                Out.Forward(blockAct, r, y.AsSpan(start * dim, r * dim), ctx);
            }
            return;
        }
        var act = ctx.Buffer(_cache, "ffn.act", n);
        var pre = ctx.Buffer(_cache, "ffn.pre", n);
        In.Forward(x, rows, pre, ctx);
        ActivationFunction.Forward(_activation, pre.AsSpan(0, (int)n), act);
        Out.Forward(act, rows, y, ctx);
        if (ctx.Training) { _x = x; _rows = rows; }
    }

    /// <summary>dy: [rows, dim] → dx: [rows, dim] (overwritten).</summary>
    public void Backward(float[] dy, LayerContext ctx, float[] dx)
    {
        long n = (long)_rows * _hidden;
        var pre = _cache.Get("ffn.pre", 0);
        var act = _cache.Get("ffn.act", 0);
        var dAct = ctx.Shared.Get("ffn.grad.act", n);
        Out.Backward(act, dy, _rows, dAct);
        ActivationFunction.Backward(_activation, pre.AsSpan(0, (int)n), act, dAct.AsSpan(0, (int)n), dAct);
        In.Backward(_x, dAct, _rows, dx);
    }
}
