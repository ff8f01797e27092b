namespace DistilBert.Modeling.Layers;

/// <summary>
/// MLM: logits [tokens, vocab] under "logits"; with labels ([tokens], −100 ignored) a cross-entropy "loss".
/// In training with <see cref="LayerContext.LogitsOnlyAtLabels"/>, the head runs only at the labelled positions (the loss
/// and every gradient are the same, since the others do not enter the loss) and no "logits" output is produced: with
/// 15 % of tokens masked and a 30k vocabulary that is most of an MLM step's work saved. In inference,
/// <see cref="ForwardOptions.LogitPositions"/> does the same at the rows asked for (fill-mask: the [MASK] rows), with
/// "logits" [positions, vocab].
/// </summary>
public sealed class MaskedLmTask(MaskedLmHead head)
{
    public MaskedLmHead Head { get; } = head;
    readonly CrossEntropyLoss _loss = new();
    float[] _logits = [];
    int _tokens;
    int[]? _labelledPositions; // set when the last forward ran only at labelled positions

    public void Forward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        int tokens = input.Tokens, vocab = Head.VocabSize;
        if (input.Labels is { } labels && labels.Length != tokens)
            throw new InvalidInputException($"labels has {labels.Length} elements, expected one per token ({string.Join(", ", input.TokenShape())})");
        _labelledPositions = null;
        if (ctx.LogitPositions is { } rows)
        {
            ForwardAtPositions(hidden, rows, ctx, output);
            return;
        }
        if (ctx.Training && ctx.LogitsOnlyAtLabels && input.Labels is { } sparse && Array.Exists(sparse, l => l != CrossEntropyLoss.DefaultIgnoreIndex))
        {
            ForwardAtLabels(hidden, sparse, tokens, ctx, output);
            return;
        }
        var logits = new float[(long)tokens * vocab];
        Head.Forward(hidden, tokens, ctx, logits);
        if (input.Labels is { } all) output.Add("loss", [_loss.Forward(logits, tokens, vocab, all)], []);
        output.Add("logits", logits, input.TokenShape(vocab));
        _logits = logits;
        _tokens = tokens;
    }

    // Inference at the requested rows (ForwardOptions.LogitPositions): hidden [tokens, dim] → gathered [m, dim] →
    // logits [m, vocab], the projector streamed from its plain weight (the model validated the rows)
    void ForwardAtPositions(float[] hidden, int[] positions, LayerContext ctx, ModelOutput output)
    {
        int dim = Head.Transform.InFeatures, vocab = Head.VocabSize, m = positions.Length;
        var gathered = ctx.Shared.Get("mlm.rows", (long)m * dim);
        for (int i = 0; i < m; i++) hidden.AsSpan(positions[i] * dim, dim).CopyTo(gathered.AsSpan(i * dim, dim));
        var logits = new float[(long)m * vocab];
        Head.Forward(gathered, m, ctx, logits, streamProjector: true);
        output.Add("logits", logits, [m, vocab]);
    }

    // hidden: [tokens, dim] → rows at labelled positions [m, dim] → logits [m, vocab]
    void ForwardAtLabels(float[] hidden, long[] labels, int tokens, LayerContext ctx, ModelOutput output)
    {
        int dim = Head.Transform.InFeatures, vocab = Head.VocabSize;
        var positions = new List<int>();
        for (int t = 0; t < tokens; t++) if (labels[t] != CrossEntropyLoss.DefaultIgnoreIndex) positions.Add(t);
        int m = positions.Count;
        var gathered = new float[(long)m * dim];
        var gatheredLabels = new long[m];
        for (int i = 0; i < m; i++)
        {
            hidden.AsSpan(positions[i] * dim, dim).CopyTo(gathered.AsSpan(i * dim, dim));
            gatheredLabels[i] = labels[positions[i]];
        }
        var logits = new float[(long)m * vocab];
        Head.Forward(gathered, m, ctx, logits);
        output.Add("loss", [_loss.Forward(logits, m, vocab, gatheredLabels)], []);
        _logits = logits;
        _tokens = tokens;
        _labelledPositions = positions.ToArray();
    }

    public float[] Backward(OutputGradients gradients, LayerContext ctx)
    {
        var dLogits = ctx.Shared.Get("task.grad.logits", _logits.LongLength);
        if (_labelledPositions is { } positions)
        {
            if (gradients.Logits is not null)
                throw new InvalidInputException("the last forward computed logits only at labelled positions: external logits gradients need LogitsOnlyAtLabels off");
            TaskGradients.LossPlusExternal(_loss.Backward, gradients.OwnLossScale, null, dLogits, _logits.Length);
            int dim = Head.Transform.InFeatures;
            var dGathered = ctx.Shared.Get("task.grad.gathered", (long)positions.Length * dim);
            Head.Backward(dLogits, ctx, dGathered);
            var dScattered = ctx.Shared.GetCleared("task.grad.hidden", (long)_tokens * dim);
            for (int i = 0; i < positions.Length; i++)
                dGathered.AsSpan(i * dim, dim).CopyTo(dScattered.AsSpan(positions[i] * dim, dim));
            return dScattered;
        }
        TaskGradients.LossPlusExternal(_loss.Backward, gradients.OwnLossScale, gradients.Logits, dLogits, _logits.Length);
        var dHidden = ctx.Shared.Get("task.grad.hidden", (long)_tokens * Head.Transform.InFeatures);
        Head.Backward(dLogits, ctx, dHidden);
        return dHidden;
    }
}

