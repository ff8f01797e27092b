using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using DistilBert.Pipelines;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OpenTelemetry.Metrics;

namespace DistilBert.Server;

/// <summary>Mounting the server in any ASP.NET Core app: <c>builder.Services.AddDistilBert(...)</c> then <c>app.MapDistilBert()</c>.</summary>
/// <remarks>Thread-safety: called once at start-up; what it registers is safe for concurrent requests.</remarks>
public static class DistilBertServerExtensions
{
    /// <summary>The name of the OpenAPI document, served at <c>/openapi/distilbert.json</c>.</summary>
    public const string OpenApiDocumentName = "distilbert";

    /// <summary>Registers the models (loaded when the host starts), their batchers, the metrics and the OpenAPI document.</summary>
    public static IServiceCollection AddDistilBert(this IServiceCollection services, Action<DistilBertServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new DistilBertServerOptions();
        configure(options);
        return services.AddDistilBert(options);
    }

    /// <summary>The same with the options already made (the standalone server passes its own).</summary>
    public static IServiceCollection AddDistilBert(this IServiceCollection services, DistilBertServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<RequestRunner>();
        services.AddSingleton<ModelRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelRegistry>());
        services.AddSingleton(new ModelCallsInfo(typeof(DistilBertServerExtensions).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0"));
        services.AddOpenApi(OpenApiDocumentName, openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "DistilBert.NET server";
            document.Info.Description = "TEI-, OpenAI- and Hugging Face Inference API-compatible routes over ragged dynamic batching";
            return Task.CompletedTask;
        }));
        if (options.EnableMetrics)
            services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ServerMetrics.MeterName).AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps every route (under <paramref name="prefix"/>, default the root): TEI's, OpenAI's, the HF Inference API's,
    /// /metrics, the OpenAPI document and its reference page.</summary>
    public static IEndpointRouteBuilder MapDistilBert(this IEndpointRouteBuilder app, string prefix = "")
    {
        var runner = app.ServiceProvider.GetRequiredService<RequestRunner>();
        var models = app.ServiceProvider.GetRequiredService<ModelRegistry>();
        var options = app.ServiceProvider.GetRequiredService<DistilBertServerOptions>();
        var info = app.ServiceProvider.GetRequiredService<ModelCallsInfo>();
        app.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(runner.BeginShutdown);
        var group = app.MapGroup(prefix);

        Func<HttpContext, Task> Model(ApiFamily family, string route, Func<HttpContext, JsonElement, RequestLog, Task<object?>> handler) =>
            context => runner.RunModelAsync(context, family, route, (body, entry) => handler(context, body, entry));

        group.MapPost("/embed", Model(ApiFamily.Tei, "/embed", (c, b, e) => TeiRoutes.Embed(c, b, e, models, options)))
            .Describe("TEI", "Sentence embeddings: {inputs, truncate, normalize} → [[float]]").Typed<EmbedRequest, float[][]>(ApiFamily.Tei);
        group.MapPost("/predict", Model(ApiFamily.Tei, "/predict", (c, b, e) => TeiRoutes.Predict(c, b, e, models, options)))
            .Describe("TEI", "Sequence classification: {inputs, truncate, raw_scores} → [{score, label}] (a list of those for a batch)")
            .Typed<PredictRequest, ClassificationResult[]>(ApiFamily.Tei);
        group.MapPost("/tokenize", Model(ApiFamily.Tei, "/tokenize", (_, b, e) => Task.FromResult(TeiRoutes.Tokenize(b, e, models, options))))
            .Describe("TEI", "Tokens: {inputs, add_special_tokens} → [[{id, text, special, start, stop}]]").Typed<TokenizeRequest, SimpleToken[][]>(ApiFamily.Tei);
        group.MapPost("/decode", Model(ApiFamily.Tei, "/decode", (_, b, e) => Task.FromResult(TeiRoutes.Decode(b, e, models, options))))
            .Describe("TEI", "Token ids to text: {ids, skip_special_tokens} → [string]").Typed<DecodeRequest, string[]>(ApiFamily.Tei);
        group.MapPost("/v1/embeddings", Model(ApiFamily.OpenAI, "/v1/embeddings", (c, b, e) => OpenAIRoutes.Embeddings(c, b, e, models, options)))
            .Describe("OpenAI", "OpenAI embeddings: {input, model, encoding_format, dimensions}")
            .Typed<OpenAIEmbeddingsRequest, OpenAIEmbeddingsResponse>(ApiFamily.OpenAI);
        group.MapPost("/models/{name}", (Func<HttpContext, string, Task>)((context, name) =>
                runner.RunModelAsync(context, ApiFamily.HuggingFace, "/models/{name}", (b, e) => HuggingFaceRoutes.Run(context, b, e, models, options, name))))
            .Describe("Hugging Face", "HF Inference API: {inputs, parameters} answered as the model's transformers pipeline " +
                "(one of these per input; a list of them for a list of inputs)")
            .Typed<HuggingFaceRequest, JsonElement>(ApiFamily.HuggingFace)
            .AddOpenApiOperationTransformer(async (operation, context, cancel) =>
            {
                // The answer's shape is the served model's task: say which shapes it can take.
                var answer = new OpenApiSchema { OneOf = [] };
                foreach (var type in new[] { typeof(ClassificationResult[]), typeof(TokenEntity[]), typeof(AnswerResult), typeof(FillMaskResult[]), typeof(float[]) })
                    answer.OneOf.Add(await context.GetOrCreateSchemaAsync(type, null, cancel));
                operation.Responses!["200"].Content!["application/json"].Schema = answer;
            });

        group.MapGet("/info", (Func<HttpContext, Task>)(context => runner.RunAsync(context, ApiFamily.Tei, "/info",
                (c, _) => Task.FromResult<object?>(TeiRoutes.Info(c, models, options, info)))))
            .WithTags("TEI").WithSummary("The served model(s) and the server's limits").Produces<InfoResponse>(200, "application/json")
            .Produces<ProblemResponse>(401, "application/problem+json").Produces<ProblemResponse>(404, "application/problem+json");
        // Health answers without a key: load balancers and orchestrators probe it.
        group.MapGet("/health", (Func<HttpContext, Task>)(context =>
            {
                context.Response.StatusCode = runner.Stopping ? 503 : 200;
                return Task.CompletedTask;
            }))
            .WithTags("TEI").WithSummary("200 while serving, 503 once shutting down");
        group.MapGet("/docs", (Func<HttpContext, Task>)(context => runner.RunAsync(context, ApiFamily.Tei, "/docs", async (c, _) =>
            {
                c.Response.ContentType = "text/html; charset=utf-8";
                await c.Response.WriteAsync(ReferencePage.Html(prefix + $"/openapi/{OpenApiDocumentName}.json"), c.RequestAborted);
                return null;
            })))
            .ExcludeFromDescription();
        group.MapOpenApi().Add(WithKey(runner));
        if (options.EnableMetrics) group.MapPrometheusScrapingEndpoint("/metrics").Add(WithKey(runner));
        return app;
    }

    /// <summary>Every status a model route can refuse with; the problem's shape is the route family's.</summary>
    static readonly int[] ErrorStatuses = [400, 401, 404, 408, 413, 422, 429, 503];

    /// <summary>The request and answer schemas of a route that reads a JSON body, and its error answers.</summary>
    static RouteHandlerBuilder Typed<TRequest, TResponse>(this RouteHandlerBuilder builder, ApiFamily family) where TRequest : notnull
    {
        builder.Accepts<TRequest>("application/json").Produces<TResponse>(200, "application/json");
        foreach (int status in ErrorStatuses)
        {
            if (family == ApiFamily.OpenAI) builder.Produces<OpenAIErrorResponse>(status, "application/json");
            else builder.Produces<ProblemResponse>(status, "application/problem+json");
        }
        return builder;
    }

    static RouteHandlerBuilder Describe(this RouteHandlerBuilder builder, string tag, string summary) =>
        // No Accepts metadata: it would make routing answer a missing content type with a bare 415; any body is read as JSON.
        builder.WithTags(tag).WithSummary(summary)
            .Produces(200).ProducesProblem(400).ProducesProblem(413).ProducesProblem(422).ProducesProblem(429);

    /// <summary>Wraps a plain endpoint (OpenAPI document, /metrics) in the API key check.</summary>
    static Action<EndpointBuilder> WithKey(RequestRunner runner) => endpoint =>
    {
        var next = endpoint.RequestDelegate!;
        endpoint.RequestDelegate = async context =>
        {
            try { runner.Authorize(context); }
            catch (ApiException e)
            {
                await ApiErrors.WriteAsync(context, ApiFamily.Tei, e);
                return;
            }
            await next(context);
        };
    };
}
