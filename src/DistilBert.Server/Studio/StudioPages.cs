using System.Collections.Frozen;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace DistilBert.Server.Studio;

/// <summary>
/// Serves the Studio's web app (Studio/wwwroot, embedded in this assembly): <c>/studio</c>, <c>/studio/share/{token}</c>
/// and <c>/studio/assets/{file}</c>. Nothing is fetched from anywhere else at run time.
/// </summary>
/// <remarks>Thread-safety: the files are read once into an immutable table; any number of requests may be served at once.</remarks>
public static class StudioPages
{
    const string ResourcePrefix = "studio/";

    // The pages build their DOM from text nodes only; the policy also refuses inline scripts, inline styles and any
    // origin but ours, so a text that slipped through as markup still could not run or load anything.
    const string ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    sealed record Asset(byte[] Content, string ContentType);

    static readonly Lazy<FrozenDictionary<string, Asset>> Assets = new(Load);

    static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(StudioPages).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            string path = name[ResourcePrefix.Length..].Replace('\\', '/');
            assets[path] = new Asset(buffer.ToArray(), ContentTypeOf(path));
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    static string ContentTypeOf(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };

    /// <summary>The embedded files by path under wwwroot (for tests and diagnostics).</summary>
    public static IReadOnlyCollection<string> Files => Assets.Value.Keys;

    /// <summary>Maps the page and asset routes. The JSON API under /studio/api is mapped separately.</summary>
    public static IEndpointRouteBuilder MapDistilBertStudioPages(this IEndpointRouteBuilder app)
    {
        // Routing matches "/studio/" to the first template too. The token of a share page is read by its script from
        // the page's own URL; the server only serves the page.
        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/studio", methods, (HttpContext context) => ServeAsync(context, "index.html")).ExcludeFromDescription();
        app.MapMethods("/studio/share/{token}", methods, (HttpContext context, string token) => ServeAsync(context, "share.html")).ExcludeFromDescription();
        app.MapMethods("/studio/assets/{file}", methods, (HttpContext context, string file) => ServeAsync(context, "assets/" + file)).ExcludeFromDescription();
        return app;
    }

    static async Task ServeAsync(HttpContext context, string path)
    {
        if (!Assets.Value.TryGetValue(path, out var asset))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        var headers = context.Response.Headers;
        headers.ContentType = asset.ContentType;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // A share page's URL is its credential: it must not travel to other sites in a Referer header.
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        headers.ContentLength = asset.Content.Length;
        if (HttpMethods.IsHead(context.Request.Method)) return;
        await context.Response.Body.WriteAsync(asset.Content, context.RequestAborted);
    }
}