/// <summary>Token classification: logits [tokens, num_labels]; with labels ([tokens], −100 ignored) a cross-entropy loss.</summary>
public sealed class TokenClassificationTask(ClassifierHead head)
{
    public ClassifierHead Head { get; } = head;
    readonly CrossEntropyLoss _loss = new();
    int _tokens;

    public void Forward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        int tokens = input.Tokens, classes = Head.Classifier.OutFeatures;
        var logits = new float[tokens * classes];
        Head.Forward(hidden, tokens, ctx, logits);
        if (input.Labels is { } labels)
        {
            if (labels.Length != tokens) throw new InvalidInputException($"labels has {labels.Length} elements, expected one per token ({string.Join(", ", input.TokenShape())})");
            output.Add("loss", [_loss.Forward(logits, tokens, classes, labels)], []);
        }
        output.Add("logits", logits, input.TokenShape(classes));
        _tokens = tokens;
    }

    public float[] Backward(OutputGradients gradients, LayerContext ctx)
    {
        int n = _tokens * Head.Classifier.OutFeatures;
        var dLogits = ctx.Shared.Get("task.grad.logits", n);
        TaskGradients.LossPlusExternal(_loss.Backward, gradients.OwnLossScale, gradients.Logits, dLogits, n);
        var dHidden = ctx.Shared.Get("task.grad.hidden", _tokens * Head.Classifier.InFeatures);
        Head.Backward(dLogits, ctx, dHidden);
        return dHidden;
    }
}

/// <summary>Extractive QA: qa_outputs gives [tokens, 2], split into start_logits / end_logits; loss from positions.</summary>
public sealed class QuestionAnsweringTask(ClassifierHead head)
{
    public ClassifierHead Head { get; } = head;
    readonly QuestionAnsweringLoss _loss = new();
    int _tokens;

    public void Forward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        int tokens = input.Tokens;
        var logits = ctx.Shared.Get("qa.logits", tokens * 2); // read right away; the loss keeps start/end itself
        Head.Forward(hidden, tokens, ctx, logits);
        var start = new float[tokens];
        var end = new float[tokens];
        for (int t = 0; t < tokens; t++) { start[t] = logits[2 * t]; end[t] = logits[2 * t + 1]; }
        if (input.StartPositions is not null || input.EndPositions is not null)
            output.Add("loss", [_loss.Forward(start, end, input)], []);
        output.Add("start_logits", start, input.TokenShape());
        output.Add("end_logits", end, input.TokenShape());
        _tokens = tokens;
    }

    public float[] Backward(OutputGradients gradients, LayerContext ctx)
    {
        var dStart = ctx.Shared.Get("qa.grad.start", _tokens);
        var dEnd = ctx.Shared.Get("qa.grad.end", _tokens);
        if (gradients.OwnLossScale != 0) _loss.Backward(gradients.OwnLossScale, dStart, dEnd);
        else { Array.Clear(dStart, 0, _tokens); Array.Clear(dEnd, 0, _tokens); }
        TaskGradients.Add(dStart, gradients.StartLogits, _tokens);
        TaskGradients.Add(dEnd, gradients.EndLogits, _tokens);
        var dLogits = ctx.Shared.Get("task.grad.logits", _tokens * 2);
        for (int t = 0; t < _tokens; t++) { dLogits[2 * t] = dStart[t]; dLogits[2 * t + 1] = dEnd[t]; }
        var dHidden = ctx.Shared.Get("task.grad.hidden", _tokens * Head.Classifier.InFeatures);
        Head.Backward(dLogits, ctx, dHidden);
        return dHidden;
    }
}

/// <summary>Sequence classification on one vector per sequence ([sequences, dim]: DistilBERT's first token, BERT's pooler).</summary>
public sealed class SequenceClassificationTask(ClassifierHead head)
{
    public ClassifierHead Head { get; } = head;
    readonly SequenceClassificationLoss _loss = new();
    int _sequences;

    public void Forward(ModelConfig config, float[] pooled, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        int sequences = input.Sequences, classes = Head.Classifier.OutFeatures;
        var logits = new float[sequences * classes];
        Head.Forward(pooled, sequences, ctx, logits);
        if (_loss.Forward(config, logits, sequences, classes, input) is { } loss) output.Add("loss", [loss], []);
        output.Add("logits", logits, [sequences, classes]);
        _sequences = sequences;
    }

    /// <summary>Gradient w.r.t. the pooled input, [sequences, dim].</summary>
    public float[] Backward(OutputGradients gradients, LayerContext ctx)
    {
        int n = _sequences * Head.Classifier.OutFeatures;
        var dLogits = ctx.Shared.Get("task.grad.logits", n);
        TaskGradients.LossPlusExternal(_loss.Backward, gradients.OwnLossScale, gradients.Logits, dLogits, n);
        var dPooled = ctx.Shared.Get("task.grad.pooled", _sequences * Head.Classifier.InFeatures);
        Head.Backward(dLogits, ctx, dPooled);
        return dPooled;
    }
}

/// <summary>d(output) = ownLossScale · d(own loss)/d(output) + an external gradient, either part optional.</summary>
static class TaskGradients
{
    public delegate void LossBackward(float scale, Span<float> dLogits);

    public static void LossPlusExternal(LossBackward lossBackward, float ownLossScale, float[]? external, float[] dLogits, int n)
    {
        if (ownLossScale != 0) lossBackward(ownLossScale, dLogits);
        else Array.Clear(dLogits, 0, n);
        Add(dLogits, external, n);
    }

    public static void Add(float[] into, float[]? external, int n)
    {
        if (external is null) return;
        for (int i = 0; i < n; i++) into[i] += external[i];
    }
}
