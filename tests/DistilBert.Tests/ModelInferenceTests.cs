using DistilBert.Checkpoints;
using DistilBert.Cli;
using DistilBert.Cli.Commands;
using DistilBert.Modeling;

namespace DistilBert.Tests;

public class ModelInferenceTests
{
    static TransformerModel Golden(string name) => PretrainedModel.Load(Fixtures.Golden("models", name)).Model;

    [Theory]
    [InlineData("distilbert_qa")]
    [InlineData("bert_seqcls")]
    public void InferCommandReplaysAGoldenCase(string name)
    {
        var folder = Fixtures.Golden("models", name);
        using var tmp = new TempDirectory("infer");
        var outPath = tmp.File($"infer-{name}.safetensors");
        int exit = CliAction.Run(() => Program.BuildRoot().Parse(["infer", "--model", folder, "--inputs", Path.Combine(folder, "expected.safetensors"),
            "--out", outPath, "--hidden-states", "--attentions"]).Invoke());
        Assert.Equal(0, exit);
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        using var actual = SafeTensors.Open(outPath);
        var config = ModelConfig.Load(folder);
        int compared = 0;
        foreach (var info in actual.Tensors)
        {
            Assert.True(expected.Contains(info.Name), $"unexpected output {info.Name}");
            Assert.Equal(expected.Info(info.Name).Shape, info.Shape);
            ModelGoldenTests.AssertClose(name, info.Name, expected.ReadFloat32(info.Name), actual.ReadFloat32(info.Name), ModelGoldenTests.Tolerance(info.Name, config));
            compared++;
        }
        // every expected output was written: all tensors except the inputs
        Assert.Equal(expected.Tensors.Count(t => t.DType == TensorDType.F32), compared);
    }

