namespace DistilBert.Tests;

/// <summary>
/// A fresh directory for one test's files, deleted with everything in it on Dispose, so a test run leaves nothing
/// behind in the temp folder. Named <c>distilbert-test-&lt;purpose&gt;-&lt;guid&gt;</c> so a leftover (a killed run) says whose it is.
/// </summary>
public sealed class TempDirectory : IDisposable
{
    public const string Prefix = "distilbert-test-";

    /// <param name="purpose">a short tag naming the tests that use it ("tok", "ckpt", …).</param>
    /// <param name="root">where to create it; the system temp folder unless a test needs another (e.g. /dev/shm).</param>
    public TempDirectory(string purpose, string? root = null)
    {
        Path = System.IO.Path.Combine(root ?? System.IO.Path.GetTempPath(), $"{Prefix}{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The directory's full path.</summary>
    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> inside the directory (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Deletes the directory and its contents. Never throws: a cleanup failure must not hide the test's own result.</summary>
    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
