using System.Text.Json.Nodes;
using DistilBert.Checkpoints;
using DistilBert.Modeling;

namespace DistilBert.Tests;

public class CheckpointTests
{
    /// <summary>Every golden folder that holds both model.safetensors and pytorch_model.bin.</summary>
    public static TheoryData<string> GoldenCheckpointFolders()
    {
        var data = new TheoryData<string>();
        foreach (var area in new[] { "models", "training", "distillation" })
            foreach (var st in Directory.GetFiles(Fixtures.Golden(area), "model.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var folder = Path.GetDirectoryName(st)!;
                if (File.Exists(Path.Combine(folder, "pytorch_model.bin"))) data.Add(Path.GetRelativePath(Fixtures.Golden(), folder));
            }
        return data;
    }

    static readonly HashSet<string> KnownAliases = ["vocab_projector.weight", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"];

    [Fact]
    public void FindsAllGoldenCheckpoints() => Assert.Equal(17, GoldenCheckpointFolders().Count);

    [Theory]
    [MemberData(nameof(GoldenCheckpointFolders))]
    public void SafeTensorsAndTorchBinHoldBitIdenticalTensors(string relativeFolder)
    {
        var folder = Fixtures.Golden(relativeFolder);
        using var st = CheckpointFile.Open(Path.Combine(folder, "model.safetensors"));
        using var bin = CheckpointFile.Open(Path.Combine(folder, "pytorch_model.bin"));
        Assert.IsType<SafeTensorsFile>(st);
        Assert.IsType<TorchCheckpointFile>(bin);

        var onlyInBin = bin.Tensors.Select(t => t.Name).Except(st.Tensors.Select(t => t.Name)).Order(StringComparer.Ordinal).ToList();
        Assert.Empty(st.Tensors.Select(t => t.Name).Except(bin.Tensors.Select(t => t.Name)));
        var casePath = Path.Combine(folder, "case.json");
        if (File.Exists(casePath))
        {
            var expected = JsonNode.Parse(File.ReadAllText(casePath))!["weights"]!["keys_only_in_bin"]!.AsArray().Select(n => (string)n!).Order(StringComparer.Ordinal);
            Assert.Equal(expected, onlyInBin);
        }
        else Assert.All(onlyInBin, n => Assert.Contains(n, KnownAliases));

        foreach (var t in st.Tensors)
        {
            var b = bin.Info(t.Name);
            Assert.Equal(t.DType, b.DType);
            Assert.Equal(t.Shape, b.Shape);
            if (t.DType == TensorDType.I64) Assert.Equal(st.ReadInt64(t.Name), bin.ReadInt64(t.Name));
            else AssertBitIdentical(st.ReadFloat32(t.Name), bin.ReadFloat32(t.Name), t.Name);
        }
    }

    [Theory]
    [MemberData(nameof(GoldenCheckpointFolders))]
    public void RegistryLoadedFromSafeTensorsSavesByteIdentical(string relativeFolder)
    {
        var path = Fixtures.Golden(relativeFolder, "model.safetensors");
        using var st = CheckpointFile.Open(path);
        var registry = RegistryFor(st);
        var report = ParameterStateDict.LoadInto(registry, st, null);
        Assert.True(report.IsComplete, report.ToString());
        Assert.Empty(report.Unexpected);

        using var tmpDir = new TempDirectory("ckpt");
        var tmp = tmpDir.File("model.safetensors");
        ParameterStateDict.Save(tmp, registry);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(tmp));
    }

    [Theory]
    [MemberData(nameof(GoldenCheckpointFolders))]
    public void TorchBinLoadsIntoRegistryWithTiedAliasesAndSavesAsSafeTensorsWould(string relativeFolder)
    {
        var folder = Fixtures.Golden(relativeFolder);
        using var st = CheckpointFile.Open(Path.Combine(folder, "model.safetensors"));
        using var bin = CheckpointFile.Open(Path.Combine(folder, "pytorch_model.bin"));
        var registry = RegistryFor(st);
        var report = ParameterStateDict.LoadInto(registry, bin, null);
        Assert.True(report.IsComplete, report.ToString());
        Assert.Empty(report.Unexpected); // the bin's alias keys are accounted for by the tied parameters

        using var tmpDir = new TempDirectory("ckpt");
        var tmp = tmpDir.File("model.safetensors");
        ParameterStateDict.Save(tmp, registry);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), File.ReadAllBytes(tmp));
    }

    [Fact]
    public void HalfBFloatAndDoubleConvertToFloat32AndIntegersToInt64()
    {
        using var tmp = new TempDirectory("ckpt");
        var path = tmp.File("mixed.safetensors");
        Half[] half = [(Half)1.5f, (Half)(-0.25f), Half.MaxValue];
        double[] doubles = [1e-3, -7.5];
        SafeTensors.Write(path, [
            new TensorToWrite("h", TensorDType.F16, [3], System.Runtime.InteropServices.MemoryMarshal.AsBytes(half.AsSpan()).ToArray()),
            new TensorToWrite("b", TensorDType.BF16, [2], new byte[] { 0xc0, 0x3f, 0x00, 0xc1 }), // 1.5, -8
            new TensorToWrite("d", TensorDType.F64, [2], System.Runtime.InteropServices.MemoryMarshal.AsBytes(doubles.AsSpan()).ToArray()),
            new TensorToWrite("i", TensorDType.I32, [2], new byte[] { 0xff, 0xff, 0xff, 0xff, 5, 0, 0, 0 }),
            new TensorToWrite("u", TensorDType.U8, [2], new byte[] { 200, 1 }),
        ]);
        using var s = CheckpointFile.Open(path);
        Assert.Equal([1.5f, -0.25f, 65504f], s.ReadFloat32("h"));
        Assert.Equal([1.5f, -8f], s.ReadFloat32("b"));
        Assert.Equal([1e-3f, -7.5f], s.ReadFloat32("d"));
        Assert.Equal([-1L, 5L], s.ReadInt64("i"));
        Assert.Equal([200L, 1L], s.ReadInt64("u"));
        var e = Assert.Throws<ModelFileException>(() => s.ReadFloat32("i"));
        Assert.Contains("expected a floating-point tensor", e.Message);
        e = Assert.Throws<ModelFileException>(() => ((SafeTensorsFile)s).GetFloat32Span("h"));
        Assert.Contains("not F32", e.Message);
    }

    [Fact]
    public unsafe void Float32ViewReadsTheArrayAtWriteTimeWithoutCopying()
    {
        var values = new float[] { 1, 2, 3 };
        var view = TensorToWrite.Float32View("x", [3], values);
        values[1] = 42;
        Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), view.Data.ToArray());
        using var pin = view.Data.Pin();
        Assert.Equal(42f, ((float*)pin.Pointer)[1]);
    }

    [Fact]
    public void FolderPrefersSafeTensorsAndFallsBackToTorchBin()
    {
        using (var s = CheckpointFile.Open(Fixtures.Golden("models", "bert_mlm"))) Assert.IsType<SafeTensorsFile>(s);
        using var tmp = new TempDirectory("ckpt");
        var dir = tmp.Path;
        var bin = Path.Combine(dir, "pytorch_model.bin");
        File.Copy(Fixtures.Golden("models", "bert_mlm", "pytorch_model.bin"), bin);
        using (var s = CheckpointFile.Open(dir)) Assert.IsType<TorchCheckpointFile>(s);
        // Sniffed by content, not by name.
        var renamed = Path.Combine(dir, "weights.safetensors");
        File.Move(bin, renamed);
        using (var s = CheckpointFile.Open(renamed)) Assert.IsType<TorchCheckpointFile>(s);
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(dir));
        Assert.Contains("no weights found", e.Message);
    }

    [Fact]
    public void MlmCheckpointLoadsIntoBaseModelWithPrefixStrippedAndHeadReportedUnexpected()
    {
        using var st = CheckpointFile.Open(Fixtures.Golden("models", "distilbert_mlm_gelu_learned"));
        var baseRegistry = new ParameterRegistry();
        foreach (var t in st.Tensors.Where(t => t.Name.StartsWith("distilbert.", StringComparison.Ordinal)))
            baseRegistry.Add(t.Name["distilbert.".Length..], t.Shape.Select(d => (int)d).ToArray());
        var report = ParameterStateDict.LoadInto(baseRegistry, st, "distilbert.");
        Assert.True(report.IsComplete);
        Assert.Equal(baseRegistry.Count, report.Loaded.Count);
        Assert.Equal(st.Tensors.Where(t => !t.Name.StartsWith("distilbert.", StringComparison.Ordinal)).Select(t => t.Name).Order(), report.Unexpected.Order());
        Assert.Contains("vocab_transform.weight", report.ToString());
        AssertBitIdentical(st.ReadFloat32("distilbert.embeddings.word_embeddings.weight"), baseRegistry["embeddings.word_embeddings.weight"].Value, "word embeddings");
    }

    [Fact]
    public void BaseCheckpointLoadsIntoHeadModelWithPrefixAddedAndHeadReportedMissing()
    {
        using var st = CheckpointFile.Open(Fixtures.Golden("models", "distilbert_base_model"));
        var registry = new ParameterRegistry();
        foreach (var t in st.Tensors) registry.Add("distilbert." + t.Name, t.Shape.Select(d => (int)d).ToArray());
        var dim = (int)st.Info("embeddings.word_embeddings.weight").Shape[1];
        registry.Add("pre_classifier.weight", [dim, dim]);
        registry.Add("classifier.weight", [2, dim]);
        var report = ParameterStateDict.LoadInto(registry, st, "distilbert");
        Assert.Equal(["pre_classifier.weight", "classifier.weight"], report.Missing);
        Assert.Empty(report.Unexpected);
        Assert.False(report.IsComplete);
        Assert.Contains("newly initialised", report.ToString());
        Assert.Contains("classifier.weight", report.ToString());
    }

    [Fact]
    public void BertPositionIdsBufferIsIgnoredNotUnexpected()
    {
        using var st = CheckpointFile.Open(Fixtures.Golden("models", "bert_mlm"));
        var registry = new ParameterRegistry();
        foreach (var t in st.Tensors.Where(t => t.DType == TensorDType.F32)) registry.Add(t.Name, t.Shape.Select(d => (int)d).ToArray());
        var report = ParameterStateDict.LoadInto(registry, st, "bert.");
        Assert.Empty(report.Unexpected);
        Assert.Equal(["bert.embeddings.position_ids"], report.IgnoredBuffers);
    }

    [Fact]
    public void ShapeMismatchNamesTensorAndBothShapes()
    {
        using var st = CheckpointFile.Open(Fixtures.Golden("models", "distilbert_seqcls"));
        var registry = new ParameterRegistry();
        registry.Add("classifier.weight", [7, 32]);
        var e = Assert.Throws<ModelFileException>(() => ParameterStateDict.LoadInto(registry, st, "distilbert."));
        Assert.Contains("'classifier.weight'", e.Message);
        Assert.Contains("[3, 32]", e.Message);
        Assert.Contains("[7, 32]", e.Message);
    }

    [Fact]
    public void ModelFolderSaveWritesConfigWeightsAndTokenizerAtomically()
    {
        var source = Fixtures.Golden("models", "distilbert_realvocab_e2e");
        using var st = CheckpointFile.Open(source);
        var registry = RegistryFor(st);
        ParameterStateDict.LoadInto(registry, st, null);
        var config = File.ReadAllText(Path.Combine(source, "config.json"));
        using var tmp = new TempDirectory("ckpt");
        var parent = tmp.Path;
        var dir = Path.Combine(parent, "saved");
        ModelFolder.Save(dir, config, ParameterStateDict.ToTensors(registry), [Fixtures.Golden("tokenizer", "vocab.txt"), Fixtures.Golden("tokenizer", "tokenizer_config.json")]);
        Assert.Equal(["config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(source, "model.safetensors")), File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.Equal(config, File.ReadAllText(Path.Combine(dir, "config.json")));
        // Saving over an existing folder replaces files and leaves no temporary folder behind.
        registry.First().Value[0] += 1;
        ModelFolder.Save(dir + Path.DirectorySeparatorChar, config, ParameterStateDict.ToTensors(registry), [Path.Combine(dir, "vocab.txt")]);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(source, "model.safetensors")), File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.Equal(["saved"], Directory.GetFileSystemEntries(parent).Select(Path.GetFileName));
        Assert.Throws<InvalidInputException>(() => ModelFolder.Save(dir, "{not json", ParameterStateDict.ToTensors(registry)));
    }

    [Fact]
    public void ShardedSafeTensorsOpenAsOneSource()
    {
        using var whole = CheckpointFile.Open(Fixtures.Golden("models", "bert_mlm"));
        using var tmp = new TempDirectory("ckpt");
        var dir = tmp.Path;
        var names = whole.Tensors.Select(t => t.Name).ToList();
        var half = names.Count / 2;
        var map = new JsonObject();
        for (int shard = 0; shard < 2; shard++)
        {
            var file = $"model-0000{shard + 1}-of-00002.safetensors";
            var part = shard == 0 ? names.Take(half) : names.Skip(half);
            SafeTensors.Write(Path.Combine(dir, file), part.Select(n => ToWrite(whole, n)));
            foreach (var n in part) map[n] = file;
        }
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 1 }, ["weight_map"] = map }.ToJsonString());
        using var sharded = CheckpointFile.Open(dir);
        Assert.IsType<ShardedTensorSource>(sharded);
        Assert.Equal(names.Order(), sharded.Tensors.Select(t => t.Name).Order());
        foreach (var t in whole.Tensors.Where(t => t.DType == TensorDType.F32))
            AssertBitIdentical(whole.ReadFloat32(t.Name), sharded.ReadFloat32(t.Name), t.Name);
        Assert.Equal(whole.ReadInt64("bert.embeddings.position_ids"), sharded.ReadInt64("bert.embeddings.position_ids"));

        map[names[0]] = "../evil.safetensors";
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = map.DeepClone() }.ToJsonString());
        var e = Assert.Throws<ModelFileException>(() => CheckpointFile.Open(dir));
        Assert.Contains("not a plain file name", e.Message);
    }

    internal static TensorToWrite ToWrite(ITensorSource s, string name)
    {
        var info = s.Info(name);
        return info.DType == TensorDType.I64 ? TensorToWrite.Int64(name, info.Shape, s.ReadInt64(name)) : TensorToWrite.Float32(name, info.Shape, s.ReadFloat32(name));
    }

    /// <summary>A registry with one parameter per safetensors tensor, and the HF tied aliases where they apply.</summary>
    internal static ParameterRegistry RegistryFor(ITensorSource st)
    {
        var registry = new ParameterRegistry();
        foreach (var t in st.Tensors) registry.Add(t.Name, t.Shape.Select(d => (int)d).ToArray(), t.DType != TensorDType.I64);
        if (registry.Contains("distilbert.embeddings.word_embeddings.weight") && registry.Contains("vocab_projector.bias"))
            registry.Tie("vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight");
        if (registry.Contains("cls.predictions.bias"))
        {
            registry.Tie("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight");
            registry.Tie("cls.predictions.decoder.bias", "cls.predictions.bias");
        }
        return registry;
    }

    internal static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: {expected[i]:R} != {actual[i]:R}");
    }

}

