namespace DistilBert.Hub;

/// <summary>Turns what a user typed for a model (a folder, a file, or a Hub repo id) into a local path.</summary>
public static class ModelPath
{
    /// <summary>
    /// An existing folder or file is returned as is. Otherwise <paramref name="pathOrRepoId"/> must be a Hub repo id
    /// ("org/name"): it resolves through the Hugging Face cache, downloading what is missing unless offline
    /// (options default to the HF_* environment variables).
    /// </summary>
    public static string Resolve(string pathOrRepoId, string? revision = null, HubOptions? options = null, IProgress<HubProgress>? progress = null)
    {
        if (Directory.Exists(pathOrRepoId) || File.Exists(pathOrRepoId)) return pathOrRepoId;
        if (!HubCache.IsRepoId(pathOrRepoId))
            throw new ModelFileException(pathOrRepoId, "no such folder or file, and not a Hub repo id ('org/name')");
        using var client = new HubClient(options ?? HubOptions.FromEnvironment());
        try { return client.DownloadModelAsync(pathOrRepoId, revision, progress).GetAwaiter().GetResult(); }
        catch (HubException e)
        {
            throw new HubException($"'{pathOrRepoId}' is not a local folder or file, and as a Hub repo id: {e.Message}", e);
        }
    }
}
