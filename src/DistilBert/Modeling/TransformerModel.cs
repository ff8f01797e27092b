using DistilBert.Modeling.Layers;

namespace DistilBert.Modeling;

/// <summary>
/// What every model (DistilBERT or BERT, any head) shares: the parameter registry in HF's order, train/eval modes,
/// input validation, Forward then Backward. Subclasses supply the encoder and the head.
/// <para>Thread-safety: a model is not thread-safe. <see cref="Forward"/>, <see cref="Backward(float)"/> and the mode
/// changes are for one thread at a time, and a second concurrent call is refused with an
/// <see cref="InvalidOperationException"/> rather than answered wrongly. To serve many threads, run the model through an
/// <see cref="Inference.InferenceSession"/>, whose <c>Run</c> may be called from any number of threads at once.</para>
/// </summary>
public abstract class TransformerModel
{
    public ModelConfig Config { get; }
    public ParameterRegistry Parameters { get; } = new();
    /// <summary>HF's base_model_prefix ("distilbert" / "bert"); the base-model class has its keys without it.</summary>
    public abstract string BaseModelPrefix { get; }
    /// <summary>The HF class this mirrors as (family, head).</summary>
    public abstract ModelArchitecture Architecture { get; }
    /// <summary>The HF class this mirrors, e.g. DistilBertForMaskedLM.</summary>
    public string ArchitectureName => Architecture.Name;
    public ModelHead Head => Architecture.Head;
    /// <summary>True for BERT, whose embeddings add token-type (segment) embeddings; DistilBERT has none and ignores type ids.</summary>
    public bool UsesTokenTypes => Architecture.Family == ModelFamily.Bert;
    public bool IsTraining { get; private set; }
    public bool DropoutActive { get; private set; }
    /// <summary>Draws every dropout mask; its state is all a resumed run needs to repeat them.</summary>
    public SeededRandom Random { get; set; } = new(0);
    /// <summary>Tests only: off runs inference on the plain weights, packed per call (the reference the packed path is
    /// checked against).</summary>
    internal bool PackWeightsForInference { get; set; } = true;

    /// <summary>Inference multiplies every whole 128-token block of a sequence by one level of Strassen's algorithm
    /// (12.5 % fewer multiply-adds in the linear layers; ~5 % faster end to end at 128 tokens). The results differ from
    /// the plain GEMM by float rounding only (~1e-6 relative, far inside HF's tolerances), and a sequence's result still
    /// does not depend on the rest of its batch. Off: every linear layer by the plain GEMM.</summary>
    public bool StrassenForInference { get; set; } = true;

    /// <summary>The transformer layers, in order (what int8 inference quantises: <see cref="Int8Weights"/>).</summary>
    public abstract IReadOnlyList<TransformerBlock> EncoderBlocks { get; }

    /// <summary>
    /// Inference sessions created on this model run its encoder's linear layers in int8 (<see cref="Int8Weights"/>,
    /// docs/int8.md) unless told otherwise. Set by loading a quantised folder, or by the caller (<c>--int8</c>) to quantise
    /// an fp32 model on load.
    /// </summary>
    public bool Int8Inference { get; set; }

    /// <summary>The int8 values and scales a quantised folder held, by HF weight name (their fp32 <see cref="Parameter.Value"/>
    /// is the dequantised q · scale); int8 inference uses these exact values. Null for an fp32 folder.</summary>
    public IReadOnlyDictionary<string, QuantizedWeight>? LoadedInt8Weights { get; set; }

    readonly Workspace _shared = new();
    readonly HashSet<Workspace> _trainingCaches = new(ReferenceEqualityComparer.Instance);
    /// <summary>Training cache for what a model's own glue code (first-token gather...) must keep for Backward.</summary>
    protected Workspace HeadCache { get; } = new();
    LayerContext? _trainingContext;
    ModelInput? _trainingInput;
    bool _hasLoss;
    ModelOutput? _lastOutput;

    protected TransformerModel(ModelConfig config) => Config = config;

