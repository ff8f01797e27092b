using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DistilBert.Tests;
using static DistilBert.Server.Tests.ServerFixture;

namespace DistilBert.Server.Tests;

/// <summary>Who holds the concurrency budget: slow clients against fast ones. Each test runs a server of its own with
/// small limits.</summary>
public sealed class ServerLifecycleTests
{
    const string Sentence = "a gorgeous, witty, seductive movie";

    [Fact]
    public async Task SlowTricklingClients_DoNotHoldTheConcurrencyBudget_FastClientsAreServedPromptly()
    {
        using var models = new PipelineTestModels();
        var options = new DistilBertServerOptions { MaxConcurrentRequests = 2, BodyReadTimeout = TimeSpan.FromSeconds(8) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        var (app, url) = await StartAsync(options);
        var slow = new List<RawHttpRequest>();
        try
        {
            // Three times the budget of clients that send their headers and a few bytes, then stall.
            for (int i = 0; i < 6; i++) slow.Add(await RawHttpRequest.StartAsync(url, "/predict", 1000, "{\"inputs\": \"a"));
            await Task.Delay(300);
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < 6; i++)
            {
                var (status, body, _) = await Post(client, "/predict", Body(new { inputs = $"{Sentence} {i}" }));
                Assert.True(status == 200, $"fast request {i}: {status} {body}");
            }
            // Served while the slow ones still trickle: long before their read timeout could have freed a slot.
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"fast requests took {watch.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            foreach (var request in slow) request.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task BodiesBeyondMaxConcurrentBodyReads_Get429_AndTheReaderSlotIsFreedWhenTheBodyArrives()
    {
        using var models = new PipelineTestModels();
        var options = new DistilBertServerOptions { MaxConcurrentBodyReads = 2, BodyReadTimeout = TimeSpan.FromSeconds(8) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        var (app, url) = await StartAsync(options);
        try
        {
            string body = Body(new { inputs = Sentence });
            int length = System.Text.Encoding.UTF8.GetByteCount(body);
            using var first = await RawHttpRequest.StartAsync(url, "/predict", length, body[..5]);
            using var second = await RawHttpRequest.StartAsync(url, "/predict", length, body[..5]);
            await Task.Delay(300);
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            var (status, text, response) = await Post(client, "/predict", body);
            Assert.True(status == 429, $"{status} {text}");
            Assert.Contains("receiving 2 request bodies at once", text);
            Assert.Equal("1", response.Headers.RetryAfter?.ToString());

            await first.SendAsync(body[5..]);
            Assert.StartsWith("HTTP/1.1 200", await first.ReadAnswerAsync());
            Assert.Equal(200, (await Post(client, "/predict", body)).Status); // the finished reader's slot is free again
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task MaxBatchRequestsOne_ServesConcurrentRequestsOnePerForwardPass()
    {
        using var models = new PipelineTestModels();
        var options = new DistilBertServerOptions { MaxBatchRequests = 1 };
        // A model name of its own: other tests' servers in this process report through the same meter.
        options.Models.Add(new ModelSource("unbatched", models.Classifier));
        var (app, url) = await StartAsync(options);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            const int Requests = 48;
            var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(i => Post(client, "/predict", Body(new { inputs = $"{Sentence} {i}" }))));
            Assert.All(answers, a => Assert.Equal(200, a.Status));
            string metrics = await client.GetStringAsync("/metrics");
            long Series(string name)
            {
                var match = Regex.Match(metrics, name + @"\{[^}]*model=""unbatched""[^}]*\} (\d+)");
                Assert.True(match.Success, $"no {name} for the model in /metrics");
                return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }
            // As many forward passes as requests, each of one input.
            Assert.Equal(Requests, Series("distilbert_batch_size_count"));
            Assert.Equal(Requests, Series("distilbert_batch_size_sum"));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    internal static async Task<(int Status, string Body, HttpResponseMessage Response)> Post(HttpClient client, string path, string json)
    {
        var response = await client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }
}
