using System.CommandLine;

namespace DistilBert.Cli;

public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    /// <summary>The whole command tree; each command lives in its own file under Commands/.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("DistilBERT and BERT in pure .NET: tokenize, infer, fine-tune and distil.");
        foreach (var command in AllCommands()) root.Subcommands.Add(command);
        return root;
    }

    static IEnumerable<Command> AllCommands()
    {
        yield break;
    }
}