public class CheckpointSummaryTests
{
    [Fact]
    public void SummaryCountsTiedWeightsOnceInEveryFormat()
    {
        var folder = Fixtures.Golden("models", "distilbert_mlm_gelu_learned");
        var st = CheckpointSummary.Create(folder);
        var bin = CheckpointSummary.Create(Path.Combine(folder, "pytorch_model.bin"));
        Assert.Equal("DistilBertForMaskedLM", st.Architecture);
        Assert.Equal("distilbert", st.ModelType);
        Assert.Equal("safetensors", st.Format);
        Assert.Equal("torch zip", bin.Format);
        Assert.Equal(st.ParameterCount, bin.ParameterCount);
        Assert.Equal(["vocab_projector.weight"], bin.TiedAliases);
        Assert.Equal(st.ByDType, bin.ByDType);
        using var source = CheckpointFile.Open(folder);
        Assert.Equal(source.Tensors.Sum(t => t.ElementCount), st.ParameterCount);
        Assert.Contains(st.Config, f => f.Name == "dim" && f.Value == "32" && !f.IsDefault);
        Assert.Contains(st.Config, f => f.Name == "problem_type" && f.IsDefault);

        var bert = CheckpointSummary.Create(Fixtures.Golden("models", "bert_mlm"));
        Assert.Equal(bert.Tensors.Where(t => t.DType == TensorDType.F32).Sum(t => t.ElementCount), bert.ParameterCount); // position_ids is a buffer
        Assert.Contains(bert.ByDType, d => d.DType == TensorDType.I64 && d.Tensors == 1);
        var json = System.Text.Json.Nodes.JsonNode.Parse(bert.ToJson())!;
        Assert.Equal("BertForMaskedLM", (string)json["architecture"]!);
        Assert.Equal(bert.ParameterCount, (long)json["parameters"]!);
        Assert.Equal(bert.Tensors.Count, json["tensors"]!.AsArray().Count);
    }
}

