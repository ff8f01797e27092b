namespace DistilBert.Modeling;

/// <summary>BertConfig with HF 4.30's defaults (bert-base-uncased's shape).</summary>
public sealed class BertConfig : ModelConfig
{
    public override string ModelType => "bert";
    /// <summary>Hidden size (<c>hidden_size</c>).</summary>
    public int HiddenSizeValue { get; set; } = 768;
    /// <summary>Transformer layers (<c>num_hidden_layers</c>).</summary>
    public int NumHiddenLayers { get; set; } = 12;
    /// <summary>Attention heads (<c>num_attention_heads</c>).</summary>
    public int NumAttentionHeads { get; set; } = 12;
    /// <summary>Feed-forward width (<c>intermediate_size</c>).</summary>
    public int IntermediateSizeValue { get; set; } = 3072;
    /// <summary>Feed-forward activation (<c>hidden_act</c>).</summary>
    public string HiddenAct { get; set; } = "gelu";
    /// <summary>Dropout probability of embeddings and layer outputs (<c>hidden_dropout_prob</c>).</summary>
    public double HiddenDropoutProb { get; set; } = 0.1;
    /// <summary>Dropout probability of attention weights (<c>attention_probs_dropout_prob</c>).</summary>
    public double AttentionProbsDropoutProb { get; set; } = 0.1;
    /// <summary>Token types (<c>type_vocab_size</c>): 2 for sentence pairs.</summary>
    public int TypeVocabSize { get; set; } = 2;
    /// <summary>Epsilon of every LayerNorm (<c>layer_norm_eps</c>).</summary>
    public double LayerNormEpsValue { get; set; } = 1e-12;
    /// <summary>Dropout of the classification heads; null means hidden_dropout_prob.</summary>
    public double? ClassifierDropout { get; set; }
    /// <summary>Position embedding kind; only <c>absolute</c> is supported.</summary>
    public string PositionEmbeddingType { get; set; } = "absolute";
    /// <summary>HF's <c>use_cache</c>, kept for round trips (BERT encoders have no cache).</summary>
    public bool UseCache { get; set; } = true;

    public override int HiddenSize => HiddenSizeValue;
    public override int NumLayers => NumHiddenLayers;
    public override int NumHeads => NumAttentionHeads;
    public override int IntermediateSize => IntermediateSizeValue;
    public override string Activation => HiddenAct;
    public override float LayerNormEps => (float)LayerNormEpsValue;
    public override int TokenTypes => TypeVocabSize;

    protected override string HiddenSizeField => "hidden_size";
    protected override string NumLayersField => "num_hidden_layers";
    protected override string NumHeadsField => "num_attention_heads";
    protected override string IntermediateSizeField => "intermediate_size";
    protected override string ActivationField => "hidden_act";

    protected override void ReadSpecific(FieldReader r)
    {
        HiddenSizeValue = r.Int("hidden_size", 768, 1, ConfigLimits.HiddenSize);
        NumHiddenLayers = r.Int("num_hidden_layers", 12, 1, ConfigLimits.Layers);
        NumAttentionHeads = r.Int("num_attention_heads", 12, 1, ConfigLimits.HiddenSize);
        IntermediateSizeValue = r.Int("intermediate_size", 3072, 1, ConfigLimits.IntermediateSize);
        HiddenAct = r.String("hidden_act", "gelu")!;
        HiddenDropoutProb = r.Double("hidden_dropout_prob", 0.1);
        AttentionProbsDropoutProb = r.Double("attention_probs_dropout_prob", 0.1);
        TypeVocabSize = r.Int("type_vocab_size", 2, 1, ConfigLimits.TypeVocabSize);
        LayerNormEpsValue = r.Double("layer_norm_eps", 1e-12);
        ClassifierDropout = r.NullableDouble("classifier_dropout");
        PositionEmbeddingType = r.String("position_embedding_type", "absolute")!;
        UseCache = r.Bool("use_cache", true);
        if (PositionEmbeddingType != "absolute")
            throw r.Error("position_embedding_type", $"'{PositionEmbeddingType}' is not supported (only 'absolute')");
        foreach (var (field, p) in new[] { ("hidden_dropout_prob", HiddenDropoutProb), ("attention_probs_dropout_prob", AttentionProbsDropoutProb), ("classifier_dropout", ClassifierDropout ?? 0) })
            if (!(p >= 0 && p < 1)) throw r.Error(field, $"a dropout probability must be in [0, 1), got {p}");
    }

    public override void Validate(string? filePath = null)
    {
        CheckRange(filePath, "type_vocab_size", TypeVocabSize, 1, ConfigLimits.TypeVocabSize);
        // Checked as given: a value that float32 rounds to 0 (1e-300) is reported as itself.
        if (!(LayerNormEpsValue is >= ConfigLimits.MinLayerNormEps and <= ConfigLimits.MaxLayerNormEps))
            throw new ModelFileException(filePath, FormattableString.Invariant(
                $"field 'layer_norm_eps' must be from {ConfigLimits.MinLayerNormEps:R} (float32's smallest normal number) to {ConfigLimits.MaxLayerNormEps}, got {LayerNormEpsValue:R}"));
        base.Validate(filePath);
    }

    protected override void WriteSpecific(SortedDictionary<string, JsonValueWriter> fields)
    {
        fields["hidden_size"] = w => w.Int(HiddenSizeValue);
        fields["num_hidden_layers"] = w => w.Int(NumHiddenLayers);
        fields["num_attention_heads"] = w => w.Int(NumAttentionHeads);
        fields["intermediate_size"] = w => w.Int(IntermediateSizeValue);
        fields["hidden_act"] = w => w.String(HiddenAct);
        fields["hidden_dropout_prob"] = w => w.Float(HiddenDropoutProb);
        fields["attention_probs_dropout_prob"] = w => w.Float(AttentionProbsDropoutProb);
        fields["type_vocab_size"] = w => w.Int(TypeVocabSize);
        fields["layer_norm_eps"] = w => w.Float(LayerNormEpsValue);
        fields["classifier_dropout"] = w => { if (ClassifierDropout is { } c) w.Float(c); else w.Null(); };
        fields["position_embedding_type"] = w => w.String(PositionEmbeddingType);
        fields["use_cache"] = w => w.Bool(UseCache);
    }
}
