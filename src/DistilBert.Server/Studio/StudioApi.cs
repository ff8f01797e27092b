using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using DistilBert.Pipelines;
using Microsoft.AspNetCore.Http;

namespace DistilBert.Server.Studio;

/// <summary>Who is calling: an admin, or a caller/reviewer key of one endpoint. <see cref="Hash"/> is what the rate limit counts.</summary>
internal sealed record StudioCaller(KeyScope Scope, string? Endpoint, string Hash);

/// <summary>
/// The Studio's HTTP API (<c>/studio/api/...</c>): endpoints made from templates with their security and review policies,
/// runs under those policies, the review queue, share links and the export of reviewed items. Every request reads the
/// store afresh (keys, endpoints, items), so servers sharing one PostgreSQL database agree at once.
/// </summary>
/// <remarks>Thread-safety: stateless apart from the thread-safe store, registry and runner; serves many requests at once.</remarks>
internal sealed partial class StudioApi(IStudioStore store, StudioOptions studio, ModelRegistry models, RequestRunner runner, DistilBertServerOptions options)
{
    static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    [GeneratedRegex("^[a-z0-9-]{1,64}$")]
    private static partial Regex NameRule();

    public IStudioStore Store => store;

    /// <summary>Creates and announces an admin key when none is given and the store holds none.</summary>
    public async Task EnsureAdminKeyAsync()
    {
        if (studio.AdminKeyHashes is { Count: > 0 } || await store.HasAdminKeyAsync()) return;
        string key = StudioKeys.NewKey();
        await store.AddKeyAsync(new StudioKey(StudioKeys.Hash(key), KeyScope.Admin, null));
        studio.AnnounceAdminKey($"studio admin key: {key}");
    }

    // ---- keys and scopes -------------------------------------------------------------------------------------------

    async Task<StudioCaller> AuthenticateAsync(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new ApiException(401, "missing key: send 'Authorization: Bearer KEY'", "unauthorized");
        string key = header[scheme.Length..].Trim();
        string hash = StudioKeys.Hash(key);
        if (studio.AdminKeyHashes is { Count: > 0 } admins)
        {
            var presented = Convert.FromHexString(hash);
            bool match = false;
            foreach (var admin in admins) match |= CryptographicOperations.FixedTimeEquals(presented, admin);
            if (match) return new StudioCaller(KeyScope.Admin, null, hash);
        }
        // Looked up by its SHA-256: the lookup's timing can tell only about hashes, never how close a guessed key was.
        var stored = await store.FindKeyAsync(hash) ?? throw new ApiException(401, "invalid key", "unauthorized");
        return new StudioCaller(stored.Scope, stored.Endpoint, hash);
    }

    async Task<StudioCaller> AdminAsync(HttpContext context)
    {
        var caller = await AuthenticateAsync(context);
        if (caller.Scope != KeyScope.Admin) throw new ApiException(403, "this route needs an admin key", "forbidden");
        return caller;
    }

    static ApiException NoEndpoint(string name) => new(404, $"no endpoint named '{name}'", "validation", "name");

    /// <summary>Admin, or a key of one of <paramref name="scopes"/> for this very endpoint. Another endpoint's key gets the same 404 as
    /// a name that does not exist, so a key tells nothing about endpoints it does not belong to.</summary>
    async Task<StudioCaller> ForEndpointAsync(HttpContext context, string endpoint, params KeyScope[] scopes)
    {
        var caller = await AuthenticateAsync(context);
        if (caller.Scope == KeyScope.Admin) return caller;
        if (!scopes.Contains(caller.Scope))
            throw new ApiException(403, $"this route needs {string.Join(" or ", scopes.Select(s => $"a {s.ToString().ToLowerInvariant()} key"))} of the endpoint, or an admin key", "forbidden");
        if (caller.Endpoint != endpoint) throw NoEndpoint(endpoint);
        return caller;
    }

    async Task<ReviewItem> ItemForAsync(StudioCaller caller, string id, params KeyScope[] scopes)
    {
        if (caller.Scope != KeyScope.Admin && !scopes.Contains(caller.Scope))
            throw new ApiException(403, $"this route needs {string.Join(" or ", scopes.Select(s => $"a {s.ToString().ToLowerInvariant()} key"))}, or an admin key", "forbidden");
        var item = await store.GetItemAsync(id);
        if (item is null || (caller.Scope != KeyScope.Admin && item.Endpoint != caller.Endpoint))
            throw new ApiException(404, $"no review item '{id}'", "validation", "id");
        return item;
    }

