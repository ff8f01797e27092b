using Spectre.Console;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.RegularExpressions;

namespace DistilBert.Cli;

/// <summary>The <c>distilbert</c> command line: parsing, error reporting and the command tree. One run at a time: a run
/// rebinds the process-wide console.</summary>
public static partial class Program
{
    /// <summary>
    /// Ctrl+C (or SIGTERM) cancels the token a cancellable command (download, distill) gets, so it stops between steps
    /// and exits with "cancelled" and 130 (CliAction); a command still running after the timeout exits all the same.
    /// System.CommandLine's default is no handling: the signal killed the process wherever it was.
    /// </summary>
    /// <remarks>A new one per run: it takes Console.Out and Console.Error when made, and help and --version write there.</remarks>
    public static InvocationConfiguration Invocation => new()
    {
        ProcessTerminationTimeout = TimeSpan.FromSeconds(5), Output = Console.Out, Error = Console.Error,
    };

    /// <summary>The entry point: runs <paramref name="args"/> and returns the exit code.</summary>
    public static int Main(string[] args) => Run(args);

    /// <summary>
    /// Parses and runs a command line. One that does not parse gets one <c>error:</c> line per problem and a one-line
    /// hint on stderr, exit code 1, as every other error, instead of System.CommandLine's messages followed by the whole
    /// help. <c>distilbert</c> alone still shows the help.
    /// </summary>
    public static int Run(string[] args)
    {
        // Spectre's console binds to the Console.Out of its first use; bind it to this run's (tests capture it per run)
        var output = new AnsiConsoleOutput(Console.Out);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = output });
        // Piped output has no terminal width and Spectre then assumes 80 columns, cutting wide tables' headers and cells
        // ("sequen…"); a file or a pipe can take every column whole.
        if (!output.IsTerminal) AnsiConsole.Console.Profile.Width = PipedWidth;
        var parse = BuildRoot().Parse(args);
        if (args.Length > 0 && parse.Action is ParseErrorAction)
            return ReportErrors(parse, UnknownNames(parse) ?? parse.Errors.Select(e => e.Message).Distinct().ToList());
        if (OptionLikeTexts(parse) is { Count: > 0 } unknownOptions)
            return ReportErrors(parse, unknownOptions.Select(o => $"unknown option '{o}' (a text starting with '-' goes after '--')").ToList());
        return parse.Invoke(Invocation);
    }

    /// <summary>Columns Spectre may use when stdout is not a terminal: wide enough that no table is cut.</summary>
    internal const int PipedWidth = 1024;

    static int ReportErrors(ParseResult parse, IReadOnlyList<string> messages)
    {
        foreach (var message in messages) Console.Error.WriteLine($"error: {message}");
        Console.Error.WriteLine($"see '{CommandPath(parse.CommandResult)} --help'");
        return 1;
    }

    /// <summary>
    /// Unknown words after a command that only has subcommands (<c>distilbert frobnicate</c>, <c>train nerr</c>). The
    /// parser reports them beside "Required command was not provided"; the unknown name is the news.
    /// </summary>
    static List<string>? UnknownNames(ParseResult parse) =>
        parse.CommandResult.Command.Subcommands.Count > 0 && parse.UnmatchedTokens.Count > 0
            ? parse.UnmatchedTokens.Select(t => t.StartsWith('-') ? $"unknown option '{t}'" : $"unknown command '{t}'").ToList()
            : null;

    /// <summary>
    /// Positional texts that look like options (<c>--bogus</c>, <c>-x</c>): the parser hands an unknown option of a command
    /// taking texts to its text argument, so a typo would be classified as text. After <c>--</c> they are texts.
    /// </summary>
    static List<string> OptionLikeTexts(ParseResult parse)
    {
        int doubleDash = parse.Tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        var found = new List<string>();
        foreach (var argument in parse.CommandResult.Children.OfType<ArgumentResult>())
            foreach (var token in argument.Tokens)
            {
                if (!OptionLike().IsMatch(token.Value)) continue;
                int position = parse.Tokens.ToList().FindIndex(t => ReferenceEquals(t, token));
                if (doubleDash < 0 || position < doubleDash) found.Add(token.Value);
            }
        return found;
    }

    [GeneratedRegex(@"^--?[A-Za-z][A-Za-z0-9-]*(=.*)?$")]
    private static partial Regex OptionLike();

    static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            names.Add(c.Parent is null ? "distilbert" : c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>
    /// The whole command tree; each command lives in its own file under Commands/. The root is a plain command named
    /// <c>distilbert</c> rather than a <see cref="RootCommand"/>, whose name is the assembly's (<c>DistilBert.Cli</c>) and
    /// cannot be changed: help and usage lines show the name a user types.
    /// </summary>
    public static Command BuildRoot()
    {
        var root = new Command("distilbert", "DistilBERT and BERT in pure .NET: tokenize, infer, fine-tune and distil.");
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption { Action = new PrintVersion() });
        foreach (var command in AllCommands()) root.Subcommands.Add(command);
        return root;
    }

    /// <summary>
    /// The package version and the commit it was built from, as SemVer build metadata shortened to 7 hex digits
    /// (<c>0.1.0-preview+1fe9a12</c>): enough to find the build, short enough to paste into a bug report.
    /// </summary>
    public static string Version
    {
        get
        {
            var informational = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? typeof(Program).Assembly.GetName().Version?.ToString() ?? "unknown";
            int plus = informational.IndexOf('+');
            return plus >= 0 && informational.Length - plus - 1 > 7 ? informational[..(plus + 8)] : informational;
        }
    }

    sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.Out.WriteLine(Version);
            return 0;
        }
    }

    /// <summary>
    /// Every static class in <c>DistilBert.Cli.Commands</c> with a <c>public static Command Create()</c> contributes one
    /// top-level command, ordered by name. Discovery keeps each command self-contained in its own file.
    /// </summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "the native build roots this assembly (TrimmerRootAssembly in the csproj), so every command class and its Create stay")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "as above: rooted assembly")]
    [UnconditionalSuppressMessage("Trimming", "IL2065", Justification = "as above: rooted assembly")]
    static IEnumerable<Command> AllCommands()
    {
        // a loop, not a LINQ chain: the suppressions above do not reach into lambdas
        var commands = new List<Command>();
        foreach (var type in typeof(Program).Assembly.GetTypes())
        {
            if (type.Namespace != "DistilBert.Cli.Commands" || !(type.IsClass && type.IsAbstract && type.IsSealed)) continue;
            if (type.GetMethod("Create", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes) is { } create && create.ReturnType.IsAssignableTo(typeof(Command)))
                commands.Add((Command)create.Invoke(null, null)!);
        }
        return commands.OrderBy(c => c.Name, StringComparer.Ordinal);
    }
}
