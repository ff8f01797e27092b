namespace DistilBert.Hub;

/// <summary>A Hugging Face Hub request failed or its answer cannot be trusted (message names the repo, file and reason).</summary>
public sealed class HubException : DistilBertException
{
    /// <summary>Creates the error with its message, naming the repo, file and reason.</summary>
    public HubException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// Where and how to reach the Hub, with huggingface_hub's environment variables: HF_ENDPOINT, HF_TOKEN (else the
/// token file in HF_HOME), HF_HUB_CACHE (else the older HUGGINGFACE_HUB_CACHE, else HF_HOME/hub), HF_HOME (else
/// XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface) and HF_HUB_OFFLINE.
/// </summary>
public sealed record HubOptions
{
    /// <summary>huggingface.co, the endpoint when HF_ENDPOINT is not set.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The Hub's base URL (HF_ENDPOINT).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;
    /// <summary>Sent as <c>Authorization: Bearer</c> to the endpoint's host only (never to a CDN it redirects to).</summary>
    public string? Token { get; init; }
    /// <summary>The hub cache root holding <c>models--org--name</c> folders.</summary>
    public required string CacheDir { get; init; }
    /// <summary>Never touch the network; serve from the cache or fail naming the missing file.</summary>
    public bool Offline { get; init; }
    /// <summary>How long one request may take before it fails.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The options the process environment names (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE).
    /// </summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The options the variables read through <paramref name="env"/> name, with huggingface_hub's defaults and
    /// precedence.
    /// </summary>
    public static HubOptions FromEnvironment(Func<string, string?> env)
    {
        static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
        var home = NonEmpty(env("HF_HOME"))
            ?? Path.Combine(NonEmpty(env("XDG_CACHE_HOME")) ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "huggingface");
        var cache = NonEmpty(env("HF_HUB_CACHE")) ?? NonEmpty(env("HUGGINGFACE_HUB_CACHE")) ?? Path.Combine(home, "hub");
        var token = NonEmpty(env("HF_TOKEN")) ?? NonEmpty(env("HUGGING_FACE_HUB_TOKEN"));
        if (token is null)
        {
            var tokenFile = Path.Combine(home, "token");
            if (File.Exists(tokenFile)) token = NonEmpty(File.ReadAllText(tokenFile).Trim());
        }
        var offline = NonEmpty(env("HF_HUB_OFFLINE"))?.Trim().ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";
        return new HubOptions
        {
            Endpoint = (NonEmpty(env("HF_ENDPOINT")) ?? DefaultEndpoint).TrimEnd('/'),
            Token = token,
            CacheDir = cache,
            Offline = offline,
        };
    }
}

/// <summary>Progress of one file: bytes done of the total (null when the server did not say).</summary>
public readonly record struct HubProgress(string FileName, long BytesDone, long? TotalBytes, bool FromCache);
