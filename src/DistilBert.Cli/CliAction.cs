using System.CommandLine;

namespace DistilBert.Cli;

/// <summary>
/// Runs a command body and turns the library's typed errors into one clear line on stderr and exit code 1,
/// instead of a stack trace. Unexpected exceptions still show their trace: they are our bugs.
/// </summary>
public static class CliAction
{
    /// <summary>
    /// Sets <paramref name="command"/>'s action to <paramref name="body"/>, run through <see cref="Run"/>.
    /// </summary>
    public static void Set(Command command, Func<ParseResult, int> body) =>
        command.SetAction(parseResult => Run(() => body(parseResult)));

    /// <summary>
    /// Sets <paramref name="command"/>'s cancellable action to <paramref name="body"/>, run through <see
    /// cref="RunAsync"/>.
    /// </summary>
    public static void Set(Command command, Func<ParseResult, CancellationToken, Task<int>> body) =>
        command.SetAction((parseResult, ct) => RunAsync(() => body(parseResult, ct)));

    /// <summary>
    /// Runs <paramref name="body"/>; a user error becomes one <c>error:</c> line on stderr and exit code 1.
    /// </summary>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (IsUserError(e)) { return Report(e); }
    }

    /// <summary>
    /// Runs <paramref name="body"/>; a user error becomes one <c>error:</c> line on stderr and exit code 1,
    /// cancellation 130.
    /// </summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (Exception e) when (IsUserError(e)) { return Report(e); }
    }

    // IOException covers a missing file or folder, an output path that is a directory, a full disk: the user's to fix,
    // and its message names the path.
    static bool IsUserError(Exception e) =>
        e is DistilBertException or IOException or UnauthorizedAccessException or OperationCanceledException;

    static int Report(Exception e)
    {
        if (e is OperationCanceledException) { Console.Error.WriteLine("cancelled"); return 130; }
        Console.Error.WriteLine($"error: {e.Message}");
        return 1;
    }
}
