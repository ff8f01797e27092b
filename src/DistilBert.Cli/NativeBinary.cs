namespace DistilBert.Cli;

/// <summary>What the NativeAOT binary leaves out (docs/native.md): commands that need the server library say so in one line.</summary>
/// <remarks>Thread-safety: stateless.</remarks>
static class NativeBinary
{
    /// <summary>Writes the one error line for <paramref name="command"/> and returns the exit code 1.</summary>
    public static int CommandLeftOut(string command) =>
        WriteError($"error: {command} is not in the native binary (it needs the server library, whose routes and JSON use reflection); " +
                   $"run it from the JIT build: dotnet DistilBert.Cli.dll {command}");

    static int WriteError(string line)
    {
        Console.Error.WriteLine(line);
        return 1;
    }
}
