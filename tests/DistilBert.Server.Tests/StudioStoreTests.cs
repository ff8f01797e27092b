using System.Text.Json;
using DistilBert.Server.Studio;
using DistilBert.Tests;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace DistilBert.Server.Tests;

/// <summary>The store's contract, run against each implementation: migrations, endpoints with their keys, review items
/// and their one decision, shares, the rate window shared by concurrent callers, stats.</summary>
public abstract class StudioStoreContract
{
    /// <summary>A store on a fresh, empty database; and a way to run raw SQL on that same database.</summary>
    protected abstract Task<(SqlStudioStore Store, Func<string, Task> Sql, Func<Task<SqlStudioStore>> Reopen)> FreshAsync();

    static StudioEndpoint Endpoint(string name) => new(name, "sentiment", "text-classification", "cls", JsonDocument.Parse("{}").RootElement,
        new SecurityPolicy(), new ReviewPolicy(), DateTimeOffset.UtcNow);

    static ReviewItem Item(string endpoint, int n) => new(StudioKeys.NewId("rv_"), endpoint, DateTimeOffset.UtcNow, JsonDocument.Parse($"\"text {n}\"").RootElement,
        JsonDocument.Parse("""[{"label":"POSITIVE","score":0.5}]""").RootElement, "low-score", ReviewItem.Pending);

    [SkippableFact]
    public async Task Migrations_BringAFreshDatabaseToTheCodesVersion_OnceOnly_AndANewerDatabaseIsRefused()
    {
        var (store, sql, reopen) = await FreshAsync();
        using (store)
        {
            Assert.Equal(SqlStudioStore.SchemaVersion, await store.DatabaseVersionAsync());
            using (var again = await reopen()) Assert.Equal(SqlStudioStore.SchemaVersion, await again.DatabaseVersionAsync());
            await sql($"INSERT INTO schema_version (version) VALUES ({SqlStudioStore.SchemaVersion + 1})");
        }
        var refused = await Assert.ThrowsAsync<InvalidInputException>(reopen);
        Assert.Contains($"schema version {SqlStudioStore.SchemaVersion + 1}, newer than this server's {SqlStudioStore.SchemaVersion}", refused.Message);
    }

    [SkippableFact]
    public async Task Endpoints_AreCreatedWithTheirKeysOnce_AndDeletedWithEverythingOfTheirs()
    {
        var (store, _, _) = await FreshAsync();
        using var _ = store;
        var caller = new StudioKey(StudioKeys.Hash("k1"), KeyScope.Caller, "one");
        Assert.True(await store.CreateEndpointAsync(Endpoint("one"), [caller]));
        Assert.False(await store.CreateEndpointAsync(Endpoint("one"), [new StudioKey(StudioKeys.Hash("k2"), KeyScope.Caller, "one")]));
        Assert.Null(await store.FindKeyAsync(StudioKeys.Hash("k2"))); // the refused creation left nothing
        Assert.Equal(caller, await store.FindKeyAsync(caller.Hash));
        Assert.Equal("cls", (await store.GetEndpointAsync("one"))!.Model);
        Assert.True(await store.CreateEndpointAsync(Endpoint("two"), []));
        Assert.Equal(["one", "two"], (await store.ListEndpointsAsync()).Select(e => e.Name));
        await store.AddItemAsync(Item("one", 1));
        await store.AddShareAsync(new StudioShare("tok", "one", DateTimeOffset.UtcNow));

        Assert.True(await store.DeleteEndpointAsync("one"));
        Assert.False(await store.DeleteEndpointAsync("one"));
        Assert.Null(await store.FindKeyAsync(caller.Hash));
        Assert.Null(await store.GetShareAsync("tok"));
        Assert.Empty(await store.ListItemsAsync("one", null));
        Assert.False(await store.HasAdminKeyAsync());
        await store.AddKeyAsync(new StudioKey(StudioKeys.Hash("admin"), KeyScope.Admin, null));
        Assert.True(await store.HasAdminKeyAsync());
    }

