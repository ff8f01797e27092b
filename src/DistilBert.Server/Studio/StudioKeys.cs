using System.Security.Cryptography;
using System.Text;

namespace DistilBert.Server.Studio;

/// <summary>Making keys, tokens and ids, and hashing keys as they are stored.</summary>
/// <remarks>Thread-safety: stateless; safe from many threads.</remarks>
public static class StudioKeys
{
    /// <summary>A new key: <c>dbk_</c> and 32 random bytes in base64url. Shown once; only its hash is stored.</summary>
    public static string NewKey() => "dbk_" + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>A share token: 32 random bytes in base64url (it is the link, so it is stored as is to be listed again).</summary>
    public static string NewShareToken() => Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>An unguessable record id (review items, request records).</summary>
    public static string NewId(string prefix) => prefix + Base64Url(RandomNumberGenerator.GetBytes(16));

    /// <summary>The stored form of a key: SHA-256 of its UTF-8 bytes, lower-case hex (the <c>--api-keys</c> file's format).</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
