using DistilBert.Modeling.Layers;

namespace DistilBert.Modeling;

/// <summary>
/// BERT (HF modeling_bert): word + position + token-type embeddings → LayerNorm(layer_norm_eps), post-LN layers with
/// the config's activation and eps, dropout on the embeddings, the attention probabilities, after the attention output
/// projection and after the FFN; optional pooler tanh(dense(h[first token])). Keys carry the "bert." prefix in every
/// head model and none in <see cref="BertModel"/>.
/// </summary>
public abstract class BertPreTrainedModel : TransformerModel
{
    public new BertConfig Config => (BertConfig)base.Config;
    public EncoderStack Encoder { get; }
    public override IReadOnlyList<TransformerBlock> EncoderBlocks => Encoder.Blocks;
    /// <summary>bert.pooler.dense + tanh, present in BertModel and BertForSequenceClassification only (as in HF).</summary>
    public DenseActivation? Pooler { get; }
    public override string BaseModelPrefix => "bert";
    protected override int TypeVocabSize => Config.TypeVocabSize;

    protected BertPreTrainedModel(BertConfig config, bool prefixed, bool addPooler) : base(config)
    {
        config.Validate();
        string p = prefixed ? "bert." : "";
        var embeddings = new Embeddings(Parameters, p + "embeddings.", config.VocabSize, config.MaxPositionEmbeddings, config.HiddenSizeValue,
            config.TypeVocabSize, config.PadTokenId, config.LayerNormEps, config.HiddenDropoutProb, frozenPositions: false);
        var activation = ActivationFunction.FromName(config.HiddenAct);
        var blocks = new TransformerBlock[config.NumHiddenLayers];
        for (int i = 0; i < blocks.Length; i++)
            blocks[i] = new TransformerBlock(Parameters, BlockNames.Bert($"{p}encoder.layer.{i}."), config.HiddenSizeValue, config.NumAttentionHeads,
                config.IntermediateSizeValue, activation, config.LayerNormEps,
                new BlockDropout(config.AttentionProbsDropoutProb, config.HiddenDropoutProb, config.HiddenDropoutProb));
        Encoder = new EncoderStack(embeddings, blocks, config.HiddenSizeValue, config.NumAttentionHeads);
        if (addPooler) Pooler = new DenseActivation(Parameters, p + "pooler.dense", config.HiddenSizeValue, config.HiddenSizeValue, ActivationKind.Tanh);
    }

    /// <summary>HF returns pooler_output from the bare model only; heads consume it.</summary>
    protected virtual bool ReturnsPoolerOutput => false;

    /// <summary>Dropout of the classification heads: classifier_dropout, or hidden_dropout_prob when that is null.</summary>
    protected double ClassifierDropout => Config.ClassifierDropout ?? Config.HiddenDropoutProb;

    /// <summary>The pooler output of this call's forward, [sequences, hidden].</summary>
    protected static float[] Pooled(LayerContext ctx) => ctx.Pooled ?? throw new InvalidOperationException("the model has no pooler");

    protected override float[] EncoderForward(ModelInput input, LayerContext ctx, ForwardOptions options, ModelOutput output)
    {
        var hidden = Encoder.Forward(input, ctx, options, output);
        if (Pooler is not null)
        {
            int dim = Config.HiddenSizeValue, rows = input.Sequences;
            var first = ctx.Buffer(HeadCache, "pooler.first", rows * dim);
            GatherFirstTokens(hidden, input.Layout, dim, first);
            var pooled = new float[rows * dim];
            Pooler.Forward(first, rows, ctx, pooled);
            ctx.Pooled = pooled;
            if (ReturnsPoolerOutput) output.Add("pooler_output", pooled, [rows, dim]);
        }
        return hidden;
    }

