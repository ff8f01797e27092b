namespace DistilBert.Modeling;

/// <summary>The encoder a model is built on (config.json's model_type).</summary>
public enum ModelFamily { DistilBert, Bert }

/// <summary>What sits on the encoder: HF's class suffix (…Model, …ForMaskedLM, …).</summary>
public enum ModelHead { Base, MaskedLM, SequenceClassification, TokenClassification, QuestionAnswering }

/// <summary>
/// An HF architecture as (family, head): the one place HF's class names ("DistilBertForQuestionAnswering") are spelled
/// and parsed, so the rest of the code dispatches on the enums instead of on strings.
/// </summary>
/// <remarks>Thread-safety: an immutable value; safe from many threads.</remarks>
public readonly record struct ModelArchitecture(ModelFamily Family, ModelHead Head)
{
    /// <summary>Every architecture there is a model class for, DistilBERT's first, heads in enum order.</summary>
    public static IReadOnlyList<ModelArchitecture> All { get; } =
        [.. from family in Enum.GetValues<ModelFamily>() from head in Enum.GetValues<ModelHead>() select new ModelArchitecture(family, head)];

    /// <summary>HF's class name, e.g. BertForTokenClassification.</summary>
    public string Name => FamilyPrefix(Family) + HeadSuffix(Head);

    public override string ToString() => Name;

    /// <summary>The part of HF's class name after the family: "Model", "ForMaskedLM", "ForSequenceClassification"...</summary>
    public static string HeadSuffix(ModelHead head) => head switch
    {
        ModelHead.Base => "Model",
        ModelHead.MaskedLM => "ForMaskedLM",
        ModelHead.SequenceClassification => "ForSequenceClassification",
        ModelHead.TokenClassification => "ForTokenClassification",
        ModelHead.QuestionAnswering => "ForQuestionAnswering",
        _ => throw new ArgumentOutOfRangeException(nameof(head), head, null),
    };

    static string FamilyPrefix(ModelFamily family) => family switch
    {
        ModelFamily.DistilBert => "DistilBert",
        ModelFamily.Bert => "Bert",
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
    };

    /// <summary>The architecture HF's class <paramref name="name"/> stands for; false for a class there is no model for.</summary>
    public static bool TryParse(string? name, out ModelArchitecture architecture)
    {
        foreach (var candidate in All)
            if (string.Equals(candidate.Name, name, StringComparison.Ordinal))
            {
                architecture = candidate;
                return true;
            }
        architecture = default;
        return false;
    }

    /// <summary>The architecture HF's class <paramref name="name"/> stands for, or an error listing the supported ones.</summary>
    public static ModelArchitecture Parse(string name) =>
        TryParse(name, out var architecture) ? architecture
            : throw new InvalidInputException($"'{name}' is not a supported architecture (supported: {string.Join(", ", All)})");

    /// <summary>The family of a config's model_type.</summary>
    public static ModelFamily FamilyOf(ModelConfig config) => config is BertConfig ? ModelFamily.Bert : ModelFamily.DistilBert;

    /// <summary>The base model (no head) of a config's family.</summary>
    public static ModelArchitecture BaseOf(ModelConfig config) => new(FamilyOf(config), ModelHead.Base);

    /// <summary>The class config.json names: its first architectures entry, else its family's base model (as HF's AutoModel).</summary>
    public static string NameIn(ModelConfig config) => config.Architectures is { Count: > 0 } a ? a[0] : BaseOf(config).Name;
}
