using DistilBert.Checkpoints;

namespace DistilBert.Modeling;

/// <summary>A model read from a folder, with what loading its weights found.</summary>
public sealed record LoadedModel(TransformerModel Model, LoadReport Report);

/// <summary>
/// The boundary between model folders and model classes: builds the class named by config.json (architectures,
/// falling back to model_type's base model), initialises it as HF does, then loads the weights by HF name.
/// </summary>
public static class PretrainedModel
{
    public static readonly string[] SupportedArchitectures =
    [
        "DistilBertModel", "DistilBertForMaskedLM", "DistilBertForSequenceClassification", "DistilBertForTokenClassification", "DistilBertForQuestionAnswering",
        "BertModel", "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification", "BertForQuestionAnswering",
    ];

    /// <summary>A freshly initialised model of <paramref name="architecture"/> (default: the config's first architecture, else
    /// the base model of its model_type).</summary>
    public static TransformerModel Create(ModelConfig config, string? architecture = null, ulong seed = 42)
    {
        architecture = ResolveArchitecture(config, architecture);
        TransformerModel model = (architecture, config) switch
        {
            ("DistilBertModel", DistilBertConfig d) => new DistilBertModel(d),
            ("DistilBertForMaskedLM", DistilBertConfig d) => new DistilBertForMaskedLM(d),
            ("DistilBertForSequenceClassification", DistilBertConfig d) => new DistilBertForSequenceClassification(d),
            ("DistilBertForTokenClassification", DistilBertConfig d) => new DistilBertForTokenClassification(d),
            ("DistilBertForQuestionAnswering", DistilBertConfig d) => new DistilBertForQuestionAnswering(d),
            ("BertModel", BertConfig b) => new BertModel(b),
            ("BertForMaskedLM", BertConfig b) => new BertForMaskedLM(b),
            ("BertForSequenceClassification", BertConfig b) => new BertForSequenceClassification(b),
            ("BertForTokenClassification", BertConfig b) => new BertForTokenClassification(b),
            ("BertForQuestionAnswering", BertConfig b) => new BertForQuestionAnswering(b),
            _ => throw Unsupported(config, architecture),
        };
        ModelInitializer.Initialize(model, seed);
        return model;
    }

    static string ResolveArchitecture(ModelConfig config, string? architecture) =>
        architecture ?? (config.Architectures is { Count: > 0 } a ? a[0] : config is BertConfig ? "BertModel" : "DistilBertModel");

    static ModelFileException Unsupported(ModelConfig config, string architecture) =>
        new(null, $"field 'architectures': '{architecture}' is not supported for model_type '{config.ModelType}' (supported: {string.Join(", ", SupportedArchitectures)})");

    /// <summary>
    /// The parameters <see cref="Create"/> would allocate (tied weights once), computed from the config's sizes alone.
    /// </summary>
    public static long ParameterCount(ModelConfig config, string? architecture = null)
    {
        architecture = ResolveArchitecture(config, architecture);
        long h = config.HiddenSize, vocab = config.VocabSize, labels = config.NumLabels;
        long dense = h * h + h;
        long maskedLm = dense + 2 * h + vocab + (config.TieWordEmbeddings ? 0 : vocab * h);
        long classifier = h * labels + labels;
        long head = (architecture, config) switch
        {
            ("DistilBertModel", DistilBertConfig) => 0,
            ("DistilBertForMaskedLM", DistilBertConfig) => maskedLm,
            ("DistilBertForSequenceClassification", DistilBertConfig) => dense + classifier,
            ("DistilBertForTokenClassification", DistilBertConfig) => classifier,
            ("DistilBertForQuestionAnswering", DistilBertConfig) => 2 * h + 2,
            ("BertModel", BertConfig) => dense,
            ("BertForMaskedLM", BertConfig) => maskedLm,
            ("BertForSequenceClassification", BertConfig) => dense + classifier,
            ("BertForTokenClassification", BertConfig) => classifier,
            ("BertForQuestionAnswering", BertConfig) => 2 * h + 2,
            _ => throw Unsupported(config, architecture),
        };
        return config.EncoderParameterCount() + head;
    }

    /// <summary>
    /// Refuses, before anything is allocated, a config whose model the weights cannot fill: a checkpoint must hold at least
    /// the parameters of the embeddings and layers (a head may be new), and the whole model may be at most twice the
    /// weights the checkpoint holds. So loading costs memory in proportion to the checkpoint's real size, whatever
    /// config.json claims.
    /// </summary>
    public static void CheckFitsWeights(ModelConfig config, string? architecture, string? configPath, ITensorSource weights)
    {
        if (weights.Tensors.Count == 0) throw new ModelFileException(weights.FilePath, "the checkpoint holds no tensors");
        long stored = StateDict.StoredParameterCount(weights);
        long encoder = config.EncoderParameterCount();
        if (encoder > stored)
            throw new ModelFileException(configPath, $"describes embeddings and layers of {encoder} parameters ({config.DescribeSizes()}) but {weights.FilePath} holds {stored} weights");
        long total = ParameterCount(config, architecture);
        if (total > 2 * stored)
            throw new ModelFileException(configPath, $"describes a {ResolveArchitecture(config, architecture)} of {total} parameters ({config.DescribeSizes()}, {config.NumLabels} labels), over twice the {stored} weights in {weights.FilePath}");
    }

    /// <summary>
    /// Reads config.json and the weights (safetensors or pytorch_model.bin, sharded or not) of <paramref name="folder"/>,
    /// which may also be a Hub repo id ("org/name"), resolved through the Hugging Face cache.
    /// <paramref name="inferenceOnly"/>: the model is made ready for inference only (<see cref="TransformerModel.PrepareForInference"/>:
    /// packed weights are the only copy, ~40% less memory); training it later still works.
    /// </summary>
    public static LoadedModel Load(string folder, string? architecture = null, bool inferenceOnly = false)
    {
        folder = Hub.ModelPath.Resolve(folder);
        if (!Directory.Exists(folder)) throw new ModelFileException(folder, "model folder not found");
        var configPath = Path.Combine(folder, ModelFolder.ConfigName);
        var config = ModelConfig.Load(configPath);
        TransformerModel model;
        LoadReport report;
        // Closed before packing: a memory-mapped checkpoint's pages count towards RSS while it is open.
        using (var source = CheckpointFile.Open(folder))
        {
            try
            {
                CheckFitsWeights(config, architecture, configPath, source);
                model = Create(config, architecture);
            }
            catch (ModelFileException e) when (e.FilePath is null) { throw new ModelFileException(configPath, e.Message, e); }
            report = ParameterStateDict.LoadInto(model.Parameters, source, model.BaseModelPrefix);
        }
        if (inferenceOnly) model.PrepareForInference();
        return new LoadedModel(model, report);
    }

    /// <summary>Writes an HF model folder (config.json with this class in architectures, model.safetensors).</summary>
    public static void Save(TransformerModel model, string folder, IEnumerable<string>? extraFilesToCopy = null)
    {
        model.Config.Architectures = [model.ArchitectureName];
        ModelFolder.Save(folder, model.Config.ToJson(), ParameterStateDict.ToTensors(model.Parameters), extraFilesToCopy);
    }
}
