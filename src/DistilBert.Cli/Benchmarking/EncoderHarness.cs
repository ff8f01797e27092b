using DistilBert.Compute;

namespace DistilBert.Cli.Benchmarking;

/// <summary>The encoder shapes <c>distilbert bench --shape</c> knows.</summary>
public sealed record EncoderShape(string Name, int Layers, int Dim, int Heads, int Hidden, int Vocab, int MaxPositions,
    bool TokenTypes, bool Pooler)
{
    /// <summary>DistilBERT-base: 6 layers, dim 768, 12 heads, FFN 3072, no token types, no pooler.</summary>
    public static readonly EncoderShape DistilBertBase = new("distilbert-base", 6, 768, 12, 3072, 30522, 512, false, false);
    /// <summary>BERT-base: 12 layers, dim 768, 12 heads, FFN 3072, with token types and the pooler.</summary>
    public static readonly EncoderShape BertBase = new("bert-base", 12, 768, 12, 3072, 30522, 512, true, true);

    /// <summary>The shape named by <c>--shape</c> (distilbert-base or bert-base); any other name is an error.</summary>
    public static EncoderShape Parse(string name) => name switch
    {
        "distilbert-base" => DistilBertBase,
        "bert-base" => BertBase,
        _ => throw new InvalidInputException($"--shape must be distilbert-base or bert-base, got '{name}'"),
    };

    /// <summary>Matrix-product FLOPs of one forward pass (2 per multiply-add), as shared/bench/torch/flops.py counts
    /// them: per layer 24·T·d² (QKV, output, FFN) + 4·T_s²·d per sequence (scores and context); plus the pooler.</summary>
    public double Flops(ReadOnlySpan<int> sequenceLengths)
    {
        double tokens = 0, attention = 0;
        foreach (int t in sequenceLengths) { tokens += t; attention += 4.0 * t * t * Dim; }
        double linear = 2.0 * tokens * Dim * (3 * Dim + Dim + 2 * Hidden);
        double pooler = Pooler ? 2.0 * sequenceLengths.Length * Dim * Dim : 0;
        return Layers * (linear + attention) + pooler;
    }
}

/// <summary>
/// BENCHMARK HARNESS, not a model: a DistilBERT/BERT-shaped encoder stack with random weights, assembled directly
/// from the compute kernels so that <c>distilbert bench</c> can time the engine before the real models exist
/// (the lead switches the command to DistilBertModel after integration). Per layer it does exactly the work of HF's
/// encoder layer: fused QKV Linear, ragged attention, output Linear, residual + LayerNorm, FFN Linear with fused GELU,
/// Linear, residual + LayerNorm; embeddings are word + position (+ token type) → LayerNorm; BERT adds the pooler.
/// Workspaces are allocated once per token count and reused.
/// </summary>
public sealed class EncoderHarness
{
    sealed record Layer(PackedMatrix Qkv, float[] QkvBias, PackedMatrix Output, float[] OutputBias, float[] Ln1Gamma,
        float[] Ln1Beta, PackedMatrix Ffn1, float[] Ffn1Bias, PackedMatrix Ffn2, float[] Ffn2Bias, float[] Ln2Gamma, float[] Ln2Beta);

    readonly EncoderShape _shape;
    readonly float[] _wordEmbeddings, _positionEmbeddings, _typeEmbeddings, _embGamma, _embBeta;
    readonly Layer[] _layers;
    readonly PackedMatrix? _pooler;
    readonly float[] _poolerBias;
    const int FfnBlockTokens = 1024;
    int _capacity = -1;
    float[] _hidden = [], _qkv = [], _context = [], _projected = [], _intermediate = [], _pooled = [], _cls = [];
    int[] _positions = [];

    /// <summary>
    /// An encoder of <paramref name="shape"/> with random weights drawn from <paramref name="seed"/>, packed once.
    /// </summary>
    public EncoderHarness(EncoderShape shape, int seed = 1234)
    {
        _shape = shape;
        var rng = new Xorshift((uint)seed);
        int d = shape.Dim;
        _wordEmbeddings = rng.Normal(shape.Vocab * d, 0.02f);
        _positionEmbeddings = rng.Normal(shape.MaxPositions * d, 0.02f);
        _typeEmbeddings = shape.TokenTypes ? rng.Normal(2 * d, 0.02f) : [];
        _embGamma = Ones(d);
        _embBeta = new float[d];
        _layers = new Layer[shape.Layers];
        // one scratch buffer for every unpacked weight: only the packed copies stay (peak memory = steady state)
        var scratch = new float[Math.Max(shape.Hidden, 3 * d) * d];
        PackedMatrix Packed(int n, int k)
        {
            var w = scratch.AsSpan(0, n * k);
            rng.FillNormal(w, 0.02f);
            return PackedMatrix.FromLinearWeight(w, n, k);
        }
        for (int l = 0; l < shape.Layers; l++)
        {
            _layers[l] = new Layer(
                Packed(3 * d, d), rng.Normal(3 * d, 0.02f),
                Packed(d, d), rng.Normal(d, 0.02f), Ones(d), new float[d],
                Packed(shape.Hidden, d), rng.Normal(shape.Hidden, 0.02f),
                Packed(d, shape.Hidden), rng.Normal(d, 0.02f),
                Ones(d), new float[d]);
        }
        _pooler = shape.Pooler ? Packed(d, d) : null;
        _poolerBias = shape.Pooler ? rng.Normal(d, 0.02f) : [];
    }

