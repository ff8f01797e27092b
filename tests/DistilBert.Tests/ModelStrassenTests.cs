using DistilBert.Compute;
using DistilBert.Modeling;
using Xunit;

namespace DistilBert.Tests;

/// <summary>Inference with Strassen on each sequence's whole 128-token blocks (TransformerModel.StrassenForInference).</summary>
public class ModelStrassenTests
{
    // dim 96, hidden 192: every linear layer's output width is a whole number of 96-column panel pairs
    static readonly DistilBertConfig Config = new()
    {
        VocabSize = 60, Dim = 96, NHeads = 4, HiddenDim = 192, NLayers = 2, MaxPositionEmbeddings = 600,
    };

    static TransformerModel Model(bool strassen)
    {
        var model = PretrainedModel.Create(Config, "DistilBertModel", seed: 21);
        model.PrepareForInference();
        model.StrassenForInference = strassen;
        return model;
    }

    static int[][] Sequences(params int[] lengths)
    {
        var random = new Random(lengths.Sum());
        return lengths.Select(length => Enumerable.Range(0, length).Select(_ => random.Next(Config.VocabSize)).ToArray()).ToArray();
    }

    /// <summary>last_hidden_state rows of sequence b: [batch, padded length, dim] for padded input, [tokens, dim] for
    /// ragged input (sequences one after another).</summary>
    static float[] Rows(ModelOutput output, int[][] sequences, int b)
    {
        var hidden = output["last_hidden_state"];
        int dim = hidden.Shape[^1];
        int first = hidden.Shape.Length == 3 ? b * hidden.Shape[1] : sequences.Take(b).Sum(s => s.Length);
        return hidden.Data.AsSpan(first * dim, sequences[b].Length * dim).ToArray();
    }

    [Fact]
    public void ASequenceGetsTheSameBitsAloneAndAnywhereInABatch()
    {
        // 5 + 200 + 300 + 130 = 635 tokens: more than one 512-token block, so the FFN and attention blocks must keep
        // every sequence whole for its 128-token Strassen blocks to stay the same
        var model = Model(strassen: true);
        var sequences = Sequences(5, 200, 300, 130);
        var batch = model.Forward(ModelInput.FromSequences(sequences));
        for (int b = 0; b < sequences.Length; b++)
        {
            var alone = model.Forward(ModelInput.FromSequences([sequences[b]]));
            Assert.True(Rows(alone, [sequences[b]], 0).AsSpan().SequenceEqual(Rows(batch, sequences, b)),
                $"sequence {b} ({sequences[b].Length} tokens) differs between alone and in the batch");
        }
    }

    [SkippableFact]
    public void StrassenStaysWithinFloatNoiseOfThePlainGemm()
    {
        KernelPathScope.RequireAvx512("Strassen");
        var sequences = Sequences(256, 140, 20);
        var plain = Model(strassen: false).Forward(ModelInput.FromSequences(sequences));
        var strassen = Model(strassen: true).Forward(ModelInput.FromSequences(sequences));
        var expected = plain["last_hidden_state"].Data;
        var actual = strassen["last_hidden_state"].Data;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (1 + Math.Abs(expected[i])));
        // HF's check for hidden states is 1e-4 + 1e-4·|e|; Strassen's rounding is a few 1e-6
        Assert.True(worst < 2e-5, $"Strassen differs from the plain GEMM by {worst:E2}");
        Assert.True(worst > 0, "no difference at all: Strassen did not run");
        // the 20-token sequence has no whole 128-token block: the plain GEMM's bits
        Assert.True(Rows(plain, sequences, 2).AsSpan().SequenceEqual(Rows(strassen, sequences, 2)));
    }
}

/// <summary>`distilbert bench --engine model-plain` times the same model without Strassen; a wrong engine is a named error.</summary>
[Collection(nameof(PipelineCliCollection))]
public class StrassenBenchCliTests
{
    static (int Code, string Output) Bench(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(["bench", .. args]);
        return (code, output + error);
    }

    [Fact]
    public void BothModelEnginesRunAndSayWhichTheyAre()
    {
        foreach (var (engine, name) in new[] { ("model", "inference-only)"), ("model-plain", "inference-only, plain GEMM)") })
        {
            var (code, output) = Bench("--engine", engine, "--batch", "1", "--seq", "128", "--threads", "2", "--warmup", "0", "--iterations", "1", "--json");
            Assert.Equal(0, code);
            using var json = System.Text.Json.JsonDocument.Parse(output);
            Assert.EndsWith(name, json.RootElement.GetProperty("engine").GetString());
            Assert.True(json.RootElement.GetProperty("median_ms").GetDouble() > 0);
            // the path actually taken: what tells a NativeAOT build's AVX-512 from its AVX2 (docs/native.md)
            Assert.Equal(DistilBert.Compute.ComputeDiagnostics.KernelPathName, json.RootElement.GetProperty("kernel_path").GetString());
        }
    }

    [Fact]
    public void AnUnknownEngineIsANamedError()
    {
        var (code, output) = Bench("--engine", "strassen");
        Assert.Equal(1, code);
        Assert.Contains("--engine must be model, model-plain or harness, got 'strassen'", output);
    }
}
