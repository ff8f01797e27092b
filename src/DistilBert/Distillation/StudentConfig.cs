using System.Text.Json.Nodes;
using DistilBert.Modeling;

namespace DistilBert.Distillation;

/// <summary>
/// The DistilBERT config.json of a student initialised from a BERT teacher: the teacher's sizes, vocabulary,
/// activation and dropouts, with its own depth. DistilBERT hard-codes LayerNorm eps 1e-12 and has no token types;
/// both are reported to the caller when the teacher differs.
/// </summary>
public static class StudentConfig
{
    /// <param name="teacherConfigJson">the teacher's config.json text</param>
    /// <param name="teacherConfigPath">where it came from, for error messages</param>
    public static (JsonObject Config, IReadOnlyList<string> Notes) FromTeacher(string teacherConfigJson, string teacherConfigPath, int studentLayers, bool masks)
    {
        JsonObject teacher;
        try
        {
            teacher = JsonNode.Parse(teacherConfigJson) as JsonObject
                ?? throw new ModelFileException(teacherConfigPath, "config.json is not a JSON object");
        }
        catch (System.Text.Json.JsonException e) { throw new ModelFileException(teacherConfigPath, $"invalid JSON: {e.Message}", e); }

        string modelType = teacher["model_type"]?.GetValue<string>() ?? "";
        if (modelType != "bert") throw new ModelFileException(teacherConfigPath, $"model_type is '{modelType}': a student can be extracted from a BERT teacher only");

        var notes = new List<string>();
        JsonNode? Field(string name, JsonNode? fallback)
        {
            var v = teacher[name];
            return v is null ? fallback : v.DeepClone();
        }
        double eps = teacher["layer_norm_eps"]?.GetValue<double>() ?? 1e-12;
        if (eps != 1e-12) notes.Add($"the teacher's layer_norm_eps is {eps}; DistilBERT always uses 1e-12");
        if ((teacher["type_vocab_size"]?.GetValue<int>() ?? 2) > 0)
            notes.Add("token-type embeddings are dropped: DistilBERT has none (HF's extraction does the same)");

        var config = new JsonObject
        {
            ["activation"] = Field("hidden_act", "gelu"),
            ["architectures"] = new JsonArray(new ModelArchitecture(ModelFamily.DistilBert, masks ? ModelHead.MaskedLM : ModelHead.Base).Name),
            ["attention_dropout"] = Field("attention_probs_dropout_prob", 0.1),
            ["dim"] = Field("hidden_size", 768),
            ["dropout"] = Field("hidden_dropout_prob", 0.1),
            ["hidden_dim"] = Field("intermediate_size", 3072),
            ["initializer_range"] = Field("initializer_range", 0.02),
            ["max_position_embeddings"] = Field("max_position_embeddings", 512),
            ["model_type"] = "distilbert",
            ["n_heads"] = Field("num_attention_heads", 12),
            ["n_layers"] = studentLayers,
            ["pad_token_id"] = Field("pad_token_id", 0),
            ["qa_dropout"] = 0.1,
            ["seq_classif_dropout"] = 0.2,
            ["sinusoidal_pos_embds"] = false,
            ["tie_weights_"] = true,
            ["torch_dtype"] = "float32",
            ["vocab_size"] = Field("vocab_size", 30522),
        };
        foreach (var key in new[] { "id2label", "label2id", "problem_type" })
            if (teacher[key] is { } v) config[key] = v.DeepClone();
        return (config, notes);
    }
}
