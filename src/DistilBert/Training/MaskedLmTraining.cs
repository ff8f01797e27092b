using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Training;

/// <summary>
/// Masked-LM pre-training on plain text lines (HF's run_mlm with grouped texts): every line is tokenized, the token
/// stream is cut into blocks of max length − 2 wrapped in [CLS] … [SEP]. Each batch is masked afresh (dynamic masking,
/// <see cref="MlmMasking"/>; Smoothing 0 picks targets uniformly like DataCollatorForLanguageModeling) with an RNG
/// seeded by (seed, epoch, batch), so a resumed run masks exactly as the uninterrupted one. Evaluation: masked-token
/// loss, perplexity and accuracy on the held-out blocks, masked with a fixed seed; the main metric is the loss.
/// </summary>
public sealed class MaskedLmTraining : ITrainingTask
{
    readonly int[][] _blocks;
    readonly int[][] _evalBlocks;
    readonly MlmMasking _masking;
    readonly int _evalBatchSize;

    public TransformerModel Model { get; }
    public IReadOnlyList<int> ExampleLengths { get; }
    public IReadOnlyList<string> FilesToCopy { get; }

    public MaskedLmTraining(TransformerModel model, WordPieceTokenizer tokenizer, IEnumerable<string> trainLines, IEnumerable<string>? evalLines,
        int maxLength, MlmMaskingOptions? masking = null, IReadOnlyList<string>? filesToCopy = null, int evalBatchSize = 16)
    {
        if (model.Head != ModelHead.MaskedLM)
            throw new InvalidInputException($"MLM training needs a …ForMaskedLM model, got {model.ArchitectureName}");
        if (maxLength < 3) throw new InvalidInputException($"max length must be at least 3 for MLM blocks, got {maxLength}");
        Model = model;
        model.MaskedLmLogitsOnlyAtLabels = true; // only masked positions enter the loss: skip the vocabulary projection elsewhere
        FilesToCopy = filesToCopy ?? [];
        _evalBatchSize = evalBatchSize;
        _blocks = Pack(tokenizer, trainLines, maxLength);
        _evalBlocks = evalLines is null ? [] : Pack(tokenizer, evalLines, maxLength);
        if (_blocks.Length == 0) throw new InvalidInputException("the MLM corpus has no tokens");
        ExampleLengths = Array.ConvertAll(_blocks, b => b.Length);
        var counts = new long[model.Config.VocabSize];
        Array.Fill(counts, 1);
        int[] special = [tokenizer.ClsId, tokenizer.SepId, tokenizer.PadId, tokenizer.MaskId, tokenizer.UnkId];
        _masking = new MlmMasking(counts, special, tokenizer.MaskId, masking ?? new MlmMaskingOptions { Smoothing = 0 });
    }

    /// <summary>Concatenates the lines' tokens and cuts them into [CLS] + (maxLength − 2 tokens) + [SEP] blocks (the last may be shorter).</summary>
    public static int[][] Pack(WordPieceTokenizer tokenizer, IEnumerable<string> lines, int maxLength)
    {
        var noSpecials = new EncodeOptions { AddSpecialTokens = false };
        var stream = new List<int>();
        foreach (var line in lines)
            if (!string.IsNullOrWhiteSpace(line)) stream.AddRange(tokenizer.Encode(line, null, noSpecials).Ids);
        int body = maxLength - 2;
        var blocks = new List<int[]>();
        for (int start = 0; start < stream.Count; start += body)
        {
            int n = Math.Min(body, stream.Count - start);
            var block = new int[n + 2];
            block[0] = tokenizer.ClsId;
            stream.CopyTo(start, block, 1, n);
            block[^1] = tokenizer.SepId;
            blocks.Add(block);
        }
        return blocks.ToArray();
    }

    public int Blocks => _blocks.Length;

    /// <summary>A masked copy of the blocks, with labels (original id at targets, −100 elsewhere).</summary>
    ModelInput Masked(int[][] blocks, IReadOnlyList<int> batch, Random random)
    {
        var sequences = batch.Select(i => (int[])blocks[i].Clone()).ToList();
        var input = ModelInput.FromSequences(sequences);
        var ids = input.InputIds; // the concatenated copy the model reads
        var labels = new int[ids.Length];
        var real = new bool[ids.Length];
        Array.Fill(real, true);
        _masking.Apply(ids, real, labels, random);
        input.Labels = Array.ConvertAll(labels, l => (long)l);
        return input;
    }

    public BatchResult ForwardBackward(int[] batch, float lossScale, BatchPosition position)
    {
        var random = new Random(HashCode(position.Seed, position.Epoch, position.BatchIndex));
        var input = Masked(_blocks, batch, random);
        var loss = Model.Forward(input).Loss!.Value;
        Model.Backward(lossScale);
        return new BatchResult(loss, input.Tokens);
    }

    // A stable mix (HashCode.Combine is randomised per process).
    static int HashCode(int seed, int epoch, int batch) => unchecked((seed * 1_000_003 + epoch) * 1_000_033 + batch);

    public EvaluationResult? Evaluate()
    {
        if (_evalBlocks.Length == 0) return null;
        double lossSum = 0;
        long targets = 0, correct = 0;
        int batchIndex = 0;
        foreach (var batch in Batching.Sequential(_evalBlocks.Length, _evalBatchSize))
        {
            var input = Masked(_evalBlocks, batch, new Random(HashCode(12345, -1, batchIndex++)));
            var output = Model.Forward(input);
            var logits = output["logits"].Data; // [tokens, vocab]
            int vocab = Model.Config.VocabSize;
            int count = 0;
            for (int t = 0; t < input.Labels!.Length; t++)
            {
                if (input.Labels[t] == -100) continue;
                count++;
                var row = logits.AsSpan(t * vocab, vocab);
                int best = 0;
                for (int v = 1; v < vocab; v++) if (row[v] > row[best]) best = v;
                if (best == input.Labels[t]) correct++;
            }
            if (count == 0) continue;
            lossSum += output.Loss!.Value * count; // the batch loss is a mean over its targets
            targets += count;
        }
        double meanLoss = targets == 0 ? double.NaN : lossSum / targets;
        return new EvaluationResult(new Dictionary<string, double>
        {
            ["loss"] = meanLoss, ["perplexity"] = Math.Exp(meanLoss), ["accuracy"] = targets == 0 ? 0 : (double)correct / targets,
        }, "loss", HigherIsBetter: false);
    }
}
