using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DistilBert.Tokenization;

/// <summary>
/// A read-only string → int table looked up by <see cref="ReadOnlySpan{T}"/>, built once from a vocabulary. Faster than
/// <c>Dictionary.GetAlternateLookup</c> for WordPiece's many short lookups: a cheap multiplicative hash, linear probing
/// in a table at most half full, and each slot holding the key's first four chars and length, so most probes (and every
/// key of up to four chars) are settled inside the slot without touching the key string. Never modified after
/// construction, so hostile text cannot degrade it (probe lengths are fixed by the vocabulary).
/// </summary>
internal sealed class SpanTable
{
    [StructLayout(LayoutKind.Sequential)]
    struct Slot
    {
        public ulong Head;   // first four chars, zero-padded
        public uint Hash;
        public int Length;   // key length + 1; 0 = empty slot
        public int Value;
        public int Key;      // index into keys, for keys longer than four chars
    }

    readonly Slot[] slots;
    readonly string[] keys;
    readonly int mask;

    public SpanTable(IReadOnlyList<(string Key, int Value)> entries)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, entries.Count * 2));
        slots = new Slot[size];
        mask = size - 1;
        keys = new string[entries.Count];
        for (int e = 0; e < entries.Count; e++)
        {
            var key = entries[e].Key;
            keys[e] = key;
            ulong head = Head(key);
            uint hash = Hash(key, head);
            int slot = (int)(hash & (uint)mask);
            while (slots[slot].Length != 0)
            {
                if (slots[slot].Hash == hash && keys[slots[slot].Key] == key)
                    throw new ArgumentException($"duplicate key '{key}'", nameof(entries));
                slot = (slot + 1) & mask;
            }
            slots[slot] = new Slot { Head = head, Hash = hash, Length = key.Length + 1, Value = entries[e].Value, Key = e };
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(ReadOnlySpan<char> key, out int value)
    {
        ulong head = Head(key);
        uint hash = Hash(key, head);
        int length = key.Length + 1;
        int index = (int)(hash & (uint)mask);
        ref Slot first = ref MemoryMarshal.GetArrayDataReference(slots);
        while (true)
        {
            ref Slot slot = ref Unsafe.Add(ref first, index);
            if (slot.Length == 0) break;
            if (slot.Hash == hash && slot.Length == length && slot.Head == head
                && (key.Length <= 4 || keys[slot.Key].AsSpan(4).SequenceEqual(key[4..])))
            {
                value = slot.Value;
                return true;
            }
            index = (index + 1) & mask;
        }
        value = -1;
        return false;
    }

    /// <summary>The first four chars packed into 64 bits (zero-padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static ulong Head(ReadOnlySpan<char> key)
    {
        if (key.Length >= 4) return Unsafe.ReadUnaligned<ulong>(ref Unsafe.As<char, byte>(ref MemoryMarshal.GetReference(key)));
        ulong head = 0;
        for (int k = key.Length - 1; k >= 0; k--) head = head << 16 | key[k];
        return head;
    }

    /// <summary>
    /// Multiply-rotate hash over 64-bit chunks (4 chars), finished with a murmur-style mix. Keys of up to four chars are
    /// hashed from their packed <see cref="Head"/> alone; longer keys add their remaining chunks (the last one overlapping).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Hash(ReadOnlySpan<char> key, ulong head)
    {
        const ulong Prime = 0x9E3779B97F4A7C15UL;
        ulong h = BitOperations.RotateLeft((head ^ (ulong)key.Length) * Prime, 29);
        if (key.Length > 4)
        {
            ref byte start = ref Unsafe.As<char, byte>(ref MemoryMarshal.GetReference(key));
            int bytes = key.Length * 2, i = 8;
            for (; i + 8 <= bytes; i += 8)
                h = BitOperations.RotateLeft((h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i))) * Prime, 29);
            if (i < bytes) h = BitOperations.RotateLeft((h ^ Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, bytes - 8))) * Prime, 29);
        }
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        return (uint)h;
    }
}
