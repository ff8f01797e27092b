using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace DistilBert;

/// <summary>
/// Names and clean-up of the temporaries of atomic writes (<see cref="AtomicFile"/>, model folders, training
/// checkpoints). A temporary sits beside its target as <c>.{target}.tmp-{pid}-{guid}</c>; the writer's process id in the
/// name lets a later run tell the leftover of a killed writer (kill -9, power loss: no <c>finally</c> ran) from the live
/// temporary of a writer still at work.
/// </summary>
/// <remarks>Thread-safety: stateless; safe from many threads (and processes: it removes only temporaries whose writer is gone).</remarks>
public static partial class TemporaryFiles
{
    /// <summary>A fresh temporary path beside <paramref name="targetName"/> in <paramref name="directory"/>.</summary>
    public static string PathBeside(string directory, string targetName) =>
        Path.Combine(directory, $".{targetName}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");

    [GeneratedRegex(@"^\.(?<target>.+)\.tmp-(?<pid>[0-9]{1,10})-[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryName();

    /// <summary>The clocks compared (a process's start time, derived from the boot time in whole seconds, and a file's
    /// last write) can disagree by about a second; a leftover must be older than this margin to count as stale.</summary>
    static readonly TimeSpan ClockMargin = TimeSpan.FromSeconds(2);

    static readonly DateTime ThisProcessStartUtc = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    /// <summary>
    /// Deletes the stale temporaries directly in <paramref name="directory"/> (only of <paramref name="targetName"/>
    /// when given): entries named exactly as <see cref="PathBeside"/> names them whose writer is gone — no process has
    /// that id any more, or the process that has it now started after the temporary was last written (the id was
    /// reused). Anything else, and a temporary whose writer may still be running, is left alone. Deletion is best
    /// effort: a leftover that cannot be deleted stays. Returns the names deleted.
    /// </summary>
    public static IReadOnlyList<string> RemoveStale(string directory, string? targetName = null)
    {
        var removed = new List<string>();
        if (!Directory.Exists(directory)) return removed;
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
        {
            var match = TemporaryName().Match(entry.Name);
            if (!match.Success || (targetName is not null && match.Groups["target"].Value != targetName)) continue;
            if (!int.TryParse(match.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            try
            {
                if (!WriterIsGone(pid, entry.LastWriteTimeUtc)) continue;
                // A symbolic link is deleted itself, never followed.
                if (entry.LinkTarget is not null) File.Delete(entry.FullName);
                else if (entry is DirectoryInfo dir) dir.Delete(recursive: true);
                else entry.Delete();
                removed.Add(entry.Name);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    internal static bool WriterIsGone(int pid, DateTime lastWriteUtc)
    {
        // Our own id: a temporary written before this process started belongs to an earlier process with the same id
        // (containers often give every run the same small pid).
        if (pid == Environment.ProcessId) return lastWriteUtc < ThisProcessStartUtc - ClockMargin;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.StartTime.ToUniversalTime() - ClockMargin > lastWriteUtc;
        }
        catch (ArgumentException) { return true; } // no process with this id
        catch (InvalidOperationException) { return true; } // it exited meanwhile
        catch (Win32Exception) { return false; } // cannot tell: keep it
        catch (NotSupportedException) { return false; }
    }
}
