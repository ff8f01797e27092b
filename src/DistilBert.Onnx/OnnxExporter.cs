using DistilBert.Modeling;
using DistilBert.Modeling.Layers;
using DistilBert.Onnx.Proto;
using Google.Protobuf;
using static DistilBert.Onnx.OnnxGraphBuilder;
using DataType = DistilBert.Onnx.Proto.TensorProto.Types.DataType;

namespace DistilBert.Onnx;

/// <summary>
/// Writes a model (DistilBERT or BERT, any head) as an ONNX graph of standard operators, with the input and output
/// names and dynamic axes of Hugging Face optimum's export for that head: inputs <c>input_ids</c>, <c>attention_mask</c>
/// (+ <c>token_type_ids</c> for BERT), [batch_size, sequence_length] int64; output <c>last_hidden_state</c>,
/// <c>logits</c> or <c>start_logits</c> + <c>end_logits</c>. Weights are fp32 initializers named by their HF names;
/// the MLM decoder reads the word-embedding initializer itself (tied: stored once).
/// </summary>
/// <remarks>Thread-safety: static and stateless; exports of different models may run on many threads at once. The model
/// must not be trained (or otherwise changed) while it is exported.</remarks>
public static class OnnxExporter
{
    /// <summary>The default opset: the first with LayerNormalization as one operator.</summary>
    public const int DefaultOpset = 17;
    /// <summary>Below 17 LayerNormalization is written as ReduceMean/Sub/Pow/Sqrt/Div; 14 is optimum's BERT default of old.</summary>
    public const int MinOpset = 14;
    /// <summary>The newest opset this exporter was checked against in ONNX Runtime.</summary>
    public const int MaxOpset = 21;

