using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistilBert.Server.Studio;
using DistilBert.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace DistilBert.Server.Tests;

/// <summary>A real server with the Studio on (Kestrel on a loopback port, a SQLite file in a temp folder) over the small
/// random-weight task models, one per template; and helpers to call its API.</summary>
public sealed class StudioFixture : IAsyncLifetime
{
    public PipelineTestModels Models { get; } = new();
    readonly TempDirectory _folder = new("studio");
    public string DatabasePath => Path.Combine(_folder.Path, "studio.db");
    public WebApplication App { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";
    public string AdminKey { get; private set; } = "";
    int _names;

    public async Task InitializeAsync()
    {
        var announced = new List<string>();
        var studio = new StudioOptions { DatabasePath = DatabasePath, AnnounceAdminKey = announced.Add };
        App = DistilBertServer.Build(ServerFixture.Options(Models), ["http://127.0.0.1:0"],
            logging => logging.SetMinimumLevel(LogLevel.Warning), studio);
        await App.StartAsync();
        BaseUrl = App.Urls.First().TrimEnd('/');
        AdminKey = announced.Single()["studio admin key: ".Length..];
    }

    public async Task DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Models.Dispose();
        _folder.Dispose();
    }

    /// <summary>A name no other test uses.</summary>
    public string NewName(string stem) => $"{stem}-{Interlocked.Increment(ref _names)}";

    public Task<StudioResponse> Call(HttpMethod method, string path, string? key, object? body = null) => StudioHttp.Call(BaseUrl, method, path, key, body);

    /// <summary>Creates an endpoint; its keys and the created endpoint's JSON.</summary>
    public async Task<(string Caller, string Reviewer, JsonNode Endpoint)> CreateAsync(string name, string template, object? security = null, object? review = null,
        object? parameters = null)
    {
        var response = await Call(HttpMethod.Post, "/studio/api/endpoints", AdminKey,
            new { name, template, parameters, security = security ?? new { }, review = review ?? new { } });
        Assert.True(response.Status == 201, response.Body);
        return (response.Json!["callerKeys"]![0]!.GetValue<string>(), response.Json["reviewerKeys"]![0]!.GetValue<string>(), response.Json["endpoint"]!);
    }
}

public sealed record StudioResponse(int Status, string Body, HttpResponseMessage Message)
{
    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);
    /// <summary>The problem's <c>detail</c> (the message naming the field).</summary>
    public string Detail => Json?["detail"]?.GetValue<string>() ?? "";
}

public static class StudioHttp
{
    static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<StudioResponse> Call(string baseUrl, HttpMethod method, string path, string? key, object? body = null)
    {
        using var request = new HttpRequestMessage(method, baseUrl + path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null)
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body, body.GetType()), Encoding.UTF8, "application/json");
        var response = await Client.SendAsync(request);
        return new StudioResponse((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }
}

/// <summary><c>distilbert serve --studio</c> as a real process: started, its admin key and URL read from stdout, killed.</summary>
public sealed class StudioProcess : IDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();
    public string Url { get; }
    /// <summary>The admin key the server printed, when it made one.</summary>
    public string? AdminKey { get; }

    StudioProcess(Process process, string url, string? adminKey)
    {
        _process = process;
        Url = url;
        AdminKey = adminKey;
    }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public static async Task<StudioProcess> StartAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Cli, "serve", "--studio", "--port", "0", "--threads", "1" }.Concat(args)) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        string? adminKey = null;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { listening.TrySetException(new InvalidOperationException("serve exited: " + output)); return; }
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("studio admin key: ")) adminKey = e.Data["studio admin key: ".Length..];
            if (e.Data.StartsWith("listening on ")) listening.TrySetResult(e.Data["listening on ".Length..]);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var url = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var started = new StudioProcess(process, url.TrimEnd('/'), adminKey);
            lock (output) started._output.Append(output);
            return started;
        }
        catch
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            throw;
        }
    }

    public static string Cli => typeof(DistilBert.Cli.Program).Assembly.Location;

    /// <summary>Runs a <c>distilbert</c> command to its end: exit code and everything it printed.</summary>
    public static (int Code, string Output) RunCli(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Cli }.Concat(args)) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "the command did not finish");
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>SIGKILL: no shutdown code runs, as a crash or an OOM kill.</summary>
    public void KillHard()
    {
        Process.Start("kill", ["-9", _process.Id.ToString()])!.WaitForExit();
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}
