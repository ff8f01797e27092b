using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DistilBert.Tokenization;

/// <summary>
/// A read-only string → int table looked up by <see cref="ReadOnlySpan{T}"/>, built once from a vocabulary. Faster than
/// <c>Dictionary.GetAlternateLookup</c> for WordPiece's many short lookups: a cheap multiplicative hash over 4 chars at a
/// time and linear probing in a table at most half full. Never modified after construction, so lookups of hostile
/// text cannot degrade it (the probe lengths are fixed by the vocabulary).
/// </summary>
internal sealed class SpanTable
{
    readonly int[] slots;      // entry index + 1, 0 = empty
    readonly uint[] slotHashes;
    readonly string[] keys;
    readonly int[] values;
    readonly int mask;

    public SpanTable(IReadOnlyList<(string Key, int Value)> entries)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, entries.Count * 2));
        slots = new int[size];
        slotHashes = new uint[size];
        mask = size - 1;
        keys = new string[entries.Count];
        values = new int[entries.Count];
        for (int e = 0; e < entries.Count; e++)
        {
            keys[e] = entries[e].Key;
            values[e] = entries[e].Value;
            uint hash = Hash(keys[e]);
            int slot = (int)(hash & (uint)mask);
            while (slots[slot] != 0)
            {
                if (slotHashes[slot] == hash && keys[slots[slot] - 1] == keys[e])
                    throw new ArgumentException($"duplicate key '{keys[e]}'", nameof(entries));
                slot = (slot + 1) & mask;
            }
            slots[slot] = e + 1;
            slotHashes[slot] = hash;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ReadOnlySpan<char> key, out int value)
    {
        uint hash = Hash(key);
        int slot = (int)(hash & (uint)mask);
        int entry;
        while ((entry = slots[slot]) != 0)
        {
            if (slotHashes[slot] == hash && keys[entry - 1].AsSpan().SequenceEqual(key))
            {
                value = values[entry - 1];
                return true;
            }
            slot = (slot + 1) & mask;
        }
        value = -1;
        return false;
    }

    /// <summary>Multiply-rotate hash over 64-bit chunks (4 chars), finished with a murmur-style mix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Hash(ReadOnlySpan<char> key)
    {
        const ulong Prime = 0x9E3779B97F4A7C15UL;
        ulong h = (ulong)key.Length * Prime;
        var bytes = MemoryMarshal.AsBytes(key);
        int i = 0;
        for (; i + 8 <= bytes.Length; i += 8)
            h = BitOperations.RotateLeft((h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref MemoryMarshal.GetReference(bytes), i))) * Prime, 29);
        if (i < bytes.Length)
        {
            ulong tail = 0;
            for (int k = bytes.Length - 1; k >= i; k--) tail = tail << 8 | bytes[k];
            h = BitOperations.RotateLeft((h ^ tail) * Prime, 29);
        }
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (uint)h;
    }
}
