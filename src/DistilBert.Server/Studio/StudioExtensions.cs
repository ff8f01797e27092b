using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace DistilBert.Server.Studio;

/// <summary>Mounting the Studio: <c>services.AddDistilBertStudio(...)</c> after <c>AddDistilBert</c>, then
/// <c>app.MapDistilBertStudio()</c> after <c>MapDistilBert()</c>.</summary>
/// <remarks>Thread-safety: called once at start-up; what it registers is safe for concurrent requests.</remarks>
public static class StudioExtensions
{
    /// <summary>The path under which the Studio's API is mapped.</summary>
    public const string ApiPrefix = "/studio/api";

    /// <summary>Registers the Studio's store (opened, its schema migrated, when first resolved: at <see cref="MapDistilBertStudio"/>).</summary>
    public static IServiceCollection AddDistilBertStudio(this IServiceCollection services, StudioOptions studio)
    {
        ArgumentNullException.ThrowIfNull(studio);
        services.AddSingleton(studio);
        services.AddSingleton(_ => studio.OpenStoreAsync().GetAwaiter().GetResult());
        services.AddSingleton<StudioApi>();
        return services;
    }

    /// <summary>Maps the Studio's API under <c>/studio/api</c> and its web app (<see cref="StudioPages"/>), opening the store and creating the first admin key when
    /// there is none.</summary>
    public static IEndpointRouteBuilder MapDistilBertStudio(this IEndpointRouteBuilder app)
    {
        var api = app.ServiceProvider.GetRequiredService<StudioApi>();
        var runner = app.ServiceProvider.GetRequiredService<RequestRunner>();
        api.EnsureAdminKeyAsync().GetAwaiter().GetResult();
        var group = app.MapGroup(ApiPrefix).ExcludeFromDescription();

        // Every route runs like the model routes (errors as problem+json naming the field, one log line, metrics), but
        // checks the Studio's own scoped keys instead of the server's --api-keys.
        Task Run(HttpContext context, string route, Func<RequestLog, Task> handler) =>
            runner.RunAsync(context, ApiFamily.HuggingFace, ApiPrefix + route, async (_, entry) =>
            {
                await handler(entry);
                return null;
            }, serverKey: false);

        group.MapGet("/templates", (HttpContext c) => Run(c, "/templates", _ => api.Templates(c)));
        group.MapPost("/endpoints", (HttpContext c) => Run(c, "/endpoints", _ => api.CreateEndpoint(c)));
        group.MapGet("/endpoints", (HttpContext c) => Run(c, "/endpoints", _ => api.ListEndpoints(c)));
        group.MapGet("/endpoints/{name}", (HttpContext c, string name) => Run(c, "/endpoints/{name}", _ => api.GetEndpoint(c, name)));
        group.MapDelete("/endpoints/{name}", (HttpContext c, string name) => Run(c, "/endpoints/{name}", _ => api.DeleteEndpoint(c, name)));
        group.MapPost("/endpoints/{name}/run", (HttpContext c, string name) => Run(c, "/endpoints/{name}/run", e => api.Run(c, e, name)));
        group.MapGet("/results/{id}", (HttpContext c, string id) => Run(c, "/results/{id}", _ => api.Result(c, id)));
        group.MapGet("/endpoints/{name}/reviews", (HttpContext c, string name) => Run(c, "/endpoints/{name}/reviews", _ => api.Reviews(c, name)));
        group.MapPost("/reviews/{id}/decision", (HttpContext c, string id) => Run(c, "/reviews/{id}/decision", _ => api.Decide(c, id)));
        group.MapPost("/endpoints/{name}/shares", (HttpContext c, string name) => Run(c, "/endpoints/{name}/shares", _ => api.CreateShare(c, name)));
        group.MapGet("/endpoints/{name}/shares", (HttpContext c, string name) => Run(c, "/endpoints/{name}/shares", _ => api.ListShares(c, name)));
        group.MapDelete("/shares/{token}", (HttpContext c, string token) => Run(c, "/shares/{token}", _ => api.DeleteShare(c, token)));
        group.MapGet("/share/{token}", (HttpContext c, string token) => Run(c, "/share/{token}", _ => api.SharedView(c, token)));
        group.MapPost("/share/{token}/run", (HttpContext c, string token) => Run(c, "/share/{token}/run", e => api.SharedRun(c, e, token)));
        group.MapGet("/endpoints/{name}/export", (HttpContext c, string name) => Run(c, "/endpoints/{name}/export", _ => api.Export(c, name)));
        app.MapDistilBertStudioPages();
        return app;
    }
}
