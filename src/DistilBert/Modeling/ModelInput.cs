using DistilBert.Modeling.Layers;

namespace DistilBert.Modeling;

/// <summary>
/// One batch for a model: the tokens of every sequence concatenated (ragged, design note 3) plus optional labels.
/// <see cref="FromPadded"/> keeps HF's padded meaning: each row of [batch, seq] is one sequence of full length whose
/// attention_mask-0 positions are masked keys, so every output element equals HF's, padded positions included.
/// </summary>
public sealed class ModelInput
{
    /// <summary>[tokens] token ids.</summary>
    public int[] InputIds { get; }
    /// <summary>[tokens] segment ids (BERT only; DistilBERT has no token types), or null for all zeros.</summary>
    public int[]? TokenTypeIds { get; }
    public BatchLayout Layout { get; }
    /// <summary>The padded row length when built from [batch, seq] tensors; outputs then have HF's padded shapes.</summary>
    public int? PaddedLength { get; }

    /// <summary>Integer labels: [tokens] for MLM / token classification (−100 = ignored), [sequences] for sequence classification.</summary>
    public long[]? Labels { get; set; }
    /// <summary>Float labels for regression ([sequences]) or multi-label classification ([sequences, num_labels]).</summary>
    public float[]? FloatLabels { get; set; }
    /// <summary>[sequences] answer start / end token positions for question answering.</summary>
    public long[]? StartPositions { get; set; }
    public long[]? EndPositions { get; set; }

    public int Sequences => Layout.Sequences;
    public int Tokens => Layout.Tokens;

    ModelInput(int[] inputIds, int[]? tokenTypeIds, BatchLayout layout, int? paddedLength)
    {
        InputIds = inputIds;
        TokenTypeIds = tokenTypeIds;
        Layout = layout;
        PaddedLength = paddedLength;
    }

    /// <summary>HF-style padded batch. <paramref name="attentionMask"/> null means all ones; non-zero means "attend".</summary>
    public static ModelInput FromPadded(long[] inputIds, int batch, int seq, long[]? attentionMask = null, long[]? tokenTypeIds = null)
    {
        if (batch <= 0 || seq <= 0) throw new InvalidInputException($"input_ids must have shape [batch, seq] with both positive, got [{batch}, {seq}]");
        long n = (long)batch * seq;
        if (inputIds.LongLength != n) throw new InvalidInputException($"input_ids has {inputIds.LongLength} elements, expected [{batch}, {seq}] = {n}");
        if (attentionMask is not null && attentionMask.LongLength != n)
            throw new InvalidInputException($"attention_mask has {attentionMask.LongLength} elements but input_ids is [{batch}, {seq}]");
        if (tokenTypeIds is not null && tokenTypeIds.LongLength != n)
            throw new InvalidInputException($"token_type_ids has {tokenTypeIds.LongLength} elements but input_ids is [{batch}, {seq}]");
        var ids = ToInt(inputIds, "input_ids", seq);
        var types = tokenTypeIds is null ? null : ToInt(tokenTypeIds, "token_type_ids", seq);
        var starts = new int[batch + 1];
        for (int b = 0; b <= batch; b++) starts[b] = b * seq;
        float[]? keyMask = null;
        if (attentionMask is not null && Array.Exists(attentionMask, m => m == 0))
            keyMask = Array.ConvertAll(attentionMask, m => m != 0 ? 1f : 0f);
        return new ModelInput(ids, types, new BatchLayout(starts, keyMask), seq);
    }

    /// <summary>A ragged batch of unpadded sequences (what pipelines use: no compute is spent on padding).</summary>
    public static ModelInput FromSequences(IReadOnlyList<int[]> sequences, IReadOnlyList<int[]>? tokenTypeIds = null)
    {
        if (sequences.Count == 0) throw new InvalidInputException("a batch needs at least one sequence");
        var starts = new int[sequences.Count + 1];
        for (int s = 0; s < sequences.Count; s++)
        {
            if (sequences[s].Length == 0) throw new InvalidInputException($"sequence {s} is empty");
            if (tokenTypeIds is not null && tokenTypeIds[s].Length != sequences[s].Length)
                throw new InvalidInputException($"token_type_ids of sequence {s} has {tokenTypeIds[s].Length} entries, input_ids has {sequences[s].Length}");
            starts[s + 1] = checked(starts[s] + sequences[s].Length);
        }
        var ids = new int[starts[^1]];
        int[]? types = tokenTypeIds is null ? null : new int[starts[^1]];
        for (int s = 0; s < sequences.Count; s++)
        {
            sequences[s].CopyTo(ids, starts[s]);
            tokenTypeIds?[s].CopyTo(types!, starts[s]);
        }
        return new ModelInput(ids, types, new BatchLayout(starts, null), null);
    }

