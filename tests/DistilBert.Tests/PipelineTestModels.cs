using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>
/// Small random-weight DistilBERT models with the real 30522-token vocabulary, saved as HF folders in a temp
/// directory, for end-to-end pipeline tests (dim 16, 2 layers: fast, and the tokenizer sees real words).
/// </summary>
public sealed class PipelineTestModels : IDisposable
{
    readonly TempDirectory _tmp = new("pipelines");

    public string Root => _tmp.Path;

    public static readonly string[] NerLabels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];

    public string Classifier => folders.Value["cls"];
    public string Tagger => folders.Value["ner"];
    public string Reader => folders.Value["qa"];
    /// <summary>The golden real-vocab MLM checkpoint with vocab.txt beside it.</summary>
    public string MaskedLm => folders.Value["mlm"];

    readonly Lazy<Dictionary<string, string>> folders;

    public PipelineTestModels() => folders = new(Build);

    Dictionary<string, string> Build()
    {
        var result = new Dictionary<string, string>
        {
            ["cls"] = Create("cls", "DistilBertForSequenceClassification", ["NEGATIVE", "POSITIVE"], seed: 1),
            ["ner"] = Create("ner", "DistilBertForTokenClassification", NerLabels, seed: 2),
            ["qa"] = Create("qa", "DistilBertForQuestionAnswering", ["LABEL_0", "LABEL_1"], seed: 3),
        };
        var mlm = Path.Combine(Root, "mlm");
        Directory.CreateDirectory(mlm);
        foreach (var file in new[] { "config.json", "model.safetensors" })
            File.Copy(Fixtures.Golden("models", "distilbert_realvocab_e2e", file), Path.Combine(mlm, file));
        CopyVocab(mlm);
        result["mlm"] = mlm;
        return result;
    }

    string Create(string name, string architecture, string[] labels, ulong seed)
    {
        var config = new DistilBertConfig { Dim = 16, NLayers = 2, NHeads = 4, HiddenDim = 37, MaxPositionEmbeddings = 64, VocabSize = 30522 };
        config.Id2Label = new SortedDictionary<int, string>(labels.Select((l, i) => (i, l)).ToDictionary(p => p.i, p => p.l));
        config.Label2Id = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i);
        // A wide init makes the random heads decisive, so decoding has real maxima to find.
        config.InitializerRange = 0.5;
        var model = PretrainedModel.Create(config, architecture, seed);
        var folder = Path.Combine(Root, name);
        PretrainedModel.Save(model, folder);
        CopyVocab(folder);
        return folder;
    }

    static void CopyVocab(string folder)
    {
        foreach (var file in new[] { "vocab.txt", "tokenizer_config.json" })
            File.Copy(Fixtures.Golden("tokenizer", file), Path.Combine(folder, file), overwrite: true);
    }

    public void Dispose() => _tmp.Dispose();
}
