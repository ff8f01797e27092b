namespace DistilBert.Cli.Input;

/// <summary>
/// Guards the commands that write a model folder (--out) against writing over what they read: an --out that is an
/// input model folder, lies inside one, or contains one would overwrite or mix with the model being read. The paths
/// are compared after resolving symbolic links, so a link to the input is the input.
/// </summary>
internal static class OutputFolder
{
    /// <param name="output">the --out value</param>
    /// <param name="inputs">(option name, path) of each input folder or file; null or not on disk (a Hub repo id) is skipped</param>
    public static void RefuseOverlap(string output, params (string Option, string? Path)[] inputs)
    {
        var outPath = Canonical(output);
        foreach (var (option, value) in inputs)
        {
            if (value is null || !Path.Exists(value)) continue;
            var inPath = Canonical(value);
            string kind = Directory.Exists(value) ? "folder" : "file";
            string? problem =
                SamePath(outPath, inPath) ? $"is the {option} {kind}" :
                IsInside(outPath, inPath) ? $"is inside the {option} {kind} {value}" :
                IsInside(inPath, outPath) ? $"contains the {option} {kind} {value}" : null;
            if (problem is not null)
                throw new InvalidInputException($"--out {output} {problem}: writing there would overwrite the model being read; choose another --out");
        }
    }

    static readonly StringComparison PathComparison = OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;

    static bool SamePath(string a, string b) => string.Equals(a, b, PathComparison);

    static bool IsInside(string path, string folder) =>
        path.Length > folder.Length && path.StartsWith(folder, PathComparison)
        && (folder.EndsWith(Path.DirectorySeparatorChar) || path[folder.Length] == Path.DirectorySeparatorChar);

    /// <summary>The absolute path with every symbolic link along it resolved (the part that does not exist yet is kept as written).</summary>
    internal static string Canonical(string path, int depth = 0)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            if (depth >= 40) continue; // a link cycle: compare what we have
            FileSystemInfo? target = null;
            try
            {
                var info = new FileInfo(current);
                if (info.LinkTarget is not null) target = info.ResolveLinkTarget(returnFinalTarget: true);
            }
            catch (IOException) { } // a link loop or an unreadable link: keep the path as written
            catch (UnauthorizedAccessException) { }
            // The target's own parent folders may be links too.
            if (target is not null) current = Canonical(target.FullName, depth + 1);
        }
        return Path.TrimEndingDirectorySeparator(current);
    }
}