    /// <summary>
    /// Training with MLM labels: compute vocabulary logits only at labelled positions (same loss and gradients, no
    /// "logits" output). Pre-training turns it on; off by default so training-mode outputs match HF's.
    /// </summary>
    public bool MaskedLmLogitsOnlyAtLabels { get; set; }

    /// <summary>Training mode: layers keep what Backward needs; dropout on unless <paramref name="dropout"/> is false.
    /// An inference-only model (<see cref="PrepareForInference()"/>) stops being one: weights it released come back as
    /// plain arrays (unpacked from the packed copies) as training reads them.</summary>
    public void Train(bool dropout = true)
    {
        using var exclusive = EnterExclusive(nameof(Train));
        if (IsInferenceOnly)
        {
            foreach (var p in Parameters) p.ReleaseWhenPacked = null;
            IsInferenceOnly = false;
        }
        IsTraining = true;
        DropoutActive = dropout;
    }

    /// <summary>True after <see cref="PrepareForInference()"/> until the next <see cref="Train"/>.</summary>
    public bool IsInferenceOnly { get; private set; }

    /// <summary>
    /// Inference-only mode: eval mode, training memory freed, every linear weight packed into the GEMM's layout now,
    /// and the packed copy made the only one (each layer releases its weight's plain array right after packing it,
    /// layer by layer, then the freed memory is returned to the OS). About 40% less memory for distilbert-base; outputs
    /// are bit-identical. Reading a released <see cref="Parameter.Value"/> (save, info, student extraction) unpacks the
    /// right numbers again; <see cref="Train"/> leaves the mode. Weights tied to the word embeddings stay plain (the
    /// embedding lookup reads them), and with <see cref="PackWeightsForInference"/> off nothing is released.
    /// </summary>
    public void PrepareForInference() => PrepareForInference(null);

    /// <summary><see cref="PrepareForInference()"/> for a session whose encoder runs in int8: the quantised weights' fp32
    /// arrays are released in favour of <paramref name="int8"/> (never packed in fp32), the rest as usual.</summary>
    internal void PrepareForInference(Int8Weights? int8)
    {
        ReleaseTrainingMemory();
        IsInferenceOnly = true;
        var release = new WeightRelease();
        foreach (var p in Parameters) p.ReleaseWhenPacked = release;
        int8?.ReleasePlainWeights();
        // A one-token forward runs exactly the layers inference uses, so exactly their weights get packed (and released).
        // An MLM head runs at that one row without packing its projector: a model used through fill-mask then keeps one
        // copy of the tied embeddings (a later full-logits forward still packs the projector on first use).
        WarmUp(int8);
        _shared.Clear();
        WeightRelease.ReturnFreedMemory();
    }

    /// <summary>Eval mode, and every weight inference uses packed now (plain copies kept), so that concurrent inference
    /// calls afterwards only read the packs.</summary>
    internal void PackForInference(Int8Weights? int8 = null)
    {
        Eval();
        WarmUp(int8);
    }

    /// <summary>A one-token forward, which packs exactly the weights inference uses (with <paramref name="int8"/>: only
    /// those not quantised).</summary>
    void WarmUp(Int8Weights? int8)
    {
        var options = SupportsLogitPositions ? new ForwardOptions { LogitPositions = [0] } : null;
        if (int8 is null) Forward(ModelInput.FromSequences([[0]]), options);
        else
        {
            using var exclusive = EnterExclusive(nameof(PrepareForInference));
            Run(ModelInput.FromSequences([[0]]), options, new LayerContext { Training = false, Shared = _shared,
                PackWeights = PackWeightsForInference, LogitPositions = options?.LogitPositions, Int8 = int8 });
        }
    }

    /// <summary>
    /// Inference-only models: how much the process may allocate (mostly the arrays of returned outputs, which the caller
    /// drops) before a forward first runs a full, non-compacting GC. The outputs land in the large-object heap (12.6 MB of
    /// last_hidden_state at batch 32 × 128), and with ~250 MB of long-lived weights there the GC's own budget lets over
    /// 100 MB of dead outputs pile up before it collects: measured, +12 MiB of peak RSS per forward at 32 × 128. Such a GC
    /// has little to mark (weights hold no references): 1-3 ms measured for distilbert-base.
    /// </summary>
    const long OutputGarbageBudgetBytes = 16L << 20;

