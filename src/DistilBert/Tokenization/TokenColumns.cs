using System.Runtime.CompilerServices;

namespace DistilBert.Tokenization;

/// <summary>
/// Growable columns of tokens (struct of arrays), reused between calls so steady-state encoding allocates nothing.
/// Raw tokens of one text use Ids/Starts/Ends/WordIds; assembled sequences fill every column.
/// </summary>
internal sealed class TokenColumns
{
    public int[] Ids = new int[64];
    public int[] TypeIds = new int[64];
    public int[] Starts = new int[64];
    public int[] Ends = new int[64];
    public int[] WordIds = new int[64];
    public sbyte[] SequenceIds = new sbyte[64];
    public byte[] SpecialMask = new byte[64];
    public int Count;

    public void Clear() => Count = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddRaw(int id, int start, int end, int wordId)
    {
        if (Count == Ids.Length) Grow(Count + 1);
        Ids[Count] = id; Starts[Count] = start; Ends[Count] = end; WordIds[Count] = wordId;
        Count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int id, int typeId, int start, int end, int wordId, int sequenceId, bool special)
    {
        if (Count == Ids.Length) Grow(Count + 1);
        Ids[Count] = id; TypeIds[Count] = typeId; Starts[Count] = start; Ends[Count] = end; WordIds[Count] = wordId;
        SequenceIds[Count] = (sbyte)sequenceId; SpecialMask[Count] = special ? (byte)1 : (byte)0;
        Count++;
    }

    /// <summary>Appends raw tokens [from, to) of <paramref name="raw"/> as sequence <paramref name="sequenceId"/>.</summary>
    public void AppendSequence(TokenColumns raw, int from, int to, int typeId, int sequenceId)
    {
        int n = to - from;
        EnsureCapacity(Count + n);
        raw.Ids.AsSpan(from, n).CopyTo(Ids.AsSpan(Count));
        raw.Starts.AsSpan(from, n).CopyTo(Starts.AsSpan(Count));
        raw.Ends.AsSpan(from, n).CopyTo(Ends.AsSpan(Count));
        raw.WordIds.AsSpan(from, n).CopyTo(WordIds.AsSpan(Count));
        TypeIds.AsSpan(Count, n).Fill(typeId);
        SequenceIds.AsSpan(Count, n).Fill((sbyte)sequenceId);
        SpecialMask.AsSpan(Count, n).Clear();
        Count += n;
    }

    public void EnsureCapacity(int capacity)
    {
        if (capacity > Ids.Length) Grow(capacity);
    }

    void Grow(int needed)
    {
        int size = Math.Max(needed, Ids.Length * 2);
        Array.Resize(ref Ids, size); Array.Resize(ref TypeIds, size); Array.Resize(ref Starts, size);
        Array.Resize(ref Ends, size); Array.Resize(ref WordIds, size); Array.Resize(ref SequenceIds, size);
        Array.Resize(ref SpecialMask, size);
    }
}
