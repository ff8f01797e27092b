using System.Text.Json;
using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>
/// A model folder laid out as sentence-transformers saves one: the Transformer's files at the top (symbolic links, so a
/// large checkpoint is not copied), modules.json, 1_Pooling/config.json, optionally 2_Normalize and
/// sentence_bert_config.json.
/// </summary>
public static class SentenceTransformerFolders
{
    public static string Layout(string modelFolder, string target, string pooling = "mean", bool normalize = true, int? maxSeqLength = null,
        bool? doLowerCase = null, string? tokenizerConfigJson = null)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(modelFolder))
        {
            var link = Path.Combine(target, Path.GetFileName(file));
            if (tokenizerConfigJson is not null && Path.GetFileName(file) == "tokenizer_config.json") continue;
            File.CreateSymbolicLink(link, Path.GetFullPath(file));
        }
        if (tokenizerConfigJson is not null) File.WriteAllText(Path.Combine(target, "tokenizer_config.json"), tokenizerConfigJson);
        var modules = new List<object>
        {
            new { idx = 0, name = "0", path = "", type = "sentence_transformers.models.Transformer" },
            new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
        };
        if (normalize) modules.Add(new { idx = 2, name = "2", path = "2_Normalize", type = "sentence_transformers.models.Normalize" });
        File.WriteAllText(Path.Combine(target, "modules.json"), JsonSerializer.Serialize(modules));
        Directory.CreateDirectory(Path.Combine(target, "1_Pooling"));
        File.WriteAllText(Path.Combine(target, "1_Pooling", "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["word_embedding_dimension"] = ModelConfig.Load(modelFolder).HiddenSize,
            ["pooling_mode_cls_token"] = pooling == "cls",
            ["pooling_mode_mean_tokens"] = pooling == "mean",
            ["pooling_mode_max_tokens"] = pooling == "max",
            ["pooling_mode_mean_sqrt_len_tokens"] = pooling == "mean_sqrt_len_tokens",
            ["pooling_mode_weightedmean_tokens"] = pooling == "weightedmean",
            ["pooling_mode_lasttoken"] = pooling == "lasttoken",
            ["include_prompt"] = true,
        }));
        if (maxSeqLength is not null || doLowerCase is not null)
        {
            var config = new Dictionary<string, object?> { ["max_seq_length"] = maxSeqLength, ["do_lower_case"] = doLowerCase ?? false };
            File.WriteAllText(Path.Combine(target, "sentence_bert_config.json"), JsonSerializer.Serialize(config));
        }
        return target;
    }
}
