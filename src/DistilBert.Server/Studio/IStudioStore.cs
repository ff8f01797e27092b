namespace DistilBert.Server.Studio;

/// <summary>
/// The Studio's storage: endpoints, key hashes, review items and decisions, share links and per-endpoint request
/// records. Every call reads or writes the database itself (nothing is cached), so several server processes may share
/// one PostgreSQL database; every write is committed durably before the call returns.
/// </summary>
/// <remarks>Thread-safety: implementations are safe to call from many threads at once (each call uses its own pooled connection).</remarks>
public interface IStudioStore : IDisposable
{
    /// <summary>Creates the endpoint and its keys in one transaction; false when the name is taken.</summary>
    Task<bool> CreateEndpointAsync(StudioEndpoint endpoint, IReadOnlyList<StudioKey> keys);
    /// <summary>The endpoint named <paramref name="name"/>; null when there is none.</summary>
    Task<StudioEndpoint?> GetEndpointAsync(string name);
    /// <summary>Every endpoint, oldest first (by creation time, then name).</summary>
    Task<IReadOnlyList<StudioEndpoint>> ListEndpointsAsync();
    /// <summary>Deletes the endpoint with its keys, shares, review items and request records; false when there was none.</summary>
    Task<bool> DeleteEndpointAsync(string name);

    /// <summary>The stored key whose SHA-256 (lower-case hex) is <paramref name="hash"/>; null when there is none.</summary>
    Task<StudioKey?> FindKeyAsync(string hash);
    /// <summary>Whether the store holds at least one admin key (keys given in the options are not in the store).</summary>
    Task<bool> HasAdminKeyAsync();
    /// <summary>Stores <paramref name="key"/> (its hash, scope and endpoint), created now.</summary>
    Task AddKeyAsync(StudioKey key);

    /// <summary>Counts a request against <paramref name="keyHash"/>'s limit over the last 60 s (a sliding window shared by
    /// every process on the store) and records it when admitted.</summary>
    Task<Admission> AdmitAsync(string keyHash, string endpoint, int limitPerMinute, DateTimeOffset now);
    /// <summary>Records the latency, in milliseconds, of the request admitted as <paramref name="requestId"/> (<see cref="Admission.RequestId"/>).</summary>
    Task RecordLatencyAsync(string requestId, double milliseconds);
    /// <summary>The endpoint's request count, p50/p99 latency (ms) of its timed requests, and its items pending review.</summary>
    Task<EndpointStats> StatsAsync(string endpoint);

    /// <summary>Stores a new review item (held or flagged output) as it is given, usually <see cref="ReviewItem.Pending"/>.</summary>
    Task AddItemAsync(ReviewItem item);
    /// <summary>The review item with <paramref name="id"/>, whatever its endpoint and status; null when there is none.</summary>
    Task<ReviewItem?> GetItemAsync(string id);
    /// <summary>The endpoint's items, oldest first; <paramref name="status"/> null for all.</summary>
    Task<IReadOnlyList<ReviewItem>> ListItemsAsync(string endpoint, string? status);
    /// <summary>Records a decision on a pending item; null when the item is not pending (decided already, by anyone).</summary>
    Task<ReviewItem?> DecideAsync(string id, string status, System.Text.Json.JsonElement? correction, DateTimeOffset now);

    /// <summary>Stores a share link.</summary>
    Task AddShareAsync(StudioShare share);
    /// <summary>The share link with <paramref name="token"/>; null when there is none (or it was revoked).</summary>
    Task<StudioShare?> GetShareAsync(string token);
    /// <summary>The endpoint's share links, oldest first.</summary>
    Task<IReadOnlyList<StudioShare>> ListSharesAsync(string endpoint);
    /// <summary>Revokes the share link with <paramref name="token"/>; false when there was none.</summary>
    Task<bool> DeleteShareAsync(string token);
}
