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

    /// <summary>Inference runs the FFN over blocks of whole sequences of about this many tokens, so its widest buffer is
    /// [block, hidden] instead of [tokens, hidden] (a quarter of the workspace at batch 32 × 128), with GEMMs still
    /// large. Whole sequences, so that each sequence's 128-token Strassen blocks are inside one GEMM.</summary>
    public const int InferenceRowBlock = 512;

    // x: [rows, dim] → y: [rows, dim]; inner activations [rows, hidden]. layout: where the sequences are (inference).
    public void Forward(float[] x, int rows, LayerContext ctx, float[] y, BatchLayout? layout = null)
    {
        long n = (long)rows * _hidden;
        if (!ctx.Training)
        {
            // Inference: blocks of whole sequences; with packed weights the activation runs inside the GEMM's epilogue.
            int dim = In.InFeatures;
            // without a layout the rows' sequences are unknown: one block, and no Strassen (it pairs rows)
            bool strassenAllowed = ctx.Strassen && layout is not null;
            layout ??= new BatchLayout([0, rows], null);
            if (layout.Tokens != rows) throw new InvalidInputException($"feed-forward got {rows} rows for a batch of {layout.Tokens} tokens");
            int capacity = layout.BlockCapacity(InferenceRowBlock);
            var blockAct = ctx.Shared.Get("ffn.act", (long)capacity * _hidden);
            bool fused = ctx.PackWeights && _activation is ActivationKind.Gelu or ActivationKind.Relu;
            var epilogue = _activation == ActivationKind.Gelu ? Epilogue.Gelu : Epilogue.Relu;
            var starts = layout.SequenceStarts;
            for (int first = 0, last; first < layout.Sequences; first = last)
            {
                last = layout.BlockEnd(first, capacity);
                int start = starts[first], r = starts[last] - start;
                var xBlock = x.AsSpan(start * dim, r * dim);
                var yBlock = y.AsSpan(start * dim, r * dim);
                if (fused)
                {
                    var strassenStarts = ctx.Shared.GetInts("ffn.strassen", r / GemmDriver.StrassenRows + 1);
                    int strassenCount = strassenAllowed
                        ? StrassenBlocks.Find(starts.AsSpan(first, last - first + 1), start, start + r, ref strassenStarts) : 0;
                    var strassen = strassenStarts.AsSpan(0, strassenCount);
                    In.ForwardInference(xBlock, r, blockAct, ctx, epilogue, strassen);
                    Out.ForwardInference(blockAct, r, yBlock, ctx, Epilogue.None, strassen);
                    continue;
                }
                In.Forward(xBlock, r, blockAct, ctx);
                ActivationFunction.Forward(_activation, blockAct.AsSpan(0, r * _hidden), blockAct);
                Out.Forward(blockAct, r, yBlock, ctx);
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
