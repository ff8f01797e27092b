using DistilBert.Cli.Output;
using DistilBert.Pipelines;

namespace DistilBert.Tests;

/// <summary>`--json` output goes through compile-time contracts only, as the NativeAOT binary needs (docs/native.md).</summary>
public class CliJsonTests
{
    [Fact]
    public void AResultIsWrittenWithHfFieldNames()
    {
        var output = new StringWriter();
        JsonLines.Write<IReadOnlyList<ClassificationResult>>(output, [new ClassificationResult("positive", 0.5f)]);
        Assert.Equal("[{\"label\":\"positive\",\"score\":0.5}]", output.ToString().Trim());
    }

    [Fact]
    public void EvalScoresWithNestedListsAreWritten()
    {
        var output = new StringWriter();
        var scores = new Dictionary<string, object>
        {
            ["task"] = "classify", ["examples"] = 3, ["accuracy"] = 0.5,
            ["per_class"] = new List<Dictionary<string, object>> { new() { ["label"] = "négatif", ["support"] = 2 } },
        };
        JsonLines.Write(output, scores);
        Assert.Equal("{\"task\":\"classify\",\"examples\":3,\"accuracy\":0.5,\"per_class\":[{\"label\":\"négatif\",\"support\":2}]}", output.ToString().Trim());
    }

    /// <summary>Without a contract the JIT build would fall back to reflection and the native binary would fail at run
    /// time; here both refuse, so a type missing from CliJsonContext shows up in the tests.</summary>
    [Fact]
    public void ATypeWithoutAContractIsRefusedInsteadOfReflected() =>
        Assert.ThrowsAny<Exception>(() => JsonLines.Write(new StringWriter(), new Version(1, 2)));
}
