using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistilBert.Tokenization;

/// <summary>Settings read from HF's <c>tokenizer_config.json</c> / <c>special_tokens_map.json</c> beside a vocab.txt.</summary>
public sealed record VocabFileOptions
{
    /// <summary>Text normalisation (lower-casing, accent stripping, Chinese characters).</summary>
    public BertNormalizerSettings Normalizer { get; init; } = new();
    /// <summary>The special tokens' texts.</summary>
    public SpecialTokens SpecialTokens { get; init; } = new();
    /// <summary>Tokens the model accepts per sequence.</summary>
    public int ModelMaxLength { get; init; } = 512;
    /// <summary>Whether decoding removes spaces before punctuation, as HF's clean_up_tokenization_spaces.</summary>
    public bool CleanUpTokenizationSpaces { get; init; } = true;
    /// <summary>Further special tokens kept whole when written in text (HF's <c>additional_special_tokens</c>).</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; init; } = [];
}

// Loading from and saving to Hugging Face tokenizer files.
public sealed partial class WordPieceTokenizer
{
    /// <summary>
    /// Loads a model folder: its <c>tokenizer.json</c> when present (what HF's AutoTokenizer uses), otherwise
    /// <c>vocab.txt</c> with <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> when present.
    /// </summary>
    public static WordPieceTokenizer FromFolder(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"tokenizer folder not found: {directory}");
        var json = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(json))
        {
            var fast = FromTokenizerJson(json, ReadModelMaxLength(directory));
            // transformers' BertTokenizerFast rebuilds the normaliser when the config's do_lower_case / strip_accents /
            // tokenize_chinese_chars (defaults true / null / true) disagree with tokenizer.json: the config wins.
            if (!File.Exists(Path.Combine(directory, "tokenizer_config.json"))) return fast;
            var config = ReadFolderOptions(directory).Normalizer;
            var merged = fast.Normalizer with
            {
                Lowercase = config.Lowercase, StripAccents = config.StripAccents, HandleChineseChars = config.HandleChineseChars,
            };
            return merged == fast.Normalizer ? fast
                : new WordPieceTokenizer(fast.Vocab, merged, fast.Template, fast.ModelMaxLength, fast.MaxInputCharsPerWord,
                    fast.ExtraSpecialTokens, fast.CleanUpTokenizationSpaces);
        }
        var vocab = Path.Combine(directory, "vocab.txt");
        if (!File.Exists(vocab))
            throw new TokenizerFileException(directory, "no tokenizer.json or vocab.txt in the folder");
        return FromVocabFile(vocab, ReadFolderOptions(directory));
    }

    /// <summary>
    /// Loads whatever <paramref name="path"/> names: a model folder (<see cref="FromFolder"/>), a <c>tokenizer.json</c>, or a
    /// <c>vocab.txt</c> (with the tokenizer_config.json / special_tokens_map.json beside it, when present).
    /// </summary>
    public static WordPieceTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path)) return FromFolder(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer not found: {path} (give a model folder, a tokenizer.json or a vocab.txt)", path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? FromTokenizerJson(path, ReadModelMaxLength(directory))
            : FromVocabFile(path, ReadFolderOptions(directory));
    }

    /// <summary>Loads <c>vocab.txt</c> (one token per line, id = line number) with the given options.</summary>
    public static WordPieceTokenizer FromVocabFile(string path, VocabFileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        return FromVocabStream(stream, options, path);
    }

    /// <summary>Loads a vocab.txt from a stream (e.g. an embedded resource); <paramref name="source"/> names it in errors.</summary>
    public static WordPieceTokenizer FromVocabStream(Stream stream, VocabFileOptions? options = null, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new VocabFileOptions();
        var tokens = new List<string>(32000);
        using (var reader = new StreamReader(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true))
        {
            // HF strips only the line break; a trailing \r (Windows file) is dropped too.
            while (reader.ReadLine() is { } line) tokens.Add(line.EndsWith('\r') ? line[..^1] : line);
        }
        if (tokens.Count == 0) throw new TokenizerFileException(source, "the vocabulary file is empty");
        var vocabulary = new Vocabulary(tokens, options.SpecialTokens, "##", source);
        var extra = new List<(string, int)>();
        foreach (var token in options.AdditionalSpecialTokens)
            if (vocabulary.TokenToId(token) is int id) extra.Add((token, id));
            else throw new TokenizerFileException(source, $"additional special token '{token}' is not in the vocabulary");
        return new WordPieceTokenizer(vocabulary, options.Normalizer, null, options.ModelMaxLength, 100, extra,
            options.CleanUpTokenizationSpaces);
    }

    /// <summary>Reads tokenizer_config.json and special_tokens_map.json of a folder (both optional).</summary>
    public static VocabFileOptions ReadFolderOptions(string directory)
    {
        var options = new VocabFileOptions();
        var normalizer = new BertNormalizerSettings();
        var special = new SpecialTokens();
        var additional = new List<string>();
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path)) continue;
            var root = ParseObject(path);
            if (name == "tokenizer_config.json")
            {
                normalizer = normalizer with
                {
                    Lowercase = ReadBool(root, "do_lower_case", path) ?? true,
                    StripAccents = ReadBool(root, "strip_accents", path),
                    HandleChineseChars = ReadBool(root, "tokenize_chinese_chars", path) ?? true,
                };
                options = options with
                {
                    ModelMaxLength = ReadMaxLength(root, path) ?? options.ModelMaxLength,
                    CleanUpTokenizationSpaces = ReadBool(root, "clean_up_tokenization_spaces", path) ?? true,
                };
            }
            special = special with
            {
                Unk = ReadToken(root, "unk_token", path) ?? special.Unk,
                Sep = ReadToken(root, "sep_token", path) ?? special.Sep,
                Pad = ReadToken(root, "pad_token", path) ?? special.Pad,
                Cls = ReadToken(root, "cls_token", path) ?? special.Cls,
                Mask = ReadToken(root, "mask_token", path) ?? special.Mask,
            };
            if (root["additional_special_tokens"] is JsonArray list)
                for (int i = 0; i < list.Count; i++)
                    additional.Add(TokenText(list[i], $"$.additional_special_tokens[{i}]", path));
        }
        return options with { Normalizer = normalizer, SpecialTokens = special, AdditionalSpecialTokens = additional.Distinct().ToArray() };
    }

    static int? ReadModelMaxLength(string directory)
    {
        var path = Path.Combine(directory, "tokenizer_config.json");
        return File.Exists(path) ? ReadMaxLength(ParseObject(path), path) : null;
    }

    // HF writes a huge float (1e30) when the model sets no limit.
    static int? ReadMaxLength(JsonObject root, string path)
    {
        var node = root["model_max_length"] ?? root["max_len"];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue<double>(out var d) && d >= 1)
            return d >= int.MaxValue ? int.MaxValue : (int)d;
        throw new TokenizerFileException(path, "$.model_max_length must be a positive number");
    }

    static bool? ReadBool(JsonObject root, string field, string path)
    {
        var node = root[field];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw new TokenizerFileException(path, $"$.{field} must be true, false or null");
    }

    static string? ReadToken(JsonObject root, string field, string path) =>
        root[field] is { } node ? TokenText(node, "$." + field, path) : null;

    // A token is a string or an AddedToken object {"content": "..."}.
    static string TokenText(JsonNode? node, string jsonPath, string path)
    {
        if (node is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        if (node is JsonObject o && o["content"] is JsonValue c && c.TryGetValue<string>(out var content)) return content;
        throw new TokenizerFileException(path, $"{jsonPath} must be a string or an object with a string \"content\"");
    }

    static JsonObject ParseObject(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new TokenizerFileException(path, "$ must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException(path, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes <c>vocab.txt</c>, <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> into
    /// <paramref name="directory"/> (created if needed), as HF's <c>save_pretrained</c> of a slow BertTokenizer.
    /// </summary>
    public void Save(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "vocab.txt"), string.Concat(Vocab.Tokens.Select(t => t + "\n")));
        var special = new JsonObject
        {
            ["cls_token"] = Vocab.Special.Cls, ["mask_token"] = Vocab.Special.Mask, ["pad_token"] = Vocab.Special.Pad,
            ["sep_token"] = Vocab.Special.Sep, ["unk_token"] = Vocab.Special.Unk,
        };
        if (ExtraSpecialTokens.Count > 0)
            special["additional_special_tokens"] = new JsonArray(ExtraSpecialTokens.Select(t => (JsonNode)t.Token).ToArray());
        var config = new JsonObject
        {
            ["clean_up_tokenization_spaces"] = CleanUpTokenizationSpaces,
            ["cls_token"] = Vocab.Special.Cls,
            ["do_lower_case"] = Normalizer.Lowercase,
            ["mask_token"] = Vocab.Special.Mask,
            ["model_max_length"] = ModelMaxLength,
            ["pad_token"] = Vocab.Special.Pad,
            ["sep_token"] = Vocab.Special.Sep,
            ["strip_accents"] = Normalizer.StripAccents,
            ["tokenize_chinese_chars"] = Normalizer.HandleChineseChars,
            ["tokenizer_class"] = "BertTokenizer",
            ["unk_token"] = Vocab.Special.Unk,
        };
        var indented = new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(Path.Combine(directory, "special_tokens_map.json"), special.ToJsonString(indented) + "\n");
        AtomicFile.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(indented) + "\n");
    }

}
