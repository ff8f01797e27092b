namespace DistilBert;

/// <summary>
/// Writes a file so that a reader sees either the old content or all of the new: the content goes to a temporary file
/// beside the target (same file system, so the rename is atomic), which is then renamed over it. A failed write or
/// rename (disk full, the target is a directory...) deletes the temporary file: nothing is left behind.
/// </summary>
public static class AtomicFile
{
    /// <param name="writeTemporary">writes the whole content to the path it is given</param>
    /// <param name="path">The file to write; it holds the old content or the whole new one, never a part.</param>
    public static void Write(string path, Action<string> writeTemporary)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temporary = TemporaryFiles.PathBeside(directory, Path.GetFileName(path));
        try
        {
            writeTemporary(temporary);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>UTF-8 without a byte-order mark, as File.WriteAllText.</summary>
    public static void WriteAllText(string path, string text) => Write(path, temporary => File.WriteAllText(temporary, text));

    /// <summary>Copies <paramref name="source"/> to <paramref name="path"/> atomically.</summary>
    public static void Copy(string source, string path) => Write(path, temporary => File.Copy(source, temporary, overwrite: true));
}
