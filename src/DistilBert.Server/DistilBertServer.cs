using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using DistilBert.Server.Studio;

namespace DistilBert.Server;

/// <summary>The standalone server of <c>distilbert serve</c> (and of the tests): Kestrel with the body limit, the models
/// and every route; SIGTERM or Ctrl+C stop accepting, drain the queues within <see cref="DistilBertServerOptions.DrainTimeout"/>
/// and let the host return normally.</summary>
/// <remarks>Thread-safety: stateless; every request it serves runs on the thread-safe pipelines, many at once.</remarks>
public static class DistilBertServer
{
    /// <summary>
    /// Builds the standalone server of <c>distilbert serve</c>: the routes of <paramref name="options"/> on <paramref
    /// name="urls"/>.
    /// </summary>
    /// <param name="options">the models and limits to serve.</param>
    /// <param name="urls">the addresses Kestrel listens on.</param>
    /// <param name="logging">extra logging configuration (tests capture the log through it); null keeps the console log.</param>
    /// <param name="studio">the Studio's storage and admin keys; null serves no Studio.</param>
    public static WebApplication Build(DistilBertServerOptions options, IEnumerable<string> urls, Action<ILoggingBuilder>? logging = null,
        Studio.StudioOptions? studio = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Our own reader enforces the limit with a JSON answer; Kestrel's is a backstop just above it.
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes + 1;
        });
        builder.WebHost.UseUrls(urls.ToArray());
        builder.Logging.ClearProviders();
        if (logging is null) builder.Logging.AddSimpleConsole(console => { console.SingleLine = true; console.TimestampFormat = "HH:mm:ss.fff "; });
        else logging(builder.Logging);
        // One line per request comes from RequestRunner; ASP.NET Core's own per-request lines would repeat it.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(5));
        builder.Services.AddDistilBert(options);
        if (studio is not null) builder.Services.AddDistilBertStudio(studio);
        var app = builder.Build();
        app.MapDistilBert();
        if (studio is not null) app.MapDistilBertStudio();
        return app;
    }
}
