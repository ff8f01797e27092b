using System.Data.Common;
using Npgsql;

namespace DistilBert.Server.Studio;

/// <summary>
/// The store in a PostgreSQL database, which several server processes may share (one review queue behind replicas).
/// Commits are durable with PostgreSQL's default <c>synchronous_commit</c>. Writers that must not interleave (the
/// migrations, one key's rate window, one endpoint's creation) take a transaction-scoped advisory lock.
/// </summary>
/// <remarks>Thread-safety: safe from many threads (Npgsql's data source pools connections).</remarks>
public sealed class PostgresStudioStore : SqlStudioStore
{
    readonly NpgsqlDataSource _source;
    readonly string _describe;

    PostgresStudioStore(NpgsqlDataSource source, string describe)
    {
        _source = source;
        _describe = describe;
    }

    /// <summary>Connects and brings the schema up to date.</summary>
    public static async Task<PostgresStudioStore> OpenAsync(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try { builder = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (ArgumentException e) { throw new InvalidInputException($"the Studio PostgreSQL connection string is malformed: {e.Message}"); }
        var store = new PostgresStudioStore(NpgsqlDataSource.Create(builder), $"{builder.Host}:{builder.Port}/{builder.Database}");
        try { await store.MigrateAsync(); }
        catch (NpgsqlException e)
        {
            store.Dispose();
            throw new InvalidInputException($"the Studio database {store._describe} cannot be used: {e.Message}");
        }
        return store;
    }

    /// <inheritdoc/>
    protected override string Describe => _describe;

    /// <inheritdoc/>
    protected override async Task<DbConnection> OpenAsync() => await _source.OpenConnectionAsync();

    /// <inheritdoc/>
    /// <remarks>Takes a transaction-scoped PostgreSQL advisory lock on the hash of <paramref name="key"/>, released at commit or rollback.</remarks>
    protected override Task LockAsync(DbTransaction transaction, string key) =>
        ScalarAsync(transaction, "SELECT pg_advisory_xact_lock(hashtext(@k))", ("k", key));

    /// <inheritdoc/>
    /// <remarks>Disposes the data source and its pooled connections.</remarks>
    public override void Dispose()
    {
        _source.Dispose();
        base.Dispose();
    }
}
