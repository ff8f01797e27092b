using System.Data;
using System.Data.Common;
using System.Text.Json;

namespace DistilBert.Server.Studio;

/// <summary>
/// The store over ADO.NET, shared by SQLite and PostgreSQL: the same tables and statements, the dialects differing only
/// in how a connection is opened and how concurrent writers are serialised (<see cref="LockAsync"/>).
/// Times are stored as Unix microseconds (so "oldest first" orders items made in the same millisecond), JSON as text.
/// </summary>
/// <remarks>Thread-safety: safe from many threads; each call opens its own (pooled) connection.</remarks>
public abstract class SqlStudioStore : IStudioStore
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The schema migrations in order; migration i brings the database to version i + 1. Never edit one that shipped:
    /// add the next.</summary>
    static readonly string[][] Migrations =
    [
        [
            "CREATE TABLE endpoints (name TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE TABLE api_keys (hash TEXT PRIMARY KEY, scope TEXT NOT NULL, endpoint TEXT, created_at BIGINT NOT NULL)",
            "CREATE INDEX api_keys_endpoint ON api_keys (endpoint)",
            "CREATE TABLE review_items (id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, created_at BIGINT NOT NULL, inputs TEXT, output TEXT NOT NULL, " +
                "reason TEXT NOT NULL, status TEXT NOT NULL, correction TEXT, decided_at BIGINT)",
            "CREATE INDEX review_items_queue ON review_items (endpoint, status, created_at)",
            "CREATE TABLE shares (token TEXT PRIMARY KEY, endpoint TEXT NOT NULL, created_at BIGINT NOT NULL)",
            "CREATE INDEX shares_endpoint ON shares (endpoint)",
            "CREATE TABLE requests (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, endpoint TEXT NOT NULL, at_us BIGINT NOT NULL, latency_ms DOUBLE PRECISION)",
            "CREATE INDEX requests_window ON requests (key_hash, at_us)",
            "CREATE INDEX requests_endpoint ON requests (endpoint, latency_ms)",
        ],
    ];

    /// <summary>The schema version this code writes.</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>Where the data is, for messages (a file path, or host and database).</summary>
    protected abstract string Describe { get; }

    /// <summary>Opens a new (pooled) connection to the database, ready for use; the caller disposes it.</summary>
    protected abstract Task<DbConnection> OpenAsync();

    /// <summary>Serialises writers on <paramref name="key"/> inside <paramref name="transaction"/> (SQLite's transactions
    /// already take the write lock when they begin, so it has nothing to do).</summary>
    protected virtual Task LockAsync(DbTransaction transaction, string key) => Task.CompletedTask;

    /// <summary>Applies the missing migrations in order, in one transaction; refuses a database newer than this code.</summary>
    protected async Task MigrateAsync()
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await LockAsync(transaction, "schema");
        await ExecuteAsync(transaction, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        int current = Convert.ToInt32(await ScalarAsync(transaction, "SELECT COALESCE(MAX(version), 0) FROM schema_version") ?? 0);
        if (current > SchemaVersion)
            throw new InvalidInputException($"the Studio database {Describe} has schema version {current}, newer than this server's {SchemaVersion}: " +
                "upgrade the server, or point it at another database");
        for (int version = current + 1; version <= SchemaVersion; version++)
        {
            foreach (var statement in Migrations[version - 1]) await ExecuteAsync(transaction, statement);
            await ExecuteAsync(transaction, "INSERT INTO schema_version (version) VALUES (@v)", ("v", version));
        }
        await transaction.CommitAsync();
    }

    /// <summary>The version the database is at (for tests and diagnostics).</summary>
    public async Task<int> DatabaseVersionAsync()
    {
        await using var connection = await OpenAsync();
        return Convert.ToInt32(await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_version") ?? 0);
    }

    /// <inheritdoc/>
    public async Task<bool> CreateEndpointAsync(StudioEndpoint endpoint, IReadOnlyList<StudioKey> keys)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await LockAsync(transaction, "endpoint:" + endpoint.Name);
        if (await ScalarAsync(transaction, "SELECT 1 FROM endpoints WHERE name = @n", ("n", endpoint.Name)) is not null) return false;
        await ExecuteAsync(transaction, "INSERT INTO endpoints (name, definition, created_at) VALUES (@n, @d, @t)",
            ("n", endpoint.Name), ("d", JsonSerializer.Serialize(endpoint, Json)), ("t", Micros(endpoint.CreatedAt)));
        foreach (var key in keys) await InsertKeyAsync(transaction, key, endpoint.CreatedAt);
        await transaction.CommitAsync();
        return true;
    }

    /// <inheritdoc/>
    public async Task<StudioEndpoint?> GetEndpointAsync(string name)
    {
        await using var connection = await OpenAsync();
        return await ScalarAsync(connection, null, "SELECT definition FROM endpoints WHERE name = @n", ("n", name)) is string definition
            ? JsonSerializer.Deserialize<StudioEndpoint>(definition, Json) : null;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StudioEndpoint>> ListEndpointsAsync()
    {
        await using var connection = await OpenAsync();
        return await QueryAsync(connection, "SELECT definition FROM endpoints ORDER BY created_at, name",
            r => JsonSerializer.Deserialize<StudioEndpoint>(r.GetString(0), Json)!);
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteEndpointAsync(string name)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await LockAsync(transaction, "endpoint:" + name);
        int deleted = await ExecuteAsync(transaction, "DELETE FROM endpoints WHERE name = @n", ("n", name));
        foreach (var table in new[] { "api_keys", "shares", "review_items", "requests" })
            await ExecuteAsync(transaction, $"DELETE FROM {table} WHERE endpoint = @n", ("n", name));
        await transaction.CommitAsync();
        return deleted > 0;
    }

    /// <inheritdoc/>
    public async Task<StudioKey?> FindKeyAsync(string hash)
    {
        await using var connection = await OpenAsync();
        var found = await QueryAsync(connection, "SELECT hash, scope, endpoint FROM api_keys WHERE hash = @h",
            r => new StudioKey(r.GetString(0), Enum.Parse<KeyScope>(r.GetString(1)), r.IsDBNull(2) ? null : r.GetString(2)), ("h", hash));
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc/>
    public async Task<bool> HasAdminKeyAsync()
    {
        await using var connection = await OpenAsync();
        return await ScalarAsync(connection, null, "SELECT 1 FROM api_keys WHERE scope = @s", ("s", nameof(KeyScope.Admin))) is not null;
    }

    /// <inheritdoc/>
    public async Task AddKeyAsync(StudioKey key)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await InsertKeyAsync(transaction, key, DateTimeOffset.UtcNow);
        await transaction.CommitAsync();
    }

    Task InsertKeyAsync(DbTransaction transaction, StudioKey key, DateTimeOffset at) =>
        ExecuteAsync(transaction, "INSERT INTO api_keys (hash, scope, endpoint, created_at) VALUES (@h, @s, @e, @t)",
            ("h", key.Hash), ("s", key.Scope.ToString()), ("e", key.Endpoint), ("t", Micros(at)));

    /// <inheritdoc/>
    public async Task<Admission> AdmitAsync(string keyHash, string endpoint, int limitPerMinute, DateTimeOffset now)
    {
        long nowUs = Micros(now), windowStart = nowUs - 60_000_000;
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await LockAsync(transaction, "rate:" + keyHash);
        long count = Convert.ToInt64(await ScalarAsync(transaction, "SELECT COUNT(*) FROM requests WHERE key_hash = @k AND at_us > @w",
            ("k", keyHash), ("w", windowStart)));
        if (count >= limitPerMinute)
        {
            // The window frees a slot when the oldest request in it turns 60 s old.
            long oldest = Convert.ToInt64(await ScalarAsync(transaction, "SELECT MIN(at_us) FROM requests WHERE key_hash = @k AND at_us > @w",
                ("k", keyHash), ("w", windowStart)));
            await transaction.RollbackAsync();
            return new Admission(false, "", TimeSpan.FromTicks(Math.Max(1, oldest - windowStart) * 10));
        }
        string id = StudioKeys.NewId("rq_");
        await ExecuteAsync(transaction, "INSERT INTO requests (id, key_hash, endpoint, at_us) VALUES (@i, @k, @e, @t)",
            ("i", id), ("k", keyHash), ("e", endpoint), ("t", nowUs));
        await transaction.CommitAsync();
        return new Admission(true, id, TimeSpan.Zero);
    }

    /// <inheritdoc/>
    public async Task RecordLatencyAsync(string requestId, double milliseconds)
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, null, "UPDATE requests SET latency_ms = @l WHERE id = @i", ("l", milliseconds), ("i", requestId));
    }

    /// <inheritdoc/>
    public async Task<EndpointStats> StatsAsync(string endpoint)
    {
        await using var connection = await OpenAsync();
        long requests = Convert.ToInt64(await ScalarAsync(connection, null, "SELECT COUNT(*) FROM requests WHERE endpoint = @e", ("e", endpoint)));
        long timed = Convert.ToInt64(await ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM requests WHERE endpoint = @e AND latency_ms IS NOT NULL", ("e", endpoint)));
        long held = Convert.ToInt64(await ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM review_items WHERE endpoint = @e AND status = @s", ("e", endpoint), ("s", ReviewItem.Pending)));
        async Task<double?> Percentile(double p)
        {
            if (timed == 0) return null;
            // Nearest rank: the value below which p of the timed requests fall.
            long rank = (long)Math.Ceiling(p * timed) - 1;
            return Convert.ToDouble(await ScalarAsync(connection, null,
                "SELECT latency_ms FROM requests WHERE endpoint = @e AND latency_ms IS NOT NULL ORDER BY latency_ms LIMIT 1 OFFSET @o",
                ("e", endpoint), ("o", Math.Max(0, rank))));
        }
        return new EndpointStats(requests, await Percentile(0.5), await Percentile(0.99), held);
    }

    /// <inheritdoc/>
    public async Task AddItemAsync(ReviewItem item)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ExecuteAsync(transaction,
            "INSERT INTO review_items (id, endpoint, created_at, inputs, output, reason, status) VALUES (@i, @e, @t, @in, @o, @r, @s)",
            ("i", item.Id), ("e", item.Endpoint), ("t", Micros(item.CreatedAt)), ("in", item.Inputs?.GetRawText()), ("o", item.Output.GetRawText()),
            ("r", item.Reason), ("s", item.Status));
        await transaction.CommitAsync();
    }

    const string ItemColumns = "id, endpoint, created_at, inputs, output, reason, status, correction, decided_at";

    static ReviewItem ReadItem(DbDataReader r) => new(r.GetString(0), r.GetString(1), FromMicros(r.GetInt64(2)),
        r.IsDBNull(3) ? null : Parse(r.GetString(3)), Parse(r.GetString(4)), r.GetString(5), r.GetString(6),
        r.IsDBNull(7) ? null : Parse(r.GetString(7)), r.IsDBNull(8) ? null : FromMicros(r.GetInt64(8)));

    /// <inheritdoc/>
    public async Task<ReviewItem?> GetItemAsync(string id)
    {
        await using var connection = await OpenAsync();
        var found = await QueryAsync(connection, $"SELECT {ItemColumns} FROM review_items WHERE id = @i", ReadItem, ("i", id));
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<ReviewItem>> ListItemsAsync(string endpoint, string? status)
    {
        await using var connection = await OpenAsync();
        return status is null
            ? await QueryAsync(connection, $"SELECT {ItemColumns} FROM review_items WHERE endpoint = @e ORDER BY created_at, id", ReadItem, ("e", endpoint))
            : await QueryAsync(connection, $"SELECT {ItemColumns} FROM review_items WHERE endpoint = @e AND status = @s ORDER BY created_at, id", ReadItem,
                ("e", endpoint), ("s", status));
    }

    /// <inheritdoc/>
    public async Task<ReviewItem?> DecideAsync(string id, string status, JsonElement? correction, DateTimeOffset now)
    {
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        // Only a pending item changes, so two reviewers (or two servers) deciding at once cannot both win.
        int changed = await ExecuteAsync(transaction,
            "UPDATE review_items SET status = @s, correction = @c, decided_at = @t WHERE id = @i AND status = @p",
            ("s", status), ("c", correction?.GetRawText()), ("t", Micros(now)), ("i", id), ("p", ReviewItem.Pending));
        var item = changed == 0 ? null : (await QueryAsync(transaction.Connection!, $"SELECT {ItemColumns} FROM review_items WHERE id = @i", ReadItem,
            transaction, ("i", id)))[0];
        await transaction.CommitAsync();
        return item;
    }

    /// <inheritdoc/>
    public async Task AddShareAsync(StudioShare share)
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, null, "INSERT INTO shares (token, endpoint, created_at) VALUES (@t, @e, @c)",
            ("t", share.Token), ("e", share.Endpoint), ("c", Micros(share.CreatedAt)));
    }

    static StudioShare ReadShare(DbDataReader r) => new(r.GetString(0), r.GetString(1), FromMicros(r.GetInt64(2)));

    /// <inheritdoc/>
    public async Task<StudioShare?> GetShareAsync(string token)
    {
        await using var connection = await OpenAsync();
        var found = await QueryAsync(connection, "SELECT token, endpoint, created_at FROM shares WHERE token = @t", ReadShare, ("t", token));
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<StudioShare>> ListSharesAsync(string endpoint)
    {
        await using var connection = await OpenAsync();
        return await QueryAsync(connection, "SELECT token, endpoint, created_at FROM shares WHERE endpoint = @e ORDER BY created_at", ReadShare, ("e", endpoint));
    }

    /// <inheritdoc/>
    public async Task<bool> DeleteShareAsync(string token)
    {
        await using var connection = await OpenAsync();
        return await ExecuteAsync(connection, null, "DELETE FROM shares WHERE token = @t", ("t", token)) > 0;
    }

    /// <inheritdoc/>
    /// <remarks>Derived stores release their own resources (pools, data sources) and then call this.</remarks>
    public virtual void Dispose() => GC.SuppressFinalize(this);

    // ---- ADO.NET helpers -------------------------------------------------------------------------------------------

    static long Micros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
    static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
    static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value ?? DBNull.Value;
            if (value is null) parameter.DbType = DbType.String;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary>Runs <paramref name="sql"/> (parameters named without the <c>@</c>) on the transaction's connection; the number of rows affected.</summary>
    protected static Task<int> ExecuteAsync(DbTransaction transaction, string sql, params (string, object?)[] parameters) =>
        ExecuteAsync(transaction.Connection!, transaction, sql, parameters);

    /// <summary>Runs <paramref name="sql"/> (parameters named without the <c>@</c>) on <paramref name="connection"/>, in <paramref name="transaction"/> when not null; the number of rows affected.</summary>
    protected static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs <paramref name="sql"/> (parameters named without the <c>@</c>) on the transaction's connection; the first column of the first row, null when there is no row or it is NULL.</summary>
    protected static Task<object?> ScalarAsync(DbTransaction transaction, string sql, params (string, object?)[] parameters) =>
        ScalarAsync(transaction.Connection!, transaction, sql, parameters);

    /// <summary>Runs <paramref name="sql"/> (parameters named without the <c>@</c>) on <paramref name="connection"/>, in <paramref name="transaction"/> when not null; the first column of the first row, null when there is no row or it is NULL.</summary>
    protected static async Task<object?> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    static Task<List<T>> QueryAsync<T>(DbConnection connection, string sql, Func<DbDataReader, T> read, params (string, object?)[] parameters) =>
        QueryAsync(connection, sql, read, null, parameters);

    static async Task<List<T>> QueryAsync<T>(DbConnection connection, string sql, Func<DbDataReader, T> read, DbTransaction? transaction,
        params (string, object?)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync()) rows.Add(read(reader));
        return rows;
    }
}
