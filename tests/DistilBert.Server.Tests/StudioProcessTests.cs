using System.Text.Json.Nodes;
using DistilBert.Tests;
using static System.Net.Http.HttpMethod;

namespace DistilBert.Server.Tests;

/// <summary><c>distilbert serve --studio</c> as real processes: killed with SIGKILL while items are pending, and two
/// servers sharing one PostgreSQL database.</summary>
public sealed class StudioProcessTests(PostgresCluster cluster) : IClassFixture<PostgresCluster>
{
    const string Api = "/studio/api";

    static async Task<(string Caller, string Reviewer)> CreateHeldEndpointAsync(string url, string admin, string name)
    {
        var created = await StudioHttp.Call(url, Post, $"{Api}/endpoints", admin,
            new { name, template = "sentiment", security = new { storeInputs = "on", rateLimitPerMinute = 1000 }, review = new { threshold = 1.0, mode = "hold" } });
        Assert.True(created.Status == 201, created.Body);
        return (created.Json!["callerKeys"]![0]!.GetValue<string>(), created.Json["reviewerKeys"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task KillDashNine_WithItemsPending_ThenRestart_EveryItemIsThere_NoneTwice()
    {
        using var models = new PipelineTestModels();
        using var folder = new TempDirectory("studio-kill");
        string db = Path.Combine(folder.Path, "studio.db");
        string[] args = ["--model", $"cls={models.Classifier}", "--studio-db", db];
        string admin;
        string reviewer;
        var ids = new List<string>();
        using (var first = await StudioProcess.StartAsync(args))
        {
            admin = first.AdminKey ?? throw new InvalidOperationException("no admin key printed: " + first.Output);
            (string caller, reviewer) = await CreateHeldEndpointAsync(first.Url, admin, "durable");
            var runs = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                StudioHttp.Call(first.Url, Post, $"{Api}/endpoints/durable/run", caller, new { inputs = $"pending text number {i}" })));
            Assert.All(runs, r => Assert.Equal(202, r.Status));
            ids.AddRange(runs.Select(r => r.Json!["review"]!["id"]!.GetValue<string>()));
            first.KillHard(); // the answers were sent: each item must have been committed before
        }
        using var second = await StudioProcess.StartAsync(args);
        Assert.Null(second.AdminKey); // the store has one: no new key is made or printed
        var queue = await StudioHttp.Call(second.Url, Get, $"{Api}/endpoints/durable/reviews?status=all", reviewer);
        Assert.Equal(200, queue.Status);
        var items = queue.Json!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(), items.Order());
        Assert.Equal(8, items.Distinct().Count());
        Assert.All(queue.Json.AsArray(), i => Assert.Equal("pending", i!["status"]!.GetValue<string>()));
        Assert.Equal(200, (await StudioHttp.Call(second.Url, Get, $"{Api}/endpoints", admin)).Status);
    }

    [SkippableFact]
    public async Task TwoServersSharingPostgres_AnItemHeldThroughOneIsReviewedThroughTheOther()
    {
        Skip.If(cluster.SkipReason is not null, cluster.SkipReason);
        string connection = await cluster.NewDatabaseAsync();
        using var models = new PipelineTestModels();
        using var folder = new TempDirectory("studio-pg");
        // An admin key given by file, so the two servers can start at once (neither makes one).
        string admin = DistilBert.Server.Studio.StudioKeys.NewKey(), adminFile = Path.Combine(folder.Path, "admin-keys");
        File.WriteAllText(adminFile, ApiKeys.HashLine(admin) + "\n");
        string[] args = ["--model", $"cls={models.Classifier}", "--studio-postgres", connection, "--admin-keys", adminFile];
        var starting = new[] { StudioProcess.StartAsync(args), StudioProcess.StartAsync(args) };
        try { await Task.WhenAll(starting); }
        catch
        {
            foreach (var start in starting) if (start.IsCompletedSuccessfully) start.Result.Dispose();
            throw;
        }
        using var one = starting[0].Result;
        using var two = starting[1].Result;
        Assert.Null(one.AdminKey);

        var (caller, reviewer) = await CreateHeldEndpointAsync(one.Url, admin, "shared-queue");
        var held = await StudioHttp.Call(one.Url, Post, $"{Api}/endpoints/shared-queue/run", caller, new { inputs = "held through server one" });
        Assert.Equal(202, held.Status);
        string id = held.Json!["review"]!["id"]!.GetValue<string>();

        var queue = await StudioHttp.Call(two.Url, Get, $"{Api}/endpoints/shared-queue/reviews", reviewer);
        Assert.Equal(id, Assert.Single(queue.Json!.AsArray())!["id"]!.GetValue<string>());
        string label = queue.Json[0]!["output"]![0]!["label"]!.GetValue<string>() == "POSITIVE" ? "NEGATIVE" : "POSITIVE";
        Assert.Equal(200, (await StudioHttp.Call(two.Url, Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "correct", output = new { label } })).Status);
        Assert.Equal(409, (await StudioHttp.Call(one.Url, Post, $"{Api}/reviews/{id}/decision", reviewer, new { action = "accept" })).Status);

        var result = await StudioHttp.Call(one.Url, Get, $"{Api}/results/{id}", caller);
        Assert.Equal(200, result.Status);
        Assert.Equal(label, result.Json!["output"]![0]!["label"]!.GetValue<string>());

        // Nothing cached per process: a share revoked through one server stops working at the other at once.
        string token = (await StudioHttp.Call(one.Url, Post, $"{Api}/endpoints/shared-queue/shares", admin)).Json!["token"]!.GetValue<string>();
        Assert.Equal(200, (await StudioHttp.Call(two.Url, Get, $"{Api}/share/{token}", null)).Status);
        Assert.Equal(204, (await StudioHttp.Call(two.Url, Delete, $"{Api}/shares/{token}", admin)).Status);
        Assert.Equal(404, (await StudioHttp.Call(one.Url, Get, $"{Api}/share/{token}", null)).Status);
        var stats = (await StudioHttp.Call(two.Url, Get, $"{Api}/endpoints/shared-queue", admin)).Json!["stats"]!;
        Assert.Equal((1L, 0L), (stats["requests"]!.GetValue<long>(), stats["held"]!.GetValue<long>()));
    }
}
