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
    public static readonly string[] SupportedArchitectures = [.. ModelArchitecture.All.Select(a => a.Name)];

    /// <summary>A freshly initialised model of <paramref name="architecture"/> (default: the config's first architecture, else
    /// the base model of its model_type).</summary>
    public static TransformerModel Create(ModelConfig config, string? architecture = null, ulong seed = 42)
    {
        TransformerModel model = (ArchitectureOf(config, architecture).Head, config) switch
        {
            (ModelHead.Base, DistilBertConfig d) => new DistilBertModel(d),
            (ModelHead.MaskedLM, DistilBertConfig d) => new DistilBertForMaskedLM(d),
            (ModelHead.SequenceClassification, DistilBertConfig d) => new DistilBertForSequenceClassification(d),
            (ModelHead.TokenClassification, DistilBertConfig d) => new DistilBertForTokenClassification(d),
            (ModelHead.QuestionAnswering, DistilBertConfig d) => new DistilBertForQuestionAnswering(d),
            (ModelHead.Base, BertConfig b) => new BertModel(b),
            (ModelHead.MaskedLM, BertConfig b) => new BertForMaskedLM(b),
            (ModelHead.SequenceClassification, BertConfig b) => new BertForSequenceClassification(b),
            (ModelHead.TokenClassification, BertConfig b) => new BertForTokenClassification(b),
            (ModelHead.QuestionAnswering, BertConfig b) => new BertForQuestionAnswering(b),
            _ => throw Unsupported(config, ResolveArchitecture(config, architecture)),
        };
        ModelInitializer.Initialize(model, seed);
        return model;
    }

    /// <summary>A freshly initialised model of the config's family with <paramref name="head"/>.</summary>
    public static TransformerModel Create(ModelConfig config, ModelHead head, ulong seed = 42) =>
        Create(config, new ModelArchitecture(ModelArchitecture.FamilyOf(config), head).Name, seed);

    static string ResolveArchitecture(ModelConfig config, string? architecture) => architecture ?? ModelArchitecture.NameIn(config);

    /// <summary>The architecture <see cref="Create(ModelConfig, string?, ulong)"/> builds for <paramref name="architecture"/> (default: the config's
    /// first architecture, else its family's base model); refuses, naming the field, a class there is no model for or one
    /// of another family than the config's model_type.</summary>
    public static ModelArchitecture ArchitectureOf(ModelConfig config, string? architecture = null)
    {
        string name = ResolveArchitecture(config, architecture);
        if (!ModelArchitecture.TryParse(name, out var resolved) || resolved.Family != ModelArchitecture.FamilyOf(config))
            throw Unsupported(config, name);
        return resolved;
    }

    static ModelFileException Unsupported(ModelConfig config, string architecture) =>
        new(null, $"field 'architectures': '{architecture}' is not supported for model_type '{config.ModelType}' (supported: {string.Join(", ", SupportedArchitectures)})");

    /// <summary>
    /// The parameters <see cref="Create(ModelConfig, string?, ulong)"/> would allocate (tied weights once), computed from the config's sizes alone.
    /// </summary>
    public static long ParameterCount(ModelConfig config, string? architecture = null)
    {
        var resolved = ArchitectureOf(config, architecture);
        long h = config.HiddenSize, vocab = config.VocabSize, labels = config.NumLabels;
        long dense = h * h + h;
        long maskedLm = dense + 2 * h + vocab + (config.TieWordEmbeddings ? 0 : vocab * h);
        long classifier = h * labels + labels;
        long head = resolved.Head switch
        {
            // BERT's base model has the pooler; DistilBERT's has nothing on the encoder.
            ModelHead.Base => resolved.Family == ModelFamily.Bert ? dense : 0,
            ModelHead.MaskedLM => maskedLm,
            ModelHead.SequenceClassification => dense + classifier,
            ModelHead.TokenClassification => classifier,
            ModelHead.QuestionAnswering => 2 * h + 2,
            _ => throw Unsupported(config, resolved.Name),
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
    /// <paramref name="inferenceOnly"/>: the model is made ready for inference only (<see cref="TransformerModel.PrepareForInference()"/>:
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
            var int8 = new Dictionary<string, Layers.QuantizedWeight>(StringComparer.Ordinal);
            report = ParameterStateDict.LoadInto(model.Parameters, source, model.BaseModelPrefix, int8);
            if (config.IsInt8Quantized && int8.Count == 0)
                throw new ModelFileException(configPath, $"quantization_config marks the model int8 ({ModelConfig.Int8QuantMethod}) but {source.FilePath} holds no int8 weights");
            if (int8.Count > 0)
            {
                model.LoadedInt8Weights = int8;
                model.Int8Inference = true;
            }
        }
        if (inferenceOnly) model.PrepareForInference();
        return new LoadedModel(model, report);
    }

    /// <summary>Writes an HF model folder (config.json with this class in architectures, model.safetensors).</summary>
    public static void Save(TransformerModel model, string folder, IEnumerable<string>? extraFilesToCopy = null)
    {
        if (model.LoadedInt8Weights is { Count: > 0 })
        {
            // A quantised model is written quantised again, never as fp32 tensors that would pass for the original. Its
            // weights are re-quantised from their values (which may have been trained since): unchanged ones q · scale give
            // back the same q.
            SaveInt8(model, folder, QuantizeWeights(model), extraFilesToCopy);
            return;
        }
        model.Config.Architectures = [model.ArchitectureName];
        ModelFolder.Save(folder, model.Config.ToJson(), ParameterStateDict.ToTensors(model.Parameters), extraFilesToCopy);
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a quantised folder (docs/int8.md): the encoder's linear weights as int8 values
    /// with per-output-feature scales (<paramref name="int8Weights"/>, by weight name), everything else as float32, and
    /// config.json marked with quantization_config.
    /// </summary>
    public static void SaveInt8(TransformerModel model, string folder, IReadOnlyDictionary<string, Layers.QuantizedWeight> int8Weights,
        IEnumerable<string>? extraFilesToCopy = null)
    {
        model.Config.Architectures = [model.ArchitectureName];
        model.Config.MarkInt8Quantized();
        ModelFolder.Save(folder, model.Config.ToJson(), ParameterStateDict.ToTensors(model.Parameters, int8Weights), extraFilesToCopy);
    }

    /// <summary>The int8 values and scales of every weight int8 inference quantises (<see cref="Layers.Int8Weights"/>),
    /// by weight name: what <see cref="SaveInt8"/> writes.</summary>
    public static Dictionary<string, Layers.QuantizedWeight> QuantizeWeights(TransformerModel model)
    {
        var result = new Dictionary<string, Layers.QuantizedWeight>(StringComparer.Ordinal);
        foreach (var layer in Layers.Int8Weights.QuantizedLayers(model))
        {
            var values = new sbyte[layer.Weight.Length];
            var scales = new float[layer.OutFeatures];
            Compute.Int8Matrix.Quantize(layer.Weight.Value, layer.OutFeatures, layer.InFeatures, values, scales);
            result[layer.Weight.Name] = new Layers.QuantizedWeight(values, scales);
        }
        return result;
    }
}
