using System.Text.Json;
using System.Text.Json.Serialization;

namespace DistilBert.Server.Studio;

// The Studio's stored records. All are immutable, so safe to share between threads.

/// <summary>Who may call an endpoint and what is kept of its inputs.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record SecurityPolicy(int CallerKeys = 1, int RateLimitPerMinute = 60, int MaxInputChars = 2000, string StoreInputs = "off");

/// <summary>When an output is held for human review, and what the caller gets meanwhile (<c>hold</c>: 202; <c>flag</c>: 200 with the answer).</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record ReviewPolicy(bool Enabled = true, double Threshold = 0.8, double AuditRate = 0.0, string Mode = "hold", int ReviewerKeys = 1);

/// <summary>A named endpoint: a template's task run by one served model, with its parameters and policies.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record StudioEndpoint(string Name, string Template, string Task, string Model, JsonElement Parameters,
    SecurityPolicy Security, ReviewPolicy Review, DateTimeOffset CreatedAt);

/// <summary>What a key may do: everything (admin), run one endpoint (caller), review one endpoint (reviewer).</summary>
public enum KeyScope
{
    /// <summary>Every route of every endpoint: templates, creating and deleting endpoints (with their keys), runs, reviews, shares and exports.</summary>
    Admin,
    /// <summary>Runs its endpoint and reads the results of its held requests.</summary>
    Caller,
    /// <summary>Reads its endpoint (with its stats), lists and decides its review items, and exports the reviewed ones.</summary>
    Reviewer,
}

/// <summary>A stored key: only the SHA-256 of the key (lower-case hex) is kept.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record StudioKey(string Hash, KeyScope Scope, string? Endpoint);

/// <summary>An output held or flagged for review. <see cref="Inputs"/> is null when the endpoint stores no inputs;
/// <see cref="Correction"/> is the reviewer's output (in the task's output shape) once corrected.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record ReviewItem(string Id, string Endpoint, DateTimeOffset CreatedAt, JsonElement? Inputs, JsonElement Output, string Reason,
    string Status, JsonElement? Correction = null, DateTimeOffset? DecidedAt = null)
{
    /// <summary>The <see cref="Status"/> of an item awaiting a reviewer's decision.</summary>
    public const string Pending = "pending";
    /// <summary>The <see cref="Status"/> of an item whose model output a reviewer accepted.</summary>
    public const string Accepted = "accepted";
    /// <summary>The <see cref="Status"/> of an item a reviewer corrected (<see cref="Correction"/> holds the output).</summary>
    public const string Corrected = "corrected";

    /// <summary>The answer a caller gets once decided: the correction, or the model's output when accepted.</summary>
    [JsonIgnore] public JsonElement FinalOutput => Correction ?? Output;
}

/// <summary>A revocable link to one endpoint's read-only test page.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record StudioShare(string Token, string Endpoint, DateTimeOffset CreatedAt);

/// <summary>Requests run by an endpoint (every process sharing the store), their latency percentiles, and items pending review.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public sealed record EndpointStats(long Requests, double? P50Ms, double? P99Ms, long Held);

/// <summary>The answer of the per-key rate limit: admitted (with the id its latency is later recorded under) or how long to wait.</summary>
/// <remarks>Thread-safety: immutable; safe to share between threads.</remarks>
public readonly record struct Admission(bool Admitted, string RequestId, TimeSpan RetryAfter);
