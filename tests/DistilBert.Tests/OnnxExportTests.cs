using DistilBert.Checkpoints;
using DistilBert.Cli.Commands;
using DistilBert.Modeling;
using DistilBert.Onnx;
using Xunit.Abstractions;

namespace DistilBert.Tests;

/// <summary>
/// The ONNX export of every architecture (DistilBERT and BERT, every head) run in ONNX Runtime against our engine, on
/// small random-weight models and on the golden cases, with optimum's input/output names and dynamic axes.
/// </summary>
public class OnnxExportTests(ITestOutputHelper log)
{
    const double Tolerance = 1e-4;
    const int Labels = 3, Vocab = 97;

    public static IEnumerable<object[]> Architectures() => ModelArchitecture.All.Select(a => new object[] { a.Name });

    /// <summary>A small model whose every parameter (biases and LayerNorm's γ, β included) is random, so a weight the
    /// graph wires wrongly or leaves out changes the outputs.</summary>
    internal static TransformerModel RandomModel(string architecture, ulong seed = 7, bool tied = true)
    {
        ModelConfig config = architecture.StartsWith("Bert", StringComparison.Ordinal)
            ? new BertConfig { HiddenSizeValue = 32, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSizeValue = 37, MaxPositionEmbeddings = 40, VocabSize = Vocab, LayerNormEpsValue = 1e-5 }
            : new DistilBertConfig { Dim = 32, NLayers = 2, NHeads = 4, HiddenDim = 37, MaxPositionEmbeddings = 40, VocabSize = Vocab };
        config.Id2Label = new SortedDictionary<int, string>(Enumerable.Range(0, Labels).ToDictionary(i => i, i => $"LABEL_{i}"));
        config.Label2Id = config.Id2Label.ToDictionary(kv => kv.Value, kv => kv.Key);
        config.TieWordEmbeddings = tied;
        config.InitializerRange = 0.2;
        var model = PretrainedModel.Create(config, architecture, seed);
        var random = new Random((int)seed);
        foreach (var p in model.Parameters)
        {
            var values = p.Value;
            for (int i = 0; i < values.Length; i++) values[i] += (float)(random.NextDouble() - 0.5) * 0.2f;
        }
        model.MarkWeightsChanged();
        model.Eval();
        return model;
    }

    static readonly int[][] RaggedShapes = [[9, 4, 6], [1, 5], [12]];

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryHeadMatchesOurEngineOnRaggedPaddedBatches(string architecture)
    {
        var model = RandomModel(architecture);
        using var session = OnnxTestSupport.Session(model);
        int seed = 0;
        double max = 0;
        foreach (var lengths in RaggedShapes) // different batch and sequence sizes through one session: the axes are dynamic
        {
            var input = PaddedInput.Ragged(lengths, Vocab, model.UsesTokenTypes, seed++);
            foreach (var (name, difference) in OnnxTestSupport.Compare(model, session, input))
            {
                Assert.True(difference <= Tolerance, $"{architecture} {name} at batch {input.Batch} × {input.Seq}: max |diff| {difference:G3}");
                max = Math.Max(max, difference);
            }
        }
        log.WriteLine($"{architecture}: max |diff| {max:G3}");
    }

    [Theory]
    [InlineData("DistilBertForMaskedLM", 14)]
    [InlineData("BertForSequenceClassification", 14)]
    [InlineData("DistilBertForQuestionAnswering", 21)]
    [InlineData("BertForTokenClassification", 21)]
    public void OtherOpsetsMatchToo(string architecture, int opset)
    {
        var model = RandomModel(architecture);
        var proto = OnnxExporter.Build(model, opset);
        Assert.Equal(opset, proto.OpsetImport.Single().Version);
        // below 17 there is no LayerNormalization operator: it is written out
        Assert.Equal(opset >= 17, proto.Graph.Node.Any(n => n.OpType == "LayerNormalization"));
        using var session = OnnxTestSupport.Session(model, opset);
        var input = PaddedInput.Ragged([7, 3], Vocab, model.UsesTokenTypes, seed: 11);
        foreach (var (name, difference) in OnnxTestSupport.Compare(model, session, input))
            Assert.True(difference <= Tolerance, $"{architecture} opset {opset} {name}: max |diff| {difference:G3}");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(22)]
    public void AnUnsupportedOpsetIsRefusedByName(int opset)
    {
        var e = Assert.Throws<InvalidInputException>(() => OnnxExporter.Build(RandomModel("DistilBertModel"), opset));
        Assert.Contains($"opset {opset}", e.Message);
    }

