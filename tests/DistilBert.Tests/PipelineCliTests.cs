using System.Text.Json;
using DistilBert.Cli;

namespace DistilBert.Tests;

[CollectionDefinition(nameof(PipelineCliCollection), DisableParallelization = true)]
public sealed class PipelineCliCollection;

/// <summary>The task commands end to end, in-process, on small random-weight models. Not parallel: they capture the console.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class PipelineCliTests(PipelineTestModels models) : IClassFixture<PipelineTestModels>
{
    static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    string Write(string name, string content)
    {
        var path = Path.Combine(models.Root, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Classify_tsv_with_json_writes_one_line_per_input_with_hf_field_names()
    {
        string[] texts = ["a fine film", "dull", "not bad at all"];
        var input = Write("reviews.tsv", "sentence\tlabel\n" + string.Concat(texts.Select((t, i) => $"{t} \t{i % 2}\n")));
        var (code, output, _) = Run("classify", "--model", models.Classifier, "--input", input, "--json", "--batch-size", "2");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        var expected = IndependentPredictions.Classify(models.Classifier, texts);
        string[] labels = ["NEGATIVE", "POSITIVE"];
        for (int i = 0; i < texts.Length; i++)
        {
            var result = Assert.Single(JsonDocument.Parse(lines[i]).RootElement.EnumerateArray());
            Assert.Equal(labels[expected[i].Label], result.GetProperty("label").GetString());
            Assert.Equal(expected[i].Score, result.GetProperty("score").GetDouble(), 5);
        }
    }

    [Fact]
    public void Ner_qa_fill_mask_and_embed_json_carry_hf_fields()
    {
        var ner = Run("ner", "-m", models.Tagger, "--json", "--aggregation", "none", "--ignore-labels", "", "Ann lives in Paris");
        Assert.Equal(0, ner.Code);
        var token = JsonDocument.Parse(ner.Out).RootElement[0];
        foreach (var field in new[] { "entity", "score", "index", "word", "start", "end" }) Assert.True(token.TryGetProperty(field, out _), field);

        var qa = Run("qa", "-m", models.Reader, "--json", "--context", "Paris is the capital of France.", "What is the capital?");
        Assert.Equal(0, qa.Code);
        var answer = JsonDocument.Parse(qa.Out).RootElement[0];
        int start = answer.GetProperty("start").GetInt32(), end = answer.GetProperty("end").GetInt32();
        Assert.Equal("Paris is the capital of France."[start..end], answer.GetProperty("answer").GetString());

        var mask = Run("fill-mask", "-m", models.MaskedLm, "--json", "--top-k", "3", "Paris is the [MASK] of France.");
        Assert.Equal(0, mask.Code);
        var proposals = JsonDocument.Parse(mask.Out).RootElement;
        Assert.Equal(3, proposals.GetArrayLength());
        foreach (var field in new[] { "score", "token", "token_str", "sequence" }) Assert.True(proposals[0].TryGetProperty(field, out _), field);

        var embed = Run("embed", "-m", models.MaskedLm, "--json", "one", "two");
        Assert.Equal(0, embed.Code);
        Assert.All(embed.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Equal(16, JsonDocument.Parse(l).RootElement.GetArrayLength()));
    }

    [Fact]
    public void Bad_inputs_fail_with_one_clear_line()
    {
        var missing = Run("classify", "--model", Path.Combine(models.Root, "no-such-model"), "text");
        Assert.Equal(1, missing.Code);
        Assert.Contains("error:", missing.Err);
        Assert.Contains("no such folder", missing.Err);

        var wrongTask = Run("qa", "--model", models.Classifier, "--context", "c", "q?");
        Assert.Equal(1, wrongTask.Code);
        Assert.Contains("ForQuestionAnswering", wrongTask.Err);

        var empty = Run("classify", "--model", models.Classifier, "--input", Write("empty.txt", "\n\n"));
        Assert.Equal(1, empty.Code);
        Assert.Contains("empty", empty.Err);
    }

    [Fact]
    public void Malformed_jsonl_line_stops_with_its_number_or_is_skipped_on_request()
    {
        var input = Write("bad.jsonl", "{\"text\": \"good\"}\n{\"text\": oops}\n{\"text\": \"also good\"}\n");
        var stop = Run("classify", "--model", models.Classifier, "--input", input, "--json");
        Assert.Equal(1, stop.Code);
        Assert.Contains("bad.jsonl:2:", stop.Err);

        var skip = Run("classify", "--model", models.Classifier, "--input", input, "--json", "--skip-bad-lines");
        Assert.Equal(0, skip.Code);
        Assert.Equal(2, skip.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("bad.jsonl:2:", skip.Err);
    }

    [Fact]
    public void Over_long_input_is_truncated_with_a_warning()
    {
        var longText = string.Join(' ', Enumerable.Repeat("word", 100));
        var (code, output, error) = Run("classify", "--model", models.Classifier, "--json", longText);
        Assert.Equal(0, code);
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("truncated", error); // the test models allow 64 positions
    }

    [Fact]
    public void Eval_scores_classification_ner_and_qa_files()
    {
        // Labels chosen so the random-weight classifier gets four of six right: the accuracy is neither 0, ½ nor 1.
        string[] texts = ["good", "bad", "fine", "awful", "a fine film", "dull"];
        var predicted = IndependentPredictions.Classify(models.Classifier, texts);
        var examples = texts.Select((t, i) => (Text: t, Label: i % 3 != 2 ? predicted[i].Label : 1 - predicted[i].Label)).ToArray();
        var tsv = Write("eval.tsv", "sentence\tlabel\n" + string.Concat(examples.Select(e => $"{e.Text} \t{e.Label}\n")));
        var cls = Run("eval", "--model", models.Classifier, "--task", "classify", "--data", tsv, "--json");
        Assert.Equal(0, cls.Code);
        var scores = JsonDocument.Parse(cls.Out).RootElement;
        Assert.Equal(texts.Length, scores.GetProperty("examples").GetInt32());
        Assert.Equal(IndependentPredictions.Accuracy(models.Classifier, examples), scores.GetProperty("accuracy").GetDouble(), 4); // printed to 4 places
        Assert.Equal(4 / 6.0, scores.GetProperty("accuracy").GetDouble(), 4);

        var conll = Write("eval.conll", "Ann\tB-PER\nLee\tI-PER\nwent\tO\n\nParis\tB-LOC\n");
        var ner = Run("eval", "--model", models.Tagger, "--task", "ner", "--data", conll, "--json");
        Assert.Equal(0, ner.Code);
        var nerScores = JsonDocument.Parse(ner.Out).RootElement;
        Assert.Equal(2, nerScores.GetProperty("sentences").GetInt32());
        Assert.Equal(2, nerScores.GetProperty("entities").GetInt32());

        var squad = Write("eval.json", """{"data": [{"title": "t", "paragraphs": [{"context": "Paris is in France.", "qas": [{"id": "1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]}]}]}]}""");
        var qa = Run("eval", "--model", models.Reader, "--task", "qa", "--data", squad, "--json");
        Assert.Equal(0, qa.Code);
        Assert.Equal(1, JsonDocument.Parse(qa.Out).RootElement.GetProperty("questions").GetInt32());

        var wrong = Run("eval", "--model", models.Classifier, "--task", "summarize", "--data", tsv);
        Assert.Equal(1, wrong.Code);
        Assert.Contains("--task", wrong.Err);
    }
}
