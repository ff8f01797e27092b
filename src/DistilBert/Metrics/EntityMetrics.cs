namespace DistilBert.Metrics;

/// <summary>An entity span over tag positions: its type and first and last token index (inclusive).</summary>
public readonly record struct TagSpan(string Type, int Start, int End);

/// <summary>Entity-level micro precision/recall/F1 and per-type scores, as seqeval reports them.</summary>
public sealed record EntityReport(int Sentences, double Precision, double Recall, double F1, double TokenAccuracy, IReadOnlyList<ClassScores> PerType)
{
    /// <summary>Entities in the gold tags.</summary>
    public int GoldEntities => PerType.Sum(t => t.Support);
}

/// <summary>
/// Entity-level scores computed the way seqeval does by default (its lenient, non-strict mode): spans are
/// read from IOB1/IOB2/IOE/IOBES tags with its chunk rules, so an I- tag without a preceding B- starts an
/// entity, a change of type ends one, and an entity counts only when its type, start and end all match.
/// </summary>
public sealed class EntityMetrics
{
    readonly Dictionary<string, (int TruePositive, int Predicted, int Gold)> counts = new(StringComparer.Ordinal);
    int sentences;
    long tokens, tokensCorrect;

    /// <summary>Counts one sentence's entities, as seqeval does (IOB2).</summary>
    public void Add(IReadOnlyList<string> goldTags, IReadOnlyList<string> predictedTags)
    {
        if (goldTags.Count != predictedTags.Count)
            throw new InvalidInputException($"sentence {sentences + 1}: {goldTags.Count} gold tags but {predictedTags.Count} predicted");
        sentences++;
        tokens += goldTags.Count;
        for (int i = 0; i < goldTags.Count; i++) if (goldTags[i] == predictedTags[i]) tokensCorrect++;
        var gold = GetEntities(goldTags);
        var predicted = GetEntities(predictedTags);
        var goldSet = new HashSet<TagSpan>(gold);
        foreach (var span in gold) Bump(span.Type, 0, 0, 1);
        foreach (var span in predicted) Bump(span.Type, goldSet.Contains(span) ? 1 : 0, 1, 0);
    }

    void Bump(string type, int truePositive, int predicted, int gold)
    {
        var c = counts.GetValueOrDefault(type);
        counts[type] = (c.TruePositive + truePositive, c.Predicted + predicted, c.Gold + gold);
    }

    /// <summary>Precision, recall and F1 per entity type and micro-averaged, over the sentences counted.</summary>
    public EntityReport Report()
    {
        var perType = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => ClassificationMetrics.Scores(kv.Key, kv.Value.TruePositive, kv.Value.Predicted, kv.Value.Gold)).ToList();
        var micro = ClassificationMetrics.Scores("micro", counts.Values.Sum(c => c.TruePositive),
            counts.Values.Sum(c => c.Predicted), counts.Values.Sum(c => c.Gold));
        return new EntityReport(sentences, micro.Precision, micro.Recall, micro.F1,
            tokens == 0 ? 0 : (double)tokensCorrect / tokens, perType);
    }

    /// <summary>
    /// Entity spans of one sentence under seqeval's chunk rules. A tag is a prefix letter (B, I, E, S, O) and a
    /// type after the first '-' ("B-creative-work" is type "creative-work"); a bare "B" has type "_".
    /// </summary>
    public static List<TagSpan> GetEntities(IReadOnlyList<string> tags)
    {
        var spans = new List<TagSpan>();
        char previousPrefix = 'O';
        string previousType = "";
        int begin = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            // A virtual 'O' after the last tag closes any open entity.
            var tag = i < tags.Count ? tags[i] : "O";
            char prefix = tag.Length == 0 ? 'O' : tag[0];
            string type = TypeOf(tag);
            if (EndsChunk(previousPrefix, prefix, previousType, type)) spans.Add(new TagSpan(previousType, begin, i - 1));
            if (StartsChunk(previousPrefix, prefix, previousType, type)) begin = i;
            previousPrefix = prefix;
            previousType = type;
        }
        return spans;
    }

    static string TypeOf(string tag)
    {
        if (tag.Length <= 1) return "_";
        var rest = tag[1..];
        int dash = rest.IndexOf('-');
        var type = dash < 0 ? rest : rest[(dash + 1)..];
        return type.Length == 0 ? "_" : type;
    }

    static bool EndsChunk(char previous, char current, string previousType, string type) =>
        previous is 'E' or 'S'
        || (previous is 'B' or 'I' && current is 'B' or 'S' or 'O')
        || (previous is not ('O' or '.') && previousType != type);

    static bool StartsChunk(char previous, char current, string previousType, string type) =>
        current is 'B' or 'S'
        || (previous is 'E' or 'S' or 'O' && current is 'E' or 'I')
        || (current is not ('O' or '.') && previousType != type);
}