    [Fact]
    public void RaggedBatchGivesThePaddedBatchOutputsAtRealPositions()
    {
        var model = Golden("distilbert_mlm_gelu_learned");
        using var expected = SafeTensors.Open(Fixtures.Golden("models", "distilbert_mlm_gelu_learned", "expected.safetensors"));
        var ids = expected.ReadInt64("input_ids");
        var mask = expected.ReadInt64("attention_mask");
        int seq = (int)expected.Info("input_ids").Shape[1], batch = ids.Length / seq;
        var sequences = new List<int[]>();
        for (int b = 0; b < batch; b++)
        {
            // right padding: the real tokens are a prefix of each row
            int length = 0;
            while (length < seq && mask[b * seq + length] != 0) length++;
            sequences.Add(ids.Skip(b * seq).Take(length).Select(x => (int)x).ToArray());
        }
        var ragged = model.Forward(ModelInput.FromSequences(sequences))["last_hidden_state"].Data;
        var padded = expected.ReadFloat32("last_hidden_state");
        int dim = model.Config.HiddenSize, row = 0;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < sequences[b].Length; t++, row++)
                for (int i = 0; i < dim; i++)
                    Assert.Equal(padded[(b * seq + t) * dim + i], ragged[row * dim + i], 1e-4f);
        Assert.Equal(row * dim, ragged.Length);
    }

    [Fact]
    public void SteadyStateInferenceReusesItsWorkspace()
    {
        var model = Golden("distilbert_seqcls");
        var input = ModelInput.FromSequences([[1, 5, 9, 2], [1, 7, 2]]);
        model.Forward(input);
        long after1 = model.WorkspaceFloats;
        var first = model.Forward(input)["logits"].Data;
        model.Forward(ModelInput.FromSequences([[1, 5, 2]])); // smaller: fits the same buffers
        Assert.Equal(after1, model.WorkspaceFloats);
        Assert.Equal(first, model.Forward(input)["logits"].Data);
    }

    [Fact]
    public void BadInputsNameTheTensorAndTheLimit()
    {
        var model = Golden("distilbert_seqcls"); // vocab 1000, max_position_embeddings 64
        var e1 = Assert.Throws<InvalidInputException>(() => model.Forward(ModelInput.FromPadded([1, 1000, 2], 1, 3)));
        Assert.Contains("input_ids[0, 1] = 1000 is outside the vocabulary (vocab_size 1000)", e1.Message);
        var e2 = Assert.Throws<InvalidInputException>(() => model.Forward(ModelInput.FromPadded(new long[65], 1, 65)));
        Assert.Contains("65 tokens, more than max_position_embeddings (64)", e2.Message);
        var e3 = Assert.Throws<InvalidInputException>(() => ModelInput.FromPadded([1, 2, 3, 4], 2, 2, [1, 1, 1]));
        Assert.Contains("attention_mask has 3 elements but input_ids is [2, 2]", e3.Message);
        var e4 = Assert.Throws<InvalidInputException>(() => ModelInput.FromPadded([1, -5], 1, 2));
        Assert.Contains("input_ids[0, 1] = -5", e4.Message);
        var e5 = Assert.Throws<InvalidInputException>(() => model.Forward(WithLabels(ModelInput.FromPadded([1, 2], 1, 2), [3])));
        Assert.Contains("labels[0] = 3 is outside [0, 3)", e5.Message);
        var bert = Golden("bert_base_pooler");
        var e6 = Assert.Throws<InvalidInputException>(() => bert.Forward(ModelInput.FromPadded([1, 2], 1, 2, null, [0, 2])));
        Assert.Contains("token_type_ids[0, 1] = 2 is outside [0, 2) (type_vocab_size)", e6.Message);
    }

    static ModelInput WithLabels(ModelInput input, long[] labels)
    {
        input.Labels = labels;
        return input;
    }

    [Fact]
    public void InferReportsAMissingInputTensorAndAMaskOfTheWrongShape()
    {
        var folder = Fixtures.Golden("models", "distilbert_qa");
        using var tmp = new TempDirectory("infer-bad");
        var dir = tmp.Path;
        var noIds = Path.Combine(dir, "noids.safetensors");
        SafeTensors.Write(noIds, [TensorToWrite.Int64("attention_mask", [1, 2], [1, 1])]);
        var badMask = Path.Combine(dir, "badmask.safetensors");
        SafeTensors.Write(badMask, [TensorToWrite.Int64("input_ids", [1, 3], [1, 2, 3]), TensorToWrite.Int64("attention_mask", [1, 2], [1, 1])]);
        var e1 = Assert.Throws<InvalidInputException>(() => InferCommand.Run(folder, noIds, Path.Combine(dir, "o.safetensors"), ForwardOptions.None, TextWriter.Null));
        Assert.Contains("missing tensor 'input_ids'", e1.Message);
        var e2 = Assert.Throws<InvalidInputException>(() => InferCommand.Run(folder, badMask, Path.Combine(dir, "o.safetensors"), ForwardOptions.None, TextWriter.Null));
        Assert.Contains("attention_mask has shape [1, 2] but input_ids has [1, 3]", e2.Message);
    }

    [Fact]
    public void BaseModelLoadsFromAnMlmCheckpointAndReproducesItsHiddenStates()
    {
        var folder = Fixtures.Golden("models", "bert_mlm");
        var (model, report) = PretrainedModel.Load(folder, "BertModel");
        Assert.Contains("cls.predictions.bias", report.Unexpected);
        Assert.Equal(["pooler.dense.weight", "pooler.dense.bias"], report.Missing); // BertModel has a pooler, the MLM checkpoint none
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var output = model.Forward(InferCommand.ReadInput(expected));
        ModelGoldenTests.AssertClose("bert_mlm as BertModel", "last_hidden_state", expected.ReadFloat32("last_hidden_state"), output["last_hidden_state"].Data, (1e-4, 1e-4));
    }

    [Fact]
    public void RegistryFollowsHfStateDictOrderWithTiedAliases()
    {
        var model = Golden("bert_mlm");
        var names = model.Parameters.Select(p => p.Name).ToList();
        Assert.Equal("bert.embeddings.word_embeddings.weight", names[0]);
        Assert.Equal(["bert.embeddings.position_embeddings.weight", "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight"], names.Skip(1).Take(3));
        Assert.Equal(["cls.predictions.bias", "cls.predictions.transform.dense.weight"], names.Skip(names.IndexOf("cls.predictions.bias")).Take(2));
        Assert.Same(model.Parameters["bert.embeddings.word_embeddings.weight"], model.Parameters["cls.predictions.decoder.weight"]);
        Assert.Same(model.Parameters["cls.predictions.bias"], model.Parameters["cls.predictions.decoder.bias"]);
    }
}

