using System.Text.RegularExpressions;

namespace DistilBert.Tests;

/// <summary>
/// Keeps docs/architecture.md true: its layer table, read top to bottom, is the dependency order, and no source folder
/// of the library may use a type of a layer below it in the table (a layer further down the data path). The check scans
/// the sources (comments and string literals removed) for namespace references and for the names of the library's
/// types, each attributed to the layer of the folder that declares it.
/// </summary>
public sealed class ArchitectureTests
{
    static string RepoRoot => Path.GetFullPath(Path.Combine(Fixtures.Root, "..", ".."));

    /// <summary>Layer rows of docs/architecture.md in order: each with the library folders it names.</summary>
    internal static List<(string Layer, List<string> Folders)> Layers()
    {
        var rows = new List<(string, List<string>)>();
        foreach (var line in File.ReadLines(Path.Combine(RepoRoot, "docs", "architecture.md")))
        {
            if (!line.StartsWith('|')) continue;
            var cells = line.Split('|');
            if (cells.Length < 4) continue;
            var folders = Regex.Matches(cells[2], @"`src/DistilBert/([A-Za-z]+)/`").Select(m => m.Groups[1].Value).ToList();
            if (folders.Count > 0) rows.Add((cells[1].Trim(), folders));
        }
        return rows;
    }

    static readonly Regex CommentsAndStrings = new(
        @"//[^\n]*|/\*.*?\*/|@""(?:""""|[^""])*""|\$?""(?:\\.|[^""\\\n])*""|'(?:\\.|[^'\\\n])'", RegexOptions.Singleline);

    [Fact]
    public void EveryLayerUsesOnlyTheLayersAboveItInTheTable()
    {
        var layers = Layers();
        var layerOfFolder = new Dictionary<string, int>();
        for (int i = 0; i < layers.Count; i++)
            foreach (var folder in layers[i].Folders) layerOfFolder[folder] = i;

        var library = Path.Combine(RepoRoot, "src", "DistilBert");
        var sourceFolders = Directory.GetDirectories(library).Select(Path.GetFileName).Where(d => d is not ("bin" or "obj")).ToList();
        var unlisted = sourceFolders.Where(d => !layerOfFolder.ContainsKey(d!)).ToList();
        Assert.True(unlisted.Count == 0, $"folders missing from docs/architecture.md's layer table: {string.Join(", ", unlisted)}");

        // every library type name, by the layer of the namespace (= folder) that declares it; names declared in two
        // layers resolve to the lower one, so only unambiguous upward uses count
        var typeLayer = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var type in typeof(InvalidInputException).Assembly.GetTypes())
        {
            if (type.DeclaringType is not null || type.Name.Contains('<') || type.Namespace is null) continue;
            var parts = type.Namespace.Split('.');
            if (parts.Length < 2 || !layerOfFolder.TryGetValue(parts[1], out int layer)) continue;
            string name = type.Name.Split('`')[0];
            typeLayer[name] = typeLayer.TryGetValue(name, out int other) ? Math.Min(other, layer) : layer;
        }

        var violations = new List<string>();
        foreach (var folder in sourceFolders)
        {
            int own = layerOfFolder[folder!];
            foreach (var file in Directory.EnumerateFiles(Path.Combine(library, folder!), "*.cs", SearchOption.AllDirectories))
            {
                var code = CommentsAndStrings.Replace(File.ReadAllText(file), m => new string('\n', m.Value.Count(c => c == '\n')));
                var lines = code.Split('\n');
                for (int n = 0; n < lines.Length; n++)
                {
                    foreach (Match m in Regex.Matches(lines[n], @"\bDistilBert\.([A-Za-z]+)\b"))
                        if (layerOfFolder.TryGetValue(m.Groups[1].Value, out int used) && used > own)
                            violations.Add($"{Rel(file)}:{n + 1}: {layers[own].Layer} uses namespace {m.Value} ({layers[used].Layer})");
                    foreach (Match m in Regex.Matches(lines[n], @"\b[A-Z][A-Za-z0-9]*\b"))
                        if (typeLayer.TryGetValue(m.Value, out int used) && used > own)
                            violations.Add($"{Rel(file)}:{n + 1}: {layers[own].Layer} uses {m.Value} ({layers[used].Layer})");
                }
            }
        }
        Assert.True(violations.Count == 0, "layering broken:\n" + string.Join("\n", violations.Distinct()));
    }

    [Fact]
    public void TheLayerTableNamesEveryLibraryFolderOnce()
    {
        var folders = Layers().SelectMany(l => l.Folders).ToList();
        Assert.Equal(folders.Count, folders.Distinct().Count());
        Assert.Contains("Inference", folders);
        Assert.True(folders.IndexOf("Modeling") < folders.IndexOf("Inference") && folders.IndexOf("Inference") < folders.IndexOf("Pipelines"),
            "the table must read Modeling → Inference → Pipelines");
    }

    [Fact]
    public void TheOnnxExporterSitsBesideTheCoreNotInIt()
    {
        // DistilBert.Onnx carries the protobuf dependency: the core library must not reference it, and it uses only
        // the core (Modeling, Checkpoints), never the CLI or the server.
        var core = typeof(InvalidInputException).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain("DistilBert.Onnx", core);
        Assert.DoesNotContain("Google.Protobuf", core);
        var coreProject = File.ReadAllText(Path.Combine(RepoRoot, "src", "DistilBert", "DistilBert.csproj"));
        Assert.DoesNotContain("Protobuf", coreProject);
        Assert.DoesNotContain("DistilBert.Onnx", coreProject);
        var exporter = typeof(DistilBert.Onnx.OnnxExporter).Assembly.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("DistilBert", exporter);
        Assert.DoesNotContain(exporter, n => n is "DistilBert.Cli" or "DistilBert.Server");
    }

    [Fact]
    public void LibraryErrorsNameSettingsNotCommandLineFlags()
    {
        // The library is used without the CLI: an error names the setting (a property, or plain words); a flag may
        // only follow the property it maps to, as a hint. The CLI is the one that speaks in flags.
        var offenders = new List<string>();
        var library = Path.Combine(RepoRoot, "src", "DistilBert");
        var literal = new Regex(@"\$?""(?:\\.|[^""\\])*""");
        foreach (var file in Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")) continue;
            var lines = File.ReadAllLines(file);
            for (int n = 0; n < lines.Length; n++)
            {
                if (lines[n].TrimStart().StartsWith("//")) continue;
                foreach (Match m in literal.Matches(lines[n]))
                    if (Regex.IsMatch(m.Value, @"(^|[\s(""])--[a-z]") && !Regex.IsMatch(m.Value, @"\b[A-Z][a-z]+[A-Z][A-Za-z.]*\b[^""]*--[a-z]"))
                        offenders.Add($"{Rel(file)}:{n + 1}: {m.Value}");
            }
        }
        Assert.True(offenders.Count == 0, "library messages that speak in CLI flags:\n" + string.Join("\n", offenders));
    }

    static string Rel(string path) => Path.GetRelativePath(RepoRoot, path);
}
