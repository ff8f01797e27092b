using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>
/// Reads a request body as one JSON object, bounded in size and time, and reads its fields with errors that name the
/// field and the type found ("field 'truncate' must be a boolean, got a string").
/// </summary>
internal static class RequestBody
{
    public static async Task<JsonElement> ReadObjectAsync(HttpContext context, DistilBertServerOptions options)
    {
        long limit = options.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
            throw new ApiException(413, $"the request body is {context.Request.ContentLength} bytes; the limit is {limit}", "validation");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(options.BodyReadTimeout);
        var buffer = new ArrayBufferWriter<byte>(4096);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(16384);
                int read = await context.Request.Body.ReadAsync(memory, timeout.Token);
                if (read == 0) break;
                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                    throw new ApiException(413, $"the request body is larger than the limit of {limit} bytes", "validation");
            }
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            throw new ApiException(408, $"the request body did not arrive within {options.BodyReadTimeout.TotalSeconds:0.#} s", "validation");
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, $"the request body could not be read: {e.Message}", "validation");
        }
        if (buffer.WrittenCount == 0) throw new ApiException(400, "the request body is empty; expected a JSON object", "validation");
        try
        {
            using var document = JsonDocument.Parse(buffer.WrittenMemory, new JsonDocumentOptions { MaxDepth = 16 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ApiException(400, $"the request body must be a JSON object, got {Kind(document.RootElement)}", "validation");
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"malformed JSON: {e.Message}", "validation");
        }
    }

    public static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    static ApiException WrongType(string path, string expected, JsonElement got) =>
        new(400, $"field '{path}' must be {expected}, got {Kind(got)}", "validation", path);

    /// <summary>The field, or null when it is absent or JSON null.</summary>
    public static JsonElement? Field(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static JsonElement Required(JsonElement obj, string name, string path) =>
        Field(obj, name) ?? throw new ApiException(400, $"field '{path}' is missing", "validation", path);

    public static bool Bool(JsonElement obj, string name, bool fallback, string? path = null)
    {
        if (Field(obj, name) is not { } value) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(path ?? name, "a boolean", value),
        };
    }

    public static int? Int(JsonElement obj, string name, string? path = null, int min = int.MinValue)
    {
        if (Field(obj, name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number))
            throw WrongType(path ?? name, "an integer", value);
        if (number < min) throw new ApiException(422, $"field '{path ?? name}' must be at least {min}, got {number}", "validation", path ?? name);
        return number;
    }

    public static string? String(JsonElement obj, string name, string? path = null)
    {
        if (Field(obj, name) is not { } value) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw WrongType(path ?? name, "a string", value);
    }

    public static string StringValue(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw WrongType(path, "a string", value);

    /// <summary>A string or an array of strings (TEI's and OpenAI's <c>input(s)</c>); <paramref name="single"/> tells which.</summary>
    public static string[] StringOrStrings(JsonElement obj, string name, out bool single)
    {
        var value = Required(obj, name, name);
        if (value.ValueKind == JsonValueKind.String) { single = true; return [value.GetString()!]; }
        if (value.ValueKind != JsonValueKind.Array) throw WrongType(name, "a string or an array of strings", value);
        single = false;
        var texts = new string[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray()) { texts[i] = StringValue(item, $"{name}[{i}]"); i++; }
        return texts;
    }

    /// <summary>An optional array of strings.</summary>
    public static string[]? Strings(JsonElement obj, string name, string? path = null)
    {
        if (Field(obj, name) is not { } value) return null;
        path ??= name;
        if (value.ValueKind == JsonValueKind.String) return [value.GetString()!];
        if (value.ValueKind != JsonValueKind.Array) throw WrongType(path, "an array of strings", value);
        var result = new string[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray()) { result[i] = StringValue(item, $"{path}[{i}]"); i++; }
        return result;
    }

    /// <summary>A nested object field (HF's <c>parameters</c>); an empty object when absent.</summary>
    public static JsonElement Object(JsonElement obj, string name)
    {
        if (Field(obj, name) is not { } value) return EmptyObject;
        return value.ValueKind == JsonValueKind.Object ? value : throw WrongType(name, "an object", value);
    }

    static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
}
