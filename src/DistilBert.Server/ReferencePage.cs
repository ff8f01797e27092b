using System.Net;

namespace DistilBert.Server;

/// <summary>A self-contained API reference page (/docs): it reads the OpenAPI document and lists the routes. No script
/// comes from elsewhere, so it works offline and behind a strict firewall.</summary>
internal static class ReferencePage
{
    public static string Html(string documentPath) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>DistilBert.NET server API</title>
        <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}td,th{padding:.3em .8em;text-align:left;vertical-align:top}
        code{background:#f3f3f3;padding:0 .2em}tr:nth-child(even){background:#fafafa}</style></head>
        <body><h1>DistilBert.NET server</h1>
        <p>OpenAPI document: <a href="{{WebUtility.HtmlEncode(documentPath)}}"><code>{{WebUtility.HtmlEncode(documentPath)}}</code></a></p>
        <table id="routes"><tr><th>method</th><th>path</th><th>group</th><th>what</th></tr></table>
        <script>
        fetch({{System.Text.Json.JsonSerializer.Serialize(documentPath)}}).then(r => r.json()).then(doc => {
          const table = document.getElementById('routes');
          for (const [path, item] of Object.entries(doc.paths || {}))
            for (const [method, op] of Object.entries(item)) {
              const row = table.insertRow();
              for (const text of [method.toUpperCase(), path, (op.tags || []).join(', '), op.summary || ''])
                row.insertCell().textContent = text;
            }
        });
        </script></body></html>
        """;
}
