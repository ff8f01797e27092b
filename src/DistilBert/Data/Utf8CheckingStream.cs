using System.Buffers;
using System.Text.Unicode;

namespace DistilBert.Data;

/// <summary>
/// Passes a stream of UTF-8 bytes through unchanged and refuses the first invalid byte sequence with a
/// <see cref="DataFileException"/> naming the file, the line and the byte offset. A decoder would otherwise turn it
/// into U+FFFD without a word, and the model would see text that is not in the file.
/// </summary>
/// <remarks>Thread-safety: not thread-safe, like any Stream: one reader at a time.</remarks>
public sealed class Utf8CheckingStream(Stream inner, string name) : Stream
{
    byte[] pending = new byte[1 << 16];   // an incomplete sequence left from the last read, then the new bytes
    char[] decoded = new char[1 << 16];
    int carried;                          // bytes of pending[] carried over (at most 3)
    long carriedOffset;                   // byte offset of pending[0] in the stream
    long line = 1;                        // line of pending[0]
    bool finished;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read = inner.Read(buffer);
        Check(buffer[..read], final: read == 0);
        return read;
    }

    void Check(ReadOnlySpan<byte> bytes, bool final)
    {
        if (finished) return;
        int length = carried + bytes.Length;
        if (pending.Length < length) Array.Resize(ref pending, Math.Max(length, pending.Length * 2));
        if (decoded.Length < length) decoded = new char[Math.Max(length, decoded.Length * 2)];
        bytes.CopyTo(pending.AsSpan(carried));
        var all = pending.AsSpan(0, length);
        var status = Utf8.ToUtf16(all, decoded, out int valid, out _, replaceInvalidSequences: false, isFinalBlock: final);
        if (status == OperationStatus.InvalidData)
        {
            long at = carriedOffset + valid;
            long badLine = line + all[..valid].Count((byte)'\n');
            string hint = at == 0 && all.Length >= 2 && (all[0] == 0xFF && all[1] == 0xFE || all[0] == 0xFE && all[1] == 0xFF)
                ? " (a UTF-16 byte-order mark: save the file as UTF-8)" : "";
            throw new DataFileException(name, badLine, $"not UTF-8 text: invalid byte 0x{all[valid]:X2} at byte offset {at}{hint}");
        }
        // Done, or NeedMoreData: the last bytes start a sequence the next read completes.
        line += all[..valid].Count((byte)'\n');
        carriedOffset += valid;
        carried = length - valid;
        all[valid..].CopyTo(pending);
        finished = final;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}
