namespace DistilBert.Cli;

/// <summary>
/// The embedded default: the sentiment teacher and the SST-2 splits shipped with the repository. The build copies them
/// beside the CLI (<c>defaults/</c>); a checkout's own <c>models/</c> and <c>samples/</c> folders are found as well.
/// </summary>
public static class DefaultAssets
{
    /// <summary>
    /// The shipped teacher's folder name under <c>defaults/</c> (and under <c>models/</c> in a checkout).
    /// </summary>
    public const string TeacherFolder = "sentiment-teacher";
    /// <summary>
    /// The shipped SST-2 training split under <c>defaults/</c> (and under <c>samples/</c> in a checkout).
    /// </summary>
    public const string TrainFile = "sst2/distill-train.tsv";
    /// <summary>
    /// The shipped SST-2 validation split under <c>defaults/</c> (and under <c>samples/</c> in a checkout).
    /// </summary>
    public const string ValidationFile = "sst2/validation.tsv";

    /// <summary>
    /// The shipped sentiment teacher's folder (a BertForSequenceClassification with negative/positive labels).
    /// </summary>
    public static string Teacher => Find(TeacherFolder, Path.Combine("models", TeacherFolder));
    /// <summary>The shipped SST-2 training split (TSV).</summary>
    public static string Train => Find(TrainFile, Path.Combine("samples", TrainFile));
    /// <summary>The shipped SST-2 validation split (TSV).</summary>
    public static string Validation => Find(ValidationFile, Path.Combine("samples", ValidationFile));

    static string Find(string underDefaults, string inCheckout)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "defaults", underDefaults);
        if (File.Exists(beside) || Directory.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, inCheckout);
            if (File.Exists(candidate) || Directory.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"the embedded default '{underDefaults}' is missing: expected {beside} (copied there by the build) or {inCheckout} in a checkout");
    }
}
