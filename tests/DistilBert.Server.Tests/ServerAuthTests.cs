using System.Text.Json;
using DistilBert.Tests;

namespace DistilBert.Server.Tests;

/// <summary>API keys: the file holds only SHA-256 hashes; a request needs <c>Authorization: Bearer KEY</c>.</summary>
public sealed class ServerAuthTests
{
    [Fact]
    public async Task KeysFile_OnlyHashes_AndRequestsNeedAValidBearerKey()
    {
        using var models = new PipelineTestModels();
        using var tmp = new TempDirectory("server-keys");
        var keys = tmp.File("keys.txt");
        File.WriteAllText(keys, $"# team A\n{ApiKeys.HashLine("s3cret-A")}\n\n{ApiKeys.HashLine("s3cret-B").ToUpperInvariant()}\n");
        var options = new DistilBertServerOptions { ApiKeyHashes = ApiKeys.LoadHashes(keys) };
        options.Models.Add(new ModelSource("cls", models.Classifier));
        var (app, url) = await ServerFixture.StartAsync(options);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            const string body = "{\"inputs\": \"a fine film\"}";
            using var fixture = new ServerFixtureClient(client);

            var (missing, missingText) = await fixture.Post("/predict", body, null);
            Assert.Equal(401, missing);
            Assert.Contains("missing API key", JsonDocument.Parse(missingText).RootElement.GetProperty("error").GetString());
            var (wrong, wrongText) = await fixture.Post("/predict", body, "s3cret-C");
            Assert.Equal(401, wrong);
            Assert.Contains("invalid API key", wrongText);
            Assert.Equal(401, (await fixture.Post("/v1/embeddings", "{\"input\": \"a\"}", "nope")).Status);
            Assert.Equal(200, (await fixture.Post("/predict", body, "s3cret-A")).Status);
            Assert.Equal(200, (await fixture.Post("/predict", body, "s3cret-B")).Status);

            Assert.Equal(200, (int)(await client.GetAsync("/health")).StatusCode); // probes need no key
            Assert.Equal(401, (int)(await client.GetAsync("/metrics")).StatusCode);
            Assert.Equal(401, (int)(await client.GetAsync("/info")).StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public void KeysFile_WithAPlainKey_IsRefusedNamingTheLine()
    {
        using var tmp = new TempDirectory("server-keys");
        var keys = tmp.File("keys.txt");
        File.WriteAllText(keys, $"{ApiKeys.HashLine("x")}\nmy-plain-key\n");
        var error = Assert.Throws<DataFileException>(() => ApiKeys.LoadHashes(keys));
        Assert.Contains("keys.txt:2", error.Message);
        Assert.Contains("SHA-256", error.Message);
        File.WriteAllText(keys, "# nothing\n");
        Assert.Contains("holds no hash", Assert.Throws<DataFileException>(() => ApiKeys.LoadHashes(keys)).Message);
    }

    sealed class ServerFixtureClient(HttpClient client) : IDisposable
    {
        public async Task<(int Status, string Body)> Post(string path, string json, string? key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
            if (key is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            var response = await client.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        public void Dispose() { }
    }
}
