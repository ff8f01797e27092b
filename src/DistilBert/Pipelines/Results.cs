using System.Text.Json.Serialization;

namespace DistilBert.Pipelines;

// Result records carry Hugging Face's pipeline field names (via JsonPropertyName), so `--json` output reads the same
// as transformers' pipelines to a Python user.

/// <summary>One fill-mask proposal: probability, token id, token text and the completed sequence.</summary>
public sealed record FillMaskResult(
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("token")] int Token,
    [property: JsonPropertyName("token_str")] string TokenStr,
    [property: JsonPropertyName("sequence")] string Sequence);

/// <summary>One label with its score (probability after softmax/sigmoid, or the raw logit for regression).</summary>
public sealed record ClassificationResult(
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("score")] float Score);

/// <summary>
/// A token-classification result. With aggregation "none" it is one token: <see cref="Entity"/> (the label) and
/// <see cref="Index"/> (token position in its window) are set. Otherwise it is a group: <see cref="EntityGroup"/>
/// (the label without its B-/I- prefix) is set. Start/End are character offsets into the input text.
/// </summary>
public sealed record TokenEntity
{
    /// <summary>The token's label (aggregation none), else null.</summary>
    /// <summary>The group's label without its B-/I- prefix (any aggregation but none), else null.</summary>
    /// <summary>The label's probability (for a group, by the aggregation strategy).</summary>
    /// <summary>The token's position in its window (aggregation none), else null.</summary>
    /// <summary>The token or the group's words as they appear in the text.</summary>
    /// <summary>Start of the entity in the input text, in UTF-16 characters.</summary>
    /// <summary>End (exclusive) of the entity in the input text, in UTF-16 characters.</summary>
    [JsonPropertyName("entity"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Entity { get; init; }
    [JsonPropertyName("entity_group"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? EntityGroup { get; init; }
    [JsonPropertyName("score")] public float Score { get; init; }
    [JsonPropertyName("index"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? Index { get; init; }
    [JsonPropertyName("word")] public string Word { get; init; } = "";
    [JsonPropertyName("start")] public int Start { get; init; }
    [JsonPropertyName("end")] public int End { get; init; }

    /// <summary>The label (entity) or group label (entity_group), whichever is set.</summary>
    [JsonIgnore] public string Label => EntityGroup ?? Entity ?? "";
}

/// <summary>An extractive answer: probability, character span in the context, and its text.</summary>
public sealed record AnswerResult(
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("start")] int Start,
    [property: JsonPropertyName("end")] int End,
    [property: JsonPropertyName("answer")] string Answer);
