namespace DistilBert.Cli;

/// <summary>
/// The embedded default: the sentiment teacher and the SST-2 splits shipped with the repository. The build copies them
/// beside the CLI (<c>defaults/</c>); a checkout's own <c>models/</c> and <c>samples/</c> folders are found as well.
/// </summary>
public static class DefaultAssets
{
    public const string TeacherFolder = "sentiment-teacher";
    public const string TrainFile = "sst2/distill-train.tsv";
    public const string ValidationFile = "sst2/validation.tsv";

    public static string Teacher => Find(TeacherFolder, Path.Combine("models", TeacherFolder));
    public static string Train => Find(TrainFile, Path.Combine("samples", TrainFile));
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