/// <summary>`distilbert info`; in the serial collection because it reads the captured console.</summary>
[Collection(nameof(PipelineCliCollection))]
public class CheckpointCliTests
{
    [Fact]
    public void InfoCommandDescribesEveryFormatAndRefusesBadFiles()
    {
        var folder = Fixtures.Golden("models", "bert_mlm");
        var text = CliRunner.Run("info", folder); // drawn by Spectre's console, bound to each run's Console.Out
        Assert.Equal(0, text.Code);
        Assert.Equal("", text.Err);
        Assert.Contains("BertForMaskedLM", text.Out);
        var json = CliRunner.Run("info", Path.Combine(folder, "pytorch_model.bin"), "--json");
        Assert.Equal(0, json.Code);
        var summary = System.Text.Json.Nodes.JsonNode.Parse(json.Out)!;
        Assert.Equal("BertForMaskedLM", (string)summary["architecture"]!);
        Assert.Equal(CheckpointSummary.Create(folder).ParameterCount, (long)summary["parameters"]!);

        using var tmp = new TempDirectory("ckpt-cli");
        var bad = tmp.File("bad.safetensors");
        File.WriteAllBytes(bad, [1, 2, 3]);
        var refused = CliRunner.Run("info", bad);
        Assert.Equal(1, refused.Code);
        Assert.StartsWith("error: ", refused.Err);
        Assert.Contains(bad, refused.Err);
        var missing = CliRunner.Run("info", "./no/such/folder");
        Assert.Equal(1, missing.Code);
        Assert.StartsWith("error: ", missing.Err);
        Assert.Contains("no/such/folder", missing.Err);
    }
}
