using Microsoft.Extensions.AI;

namespace DistilBert.Pipelines;

/// <summary>
/// Our embedding pipeline behind Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, so
/// Semantic Kernel and other .NET AI code can use a local DistilBERT/BERT model directly. Calls run off the caller's
/// thread; concurrent calls run concurrently (the pipeline is thread-safe), so this type may be called from many threads.
/// </summary>
public sealed class DistilBertEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    readonly EmbeddingPipeline pipeline;
    readonly string modelId;

    /// <summary>
    /// Wraps <paramref name="pipeline"/>; <paramref name="modelId"/> is the name the metadata reports.
    /// </summary>
    public DistilBertEmbeddingGenerator(EmbeddingPipeline pipeline, string? modelId = null)
    {
        this.pipeline = pipeline;
        this.modelId = modelId ?? pipeline.Model.ArchitectureName;
        Metadata = new EmbeddingGeneratorMetadata("DistilBert.NET", null, this.modelId, pipeline.Dimensions);
    }

    /// <summary>Loads a model folder: a sentence-transformers folder's own pooling, normalisation and max_seq_length, else
    /// mean pooling and L2-normalised vectors, unless asked otherwise.</summary>
    public static DistilBertEmbeddingGenerator Load(string folder, PipelineSettings? settings = null, PoolingMode? pooling = null, bool? normalize = null) =>
        new(EmbeddingPipeline.Load(folder, settings, pooling, normalize), Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));

    /// <inheritdoc/>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <inheritdoc/>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is { } dimensions && dimensions != pipeline.Dimensions)
            throw new InvalidInputException($"this model gives {pipeline.Dimensions}-dimensional embeddings; {dimensions} were asked for");
        var texts = values.ToList();
        return await Task.Run(() =>
        {
            var result = new GeneratedEmbeddings<Embedding<float>>(texts.Count);
            long tokens = 0;
            var created = DateTimeOffset.UtcNow;
            foreach (var output in pipeline.Embed(texts))
            {
                cancellationToken.ThrowIfCancellationRequested();
                tokens += output.Tokens;
                result.Add(new Embedding<float>(output.Vector) { ModelId = modelId, CreatedAt = created });
            }
            result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
            return result;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType.IsInstanceOfType(pipeline)) return pipeline;
        return null;
    }

    public void Dispose() { }
}
