using System.Text.RegularExpressions;

namespace DistilBert.Hub;

/// <summary>
/// huggingface_hub's cache layout for one model repo:
/// <c>models--org--name/refs/&lt;revision&gt;</c> (a commit hash), <c>blobs/&lt;etag&gt;</c> (file contents, named by
/// the sha256 for LFS files or the git sha1 otherwise) and <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> (relative symlinks
/// into blobs, or copies where symlinks are not allowed). Every name that comes from a user or a server is checked
/// before it becomes part of a path.
/// </summary>
public sealed partial class HubCache
{
    /// <summary>The repo id, <c>org/name</c>.</summary>
    public string RepoId { get; }
    /// <summary>The repo's folder in the cache, <c>models--org--name</c>.</summary>
    public string RepoDir { get; }

    /// <summary>
    /// The cache folder of <paramref name="repoId"/> under <paramref name="cacheDir"/>; the id is checked first.
    /// </summary>
    public HubCache(string cacheDir, string repoId)
    {
        ValidateRepoId(repoId);
        RepoId = repoId;
        RepoDir = Path.Combine(Path.GetFullPath(cacheDir), "models--" + repoId.Replace("/", "--"));
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}(/[A-Za-z0-9_.\-]{1,96})?$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex(@"^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]{1,128}$")]
    private static partial Regex SafeNamePattern();

    /// <summary>
    /// Whether <paramref name="text"/> is a Hub repo id (<c>name</c> or <c>org/name</c>) rather than a path.
    /// </summary>
    public static bool IsRepoId(string text) => RepoIdPattern().IsMatch(text) && !text.Contains("..") && !text.EndsWith(".git", StringComparison.Ordinal);

    /// <summary>Throws <see cref="HubException"/> when <paramref name="repoId"/> is not a valid repo id.</summary>
    public static void ValidateRepoId(string repoId)
    {
        if (!IsRepoId(repoId)) throw new HubException($"'{repoId}' is not a valid Hub repo id (expected 'name' or 'org/name' of letters, digits, '-', '_', '.')");
    }

    /// <summary>Whether <paramref name="revision"/> is a 40-hex-digit commit hash.</summary>
    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>A revision (branch, tag, "refs/pr/1", commit) is a path under refs/: plain segments only.</summary>
    public static void ValidateRevision(string revision)
    {
        if (revision.Length == 0 || revision.Length > 256 || revision.Split('/').Any(s => !SafeNamePattern().IsMatch(s) || s is "." or ".."))
            throw new HubException($"revision '{revision}' is not a valid branch, tag or commit name");
    }

    /// <summary>A repo file name ("config.json", "onnx/model.onnx"): relative, plain segments, nothing that climbs out.</summary>
    public static void ValidateFileName(string repoId, string fileName)
    {
        bool ok = fileName.Length is > 0 and <= 512 && !fileName.Contains('\\') && !fileName.Contains(':') && !fileName.StartsWith('/')
            && fileName.Split('/').All(s => s.Length > 0 && s is not "." and not ".." && s.All(ch => !char.IsControl(ch)));
        if (!ok) throw new HubException($"{repoId}: refusing file name '{fileName}': not a plain relative path inside the repo (path traversal?)");
    }

    /// <summary>An etag names a blob file: it must be a plain name (a git sha1 or an sha256 in practice).</summary>
    public static void ValidateEtag(string repoId, string fileName, string etag)
    {
        if (!SafeNamePattern().IsMatch(etag) || etag is "." or "..")
            throw new HubException($"{repoId}/{fileName}: the server's etag '{etag}' is not a plain blob name");
    }

    /// <summary>The blob file of the content with ETag <paramref name="etag"/>.</summary>
    public string BlobPath(string etag) => Path.Combine(RepoDir, "blobs", etag);
    /// <summary>huggingface_hub's lock file for a blob: &lt;cache&gt;/.locks/models--org--name/&lt;etag&gt;.lock.</summary>
    public string LockPath(string etag) => Path.Combine(Path.GetDirectoryName(RepoDir)!, ".locks", Path.GetFileName(RepoDir), etag + ".lock");
    /// <summary>The file holding the commit that <paramref name="revision"/> (a branch or tag) points to.</summary>
    public string RefPath(string revision) => Path.Combine([RepoDir, "refs", .. revision.Split('/')]);
    /// <summary>The snapshot folder of <paramref name="commit"/>.</summary>
    public string SnapshotDir(string commit) => Path.Combine(RepoDir, "snapshots", commit);

    /// <summary>
    /// The path of <paramref name="fileName"/> in the snapshot of <paramref name="commit"/>, checked to stay inside it.
    /// </summary>
    public string SnapshotFile(string commit, string fileName)
    {
        var dir = SnapshotDir(commit);
        var path = Path.GetFullPath(Path.Combine([dir, .. fileName.Split('/')]));
        // Belt and braces after ValidateFileName: the result must stay inside the snapshot.
        if (!path.StartsWith(dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new HubException($"{RepoId}: refusing file name '{fileName}': it resolves outside the snapshot folder");
        return path;
    }

    /// <summary>The commit a revision points to in the cache: the revision itself if it is a commit hash, else refs/&lt;revision&gt;.</summary>
    public string? CachedCommit(string revision)
    {
        if (IsCommitHash(revision)) return revision;
        var refPath = RefPath(revision);
        if (!File.Exists(refPath)) return null;
        var commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records that <paramref name="revision"/> points to <paramref name="commit"/>.</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit) return;
        var path = RefPath(revision);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path) && File.ReadAllText(path) == commit) return;
        AtomicFile.WriteAllText(path, commit);
    }

    /// <summary>Points snapshots/&lt;commit&gt;/&lt;file&gt; at blobs/&lt;etag&gt;: a relative symlink as huggingface_hub makes, else a copy.</summary>
    public string LinkSnapshot(string commit, string fileName, string etag)
    {
        var target = SnapshotFile(commit, fileName);
        var blob = BlobPath(etag);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(target) || new FileInfo(target).LinkTarget is not null) File.Delete(target);
        var relative = Path.GetRelativePath(Path.GetDirectoryName(target)!, blob);
        try { File.CreateSymbolicLink(target, relative); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, target, overwrite: true);
        }
        return target;
    }
}
