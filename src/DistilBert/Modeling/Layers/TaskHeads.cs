namespace DistilBert.Modeling.Layers;

/// <summary>MLM: logits [tokens, vocab] under "logits"; with labels ([tokens], −100 ignored) a cross-entropy "loss".
/// With <see cref="ModelInput.LogitsAtLabelsOnly"/> the head runs only on the labelled rows (the same loss, a fraction of
/// the vocabulary projection) and "logits" is [labelled rows, vocab] in token order.</summary>
public sealed class MaskedLmTask(MaskedLmHead head)
{
    public MaskedLmHead Head { get; } = head;
    readonly CrossEntropyLoss _loss = new();
    float[] _logits = [];
    int _tokens;
    int[]? _labelledRows; // null: every row went through the head

    public void Forward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        int tokens = input.Tokens, vocab = Head.VocabSize;
        _labelledRows = null;
        if (input.LogitsAtLabelsOnly && input.Labels is { } sparse && sparse.Length == tokens && Array.Exists(sparse, l => l != -100))
        {
            ForwardAtLabels(hidden, sparse, tokens, ctx, output);
            return;
        }
        var logits = new float[(long)tokens * vocab];
        Head.Forward(hidden, tokens, ctx, logits);
        if (input.Labels is { } labels)
        {
            if (labels.Length != tokens) throw new InvalidInputException($"labels has {labels.Length} elements, expected one per token ({string.Join(", ", input.TokenShape())})");
            output.Add("loss", [_loss.Forward(logits, tokens, vocab, labels)], []);
        }
        output.Add("logits", logits, input.TokenShape(vocab));
        _logits = logits;
        _tokens = tokens;
    }

    // hidden: [tokens, dim] → rows: [labelled, dim] → logits: [labelled, vocab]
    void ForwardAtLabels(float[] hidden, long[] labels, int tokens, LayerContext ctx, ModelOutput output)
    {
        int dim = Head.Transform.InFeatures, vocab = Head.VocabSize;
        var rows = Enumerable.Range(0, tokens).Where(t => labels[t] != -100).ToArray();
        var gathered = new float[rows.Length * dim];
        for (int r = 0; r < rows.Length; r++) hidden.AsSpan(rows[r] * dim, dim).CopyTo(gathered.AsSpan(r * dim, dim));
        var logits = new float[(long)rows.Length * vocab];
        Head.Forward(gathered, rows.Length, ctx, logits);
        var rowLabels = Array.ConvertAll(rows, t => labels[t]);
        output.Add("loss", [_loss.Forward(logits, rows.Length, vocab, rowLabels)], []);
        output.Add("logits", logits, [rows.Length, vocab]);
        _logits = logits;
        _tokens = tokens;
        _labelledRows = rows;
    }

    public float[] Backward(float scale, LayerContext ctx)
    {
        var dLogits = ctx.Shared.Get("task.grad.logits", _logits.LongLength);
        _loss.Backward(scale, dLogits);
        int dim = Head.Transform.InFeatures;
        if (_labelledRows is { } rows)
        {
            var dRows = ctx.Shared.Get("task.grad.rows", (long)rows.Length * dim);
            Head.Backward(dLogits, ctx, dRows);
            // Unlabelled rows got no logits, so their gradient is zero.
            var dScattered = ctx.Shared.GetCleared("task.grad.hidden", (long)_tokens * dim);
            for (int r = 0; r < rows.Length; r++) dRows.AsSpan(r * dim, dim).CopyTo(dScattered.AsSpan(rows[r] * dim, dim));
            return dScattered;
        }
        var dHidden = ctx.Shared.Get("task.grad.hidden", (long)_tokens * dim);
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

    public float[] Backward(float scale, LayerContext ctx)
    {
        var dLogits = ctx.Shared.Get("task.grad.logits", _tokens * Head.Classifier.OutFeatures);
        _loss.Backward(scale, dLogits);
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

    public float[] Backward(float scale, LayerContext ctx)
    {
        var dStart = ctx.Shared.Get("qa.grad.start", _tokens);
        var dEnd = ctx.Shared.Get("qa.grad.end", _tokens);
        _loss.Backward(scale, dStart, dEnd);
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
    public float[] Backward(float scale, LayerContext ctx)
    {
        var dLogits = ctx.Shared.Get("task.grad.logits", _sequences * Head.Classifier.OutFeatures);
        _loss.Backward(scale, dLogits);
        var dPooled = ctx.Shared.Get("task.grad.pooled", _sequences * Head.Classifier.InFeatures);
        Head.Backward(dLogits, ctx, dPooled);
        return dPooled;
    }
}
