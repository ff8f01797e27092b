using DistilBert.Data;
using DistilBert.Tokenization;

namespace DistilBert.Distillation;

/// <summary>
/// Raw text for general distillation, tokenized once: each non-blank line becomes [CLS] … [SEP]; a line longer than
/// <c>maxLength</c> is cut into chunks of at most that many tokens, each with its own [CLS]/[SEP] (as HF's
/// LmSeqsDataset.divide_into_chunks); sequences shorter than <c>minLength</c> are dropped (its remove_short_sequences).
/// Token counts over the kept sequences feed the masking's frequency smoothing.
/// </summary>
public sealed class DistillationCorpus
{
    /// <summary>[sequences] token ids with [CLS]/[SEP].</summary>
    public IReadOnlyList<int[]> Sequences { get; }
    /// <summary>[vocab] occurrences of each token id over <see cref="Sequences"/>.</summary>
    public long[] TokenCounts { get; }
    /// <summary>Non-blank lines read, and sequences dropped as too short.</summary>
    public int Lines { get; }
    public int DroppedShort { get; }
    public long Tokens { get; }

    DistillationCorpus(List<int[]> sequences, long[] counts, int lines, int droppedShort)
    {
        Sequences = sequences;
        TokenCounts = counts;
        Lines = lines;
        DroppedShort = droppedShort;
        Tokens = sequences.Sum(s => (long)s.Length);
    }

    public static DistillationCorpus Load(string path, WordPieceTokenizer tokenizer, int maxLength, int minLength = 12, int? maxLines = null)
    {
        if (maxLength < 3) throw new InvalidInputException($"max length must be at least 3 (two special tokens and one word), got {maxLength}");
        int vocab = tokenizer.Vocab.Count;
        var counts = new long[vocab];
        var sequences = new List<int[]>();
        int lines = 0, dropped = 0;
        var noSpecials = new EncodeOptions { AddSpecialTokens = false };
        int chunk = maxLength - 2;
        foreach (var (lineNumber, text) in DataFile.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(text)) continue;
            // A NUL or an undecodable byte (read as U+FFFD) means this is not UTF-8 text.
            if (text.Contains('\0') || text.Contains('\uFFFD'))
                throw new DataFileException(path, lineNumber, "is not UTF-8 text (NUL or invalid byte sequence): the corpus must be plain text, one passage per line");
            lines++;
            var ids = tokenizer.Encode(text, options: noSpecials).Ids;
            for (int start = 0; start < ids.Length; start += chunk)
            {
                int n = Math.Min(chunk, ids.Length - start);
                if (n + 2 < minLength) { dropped++; continue; }
                var seq = new int[n + 2];
                seq[0] = tokenizer.ClsId;
                ids.AsSpan(start, n).CopyTo(seq.AsSpan(1));
                seq[^1] = tokenizer.SepId;
                foreach (var id in seq) counts[id]++;
                sequences.Add(seq);
            }
            if (maxLines is { } m && lines >= m) break;
        }
        if (lines == 0) throw new DataFileException(path, null, "the corpus has no text: expected plain text, one passage per line");
        if (sequences.Count == 0)
            throw new DataFileException(path, null, $"no line of the corpus has at least {minLength} tokens ({lines} lines read); lower the minimum length or use longer passages");
        return new DistillationCorpus(sequences, counts, lines, dropped);
    }
}
