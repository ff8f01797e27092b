using System.CommandLine;
using DistilBert.Cli;

namespace DistilBert.Tests;

/// <summary>One name per concept across commands: gradient clipping is HF's --max-grad-norm everywhere, with the older
/// --clip kept as an alias where it was the name.</summary>
public sealed class CliOptionNamesTests
{
    static Command Find(params string[] path)
    {
        Command command = Program.BuildRoot();
        foreach (var name in path) command = command.Subcommands.Single(c => c.Name == name);
        return command;
    }

    [Theory]
    [InlineData("train", "classify")]
    [InlineData("train", "qa")]
    [InlineData("distill")]
    [InlineData("distill-task")]
    [InlineData("grad")]
    public void ClippingIsMaxGradNormEverywhere(params string[] path)
    {
        var option = Find(path).Options.SingleOrDefault(o => o.Name == "--max-grad-norm");
        Assert.NotNull(option);
        Assert.Contains("--clip", option!.Aliases);
    }
}
