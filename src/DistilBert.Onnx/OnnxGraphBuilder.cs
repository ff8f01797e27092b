using System.Runtime.InteropServices;
using DistilBert.Onnx.Proto;
using Google.Protobuf;

namespace DistilBert.Onnx;

/// <summary>
/// Collects the nodes and initializers of one ONNX graph, giving every intermediate value a fresh name. Constants are
/// initializers too (ONNX hosts fold them the same way), each created once per distinct value.
/// </summary>
/// <remarks>Thread-safety: not thread-safe; one builder per export, used by one thread.</remarks>
internal sealed class OnnxGraphBuilder
{
    public GraphProto Graph { get; } = new();
    readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);
    int _next;

    public string Fresh(string hint) => $"/{hint}_{_next++}";

    /// <summary>Adds a node of one output, named <paramref name="output"/> or a fresh name; returns that name.</summary>
    public string Node(string opType, IEnumerable<string> inputs, string? output = null, params AttributeProto[] attributes)
    {
        output ??= Fresh(opType);
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{Graph.Node.Count}" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    /// <summary>An fp32 initializer, little-endian raw_data (ONNX's layout for raw_data whatever the host).</summary>
    public string Initializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        if (!_initializerNames.Add(name)) throw new InvalidOperationException($"initializer '{name}' added twice");
        var bytes = new byte[values.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(bytes);
        else
            for (int i = 0; i < values.Length; i++)
                System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>An int64 constant of shape [values.Length] (or a scalar when <paramref name="scalar"/>).</summary>
    public string Int64s(long[] values, bool scalar = false)
    {
        string key = (scalar ? "i64s:" : "i64:") + string.Join(",", values);
        if (_constants.TryGetValue(key, out var existing)) return existing;
        string name = $"/const_i64_{_constants.Count}";
        var bytes = new byte[values.Length * sizeof(long)];
        for (int i = 0; i < values.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(bytes) };
        if (!scalar) tensor.Dims.Add(values.Length);
        Graph.Initializer.Add(tensor);
        return _constants[key] = name;
    }

    /// <summary>An fp32 scalar constant.</summary>
    public string Float(float value)
    {
        string key = "f32:" + BitConverter.SingleToInt32Bits(value);
        if (_constants.TryGetValue(key, out var existing)) return existing;
        string name = $"/const_f32_{_constants.Count}";
        var bytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        Graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(bytes) });
        return _constants[key] = name;
    }

    /// <summary>A graph input or output: a tensor of <paramref name="elementType"/> whose axes are named (dynamic) or sized.</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType elementType, params object[] axes)
    {
        var shape = new TensorShapeProto();
        foreach (var axis in axes)
            shape.Dim.Add(axis is string param ? new TensorShapeProto.Types.Dimension { DimParam = param }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(axis) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } } };
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
