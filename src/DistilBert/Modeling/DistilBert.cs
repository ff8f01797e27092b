using DistilBert.Modeling.Layers;

namespace DistilBert.Modeling;

/// <summary>
/// DistilBERT (HF modeling_distilbert): word + position embeddings (learned, or a frozen sinusoidal table) → LayerNorm,
/// then post-LN layers. Every LayerNorm uses eps 1e-12 whatever the config says, as HF hard-codes it; dropout sits on
/// the embeddings, the attention probabilities and the FFN output. Parameter keys are HF's, with the "distilbert."
/// prefix in every head model and without it in <see cref="DistilBertModel"/>.
/// </summary>
public abstract class DistilBertPreTrainedModel : TransformerModel
{
    const float Eps = 1e-12f;
    public new DistilBertConfig Config => (DistilBertConfig)base.Config;
    public EncoderStack Encoder { get; }
    public override IReadOnlyList<TransformerBlock> EncoderBlocks => Encoder.Blocks;
    public override string BaseModelPrefix => "distilbert";

    protected DistilBertPreTrainedModel(DistilBertConfig config, bool prefixed) : base(config)
    {
        config.Validate();
        string p = prefixed ? "distilbert." : "";
        var embeddings = new Embeddings(Parameters, p + "embeddings.", config.VocabSize, config.MaxPositionEmbeddings, config.Dim,
            typeVocabSize: 0, config.PadTokenId, Eps, config.Dropout, frozenPositions: config.SinusoidalPosEmbds);
        var activation = ActivationFunction.FromName(config.ActivationName);
        var blocks = new TransformerBlock[config.NLayers];
        for (int i = 0; i < blocks.Length; i++)
            blocks[i] = new TransformerBlock(Parameters, BlockNames.DistilBert($"{p}transformer.layer.{i}."), config.Dim, config.NHeads,
                config.HiddenDim, activation, Eps, new BlockDropout(config.AttentionDropout, 0, config.Dropout));
        Encoder = new EncoderStack(embeddings, blocks, config.Dim, config.NHeads);
    }

    protected override float[] EncoderForward(ModelInput input, LayerContext ctx, ForwardOptions options, ModelOutput output) =>
        Encoder.Forward(input, ctx, options, output);

    protected override void EncoderBackward(float[]? dHidden, float[]? dPooled, ModelInput input, LayerContext ctx) =>
        Encoder.Backward(dHidden ?? throw new InvalidOperationException("no gradient reached the encoder"), input.Tokens, ctx);
}

/// <summary>The bare encoder: last_hidden_state (and hidden_states / attentions on request); no loss.</summary>
public sealed class DistilBertModel(DistilBertConfig config) : DistilBertPreTrainedModel(config, prefixed: false)
{
    public override ModelArchitecture Architecture => new(ModelFamily.DistilBert, ModelHead.Base);
    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) { }
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) =>
        throw new InvalidInputException("DistilBertModel has no loss to back-propagate");
}

/// <summary>vocab_transform → activation → vocab_layer_norm → vocab_projector (tied to the word embeddings).</summary>
public sealed class DistilBertForMaskedLM : DistilBertPreTrainedModel
{
    public MaskedLmTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.DistilBert, ModelHead.MaskedLM);
    public override bool SupportsLogitPositions => true;

    public DistilBertForMaskedLM(DistilBertConfig config) : base(config, prefixed: true) =>
        Task = new MaskedLmTask(new MaskedLmHead(Parameters, MaskedLmNames.DistilBert, Encoder.Embeddings.WordEmbeddings, config.Dim,
            ActivationFunction.FromName(config.ActivationName), 1e-12f, config.TieWordEmbeddings));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}

/// <summary>First token → pre_classifier → ReLU → dropout(seq_classif_dropout) → classifier.</summary>
public sealed class DistilBertForSequenceClassification : DistilBertPreTrainedModel
{
    public SequenceClassificationTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.DistilBert, ModelHead.SequenceClassification);

    public DistilBertForSequenceClassification(DistilBertConfig config) : base(config, prefixed: true) =>
        Task = new SequenceClassificationTask(new ClassifierHead(Parameters, "pre_classifier", "classifier", config.Dim, config.NumLabels, config.SeqClassifDropout));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output)
    {
        var first = ctx.Buffer(HeadCache, "seqcls.first", input.Sequences * Config.Dim);
        GatherFirstTokens(hidden, input.Layout, Config.Dim, first);
        Task.Forward(Config, first, input, ctx, output);
    }

    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) =>
        (ScatterFirstTokens(Task.Backward(gradients, ctx), input.Layout, Config.Dim, ctx, "seqcls.grad.hidden"), null);
}

/// <summary>dropout(dropout) → classifier on every token.</summary>
public sealed class DistilBertForTokenClassification : DistilBertPreTrainedModel
{
    public TokenClassificationTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.DistilBert, ModelHead.TokenClassification);

    public DistilBertForTokenClassification(DistilBertConfig config) : base(config, prefixed: true) =>
        Task = new TokenClassificationTask(new ClassifierHead(Parameters, null, "classifier", config.Dim, config.NumLabels, config.Dropout));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}

/// <summary>dropout(qa_dropout) → qa_outputs (dim → 2) → start_logits, end_logits.</summary>
public sealed class DistilBertForQuestionAnswering : DistilBertPreTrainedModel
{
    public QuestionAnsweringTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.DistilBert, ModelHead.QuestionAnswering);

    public DistilBertForQuestionAnswering(DistilBertConfig config) : base(config, prefixed: true) =>
        Task = new QuestionAnsweringTask(new ClassifierHead(Parameters, null, "qa_outputs", config.Dim, 2, config.QaDropout));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}
