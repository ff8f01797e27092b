using System.Collections.Concurrent;
using DistilBert.Modeling;
using DistilBert.Modeling.Layers;

namespace DistilBert.Inference;

/// <summary>
/// A model prepared once for inference and shared by any number of threads: the packed weights are built at creation
/// and afterwards only read, and every call takes a workspace of its own from a pool (returned when the call ends), so
/// concurrent calls never share a buffer. Pipelines and the server run models through a session.
/// <para>Thread-safety: every member may be called from many threads at once. While a session is in use, the model must
/// not be trained or run directly (<see cref="TransformerModel.Forward"/>): such a call is refused with an
/// <see cref="InvalidOperationException"/>, and so is a session call that overlaps one.</para>
/// </summary>
public sealed class InferenceSession
{
    readonly ConcurrentBag<Workspace> _idle = new();
    int _idleCount;

    /// <summary>The model this session runs (in inference mode).</summary>
    public TransformerModel Model { get; }

    /// <summary>At most this many idle workspaces are kept for later calls (the rest are left to the GC); by default twice
    /// the processor count, which covers a server's usual concurrency without holding memory for a burst.</summary>
    public int MaxIdleWorkspaces { get; }

    /// <summary>The int8 copies of the encoder's linear layers this session runs on, or null for fp32 (docs/int8.md).</summary>
    public Int8Weights? Int8 { get; }

    InferenceSession(TransformerModel model, int maxIdleWorkspaces, Int8Weights? int8)
    {
        Model = model;
        MaxIdleWorkspaces = maxIdleWorkspaces;
        Int8 = int8;
    }

    /// <summary>
    /// Prepares <paramref name="model"/> for inference and wraps it. <paramref name="releasePlainWeights"/>: make the packed
    /// weights the only copy (<see cref="TransformerModel.PrepareForInference()"/>, about 40 % less memory); otherwise the
    /// model is put in eval mode and its weights packed now, keeping the plain arrays (a model that will be trained again).
    /// <paramref name="int8"/>: run the encoder's linear layers in int8 (default: <see cref="TransformerModel.Int8Inference"/>,
    /// set by loading a quantised folder); with <paramref name="releasePlainWeights"/> their fp32 arrays are then dropped,
    /// and reading them later gives the dequantised values. For the least memory, create the session on a model that was
    /// not yet prepared for inference: one that was keeps its fp32 packs of the layers now quantised.
    /// </summary>
    public static InferenceSession Create(TransformerModel model, bool releasePlainWeights = true, int? maxIdleWorkspaces = null, bool? int8 = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxIdleWorkspaces is < 0) throw new InvalidInputException($"maxIdleWorkspaces must be 0 or more, got {maxIdleWorkspaces}");
        var weights = int8 ?? model.Int8Inference ? Int8Weights.Build(model) : null;
        if (releasePlainWeights && (!model.IsInferenceOnly || weights is not null)) model.PrepareForInference(weights);
        else if (!model.IsInferenceOnly) model.PackForInference(weights);
        return new InferenceSession(model, maxIdleWorkspaces ?? 2 * Environment.ProcessorCount, weights);
    }

    /// <summary>One forward pass; safe to call from many threads at once. Outputs are the caller's own arrays.</summary>
    public ModelOutput Run(ModelInput input, ForwardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        var workspace = Rent();
        try { return Model.ForwardConcurrent(input, options, workspace, Int8); }
        finally { Return(workspace); }
    }

    /// <summary>Floats held by the idle pooled workspaces (memory checks).</summary>
    public long IdleWorkspaceFloats => _idle.Sum(w => w.FloatCount);

    Workspace Rent()
    {
        if (_idle.TryTake(out var workspace))
        {
            Interlocked.Decrement(ref _idleCount);
            return workspace;
        }
        return new Workspace();
    }

    void Return(Workspace workspace)
    {
        if (Interlocked.Increment(ref _idleCount) <= MaxIdleWorkspaces) _idle.Add(workspace);
        else Interlocked.Decrement(ref _idleCount);
    }
}
