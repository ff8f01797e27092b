namespace DistilBert.Checkpoints;

/// <summary>Element types found in safetensors and torch checkpoints (safetensors' spelling).</summary>
public enum TensorDType
{
    /// <summary>64-bit float.</summary>
    F64,
    /// <summary>32-bit float.</summary>
    F32,
    /// <summary>16-bit IEEE float.</summary>
    F16,
    /// <summary>16-bit brain float.</summary>
    BF16,
    /// <summary>64-bit signed integer.</summary>
    I64,
    /// <summary>32-bit signed integer.</summary>
    I32,
    /// <summary>16-bit signed integer.</summary>
    I16,
    /// <summary>8-bit signed integer.</summary>
    I8,
    /// <summary>8-bit unsigned integer.</summary>
    U8,
    /// <summary>Boolean, one byte each.</summary>
    BOOL,
}

/// <summary>Sizes, names and parsing of <see cref="TensorDType"/>. Stateless: safe to call from many threads.</summary>
public static class TensorDTypes
{
    /// <summary>Bytes per element of <paramref name="t"/>.</summary>
    public static int SizeOf(TensorDType t) => t switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        _ => 1,
    };

    /// <summary>Parses a safetensors dtype name (F32, BF16, ...).</summary>
    public static bool TryParse(string text, out TensorDType dtype)
    {
        switch (text)
        {
            case "F64": dtype = TensorDType.F64; return true;
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            case "I64": dtype = TensorDType.I64; return true;
            case "I32": dtype = TensorDType.I32; return true;
            case "I16": dtype = TensorDType.I16; return true;
            case "I8": dtype = TensorDType.I8; return true;
            case "U8": dtype = TensorDType.U8; return true;
            case "BOOL": dtype = TensorDType.BOOL; return true;
            default: dtype = default; return false;
        }
    }

    /// <summary>The safetensors name of <paramref name="t"/>.</summary>
    public static string Name(TensorDType t) => t.ToString();
}

/// <summary>Where a tensor lives in its file: name, element type, shape, and byte range of its data.</summary>
public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, long DataOffset, long ByteLength)
{
    /// <summary>Elements in the tensor: the product of its shape.</summary>
    public long ElementCount
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    /// <summary>The shape as text, <c>[30522, 768]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A read-only set of named tensors from a checkpoint file (safetensors, torch zip, a sharded set).
/// Reads convert to float32 / int64 as asked; errors name the file and the tensor.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>The file (or index) the tensors come from.</summary>
    string FilePath { get; }
    /// <summary>Every tensor, in file order.</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }
    /// <summary>The file's string metadata (safetensors <c>__metadata__</c>).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Whether a tensor named <paramref name="name"/> exists.</summary>
    bool Contains(string name);
    /// <summary>
    /// The tensor named <paramref name="name"/>; a missing one is a <see cref="ModelFileException"/>.
    /// </summary>
    TensorInfo Info(string name);
    /// <summary>Reads a floating-point tensor (F32, F16, BF16, F64) as float32 into <paramref name="destination"/>.</summary>
    void ReadFloat32(string name, Span<float> destination);
    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U8, BOOL) as int64.</summary>
    long[] ReadInt64(string name);
}

/// <summary>Reads of whole tensors; as safe to call from many threads as the source read from.</summary>
public static class TensorSourceExtensions
{
    /// <summary>The tensor named <paramref name="name"/> as a new float32 array.</summary>
    public static float[] ReadFloat32(this ITensorSource source, string name)
    {
        var info = source.Info(name);
        var result = new float[checked((int)info.ElementCount)];
        source.ReadFloat32(name, result);
        return result;
    }
}
