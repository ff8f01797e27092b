using System.Text.Json;
using DistilBert.Pipelines;
using DistilBert.Tests;
using static DistilBert.Server.Tests.ServerFixture;

namespace DistilBert.Server.Tests;

/// <summary>A sentence-transformers folder served as TEI serves one: its pooling and max_seq_length, normalisation per
/// request (default on).</summary>
public sealed class ServerSentenceTransformerTests
{
    [Fact]
    public async Task A_sentence_transformers_folder_is_served_with_its_pooling_and_max_seq_length()
    {
        using var models = new PipelineTestModels();
        var folder = SentenceTransformerFolders.Layout(models.Classifier, Path.Combine(models.Root, "st-cls"), "cls", normalize: false, maxSeqLength: 12);
        var options = new DistilBertServerOptions();
        // The random weights come from a classifier folder; a Hub sentence-transformers folder names a base model (BertModel).
        options.Models.Add(new ModelSource("st", folder, ModelTask.FeatureExtraction));
        var (app, url) = await StartAsync(options);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri(url) };
            var info = JsonDocument.Parse(await client.GetStringAsync("/info")).RootElement;
            Assert.Equal("cls", info.GetProperty("model_type").GetProperty("embedding").GetProperty("pooling").GetString());
            Assert.Equal(12, info.GetProperty("max_input_length").GetInt32());

            const string text = "a gorgeous, witty, seductive movie";
            var normalized = EmbeddingPipeline.Load(folder, normalize: true);
            Assert.Equal(PoolingMode.Cls, normalized.Pooling);
            async Task<string> Post(string path, object body)
            {
                using var content = new StringContent(Body(body), System.Text.Encoding.UTF8, "application/json");
                var response = await client.PostAsync(path, content);
                return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            Assert.Equal("200 " + Json(new[] { normalized.Embed(text) }), await Post("/embed", new { inputs = text }));
            Assert.Equal("200 " + Json(new[] { EmbeddingPipeline.Load(folder).Embed(text) }), await Post("/embed", new { inputs = text, normalize = false }));
            Assert.Equal("200 " + Json(normalized.Embed(text)), await Post("/models/st", new { inputs = text }));
            var openAi = JsonDocument.Parse((await Post("/v1/embeddings", new { input = text }))[4..]).RootElement;
            Assert.Equal(Json(normalized.Embed(text)), openAi.GetProperty("data")[0].GetProperty("embedding").GetRawText().Replace(" ", ""));

            string longer = "the plot is nothing but boilerplate clichés from start to finish";
            Assert.StartsWith("413 ", await Post("/embed", new { inputs = longer }));
            Assert.Equal("200 " + Json(new[] { normalized.Embed(longer) }), await Post("/embed", new { inputs = longer, truncate = true }));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