    static int[] ToInt(long[] values, string name, int seq)
    {
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            long v = values[i];
            if (v < 0 || v > int.MaxValue) throw new InvalidInputException($"{name}[{i / seq}, {i % seq}] = {v} is out of range (must be ≥ 0)");
            result[i] = (int)v;
        }
        return result;
    }

    /// <summary>Human-readable index of token row t: [b, t] for padded batches, [t] for ragged ones.</summary>
    public string TokenIndex(int t)
    {
        if (PaddedLength is { } s) return $"[{t / s}, {t % s}]";
        return $"[{t}]";
    }

    /// <summary>Output shape of a per-token tensor with the given trailing dimensions.</summary>
    public int[] TokenShape(params int[] inner) =>
        PaddedLength is { } s ? [Sequences, s, .. inner] : [Tokens, .. inner];
}

/// <summary>A named output, float32, C-order.</summary>
public sealed record OutputTensor(float[] Data, int[] Shape)
{
    public long Length => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>Outputs under HF's names (loss, logits, start_logits, end_logits, last_hidden_state, pooler_output,
/// hidden_states.{i}, attentions.{i}), in the order produced.</summary>
public sealed class ModelOutput
{
    readonly List<KeyValuePair<string, OutputTensor>> _ordered = new();
    readonly Dictionary<string, OutputTensor> _byName = new(StringComparer.Ordinal);

    public void Add(string name, float[] data, int[] shape)
    {
        var t = new OutputTensor(data, shape);
        _ordered.Add(new(name, t));
        _byName[name] = t;
    }

    public OutputTensor this[string name] =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"the model produced no output named '{name}'");

    public bool TryGet(string name, out OutputTensor tensor) => _byName.TryGetValue(name, out tensor!);

    public IReadOnlyList<KeyValuePair<string, OutputTensor>> All => _ordered;

    public float? Loss => _byName.TryGetValue("loss", out var t) ? t.Data[0] : null;
}

/// <summary>
/// Gradients of a loss computed outside the model (distillation, custom objectives) with respect to its outputs, in the
/// outputs' own layouts; any may be null. <see cref="OwnLossScale"/> adds that multiple of the model's own loss.
/// </summary>
public sealed class OutputGradients
{
    /// <summary>d/d logits: [tokens, vocab] (MLM), [tokens, labels] (token classification), [sequences, labels].</summary>
    public float[]? Logits { get; init; }
    public float[]? StartLogits { get; init; }
    public float[]? EndLogits { get; init; }
    /// <summary>[tokens, dim]</summary>
    public float[]? LastHiddenState { get; init; }
    /// <summary>[sequences, dim] (BertModel)</summary>
    public float[]? PoolerOutput { get; init; }
    public float OwnLossScale { get; init; }
}

public sealed record ForwardOptions(bool OutputHiddenStates = false, bool OutputAttentions = false)
{
    public static readonly ForwardOptions None = new();

    /// <summary>
    /// *ForMaskedLM models in eval mode: compute vocabulary logits only at these token rows, in this order (duplicates
    /// allowed). Rows index the model's ragged token layout, [0, input.Tokens): sequence s, position i is row
    /// <c>Layout.SequenceStarts[s] + i</c> (b · seq + i for a padded batch). "logits" is then [positions, vocab] instead
    /// of [tokens, vocab] (or [batch, seq, vocab]), row r being token row LogitPositions[r]; the MLM head runs only there
    /// and multiplies by the plain [vocab, dim] projector, never creating a packed copy of it (fill-mask asks for the
    /// [MASK] rows only). Null: logits at every token. Any other head, a training-mode model, labels, or a row outside
    /// the batch is an <see cref="InvalidInputException"/>.
    /// </summary>
    public int[]? LogitPositions { get; init; }
}
