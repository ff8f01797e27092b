using System.CommandLine;
using System.Reflection;

namespace DistilBert.Cli;

public static class Program
{
    /// <summary>
    /// Ctrl+C (or SIGTERM) cancels the token a cancellable command (download, distill) gets, so it stops between steps
    /// and exits with "cancelled" and 130 (CliAction); a command still running after the timeout exits all the same.
    /// System.CommandLine's default is no handling: the signal killed the process wherever it was.
    /// </summary>
    public static readonly InvocationConfiguration Invocation = new() { ProcessTerminationTimeout = TimeSpan.FromSeconds(5) };

    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke(Invocation);

    /// <summary>The whole command tree; each command lives in its own file under Commands/.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("DistilBERT and BERT in pure .NET: tokenize, infer, fine-tune and distil.");
        foreach (var command in AllCommands()) root.Subcommands.Add(command);
        return root;
    }

    /// <summary>
    /// Every static class in <c>DistilBert.Cli.Commands</c> with a <c>public static Command Create()</c> contributes one
    /// top-level command, ordered by name. Discovery keeps each command self-contained in its own file.
    /// </summary>
    static IEnumerable<Command> AllCommands() =>
        typeof(Program).Assembly.GetTypes()
            .Where(t => t.Namespace == "DistilBert.Cli.Commands" && t.IsClass && t.IsAbstract && t.IsSealed)
            .Select(t => t.GetMethod("Create", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes))
            .Where(m => m is not null && m.ReturnType.IsAssignableTo(typeof(Command)))
            .Select(m => (Command)m!.Invoke(null, null)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal);
}
