using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistilBert.Tokenization;

// Loading HF's tokenizer.json (the fast tokenizer's file). Only the BERT pipeline is accepted; anything else is refused
// with the JSON path at fault, rather than silently giving different ids.
public sealed partial class WordPieceTokenizer
{
    /// <summary>
    /// Loads a <c>tokenizer.json</c>: WordPiece model, BertNormalizer, BertPreTokenizer, TemplateProcessing or
    /// BertProcessing, added tokens, and the truncation/padding sections' max_length as the model maximum length.
    /// </summary>
    /// <param name="path">The tokenizer.json file.</param>
    /// <param name="modelMaxLength">Model maximum length (e.g. from tokenizer_config.json); null: from the file's
    /// truncation/padding sections, else 512.</param>
    public static WordPieceTokenizer FromTokenizerJson(string path, int? modelMaxLength = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var root = ParseObject(path);
        var reader = new JsonReader(path);

        var model = reader.Object(root, "model", "$");
        var modelType = reader.String(model, "type", "$.model");
        if (modelType != "WordPiece")
            throw new TokenizerFileException(path, $"$.model.type is '{modelType}'; only WordPiece is supported");
        var unkToken = reader.String(model, "unk_token", "$.model");
        var prefix = model["continuing_subword_prefix"] is null ? "##" : reader.String(model, "continuing_subword_prefix", "$.model");
        int maxChars = model["max_input_chars_per_word"] is null ? 100 : reader.Int(model, "max_input_chars_per_word", "$.model", 1);
        var vocabObject = reader.Object(model, "vocab", "$.model");
        var byId = new string?[vocabObject.Count];
        foreach (var (token, node) in vocabObject)
        {
            if (node is not JsonValue v || !v.TryGetValue<int>(out var id) || id < 0 || id >= byId.Length)
                throw new TokenizerFileException(path, $"$.model.vocab[\"{token}\"] must be an id in 0..{byId.Length - 1}");
            if (byId[id] is { } other)
                throw new TokenizerFileException(path, $"$.model.vocab: tokens '{other}' and '{token}' share id {id}");
            byId[id] = token;
        }

        // Added tokens: their ids and which ones are special (kept whole when written in text).
        var added = new List<(string Token, int Id)>();
        if (root["added_tokens"] is JsonArray addedTokens)
            for (int i = 0; i < addedTokens.Count; i++)
            {
                var at = $"$.added_tokens[{i}]";
                var entry = addedTokens[i] as JsonObject ?? throw new TokenizerFileException(path, $"{at} must be an object");
                var content = reader.String(entry, "content", at);
                int id = reader.Int(entry, "id", at, 0);
                // Added tokens are matched whole on the raw text (BertConverter's special tokens); the other matching
                // modes would give different ids, so they are refused rather than ignored.
                foreach (var flag in new[] { "single_word", "lstrip", "rstrip", "normalized" })
                    if (entry[flag] is not null && reader.Bool(entry, flag, at))
                        throw new TokenizerFileException(path, $"{at}.{flag} is true for '{content}'; only added tokens matched " +
                            "exactly on the raw text (all four flags false) are supported");
                if (id < byId.Length && byId[id] is { } inVocab && inVocab != content)
                    throw new TokenizerFileException(path, $"{at}: id {id} is '{inVocab}' in $.model.vocab, not '{content}'");
                if (id >= byId.Length)
                    throw new TokenizerFileException(path, $"{at}: id {id} is outside $.model.vocab (0..{byId.Length - 1})");
                added.Add((content, id));
            }
        for (int id = 0; id < byId.Length; id++)
            if (byId[id] is null) throw new TokenizerFileException(path, $"$.model.vocab has no token with id {id}");

        var normalizer = ReadNormalizer(root, reader);
        if (root["pre_tokenizer"] is JsonObject pre && reader.String(pre, "type", "$.pre_tokenizer") is var preType
            && preType != "BertPreTokenizer")
            throw new TokenizerFileException(path, $"$.pre_tokenizer.type is '{preType}'; only BertPreTokenizer is supported");
        if (root["pre_tokenizer"] is null or JsonValue)
            throw new TokenizerFileException(path, "$.pre_tokenizer must be {\"type\": \"BertPreTokenizer\"}");

        // tokenizer.json does not name token roles: BERT's names, with the model's unk and the padding section's pad.
        var special = new SpecialTokens { Unk = unkToken };
        if (root["padding"] is JsonObject padding && padding["pad_token"] is JsonValue padToken && padToken.TryGetValue<string>(out var pad))
            special = special with { Pad = pad };
        var vocabulary = new Vocabulary(byId!, special, prefix, path);
        var template = ReadPostProcessor(root, reader, vocabulary);

        var maxLength = modelMaxLength;
        if (maxLength is null && root["truncation"] is JsonObject truncation && truncation["max_length"] is not null)
            maxLength = reader.Int(truncation, "max_length", "$.truncation", 1);

        bool cleanup = true;
        if (root["decoder"] is JsonObject decoder)
        {
            var decoderType = reader.String(decoder, "type", "$.decoder");
            if (decoderType != "WordPiece")
                throw new TokenizerFileException(path, $"$.decoder.type is '{decoderType}'; only WordPiece is supported");
            if (decoder["cleanup"] is not null) cleanup = reader.Bool(decoder, "cleanup", "$.decoder");
        }
        var bertSpecial = special.All.ToHashSet(StringComparer.Ordinal);
        return new WordPieceTokenizer(vocabulary, normalizer, template, maxLength ?? 512, maxChars,
            added.Where(a => !bertSpecial.Contains(a.Token)), cleanup);
    }

