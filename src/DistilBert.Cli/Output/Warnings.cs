namespace DistilBert.Cli.Output;

/// <summary>
/// Prints warnings to stderr ("warning: ..."), the first <c>limit</c> of them in full and then only a count, so a
/// 67k-line file with many long texts does not drown the terminal.
/// </summary>
public sealed class Warnings(ProgressReporter? progress = null, int limit = 10)
{
    int count;

    /// <summary>The progress bar to clear before a warning is printed.</summary>
    public ProgressReporter? Progress { get; set; } = progress;

    /// <summary>Prints <paramref name="message"/> as a warning on stderr, or only counts it past the limit.</summary>
    public void Add(string message)
    {
        count++;
        if (count > limit) return;
        Progress?.ClearLine();
        Console.Error.WriteLine($"warning: {message}");
        if (count == limit) Console.Error.WriteLine($"warning: further warnings are counted, not shown");
    }

    /// <summary>Prints how many warnings were not shown.</summary>
    public void Summarize()
    {
        if (count > limit) Console.Error.WriteLine($"warning: {count - limit:N0} more warning(s) not shown ({count:N0} in all)");
    }
}
