using DistilBert.Cli;
using DistilBert.Cli.Commands;
using DistilBert.Modeling;

namespace DistilBert.Tests;

/// <summary>`distilbert bench-train`: the step it times really trains, and bad options are reported.</summary>
[Collection(nameof(PipelineCliCollection))] // redirects Console.Error
public class TrainSpeedBenchTests
{
    static readonly ModelConfig Small = ModelConfig.Parse("""{"model_type":"distilbert","architectures":["DistilBertForSequenceClassification"],"vocab_size":30522,"dim":32,"n_layers":2,"n_heads":2,"hidden_dim":64,"max_position_embeddings":64}""");

    [Fact]
    public void TimesEveryPhaseOfEachStep()
    {
        var seen = new List<int>();
        var timings = TrainBenchCommand.Run(Small, batch: 2, seq: 16, warmup: 1, steps: 3, dropout: true, (i, _) => seen.Add(i));
        Assert.Equal([0, 1, 2], seen);
        Assert.Equal(3, timings.Count);
        Assert.All(timings, t =>
        {
            Assert.True(t.Forward > 0 && t.Backward > 0 && t.Optimizer > 0 && t.Clip >= 0 && t.ZeroGrad >= 0);
            Assert.Equal(t.ZeroGrad + t.Forward + t.Backward + t.Clip + t.Optimizer, t.Total, 12);
        });
    }

    [Theory]
    [InlineData("--shape", "huge", "--shape must be distilbert-base or tiny")]
    [InlineData("--batch", "0", "--batch must be at least 1")]
    [InlineData("--seq", "1", "--seq must be between 2 and 512")]
    public void RejectsBadOptions(string option, string value, string message)
    {
        var error = new StringWriter();
        var saved = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(1, Program.BuildRoot().Parse(["bench-train", option, value]).Invoke()); }
        finally { Console.SetError(saved); }
        Assert.Contains(message, error.ToString());
    }
}