    /// <summary>optimum's names and axes per task (exporters/onnx: BertOnnxConfig, DistilBertOnnxConfig and the
    /// task → outputs table): written out here, not derived from the exporter.</summary>
    [Theory]
    [InlineData("DistilBertModel", "input_ids,attention_mask", "last_hidden_state:batch_size,sequence_length,32")]
    [InlineData("DistilBertForMaskedLM", "input_ids,attention_mask", "logits:batch_size,sequence_length,97")]
    [InlineData("DistilBertForSequenceClassification", "input_ids,attention_mask", "logits:batch_size,3")]
    [InlineData("DistilBertForTokenClassification", "input_ids,attention_mask", "logits:batch_size,sequence_length,3")]
    [InlineData("DistilBertForQuestionAnswering", "input_ids,attention_mask", "start_logits:batch_size,sequence_length;end_logits:batch_size,sequence_length")]
    [InlineData("BertModel", "input_ids,attention_mask,token_type_ids", "last_hidden_state:batch_size,sequence_length,32")]
    [InlineData("BertForMaskedLM", "input_ids,attention_mask,token_type_ids", "logits:batch_size,sequence_length,97")]
    [InlineData("BertForSequenceClassification", "input_ids,attention_mask,token_type_ids", "logits:batch_size,3")]
    [InlineData("BertForTokenClassification", "input_ids,attention_mask,token_type_ids", "logits:batch_size,sequence_length,3")]
    [InlineData("BertForQuestionAnswering", "input_ids,attention_mask,token_type_ids", "start_logits:batch_size,sequence_length;end_logits:batch_size,sequence_length")]
    public void NamesAndDynamicAxesAreOptimums(string architecture, string inputs, string outputs)
    {
        using var session = OnnxTestSupport.Session(RandomModel(architecture));
        Assert.Equal(inputs.Split(','), session.InputMetadata.Keys);
        foreach (var input in session.InputMetadata.Values)
        {
            Assert.Equal(typeof(long), input.ElementType);
            Assert.Equal(["batch_size", "sequence_length"], input.SymbolicDimensions);
            Assert.Equal([-1, -1], input.Dimensions);
        }
        var expected = outputs.Split(';').Select(o => o.Split(':')).ToList();
        Assert.Equal(expected.Select(o => o[0]), session.OutputMetadata.Keys);
        foreach (var o in expected)
        {
            var axes = o[1].Split(',');
            var meta = session.OutputMetadata[o[0]];
            Assert.Equal(typeof(float), meta.ElementType);
            Assert.Equal(axes.Select(a => int.TryParse(a, out _) ? "" : a), meta.SymbolicDimensions);
            Assert.Equal(axes.Select(a => int.TryParse(a, out int n) ? n : -1), meta.Dimensions);
        }
    }

    [Theory]
    [InlineData("DistilBertForMaskedLM")]
    [InlineData("BertForMaskedLM")]
    public void TheTiedDecoderReadsTheWordEmbeddingInitializer(string architecture)
    {
        var model = RandomModel(architecture);
        var graph = OnnxExporter.Build(model).Graph;
        var vocabSized = graph.Initializer.Where(t => t.Dims.Count == 2 && t.Dims[0] == Vocab).ToList();
        var embedding = Assert.Single(vocabSized);
        Assert.EndsWith("embeddings.word_embeddings.weight", embedding.Name);
        var decoder = graph.Node.Single(n => n.OpType == "Gemm" && n.Input[1] == embedding.Name);
        Assert.Equal(1, decoder.Attribute.Single(a => a.Name == "transB").I);
        Assert.Equal(model.Parameters.ElementCount * 4, graph.Initializer.Where(t => t.DataType == 1 && t.Dims.Count > 0).Sum(t => t.RawData.Length));
    }

    [Fact]
    public void AnUntiedDecoderHasItsOwnInitializer()
    {
        var model = RandomModel("BertForMaskedLM", tied: false);
        var graph = OnnxExporter.Build(model).Graph;
        Assert.Equal(2, graph.Initializer.Count(t => t.Dims.Count == 2 && t.Dims[0] == Vocab));
        using var session = OnnxTestSupport.Session(model);
        var difference = OnnxTestSupport.Compare(model, session, PaddedInput.Ragged([5, 8], Vocab, true, seed: 3))["logits"];
        Assert.True(difference <= Tolerance, $"max |diff| {difference:G3}");
    }

    static readonly string[] GoldenCases = Directory.GetDirectories(Fixtures.Golden("models")).Select(Path.GetFileName).Order().ToArray()!;
    public static IEnumerable<object[]> GoldenCaseNames() => GoldenCases.Select(c => new object[] { c });

    /// <summary>The golden cases' own inputs (padding, fully masked rows, sinusoidal positions, ReLU) through the export,
    /// against the outputs HF computed, at every position, within the golden README's tolerances.</summary>
    [Theory]
    [MemberData(nameof(GoldenCaseNames))]
    public void GoldenCasesMatchHuggingFace(string name)
    {
        var folder = Fixtures.Golden("models", name);
        var model = PretrainedModel.Load(folder).Model;
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var modelInput = InferCommand.ReadInput(expected);
        var idsInfo = expected.Info("input_ids");
        int batch = (int)idsInfo.Shape[0], seq = (int)idsInfo.Shape[^1];
        var input = new PaddedInput(expected.ReadInt64("input_ids"),
            expected.Contains("attention_mask") ? expected.ReadInt64("attention_mask") : Enumerable.Repeat(1L, batch * seq).ToArray(),
            expected.Contains("token_type_ids") ? expected.ReadInt64("token_type_ids") : null, batch, seq);
        Assert.Equal(modelInput.Tokens, input.Ids.Length);
        using var session = OnnxTestSupport.Session(model);
        int compared = 0;
        foreach (var (output, (data, shape)) in OnnxTestSupport.Run(session, input))
        {
            Assert.Equal(expected.Info(output).Shape, shape.Select(d => (long)d).ToArray());
            ModelGoldenTests.AssertClose(name, output, expected.ReadFloat32(output), data, ModelGoldenTests.Tolerance(output, model.Config));
            compared++;
        }
        Assert.True(compared >= 1);
    }
}
