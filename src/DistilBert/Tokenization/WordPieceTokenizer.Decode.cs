using System.Text;

namespace DistilBert.Tokenization;

// ids → text, as HF's WordPiece decoder.
public sealed partial class WordPieceTokenizer
{
    /// <summary>
    /// Turns ids back into text: tokens joined by spaces, continuation pieces (<c>##ing</c>) glued to the previous token,
    /// and, when <paramref name="cleanUpTokenizationSpaces"/> (default: the tokenizer's setting), HF's clean-up of the
    /// spaces before punctuation and contractions (" ." → ".", " n't" → "n't" ...). Lowercasing and accent stripping
    /// are not undone.
    /// </summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="skipSpecialTokens">Drop [CLS], [SEP], [PAD], [UNK], [MASK] and added special tokens (HF's default: keep).</param>
    /// <param name="cleanUpTokenizationSpaces">Null: <see cref="CleanUpTokenizationSpaces"/>.</param>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        var prefix = Vocab.ContinuingSubwordPrefix;
        var text = new StringBuilder(ids.Length * 6);
        bool first = true;
        foreach (var id in ids)
        {
            if (skipSpecialTokens && specialIds.Contains(id)) continue;
            var token = Vocab.IdToToken(id);
            if (first) text.Append(token);
            else if (prefix.Length > 0 && token.StartsWith(prefix, StringComparison.Ordinal)) text.Append(token, prefix.Length, token.Length - prefix.Length);
            else text.Append(' ').Append(token);
            first = false;
        }
        if (cleanUpTokenizationSpaces ?? CleanUpTokenizationSpaces)
            text.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",").Replace(" ' ", "'")
                .Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
        return text.ToString();
    }

    /// <inheritdoc cref="Decode(ReadOnlySpan{int}, bool, bool?)"/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Decode(ids.ToArray().AsSpan(), skipSpecialTokens, cleanUpTokenizationSpaces);
    }
}