    static async Task WriteAsync(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(value, value.GetType(), Web, "application/json; charset=utf-8", context.RequestAborted);
    }

    static StudioTemplate TemplateOf(StudioEndpoint endpoint) =>
        StudioTemplates.Find(endpoint.Template) ?? throw new InvalidOperationException($"endpoint '{endpoint.Name}' has unknown template '{endpoint.Template}'");

    /// <summary>The first served model of the task, in the order the models were given.</summary>
    ServedModel? FirstModel(ModelTask task) =>
        options.Models.Select(source => models.All.First(m => m.Name == source.Name)).FirstOrDefault(m => m.Task == task);

    // ---- templates and endpoints -----------------------------------------------------------------------------------

    public async Task Templates(HttpContext context)
    {
        await AdminAsync(context);
        var list = StudioTemplates.All.Select(t =>
        {
            var model = FirstModel(t.Task);
            return new
            {
                id = t.Id,
                title = t.Title,
                task = ServedModel.TaskName(t.Task),
                model = model?.Name,
                parameters = t.Parameters,
                examples = t.Examples,
                available = model is not null,
                reason = model is null ? $"no {ServedModel.TaskName(t.Task)} model is served (start the server with --model NAME:{ServedModel.TaskName(t.Task)}=PATH)" : null,
            };
        }).ToArray();
        await WriteAsync(context, 200, list);
    }

    public async Task CreateEndpoint(HttpContext context)
    {
        await AdminAsync(context);
        var body = await runner.ReadBodyAsync(context);
        string name = RequestBody.StringValue(RequestBody.Required(body, "name", "name"), "name");
        if (!NameRule().IsMatch(name))
            throw new ApiException(400, "field 'name' must be 1 to 64 characters of a-z, 0-9 and '-'", "validation", "name");
        string templateId = RequestBody.StringValue(RequestBody.Required(body, "template", "template"), "template");
        var template = StudioTemplates.Find(templateId) ?? throw new ApiException(400,
            $"field 'template' is '{templateId}'; the templates are {string.Join(", ", StudioTemplates.All.Select(t => t.Id))}", "validation", "template");
        var model = RequestBody.String(body, "model", "model") is { } modelName
            ? models.Resolve(modelName, $"the {template.Id} template", template.Task)
            : FirstModel(template.Task) ?? throw new ApiException(422,
                $"the {template.Id} template needs a {ServedModel.TaskName(template.Task)} model, and none is served", "validation", "model");
        var parameters = StudioTemplates.Parameters(template, template.Parameters, RequestBody.Field(body, "parameters"), "parameters");
        var security = Security(RequestBody.Field(body, "security"));
        var review = Review(RequestBody.Field(body, "review"));
        var endpoint = new StudioEndpoint(name, template.Id, ServedModel.TaskName(template.Task), model.Name, parameters, security, review, DateTimeOffset.UtcNow);
        var callerKeys = Enumerable.Range(0, security.CallerKeys).Select(_ => StudioKeys.NewKey()).ToArray();
        var reviewerKeys = Enumerable.Range(0, review.ReviewerKeys).Select(_ => StudioKeys.NewKey()).ToArray();
        var keys = callerKeys.Select(k => new StudioKey(StudioKeys.Hash(k), KeyScope.Caller, name))
            .Concat(reviewerKeys.Select(k => new StudioKey(StudioKeys.Hash(k), KeyScope.Reviewer, name))).ToList();
        if (!await store.CreateEndpointAsync(endpoint, keys))
            throw new ApiException(409, $"an endpoint named '{name}' exists already", "validation", "name");
        context.Response.Headers.Location = $"/studio/api/endpoints/{name}";
        await WriteAsync(context, 201, new { endpoint, callerKeys, reviewerKeys });
    }

    static ApiException Invalid(string path, string message) => new(400, $"field '{path}' {message}", "validation", path);

    static void OnlyFields(JsonElement value, string path, params string[] known)
    {
        if (value.ValueKind != JsonValueKind.Object) throw Invalid(path, $"must be an object, got {RequestBody.Kind(value)}");
        foreach (var field in value.EnumerateObject())
            if (!known.Contains(field.Name)) throw Invalid($"{path}.{field.Name}", $"is unknown; {path} has {string.Join(", ", known)}");
    }

