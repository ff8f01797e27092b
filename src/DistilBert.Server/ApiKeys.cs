using System.Security.Cryptography;
using System.Text;

namespace DistilBert.Server;

/// <summary>
/// The API keys file: one SHA-256 hash per line as 64 hex digits (blank lines and <c># comments</c> ignored), so the
/// file never holds a usable key. Make a line with <c>printf %s "$KEY" | sha256sum | cut -d' ' -f1</c>.
/// </summary>
/// <remarks>Thread-safety: stateless; any member may be called from many threads at once.</remarks>
public static class ApiKeys
{
    /// <summary>
    /// Reads an API key file (one SHA-256 hash in hex per line) into the hashes requests are checked against.
    /// </summary>
    public static IReadOnlyList<byte[]> LoadHashes(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new DataFileException(path, null, "API keys file not found");
        if (info.Length > 1 << 20) throw new DataFileException(path, null, $"API keys file is {info.Length} bytes; expected at most 1 MiB of hashes");
        var hashes = new List<byte[]>();
        int number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.Length != 64 || !line.All(Uri.IsHexDigit))
                throw new DataFileException(path, number, "expected a SHA-256 hash of a key (64 hex digits), e.g. from printf %s KEY | sha256sum; the file must not hold keys themselves");
            hashes.Add(Convert.FromHexString(line));
        }
        if (hashes.Count == 0) throw new DataFileException(path, null, "API keys file holds no hash");
        return hashes;
    }

    /// <summary>The line to put in the keys file for <paramref name="key"/>.</summary>
    public static string HashLine(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary><c>NAME=PATH</c>, <c>NAME:TASK=PATH</c> or a bare <c>PATH</c> (named after its last segment).</summary>
    public static ModelSource ParseModel(string spec)
    {
        int equals = spec.IndexOf('=');
        if (equals < 0)
        {
            var name = Path.GetFileName(spec.TrimEnd('/', '\\'));
            return new ModelSource(string.IsNullOrEmpty(name) ? spec : name, spec);
        }
        string left = spec[..equals], path = spec[(equals + 1)..];
        if (path.Length == 0) throw new InvalidInputException($"--model {spec}: no path after '='");
        int colon = left.IndexOf(':');
        if (colon < 0) return new ModelSource(left, path);
        var taskName = left[(colon + 1)..];
        var task = ServedModel.ParseTask(taskName) ?? throw new InvalidInputException(
            $"--model {spec}: unknown task '{taskName}' (feature-extraction, text-classification, token-classification, question-answering, fill-mask)");
        return new ModelSource(left[..colon], path, task);
    }
}
