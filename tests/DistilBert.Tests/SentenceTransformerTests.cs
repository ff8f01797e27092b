using System.Text.Json;
using DistilBert.Modeling;
using DistilBert.Pipelines;
using DistilBert.Tokenization;

namespace DistilBert.Tests;

/// <summary>
/// Sentence-transformers folders: their pooling, normalisation, max_seq_length and do_lower_case are honoured, and
/// the vectors equal the ones computed here independently from the model's padded outputs (as sentence-transformers
/// computes them: pooling over the attention mask, then F.normalize).
/// </summary>
public sealed class SentenceTransformerTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>, IDisposable
{
    readonly TempDirectory _tmp = new("st");

    public void Dispose() => _tmp.Dispose();

    static readonly string[] Texts =
    [
        "a gorgeous, witty, seductive movie",
        "the plot is nothing but boilerplate clichés from start to finish, and the script assumes that not only would subtlety be lost on the target audience",
        "ok",
    ];

    string Folder(string name, string pooling, bool normalize, int? maxSeqLength = null) =>
        SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(_tmp.Path, name), pooling, normalize, maxSeqLength);

    /// <summary>sentence-transformers' computation, written out here: tokenize (truncating to max_seq_length), a padded
    /// batch with its attention mask through the base model, pooling over mask-1 positions, optional L2 normalisation.</summary>
    static float[][] Reference(string folder, string architecture, string[] texts, string pooling, bool normalize, int maxLength)
    {
        var tokenizer = WordPieceTokenizer.FromFolder(folder);
        var model = PretrainedModel.Load(folder, architecture).Model;
        var encodings = texts.Select(t => tokenizer.Encode(t, null, new EncodeOptions { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst })).ToArray();
        int batch = texts.Length, seq = encodings.Max(e => e.Length), dim = model.Config.HiddenSize;
        var ids = new long[batch * seq];
        var mask = new long[batch * seq];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < encodings[b].Length; t++) (ids[b * seq + t], mask[b * seq + t]) = (encodings[b].Ids[t], 1);
        var hidden = model.Forward(ModelInput.FromPadded(ids, batch, seq, mask))["last_hidden_state"].Data; // [batch, seq, dim]
        var vectors = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var v = new double[dim];
            double count = 0;
            for (int j = 0; j < dim; j++) v[j] = pooling == "max" ? double.NegativeInfinity : 0;
            for (int t = 0; t < seq; t++)
            {
                if (pooling == "cls" && t > 0) break;
                bool real = mask[b * seq + t] == 1;
                if (pooling != "max" && !real) continue;
                count++;
                for (int j = 0; j < dim; j++)
                {
                    double x = real ? hidden[(b * seq + t) * dim + j] : -1e9;
                    v[j] = pooling == "max" ? Math.Max(v[j], x) : v[j] + x;
                }
            }
            double divisor = pooling switch { "mean" => count, "mean_sqrt_len_tokens" => Math.Sqrt(count), _ => 1 };
            for (int j = 0; j < dim; j++) v[j] /= divisor;
            if (normalize)
            {
                double norm = Math.Max(Math.Sqrt(v.Sum(x => x * x)), 1e-12);
                for (int j = 0; j < dim; j++) v[j] /= norm;
            }
            vectors[b] = v.Select(x => (float)x).ToArray();
        }
        return vectors;
    }

    static void AssertClose(float[][] expected, float[][] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int b = 0; b < expected.Length; b++)
        {
            Assert.Equal(expected[b].Length, actual[b].Length);
            for (int j = 0; j < expected[b].Length; j++)
                Assert.True(Math.Abs(expected[b][j] - actual[b][j]) <= tolerance, $"text {b}, value {j}: expected {expected[b][j]}, got {actual[b][j]}");
        }
    }

    [Theory]
    [InlineData("mean", true)]
    [InlineData("mean", false)]
    [InlineData("cls", true)]
    [InlineData("cls", false)]
    [InlineData("max", true)]
    [InlineData("max", false)]
    [InlineData("mean_sqrt_len_tokens", false)]
    public void The_folders_pooling_and_normalisation_give_the_vectors_sentence_transformers_computes(string pooling, bool normalize)
    {
        var folder = Folder($"{pooling}-{normalize}", pooling, normalize);
        var pipeline = EmbeddingPipeline.Load(folder, new PipelineSettings { BatchSize = 2 });
        Assert.Equal(normalize, pipeline.Normalize);
        var vectors = pipeline.Embed(Texts).Select(o => o.Vector).ToArray();
        AssertClose(Reference(folder, "DistilBertModel", Texts, pooling, normalize, 64), vectors, 1e-4);
        // The same weights as a plain folder pool by the mean and normalise: the settings above came from the folder.
        if (pooling != "mean" || !normalize)
            Assert.NotEqual(vectors[0], EmbeddingPipeline.Load(models.Classifier).Embed(Texts[0]));
    }

    [Fact]
    public void Max_seq_length_truncates_as_sentence_transformers_and_an_explicit_length_wins()
    {
        var folder = Folder("short", "mean", normalize: true, maxSeqLength: 12);
        var warnings = new List<string>();
        var pipeline = EmbeddingPipeline.Load(folder, new PipelineSettings { Warn = warnings.Add });
        Assert.Equal(12, pipeline.MaxLength);
        var outputs = pipeline.Embed(Texts).ToArray();
        Assert.Equal(12, outputs[1].Tokens);
        Assert.Contains(warnings, w => w.Contains("input 2") && w.Contains("truncated"));
        AssertClose(Reference(folder, "DistilBertModel", Texts, "mean", true, 12), outputs.Select(o => o.Vector).ToArray(), 1e-4);
        Assert.Equal(20, EmbeddingPipeline.Load(folder, new PipelineSettings { MaxLength = 20 }).MaxLength);
        Assert.Equal(64, EmbeddingPipeline.Load(models.Classifier).MaxLength);
    }

    [Fact]
    public void Do_lower_case_lowercases_texts_before_a_cased_tokenizer()
    {
        const string cased = "{\"do_lower_case\": false, \"model_max_length\": 512}";
        var lowering = SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(_tmp.Path, "lower"), doLowerCase: true, tokenizerConfigJson: cased);
        var keeping = SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(_tmp.Path, "keep"), doLowerCase: false, tokenizerConfigJson: cased);
        var lowered = EmbeddingPipeline.Load(lowering).Embed("Gorgeous Witty MOVIE");
        Assert.Equal(EmbeddingPipeline.Load(keeping).Embed("gorgeous witty movie"), lowered);
        Assert.NotEqual(EmbeddingPipeline.Load(keeping).Embed("Gorgeous Witty MOVIE"), lowered);
    }

    [Fact]
    public void Arguments_given_to_Load_override_the_folder()
    {
        var folder = Folder("override", "cls", normalize: true);
        var pipeline = EmbeddingPipeline.Load(folder, pooling: PoolingMode.Mean, normalize: false);
        Assert.Equal(PoolingMode.Mean, pipeline.Pooling);
        AssertClose(Reference(folder, "DistilBertModel", Texts[..1], "mean", false, 64), [pipeline.Embed(Texts[0])], 1e-4);
    }

    [Fact]
    public async Task The_embedding_generator_honours_the_folder()
    {
        var folder = Folder("generator", "cls", normalize: false);
        using var generator = DistilBertEmbeddingGenerator.Load(folder);
        var generated = await generator.GenerateAsync([Texts[0]]);
        AssertClose(Reference(folder, "DistilBertModel", Texts[..1], "cls", false, 64), [generated[0].Vector.ToArray()], 1e-4);
    }

    [Fact]
    public void A_transformer_in_a_subfolder_is_loaded_from_there()
    {
        var root = Path.Combine(_tmp.Path, "old-layout");
        SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(root, "0_Transformer"), normalize: false);
        Directory.Move(Path.Combine(root, "0_Transformer", "1_Pooling"), Path.Combine(root, "1_Pooling"));
        File.Delete(Path.Combine(root, "0_Transformer", "modules.json"));
        File.WriteAllText(Path.Combine(root, "modules.json"),
            """[{"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]""");
        var vector = EmbeddingPipeline.Load(root).Embed(Texts[0]);
        AssertClose(Reference(models.Classifier, "DistilBertModel", Texts[..1], "mean", false, 64), [vector], 1e-4);
    }

    [Theory]
    [InlineData("modules.json", """[{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}, {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}, {"idx": 2, "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]""", "[2].type: sentence_transformers.models.Dense is not supported")]
    [InlineData("modules.json", """[{"idx": 0, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]""", "[0].type: sentence_transformers.models.Pooling is out of place")]
    [InlineData("modules.json", """[{"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"}]""", "no Pooling module")]
    [InlineData("modules.json", """[{"idx": 0, "path": "../elsewhere", "type": "sentence_transformers.models.Transformer"}]""", "[0].path '../elsewhere' must be a plain folder name")]
    [InlineData("modules.json", """[{"idx": 0, "type": "sentence_transformers.models.Transformer"}]""", "[0].path must be a string")]
    [InlineData("modules.json", """{"idx": 0}""", "expected a JSON array")]
    [InlineData("modules.json", """[{"idx": 0,""", "not valid JSON")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_weightedmean_tokens": true, "pooling_mode_mean_tokens": false}""", "pooling_mode_weightedmean_tokens: this pooling mode is not supported")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_lasttoken": true, "pooling_mode_mean_tokens": false}""", "pooling_mode_lasttoken: this pooling mode is not supported")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_cls_token": true}""", "pooling_mode_cls_token and pooling_mode_mean_tokens: concatenated pooling modes are not supported")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_mean_tokens": false}""", "no pooling mode is set")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_cls_token": "yes"}""", "pooling_mode_cls_token must be true or false")]
    [InlineData("1_Pooling/config.json", """{"pooling_mode_mean_tokens": true, "include_prompt": 1}""", "include_prompt must be true or false")]
    [InlineData("sentence_bert_config.json", """{"max_seq_length": "long"}""", "max_seq_length must be a whole number")]
    [InlineData("sentence_bert_config.json", """{"max_seq_length": 2}""", "max_seq_length 2 is out of range")]
    [InlineData("sentence_bert_config.json", """{"max_seq_length": 256, "do_lower_case": "no"}""", "do_lower_case must be true or false")]
    [InlineData("sentence_bert_config.json", """[256]""", "expected a JSON object")]
    public void A_bad_module_file_is_one_error_naming_the_file_and_field(string file, string content, string expected)
    {
        var folder = Folder($"bad-{Guid.NewGuid():N}", "mean", normalize: true);
        File.WriteAllText(Path.Combine(folder, file), content);
        var error = Assert.Throws<ModelFileException>(() => EmbeddingPipeline.Load(folder));
        Assert.Contains(Path.Combine(folder, file), error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void An_oversized_module_file_is_refused_before_it_is_parsed()
    {
        var folder = Folder("huge", "mean", normalize: true);
        File.WriteAllText(Path.Combine(folder, "modules.json"), "[" + new string(' ', 2 << 20) + "]");
        var error = Assert.Throws<ModelFileException>(() => EmbeddingPipeline.Load(folder));
        Assert.Contains("byte limit", error.Message);
    }

    const string MiniLm = "/work/shared/models/all-MiniLM-L6-v2";

    [SkippableFact]
    public void All_MiniLM_L6_v2_laid_out_as_on_the_Hub_gives_mean_pooling_and_normalisation_over_its_outputs()
    {
        Skip.IfNot(File.Exists(Path.Combine(MiniLm, "model.safetensors")), $"{MiniLm} is absent");
        // As the Hub repo sentence-transformers/all-MiniLM-L6-v2: Transformer, mean Pooling, Normalize; max_seq_length 256.
        var folder = SentenceTransformerFolders.Layout(MiniLm, Path.Combine(_tmp.Path, "all-MiniLM-L6-v2"), "mean", normalize: true, maxSeqLength: 256, doLowerCase: false);
        var texts = Texts.Append(string.Join(" ", Enumerable.Repeat("a rather long review that goes on and on", 60))).ToArray();
        var pipeline = EmbeddingPipeline.Load(folder, new PipelineSettings { BatchSize = 3 });
        Assert.Equal(256, pipeline.MaxLength);
        var outputs = pipeline.Embed(texts).ToArray();
        Assert.Equal(256, outputs[^1].Tokens);
        AssertClose(Reference(folder, "BertModel", texts, "mean", true, 256), outputs.Select(o => o.Vector).ToArray(), 2e-5);
        Assert.All(outputs, o => Assert.Equal(1.0, Math.Sqrt(o.Vector.Sum(v => (double)v * v)), 5));

        // The same weights with a CLS pooling config give CLS pooling.
        var cls = SentenceTransformerFolders.Layout(MiniLm, Path.Combine(_tmp.Path, "minilm-cls"), "cls", normalize: true, maxSeqLength: 256);
        AssertClose(Reference(cls, "BertModel", texts[..2], "cls", true, 256), EmbeddingPipeline.Load(cls).Embed(texts[..2]).Select(o => o.Vector).ToArray(), 2e-5);
    }
}