    protected override void EncoderBackward(float[]? dHidden, float[]? dPooled, ModelInput input, LayerContext ctx)
    {
        int dim = Config.HiddenSizeValue;
        if (dPooled is not null)
        {
            var dFirst = ctx.Shared.Get("pooler.grad.first", input.Sequences * dim);
            Pooler!.Backward(dPooled, ctx, dFirst);
            var fromPooler = ScatterFirstTokens(dFirst, input.Layout, dim, ctx, "pooler.grad.hidden");
            if (dHidden is null) dHidden = fromPooler;
            else for (int i = 0; i < input.Tokens * dim; i++) dHidden[i] += fromPooler[i];
        }
        Encoder.Backward(dHidden ?? throw new InvalidOperationException("no gradient reached the encoder"), input.Tokens, ctx);
    }
}

/// <summary>The bare encoder with pooler: last_hidden_state, pooler_output; no loss.</summary>
public sealed class BertModel(BertConfig config, bool addPooler = true) : BertPreTrainedModel(config, prefixed: false, addPooler)
{
    public override ModelArchitecture Architecture => new(ModelFamily.Bert, ModelHead.Base);
    protected override bool ReturnsPoolerOutput => true;
    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) { }
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) =>
        throw new InvalidInputException("BertModel has no loss to back-propagate");
}

/// <summary>No pooler; cls.predictions: transform.dense → hidden_act → transform.LayerNorm → decoder (tied) + bias.</summary>
public sealed class BertForMaskedLM : BertPreTrainedModel
{
    public MaskedLmTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.Bert, ModelHead.MaskedLM);
    public override bool SupportsLogitPositions => true;

    public BertForMaskedLM(BertConfig config) : base(config, prefixed: true, addPooler: false) =>
        Task = new MaskedLmTask(new MaskedLmHead(Parameters, MaskedLmNames.Bert, Encoder.Embeddings.WordEmbeddings, config.HiddenSizeValue,
            ActivationFunction.FromName(config.HiddenAct), config.LayerNormEps, config.TieWordEmbeddings));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}

/// <summary>pooler → dropout(classifier_dropout ?? hidden_dropout_prob) → classifier.</summary>
public sealed class BertForSequenceClassification : BertPreTrainedModel
{
    public SequenceClassificationTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.Bert, ModelHead.SequenceClassification);

    public BertForSequenceClassification(BertConfig config) : base(config, prefixed: true, addPooler: true) =>
        Task = new SequenceClassificationTask(new ClassifierHead(Parameters, null, "classifier", config.HiddenSizeValue, config.NumLabels, ClassifierDropout));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(Config, Pooled(ctx), input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (null, Task.Backward(gradients, ctx));
}

/// <summary>No pooler; dropout(classifier_dropout ?? hidden_dropout_prob) → classifier on every token.</summary>
public sealed class BertForTokenClassification : BertPreTrainedModel
{
    public TokenClassificationTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.Bert, ModelHead.TokenClassification);

    public BertForTokenClassification(BertConfig config) : base(config, prefixed: true, addPooler: false) =>
        Task = new TokenClassificationTask(new ClassifierHead(Parameters, null, "classifier", config.HiddenSizeValue, config.NumLabels, ClassifierDropout));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}

/// <summary>No pooler, no dropout (as HF's BertForQuestionAnswering): qa_outputs → start_logits, end_logits.</summary>
public sealed class BertForQuestionAnswering : BertPreTrainedModel
{
    public QuestionAnsweringTask Task { get; }
    public override ModelArchitecture Architecture => new(ModelFamily.Bert, ModelHead.QuestionAnswering);

    public BertForQuestionAnswering(BertConfig config) : base(config, prefixed: true, addPooler: false) =>
        Task = new QuestionAnsweringTask(new ClassifierHead(Parameters, null, "qa_outputs", config.HiddenSizeValue, 2, 0));

    protected override void HeadForward(float[] hidden, ModelInput input, LayerContext ctx, ModelOutput output) => Task.Forward(hidden, input, ctx, output);
    protected override (float[]?, float[]?) HeadBackward(OutputGradients gradients, ModelInput input, LayerContext ctx) => (Task.Backward(gradients, ctx), null);
}
