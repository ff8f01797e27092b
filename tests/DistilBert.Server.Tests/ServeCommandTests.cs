using System.Diagnostics;
using System.Text;
using DistilBert.Tests;

namespace DistilBert.Server.Tests;

/// <summary>`distilbert serve` as a process: loopback only without keys, texts kept out of the log, SIGTERM drains and exits 0.</summary>
public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_ListensOnLoopback_KeepsTextsOutOfTheLog_AndExitsZeroOnSigterm()
    {
        using var models = new PipelineTestModels();
        var cli = typeof(DistilBert.Cli.Program).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { cli, "serve", "--port", "0", "--model", $"cls={models.Classifier}", "--threads", "1" }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("listening on ")) listening.TrySetResult(e.Data["listening on ".Length..]);
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var url = await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.StartsWith("http://127.0.0.1:", url);
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            var answer = await client.PostAsync("/predict", new StringContent("{\"inputs\": \"my secret diary entry\"}", Encoding.UTF8, "application/json"));
            Assert.Equal(200, (int)answer.StatusCode);

            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            Assert.True(process.WaitForExit(30_000), "serve did not stop on SIGTERM");
            process.WaitForExit();
            string log;
            lock (output) log = output.ToString();
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {log}");
            Assert.Contains("request 1 /predict 200 model=cls", log);
            Assert.DoesNotContain("secret diary", log);
            Assert.Contains("batch queues drained", log);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
