using System.Diagnostics;

namespace DistilBert.Cli.Output;

/// <summary>
/// A progress bar with rate and ETA on stderr, so results on stdout stay clean. On a terminal it redraws one
/// line at most five times a second; when stderr is redirected it prints a plain line every ten percent
/// (or every ten seconds when the total is unknown). Results printed to the same terminal first clear the bar.
/// </summary>
public sealed class ProgressReporter : IDisposable
{
    readonly long? total;
    readonly string unit;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly bool interactive = !Console.IsErrorRedirected;
    readonly bool enabled;
    long done;
    TimeSpan lastDraw = TimeSpan.FromSeconds(-1);
    int lastDecile = -1;
    bool barVisible;

    /// <summary>
    /// A progress bar of <paramref name="total"/> <paramref name="unit"/> (null when unknown), drawn only when
    /// <paramref name="enabled"/>.
    /// </summary>
    public ProgressReporter(long? total, string unit, bool enabled)
    {
        this.total = total is > 0 ? total : null;
        this.unit = unit;
        this.enabled = enabled;
    }

    /// <summary>Units done so far.</summary>
    public long Done => done;
    /// <summary>Time since the bar was created.</summary>
    public TimeSpan Elapsed => clock.Elapsed;

    /// <summary>Counts <paramref name="count"/> more units done and redraws when it is time to.</summary>
    public void Advance(long count)
    {
        done += count;
        if (!enabled) return;
        var now = clock.Elapsed;
        if (interactive)
        {
            if (now - lastDraw < TimeSpan.FromMilliseconds(200)) return;
            lastDraw = now;
            Console.Error.Write("\r" + Line() + "\u001b[K");
            barVisible = true;
        }
        else
        {
            int decile = total is { } t ? (int)(10 * done / t) : (int)(now.TotalSeconds / 10);
            if (decile == lastDecile) return;
            lastDecile = decile;
            Console.Error.WriteLine(Line());
        }
    }

    /// <summary>Clears the bar before something else is printed to the terminal; it reappears on the next update.</summary>
    public void ClearLine()
    {
        if (!barVisible) return;
        Console.Error.Write("\r\u001b[K");
        barVisible = false;
        lastDraw = TimeSpan.FromSeconds(-1);
    }

    string Line()
    {
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        double rate = done / seconds;
        if (total is not { } t) return $"{done:N0} {unit}  {rate:N1} {unit}/s  elapsed {Format(clock.Elapsed)}";
        double fraction = Math.Min(1.0, (double)done / t);
        const int width = 30;
        int filled = (int)(fraction * width);
        var bar = new string('█', filled) + new string('░', width - filled);
        var eta = rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, t - done) / rate) : TimeSpan.Zero;
        return $"{bar} {fraction,4:P0} {done:N0}/{t:N0} {unit}  {rate:N1} {unit}/s  ETA {Format(eta)}";
    }

    static string Format(TimeSpan span) => span.TotalHours >= 1 ? span.ToString(@"h\:mm\:ss") : span.ToString(@"m\:ss");

    /// <summary>Prints the final summary line (total, time, rate).</summary>
    public void Dispose()
    {
        if (!enabled) return;
        ClearLine();
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        Console.Error.WriteLine($"done: {done:N0} {unit} in {Format(clock.Elapsed)} ({done / seconds:N1} {unit}/s)");
    }
}
