using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace DistilBert.Server.Studio;

/// <summary>
/// The default store: one SQLite file. WAL journal with <c>synchronous=FULL</c>, so a commit is on disk (the WAL synced)
/// before the call that made it returns, and a process killed at any point loses nothing it answered for. Writers are
/// serialised by SQLite itself (every transaction begins IMMEDIATE); several processes may open the same file.
/// </summary>
/// <remarks>Thread-safety: safe from many threads (a pooled connection per call).</remarks>
public sealed class SqliteStudioStore : SqlStudioStore
{
    readonly string _connectionString;
    readonly string _path;

    SqliteStudioStore(string path)
    {
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = _path, Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    /// <summary>Opens (creating when absent) the database file and brings its schema up to date.</summary>
    public static async Task<SqliteStudioStore> OpenAsync(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
            throw new InvalidInputException($"the Studio database {path}: its folder {directory} does not exist");
        var store = new SqliteStudioStore(path);
        try
        {
            await using (var connection = await store.OpenAsync())
            await using (var wal = connection.CreateCommand())
            {
                wal.CommandText = "PRAGMA journal_mode=WAL"; // persistent: recorded in the file
                await wal.ExecuteNonQueryAsync();
            }
            await store.MigrateAsync();
        }
        catch (SqliteException e)
        {
            throw new InvalidInputException($"the Studio database {path} cannot be opened: {e.Message}");
        }
        return store;
    }

    /// <inheritdoc/>
    protected override string Describe => _path;

    /// <inheritdoc/>
    /// <remarks>Each connection is set to <c>synchronous=FULL</c> with a 30 s busy timeout.</remarks>
    protected override async Task<DbConnection> OpenAsync()
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        // Per connection: FULL syncs the WAL at every commit (NORMAL, the WAL default, could lose the last commits on power loss).
        command.CommandText = "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000";
        await command.ExecuteNonQueryAsync();
        return connection;
    }

    /// <inheritdoc/>
    /// <remarks>Clears every SQLite connection pool of the process (closing pooled connections, this file's among them).</remarks>
    public override void Dispose()
    {
        SqliteConnection.ClearAllPools();
        base.Dispose();
    }
}
