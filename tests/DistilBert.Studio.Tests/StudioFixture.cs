using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistilBert.Server;
using DistilBert.Server.Studio;
using DistilBert.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace DistilBert.Studio.Tests;

/// <summary>
/// One real server (Kestrel on a free loopback port) with the Studio over the small random-weight task models, and one
/// headless Debian chromium for the whole class; each test opens its own browser context and page.
/// </summary>
public sealed class StudioFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public static bool HasChromium => File.Exists(ChromiumPath);
    public const string NoChromium = "no " + ChromiumPath + " on this machine (apt-get install chromium; .ci/run installs it)";

    // Without these, Chromium calls home (updates, safe browsing, sync, QUIC probes) on a network that has no route out.
    static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    public PipelineTestModels Models { get; } = new();
    readonly TempDirectory _data = new("studio");
    public string DataPath => _data.Path;
    public WebApplication App { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";
    public string AdminKey { get; private set; } = "";
    IPlaywright? _playwright;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!HasChromium) return;
        (App, BaseUrl, AdminKey) = await StartServerAsync(Models, _data.File("studio.db"));
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
    }

    /// <summary>A server with every task's model and the Studio on the SQLite file <paramref name="database"/> or the PostgreSQL
    /// database <paramref name="postgres"/>; answers the admin key it printed (empty when the store had one already).</summary>
    public static async Task<(WebApplication App, string BaseUrl, string AdminKey)> StartServerAsync(PipelineTestModels models, string? database,
        string? postgres = null)
    {
        var options = new DistilBertServerOptions { BodyReadTimeout = TimeSpan.FromSeconds(5) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        options.Models.Add(new ModelSource("ner", models.Tagger));
        options.Models.Add(new ModelSource("qa", models.Reader));
        options.Models.Add(new ModelSource("mlm", models.MaskedLm));
        options.Models.Add(new ModelSource("emb", models.Classifier, ModelTask.FeatureExtraction));
        string adminKey = "";
        var studio = new StudioOptions
        {
            DatabasePath = database ?? "",
            PostgresConnectionString = postgres,
            AnnounceAdminKey = line => adminKey = line["studio admin key: ".Length..],
        };
        var app = DistilBertServer.Build(options, ["http://127.0.0.1:0"], logging => logging.SetMinimumLevel(LogLevel.Warning), studio);
        await app.StartAsync();
        return (app, app.Urls.First().TrimEnd('/'), adminKey);
    }

    /// <summary>An HTTP client of the server with <paramref name="key"/> as its Bearer token (none: no key).</summary>
    public HttpClient Client(string? key = null, string? baseUrl = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl ?? BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Creates an endpoint through the API (the form has its own test); answers its caller and reviewer keys.</summary>
    public async Task<(string CallerKey, string ReviewerKey)> CreateEndpointAsync(string name, string template, double threshold = 0.0,
        string mode = "hold", string storeInputs = "on", int rateLimitPerMinute = 600, string? baseUrl = null, string? adminKey = null)
    {
        using var admin = Client(adminKey ?? AdminKey, baseUrl);
        var body = new
        {
            name, template,
            security = new { callerKeys = 1, rateLimitPerMinute, maxInputChars = 2000, storeInputs },
            review = new { enabled = threshold > 0, threshold, auditRate = 0.0, mode, reviewerKeys = 1 },
        };
        var response = await admin.PostAsJsonAsync("/studio/api/endpoints", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, text);
        var created = JsonNode.Parse(text)!;
        return (created["callerKeys"]![0]!.GetValue<string>(), created["reviewerKeys"]![0]!.GetValue<string>());
    }

    /// <summary>Where a test writes its page's screenshot when DISTILBERT_STUDIO_SCREENSHOTS names a folder (docs/studio).</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        if (Environment.GetEnvironmentVariable("DISTILBERT_STUDIO_SCREENSHOTS") is not { Length: > 0 } folder) return;
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    /// <summary>A fresh browser context (its own sessionStorage) and page; with the admin key already typed when asked.</summary>
    public async Task<IPage> NewPageAsync(bool signedIn = true, string? baseUrl = null, string? adminKey = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl ?? BaseUrl,
            ViewportSize = new ViewportSize { Width = 1200, Height = 900 },
            AcceptDownloads = true,
        });
        context.SetDefaultTimeout(10_000);
        if (signedIn)
            await context.AddInitScriptAsync($"sessionStorage.setItem('distilbert.studio.adminKey', {JsonSerializer.Serialize(adminKey ?? AdminKey)});");
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
        Models.Dispose();
        _data.Dispose();
    }
}
