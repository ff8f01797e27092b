using System.CommandLine;
#if !NATIVE_AOT
using DistilBert.Server.Studio;
#endif

namespace DistilBert.Cli.Commands;

/// <summary><c>distilbert review export</c>: a Studio endpoint's reviewed items as training data for <c>distilbert train</c>.</summary>
/// <remarks>Thread-safety: stateless; each call builds a new command.</remarks>
public static class ReviewCommand
{
    /// <summary>The <c>review</c> command, with its <c>export</c> subcommand.</summary>
    public static Command Create()
    {
        var endpoint = new Option<string>("--endpoint") { Description = "the Studio endpoint's name", Required = true };
        var format = new Option<string>("--format") { Description = "tsv (sentiment: train classify), conll (entities: train ner), squad (question-answering: train qa)", Required = true };
        var output = new Option<string>("--out") { Description = "the file to write", Required = true };
        var studioDb = new Option<string?>("--studio-db") { Description = "the Studio's SQLite file (default ./distilbert-studio.db)" };
        var studioPostgres = new Option<string?>("--studio-postgres") { Description = "the Studio's PostgreSQL connection string" };
        var export = new Command("export", "Write an endpoint's accepted and corrected items in the format distilbert train reads")
        {
            endpoint, format, output, studioDb, studioPostgres,
        };
        CliAction.Set(export, parse =>
        {
#if NATIVE_AOT
            return NativeBinary.CommandLeftOut("review export");
#else
            string db = parse.GetValue(studioDb) ?? "distilbert-studio.db";
            string? postgres = parse.GetValue(studioPostgres);
            if (parse.GetValue(studioDb) is not null && postgres is not null) throw new InvalidInputException("--studio-db and --studio-postgres name two stores: give one");
            string chosen = parse.GetValue(format)!;
            if (chosen is not ("tsv" or "conll" or "squad")) throw new InvalidInputException($"--format must be tsv, conll or squad, not '{chosen}'");
            // Exporting reads: never create an empty database where the user mistyped a path.
            if (postgres is null && !File.Exists(db)) throw new InvalidInputException($"no Studio database at {db} (--studio-db)");
            var options = new StudioOptions { DatabasePath = db, PostgresConnectionString = postgres };
            using var store = options.OpenStoreAsync().GetAwaiter().GetResult();
            var (text, written, skipped) = StudioExport.ExportAsync(store, parse.GetValue(endpoint)!, chosen).GetAwaiter().GetResult();
            string path = parse.GetValue(output)!;
            AtomicFile.WriteAllText(path, text);
            Console.Out.WriteLine($"wrote {written} reviewed item(s) to {path}" + (skipped > 0 ? $"; {skipped} skipped (their inputs were not stored)" : ""));
            return 0;
#endif
        });
        return new Command("review", "The Studio's review queue") { export };
    }
}