    long _allocatedAfterCollection = -1;
    int _fullCollectionsSeen = -1;

    readonly object _garbageLock = new();

    void CollectOutputGarbage()
    {
        lock (_garbageLock) CollectOutputGarbageLocked();
    }

    void CollectOutputGarbageLocked()
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        int collections = GC.CollectionCount(2);
        if (collections != _fullCollectionsSeen) (_fullCollectionsSeen, _allocatedAfterCollection) = (collections, allocated);
        else if (allocated - _allocatedAfterCollection >= OutputGarbageBudgetBytes)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false); // 1-3 ms for distilbert-base (measured)
            (_fullCollectionsSeen, _allocatedAfterCollection) = (GC.CollectionCount(2), GC.GetTotalAllocatedBytes(precise: false));
        }
    }

    /// <summary>Floats held by parameters' plain arrays (released ones count 0).</summary>
    public long PlainParameterFloats => Parameters.Where(p => !p.IsReleased).Sum(p => (long)p.Length);

    /// <summary>Inference mode: nothing kept between calls, dropout off.</summary>
    public void Eval() { IsTraining = false; DropoutActive = false; _trainingContext = null; _trainingInput = null; }

    /// <summary>Tells the model its parameter values were replaced outside an optimizer step (e.g. ParameterStateDict.LoadInto after a
    /// forward): packed inference copies refresh on the next call.</summary>
    public void MarkWeightsChanged()
    {
        foreach (var p in Parameters) p.MarkChanged();
    }

    /// <summary>
    /// Eval mode, and frees every layer's training cache (activations kept for Backward) and the parameters' gradients.
    /// <see cref="Eval"/> alone keeps them, so alternating training and evaluation does not reallocate.
    /// </summary>
    public void ReleaseTrainingMemory()
    {
        Eval();
        foreach (var cache in _trainingCaches) cache.Clear();
        _trainingCaches.Clear();
        _shared.Clear();
        foreach (var p in Parameters) p.ReleaseGrad();
    }

    /// <summary>Floats held by every training cache (0 after <see cref="ReleaseTrainingMemory"/>).</summary>
    public long TrainingCacheFloats => _trainingCaches.Sum(c => c.FloatCount);

    /// <summary>Floats held by the shared inference workspace (for memory checks).</summary>
    public long WorkspaceFloats => _shared.FloatCount;

    /// <summary>True for the *ForMaskedLM models, which accept <see cref="ForwardOptions.LogitPositions"/>.</summary>
    public virtual bool SupportsLogitPositions => false;

    /// <summary>One forward pass, in the current mode. Not thread-safe (see the type's remarks): a call made while another
    /// thread is inside this model, or while an <see cref="Inference.InferenceSession"/> runs it, throws.</summary>
    public ModelOutput Forward(ModelInput input, ForwardOptions? options = null)
    {
        using var exclusive = EnterExclusive(nameof(Forward));
        var ctx = new LayerContext { Training = IsTraining, DropoutActive = DropoutActive, Shared = _shared, Random = Random,
            PackWeights = PackWeightsForInference, TrainingCaches = _trainingCaches, LogitsOnlyAtLabels = MaskedLmLogitsOnlyAtLabels,
            LogitPositions = options?.LogitPositions, Strassen = !IsTraining && PackWeightsForInference && StrassenForInference };
        var output = Run(input, options, ctx);
        if (IsTraining) { _trainingContext = ctx; _trainingInput = input; _hasLoss = output.Loss is not null; _lastOutput = output; }
        return output;
    }

    /// <summary>
    /// An inference forward on a workspace of the caller's: the path an <see cref="Inference.InferenceSession"/> runs
    /// concurrently. Layers keep no per-call state in inference (every buffer comes from <paramref name="workspace"/>,
    /// packed weights are built once under a lock and then only read), so calls on different workspaces may overlap.
    /// </summary>
    internal ModelOutput ForwardConcurrent(ModelInput input, ForwardOptions? options, Workspace workspace, Int8Weights? int8 = null)
    {
        using var shared = EnterShared();
        if (IsTraining)
            throw new InvalidOperationException($"{ArchitectureName} is in training mode: an inference session needs Eval() or PrepareForInference()");
        return Run(input, options, new LayerContext { Training = false, DropoutActive = false, Shared = workspace,
            PackWeights = PackWeightsForInference, LogitPositions = options?.LogitPositions, Strassen = PackWeightsForInference && StrassenForInference,
            Int8 = int8 });
    }

    /// <summary>The forward itself, in the mode and on the buffers <paramref name="ctx"/> gives: inputs checked, then
    /// encoder and head.</summary>
    ModelOutput Run(ModelInput input, ForwardOptions? options, LayerContext ctx)
    {
        Validate(input);
        ValidateLogitPositions(input, options?.LogitPositions);
        if (IsInferenceOnly) CollectOutputGarbage();
        var output = new ModelOutput();
        var hidden = EncoderForward(input, ctx, options ?? ForwardOptions.None, output);
        HeadForward(hidden, input, ctx, output);
        return output;
    }

    // ---- concurrent-use guard ----
    // Exclusive users (Forward, Backward, mode changes) and shared users (session inference calls) exclude each other;
    // a call that finds the model taken throws at once instead of waiting or corrupting another call's state.
    int _exclusive, _sharedCalls;

    internal readonly struct UseScope(TransformerModel? model, bool exclusive) : IDisposable
    {
        public void Dispose()
        {
            if (model is null) return;
            if (exclusive) Volatile.Write(ref model._exclusive, 0);
            else Interlocked.Decrement(ref model._sharedCalls);
        }
    }

    internal UseScope EnterExclusive(string operation)
    {
        if (Interlocked.CompareExchange(ref _exclusive, 1, 0) != 0)
            throw new InvalidOperationException($"{ArchitectureName}.{operation}: another thread is using this model; a model is not " +
                "thread-safe. Share an InferenceSession (or a pipeline) between threads instead, or give each thread its own model");
        if (Volatile.Read(ref _sharedCalls) != 0)
        {
            Volatile.Write(ref _exclusive, 0);
            throw new InvalidOperationException($"{ArchitectureName}.{operation}: an InferenceSession is running this model on " +
                "another thread; call the session, or wait for its calls to finish");
        }
        return new UseScope(this, exclusive: true);
    }

    internal UseScope EnterShared()
    {
        Interlocked.Increment(ref _sharedCalls);
        if (Volatile.Read(ref _exclusive) != 0)
        {
            Interlocked.Decrement(ref _sharedCalls);
            throw new InvalidOperationException($"{ArchitectureName}: an inference session call overlapped a direct Forward, Backward " +
                "or mode change of the same model on another thread; use the model through the session only");
        }
        return new UseScope(this, exclusive: false);
    }

    /// <summary>
    /// Back-propagates the loss of the last training Forward, adding <paramref name="lossScale"/>·∂loss/∂p to every
    /// parameter's Grad (accumulating across calls until ZeroGrad: gradient accumulation uses lossScale = 1/steps).
    /// </summary>
    public void Backward(float lossScale = 1f)
    {
        if (_trainingContext is not null && !_hasLoss) throw new InvalidInputException("Backward needs a loss: the last Forward had no labels");
        Backward(new OutputGradients { OwnLossScale = lossScale });
    }

    /// <summary>
    /// Back-propagates gradients of the last training Forward's outputs (e.g. from a distillation loss over logits and
    /// last_hidden_state), plus <see cref="OutputGradients.OwnLossScale"/> times the model's own loss, into every
    /// parameter's Grad (accumulating).
    /// </summary>
    public void Backward(OutputGradients gradients)
    {
        using var exclusive = EnterExclusive(nameof(Backward));
        var ctx = _trainingContext ?? throw new InvalidOperationException("Backward needs a Forward in training mode first (call Train())");
        var input = _trainingInput!;
        if (gradients.OwnLossScale != 0 && !_hasLoss) throw new InvalidInputException("OwnLossScale is set but the last Forward had no labels, so no loss");
        CheckLength("Logits", gradients.Logits, _lastOutput!, "logits");
        CheckLength("StartLogits", gradients.StartLogits, _lastOutput!, "start_logits");
        CheckLength("EndLogits", gradients.EndLogits, _lastOutput!, "end_logits");
        CheckLength("LastHiddenState", gradients.LastHiddenState, _lastOutput!, "last_hidden_state");
        CheckLength("PoolerOutput", gradients.PoolerOutput, _lastOutput!, "pooler_output");
        bool headInvolved = gradients.OwnLossScale != 0 || gradients.Logits is not null || gradients.StartLogits is not null || gradients.EndLogits is not null;
        var (dHidden, dPooled) = headInvolved ? HeadBackward(gradients, input, ctx) : (null, null);
        int n = input.Tokens * Config.HiddenSize;
        if (gradients.LastHiddenState is { } extra)
        {
            if (dHidden is null) dHidden = ctx.Shared.Get("model.grad.hidden", n);
            for (int i = 0; i < n; i++) dHidden[i] = (headInvolved ? dHidden[i] : 0) + extra[i];
        }
        if (gradients.PoolerOutput is { } dPool)
        {
            if (dPooled is null) dPooled = (float[])dPool.Clone();
            else for (int i = 0; i < dPool.Length; i++) dPooled[i] += dPool[i];
        }
        if (dHidden is null && dPooled is null) throw new InvalidInputException("nothing to back-propagate: no output gradient and no loss scale");
        EncoderBackward(dHidden, dPooled, input, ctx);
    }

    static void CheckLength(string field, float[]? gradient, ModelOutput output, string outputName)
    {
        if (gradient is null) return;
        if (!output.TryGet(outputName, out var o)) throw new InvalidInputException($"OutputGradients.{field} is set but the model has no output '{outputName}'");
        if (gradient.Length != o.Length) throw new InvalidInputException($"OutputGradients.{field} has {gradient.Length} elements, {outputName} has {o.Length} ({string.Join(", ", o.Shape)})");
    }

    /// <summary>
    /// Distillation's form of <see cref="Backward(OutputGradients)"/>: <paramref name="dLogits"/> = ∂loss/∂logits in the
    /// head's layout (MLM [tokens, vocab], sequence classification [sequences, classes], token classification
    /// [tokens, classes], QA [tokens, 2] as qa_outputs emits them: start, end) and/or <paramref name="dLastHidden"/> =
    /// ∂loss/∂last_hidden_state [tokens, dim], both multiplied by <paramref name="lossScale"/>.
    /// </summary>
    public void BackwardFromOutputs(float[]? dLogits, float[]? dLastHidden, float lossScale = 1f)
    {
        if (_trainingContext is null) throw new InvalidOperationException("BackwardFromOutputs needs a Forward in training mode first (call Train())");
        if (dLogits is null && dLastHidden is null) throw new InvalidInputException("BackwardFromOutputs needs a gradient for the logits or the last hidden state");
        static float[]? Scaled(float[]? g, float s) => g is null ? null : s == 1f ? g : Array.ConvertAll(g, x => s * x);
        if (dLogits is not null && !_lastOutput!.TryGet("logits", out _) && _lastOutput.TryGet("start_logits", out var start))
        {
            // QA: [tokens, 2] interleaved as qa_outputs emits them
            if (dLogits.LongLength != 2 * start.Length)
                throw new InvalidInputException($"d start/end logits has {dLogits.LongLength} values, the last forward produced {2 * start.Length}");
            var dStart = new float[start.Length];
            var dEnd = new float[start.Length];
            for (int t = 0; t < dStart.Length; t++) { dStart[t] = lossScale * dLogits[2 * t]; dEnd[t] = lossScale * dLogits[2 * t + 1]; }
            Backward(new OutputGradients { StartLogits = dStart, EndLogits = dEnd, LastHiddenState = Scaled(dLastHidden, lossScale) });
            return;
        }
        if (dLogits is not null && !_lastOutput!.TryGet("logits", out _))
            throw new InvalidInputException($"{ArchitectureName} has no logits head: pass only the last hidden state's gradient");
        Backward(new OutputGradients { Logits = Scaled(dLogits, lossScale), LastHiddenState = Scaled(dLastHidden, lossScale) });
    }

    protected abstract float[] EncoderForward(ModelInput input, LayerContext ctx, ForwardOptions options, ModelOutput output);
    protected abstract void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output);
    /// <summary>Gradient w.r.t. the last hidden state [tokens, dim] (and the pooled output [sequences, dim], BERT), or null,
    /// from the head's outputs' gradients and the own-loss scale.</summary>
    protected abstract (float[]? DHidden, float[]? DPooled) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx);
    protected abstract void EncoderBackward(float[]? dHidden, float[]? dPooled, ModelInput input, LayerContext ctx);

    protected virtual int TypeVocabSize => 0;

    /// <summary>Every problem an input can have, reported before any kernel runs, naming the tensor and the limit.</summary>
    void Validate(ModelInput input)
    {
        var layout = input.Layout;
        for (int s = 0; s < layout.Sequences; s++)
            if (layout.Length(s) > Config.MaxPositionEmbeddings)
                throw new InvalidInputException($"input_ids: sequence {s} has {layout.Length(s)} tokens, more than max_position_embeddings ({Config.MaxPositionEmbeddings})");
        var ids = input.InputIds;
        for (int t = 0; t < ids.Length; t++)
            if ((uint)ids[t] >= (uint)Config.VocabSize)
                throw new InvalidInputException($"input_ids{input.TokenIndex(t)} = {ids[t]} is outside the vocabulary (vocab_size {Config.VocabSize})");
        if (input.TokenTypeIds is { } types && TypeVocabSize > 0)
            for (int t = 0; t < types.Length; t++)
                if ((uint)types[t] >= (uint)TypeVocabSize)
                    throw new InvalidInputException($"token_type_ids{input.TokenIndex(t)} = {types[t]} is outside [0, {TypeVocabSize}) (type_vocab_size)");
    }

    void ValidateLogitPositions(ModelInput input, int[]? positions)
    {
        if (positions is null) return;
        if (!SupportsLogitPositions)
            throw new InvalidInputException($"ForwardOptions.LogitPositions applies to *ForMaskedLM models; {ArchitectureName} computes no vocabulary logits");
        if (IsTraining)
            throw new InvalidInputException("ForwardOptions.LogitPositions is for inference (call Eval()); training computes logits at labelled rows with MaskedLmLogitsOnlyAtLabels");
        if (input.Labels is not null || input.FloatLabels is not null)
            throw new InvalidInputException("ForwardOptions.LogitPositions cannot be combined with labels: the loss needs logits at every labelled token");
        for (int i = 0; i < positions.Length; i++)
            if ((uint)positions[i] >= (uint)input.Tokens)
                throw new InvalidInputException($"ForwardOptions.LogitPositions[{i}] = {positions[i]} is outside the batch's token rows [0, {input.Tokens})");
    }

    // ---- helpers the heads share ----

    /// <summary>Copies the first token of every sequence: hidden [tokens, dim] → [sequences, dim].</summary>
    protected static void GatherFirstTokens(float[] hidden, BatchLayout layout, int dim, float[] first)
    {
        for (int s = 0; s < layout.Sequences; s++)
            hidden.AsSpan(layout.SequenceStarts[s] * dim, dim).CopyTo(first.AsSpan(s * dim, dim));
    }

    /// <summary>Backward of <see cref="GatherFirstTokens"/>: a zero [tokens, dim] gradient with the rows added in.</summary>
    protected static float[] ScatterFirstTokens(float[] dFirst, BatchLayout layout, int dim, LayerContext ctx, string key)
    {
        var dHidden = ctx.Shared.GetCleared(key, (long)layout.Tokens * dim);
        for (int s = 0; s < layout.Sequences; s++)
        {
            var into = dHidden.AsSpan(layout.SequenceStarts[s] * dim, dim);
            var g = dFirst.AsSpan(s * dim, dim);
            for (int i = 0; i < dim; i++) into[i] += g[i];
        }
        return dHidden;
    }

    protected static float[] Scalar(float value) => [value];
}
