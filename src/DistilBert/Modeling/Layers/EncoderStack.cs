using DistilBert.Compute;

namespace DistilBert.Modeling.Layers;

/// <summary>
/// Embeddings followed by the transformer layers; collects hidden_states.{i} and attentions.{i} on request.
/// Inference ping-pongs two shared hidden buffers; training keeps every layer's output for Backward.
/// </summary>
public sealed class EncoderStack
{
    public Embeddings Embeddings { get; }
    public IReadOnlyList<TransformerBlock> Blocks { get; }
    readonly int _dim, _heads;
    readonly Workspace _cache = new();

    public EncoderStack(Embeddings embeddings, IReadOnlyList<TransformerBlock> blocks, int dim, int heads)
    {
        Embeddings = embeddings;
        Blocks = blocks;
        _dim = dim;
        _heads = heads;
    }

    /// <summary>Returns the last hidden state, [tokens, dim] (a buffer; valid until the next forward).</summary>
    public float[] Forward(ModelInput input, LayerContext ctx, ForwardOptions options, ModelOutput output)
    {
        var layout = input.Layout;
        int tokens = layout.Tokens, n = tokens * _dim;
        var hidden = Hidden(ctx, 0, n);
        Embeddings.Forward(input.InputIds, input.TokenTypeIds, layout, ctx, hidden);
        if (options.OutputHiddenStates) output.Add("hidden_states.0", hidden.AsSpan(0, n).ToArray(), input.TokenShape(_dim));
        long probLength = Attention.ProbabilitiesLength(layout.SequenceStarts, _heads);
        for (int i = 0; i < Blocks.Count; i++)
        {
            var next = Hidden(ctx, i + 1, n);
            float[] probs = options.OutputAttentions ? new float[probLength] : [];
            Blocks[i].Forward(hidden, layout, ctx, next, probs);
            if (options.OutputAttentions)
                output.Add($"attentions.{i}", probs, input.PaddedLength is { } s ? [input.Sequences, _heads, s, s] : [(int)probLength]);
            if (options.OutputHiddenStates) output.Add($"hidden_states.{i + 1}", next.AsSpan(0, n).ToArray(), input.TokenShape(_dim));
            hidden = next;
        }
        output.Add("last_hidden_state", hidden.AsSpan(0, n).ToArray(), input.TokenShape(_dim));
        return hidden;
    }

    float[] Hidden(LayerContext ctx, int index, int n) =>
        ctx.Training ? ctx.Buffer(_cache, $"hidden.{index}", n) : ctx.Shared.Get($"hidden.{index % 2}", n);

    /// <summary>dHidden: [tokens, dim], gradient of the loss w.r.t. the last hidden state (consumed).</summary>
    public void Backward(float[] dHidden, int tokens, LayerContext ctx)
    {
        int n = tokens * _dim;
        var dy = dHidden;
        for (int i = Blocks.Count - 1; i >= 0; i--)
        {
            var dx = ctx.Shared.Get($"encoder.grad.{i % 2}", n);
            if (ReferenceEquals(dx, dy)) dx = ctx.Shared.Get($"encoder.grad.{(i + 1) % 2}", n);
            Blocks[i].Backward(dy, ctx, dx);
            dy = dx;
        }
        Embeddings.Backward(dy, ctx);
    }
}
