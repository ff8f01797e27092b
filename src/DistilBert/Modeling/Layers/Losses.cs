namespace DistilBert.Modeling.Layers;

/// <summary>
/// torch.nn.CrossEntropyLoss (mean over rows whose label is not <c>ignoreIndex</c>): loss = mean(logsumexp(x) − x[label]).
/// Backward: dx = (softmax(x) − onehot)/count on counted rows, 0 elsewhere. No counted row gives NaN, as torch.
/// </summary>
public sealed class CrossEntropyLoss
{
    public const int DefaultIgnoreIndex = -100;

    float[] _logits = [];
    long[] _labels = [];
    int _rows, _classes, _ignoreIndex, _count;

    // logits: [rows, classes], labels: [rows]
    public float Forward(float[] logits, int rows, int classes, long[] labels, int ignoreIndex = -100, string labelName = "labels")
    {
        double total = 0;
        int count = 0;
        for (int r = 0; r < rows; r++)
        {
            long label = labels[r];
            if (label == ignoreIndex) continue;
            if (label < 0 || label >= classes)
                throw new InvalidInputException($"{labelName}[{r}] = {label} is outside [0, {classes}) and is not the ignore index {ignoreIndex}");
            var row = logits.AsSpan(r * classes, classes);
            total += LogSumExp(row) - row[(int)label];
            count++;
        }
        _logits = logits; _labels = labels; _rows = rows; _classes = classes; _ignoreIndex = ignoreIndex; _count = count;
        return (float)(total / count);
    }

    static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var x in row) if (x > max) max = x;
        double sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return max + Math.Log(sum);
    }

    /// <summary>dlogits[rows, classes] (overwritten) for d(loss) = <paramref name="scale"/>.</summary>
    public void Backward(float scale, Span<float> dLogits)
    {
        dLogits[..(_rows * _classes)].Clear();
        if (_count == 0) return;
        float perRow = scale / _count;
        for (int r = 0; r < _rows; r++)
        {
            if (_labels[r] == _ignoreIndex) continue;
            var row = _logits.AsSpan(r * _classes, _classes);
            var d = dLogits.Slice(r * _classes, _classes);
            double lse = LogSumExp(row);
            for (int c = 0; c < _classes; c++) d[c] = (float)Math.Exp(row[c] - lse) * perRow;
            d[(int)_labels[r]] -= perRow;
        }
    }
}

/// <summary>torch.nn.MSELoss (mean over every element): loss = mean((x − y)²), dx = 2(x − y)/n.</summary>
public sealed class MseLoss
{
    float[] _predictions = [], _targets = [];
    int _n;

    public float Forward(float[] predictions, float[] targets, int n)
    {
        double total = 0;
        for (int i = 0; i < n; i++) { double d = predictions[i] - targets[i]; total += d * d; }
        _predictions = predictions; _targets = targets; _n = n;
        return (float)(total / n);
    }

    public void Backward(float scale, Span<float> dPredictions)
    {
        for (int i = 0; i < _n; i++) dPredictions[i] = scale * 2f * (_predictions[i] - _targets[i]) / _n;
    }
}

/// <summary>torch.nn.BCEWithLogitsLoss (mean): ℓ = max(x,0) − x·y + log(1 + e^−|x|); dx = (σ(x) − y)/n.</summary>
public sealed class BceWithLogitsLoss
{
    float[] _logits = [], _targets = [];
    int _n;

    public float Forward(float[] logits, float[] targets, int n)
    {
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            double x = logits[i], y = targets[i];
            total += Math.Max(x, 0) - x * y + Math.Log(1 + Math.Exp(-Math.Abs(x)));
        }
        _logits = logits; _targets = targets; _n = n;
        return (float)(total / n);
    }

    public void Backward(float scale, Span<float> dLogits)
    {
        for (int i = 0; i < _n; i++)
        {
            double sigmoid = 1.0 / (1.0 + Math.Exp(-_logits[i]));
            dLogits[i] = (float)(scale * (sigmoid - _targets[i]) / _n);
        }
    }
}

/// <summary>
/// HF's sequence-classification loss by problem_type: regression → MSE, single_label_classification → cross-entropy,
/// multi_label_classification → BCE-with-logits. When the config has no problem_type it is decided as HF does
/// (num_labels 1 → regression; integer labels → single-label; otherwise multi-label) and written into the config.
/// </summary>
public sealed class SequenceClassificationLoss
{
    readonly CrossEntropyLoss _crossEntropy = new();
    readonly MseLoss _mse = new();
    readonly BceWithLogitsLoss _bce = new();
    string _kind = "";
    int _n;

