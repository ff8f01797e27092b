using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace DistilBert.Server.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster for the Studio's tests: <c>initdb</c> in a temp folder (as user postgres when the
/// tests run as root, as CI does), started with <c>pg_ctl</c> on a free loopback port, stopped and deleted afterwards.
/// When the server binaries are absent, <see cref="SkipReason"/> says so and the tests skip.
/// </summary>
public sealed class PostgresCluster : IAsyncLifetime
{
    const string Bin = "/usr/lib/postgresql/15/bin";
    readonly string _folder = Path.Combine(Path.GetTempPath(), $"distilbert-test-pg-{Guid.NewGuid():N}");
    int _port;
    bool _started;
    int _databases;

    public string? SkipReason { get; private set; }

    public async Task InitializeAsync()
    {
        if (!File.Exists(Path.Combine(Bin, "initdb")) || !File.Exists(Path.Combine(Bin, "pg_ctl")))
        {
            SkipReason = $"PostgreSQL 15 server binaries not found in {Bin} (apt-get install postgresql; .ci/run does)";
            return;
        }
        Directory.CreateDirectory(_folder);
        bool root = Environment.UserName == "root";
        if (root) Run("chown", "-R", "postgres:postgres", _folder);
        string data = Path.Combine(_folder, "data");
        // fsync off: the cluster dies with the test, and its durability is PostgreSQL's, not what these tests check.
        AsPostgres(root, Path.Combine(Bin, "initdb"), "-A", "trust", "-U", "postgres", "--no-sync", "-D", data);
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        _port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        AsPostgres(root, Path.Combine(Bin, "pg_ctl"), "-D", data, "-l", Path.Combine(_folder, "log"), "-w", "-t", "30",
            "-o", $"-p {_port} -k {_folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
        _started = true;
        await Task.CompletedTask;
    }

    /// <summary>A connection string to a new, empty database of its own.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        string name = $"studio{Interlocked.Increment(ref _databases)}";
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return ConnectionString(name);
    }

    string ConnectionString(string database) => $"Host=127.0.0.1;Port={_port};Username=postgres;Database={database};Pooling=true";

    public Task DisposeAsync()
    {
        if (_started)
            try { AsPostgres(Environment.UserName == "root", Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(_folder, "data"), "-m", "immediate", "-w", "stop"); }
            catch (InvalidOperationException) { /* already gone */ }
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
        return Task.CompletedTask;
    }

    static void AsPostgres(bool root, string program, params string[] args)
    {
        if (root) Run("runuser", ["-u", "postgres", "--", program, .. args]);
        else Run(program, args);
    }

    static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000)) { process.Kill(); throw new InvalidOperationException($"{program} did not finish"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {stdout}{stderr.Result}");
    }
}