public class ModelPackedWeightTests
{
    [Theory]
    [InlineData("distilbert_mlm_relu_sinusoidal")]
    [InlineData("bert_seqcls")]
    public void PackedAndPlainInferenceAgree(string name)
    {
        var folder = Fixtures.Golden("models", name);
        var packed = PretrainedModel.Load(folder).Model;
        var plain = PretrainedModel.Load(folder).Model;
        plain.PackWeightsForInference = false;
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var a = packed.Forward(InferCommand.ReadInput(expected))["logits"].Data;
        var b = plain.Forward(InferCommand.ReadInput(expected))["logits"].Data;
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-4f);
    }

    [Fact]
    public void FeedForwardRowBlocksGiveTheSameResultAsOnePass()
    {
        var folder = Fixtures.Golden("models", "distilbert_tokcls"); // relu, max_position_embeddings 64
        var blocked = PretrainedModel.Load(folder).Model;
        var unpackedBlocked = PretrainedModel.Load(folder).Model;
        unpackedBlocked.PackWeightsForInference = false;
        var plain = PretrainedModel.Load(folder).Model;
        plain.Train(dropout: false); // the training path runs the FFN in one pass
        var random = new Random(4);
        var sequences = Enumerable.Range(0, 13).Select(_ => Enumerable.Range(0, 60).Select(_ => random.Next(1, 1000)).ToArray()).ToList();
        Assert.True(13 * 60 > DistilBert.Modeling.Layers.FeedForward.InferenceRowBlock);
        var a = blocked.Forward(ModelInput.FromSequences(sequences))["logits"].Data;
        var b = plain.Forward(ModelInput.FromSequences(sequences))["logits"].Data;
        var c = unpackedBlocked.Forward(ModelInput.FromSequences(sequences))["logits"].Data;
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 1e-4f);
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], c[i], 1e-4f);
    }

    [Fact]
    public void ReloadingWeightsAfterAForwardNeedsMarkWeightsChanged()
    {
        var folder = Fixtures.Golden("models", "bert_mlm");
        var model = PretrainedModel.Load(folder).Model;
        var input = ModelInput.FromSequences([[2, 7, 9, 3]]);
        var before = model.Forward(input)["logits"].Data;
        foreach (var p in model.Parameters) for (int i = 0; i < p.Length; i++) p.Value[i] *= 0.5f;
        model.MarkWeightsChanged();
        var after = model.Forward(input)["logits"].Data;
        var fresh = PretrainedModel.Load(folder).Model;
        foreach (var p in fresh.Parameters) for (int i = 0; i < p.Length; i++) p.Value[i] *= 0.5f;
        var expected = fresh.Forward(input)["logits"].Data;
        Assert.NotEqual(before, after);
        for (int i = 0; i < after.Length; i++) Assert.Equal(expected[i], after[i], 1e-4f);
    }

    [Fact]
    public void AnOptimizerStepRefreshesThePackedWeights()
    {
        var folder = Fixtures.Golden("models", "distilbert_seqcls");
        var model = PretrainedModel.Load(folder).Model;
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var input = InferCommand.ReadInput(expected);
        model.Forward(input); // packs
        model.Train(dropout: false);
        model.Parameters.ZeroGrad();
        model.Forward(input);
        model.Backward();
        new DistilBert.Training.AdamW(DistilBert.Training.AdamW.SingleGroup(model.Parameters, 0)).Step(1e-2);
        model.Eval();
        var afterStep = model.Forward(input)["logits"].Data;
        var reference = PretrainedModel.Load(folder).Model;
        foreach (var p in model.Parameters) p.Value.CopyTo(reference.Parameters[p.Name].Value, 0);
        reference.PackWeightsForInference = false;
        var expectedLogits = reference.Forward(input)["logits"].Data;
        for (int i = 0; i < afterStep.Length; i++) Assert.Equal(expectedLogits[i], afterStep[i], 1e-4f);
    }
}

public class ModelTrainingMemoryTests
{
    [Fact]
    public void ReleaseTrainingMemoryFreesCachesAndGradientsAndInferenceStillMatches()
    {
        var folder = Fixtures.Golden("models", "distilbert_seqcls");
        var model = PretrainedModel.Load(folder).Model;
        using var expected = SafeTensors.Open(Path.Combine(folder, "expected.safetensors"));
        var input = InferCommand.ReadInput(expected);
        model.Train(dropout: false);
        model.Forward(input);
        model.Backward();
        Assert.True(model.TrainingCacheFloats > 0);
        model.ReleaseTrainingMemory();
        Assert.Equal(0, model.TrainingCacheFloats);
        Assert.All(model.Parameters, p => Assert.Null(p.Grad));
        Assert.False(model.IsTraining);
        ModelGoldenTests.AssertClose("distilbert_seqcls", "logits", expected.ReadFloat32("logits"), model.Forward(input)["logits"].Data, (1e-4, 1e-4));
    }
}

/// <summary>Captures Console.Error, so it runs in the collection that no other test runs beside.</summary>
[Collection(nameof(PipelineCliCollection))]
public class InferCliErrorTests
{
    [Fact]
    public void InferToAnOutputPathThatIsADirectoryIsAClearError()
    {
        var folder = Fixtures.Golden("models", "distilbert_qa");
        using var tmp = new TempDirectory("infer-dir");
        // The output path is a directory inside our own folder, so "beside it" (where the temporary file goes) is ours to check.
        var output = tmp.File("out.safetensors");
        Directory.CreateDirectory(output);
        var (exit, _, error) = CliRunner.Run("infer", "--model", folder, "--inputs", Path.Combine(folder, "expected.safetensors"), "--out", output);
        Assert.Equal(1, exit);
        Assert.StartsWith("error: ", error);
        Assert.Contains(output, error);
        Assert.Empty(Directory.GetFileSystemEntries(output));
        Assert.Equal(["out.safetensors"], Directory.GetFileSystemEntries(tmp.Path).Select(Path.GetFileName)); // no temporary file beside it
    }
}