    static float[] Ones(int n) { var x = new float[n]; Array.Fill(x, 1f); return x; }

    /// <summary>Runs the stack on a ragged batch: ids [tokens], sequence s = tokens [starts[s], starts[s+1]).
    /// Returns the last hidden state [tokens, dim] (a view of the reused workspace).</summary>
    public ReadOnlySpan<float> Forward(ReadOnlySpan<int> ids, ReadOnlySpan<int> starts)
    {
        int tokens = ids.Length, d = _shape.Dim, sequences = starts.Length - 1;
        EnsureCapacity(tokens, sequences);
        var hidden = _hidden.AsSpan(0, tokens * d);
        var qkv = _qkv.AsSpan(0, tokens * 3 * d);
        var context = _context.AsSpan(0, tokens * d);
        var projected = _projected.AsSpan(0, tokens * d);
        var intermediate = _intermediate.AsSpan(0, Math.Min(tokens, FfnBlockTokens) * _shape.Hidden);

        // embeddings: word + position (+ token type 0) → LayerNorm (eps 1e-12)
        var positions = _positions.AsSpan(0, tokens);
        for (int s = 0; s < sequences; s++)
            for (int t = starts[s]; t < starts[s + 1]; t++) positions[t] = t - starts[s];
        EmbeddingLookup.Gather(_wordEmbeddings, _shape.Vocab, d, ids, hidden, accumulate: false, "word_embeddings");
        EmbeddingLookup.Gather(_positionEmbeddings, _shape.MaxPositions, d, positions, hidden, accumulate: true, "position_embeddings");
        if (_shape.TokenTypes)
            for (int t = 0; t < tokens; t++) Elementwise.Add(hidden.Slice(t * d, d), _typeEmbeddings.AsSpan(0, d), hidden.Slice(t * d, d));
        LayerNorm.Forward(hidden, _embGamma, _embBeta, hidden, tokens, d, 1e-12f, [], []);

        float scale = 1f / MathF.Sqrt(d / _shape.Heads);
        foreach (var layer in _layers)
        {
            Linear.Forward(hidden, tokens, layer.Qkv, layer.QkvBias, qkv);
            Attention.Forward(qkv, 3 * d, qkv[d..], 3 * d, qkv[(2 * d)..], 3 * d, starts, _shape.Heads, d / _shape.Heads,
                scale, [], context, d, []);
            Linear.Forward(context, tokens, layer.Output, layer.OutputBias, projected);
            LayerNorm.ForwardResidual(projected, hidden, layer.Ln1Gamma, layer.Ln1Beta, hidden, tokens, d, 1e-12f);
            // FFN in blocks of tokens: the [block, hidden] intermediate stays small (and warm in cache) at any batch size
            for (int t0 = 0; t0 < tokens; t0 += FfnBlockTokens)
            {
                int rows = Math.Min(FfnBlockTokens, tokens - t0);
                var block = intermediate[..(rows * _shape.Hidden)];
                Linear.Forward(hidden.Slice(t0 * d, rows * d), rows, layer.Ffn1, layer.Ffn1Bias, block, Epilogue.Gelu);
                Linear.Forward(block, rows, layer.Ffn2, layer.Ffn2Bias, projected.Slice(t0 * d, rows * d));
            }
            LayerNorm.ForwardResidual(projected, hidden, layer.Ln2Gamma, layer.Ln2Beta, hidden, tokens, d, 1e-12f);
        }

        if (_pooler is not null)
        {
            // pooler: tanh(dense(h[CLS])) per sequence
            var cls = _cls.AsSpan(0, sequences * d);
            for (int s = 0; s < sequences; s++) hidden.Slice(starts[s] * d, d).CopyTo(cls.Slice(s * d, d));
            var pooled = _pooled.AsSpan(0, sequences * d);
            Linear.Forward(cls, sequences, _pooler, _poolerBias, pooled);
            Activations.Tanh(pooled, pooled);
        }
        return hidden;
    }

    void EnsureCapacity(int tokens, int sequences)
    {
        if (tokens <= _capacity && sequences <= _cls.Length / _shape.Dim) return;
        int d = _shape.Dim;
        _capacity = tokens;
        _hidden = new float[tokens * d];
        _qkv = new float[tokens * 3 * d];
        _context = new float[tokens * d];
        _projected = new float[tokens * d];
        _intermediate = new float[Math.Min(tokens, FfnBlockTokens) * _shape.Hidden];
        _positions = new int[tokens];
        _cls = new float[Math.Max(1, sequences) * d];
        _pooled = new float[Math.Max(1, sequences) * d];
    }

    /// <summary>Deterministic, fast random numbers for weights (statistics only need to look like HF's init).</summary>
    sealed class Xorshift(uint seed)
    {
        uint _state = seed == 0 ? 1u : seed;

        float NextUniform()
        {
            _state ^= _state << 13; _state ^= _state >> 17; _state ^= _state << 5;
            return (_state >> 8) * (1f / (1 << 24));
        }

        public float[] Normal(int n, float std)
        {
            var x = new float[n];
            FillNormal(x, std);
            return x;
        }

        /// <summary>Approximately N(0, std²): sum of four uniforms, rescaled (Irwin–Hall).</summary>
        public void FillNormal(Span<float> x, float std)
        {
            const float unitStd = 0.57735026f; // sqrt(4/12)
            for (int i = 0; i < x.Length; i++)
                x[i] = (NextUniform() + NextUniform() + NextUniform() + NextUniform() - 2f) / unitStd * std;
        }
    }
}
