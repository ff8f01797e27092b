using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using DistilBert.Pipelines;

namespace DistilBert.Cli.Output;

/// <summary>Writes one JSON value per line to stdout (results carry HF's field names through their attributes).</summary>
/// <remarks>Thread-safety: stateless apart from the shared, read-only options; callers serialise their own writes.</remarks>
public static class JsonLines
{
    /// <summary>The serializer options: non-ASCII text kept readable, NaN and infinities written as names.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // keep non-ASCII text readable
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // compile-time contracts only: the NativeAOT binary has no reflection-based serializer, so the JIT build uses
        // none either and a result type missing from the context fails in the tests, not in the native binary
        TypeInfoResolver = CliJsonContext.Default,
    };

    /// <summary>Writes <paramref name="value"/> as one JSON line to <paramref name="output"/>.</summary>
    public static void Write<T>(TextWriter output, T value) =>
        output.WriteLine(JsonSerializer.Serialize(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T))));
}

/// <summary>The JSON contracts of what the commands print with <c>--json</c>.</summary>
[JsonSerializable(typeof(IReadOnlyList<ClassificationResult>))]
[JsonSerializable(typeof(IReadOnlyList<TokenEntity>))]
[JsonSerializable(typeof(IReadOnlyList<AnswerResult>))]
[JsonSerializable(typeof(IReadOnlyList<FillMaskResult>))]
[JsonSerializable(typeof(IReadOnlyList<IReadOnlyList<FillMaskResult>>))]
[JsonSerializable(typeof(float[]))]
// eval's scores: a dictionary of numbers, strings and per-class lists of the same
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(List<Dictionary<string, object>>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>Builders for the one-off JSON summaries of the training commands: JsonNode trees need no reflection,
/// unlike serialising anonymous objects, so they also work in the NativeAOT binary.</summary>
internal static class JsonNodes
{
    public static JsonArray Array(IEnumerable<int> values) => new(values.Select(v => (JsonNode?)v).ToArray());

    public static JsonArray Array(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)v).ToArray());

    public static JsonObject? Numbers(IReadOnlyDictionary<string, double>? values) =>
        values is null ? null : new JsonObject(values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
}
