using DistilBert.Pipelines;

namespace DistilBert.Tests;

/// <summary>
/// Input-side limits of the pipelines: a window limit per input (QA contexts, NER texts), truncation that never
/// tokenizes a huge text whole, sequence-weighted batching, and fill-mask's message when no mask is left.
/// CLI cases capture the console, hence the serial collection.
/// </summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class PipelineInputLimitTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    static string Words(int count) => string.Join(' ', Enumerable.Range(0, count).Select(i => i % 3 == 0 ? "Paris" : i % 3 == 1 ? "visited" : "Ann"));

    [Fact]
    public void Qa_refuses_a_context_needing_more_windows_than_allowed_and_runs_it_when_the_limit_is_raised()
    {
        var context = Words(400); // the test models hold 64 tokens: about a dozen windows
        var limited = QuestionAnsweringPipeline.Load(models.Reader, new PipelineSettings { MaxWindows = 3 });
        var error = Assert.Throws<InvalidInputException>(() => limited.Predict("Who visited?", context));
        Assert.StartsWith("input 1: the context needs", error.Message);
        Assert.Contains("the limit of 3", error.Message);
        Assert.Contains("--max-windows", error.Message);
        Assert.Contains("PipelineSettings.MaxWindows", error.Message);

        var unlimited = QuestionAnsweringPipeline.Load(models.Reader, new PipelineSettings { MaxWindows = null });
        var answer = Assert.Single(unlimited.Predict("Who visited?", context));
        Assert.Equal(context[answer.Start..answer.End], answer.Answer);

        Assert.Throws<InvalidInputException>(() => QuestionAnsweringPipeline.Load(models.Reader, new PipelineSettings { MaxWindows = 0 }));
    }

    [Fact]
    public void Ner_refuses_a_text_needing_more_windows_than_allowed()
    {
        var pipeline = TokenClassificationPipeline.Load(models.Tagger, new PipelineSettings { MaxWindows = 2 });
        Assert.NotEmpty(pipeline.Predict(Words(60), AggregationStrategy.None, ignoreLabels: []));
        var error = Assert.Throws<InvalidInputException>(() => pipeline.Predict(["short", Words(20_000)]).ToList());
        Assert.StartsWith("input 2: the text needs more than the limit of 2 windows of up to 64 tokens", error.Message);
    }

    [Fact]
    public void Classifying_a_huge_text_tokenizes_only_what_the_model_sees()
    {
        var pipeline = TextClassificationPipeline.Load(models.Classifier, new PipelineSettings { Warn = _ => { } });
        var huge = Words(2_000_000); // 12 MB
        pipeline.Predict("warm up");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = pipeline.Predict(huge);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Single(result);
        Assert.True(allocated < 8 << 20, $"allocated {allocated:N0} bytes to classify 64 tokens of a 12 MB text");
    }

    [Fact]
    public void Fill_mask_says_there_is_no_mask_rather_than_that_it_lies_beyond_the_limit()
    {
        var warnings = new List<string>();
        var pipeline = FillMaskPipeline.Load(models.MaskedLm, new PipelineSettings { MaxLength = 16, Warn = warnings.Add });
        var none = Assert.Throws<InvalidInputException>(() => pipeline.Predict(Words(100)));
        Assert.Contains("no [MASK] token in", none.Message);
        Assert.DoesNotContain("beyond", none.Message);
        var beyond = Assert.Throws<InvalidInputException>(() => pipeline.Predict(Words(100) + " [MASK]"));
        Assert.Contains("lies beyond the first 16 tokens", beyond.Message);
        Assert.Empty(warnings); // a refused input gets its error, not a truncation warning first

        Assert.Single(pipeline.Predict("[MASK] " + Words(100)));
        Assert.Equal("input 1: longer than 16 tokens, truncated", Assert.Single(warnings));
    }

    [Fact]
    public void Batches_hold_at_most_batch_size_sequences_when_items_carry_several()
    {
        int[] windows = [1, 5, 2, 2, 9, 1, 3];
        var batches = new List<int[]>();
        var results = LengthBatcher.Run(Enumerable.Range(0, windows.Length), i => i, batchSize: 4,
            batch => { batches.Add(batch.ToArray()); return batch.ToList(); }, windowBatches: 2, sequences: i => windows[i]).ToList();
        Assert.Equal(Enumerable.Range(0, windows.Length), results);
        // Read-ahead windows of 8 sequences: [0 1 2] (1+5+2), [3 4] (2+9), [5 6]; an item over the batch size runs alone.
        Assert.Equal([[0], [1], [2], [3], [4], [5, 6]], batches);
    }

    [Fact]
    public void Cli_qa_names_the_window_limit_and_its_flag()
    {
        var contextFile = Path.Combine(models.Root, "long-context.txt");
        File.WriteAllText(contextFile, Words(400));
        var refused = CliRunner.Run("qa", "-m", models.Reader, "--context-file", contextFile, "--max-windows", "3", "Who visited?");
        Assert.Equal(1, refused.Code);
        var line = Assert.Single(refused.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: input 1: the context needs", line);
        Assert.Contains("--max-windows", line);

        var raised = CliRunner.Run("qa", "-m", models.Reader, "--context-file", contextFile, "--max-windows", "100", "--json", "Who visited?");
        Assert.Equal(0, raised.Code);

        var zero = CliRunner.Run("ner", "-m", models.Tagger, "--max-windows", "0", "Ann");
        Assert.Equal(1, zero.Code);
        Assert.Contains("error: --max-windows must be at least 1, got 0", zero.Err);
    }
}
