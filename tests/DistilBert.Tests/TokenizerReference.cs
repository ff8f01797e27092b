using System.Globalization;
using System.Text;
using DistilBert.Tokenization;

namespace DistilBert.Tests;

/// <summary>
/// The slow twin of <see cref="WordPieceTokenizer"/>'s hot path, written as plainly as HF describes the steps: split off
/// special tokens, normalise each code point into a list of (char, original range), split into words, WordPiece by
/// building candidate strings. It shares only the Unicode data (categories, decompositions) with the fast path, so it
/// checks the ASCII tables, caches, buffers and span lookups.
/// </summary>
sealed class ReferenceBertTokenizer(WordPieceTokenizer tokenizer)
{
    readonly string[] specials = tokenizer.Vocab.Special.All.Where(t => tokenizer.Vocab.TokenToId(t) is not null).ToArray();

    public List<(int Id, int Start, int End, int Word)> Tokenize(string text)
    {
        var output = new List<(int, int, int, int)>();
        int word = 0, pieceStart = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            var special = i < text.Length
                ? specials.Where(s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0).MaxBy(s => s.Length)
                : null;
            if (special is null && i < text.Length) continue;
            foreach (var w in Words(text, pieceStart, i)) WordPiece(w, word++, output);
            if (special is null) break;
            output.Add((tokenizer.Vocab.TokenToId(special)!.Value, i, i + special.Length, word++));
            pieceStart = i + special.Length;
            i = pieceStart - 1;
        }
        return output;
    }

    List<List<(string Char, int Start, int End)>> Words(string text, int from, int to)
    {
        var settings = tokenizer.Normalizer;
        var words = new List<List<(string, int, int)>>();
        var current = new List<(string, int, int)>();
        void End() { if (current.Count > 0) words.Add(current); current = []; }

        for (int i = from; i < to;)
        {
            int cp = char.IsSurrogatePair(text, i) ? char.ConvertToUtf32(text, i) : text[i];
            int width = cp > 0xFFFF ? 2 : 1;
            int start = i;
            i += width;
            bool isSurrogate = cp is >= 0xD800 and <= 0xDFFF;
            var category = BertNormalizer.RustCategory(cp);
            bool whitespace = cp is '\t' or '\n' or '\r' || !isSurrogate && Rune.IsWhiteSpace(new Rune(cp));
            if (settings.CleanText && (cp is 0 or 0xFFFD || cp is not ('\t' or '\n' or '\r') && category is UnicodeCategory.Control
                    or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate))
                continue;
            if (whitespace) { End(); continue; }
            var chars = new List<int>();
            if (settings.ShouldStripAccents && !isSurrogate)
            {
                var sb = new StringBuilder();
                CanonicalDecomposition.Decompose(cp, sb);
                foreach (var r in sb.ToString().EnumerateRunes())
                    if (BertNormalizer.RustCategory(r.Value) != UnicodeCategory.NonSpacingMark) chars.Add(r.Value);
            }
            else chars.Add(cp);
            if (settings.Lowercase && !isSurrogate)
                chars = chars.SelectMany(c => c == 0x130 ? [0x69, 0x307] : new[] { Rune.ToLowerInvariant(new Rune(c)).Value }).ToList();
            bool cjk = settings.HandleChineseChars && BertNormalizer.IsChineseChar(cp);
            if (cjk) End();
            foreach (var c in chars)
            {
                var s = isSurrogate ? ((char)c).ToString() : char.ConvertFromUtf32(c);
                if (BertNormalizer.IsBertPunctuation(c)) { End(); current.Add((s, start, start + width)); End(); }
                else current.Add((s, start, start + width));
            }
            if (cjk) End();
        }
        End();
        return words;
    }

    void WordPiece(List<(string Char, int Start, int End)> word, int wordIndex, List<(int, int, int, int)> output)
    {
        var vocab = tokenizer.Vocab;
        if (word.Count > tokenizer.MaxInputCharsPerWord)
        {
            output.Add((vocab.UnkId, word[0].Start, word[^1].End, wordIndex));
            return;
        }
        var pieces = new List<(int, int, int, int)>();
        int begin = 0;
        while (begin < word.Count)
        {
            int end = word.Count;
            int? id = null;
            for (; end > begin; end--)
            {
                var candidate = string.Concat(word.Skip(begin).Take(end - begin).Select(c => c.Char));
                id = vocab.TokenToId(begin > 0 ? vocab.ContinuingSubwordPrefix + candidate : candidate);
                if (id is not null) break;
            }
            if (id is null)
            {
                output.Add((vocab.UnkId, word[0].Start, word[^1].End, wordIndex));
                return;
            }
            pieces.Add((id.Value, word[begin].Start, word[end - 1].End, wordIndex));
            begin = end;
        }
        output.AddRange(pieces);
    }
}