    static int IntField(JsonElement obj, string name, string path, int fallback, int min, int max)
    {
        if (RequestBody.Field(obj, name) is not { } value) return fallback;
        string at = $"{path}.{name}";
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int number)) throw Invalid(at, $"must be an integer, got {RequestBody.Kind(value)}");
        if (number < min || number > max) throw Invalid(at, $"must be from {min} to {max}, got {number}");
        return number;
    }

    static double RateField(JsonElement obj, string name, string path, double fallback)
    {
        if (RequestBody.Field(obj, name) is not { } value) return fallback;
        string at = $"{path}.{name}";
        if (value.ValueKind != JsonValueKind.Number) throw Invalid(at, $"must be a number, got {RequestBody.Kind(value)}");
        double number = value.GetDouble();
        if (!(number >= 0 && number <= 1)) throw Invalid(at, $"must be from 0 to 1, got {number}");
        return number;
    }

    static string Choice(JsonElement obj, string name, string path, string fallback, params string[] choices)
    {
        if (RequestBody.Field(obj, name) is not { } value) return fallback;
        string at = $"{path}.{name}";
        if (value.ValueKind != JsonValueKind.String || !choices.Contains(value.GetString()))
            throw Invalid(at, $"must be one of {string.Join(", ", choices.Select(c => $"\"{c}\""))}");
        return value.GetString()!;
    }

    static SecurityPolicy Security(JsonElement? given)
    {
        var defaults = new SecurityPolicy();
        if (given is not { } value) return defaults;
        const string path = "security";
        OnlyFields(value, path, "callerKeys", "rateLimitPerMinute", "maxInputChars", "storeInputs");
        return new SecurityPolicy(
            IntField(value, "callerKeys", path, defaults.CallerKeys, 0, 100),
            IntField(value, "rateLimitPerMinute", path, defaults.RateLimitPerMinute, 1, 1_000_000),
            IntField(value, "maxInputChars", path, defaults.MaxInputChars, 1, 1_000_000),
            Choice(value, "storeInputs", path, defaults.StoreInputs, "off", "on", "masked"));
    }

    static ReviewPolicy Review(JsonElement? given)
    {
        var defaults = new ReviewPolicy();
        if (given is not { } value) return defaults;
        const string path = "review";
        OnlyFields(value, path, "enabled", "threshold", "auditRate", "mode", "reviewerKeys");
        return new ReviewPolicy(
            RequestBody.Bool(value, "enabled", defaults.Enabled, "review.enabled"),
            RateField(value, "threshold", path, defaults.Threshold),
            RateField(value, "auditRate", path, defaults.AuditRate),
            Choice(value, "mode", path, defaults.Mode, "hold", "flag"),
            IntField(value, "reviewerKeys", path, defaults.ReviewerKeys, 0, 100));
    }

    async Task<JsonObject> WithStats(StudioEndpoint endpoint)
    {
        var node = JsonSerializer.SerializeToNode(endpoint, Web)!.AsObject();
        node["stats"] = JsonSerializer.SerializeToNode(await store.StatsAsync(endpoint.Name), Web);
        return node;
    }

    public async Task ListEndpoints(HttpContext context)
    {
        await AdminAsync(context);
        var list = new JsonArray();
        foreach (var endpoint in await store.ListEndpointsAsync()) list.Add(await WithStats(endpoint));
        await WriteAsync(context, 200, list);
    }

    public async Task GetEndpoint(HttpContext context, string name)
    {
        await ForEndpointAsync(context, name, KeyScope.Reviewer);
        var endpoint = await store.GetEndpointAsync(name) ?? throw NoEndpoint(name);
        await WriteAsync(context, 200, await WithStats(endpoint));
    }

    public async Task DeleteEndpoint(HttpContext context, string name)
    {
        await AdminAsync(context);
        if (!await store.DeleteEndpointAsync(name)) throw NoEndpoint(name);
        context.Response.StatusCode = 204;
    }

    // ---- runs ------------------------------------------------------------------------------------------------------

    public async Task Run(HttpContext context, RequestLog entry, string name)
    {
        var caller = await ForEndpointAsync(context, name, KeyScope.Caller);
        var endpoint = await store.GetEndpointAsync(name) ?? throw NoEndpoint(name);
        await RunEndpointAsync(context, entry, endpoint, caller.Hash, shared: false);
    }

    /// <summary>One run under the endpoint's policies: rate limit, input length, the model through its batcher, the review
    /// rule. A held or flagged item is committed to the store before the answer is written.</summary>
    async Task RunEndpointAsync(HttpContext context, RequestLog entry, StudioEndpoint endpoint, string rateKey, bool shared)
    {
        long started = Stopwatch.GetTimestamp();
        var admission = await store.AdmitAsync(rateKey, endpoint.Name, endpoint.Security.RateLimitPerMinute, DateTimeOffset.UtcNow);
        if (!admission.Admitted)
            throw new ApiException(429, $"rate limit of {endpoint.Security.RateLimitPerMinute} requests per minute reached for this key; " +
                $"retry in {Math.Ceiling(admission.RetryAfter.TotalSeconds):0} s", "overloaded") { RetryAfter = admission.RetryAfter };
        var body = await runner.ReadBodyAsync(context);
        var template = TemplateOf(endpoint);
        var inputs = RequestBody.Required(body, "inputs", "inputs");
        var texts = StudioTemplates.Texts(template, inputs);
        long chars = texts.Sum(t => (long)t.Length);
        if (chars > endpoint.Security.MaxInputChars)
            throw new ApiException(413, $"field 'inputs' has {chars} characters; this endpoint takes at most {endpoint.Security.MaxInputChars}", "validation", "inputs");
        var parameters = StudioTemplates.Parameters(template, endpoint.Parameters, RequestBody.Field(body, "parameters"), "parameters");
        var model = models.Resolve(endpoint.Model, $"endpoint '{endpoint.Name}'", template.Task);

        object output;
        double? score;
        using (runner.Admit())
            (output, score) = await StudioTemplates.RunAsync(context, entry, options, model, template, texts, parameters);
        if (options.LogRequestTexts) entry.Texts = texts;

        var rule = endpoint.Review;
        string? reason = shared || !rule.Enabled ? null
            : score < rule.Threshold ? "low-score"
            : rule.AuditRate > 0 && Random.Shared.NextDouble() < rule.AuditRate ? "audit"
            : null;
        object answer;
        int status = 200;
        if (reason is null) answer = new { output };
        else
        {
            JsonElement? stored = endpoint.Security.StoreInputs switch
            {
                "on" => inputs,
                "masked" => StudioTemplates.Mask(inputs),
                _ => null,
            };
            var item = new ReviewItem(StudioKeys.NewId("rv_"), endpoint.Name, DateTimeOffset.UtcNow, stored, StudioTemplates.ToJson(output), reason, ReviewItem.Pending);
            await store.AddItemAsync(item); // durable before the caller hears of it
            if (rule.Mode == "hold")
            {
                status = 202;
                answer = new { review = new { id = item.Id, status = item.Status, resultUrl = $"/studio/api/results/{item.Id}" } };
            }
            else answer = new { output, review = new { id = item.Id, status = item.Status } };
        }
        await store.RecordLatencyAsync(admission.RequestId, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        await WriteAsync(context, status, answer);
    }

    public async Task Result(HttpContext context, string id)
    {
        var caller = await AuthenticateAsync(context);
        var item = await ItemForAsync(caller, id, KeyScope.Caller);
        if (item.Status == ReviewItem.Pending) await WriteAsync(context, 202, new { status = item.Status });
        else await WriteAsync(context, 200, new { status = item.Status, output = item.FinalOutput });
    }

    // ---- review ----------------------------------------------------------------------------------------------------

    static object View(ReviewItem item) => new
    {
        id = item.Id,
        createdAt = item.CreatedAt,
        inputs = item.Inputs,
        output = item.Output,
        reason = item.Reason,
        status = item.Status,
        correction = item.Correction,
        decidedAt = item.DecidedAt,
    };

    public async Task Reviews(HttpContext context, string name)
    {
        await ForEndpointAsync(context, name, KeyScope.Reviewer);
        if (await store.GetEndpointAsync(name) is null) throw NoEndpoint(name);
        string status = context.Request.Query["status"].ToString() is { Length: > 0 } s ? s : ReviewItem.Pending;
        if (status is not (ReviewItem.Pending or ReviewItem.Accepted or ReviewItem.Corrected or "all"))
            throw new ApiException(400, $"query 'status' must be pending, accepted, corrected or all, got '{status}'", "validation", "status");
        var items = await store.ListItemsAsync(name, status == "all" ? null : status);
        await WriteAsync(context, 200, items.Select(View).ToArray());
    }

    public async Task Decide(HttpContext context, string id)
    {
        var caller = await AuthenticateAsync(context);
        var item = await ItemForAsync(caller, id, KeyScope.Reviewer);
        var body = await runner.ReadBodyAsync(context);
        string action = RequestBody.StringValue(RequestBody.Required(body, "action", "action"), "action");
        JsonElement? correction = null;
        string status;
        if (action == "accept") status = ReviewItem.Accepted;
        else if (action == "correct")
        {
            var endpoint = await store.GetEndpointAsync(item.Endpoint) ?? throw new ApiException(404, $"no review item '{id}'", "validation", "id");
            var template = TemplateOf(endpoint);
            IReadOnlyList<string>? labels = models.All.FirstOrDefault(m => m.Name == endpoint.Model)?.Pipeline is TextClassificationPipeline classifier ? classifier.Labels : null;
            correction = StudioTemplates.ToJson(StudioTemplates.Correction(template, item.Inputs, RequestBody.Required(body, "output", "output"), labels));
            status = ReviewItem.Corrected;
        }
        else throw new ApiException(400, $"field 'action' must be \"accept\" or \"correct\", got \"{action}\"", "validation", "action");
        var decided = await store.DecideAsync(id, status, correction, DateTimeOffset.UtcNow)
            ?? throw new ApiException(409, $"review item '{id}' was decided already", "validation", "id");
        await WriteAsync(context, 200, View(decided));
    }

    // ---- shares ----------------------------------------------------------------------------------------------------

    static object ShareView(StudioShare share) => new { token = share.Token, url = $"/studio/share/{share.Token}", endpoint = share.Endpoint, createdAt = share.CreatedAt };

    public async Task CreateShare(HttpContext context, string name)
    {
        await AdminAsync(context);
        if (await store.GetEndpointAsync(name) is null) throw NoEndpoint(name);
        var share = new StudioShare(StudioKeys.NewShareToken(), name, DateTimeOffset.UtcNow);
        await store.AddShareAsync(share);
        await WriteAsync(context, 201, ShareView(share));
    }

    public async Task ListShares(HttpContext context, string name)
    {
        await AdminAsync(context);
        if (await store.GetEndpointAsync(name) is null) throw NoEndpoint(name);
        await WriteAsync(context, 200, (await store.ListSharesAsync(name)).Select(ShareView).ToArray());
    }

    public async Task DeleteShare(HttpContext context, string token)
    {
        await AdminAsync(context);
        if (!await store.DeleteShareAsync(token)) throw new ApiException(404, "no such share link", "validation", "token");
        context.Response.StatusCode = 204;
    }

    async Task<StudioEndpoint> SharedAsync(string token) =>
        await store.GetShareAsync(token) is { } share && await store.GetEndpointAsync(share.Endpoint) is { } endpoint
            ? endpoint
            : throw new ApiException(404, "this share link does not exist or was revoked", "validation", "token");

    public async Task SharedView(HttpContext context, string token)
    {
        var endpoint = await SharedAsync(token);
        await WriteAsync(context, 200, new { name = endpoint.Name, template = endpoint.Template, task = endpoint.Task, examples = TemplateOf(endpoint).Examples });
    }

    public async Task SharedRun(HttpContext context, RequestLog entry, string token)
    {
        var endpoint = await SharedAsync(token);
        // Counted apart from every key; never held, never stored.
        await RunEndpointAsync(context, entry, endpoint, StudioKeys.Hash("share:" + token), shared: true);
    }

    // ---- export ----------------------------------------------------------------------------------------------------

    public async Task Export(HttpContext context, string name)
    {
        await ForEndpointAsync(context, name, KeyScope.Reviewer);
        if (await store.GetEndpointAsync(name) is null) throw NoEndpoint(name);
        string format = context.Request.Query["format"].ToString();
        if (format is not ("tsv" or "conll" or "squad"))
            throw new ApiException(400, $"query 'format' must be tsv, conll or squad, got '{format}'", "validation", "format");
        string text;
        try { (text, _, _) = await StudioExport.ExportAsync(store, name, format); }
        catch (InvalidInputException e) { throw new ApiException(422, e.Message, "validation", "format"); }
        context.Response.StatusCode = 200;
        context.Response.ContentType = StudioExport.ContentType(format);
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}.{(format == "squad" ? "json" : format)}\"";
        await context.Response.WriteAsync(text, Encoding.UTF8, context.RequestAborted);
    }
}
