using DistilBert.Modeling.Layers;

namespace DistilBert.Tests;

public class WorkspaceTests
{
    [Fact]
    public void FirstAllocationIsExactAndGrowthIsGeometric()
    {
        var workspace = new Workspace();
        var first = workspace.Get("x", 1000);
        Assert.Equal(1000, first.Length);
        Assert.Same(first, workspace.Get("x", 900));
        var grown = workspace.Get("x", 1001);
        Assert.True(grown.Length >= 1500, $"grew to {grown.Length}");
        // slowly rising requests reuse the grown buffer instead of reallocating each time
        for (int n = 1002; n <= 1500; n += 7) Assert.Same(grown, workspace.Get("x", n));
        Assert.Equal(5000, workspace.Get("x", 5000).Length); // a large jump is taken as asked
    }
}
