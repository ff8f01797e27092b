# Writes the hostile model folders that tools/attack/checkpoints.sh runs the CLI on (standard library only).
# python3 tools/attack/checkpoints.py OUT_DIR  → one folder per case under OUT_DIR, each a model folder
# (config.json, weights, vocab.txt) or a lone weights file; prints nothing.
import json, os, random, struct, sys, zipfile
from array import array

OUT = sys.argv[1]
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(7995)] + ["hello", "world"]


def bert_config(**override):
    c = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 256, "num_hidden_layers": 4,
         "num_attention_heads": 4, "intermediate_size": 1024, "hidden_act": "gelu", "vocab_size": len(WORDS),
         "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0}
    c.update(override)
    return c


def bert_shapes(c):
    h, i = c["hidden_size"], c["intermediate_size"]
    shapes = {"embeddings.word_embeddings.weight": [c["vocab_size"], h],
              "embeddings.position_embeddings.weight": [c["max_position_embeddings"], h],
              "embeddings.token_type_embeddings.weight": [c["type_vocab_size"], h],
              "embeddings.LayerNorm.weight": [h], "embeddings.LayerNorm.bias": [h]}
    for l in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            shapes[p + n + ".weight"] = [h, h]; shapes[p + n + ".bias"] = [h]
        shapes[p + "intermediate.dense.weight"] = [i, h]; shapes[p + "intermediate.dense.bias"] = [i]
        shapes[p + "output.dense.weight"] = [h, i]; shapes[p + "output.dense.bias"] = [h]
        for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
            shapes[p + n + ".weight"] = [h]; shapes[p + n + ".bias"] = [h]
    shapes["pooler.dense.weight"] = [h, h]; shapes["pooler.dense.bias"] = [h]
    return shapes


def numel(shape):
    n = 1
    for d in shape: n *= d
    return n


def values(n, seed):
    # weights in [-0.02, 0.02) that deflate about as badly as real ones do
    r = random.Random(seed).random
    return array("f", [(r() - 0.5) * 0.04 for _ in range(n)])


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, data) in tensors.items():
        b = data.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(b)]}
        blobs.append(b); offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)


def folder(name, config, tensors=None, weights_writer=None, weights_link=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(config if isinstance(config, str) else json.dumps(config))
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(WORDS) + "\n")
    if weights_link: os.link(weights_link, os.path.join(d, "model.safetensors"))
    elif weights_writer: weights_writer(d)
    elif tensors is not None: write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    return d


# --- pickles as torch.save writes them (protocol 2), enough for our reader --------------------------------------
def p_str(s):
    b = s.encode()
    return (b"\x8c" + bytes([len(b)]) + b) if len(b) < 256 else (b"X" + struct.pack("<I", len(b)) + b)


def p_int(v):
    return (b"J" + struct.pack("<i", v)) if -2**31 <= v < 2**31 else (b"\x8a\x08" + struct.pack("<q", v))


def p_tuple(items):
    return b"(" + b"".join(items) + b"t"


def state_dict_pickle(entries):
    """entries: (name, storage key, storage numel, offset, shape, stride)."""
    out = [b"\x80\x02", b"ccollections\nOrderedDict\n", b")R"]
    for name, key, storage_numel, offset, shape, stride in entries:
        pid = p_tuple([p_str("storage"), b"ctorch\nFloatStorage\n", p_str(key), p_str("cpu"), p_int(storage_numel)])
        args = p_tuple([pid + b"Q", p_int(offset), p_tuple([p_int(d) for d in shape]), p_tuple([p_int(s) for s in stride]),
                        b"\x89", b"ccollections\nOrderedDict\n)R"])
        out.append(p_str(name) + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"Rs")
    out.append(b".")
    return b"".join(out)


def strides(shape):
    s, acc = [], 1
    for d in reversed(shape): s.insert(0, acc); acc *= d
    return s


def write_torch_zip(path, pickle, storages, deflate=False):
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as z:
        z.writestr("archive/data.pkl", pickle)
        for key, b in storages.items(): z.writestr("archive/data/" + key, b)
        z.writestr("archive/version", "3\n")


def torch_per_tensor(tensors, path, deflate=False, offset_of=None):
    entries, storages = [], {}
    for k, (name, (shape, data)) in enumerate(tensors.items()):
        n = numel(shape)
        entries.append((name, str(k), n, (offset_of or {}).get(name, 0), shape, strides(shape)))
        storages[str(k)] = data.tobytes()
    write_torch_zip(path, state_dict_pickle(entries), storages, deflate)


def torch_one_storage(tensors, path, deflate):
    """Every tensor a view of one flat storage (as saved from a model whose parameters share a flat buffer)."""
    entries, blob, offset = [], [], 0
    for name, (shape, data) in tensors.items():
        entries.append((name, "0", None, offset, shape, strides(shape)))
        blob.append(data.tobytes()); offset += numel(shape)
    entries = [(n, k, offset, o, s, st) for n, k, _, o, s, st in entries]
    write_torch_zip(path, state_dict_pickle(entries), {"0": b"".join(blob)}, deflate)