    [SkippableFact]
    public async Task Items_ListOldestFirst_AndOfConcurrentDecisionsExactlyOneWins()
    {
        var (store, _, _) = await FreshAsync();
        using var _ = store;
        var items = Enumerable.Range(0, 5).Select(i => Item("ep", i)).ToList();
        foreach (var item in items) await store.AddItemAsync(item);
        Assert.Equal(items.Select(i => i.Id), (await store.ListItemsAsync("ep", ReviewItem.Pending)).Select(i => i.Id));
        Assert.Equal("text 3", (await store.GetItemAsync(items[3].Id))!.Inputs!.Value.GetString());

        var correction = JsonDocument.Parse("""[{"label":"NEGATIVE","score":1}]""").RootElement;
        var decisions = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            store.DecideAsync(items[0].Id, i % 2 == 0 ? ReviewItem.Corrected : ReviewItem.Accepted, i % 2 == 0 ? correction : null, DateTimeOffset.UtcNow))));
        var winner = Assert.Single(decisions, d => d is not null)!;
        Assert.Equal(winner.Status, (await store.GetItemAsync(items[0].Id))!.Status);
        Assert.Equal(4, (await store.ListItemsAsync("ep", ReviewItem.Pending)).Count);
        Assert.Null(await store.DecideAsync(items[0].Id, ReviewItem.Accepted, null, DateTimeOffset.UtcNow));
        Assert.Null(await store.DecideAsync("rv_missing", ReviewItem.Accepted, null, DateTimeOffset.UtcNow));
    }

    [SkippableFact]
    public async Task RateWindow_AdmitsExactlyTheLimit_UnderConcurrentCallers_AndTellsWhenToRetry()
    {
        var (store, _, _) = await FreshAsync();
        using var _ = store;
        var now = DateTimeOffset.UtcNow;
        var admissions = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() => store.AdmitAsync("key", "ep", 5, now))));
        Assert.Equal(5, admissions.Count(a => a.Admitted));
        var refused = admissions.First(a => !a.Admitted);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromSeconds(59), TimeSpan.FromSeconds(60));
        Assert.True((await store.AdmitAsync("other-key", "ep", 5, now)).Admitted); // per key
        Assert.True((await store.AdmitAsync("key", "ep", 5, now.AddSeconds(61))).Admitted); // the window slid past them

        var first = admissions.First(a => a.Admitted);
        await store.RecordLatencyAsync(first.RequestId, 10);
        await store.RecordLatencyAsync(admissions.Where(a => a.Admitted).ElementAt(1).RequestId, 30);
        await store.AddItemAsync(Item("ep", 0));
        var stats = await store.StatsAsync("ep");
        Assert.Equal(new EndpointStats(7, 10, 30, 1), stats);
    }

    [SkippableFact]
    public async Task Shares_AreListedAndRevoked()
    {
        var (store, _, _) = await FreshAsync();
        using var _ = store;
        await store.AddShareAsync(new StudioShare("a", "ep", DateTimeOffset.UtcNow));
        await store.AddShareAsync(new StudioShare("b", "ep", DateTimeOffset.UtcNow.AddSeconds(1)));
        Assert.Equal(["a", "b"], (await store.ListSharesAsync("ep")).Select(s => s.Token));
        Assert.True(await store.DeleteShareAsync("a"));
        Assert.Null(await store.GetShareAsync("a"));
        Assert.Equal("ep", (await store.GetShareAsync("b"))!.Endpoint);
    }
}

public sealed class SqliteStudioStoreTests : StudioStoreContract, IDisposable
{
    readonly TempDirectory _folder = new("studio-store");
    int _files;

    protected override async Task<(SqlStudioStore, Func<string, Task>, Func<Task<SqlStudioStore>>)> FreshAsync()
    {
        string path = Path.Combine(_folder.Path, $"s{++_files}.db");
        async Task Sql(string sql)
        {
            await using var connection = new SqliteConnection($"Data Source={path}");
            await connection.OpenAsync();
            await using var command = new SqliteCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
        return (await SqliteStudioStore.OpenAsync(path), Sql, async () => await SqliteStudioStore.OpenAsync(path));
    }

    [Fact]
    public async Task TheFileIsInWalModeWithFullSync()
    {
        var (store, _, _) = await FreshAsync();
        store.Dispose();
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder.Path, $"s{_files}.db")}");
        await connection.OpenAsync();
        await using var command = new SqliteCommand("PRAGMA journal_mode", connection);
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }
}

public sealed class PostgresStudioStoreTests(PostgresCluster cluster) : StudioStoreContract, IClassFixture<PostgresCluster>
{
    protected override async Task<(SqlStudioStore, Func<string, Task>, Func<Task<SqlStudioStore>>)> FreshAsync()
    {
        Skip.If(cluster.SkipReason is not null, cluster.SkipReason);
        string connectionString = await cluster.NewDatabaseAsync();
        async Task Sql(string sql)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
        return (await PostgresStudioStore.OpenAsync(connectionString), Sql, async () => await PostgresStudioStore.OpenAsync(connectionString));
    }
}
