using System.Text;
using System.Text.RegularExpressions;

namespace DistilBert.Metrics;

/// <summary>SQuAD v1.1 exact match and F1 over a run, in percent as the official script prints them.</summary>
public sealed record SquadReport(int Count, double ExactMatch, double F1);

/// <summary>
/// SQuAD v1.1's official evaluation: answers are normalised (lower-case, ASCII punctuation removed, the
/// articles a/an/the removed, whitespace collapsed), then exact match and bag-of-tokens F1 are taken as the
/// maximum over the gold answers.
/// </summary>
public sealed partial class SquadMetrics
{
    double exactSum, f1Sum;
    int count;

    /// <summary>Counts one answer against its gold answers (the best match counts).</summary>
    public void Add(string prediction, IReadOnlyList<string> goldAnswers)
    {
        count++;
        if (goldAnswers.Count == 0) return; // the official script skips nothing in v1.1; an answerless question scores 0
        exactSum += goldAnswers.Max(g => ExactMatch(prediction, g));
        f1Sum += goldAnswers.Max(g => F1(prediction, g));
    }

    /// <summary>Exact match and F1 in percent, averaged over the answers counted.</summary>
    public SquadReport Report() => new(count, count == 0 ? 0 : 100.0 * exactSum / count, count == 0 ? 0 : 100.0 * f1Sum / count);

    [GeneratedRegex(@"\b(a|an|the)\b")]
    private static partial Regex Articles();

    // Python's string.punctuation: the 32 ASCII punctuation characters.
    const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    /// <summary>SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces.</summary>
    public static string Normalize(string text)
    {
        var lower = text.ToLowerInvariant();
        var noPunctuation = new StringBuilder(lower.Length);
        foreach (var c in lower) if (!Punctuation.Contains(c)) noPunctuation.Append(c);
        var noArticles = Articles().Replace(noPunctuation.ToString(), " ");
        return string.Join(' ', SplitWhitespace(noArticles));
    }

    // Python's str.split() with no argument: runs of Unicode whitespace separate, no empty pieces.
    static string[] SplitWhitespace(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>1 when the normalised answers are equal, else 0.</summary>
    public static double ExactMatch(string prediction, string gold) => Normalize(prediction) == Normalize(gold) ? 1 : 0;

    /// <summary>The token-overlap F1 of the normalised answers.</summary>
    public static double F1(string prediction, string gold)
    {
        var predicted = SplitWhitespace(Normalize(prediction));
        var truth = SplitWhitespace(Normalize(gold));
        var goldCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in truth) goldCounts[t] = goldCounts.GetValueOrDefault(t) + 1;
        int same = 0;
        foreach (var t in predicted)
        {
            if (goldCounts.TryGetValue(t, out var left) && left > 0) { same++; goldCounts[t] = left - 1; }
        }
        if (same == 0) return 0;
        double precision = (double)same / predicted.Length, recall = (double)same / truth.Length;
        return 2 * precision * recall / (precision + recall);
    }
}