    /// <summary>The ONNX model of <paramref name="model"/> at <paramref name="opset"/> (MinOpset..MaxOpset).</summary>
    internal static ModelProto Build(TransformerModel model, int opset = DefaultOpset)
    {
        if (opset < MinOpset || opset > MaxOpset)
            throw new InvalidInputException($"opset {opset} is not supported (supported: {MinOpset} to {MaxOpset})");
        var graph = new GraphWriter(model, opset).Write();
        var proto = new ModelProto
        {
            IrVersion = IrVersionOf(opset),
            ProducerName = "DistilBert.NET",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            DocString = $"{model.ArchitectureName} exported by DistilBert.NET",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "architecture", Value = model.ArchitectureName });
        return proto;
    }

    /// <summary>Writes the ONNX model of <paramref name="model"/> to <paramref name="path"/> atomically (all of it or
    /// nothing: a failed export leaves no partial file).</summary>
    public static void Export(TransformerModel model, string path, int opset = DefaultOpset)
    {
        var proto = Build(model, opset);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new IOException($"cannot write {path}: folder {folder} does not exist");
        if (Directory.Exists(path)) throw new IOException($"cannot write {path}: it is a folder");
        try
        {
            AtomicFile.Write(path, temporary =>
            {
                using var file = File.Create(temporary);
                proto.WriteTo(file);
            });
        }
        // the temporary file's name would only confuse: name the file asked for
        catch (UnauthorizedAccessException) { throw new IOException($"cannot write {path}: permission denied"); }
    }

    /// <summary>Writes the ONNX model of <paramref name="model"/> to <paramref name="stream"/>.</summary>
    public static void Export(TransformerModel model, Stream stream, int opset = DefaultOpset) => Build(model, opset).WriteTo(stream);

    /// <summary>The IR version that introduced <paramref name="opset"/> (hosts refuse an opset newer than the IR).</summary>
    static long IrVersionOf(int opset) => opset switch
    {
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    /// <summary>One export: the model's encoder and head written node by node.</summary>
    sealed class GraphWriter(TransformerModel model, int opset)
    {
        readonly OnnxGraphBuilder _b = new();
        readonly Dictionary<Parameter, string> _weights = new(ReferenceEqualityComparer.Instance);
        readonly ModelConfig _config = model.Config;
        readonly bool _bert = model.Architecture.Family == ModelFamily.Bert;
        readonly string _prefix = model.Head == ModelHead.Base ? "" : model.BaseModelPrefix + ".";
        string _inputShape = "", _shape4 = "", _maskTerm = "";
        int Dim => _config.HiddenSize;

        public GraphProto Write()
        {
            var g = _b.Graph;
            g.Name = model.ArchitectureName;
            g.Input.Add(Value("input_ids", DataType.Int64, "batch_size", "sequence_length"));
            g.Input.Add(Value("attention_mask", DataType.Int64, "batch_size", "sequence_length"));
            if (_bert) g.Input.Add(Value("token_type_ids", DataType.Int64, "batch_size", "sequence_length"));

            var x = Embeddings();
            Masks();
            for (int i = 0; i < _config.NumLayers; i++)
                x = Block(x, _bert ? BlockNames.Bert($"{_prefix}encoder.layer.{i}.") : BlockNames.DistilBert($"{_prefix}transformer.layer.{i}."));
            Head(x);
            return g;
        }

        /// <summary>The initializer of a parameter, added on first use under its HF name (a tied one once).</summary>
        string Weight(string name)
        {
            var p = model.Parameters[name];
            if (_weights.TryGetValue(p, out var existing)) return existing;
            return _weights[p] = _b.Initializer(p.Name, p.Value, [.. p.Shape.Select(d => (long)d)]);
        }

        string Node(string op, params string[] inputs) => _b.Node(op, inputs);
        string Node(string op, string[] inputs, params AttributeProto[] attributes) => _b.Node(op, inputs, null, attributes);

        /// <summary>[B,S] ids → [N = B·S, D]: word + position (+ token type) embeddings, LayerNorm.</summary>
        string Embeddings()
        {
            string e = _prefix + "embeddings.";
            _inputShape = Node("Shape", "input_ids");                                                // [2] = (B, S)
            var seqLen = Node("Slice", _inputShape, _b.Int64s([1]), _b.Int64s([2]), _b.Int64s([0])); // [1] = (S)
            var word = Node("Gather", Weight(e + "word_embeddings.weight"), "input_ids");           // [B,S,D]
            // positions 0..S-1 of every row (HF's arange), as a slice of the table: [S,D], broadcast over the batch
            var positions = Node("Slice", Weight(e + "position_embeddings.weight"), _b.Int64s([0]), seqLen, _b.Int64s([0]));
            var sum = Node("Add", word, positions);
            if (_bert) sum = Node("Add", sum, Node("Gather", Weight(e + "token_type_embeddings.weight"), "token_type_ids"));
            var rows = Node("Reshape", sum, _b.Int64s([-1, Dim]));                                  // [N,D]
            return LayerNorm(rows, e + "LayerNorm");
        }

        /// <summary>What attention does with padded keys, as HF: DistilBERT replaces their scores by float.MinValue
        /// (masked_fill), BERT adds (1 − mask)·float.MinValue. [B,1,1,S], shared by every layer.</summary>
        void Masks()
        {
            _shape4 = Node("Concat", [_inputShape, _b.Int64s([_config.NumHeads, Dim / _config.NumHeads])], Int("axis", 0)); // (B,S,H,dh)
            var axes12 = _b.Int64s([1, 2]);
            if (_bert)
            {
                var mask = Node("Cast", ["attention_mask"], Int("to", (long)DataType.Float));
                var bias = Node("Mul", Node("Sub", _b.Float(1f), mask), _b.Float(float.MinValue));
                _maskTerm = Node("Unsqueeze", bias, axes12);
            }
            else _maskTerm = Node("Unsqueeze", Node("Equal", "attention_mask", _b.Int64s([0], scalar: true)), axes12);
        }

        string Linear(string x, string name) =>
            Node("Gemm", [x, Weight(name + ".weight"), Weight(name + ".bias")], Int("transB", 1)); // x·Wᵀ + b, W as HF stores it

        /// <summary>[N,D] → [B,H,S,dh] (<paramref name="keysTransposed"/>: [B,H,dh,S]).</summary>
        string SplitHeads(string t, bool keysTransposed = false) =>
            Node("Transpose", [Node("Reshape", t, _shape4)], Ints("perm", keysTransposed ? [0, 2, 3, 1] : [0, 2, 1, 3]));

        /// <summary>One post-LN layer on [N,D]: LN(x + Attn(x)), then LN(h + FFN(h)).</summary>
        string Block(string x, BlockNames names)
        {
            var a = names.Attention;
            float scale = MathF.Sqrt(Dim / _config.NumHeads);
            var q = SplitHeads(Linear(x, a.Query));                                                     // [B,H,S,dh]
            // DistilBERT scales q, BERT the scores (HF's order); next to the MatMul, where ONNX Runtime folds it in
            if (!_bert) q = Node("Div", q, _b.Float(scale));
            var scores = Node("MatMul", q, SplitHeads(Linear(x, a.Key), keysTransposed: true));            // [B,H,S,S]
            scores = _bert
                ? Node("Add", Node("Div", scores, _b.Float(scale)), _maskTerm)
                : Node("Where", _maskTerm, _b.Float(float.MinValue), scores);
            var probabilities = Node("Softmax", [scores], Int("axis", -1));
            var context = Node("MatMul", probabilities, SplitHeads(Linear(x, a.Value)));               // [B,H,S,dh]
            var merged = Node("Reshape", Node("Transpose", [context], Ints("perm", 0, 2, 1, 3)), _b.Int64s([-1, Dim])); // [N,D]
            var h = LayerNorm(Node("Add", Linear(merged, a.Output), x), names.AttentionNorm);
            var ffn = Linear(Activation(Linear(h, names.FfnIn)), names.FfnOut);
            return LayerNorm(Node("Add", ffn, h), names.OutputNorm);
        }

        string Activation(string x) => ActivationFunction.FromName(_config.Activation) switch
        {
            // exact GELU, as HF's "gelu": 0.5·x·(1 + erf(x/√2))
            ActivationKind.Gelu => Node("Mul", Node("Mul", x, Node("Add", Node("Erf", Node("Div", x, _b.Float(MathF.Sqrt(2f)))), _b.Float(1f))), _b.Float(0.5f)),
            ActivationKind.Relu => Node("Relu", x),
            _ => Node("Tanh", x),
        };

        string LayerNorm(string x, string name)
        {
            var gamma = Weight(name + ".weight");
            var beta = Weight(name + ".bias");
            float eps = _config.LayerNormEps;
            if (opset >= 17) return Node("LayerNormalization", [x, gamma, beta], Int("axis", -1), Float("epsilon", eps));
            // before opset 17: (x − mean) / sqrt(var + eps) · γ + β, biased variance over the last axis
            var centered = Node("Sub", x, Node("ReduceMean", [x], Ints("axes", -1)));
            var variance = Node("ReduceMean", [Node("Mul", centered, centered)], Ints("axes", -1));
            var normed = Node("Div", centered, Node("Sqrt", Node("Add", variance, _b.Float(eps))));
            return Node("Add", Node("Mul", normed, gamma), beta);
        }

        /// <summary>[N, C] rows back to [B, S, C].</summary>
        string PerToken(string rows, long channels, string output) =>
            _b.Node("Reshape", [rows, Node("Concat", [_inputShape, _b.Int64s([channels])], Int("axis", 0))], output);

        /// <summary>[N,D] → [B,D]: each sequence's first token.</summary>
        string FirstTokens(string x) => Node("Gather", [PerToken(x, Dim, _b.Fresh("hidden")), _b.Int64s([0], scalar: true)], Int("axis", 1));

        void Head(string x)
        {
            var g = _b.Graph;
            int labels = _config.NumLabels;
            switch (model.Head)
            {
                case ModelHead.Base:
                    PerToken(x, Dim, "last_hidden_state");
                    g.Output.Add(Value("last_hidden_state", DataType.Float, "batch_size", "sequence_length", Dim));
                    break;
                case ModelHead.MaskedLM:
                {
                    var n = _bert ? MaskedLmNames.Bert : MaskedLmNames.DistilBert;
                    var t = LayerNorm(Activation(Linear(x, n.Transform)), n.Norm);
                    // the decoder weight is the word-embedding initializer itself when tied (one tensor, two HF names)
                    var logits = Node("Gemm", [t, Weight(n.ProjectorWeightAlias), Weight(n.ProjectorBias)], Int("transB", 1));
                    PerToken(logits, _config.VocabSize, "logits");
                    g.Output.Add(Value("logits", DataType.Float, "batch_size", "sequence_length", _config.VocabSize));
                    break;
                }
                case ModelHead.SequenceClassification:
                {
                    var first = FirstTokens(x);
                    var pooled = _bert ? Node("Tanh", Linear(first, _prefix + "pooler.dense")) : Node("Relu", Linear(first, "pre_classifier"));
                    _b.Node("Gemm", [pooled, Weight("classifier.weight"), Weight("classifier.bias")], "logits", Int("transB", 1));
                    g.Output.Add(Value("logits", DataType.Float, "batch_size", labels));
                    break;
                }
                case ModelHead.TokenClassification:
                    PerToken(Linear(x, "classifier"), labels, "logits");
                    g.Output.Add(Value("logits", DataType.Float, "batch_size", "sequence_length", labels));
                    break;
                case ModelHead.QuestionAnswering:
                {
                    var both = Linear(x, "qa_outputs"); // [N,2]
                    for (int i = 0; i < 2; i++)
                    {
                        string name = i == 0 ? "start_logits" : "end_logits";
                        var column = Node("Gather", [both, _b.Int64s([i], scalar: true)], Int("axis", 1)); // [N]
                        _b.Node("Reshape", [column, _inputShape], name);
                        g.Output.Add(Value(name, DataType.Float, "batch_size", "sequence_length"));
                    }
                    break;
                }
                default:
                    throw new InvalidInputException($"{model.ArchitectureName} cannot be exported to ONNX");
            }
        }
    }
}