config = bert_config()
tensors = {name: (shape, values(numel(shape), k)) for k, (name, shape) in enumerate(bert_shapes(config).items())}
good = os.path.join(folder("good", config, tensors), "model.safetensors")

# config.json sizes and values
for field, value in [("num_hidden_layers", 10**6), ("vocab_size", 10**8), ("hidden_size", 2**20), ("intermediate_size", 10**9),
                     ("type_vocab_size", 10**9), ("max_position_embeddings", 2**31 - 1), ("num_hidden_layers", 40),
                     ("num_hidden_layers", "12"), ("num_hidden_layers", -1), ("hidden_size", 0), ("intermediate_size", 1024.5),
                     ("num_attention_heads", 3), ("layer_norm_eps", 1e-300), ("layer_norm_eps", -1e-5), ("num_labels", 10**9)]:
    folder(f"config-{field}={json.dumps(value)}", bert_config(**{field: value}), weights_link=good)

# the weights themselves
folder("weights-empty-safetensors", config, {})
nan = dict(tensors); q = "encoder.layer.1.attention.self.query.weight"
bad = array("f", tensors[q][1]); bad[1000] = float("nan"); nan[q] = (tensors[q][0], bad)
folder("weights-nan", config, nan)
inf = dict(tensors); bad = array("f", tensors[q][1]); bad[7] = float("-inf"); inf[q] = (tensors[q][0], bad)
folder("weights-inf", config, inf)
folder("weights-unrelated-names", config, {"foo.weight": ([4], values(4, 1))})

# pytorch_model.bin: a real-shaped 21 MB model, stored vs one deflated shared storage
folder("bin-21MB-per-tensor-stored", config, weights_writer=lambda d: torch_per_tensor(tensors, os.path.join(d, "pytorch_model.bin")))
folder("bin-21MB-one-deflated-storage", config, weights_writer=lambda d: torch_one_storage(tensors, os.path.join(d, "pytorch_model.bin"), True))

# crafted: 1,031 tiny tensors, each a view at the far end of one 4 MB storage (2 bits of entropy a byte: ~1 MB deflated)
tiny = bert_config(hidden_size=8, num_attention_heads=2, intermediate_size=16, num_hidden_layers=64, max_position_embeddings=64)
tiny_shapes = bert_shapes(tiny)
def crafted(d):
    total = 1024 * 1024
    entries = [(n, "0", total, total - numel(s), s, strides(s)) for n, s in tiny_shapes.items()]
    data = random.Random(7).randbytes(4 * total).translate(bytes(b & 3 for b in range(256)))  # tiny finite floats
    write_torch_zip(os.path.join(d, "pytorch_model.bin"), state_dict_pickle(entries), {"0": data}, deflate=True)
folder("bin-crafted-views-of-deflated-4MB", tiny, weights_writer=crafted)

# negative storage offset
folder("bin-negative-storage-offset", config, weights_writer=lambda d: torch_per_tensor(
    tensors, os.path.join(d, "pytorch_model.bin"), offset_of={"embeddings.LayerNorm.bias": -4}))

# pickle bombs: 64 MB (just under the old data.pkl limit) and 8 MB (just under the new one) of TUPLE1 opcodes, deflated
def bomb(megabytes):
    def write(d):
        with zipfile.ZipFile(os.path.join(d, "pytorch_model.bin"), "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("archive/data.pkl", b"\x80\x02N" + b"\x85" * (megabytes * 1024 * 1024 - 8) + b".")
            z.writestr("archive/version", "3\n")
    return write
folder("bin-pickle-64MB-of-TUPLE1", config, weights_writer=bomb(64))
folder("bin-pickle-8MB-of-TUPLE1", config, weights_writer=bomb(8))

# a storage entry whose zip headers claim 3 GB inflated from a few bytes
def lying_sizes(d):
    path = os.path.join(d, "pytorch_model.bin")
    n = 3 * 1024**3 // 4
    write_torch_zip(path, state_dict_pickle([("embeddings.word_embeddings.weight", "0", n, 0, [n], [1])]), {"0": bytes(64)}, deflate=True)
    raw = bytearray(open(path, "rb").read())
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central headers: uncompressed size
        at = 0
        while (at := raw.find(sig, at)) >= 0:
            name_len = struct.unpack_from("<H", raw, at + (26 if sig == b"PK\x03\x04" else 28))[0]
            name = raw[at + (30 if sig == b"PK\x03\x04" else 46):][:name_len]
            if name == b"archive/data/0": struct.pack_into("<I", raw, at + size_at, n * 4)
            at += 4
    open(path, "wb").write(raw)
folder("bin-zip-entry-claims-3GB", config, weights_writer=lying_sizes)
