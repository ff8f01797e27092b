using System.IO.Compression;
using System.Text;

namespace DistilBert.Data;

/// <summary>
/// Opens data files as UTF-8 text, transparently un-gzipping names ending in <c>.gz</c>. Text that is not valid UTF-8 is
/// refused (<see cref="DataFileException"/> with the line and byte offset), not read as U+FFFD.
/// </summary>
public static class DataFile
{
    /// <summary>Opens <paramref name="path"/> for streaming reads; "-" reads stdin.</summary>
    public static TextReader OpenText(string path) =>
        new StreamReader(OpenUtf8Bytes(path), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);

    /// <summary>The file's bytes as <see cref="OpenBytes"/>, checked to be UTF-8 as they are read.</summary>
    public static Stream OpenUtf8Bytes(string path) => new Utf8CheckingStream(OpenBytes(path), DisplayName(path));

    /// <summary>A whole (small) text file, checked to be UTF-8.</summary>
    public static string ReadAllText(string path)
    {
        using var reader = OpenText(path);
        return reader.ReadToEnd();
    }

    /// <summary>How messages name a path: "stdin" for "-".</summary>
    public static string DisplayName(string path) => path == "-" ? "stdin" : path;

    /// <summary>The file's (un-gzipped) bytes as a forward-only stream; "-" is stdin.</summary>
    public static Stream OpenBytes(string path)
    {
        if (path == "-") return Console.OpenStandardInput();
        if (Directory.Exists(path)) throw new DataFileException(path, null, "is a folder, expected a data file");
        if (!File.Exists(path)) throw new DataFileException(path, null, "file not found");
        Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) stream = new GZipStream(stream, CompressionMode.Decompress);
        return stream;
    }

    /// <summary>The extension that names the format, ignoring a trailing <c>.gz</c> (".tsv", ".jsonl", ...), lower-case.</summary>
    public static string FormatExtension(string path)
    {
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return Path.GetExtension(name).ToLowerInvariant();
    }

    /// <summary>Streams the lines of a file with their 1-based line numbers.</summary>
    public static IEnumerable<(long Line, string Text)> ReadLines(string path)
    {
        using var reader = OpenText(path);
        long lineNumber = 0;
        while (reader.ReadLine() is { } line) yield return (++lineNumber, line);
    }
}

/// <summary>
/// Plain text, one item per line (a sentence, a paragraph). Blank lines are skipped unless asked for, since the
/// corpora use them as document separators.
/// </summary>
public static class TextLinesReader
{
    /// <summary>
    /// The lines of <paramref name="path"/> (.gz read through), numbered from 1; blank lines only when <paramref
    /// name="keepBlankLines"/>.
    /// </summary>
    public static IEnumerable<TextLine> Read(string path, bool keepBlankLines = false)
    {
        foreach (var (line, text) in DataFile.ReadLines(path))
        {
            if (!keepBlankLines && string.IsNullOrWhiteSpace(text)) continue;
            yield return new TextLine(line, text);
        }
    }
}

/// <summary>One line of a text file and where it came from.</summary>
public readonly record struct TextLine(long Line, string Text);
