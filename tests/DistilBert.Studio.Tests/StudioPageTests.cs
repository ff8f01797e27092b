using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DistilBert.Data;
using DistilBert.Server.Tests;
using DistilBert.Tests;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DistilBert.Studio.Tests;

/// <summary>
/// The Studio in headless chromium against the real server and its Studio API: every flow a person would take, checked
/// on what the page shows (computed colours, marked spans, text nodes), with callers played by HttpClient.
/// </summary>
public sealed partial class StudioPageTests(StudioFixture studio) : IClassFixture<StudioFixture>
{
    static readonly string[] Templates = ["sentiment", "entities", "question-answering", "fill-mask", "similarity"];

    [SkippableFact]
    public async Task Each_template_makes_an_endpoint_with_its_security_and_review_set_in_the_one_form()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var first = await studio.NewPageAsync();
        using var admin = studio.Client(studio.AdminKey);
        for (int i = 0; i < Templates.Length; i++)
        {
            var page = i == 0 ? first : await first.Context.NewPageAsync();
            string name = $"form-{Templates[i]}";
            await page.GotoAsync("/studio#/new");
            await page.Locator($"input[name=template][value='{Templates[i]}']").CheckAsync();
            await page.FillAsync("input[name=name]", name);
            await page.FillAsync("input[name=rateLimitPerMinute]", (30 + i).ToString(CultureInfo.InvariantCulture));
            await page.FillAsync("input[name=maxInputChars]", "500");
            await page.SelectOptionAsync("select[name=storeInputs]", "masked");
            await page.FillAsync("input[name=threshold]", "0.65");
            await page.FillAsync("input[name=auditRate]", "0.1");
            await page.SelectOptionAsync("select[name=mode]", "flag");
            await page.FillAsync("input[name=reviewerKeys]", "2");
            if (i == 0) await StudioFixture.ScreenshotAsync(page, "new-endpoint");
            await page.ClickAsync("form.create button[type=submit]");

            var keys = page.Locator(".key-list code");
            await Expect(keys).ToHaveCountAsync(3); // one caller key, two reviewer keys, shown this once
            Assert.All(await keys.AllTextContentsAsync(), key => Assert.StartsWith("dbk_", key));
            if (i == 0) await StudioFixture.ScreenshotAsync(page, "keys-shown-once");

            var endpoint = JsonNode.Parse(await admin.GetStringAsync($"/studio/api/endpoints/{name}"))!;
            Assert.Equal(Templates[i], endpoint["template"]!.GetValue<string>());
            Assert.Equal(30 + i, endpoint["security"]!["rateLimitPerMinute"]!.GetValue<int>());
            Assert.Equal(500, endpoint["security"]!["maxInputChars"]!.GetValue<int>());
            Assert.Equal("masked", endpoint["security"]!["storeInputs"]!.GetValue<string>());
            Assert.Equal(0.65, endpoint["review"]!["threshold"]!.GetValue<double>());
            Assert.Equal(0.1, endpoint["review"]!["auditRate"]!.GetValue<double>());
            Assert.Equal("flag", endpoint["review"]!["mode"]!.GetValue<string>());
        }
    }

    [SkippableFact]
    public async Task A_form_the_server_refuses_names_the_field()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/new");
        await page.FillAsync("input[name=name]", "refused-form");
        await page.FillAsync("input[name=rateLimitPerMinute]", "-5");
        await page.ClickAsync("form.create button[type=submit]");
        await Expect(page.Locator("form.create .status.error")).ToContainTextAsync("security.rateLimitPerMinute");
        await Expect(page.Locator("input[name=rateLimitPerMinute]")).ToHaveClassAsync(new Regex("invalid"));
    }

    [SkippableFact]
    public async Task A_test_run_shows_inputs_in_white_and_outputs_in_teal_with_AA_contrast()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var (callerKey, _) = await studio.CreateEndpointAsync("colours", "sentiment");
        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/endpoints/colours");
        string text = await page.InputValueAsync("textarea[name=text]");
        Assert.NotEmpty(text); // the template's first example is filled in
        await page.ClickAsync("form.run button[type=submit]");
        var labels = page.Locator(".result .outputs .bar-label");
        await Expect(labels).ToHaveCountAsync(2);

        var background = Rgb(await page.Locator("form.run").EvaluateAsync<string>("e => getComputedStyle(e).backgroundColor"));
        foreach (var input in new[] { page.Locator("textarea[name=text]"), page.Locator(".result .inputs .echo") })
        {
            var colour = Rgb(await ColourAsync(input));
            Assert.Equal((255, 255, 255), colour);
            Assert.True(Contrast(colour, background) >= 4.5, $"input contrast {Contrast(colour, background):F2}");
        }
        foreach (var output in new[] { labels.First, page.Locator(".result .outputs .score").First })
        {
            var colour = Rgb(await ColourAsync(output));
            var (hue, saturation) = HueAndSaturation(colour);
            Assert.InRange(hue, 165, 185); // teal
            Assert.True(saturation > 0.5, $"saturation {saturation:F2} of rgb{colour}");
            Assert.True(Contrast(colour, background) >= 4.5, $"output contrast {Contrast(colour, background):F2}");
        }

        // The page shows what a caller of the API gets for the same text.
        using var caller = studio.Client(callerKey);
        var answer = await caller.PostAsJsonAsync("/studio/api/endpoints/colours/run", new { inputs = text });
        var classes = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["output"]!.AsArray();
        Assert.Equal(classes.Select(c => c!["label"]!.GetValue<string>()), await labels.AllTextContentsAsync());
        Assert.Equal(classes.Select(c => c!["score"]!.GetValue<double>().ToString("F3", CultureInfo.InvariantCulture)),
            await page.Locator(".result .outputs .score").AllTextContentsAsync());

        Assert.Contains("/studio/api/endpoints/colours/run", await page.TextContentAsync("pre.curl"));
        Assert.Contains("AuthenticationHeaderValue(\"Bearer\"", await page.TextContentAsync("pre.csharp"));
        await StudioFixture.ScreenshotAsync(page, "endpoint-test-run");
    }

    [SkippableFact]
    public async Task Entities_are_marked_inside_the_text_and_the_answer_inside_the_context()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var (taggerKey, _) = await studio.CreateEndpointAsync("tagger", "entities");
        var (readerKey, _) = await studio.CreateEndpointAsync("reader", "question-answering");
        var page = await studio.NewPageAsync();

        const string text = "John went to New York and met Mary at the station.";
        await page.GotoAsync("/studio#/endpoints/tagger");
        await page.FillAsync("textarea[name=text]", text);
        await page.ClickAsync("form.run button[type=submit]");
        await Expect(page.Locator(".result .outputs .annotated")).ToBeVisibleAsync();
        using var tagger = studio.Client(taggerKey);
        var entities = JsonNode.Parse(await (await tagger.PostAsJsonAsync("/studio/api/endpoints/tagger/run", new { inputs = text })).Content.ReadAsStringAsync())!["output"]!.AsArray();
        Assert.NotEmpty(entities); // the random-weight tagger finds some in this text
        var marks = page.Locator(".result .outputs .annotated mark");
        await Expect(marks).ToHaveCountAsync(entities.Count);
        for (int i = 0; i < entities.Count; i++)
        {
            int start = entities[i]!["start"]!.GetValue<int>(), end = entities[i]!["end"]!.GetValue<int>();
            await Expect(marks.Nth(i)).ToHaveTextAsync(text[start..end]);
            await Expect(marks.Nth(i)).ToHaveAttributeAsync("data-label", entities[i]!["entityGroup"]!.GetValue<string>());
        }
        // The marked text reads as the whole input: nothing dropped, nothing added around the marks.
        Assert.Equal(text, await page.Locator(".result .outputs .annotated").TextContentAsync());
        await StudioFixture.ScreenshotAsync(page, "test-run-entities");

        await page.GotoAsync("/studio#/endpoints/reader");
        string question = await page.InputValueAsync("input[name=question]"), context = await page.InputValueAsync("textarea[name=context]");
        await page.ClickAsync("form.run button[type=submit]");
        var mark = page.Locator(".result .outputs .annotated mark");
        await Expect(mark).ToHaveCountAsync(1);
        using var reader = studio.Client(readerKey);
        var answer = JsonNode.Parse(await (await reader.PostAsJsonAsync("/studio/api/endpoints/reader/run",
            new { inputs = new { question, context } })).Content.ReadAsStringAsync())!["output"]!;
        await Expect(mark).ToHaveTextAsync(context[answer["start"]!.GetValue<int>()..answer["end"]!.GetValue<int>()]);
        Assert.Equal(context, await page.Locator(".result .outputs .annotated").TextContentAsync());
        await StudioFixture.ScreenshotAsync(page, "test-run-answer");
    }

    [SkippableFact]
    public async Task Fill_mask_and_similarity_show_their_scores()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        await studio.CreateEndpointAsync("blanks", "fill-mask");
        await studio.CreateEndpointAsync("alike", "similarity");
        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/endpoints/blanks");
        await page.ClickAsync("form.run button[type=submit]");
        await Expect(page.Locator(".result .outputs .bar-label")).ToHaveCountAsync(5); // the template's topK
        await Expect(page.Locator(".result .outputs ol.sequences li")).ToHaveCountAsync(5);

        await page.GotoAsync("/studio#/endpoints/alike");
        var sentences = (await page.InputValueAsync("textarea[name=sentences]")).Split('\n');
        await page.ClickAsync("form.run button[type=submit]");
        await Expect(page.Locator(".result .outputs .bar-label")).ToHaveTextAsync(sentences);
        foreach (string score in await page.Locator(".result .outputs .score").AllTextContentsAsync())
            Assert.InRange(double.Parse(score, CultureInfo.InvariantCulture), -1, 1);
        await StudioFixture.ScreenshotAsync(page, "test-run-similarity");
    }

    [SkippableFact]
    public async Task A_share_link_works_without_a_key_and_stops_once_revoked()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        await studio.CreateEndpointAsync("shared", "sentiment");
        var adminPage = await studio.NewPageAsync();
        await adminPage.GotoAsync("/studio#/endpoints/shared");
        await adminPage.ClickAsync("button.create-share");
        var link = adminPage.Locator("a.share-url");
        await Expect(link).ToHaveCountAsync(1);
        string url = (await link.GetAttributeAsync("href"))!;
        string token = url[(url.LastIndexOf('/') + 1)..];

        var visitor = await studio.NewPageAsync(signedIn: false);
        await visitor.GotoAsync(url);
        await Expect(visitor.Locator("h1.endpoint-name")).ToHaveTextAsync("shared");
        Assert.Null(await visitor.EvaluateAsync<string?>("sessionStorage.getItem('distilbert.studio.adminKey')"));
        await visitor.ClickAsync("form.run button[type=submit]");
        await Expect(visitor.Locator(".result .outputs .bar-label")).ToHaveCountAsync(2);
        Assert.DoesNotContain("Authorization", await visitor.TextContentAsync("pre.curl"));
        await StudioFixture.ScreenshotAsync(visitor, "share");

        await adminPage.ClickAsync("button.revoke");
        await Expect(adminPage.Locator("a.share-url")).ToHaveCountAsync(0);
        await visitor.ReloadAsync();
        await Expect(visitor.Locator("h1")).ToHaveTextAsync("This link does not work");
        using var anonymous = studio.Client();
        var run = await anonymous.PostAsJsonAsync($"/studio/api/share/{token}/run", new { inputs = "still there?" });
        Assert.Equal(HttpStatusCode.NotFound, run.StatusCode);
    }

    [SkippableFact]
    public async Task A_held_call_is_corrected_with_the_keyboard_and_the_caller_gets_the_correction()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        // A threshold of 1 holds every answer: a softmax's top score is below it.
        var (callerKey, reviewerKey) = await studio.CreateEndpointAsync("held", "sentiment", threshold: 1.0, mode: "hold");
        using var caller = studio.Client(callerKey);
        var ids = new List<string>();
        foreach (string text in new[] { "the first call", "the second call" })
        {
            var response = await caller.PostAsJsonAsync("/studio/api/endpoints/held/run", new { inputs = text });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            ids.Add(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["review"]!["id"]!.GetValue<string>());
        }
        Assert.Equal(HttpStatusCode.Accepted, (await caller.GetAsync($"/studio/api/results/{ids[0]}")).StatusCode);

        var page = await studio.NewPageAsync(signedIn: false);
        await page.GotoAsync("/studio#/reviews/held");
        await page.FillAsync("input[name=key]", reviewerKey);
        await page.Keyboard.PressAsync("Enter");
        var items = page.Locator("ol.items li");
        await Expect(items).ToHaveCountAsync(2);
        await Expect(items.Nth(0)).ToHaveClassAsync(new Regex("current"));
        await Expect(page.Locator(".detail .echo")).ToHaveTextAsync("the first call"); // oldest first
        await page.Keyboard.PressAsync("j");
        await Expect(page.Locator(".detail .echo")).ToHaveTextAsync("the second call");
        await page.Keyboard.PressAsync("k");
        await Expect(page.Locator(".detail .echo")).ToHaveTextAsync("the first call");
        await StudioFixture.ScreenshotAsync(page, "review-queue");

        // The label the model did not pick, by its number key.
        var other = page.Locator(".labels button:not(.chosen)");
        string digit = (await other.Locator("kbd").TextContentAsync())!;
        string label = (await other.TextContentAsync())![digit.Length..].Trim();
        await page.Keyboard.PressAsync(digit);
        await Expect(items.Nth(0)).ToContainTextAsync("corrected");
        await Expect(page.Locator(".detail .echo")).ToHaveTextAsync("the second call"); // moved on to the next pending item
        await page.Keyboard.PressAsync("a");
        await Expect(items.Nth(1)).ToContainTextAsync("accepted");

        var corrected = JsonNode.Parse(await caller.GetStringAsync($"/studio/api/results/{ids[0]}"))!;
        Assert.Equal("corrected", corrected["status"]!.GetValue<string>());
        Assert.Equal(label, corrected["output"]![0]!["label"]!.GetValue<string>());
        var accepted = JsonNode.Parse(await caller.GetStringAsync($"/studio/api/results/{ids[1]}"))!;
        Assert.Equal("accepted", accepted["status"]!.GetValue<string>());
    }

    [SkippableFact]
    public async Task Two_servers_on_one_PostgreSQL_database_hold_through_one_and_review_through_the_other()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var cluster = new PostgresCluster();
        await cluster.InitializeAsync();
        var apps = new List<Microsoft.AspNetCore.Builder.WebApplication>();
        try
        {
            Skip.If(cluster.SkipReason is not null, cluster.SkipReason);
            string database = await cluster.NewDatabaseAsync();
            var (first, firstUrl, adminKey) = await StudioFixture.StartServerAsync(studio.Models, null, database);
            apps.Add(first);
            var (second, secondUrl, secondKey) = await StudioFixture.StartServerAsync(studio.Models, null, database);
            apps.Add(second);
            Assert.Equal("", secondKey); // the second server found the first one's admin key in the shared store

            var (callerKey, reviewerKey) = await studio.CreateEndpointAsync("shared-queue", "sentiment", threshold: 1.0, baseUrl: firstUrl, adminKey: adminKey);
            using var caller = studio.Client(callerKey, firstUrl);
            var held = await caller.PostAsJsonAsync("/studio/api/endpoints/shared-queue/run", new { inputs = "held by the first server" });
            Assert.Equal(HttpStatusCode.Accepted, held.StatusCode);
            string id = JsonNode.Parse(await held.Content.ReadAsStringAsync())!["review"]!["id"]!.GetValue<string>();

            var page = await studio.NewPageAsync(signedIn: false, baseUrl: secondUrl);
            await page.GotoAsync("/studio#/reviews/shared-queue");
            await page.FillAsync("input[name=key]", reviewerKey);
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.Locator(".detail .echo")).ToHaveTextAsync("held by the first server");
            var other = page.Locator(".labels button:not(.chosen)");
            string digit = (await other.Locator("kbd").TextContentAsync())!;
            string label = (await other.TextContentAsync())![digit.Length..].Trim();
            await page.Keyboard.PressAsync(digit);
            await Expect(page.Locator("ol.items li").First).ToContainTextAsync("corrected");

            var result = JsonNode.Parse(await caller.GetStringAsync($"/studio/api/results/{id}"))!;
            Assert.Equal("corrected", result["status"]!.GetValue<string>());
            Assert.Equal(label, result["output"]![0]!["label"]!.GetValue<string>());
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
            await cluster.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Entity_and_answer_spans_are_corrected_by_selecting_text_with_the_keyboard()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var (qaKey, _) = await studio.CreateEndpointAsync("held-qa", "question-answering", threshold: 1.0);
        var (nerKey, _) = await studio.CreateEndpointAsync("held-ner", "entities", threshold: 1.0);
        const string context = "My name is Wolfgang and I live in Berlin.";
        using var qaCaller = studio.Client(qaKey);
        var held = await qaCaller.PostAsJsonAsync("/studio/api/endpoints/held-qa/run", new { inputs = new { question = "Where do I live?", context } });
        string qaId = JsonNode.Parse(await held.Content.ReadAsStringAsync())!["review"]!["id"]!.GetValue<string>();
        using var nerCaller = studio.Client(nerKey);
        const string text = "John went to New York and met Mary at the station."; // a text the random-weight tagger finds entities in
        held = await nerCaller.PostAsJsonAsync("/studio/api/endpoints/held-ner/run", new { inputs = text });
        string nerId = JsonNode.Parse(await held.Content.ReadAsStringAsync())!["review"]!["id"]!.GetValue<string>();

        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/reviews/held-qa");
        await Expect(page.Locator("ol.items li")).ToHaveCountAsync(1);
        await page.Keyboard.PressAsync("e");
        await Expect(page.Locator("textarea.span-source")).ToBeFocusedAsync();
        await SelectAsync(page, context.IndexOf("Berlin", StringComparison.Ordinal), "Berlin".Length);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("ol.items li").First).ToContainTextAsync("corrected");
        var answer = JsonNode.Parse(await qaCaller.GetStringAsync($"/studio/api/results/{qaId}"))!["output"]!;
        Assert.Equal("Berlin", answer["answer"]!.GetValue<string>());
        Assert.Equal(context.IndexOf("Berlin", StringComparison.Ordinal), answer["start"]!.GetValue<int>());

        await page.GotoAsync("/studio#/reviews/held-ner"); // a hash change: wait for the new page, not the old one's list
        await Expect(page.Locator("h1 .endpoint-name")).ToHaveTextAsync("held-ner");
        await Expect(page.Locator("ol.items li")).ToHaveCountAsync(1);
        await page.Keyboard.PressAsync("e");
        await Expect(page.Locator("textarea.span-source")).ToBeFocusedAsync();
        int newYork = text.IndexOf("New York", StringComparison.Ordinal);
        await SelectAsync(page, newYork, "New York".Length);
        // Labels are numbered in the editor's hint; LOC's number labels the selection.
        string hint = (await page.Locator(".editor p.muted").TextContentAsync())!;
        string digit = Regex.Match(hint, @"(\d) LOC").Groups[1].Value;
        await page.Keyboard.PressAsync(digit);
        await Expect(page.Locator(".editor .corrected mark[data-label=LOC]", new() { HasTextString = "New York" })).ToHaveCountAsync(1);
        await StudioFixture.ScreenshotAsync(page, "review-edit-entities");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("ol.items li").First).ToContainTextAsync("corrected");
        var spans = JsonNode.Parse(await nerCaller.GetStringAsync($"/studio/api/results/{nerId}"))!["output"]!.AsArray();
        Assert.Contains(spans, s => s!["entityGroup"]!.GetValue<string>() == "LOC" && s["start"]!.GetValue<int>() == newYork
            && s["end"]!.GetValue<int>() == newYork + "New York".Length);
    }

    /// <summary>Selects characters [start, start + length) of the focused span editor (its caret starts at 0) with the keyboard alone.</summary>
    static async Task SelectAsync(IPage page, int start, int length)
    {
        for (int i = 0; i < start; i++) await page.Keyboard.PressAsync("ArrowRight");
        for (int i = 0; i < length; i++) await page.Keyboard.PressAsync("Shift+ArrowRight");
    }

    [SkippableFact]
    public async Task An_export_downloads_as_a_TSV_that_train_classify_reads()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var (callerKey, _) = await studio.CreateEndpointAsync("exported", "sentiment", threshold: 1.0);
        using var caller = studio.Client(callerKey);
        using var admin = studio.Client(studio.AdminKey);
        string[] texts = ["a gorgeous, witty movie", "a dull and tired plot"];
        var outputs = new List<JsonArray>();
        foreach (string text in texts)
        {
            var held = JsonNode.Parse(await (await caller.PostAsJsonAsync("/studio/api/endpoints/exported/run", new { inputs = text })).Content.ReadAsStringAsync())!;
            string id = held["review"]!["id"]!.GetValue<string>();
            var items = JsonNode.Parse(await admin.GetStringAsync("/studio/api/endpoints/exported/reviews?status=pending"))!.AsArray();
            outputs.Add(items.Single(i => i!["id"]!.GetValue<string>() == id)!["output"]!.AsArray());
            var decision = texts[0] == text ? (object)new { action = "correct", output = new { label = "POSITIVE" } } : new { action = "accept" };
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"/studio/api/reviews/{id}/decision", decision)).StatusCode);
        }

        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/endpoints/exported");
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("button.export"));
        Assert.Equal("exported.tsv", download.SuggestedFilename);
        using var folder = new TempDirectory("studio-export");
        string path = folder.File("exported.tsv");
        await download.SaveAsAsync(path);

        var examples = TextClassificationReader.Read(path).ToList();
        Assert.Equal(texts, examples.Select(e => e.Text));
        string modelLabel = outputs[1].OrderByDescending(o => o!["score"]!.GetValue<double>()).First()!["label"]!.GetValue<string>();
        Assert.Equal(["POSITIVE", modelLabel], examples.Select(e => e.Label));
    }

    const string ImagePayload = "<img src=x onerror=\"window.__pwned=3\">";
    const string Payload = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";

    [SkippableFact]
    public async Task Script_in_an_input_or_an_endpoint_name_is_shown_as_text_and_never_runs()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        await studio.CreateEndpointAsync("xss", "sentiment", threshold: 1.0, mode: "flag");
        var page = await studio.NewPageAsync();
        await page.GotoAsync("/studio#/endpoints/xss");
        await page.FillAsync("textarea[name=text]", Payload);
        await page.ClickAsync("form.run button[type=submit]");
        await Expect(page.Locator(".result .inputs .echo")).ToHaveTextAsync(Payload);
        await AssertInertAsync(page);

        // The held copy in the review queue, and the name in routes, the form and the key prompt.
        await page.GotoAsync("/studio#/reviews/xss");
        await Expect(page.Locator(".detail .echo")).ToHaveTextAsync(Payload);
        await AssertInertAsync(page);
        // (A route value keeps an encoded '/', so the name in the route is a payload without one.)
        await page.GotoAsync("/studio#/endpoints/" + Uri.EscapeDataString(ImagePayload));
        await Expect(page.Locator("#view .error")).ToContainTextAsync(ImagePayload);
        await AssertInertAsync(page);
        await page.GotoAsync("/studio#/new");
        await page.FillAsync("input[name=name]", Payload);
        await page.ClickAsync("form.create button[type=submit]");
        await Expect(page.Locator("form.create .status.error")).ToContainTextAsync("name");
        await AssertInertAsync(page);
        var visitor = await studio.NewPageAsync(signedIn: false);
        await visitor.GotoAsync("/studio#/reviews/" + Uri.EscapeDataString(Payload));
        await Expect(visitor.Locator("#view h1")).ToHaveTextAsync("Reviewer key for " + Payload);
        await AssertInertAsync(visitor);
    }

    static async Task AssertInertAsync(IPage page)
    {
        Assert.Equal(0, await page.Locator("#view img, #view script").CountAsync());
        Assert.Null(await page.EvaluateAsync<int?>("window.__pwned ?? null"));
    }

    [SkippableFact]
    public async Task The_admin_key_is_typed_once_and_the_list_updates_its_figures_live()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var (callerKey, _) = await studio.CreateEndpointAsync("live", "sentiment");
        var page = await studio.NewPageAsync(signedIn: false);
        await page.GotoAsync("/studio");
        await page.FillAsync("input[name=key]", "dbk_not-a-key");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator(".key-form .error")).ToBeVisibleAsync();
        await page.FillAsync("input[name=key]", studio.AdminKey);
        await page.Keyboard.PressAsync("Enter");
        var requests = page.Locator("tr[data-endpoint=live] td.requests");
        await Expect(requests).ToHaveTextAsync("0");

        using var caller = studio.Client(callerKey);
        for (int i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await caller.PostAsJsonAsync("/studio/api/endpoints/live/run", new { inputs = $"call {i}" })).StatusCode);
        await Expect(requests).ToHaveTextAsync("3", new() { Timeout = 10_000 }); // polled, no reload
        await page.ClickAsync("nav a[href='#/new']");
        await Expect(page.Locator("form.create")).ToBeVisibleAsync(); // the key was kept for this tab
        await page.GotoAsync("/studio#/");
        await Expect(requests).ToHaveTextAsync("3");
        await StudioFixture.ScreenshotAsync(page, "endpoints");
    }

    [SkippableFact]
    public async Task An_unknown_share_link_says_it_does_not_work()
    {
        Skip.IfNot(StudioFixture.HasChromium, StudioFixture.NoChromium);
        var page = await studio.NewPageAsync(signedIn: false);
        await page.GotoAsync("/studio/share/nope");
        await Expect(page.Locator("h1")).ToHaveTextAsync("This link does not work");
    }

    static Task<string> ColourAsync(ILocator element) => element.EvaluateAsync<string>("e => getComputedStyle(e).color");

    [GeneratedRegex(@"rgba?\((\d+), (\d+), (\d+)")]
    private static partial Regex RgbPattern();

    static (int R, int G, int B) Rgb(string css)
    {
        var match = RgbPattern().Match(css);
        Assert.True(match.Success, $"not an rgb() colour: {css}");
        return (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>WCAG 2 contrast ratio of two sRGB colours.</summary>
    static double Contrast((int R, int G, int B) a, (int R, int G, int B) b)
    {
        static double Channel(int c)
        {
            double s = c / 255.0;
            return s <= 0.04045 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
        }
        static double Luminance((int R, int G, int B) c) => 0.2126 * Channel(c.R) + 0.7152 * Channel(c.G) + 0.0722 * Channel(c.B);
        double la = Luminance(a), lb = Luminance(b);
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }

    /// <summary>HSL hue in degrees and saturation (0–1).</summary>
    static (double Hue, double Saturation) HueAndSaturation((int R, int G, int B) c)
    {
        double r = c.R / 255.0, g = c.G / 255.0, b = c.B / 255.0;
        double max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b)), delta = max - min;
        if (delta == 0) return (0, 0);
        double lightness = (max + min) / 2;
        double saturation = delta / (1 - Math.Abs(2 * lightness - 1));
        double hue = max == r ? 60 * (((g - b) / delta) % 6) : max == g ? 60 * ((b - r) / delta + 2) : 60 * ((r - g) / delta + 4);
        return (hue < 0 ? hue + 360 : hue, saturation);
    }
}
