using Microsoft.AspNetCore.Http;

namespace DistilBert.Server;

/// <summary>The common path of every route that runs a model: input count limits, token counting (refuse or truncate
/// an over-long input), queueing on the model's batcher, waiting for this request's own rows.</summary>
internal static class ModelCalls
{
    public static void CheckCount(int count, DistilBertServerOptions options, string field)
    {
        if (count == 0) throw new ApiException(400, $"field '{field}' is empty: send at least one input", "empty", field);
        if (count > options.MaxClientBatchSize)
            throw new ApiException(413, $"field '{field}' has {count} inputs; the maximum per request is {options.MaxClientBatchSize}", "validation", field);
    }

    /// <summary>
    /// Queues <paramref name="inputs"/> and waits for their outputs. <paramref name="windowed"/> tasks (NER, QA) run long
    /// texts in overlapping windows of the model's limit, at most <c>MaxInputWindows</c> of them per input; the others
    /// refuse an input above the model's limit unless truncation is asked for.
    /// </summary>
    public static async Task<object[]> RunAsync(HttpContext context, RequestLog entry, DistilBertServerOptions options, ServedModel model,
        TaskInput[] inputs, string field, bool truncate, object? group, bool windowed = false)
    {
        entry.Model = model.Name;
        entry.Inputs = inputs.Length;
        if (options.LogRequestTexts) entry.Texts = inputs.Select(i => i.Pair is null ? i.Text : $"{i.Text} || {i.Pair}").ToArray();
        CheckCount(inputs.Length, options, field);
        using var announced = model.Batcher.Announce();
        int total = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            var encoding = model.Tokenizer.Encode(inputs[i].Text, inputs[i].Pair);
            int tokens = encoding.Length;
            string path = inputs.Length == 1 ? field : $"{field}[{i}]";
            if (model.Task == ModelTask.FillMask)
            {
                int mask = Array.IndexOf(encoding.Ids, model.Tokenizer.MaskId);
                if (mask < 0) throw new ApiException(422, $"{path}: no {model.Tokenizer.Vocab.Special.Mask} token in the text", "validation", path);
                if (mask >= model.MaxInputTokens - 1 && (truncate || options.AutoTruncate))
                    throw new ApiException(422, $"{path}: the {model.Tokenizer.Vocab.Special.Mask} token is at token {mask}, beyond the limit of {model.MaxInputTokens} tokens",
                        "validation", path);
            }
            if (windowed && model.WindowsOf(encoding, group) is { } split)
            {
                // NER and QA run a long input in overlapping windows, so length alone refuses nothing: the number of
                // windows is what bounds the work one input can ask for.
                string what = model.Task == ModelTask.QuestionAnswering ? $"{path}.context" : path;
                if (split.Windows > options.MaxInputWindows)
                    throw new ApiException(413, $"{what} has {split.Tokens} tokens, which take {split.Windows} windows of {split.WindowLength} tokens; " +
                        $"the limit is {options.MaxInputWindows} windows (--max-input-windows)", "validation", path);
                tokens = split.Total;
            }
            if (!windowed && tokens > model.MaxInputTokens)
            {
                if (!(truncate || options.AutoTruncate))
                    throw new ApiException(413, $"{path} has {tokens} tokens; the limit is {model.MaxInputTokens} (send \"truncate\": true to cut it)",
                        "validation", path);
                tokens = model.MaxInputTokens;
            }
            total += tokens;
        }
        entry.Tokens = total;
        var job = model.Batcher.Enqueue(inputs, total, group, context.RequestAborted);
        announced.Dispose();
        var outputs = await job.Done.Task.WaitAsync(context.RequestAborted);
        entry.QueueTime = job.QueueTime;
        entry.ComputeTime = job.ComputeTime;
        return outputs;
    }
}
