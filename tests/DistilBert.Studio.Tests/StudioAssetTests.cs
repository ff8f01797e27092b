using System.Net;
using System.Text.RegularExpressions;
using DistilBert.Server.Studio;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace DistilBert.Studio.Tests;

/// <summary>The web app's files as the server serves them (no browser needed): complete, typed, under the
/// Content-Security-Policy, and with no script that inserts markup.</summary>
public sealed partial class StudioAssetTests : IAsyncLifetime
{
    WebApplication _app = null!;
    HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        _app = builder.Build();
        _app.MapDistilBertStudioPages();
        await _app.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    [GeneratedRegex("""(?:src|href)="(/studio/assets/[^"]+)"|from '\./([^']+)'""")]
    private static partial Regex Reference();

    [Fact]
    public async Task Every_page_and_every_file_it_loads_is_served_typed_and_under_the_policy()
    {
        var pending = new Queue<string>(["/studio", "/studio/", "/studio/share/some-token"]);
        var seen = new HashSet<string>();
        while (pending.TryDequeue(out var path))
        {
            if (!seen.Add(path)) continue;
            using var response = await _client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            string type = response.Content.Headers.ContentType!.MediaType!;
            Assert.Equal(Path.GetExtension(path) switch { ".js" => "text/javascript", ".css" => "text/css", _ => "text/html" }, type);
            string policy = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("script-src 'self'", policy);
            Assert.Contains("default-src 'none'", policy);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            foreach (Match match in Reference().Matches(await response.Content.ReadAsStringAsync()))
                pending.Enqueue(match.Groups[1].Success ? match.Groups[1].Value : "/studio/assets/" + match.Groups[2].Value);
        }
        // Every shipped asset is loaded by a page (none is dead), and every one loaded is shipped (checked above).
        Assert.All(StudioPages.Files.Where(f => !f.EndsWith(".html", StringComparison.Ordinal)), f => Assert.Contains("/studio/" + f, seen));
    }

    [Fact]
    public async Task No_script_of_the_app_inserts_markup_or_evaluates_text()
    {
        var forbidden = new Regex(@"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\('on");
        foreach (string file in StudioPages.Files.Where(f => f.EndsWith(".js", StringComparison.Ordinal)))
        {
            string source = await _client.GetStringAsync("/studio/" + file);
            Assert.False(forbidden.IsMatch(source), $"{file}: {forbidden.Match(source).Value}");
        }
    }

    [Fact]
    public async Task A_file_that_is_not_in_the_app_is_not_found_and_HEAD_sends_no_body()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/studio/assets/nothing.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/studio/assets/..%2Fshare.html")).StatusCode);
        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/studio"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }
}
