namespace DistilBert.Modeling;

/// <summary>DistilBertConfig with HF 4.30's defaults (distilbert-base-uncased's shape).</summary>
public sealed class DistilBertConfig : ModelConfig
{
    public override string ModelType => "distilbert";
    /// <summary>Hidden size (<c>dim</c>).</summary>
    public int Dim { get; set; } = 768;
    /// <summary>Transformer layers (<c>n_layers</c>).</summary>
    public int NLayers { get; set; } = 6;
    /// <summary>Attention heads (<c>n_heads</c>).</summary>
    public int NHeads { get; set; } = 12;
    /// <summary>Feed-forward width (<c>hidden_dim</c>).</summary>
    public int HiddenDim { get; set; } = 3072;
    /// <summary>Feed-forward activation (<c>activation</c>).</summary>
    public string ActivationName { get; set; } = "gelu";
    /// <summary>Whether position embeddings are fixed sinusoids (<c>sinusoidal_pos_embds</c>).</summary>
    public bool SinusoidalPosEmbds { get; set; }
    /// <summary>Dropout probability of embeddings and layer outputs (<c>dropout</c>).</summary>
    public double Dropout { get; set; } = 0.1;
    /// <summary>Dropout probability of attention weights (<c>attention_dropout</c>).</summary>
    public double AttentionDropout { get; set; } = 0.1;
    /// <summary>Dropout before the question-answering head (<c>qa_dropout</c>).</summary>
    public double QaDropout { get; set; } = 0.1;
    /// <summary>Dropout before the sequence-classification head (<c>seq_classif_dropout</c>).</summary>
    public double SeqClassifDropout { get; set; } = 0.2;
    /// <summary>Whether the MLM projector shares the word embeddings (<c>tie_word_embeddings</c>).</summary>
    public bool TieWeights { get; set; } = true;

    public override int HiddenSize => Dim;
    public override int NumLayers => NLayers;
    public override int NumHeads => NHeads;
    public override int IntermediateSize => HiddenDim;
    public override string Activation => ActivationName;
    /// <summary>HF's DistilBERT hard-codes 1e-12 in every LayerNorm, whatever the config says.</summary>
    public override float LayerNormEps => 1e-12f;

    protected override string HiddenSizeField => "dim";
    protected override string NumLayersField => "n_layers";
    protected override string NumHeadsField => "n_heads";
    protected override string IntermediateSizeField => "hidden_dim";
    protected override string ActivationField => "activation";

    protected override void ReadSpecific(FieldReader r)
    {
        Dim = r.Int("dim", 768, 1, ConfigLimits.HiddenSize);
        NLayers = r.Int("n_layers", 6, 1, ConfigLimits.Layers);
        NHeads = r.Int("n_heads", 12, 1, ConfigLimits.HiddenSize);
        HiddenDim = r.Int("hidden_dim", 3072, 1, ConfigLimits.IntermediateSize);
        ActivationName = r.String("activation", "gelu")!;
        SinusoidalPosEmbds = r.Bool("sinusoidal_pos_embds", false);
        Dropout = r.Double("dropout", 0.1);
        AttentionDropout = r.Double("attention_dropout", 0.1);
        QaDropout = r.Double("qa_dropout", 0.1);
        SeqClassifDropout = r.Double("seq_classif_dropout", 0.2);
        TieWeights = r.Bool("tie_weights_", true);
        foreach (var (field, p) in new[] { ("dropout", Dropout), ("attention_dropout", AttentionDropout), ("qa_dropout", QaDropout), ("seq_classif_dropout", SeqClassifDropout) })
            if (!(p >= 0 && p < 1)) throw r.Error(field, $"a dropout probability must be in [0, 1), got {p}");
    }

    protected override void WriteSpecific(SortedDictionary<string, JsonValueWriter> fields)
    {
        fields["dim"] = w => w.Int(Dim);
        fields["n_layers"] = w => w.Int(NLayers);
        fields["n_heads"] = w => w.Int(NHeads);
        fields["hidden_dim"] = w => w.Int(HiddenDim);
        fields["activation"] = w => w.String(ActivationName);
        fields["sinusoidal_pos_embds"] = w => w.Bool(SinusoidalPosEmbds);
        fields["dropout"] = w => w.Float(Dropout);
        fields["attention_dropout"] = w => w.Float(AttentionDropout);
        fields["qa_dropout"] = w => w.Float(QaDropout);
        fields["seq_classif_dropout"] = w => w.Float(SeqClassifDropout);
        // HF 4.30 no longer writes tie_weights_; keep it only when the source had it or it is off.
        if (!TieWeights || WasInSource("tie_weights_")) fields["tie_weights_"] = w => w.Bool(TieWeights);
    }
}
