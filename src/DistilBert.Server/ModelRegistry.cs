using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DistilBert.Server;

/// <summary>
/// The served models by name, loaded once at start. The batchers stop only once the host has stopped every hosted
/// service, the web server included: the server first stops accepting and lets the requests in flight finish (they need
/// the batchers), then the queues drain. Stopping them in <see cref="StopAsync"/> would depend on the order services were
/// registered in (the generic host stops them in reverse), and an app that registers its web server first would answer
/// its requests in flight 503.
/// </summary>
internal sealed class ModelRegistry : IHostedLifecycleService
{
    readonly DistilBertServerOptions _options;
    readonly ILogger<ModelRegistry> _log;
    readonly Dictionary<string, ServedModel> _byName = new(StringComparer.Ordinal);

    public ModelRegistry(DistilBertServerOptions options, ServerMetrics metrics, ILogger<ModelRegistry> log)
    {
        _options = options;
        _log = log;
        foreach (var source in options.Models)
        {
            var model = ServedModel.Load(source, options, metrics);
            _byName.Add(source.Name, model);
            log.LogInformation("serving {Model} ({Task}) from {Folder}, max {MaxInputTokens} tokens per input",
                model.Name, ServedModel.TaskName(model.Task), model.Folder, model.MaxInputTokens);
        }
    }

    public IReadOnlyCollection<ServedModel> All => _byName.Values;

    public ServedModel First => _byName[_options.Models[0].Name];

    /// <summary>The named model, or (no name) the first model that does one of <paramref name="tasks"/>.</summary>
    /// <exception cref="ApiException">404 for an unknown name, 422 (naming the route) when the model does another task.</exception>
    public ServedModel Resolve(string? name, string route, params ModelTask[] tasks)
    {
        if (name is not null)
        {
            if (!_byName.TryGetValue(name, out var named))
                throw new ApiException(404, $"model '{name}' is not served here (served: {string.Join(", ", _byName.Keys)})", "validation", "model");
            if (tasks.Length > 0 && !tasks.Contains(named.Task))
                throw new ApiException(422, $"model '{name}' does {ServedModel.TaskName(named.Task)}; {route} needs a {string.Join(" or ", tasks.Select(ServedModel.TaskName))} model",
                    "validation", "model");
            return named;
        }
        if (tasks.Length == 0) return First;
        foreach (var source in _options.Models)
            if (tasks.Contains(_byName[source.Name].Task)) return _byName[source.Name];
        throw new ApiException(422, $"{route} needs a {string.Join(" or ", tasks.Select(ServedModel.TaskName))} model, and none is served " +
            $"(served: {string.Join(", ", _byName.Values.Select(m => $"{m.Name} ({ServedModel.TaskName(m.Task)})"))})", "validation", "model");
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_byName.Values.Select(m => m.Batcher.StopAsync(_options.DrainTimeout)));
        _log.LogInformation("batch queues drained");
    }
}
