using System.CommandLine;
using DistilBert.Hub;
using Spectre.Console;

namespace DistilBert.Cli.Commands;

/// <summary>
/// <c>distilbert download REPO_ID [--revision REV] [--cache-dir DIR]</c>: config, weights and tokenizer files of a Hub
/// model into the Hugging Face cache (shared with transformers), resumable, verified; prints the snapshot folder.
/// </summary>
public static class DownloadCommand
{
    /// <summary>The <c>download</c> command.</summary>
    public static Command Create()
    {
        var repo = new Argument<string>("repo-id") { Description = "Hub model repo, e.g. distilbert/distilbert-base-uncased" };
        var revision = new Option<string?>("--revision") { Description = "branch, tag or commit (default: main)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "hub cache folder (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)" };
        var command = new Command("download", "Download a model from the Hugging Face Hub into the HF cache (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE honoured)")
        {
            repo, revision, cacheDir,
        };
        CliAction.Set(command, async (parse, ct) =>
        {
            var options = HubOptions.FromEnvironment();
            if (parse.GetValue(cacheDir) is { } dir) options = options with { CacheDir = dir };
            using var client = new HubClient(options);
            string snapshot = "";
            var files = new List<HubProgress>();
            await AnsiConsole.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                    var progress = new InlineProgress(p =>
                    {
                        if (!tasks.TryGetValue(p.FileName, out var task))
                            tasks[p.FileName] = task = ctx.AddTask(Markup.Escape(p.FileName), maxValue: Math.Max(1, p.TotalBytes ?? 1));
                        if (p.TotalBytes is { } total) task.MaxValue = Math.Max(1, total);
                        else task.IsIndeterminate = true;
                        task.Value = p.BytesDone;
                        if (p.FromCache) task.Description = Markup.Escape(p.FileName) + " [grey](cached)[/]";
                        files.RemoveAll(f => f.FileName == p.FileName);
                        files.Add(p);
                    });
                    snapshot = await client.DownloadModelAsync(parse.GetValue(repo)!, parse.GetValue(revision), progress, ct);
                    foreach (var t in tasks.Values) { t.Value = t.MaxValue; t.StopTask(); }
                });
            long fetched = files.Where(f => !f.FromCache).Sum(f => f.BytesDone);
            Console.Error.WriteLine($"{files.Count} files, {fetched:N0} bytes downloaded, {files.Count(f => f.FromCache)} from the cache");
            Console.WriteLine(snapshot);
            return 0;
        });
        return command;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    sealed class InlineProgress(Action<HubProgress> report) : IProgress<HubProgress>
    {
        public void Report(HubProgress value) => report(value);
    }
}
