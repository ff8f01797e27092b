using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>A request the server refuses: the HTTP status, a message naming the culprit, TEI's error type and the field.</summary>
public sealed class ApiException(int status, string message, string errorType = "validation", string? field = null) : Exception(message)
{
    /// <summary>The HTTP status code the error is answered with.</summary>
    public int Status { get; } = status;
    /// <summary>TEI's error_type: validation, tokenizer, overloaded, empty, unhealthy, backend (plus unauthorized here).</summary>
    public string ErrorType { get; } = errorType;
    /// <summary>The JSON field at fault (a path such as <c>inputs[3]</c>), when there is one.</summary>
    public string? Field { get; } = field;
    /// <summary>For a 429: when to retry (the Retry-After header); default 1 s.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

/// <summary>Which client family a route serves: it decides the shape of error bodies.</summary>
internal enum ApiFamily { Tei, OpenAI, HuggingFace }

internal static class ApiErrors
{
    /// <summary>
    /// Writes an error. TEI and HF routes answer <c>application/problem+json</c> (RFC 9457) that also carries TEI's
    /// <c>error</c> and <c>error_type</c> fields, so TEI clients read it unchanged; OpenAI routes answer OpenAI's
    /// <c>{"error": {"message", "type", "param", "code"}}</c>, which its SDKs parse. Never a stack trace.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, ApiFamily family, ApiException error)
    {
        if (context.Response.HasStarted) return;
        context.Response.Clear();
        context.Response.StatusCode = error.Status;
        if (error.Status == 429)
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling((error.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (error.Status == 401) context.Response.Headers.WWWAuthenticate = "Bearer";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (family == ApiFamily.OpenAI)
            {
                context.Response.ContentType = "application/json";
                json.WriteStartObject("error");
                json.WriteString("message", error.Message);
                json.WriteString("type", error.Status switch
                {
                    401 => "authentication_error",
                    404 => "not_found_error",
                    429 => "rate_limit_error",
                    >= 500 => "server_error",
                    _ => "invalid_request_error",
                });
                if (error.Field is null) json.WriteNull("param"); else json.WriteString("param", error.Field);
                json.WriteString("code", error.ErrorType);
                json.WriteEndObject();
            }
            else
            {
                context.Response.ContentType = "application/problem+json";
                json.WriteString("type", "about:blank");
                json.WriteString("title", ReasonPhrase(error.Status));
                json.WriteNumber("status", error.Status);
                json.WriteString("detail", error.Message);
                json.WriteString("error", error.Message);
                json.WriteString("error_type", error.ErrorType);
                if (error.Field is not null) json.WriteString("field", error.Field);
            }
            json.WriteEndObject();
        }
        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }

    static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status),
    };
}
