namespace DistilBert.Tests;

/// <summary>Locates tests/fixtures (copied from shared/golden) by walking up from the test binary, so a fresh clone tests on its own.</summary>
public static class Fixtures
{
    static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    });

    public static string Root => RootPath.Value;

    public static string Golden(params string[] parts) => Path.Combine([Root, "golden", .. parts]);

    public static string Path_(params string[] parts) => Path.Combine([Root, .. parts]);
}
