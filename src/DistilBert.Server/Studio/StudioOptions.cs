namespace DistilBert.Server.Studio;

/// <summary>Where the Studio keeps its data and which admin keys it accepts (<c>distilbert serve --studio</c>).</summary>
/// <remarks>Thread-safety: set before the server starts, then only read.</remarks>
public sealed class StudioOptions
{
    /// <summary>The SQLite file (created when absent); ignored when <see cref="PostgresConnectionString"/> is set.</summary>
    public string DatabasePath { get; set; } = "distilbert-studio.db";

    /// <summary>A PostgreSQL connection string: the store several server processes can share.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>SHA-256 hashes of admin keys accepted besides those in the store (<c>--admin-keys</c>, the API keys file format).</summary>
    public IReadOnlyList<byte[]>? AdminKeyHashes { get; set; }

    /// <summary>Told the line <c>studio admin key: KEY</c> when the server had to create the first admin key (default: stdout).</summary>
    public Action<string> AnnounceAdminKey { get; set; } = line =>
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    };

    /// <summary>Opens the store these options name, its schema brought up to date.</summary>
    public async Task<IStudioStore> OpenStoreAsync() => PostgresConnectionString is { } postgres
        ? await PostgresStudioStore.OpenAsync(postgres)
        : await SqliteStudioStore.OpenAsync(DatabasePath);
}
