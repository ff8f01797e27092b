using DistilBert.Checkpoints;
using DistilBert.Modeling;
using DistilBert.Tokenization;

namespace DistilBert.Training;

/// <summary>A model ready to fine-tune, with its tokenizer and what had to be freshly initialised.</summary>
public sealed record TaskModel(TransformerModel Model, WordPieceTokenizer Tokenizer, IReadOnlyList<string> TokenizerFiles, IReadOnlyList<string> FreshParameters);

/// <summary>
/// Prepares a model folder for a task: the task's architecture of the same family (DistilBert…/Bert…), weights taken by
/// HF name from whatever the folder holds (a base model, an MLM checkpoint, or the task model itself), and a freshly
/// initialised head where the folder has none — or has one for a different label set (HF's ignore_mismatched_sizes).
/// </summary>
public static class TaskModels
{
    public static readonly string[] TokenizerFileNames = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <param name="head">the head to put on the folder's encoder (of the folder's family)</param>
    /// <param name="labels">label names for a classification head (id = index), or null to keep the folder's</param>
    /// <param name="tokenizerPath">a tokenizer folder, tokenizer.json or vocab.txt to use instead of the model folder's
    /// (a model from <c>distilbert init</c> has none); its files are copied into saved models</param>
    public static TaskModel Load(string folder, ModelHead head, IReadOnlyList<string>? labels = null, ulong seed = 42, string? tokenizerPath = null)
    {
        if (!Directory.Exists(folder)) throw new ModelFileException(folder, "model folder not found");
        var tokenizerSource = tokenizerPath ?? folder;
        var tokenizer = WordPieceTokenizer.Load(tokenizerSource);
        var (source, report) = PretrainedModel.Load(folder);
        if (!report.IsComplete) throw new ModelFileException(folder, $"incomplete checkpoint: {report}");

        var config = ModelConfig.Load(folder);
        if (labels is not null)
        {
            if (labels.Count == 0) throw new InvalidInputException("a classification head needs at least one label");
            config.Id2Label = new SortedDictionary<int, string>(labels.Select((l, i) => (l, i)).ToDictionary(p => p.i, p => p.l));
            config.Label2Id = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        }
        var model = PretrainedModel.Create(config, head, seed);
        var fresh = new List<string>();
        foreach (var p in model.Parameters)
        {
            if (!TryFind(source, p.Name, model.BaseModelPrefix, out var from) || !from.Shape.SequenceEqual(p.Shape)) { fresh.Add(p.Name); continue; }
            from.Value.CopyTo(p.Value, 0);
        }
        model.MarkWeightsChanged();
        var tokenizerFolder = Directory.Exists(tokenizerSource) ? tokenizerSource : Path.GetDirectoryName(Path.GetFullPath(tokenizerSource))!;
        var files = File.Exists(tokenizerSource) && !Directory.Exists(tokenizerSource)
            ? new List<string> { tokenizerSource }.Concat(new[] { "tokenizer_config.json", "special_tokens_map.json" }.Select(n => Path.Combine(tokenizerFolder, n)).Where(File.Exists)).Distinct().ToList()
            : TokenizerFileNames.Select(n => Path.Combine(tokenizerFolder, n)).Where(File.Exists).ToList();
        if (tokenizer.Vocab.Count > config.VocabSize)
            throw new InvalidInputException($"the tokenizer has {tokenizer.Vocab.Count} tokens but the model's vocab_size is {config.VocabSize}");
        return new TaskModel(model, tokenizer, files, fresh);
    }

    static bool TryFind(TransformerModel source, string name, string prefix, out Parameter parameter)
    {
        if (source.Parameters.TryGet(name, out parameter)) return true;
        // A base-model folder names its tensors without the task model's prefix.
        return name.StartsWith(prefix + ".", StringComparison.Ordinal) && source.Parameters.TryGet(name[(prefix.Length + 1)..], out parameter);
    }
}