    /// <summary>logits: [sequences, numLabels]; returns null when the input has no labels.</summary>
    public float? Forward(ModelConfig config, float[] logits, int sequences, int numLabels, ModelInput input)
    {
        if (input.Labels is null && input.FloatLabels is null) return null;
        config.ProblemType ??= numLabels == 1 ? "regression" : input.Labels is not null ? "single_label_classification" : "multi_label_classification";
        _kind = config.ProblemType;
        switch (_kind)
        {
            case "single_label_classification":
                var labels = input.Labels ?? throw new InvalidInputException("labels must be integers for single_label_classification");
                if (labels.Length != sequences) throw new InvalidInputException($"labels has {labels.Length} elements, expected one per sequence ({sequences})");
                return _crossEntropy.Forward(logits, sequences, numLabels, labels);
            default:
                _n = sequences * numLabels;
                var targets = input.FloatLabels ?? Array.ConvertAll(input.Labels!, l => (float)l);
                if (targets.Length != _n)
                    throw new InvalidInputException($"labels has {targets.Length} elements, expected [{sequences}, {numLabels}] for {_kind}");
                return _kind == "regression" ? _mse.Forward(logits, targets, _n) : _bce.Forward(logits, targets, _n);
        }
    }

    public void Backward(float scale, Span<float> dLogits)
    {
        switch (_kind)
        {
            case "single_label_classification": _crossEntropy.Backward(scale, dLogits); break;
            case "regression": _mse.Backward(scale, dLogits); break;
            default: _bce.Backward(scale, dLogits); break;
        }
    }
}

/// <summary>
/// HF's QA loss: positions clamped to [0, T], position T ignored, cross-entropy over each sequence's own T positions
/// for start and for end, loss = (start + end)/2. Padded positions are not masked (HF does not mask them either).
/// </summary>
public sealed class QuestionAnsweringLoss
{
    float[] _start = [], _end = [];
    int[] _startTargets = [], _endTargets = [];
    BatchLayout? _layout;
    int _startCount, _endCount;

    // startLogits, endLogits: [tokens]; positions: [sequences]
    public float Forward(float[] startLogits, float[] endLogits, ModelInput input)
    {
        var layout = input.Layout;
        if (input.StartPositions is not { } sp || input.EndPositions is not { } ep) throw new InvalidInputException("question answering needs both start_positions and end_positions");
        if (sp.Length != layout.Sequences) throw new InvalidInputException($"start_positions has {sp.Length} elements, expected one per sequence ({layout.Sequences})");
        if (ep.Length != layout.Sequences) throw new InvalidInputException($"end_positions has {ep.Length} elements, expected one per sequence ({layout.Sequences})");
        _start = startLogits; _end = endLogits; _layout = layout;
        _startTargets = Clamp(sp, layout);
        _endTargets = Clamp(ep, layout);
        double startLoss = Loss(startLogits, _startTargets, layout, out _startCount);
        double endLoss = Loss(endLogits, _endTargets, layout, out _endCount);
        return (float)((startLoss / _startCount + endLoss / _endCount) / 2);
    }

    static int[] Clamp(long[] positions, BatchLayout layout)
    {
        var r = new int[positions.Length];
        for (int s = 0; s < r.Length; s++) r[s] = (int)Math.Clamp(positions[s], 0, layout.Length(s));
        return r;
    }

    static double Loss(float[] logits, int[] targets, BatchLayout layout, out int count)
    {
        double total = 0;
        count = 0;
        for (int s = 0; s < layout.Sequences; s++)
        {
            int t = layout.Length(s);
            if (targets[s] == t) continue;
            var row = logits.AsSpan(layout.SequenceStarts[s], t);
            total += LogSumExp(row) - row[targets[s]];
            count++;
        }
        return total;
    }

    static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var x in row) if (x > max) max = x;
        double sum = 0;
        foreach (var x in row) sum += Math.Exp(x - max);
        return max + Math.Log(sum);
    }

    /// <summary>dStart, dEnd: [tokens] (overwritten).</summary>
    public void Backward(float scale, Span<float> dStart, Span<float> dEnd)
    {
        Grad(_start, _startTargets, _startCount, scale / 2, dStart);
        Grad(_end, _endTargets, _endCount, scale / 2, dEnd);
    }

    void Grad(float[] logits, int[] targets, int count, float scale, Span<float> d)
    {
        var layout = _layout!;
        d[..layout.Tokens].Clear();
        if (count == 0) return;
        float perRow = scale / count;
        for (int s = 0; s < layout.Sequences; s++)
        {
            int t = layout.Length(s), start = layout.SequenceStarts[s];
            if (targets[s] == t) continue;
            var row = logits.AsSpan(start, t);
            double lse = LogSumExp(row);
            for (int j = 0; j < t; j++) d[start + j] = (float)Math.Exp(row[j] - lse) * perRow;
            d[start + targets[s]] -= perRow;
        }
    }
}
