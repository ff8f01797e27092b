using System.Buffers.Binary;
using System.Text;

namespace DistilBert.Checkpoints;

/// <summary>A storage referenced by a torch pickle's persistent id: <c>('storage', torch.FloatStorage, key, location, numel)</c>.</summary>
internal sealed record TorchStorageRef(string Key, TensorDType DType, long ElementCount);

/// <summary>A tensor rebuilt by <c>torch._utils._rebuild_tensor_v2</c>: a strided view of a storage.</summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long StorageOffset, long[] Shape, long[] Stride);

/// <summary>
/// A pickle reader that understands only what <c>torch.save(state_dict)</c> writes. It is a data parser, not a
/// Python VM: GLOBAL resolves names against a fixed allow-list (OrderedDict, the tensor rebuild functions, the
/// storage types) and refuses every other name before anything could use it; REDUCE only "calls" those entries,
/// which build plain records here. Its work and memory are bounded by what a state dict needs: strings by the pickle's
/// length, and every value it holds (stack slot, memo entry, container item) by <see cref="MaxValues"/>.
/// </summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>
    /// Tensors in one state dict. The largest model the config limits allow (256 layers) has about 4,200; BERT-large 400.
    /// </summary>
    public const int MaxTensors = 16_384;

    /// <summary>
    /// Values one pickle may create or store: pushes, memo entries and container items each count one. torch.save spends
    /// about 45 per tensor (measured on transformers' checkpoints), so this leaves room for ~23,000 tensors, while a hostile
    /// pickle (a million nested tuples, lists of empty dicts...) is refused after a few tens of MB and milliseconds.
    /// </summary>
    public const int MaxValues = MaxTensors * 64;

    public const int MaxMemoEntries = MaxValues;
    /// <summary>One SETITEMS may hold every key and value of the dict at once.</summary>
    public const int MaxStackDepth = 2 * MaxTensors + 64;

    /// <summary>Refers to an allowed Python global; REDUCE dispatches on it.</summary>
    sealed record PyGlobal(string Module, string Name)
    {
        public string FullName => Module + "." + Name;
    }

    sealed class PyMark
    {
        public static readonly PyMark Instance = new();
    }

    /// <summary>A Python dict (or OrderedDict), insertion-ordered like Python's.</summary>
    internal sealed class PyDict
    {
        public readonly List<KeyValuePair<object?, object?>> Items = new();
    }

    static readonly Dictionary<string, TensorDType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = TensorDType.F32,
        ["DoubleStorage"] = TensorDType.F64,
        ["HalfStorage"] = TensorDType.F16,
        ["BFloat16Storage"] = TensorDType.BF16,
        ["LongStorage"] = TensorDType.I64,
        ["IntStorage"] = TensorDType.I32,
        ["ShortStorage"] = TensorDType.I16,
        ["CharStorage"] = TensorDType.I8,
        ["ByteStorage"] = TensorDType.U8,
        ["BoolStorage"] = TensorDType.BOOL,
    };

    static bool IsAllowed(string module, string name) => (module, name) switch
    {
        ("collections", "OrderedDict") => true,
        ("torch._utils", "_rebuild_tensor_v2") => true,
        ("torch._utils", "_rebuild_parameter") => true,
        ("torch", _) when StorageTypes.ContainsKey(name) => true,
        _ => false,
    };

    readonly string _path;
    readonly byte[] _data;
    int _pos;
    readonly List<object?> _stack = new();
    readonly List<int> _marks = new();
    /// <summary>The memo by index (pickles number it 0, 1, 2...); <see cref="NotStored"/> marks the gaps of a sparse one.</summary>
    readonly List<object?> _memo = new();
    int _memoEntries;
    static readonly object NotStored = new();
    readonly Dictionary<string, TorchStorageRef> _storages = new(StringComparer.Ordinal);
    int _values;

    RestrictedUnpickler(string path, byte[] data, int start) { _path = path; _data = data; _pos = start; }

    /// <summary>Parses a torch state-dict pickle into (name, tensor) pairs in the file's order.</summary>
    public static List<KeyValuePair<string, TorchTensorRef>> LoadStateDict(string path, byte[] pickle)
    {
        int position = 0;
        return LoadStateDict(path, pickle, ref position);
    }

    /// <summary>Parses the state-dict pickle starting at <paramref name="position"/>, which is moved past its STOP.</summary>
    public static List<KeyValuePair<string, TorchTensorRef>> LoadStateDict(string path, byte[] data, ref int position)
    {
        var result = Load(path, data, ref position);
        if (result is not PyDict dict) throw new ModelFileException(path, $"the pickle holds a {Describe(result)}, not a state dict");
        if (dict.Items.Count > MaxTensors) throw new ModelFileException(path, $"the state dict has {dict.Items.Count} entries, over the {MaxTensors}-tensor limit");
        var tensors = new List<KeyValuePair<string, TorchTensorRef>>(dict.Items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) throw new ModelFileException(path, $"state dict key {Describe(key)} is not a string");
            if (value is not TorchTensorRef tensor) throw new ModelFileException(path, $"state dict entry '{name}' is a {Describe(value)}, not a tensor");
            if (!seen.Add(name)) throw new ModelFileException(path, $"state dict names '{name}' twice");
            tensors.Add(new(name, tensor));
        }
        return tensors;
    }

    /// <summary>Parses one pickle (plain data or a state dict) starting at <paramref name="position"/>; moves it past STOP.</summary>
    public static object? Load(string path, byte[] data, ref int position)
    {
        var unpickler = new RestrictedUnpickler(path, data, position);
        var result = unpickler.Run();
        position = unpickler._pos;
        return result;
    }

    /// <summary>A pickled list of strings (the legacy format's storage-key list).</summary>
    public static List<string> LoadStringList(string path, byte[] data, ref int position)
    {
        var result = Load(path, data, ref position);
        if (result is not List<object?> list || list.Any(o => o is not string)) throw new ModelFileException(path, $"expected a list of storage keys, found a {Describe(result)}");
        return list.Cast<string>().ToList();
    }

    ModelFileException Error(string message) => new(_path, $"pickle offset {_pos}: {message}");

    static string Describe(object? o) => o switch
    {
        null => "None",
        string => "string",
        long => "int",
        bool => "bool",
        double => "float",
        object?[] => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        PyGlobal g => "global " + g.FullName,
        TorchStorageRef => "storage",
        TorchTensorRef => "tensor",
        _ => o.GetType().Name,
    };

    /// <summary>Running out of bytes: marked by an EndOfStreamException inside, so a caller holding only a prefix of a file can read more.</summary>
    ModelFileException Truncated(string message) => new(_path, $"pickle offset {_pos}: {message}", new EndOfStreamException());

    byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Truncated("truncated pickle");

    ReadOnlySpan<byte> ReadBytes(long count)
    {
        if (count < 0) throw Error($"negative length {count}");
        if (count > _data.Length - _pos) throw Truncated($"length {count} runs past the end of the pickle");
        var span = _data.AsSpan(_pos, (int)count);
        _pos += (int)count;
        return span;
    }

    string ReadLine()
    {
        int start = _pos;
        int end = Array.IndexOf(_data, (byte)'\n', _pos, Math.Min(_data.Length - _pos, 1024));
        if (end < 0) throw _data.Length - _pos < 1024 ? Truncated("unterminated text line") : Error("unterminated text line");
        _pos = end + 1;
        return DecodeUtf8(_data.AsSpan(start, end - start));
    }

    string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error("string is not valid UTF-8"); }
    }

    /// <summary>Counts values against <see cref="MaxValues"/>, so that no pickle costs more than a real state dict could.</summary>
    void Charge(int values)
    {
        _values += values;
        if (_values > MaxValues) throw Error($"more than {MaxValues} values: a state dict of at most {MaxTensors} tensors needs fewer");
    }

    void Push(object? o)
    {
        if (_stack.Count >= MaxStackDepth) throw Error($"stack deeper than {MaxStackDepth}");
        Charge(1);
        _stack.Add(o);
    }

    /// <summary>A new tuple: its items count as values too.</summary>
    void PushTuple(object?[] items)
    {
        Charge(items.Length);
        Push(items);
    }

    object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks[^1])) throw Error("stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    object? Peek() => _stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks[^1]) ? throw Error("stack underflow") : _stack[^1];

    List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    void Memoize(long index, object? value)
    {
        if (index < 0 || index >= MaxMemoEntries) throw Error($"memo index {index} beyond the {MaxMemoEntries}-entry limit");
        int i = (int)index;
        // A gap costs its slots: a sparse index is charged for the list it makes.
        if (i >= _memo.Count)
        {
            Charge(i - _memo.Count);
            while (_memo.Count <= i) _memo.Add(NotStored);
        }
        if (_memo[i] == NotStored) _memoEntries++;
        Charge(1);
        _memo[i] = value;
    }

    object? Recall(long index) =>
        index >= 0 && index < _memo.Count && _memo[(int)index] is var v && v != NotStored ? v : throw Error($"memo index {index} was never stored");

    object? Run()
    {
        while (true)
        {
            int opOffset = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    { int v = ReadByte(); if (v > 5) throw Error($"pickle protocol {v} is not supported"); break; }
                case 0x95: // FRAME (protocol 4): a length hint only
                    ReadBytes(8); break;
                case (byte)'.': // STOP
                    {
                        if (_marks.Count != 0) throw Error("MARK left open at STOP");
                        var result = Pop();
                        return result;
                    }
                case (byte)'(': // MARK
                    if (_marks.Count >= MaxStackDepth) throw Error("too many MARKs");
                    _marks.Add(_stack.Count); break;
                case (byte)'}': Push(new PyDict()); break;  // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case 0x8a: // LONG1: little-endian two's complement, at most 8 bytes here
                    {
                        int n = ReadByte();
                        if (n > 8) throw Error($"integer of {n} bytes is too large");
                        var b = ReadBytes(n);
                        long v = 0;
                        for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
                        if (n is > 0 and < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                        Push(v);
                        break;
                    }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': // BINUNICODE
                    Push(DecodeUtf8(ReadBytes(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))))); break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(DecodeUtf8(ReadBytes(ReadByte()))); break;
                case (byte)'q': Memoize(ReadByte(), Peek()); break; // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)), Peek()); break; // LONG_BINPUT
                case 0x94: Memoize(_memoEntries, Peek()); break; // MEMOIZE: the next index is the memo's size, as in Python
                case (byte)'h': Push(Recall(ReadByte())); break; // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'t': PushTuple(PopToMark().ToArray()); break; // TUPLE
                case 0x85: PushTuple([Pop()]); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); PushTuple([a, b]); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); PushTuple([a, b, c]); break; } // TUPLE3
                case (byte)'a': // APPEND
                    { var v = Pop(); var list = AsList(Peek()); Charge(1); list.Add(v); break; }
                case (byte)'e': // APPENDS
                    { var items = PopToMark(); var list = AsList(Peek()); Charge(items.Count); list.AddRange(items); break; }
                case (byte)'s': // SETITEM
                    { var v = Pop(); var k = Pop(); var dict = AsDict(Peek()); Charge(1); dict.Items.Add(new(k, v)); break; }
                case (byte)'u': // SETITEMS
                    {
                        var items = PopToMark();
                        if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
                        var dict = AsDict(Peek());
                        Charge(items.Count / 2);
                        for (int i = 0; i < items.Count; i += 2) dict.Items.Add(new(items[i], items[i + 1]));
                        break;
                    }
                case (byte)'c': // GLOBAL "module\nname\n"
                    Push(ResolveGlobal(ReadLine(), ReadLine())); break;
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop(); var module = Pop();
                        if (module is not string m || name is not string n) throw Error("STACK_GLOBAL needs two strings");
                        Push(ResolveGlobal(m, n));
                        break;
                    }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop())); break;
                case (byte)'R': // REDUCE
                    { var args = Pop(); var callable = Pop(); Push(Reduce(callable, args)); break; }
                default:
                    _pos = opOffset;
                    throw Error($"opcode 0x{op:x2} is not allowed in a state-dict pickle");
            }
        }
    }

    List<object?> AsList(object? o) => o as List<object?> ?? throw Error($"APPEND to a {Describe(o)}");

    PyDict AsDict(object? o) => o as PyDict ?? throw Error($"SETITEM on a {Describe(o)}");

    PyGlobal ResolveGlobal(string module, string name)
    {
        if (!IsAllowed(module, name))
            throw new ModelFileException(_path, $"the pickle refuses global {module}.{name}: only a plain tensor state dict can be loaded (nothing is executed)");
        return new PyGlobal(module, name);
    }

    TorchStorageRef PersistentLoad(object? pid)
    {
        // ('storage', <storage type>, key, location, numel), plus view metadata (always None since torch 1.0) in the legacy format
        if (pid is not object?[] { Length: 5 or 6 } t || (t.Length == 6 && t[5] is not null) || t[0] is not "storage" || t[1] is not PyGlobal type || type.Module != "torch"
            || !StorageTypes.TryGetValue(type.Name, out var dtype) || t[2] is not string key || t[3] is not string || t[4] is not long numel || numel < 0)
            throw Error($"unsupported persistent id {Describe(pid)}");
        if (key.Length == 0 || key.Length > 64 || key.Any(ch => !char.IsAsciiLetterOrDigit(ch) && ch != '_'))
            throw Error($"storage key '{key}' is not a plain name");
        if (_storages.TryGetValue(key, out var existing))
        {
            if (existing.DType != dtype || existing.ElementCount != numel) throw Error($"storage '{key}' is declared twice with different types or sizes");
            return existing;
        }
        var storage = new TorchStorageRef(key, dtype, numel);
        _storages[key] = storage;
        return storage;
    }

    object? Reduce(object? callable, object? args)
    {
        if (callable is not PyGlobal g) throw Error($"REDUCE on a {Describe(callable)}");
        if (args is not object?[] a) throw Error($"REDUCE of {g.FullName} without an argument tuple");
        switch (g.FullName)
        {
            case "collections.OrderedDict":
                if (a.Length != 0) throw Error("OrderedDict with arguments");
                return new PyDict();
            case "torch._utils._rebuild_tensor_v2":
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (a.Length is < 6 or > 7 || a[0] is not TorchStorageRef storage || a[1] is not long offset
                    || a[2] is not object?[] size || a[3] is not object?[] stride || size.Length != stride.Length)
                    throw Error("malformed _rebuild_tensor_v2 arguments");
                return new TorchTensorRef(storage, offset, ToLongs(size, "size"), ToLongs(stride, "stride"));
            case "torch._utils._rebuild_parameter":
                // (data, requires_grad, backward_hooks): a Parameter is its tensor for loading purposes
                if (a.Length != 3 || a[0] is not TorchTensorRef tensor) throw Error("malformed _rebuild_parameter arguments");
                return tensor;
            default:
                throw Error($"{g.FullName} cannot be called");
        }
    }

    long[] ToLongs(object?[] items, string what)
    {
        var result = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = items[i] is long v && v >= 0 ? v : throw Error($"tensor {what} element {Describe(items[i])} is not a non-negative int");
        return result;
    }
}
