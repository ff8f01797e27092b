namespace DistilBert.Modeling;

/// <summary>DistilBertConfig with HF 4.30's defaults (distilbert-base-uncased's shape).</summary>
public sealed class DistilBertConfig : ModelConfig
{
    public override string ModelType => "distilbert";
    public int Dim { get; set; } = 768;
    public int NLayers { get; set; } = 6;
    public int NHeads { get; set; } = 12;
    public int HiddenDim { get; set; } = 3072;
    public string ActivationName { get; set; } = "gelu";
    public bool SinusoidalPosEmbds { get; set; }
    public double Dropout { get; set; } = 0.1;
    public double AttentionDropout { get; set; } = 0.1;
    public double QaDropout { get; set; } = 0.1;
    public double SeqClassifDropout { get; set; } = 0.2;
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
