using DistilBert.Data;
using DistilBert.Tests;
using Microsoft.Extensions.DependencyInjection;
using static System.Net.Http.HttpMethod;

namespace DistilBert.Server.Tests;

/// <summary>Reviewed items exported as training data, read back by the readers <c>distilbert train</c> uses.</summary>
public sealed partial class StudioApiTests
{
    async Task<string> HoldAsync(string name, string caller, object inputs)
    {
        var held = await studio.Call(Post, $"{Api}/endpoints/{name}/run", caller, new { inputs });
        Assert.True(held.Status == 202, held.Body);
        return held.Json!["review"]!["id"]!.GetValue<string>();
    }

    async Task DecideAsync(string reviewer, string id, object decision) =>
        Assert.Equal(200, (await studio.Call(Post, $"{Api}/reviews/{id}/decision", reviewer, decision)).Status);

    [Fact]
    public async Task ExportTsv_HoldsAcceptedAndCorrectedItems_ReadByTheClassificationReader_AndTrainClassifyRunsOnIt()
    {
        string name = studio.NewName("export-tsv");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "sentiment", new { storeInputs = "on" }, new { threshold = 1.0, auditRate = 1.0 });
        string accepted = await HoldAsync(name, caller, "a \"quoted\"\ttabbed film");
        string corrected = await HoldAsync(name, caller, "what a dull film");
        await HoldAsync(name, caller, "still pending");
        await DecideAsync(reviewer, accepted, new { action = "accept" });
        await DecideAsync(reviewer, corrected, new { action = "correct", output = new { label = "NEGATIVE" } });
        string acceptedLabel = (await studio.Call(Get, $"/studio/api/results/{accepted}", caller)).Json!["output"]![0]!["label"]!.GetValue<string>();

        var export = await studio.Call(Get, $"{Api}/endpoints/{name}/export?format=tsv", reviewer);
        Assert.Equal(200, export.Status);
        Assert.Equal("text/tab-separated-values", export.Message.Content.Headers.ContentType!.MediaType);
        using var folder = new TempDirectory("studio-export");
        string file = Path.Combine(folder.Path, "reviewed.tsv");
        File.WriteAllText(file, export.Body);
        var examples = TextClassificationReader.Read(file).ToList();
        Assert.Equal([("a \"quoted\"\ttabbed film", acceptedLabel), ("what a dull film", "NEGATIVE")], examples.Select(e => (e.Text, e.Label!)));

        // The CLI writes the same file from the database, and `distilbert train classify` takes it.
        string cliFile = Path.Combine(folder.Path, "cli.tsv");
        var (code, output) = StudioProcess.RunCli("review", "export", "--endpoint", name, "--format", "tsv", "--out", cliFile, "--studio-db", studio.DatabasePath);
        Assert.True(code == 0, output);
        Assert.Contains("wrote 2 reviewed item(s)", output);
        Assert.Equal(export.Body, File.ReadAllText(cliFile));
        (code, output) = StudioProcess.RunCli("train", "classify", "--model", studio.Models.Classifier, "--train", cliFile, "--out", Path.Combine(folder.Path, "run"),
            "--epochs", "1", "--max-steps", "1", "--batch-size", "2", "--plain");
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(folder.Path, "run", "config.json")), output);
    }

    [Fact]
    public async Task ExportConll_TagsTheCorrectedSpans_ReadByTheConllReader()
    {
        string name = studio.NewName("export-conll");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "entities", new { storeInputs = "on" }, new { threshold = 1.0, auditRate = 1.0 });
        string id = await HoldAsync(name, caller, "Ada Lovelace lives in New York.");
        await DecideAsync(reviewer, id, new { action = "correct", output = new object[]
        {
            new { entityGroup = "PER", start = 0, end = 12 },
            new { entityGroup = "LOC", start = 22, end = 30 },
        } });
        Assert.Equal(400, (await studio.Call(Post, $"{Api}/reviews/{await HoldAsync(name, caller, "short")}/decision", reviewer,
            new { action = "correct", output = new[] { new { entityGroup = "PER", start = 0, end = 99 } } })).Status);

        var export = await studio.Call(Get, $"{Api}/endpoints/{name}/export?format=conll", studio.AdminKey);
        Assert.Equal(200, export.Status);
        using var folder = new TempDirectory("studio-export");
        string file = Path.Combine(folder.Path, "reviewed.conll");
        File.WriteAllText(file, export.Body);
        var sentence = Assert.Single(ConllReader.Read(file));
        Assert.Equal(["Ada", "Lovelace", "lives", "in", "New", "York", "."], sentence.Tokens);
        Assert.Equal(["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O"], sentence.Tags);
    }

    [Fact]
    public async Task ExportSquad_GivesTheCorrectedAnswerSpan_ReadByTheSquadReader_AndAFormatOfAnotherTaskIsRefused()
    {
        string name = studio.NewName("export-squad");
        var (caller, reviewer, _) = await studio.CreateAsync(name, "question-answering", new { storeInputs = "on" }, new { threshold = 1.0, auditRate = 1.0 });
        const string context = "My name is Wolfgang and I live in Berlin.";
        string id = await HoldAsync(name, caller, new { question = "Where do I live?", context });
        await DecideAsync(reviewer, id, new { action = "correct", output = new { start = 34, end = 40 } });
        Assert.Equal("Berlin", (await studio.Call(Get, $"/studio/api/results/{id}", caller)).Json!["output"]!["answer"]!.GetValue<string>());

        var export = await studio.Call(Get, $"{Api}/endpoints/{name}/export?format=squad", reviewer);
        Assert.Equal("application/json", export.Message.Content.Headers.ContentType!.MediaType);
        using var folder = new TempDirectory("studio-export");
        string file = Path.Combine(folder.Path, "reviewed.json");
        File.WriteAllText(file, export.Body);
        var example = Assert.Single(SquadReader.Read(file));
        Assert.Equal(("Where do I live?", context), (example.Question, example.Context));
        Assert.Equal([new SquadAnswer("Berlin", 34)], example.Answers);

        var wrong = await studio.Call(Get, $"{Api}/endpoints/{name}/export?format=tsv", reviewer);
        Assert.Equal(422, wrong.Status);
        Assert.Contains("exports as squad", wrong.Detail);
        Assert.Equal(400, (await studio.Call(Get, $"{Api}/endpoints/{name}/export", reviewer)).Status);
        // What `distilbert review export` reports as its one error line.
        var refused = await Assert.ThrowsAsync<InvalidInputException>(() => DistilBert.Server.Studio.StudioExport.ExportAsync(
            studio.App.Services.GetRequiredService<DistilBert.Server.Studio.IStudioStore>(), name, "conll"));
        Assert.Contains("exports as squad", refused.Message);
    }
}
