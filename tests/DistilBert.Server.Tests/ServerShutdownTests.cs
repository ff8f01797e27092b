using DistilBert.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using static DistilBert.Server.Tests.ServerFixture;

namespace DistilBert.Server.Tests;

/// <summary>Shutdown: stop accepting, let the requests in flight finish with their answers, then stop the batchers.</summary>
public sealed class ServerShutdownTests
{
    const string Sentence = "a gorgeous, witty, seductive movie";

    /// <summary>
    /// The standalone server, and the server mounted in an app whose host registers its web server before
    /// <c>AddDistilBert</c> (the generic host's order, which stops hosted services in reverse: the batchers would stop
    /// first if they stopped in <c>StopAsync</c>).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Shutdown_StopsAccepting_AndARequestInFlightGetsItsAnswer_Not503(bool mounted)
    {
        using var models = new PipelineTestModels();
        var options = new DistilBertServerOptions { BodyReadTimeout = TimeSpan.FromSeconds(8), DrainTimeout = TimeSpan.FromSeconds(5) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        var (app, url) = mounted ? await StartMountedAsync(options) : ((IHost, string))await StartAsync(options);
        try
        {
            string body = Body(new { inputs = Sentence });
            using (var warm = new HttpClient { BaseAddress = new Uri(url) }) // the first request builds the endpoints
                Assert.Equal(200, (int)(await warm.PostAsync("/predict", new StringContent(body, System.Text.Encoding.UTF8, "application/json"))).StatusCode);
            // Half the body is sent before the stop begins, the rest after: the request was accepted, so it is answered.
            using var inFlight = await RawHttpRequest.StartAsync(url, "/predict", System.Text.Encoding.UTF8.GetByteCount(body), body[..10]);
            var runner = app.Services.GetRequiredService<RequestRunner>();
            for (int wait = 0; runner.Reading == 0 && wait < 500; wait++) await Task.Delay(10);
            Assert.Equal(1, runner.Reading);
            var stopping = app.StopAsync();
            await Task.Delay(500);
            Assert.False(stopping.IsCompleted, "the host stopped without waiting for the request in flight");

            // A new client is not served any more.
            using (var late = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(5) })
            {
                int lateStatus;
                try { lateStatus = (int)(await late.PostAsync("/predict", new StringContent(body, System.Text.Encoding.UTF8, "application/json"))).StatusCode; }
                catch (HttpRequestException) { lateStatus = 0; } // connection refused: the listener is closed
                Assert.True(lateStatus is 0 or 503, $"a request arriving during shutdown got {lateStatus}");
            }

            await inFlight.SendAsync(body[10..]);
            string answer = await inFlight.ReadAnswerAsync();
            Assert.True(answer.StartsWith("HTTP/1.1 200"), answer);
            var expected = Json(DistilBert.Pipelines.TextClassificationPipeline.Load(models.Classifier).Predict(Sentence, topK: null));
            Assert.Equal(expected, Normalise(RawHttpRequest.BodyOf(answer)));
            await stopping.WaitAsync(TimeSpan.FromSeconds(15));
        }
        finally
        {
            if (app is IAsyncDisposable disposable) await disposable.DisposeAsync(); else app.Dispose();
        }
    }

    /// <summary>An app of its own (generic host, web server registered first) that mounts the server with AddDistilBert/MapDistilBert.</summary>
    static async Task<(IHost App, string BaseUrl)> StartMountedAsync(DistilBertServerOptions options)
    {
        var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(logging => logging.ClearProviders())
            .ConfigureWebHostDefaults(web => web
                .UseUrls("http://127.0.0.1:0")
                .Configure(app => app.UseRouting().UseEndpoints(endpoints => endpoints.MapDistilBert())))
            .ConfigureServices(services =>
            {
                services.AddRouting();
                services.AddDistilBert(o =>
                {
                    o.Models.AddRange(options.Models);
                    o.BodyReadTimeout = options.BodyReadTimeout;
                    o.DrainTimeout = options.DrainTimeout;
                });
            })
            .Build();
        await host.StartAsync();
        var addresses = host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return (host, addresses.First().TrimEnd('/'));
    }

}
