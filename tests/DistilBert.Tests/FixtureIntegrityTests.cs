using System.Security.Cryptography;

namespace DistilBert.Tests;

/// <summary>The golden files are what every comparison trusts: each must hash to its MANIFEST.sha256 line, and every
/// file in the folder (but the README and the manifest itself) must be listed, so nothing is edited or added unseen.</summary>
public class FixtureIntegrityTests
{
    static readonly string Root = Fixtures.Golden();

    static Dictionary<string, string> Manifest()
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (line, number) in File.ReadLines(Path.Combine(Root, "MANIFEST.sha256")).Select((l, i) => (l, i + 1)))
        {
            if (line.Length == 0) continue;
            // sha256sum format: 64 hex digits, two spaces (or space and '*' for binary mode), the relative path
            Assert.True(line.Length > 66 && line[64] == ' ' && line[65] is ' ' or '*', $"MANIFEST.sha256:{number}: not a sha256sum line: {line}");
            Assert.True(entries.TryAdd(line[66..], line[..64].ToLowerInvariant()), $"MANIFEST.sha256:{number}: {line[66..]} is listed twice");
        }
        return entries;
    }

    [Fact]
    public void EveryFixtureFileHashesToItsManifestLine()
    {
        var manifest = Manifest();
        Assert.True(manifest.Count >= 100, $"only {manifest.Count} manifest entries");
        var wrong = new List<string>();
        foreach (var (path, expected) in manifest)
        {
            var full = Path.Combine(Root, path);
            if (!File.Exists(full)) { wrong.Add($"{path}: missing"); continue; }
            using var stream = File.OpenRead(full);
            var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            if (actual != expected) wrong.Add($"{path}: sha256 {actual}, manifest {expected}");
        }
        Assert.True(wrong.Count == 0, "fixture files differ from MANIFEST.sha256:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void EveryFixtureFileIsInTheManifest()
    {
        var manifest = Manifest();
        var unlisted = Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => f is not ("README.md" or "MANIFEST.sha256") && !manifest.ContainsKey(f))
            .Order(StringComparer.Ordinal).ToList();
        Assert.True(unlisted.Count == 0, "not in MANIFEST.sha256: " + string.Join(", ", unlisted));
    }
}
