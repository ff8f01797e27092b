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
    Task<StudioEndpoint?> GetEndpointAsync(string name);
    Task<IReadOnlyList<StudioEndpoint>> ListEndpointsAsync();
    /// <summary>Deletes the endpoint with its keys, shares, review items and request records; false when there was none.</summary>
    Task<bool> DeleteEndpointAsync(string name);

    Task<StudioKey?> FindKeyAsync(string hash);
    Task<bool> HasAdminKeyAsync();
    Task AddKeyAsync(StudioKey key);

    /// <summary>Counts a request against <paramref name="keyHash"/>'s limit over the last 60 s (a sliding window shared by
    /// every process on the store) and records it when admitted.</summary>
    Task<Admission> AdmitAsync(string keyHash, string endpoint, int limitPerMinute, DateTimeOffset now);
    Task RecordLatencyAsync(string requestId, double milliseconds);
    Task<EndpointStats> StatsAsync(string endpoint);

    Task AddItemAsync(ReviewItem item);
    Task<ReviewItem?> GetItemAsync(string id);
    /// <summary>The endpoint's items, oldest first; <paramref name="status"/> null for all.</summary>
    Task<IReadOnlyList<ReviewItem>> ListItemsAsync(string endpoint, string? status);
    /// <summary>Records a decision on a pending item; null when the item is not pending (decided already, by anyone).</summary>
    Task<ReviewItem?> DecideAsync(string id, string status, System.Text.Json.JsonElement? correction, DateTimeOffset now);

    Task AddShareAsync(StudioShare share);
    Task<StudioShare?> GetShareAsync(string token);
    Task<IReadOnlyList<StudioShare>> ListSharesAsync(string endpoint);
    Task<bool> DeleteShareAsync(string token);
}