    static BertNormalizerSettings ReadNormalizer(JsonObject root, JsonReader reader)
    {
        if (root["normalizer"] is not JsonObject n)
            throw new TokenizerFileException(reader.Path, "$.normalizer must be a BertNormalizer object");
        var type = reader.String(n, "type", "$.normalizer");
        if (type != "BertNormalizer")
            throw new TokenizerFileException(reader.Path, $"$.normalizer.type is '{type}'; only BertNormalizer is supported");
        return new BertNormalizerSettings
        {
            CleanText = n["clean_text"] is null || reader.Bool(n, "clean_text", "$.normalizer"),
            HandleChineseChars = n["handle_chinese_chars"] is null || reader.Bool(n, "handle_chinese_chars", "$.normalizer"),
            StripAccents = n["strip_accents"] is null ? null : reader.Bool(n, "strip_accents", "$.normalizer"),
            Lowercase = n["lowercase"] is null || reader.Bool(n, "lowercase", "$.normalizer"),
        };
    }

    static Template ReadPostProcessor(JsonObject root, JsonReader reader, Vocabulary vocabulary)
    {
        if (root["post_processor"] is not JsonObject p) return Template.Bert(vocabulary.ClsId, vocabulary.SepId);
        var type = reader.String(p, "type", "$.post_processor");
        if (type == "BertProcessing")
        {
            int SpecialId(string field)
            {
                if (p[field] is JsonArray { Count: 2 } pair && pair[1] is JsonValue v && v.TryGetValue<int>(out var id)
                    && (uint)id < (uint)vocabulary.Count)
                    return id;
                throw new TokenizerFileException(reader.Path, $"$.post_processor.{field} must be [token, id] with an id in the vocabulary");
            }
            return Template.Bert(SpecialId("cls"), SpecialId("sep"));
        }
        if (type != "TemplateProcessing")
            throw new TokenizerFileException(reader.Path, $"$.post_processor.type is '{type}'; only TemplateProcessing or BertProcessing is supported");

        var specials = reader.Object(p, "special_tokens", "$.post_processor");
        List<TemplatePiece> Pieces(string field)
        {
            var at = $"$.post_processor.{field}";
            var list = p[field] as JsonArray ?? throw new TokenizerFileException(reader.Path, $"{at} must be an array");
            var pieces = new List<TemplatePiece>();
            for (int i = 0; i < list.Count; i++)
            {
                var item = list[i] as JsonObject ?? throw new TokenizerFileException(reader.Path, $"{at}[{i}] must be an object");
                if (item["Sequence"] is JsonObject seq)
                {
                    var id = reader.String(seq, "id", $"{at}[{i}].Sequence");
                    if (id is not ("A" or "B")) throw new TokenizerFileException(reader.Path, $"{at}[{i}].Sequence.id must be \"A\" or \"B\"");
                    pieces.Add(TemplatePiece.Seq(id == "A" ? 0 : 1, reader.Int(seq, "type_id", $"{at}[{i}].Sequence", 0)));
                }
                else if (item["SpecialToken"] is JsonObject tok)
                {
                    var name = reader.String(tok, "id", $"{at}[{i}].SpecialToken");
                    var entry = specials[name] as JsonObject
                        ?? throw new TokenizerFileException(reader.Path, $"{at}[{i}]: '{name}' is not in $.post_processor.special_tokens");
                    var ids = entry["ids"] as JsonArray
                        ?? throw new TokenizerFileException(reader.Path, $"$.post_processor.special_tokens[\"{name}\"].ids must be an array");
                    var values = new int[ids.Count];
                    for (int k = 0; k < ids.Count; k++)
                        if (ids[k] is not JsonValue v || !v.TryGetValue<int>(out values[k]) || (uint)values[k] >= (uint)vocabulary.Count)
                            throw new TokenizerFileException(reader.Path, $"$.post_processor.special_tokens[\"{name}\"].ids[{k}] must be an id in the vocabulary");
                    pieces.Add(new TemplatePiece(-1, values, reader.Int(tok, "type_id", $"{at}[{i}].SpecialToken", 0)));
                }
                else throw new TokenizerFileException(reader.Path, $"{at}[{i}] must hold \"Sequence\" or \"SpecialToken\"");
            }
            return pieces;
        }
        var single = Pieces("single");
        var pair = Pieces("pair");
        if (single.Count(x => x.Sequence == 0) != 1 || single.Any(x => x.Sequence == 1))
            throw new TokenizerFileException(reader.Path, "$.post_processor.single must contain $A once and no $B");
        if (pair.Count(x => x.Sequence == 0) != 1 || pair.Count(x => x.Sequence == 1) != 1)
            throw new TokenizerFileException(reader.Path, "$.post_processor.pair must contain $A and $B once each");
        return new Template(single, pair);
    }

    /// <summary>Typed field access that names the JSON path of a missing or mistyped field.</summary>
    sealed class JsonReader(string path)
    {
        public string Path { get; } = path;

        public JsonObject Object(JsonObject o, string field, string at) =>
            o[field] as JsonObject ?? throw new TokenizerFileException(Path, $"{at}.{field} must be an object");

        public string String(JsonObject o, string field, string at) =>
            o[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s
                : throw new TokenizerFileException(Path, $"{at}.{field} must be a string");

        public bool Bool(JsonObject o, string field, string at) =>
            o[field] is JsonValue v && v.TryGetValue<bool>(out var b) ? b
                : throw new TokenizerFileException(Path, $"{at}.{field} must be true or false");

        public int Int(JsonObject o, string field, string at, int min)
        {
            if (o[field] is JsonValue v && v.TryGetValue<double>(out var d) && d >= min && d == Math.Floor(d))
                return d >= int.MaxValue ? int.MaxValue : (int)d;
            throw new TokenizerFileException(Path, $"{at}.{field} must be an integer ≥ {min}");
        }
    }
}
