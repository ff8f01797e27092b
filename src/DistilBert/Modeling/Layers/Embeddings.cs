namespace DistilBert.Modeling.Layers;

/// <summary>
/// word + position (+ token type) → LayerNorm → dropout. Positions count from each sequence's first row (HF's
/// arange(T), also for left-padded rows). Backward scatters into the tables: the pad row gets nothing from the lookup
/// (nn.Embedding padding_idx) and frozen tables (sinusoidal positions) get nothing at all.
/// </summary>
public sealed class Embeddings
{
    public Parameter WordEmbeddings { get; }
    public Parameter PositionEmbeddings { get; }
    public Parameter? TokenTypeEmbeddings { get; }
    public LayerNormLayer Norm { get; }
    readonly int _dim, _padTokenId;
    readonly double _dropout;
    readonly Workspace _cache = new();
    int[] _ids = [], _types = [];
    BatchLayout? _layout;

    /// <param name="prefix">e.g. "distilbert.embeddings."</param>
    public Embeddings(ParameterRegistry registry, string prefix, int vocabSize, int maxPositions, int dim, int typeVocabSize,
        int padTokenId, float eps, double dropout, bool frozenPositions)
    {
        WordEmbeddings = registry.Add(prefix + "word_embeddings.weight", [vocabSize, dim]);
        PositionEmbeddings = registry.Add(prefix + "position_embeddings.weight", [maxPositions, dim], requiresGrad: !frozenPositions);
        if (typeVocabSize > 0) TokenTypeEmbeddings = registry.Add(prefix + "token_type_embeddings.weight", [typeVocabSize, dim]);
        Norm = new LayerNormLayer(registry, prefix + "LayerNorm", dim, eps);
        _dim = dim;
        _padTokenId = padTokenId;
        _dropout = dropout;
    }

    // ids, tokenTypes: [tokens] → y: [tokens, dim]
    public void Forward(int[] ids, int[]? tokenTypes, BatchLayout layout, LayerContext ctx, float[] y)
    {
        int tokens = layout.Tokens, dim = _dim;
        // inference sums straight into y and normalises it in place (training keeps the sum for Backward)
        var sum = ctx.Training ? ctx.Buffer(_cache, "emb.sum", (long)tokens * dim) : y;
        var word = WordEmbeddings.Value;
        var pos = PositionEmbeddings.Value;
        var types = TokenTypeEmbeddings?.Value;
        for (int s = 0; s < layout.Sequences; s++)
        {
            int start = layout.SequenceStarts[s];
            for (int t = start; t < layout.SequenceStarts[s + 1]; t++)
            {
                var row = sum.AsSpan(t * dim, dim);
                var w = word.AsSpan(ids[t] * dim, dim);
                var p = pos.AsSpan((t - start) * dim, dim);
                for (int i = 0; i < dim; i++) row[i] = w[i] + p[i];
                if (types is not null)
                {
                    var tt = types.AsSpan((tokenTypes is null ? 0 : tokenTypes[t]) * dim, dim);
                    for (int i = 0; i < dim; i++) row[i] += tt[i];
                }
            }
        }
        var mean = ctx.Training ? _cache.Get("emb.mean", tokens) : [];
        var rstd = ctx.Training ? _cache.Get("emb.rstd", tokens) : [];
        Norm.Forward(sum, tokens, y, mean.AsSpan(0, ctx.Training ? tokens : 0), rstd.AsSpan(0, ctx.Training ? tokens : 0));
        if (ctx.Drops(_dropout)) Dropout.Forward(y.AsSpan(0, tokens * dim), _dropout, ctx.Random!, _cache.Get("emb.dropmask", (long)tokens * dim));
        if (ctx.Training) { _ids = ids; _types = tokenTypes ?? []; _layout = layout; }
    }

    public void Backward(float[] dy, LayerContext ctx)
    {
        var layout = _layout ?? throw new InvalidOperationException("Embeddings.Backward without a training forward");
        int tokens = layout.Tokens, dim = _dim;
        if (ctx.Drops(_dropout)) Dropout.Backward(dy.AsSpan(0, tokens * dim), _cache.Get("emb.dropmask", (long)tokens * dim));
        var dsum = ctx.Shared.Get("emb.grad.sum", (long)tokens * dim);
        Norm.Backward(_cache.Get("emb.sum", 0), _cache.Get("emb.mean", 0), _cache.Get("emb.rstd", 0), dy, tokens, dsum);
        var dWord = WordEmbeddings.RequiresGrad ? WordEmbeddings.EnsureGrad() : null;
        var dPos = PositionEmbeddings.RequiresGrad ? PositionEmbeddings.EnsureGrad() : null;
        var dType = TokenTypeEmbeddings is { RequiresGrad: true } tte ? tte.EnsureGrad() : null;
        for (int s = 0; s < layout.Sequences; s++)
        {
            int start = layout.SequenceStarts[s];
            for (int t = start; t < layout.SequenceStarts[s + 1]; t++)
            {
                var g = dsum.AsSpan(t * dim, dim);
                if (dWord is not null && _ids[t] != _padTokenId) Add(dWord.AsSpan(_ids[t] * dim, dim), g);
                if (dPos is not null) Add(dPos.AsSpan((t - start) * dim, dim), g);
                if (dType is not null) Add(dType.AsSpan((_types.Length == 0 ? 0 : _types[t]) * dim, dim), g);
            }
        }
    }

    static void Add(Span<float> into, ReadOnlySpan<float> g)
    {
        for (int i = 0; i < into.Length; i++) into[i] += g[i];
    }
}
