namespace DistilBert.Tests;

/// <summary><c>serve</c>'s Studio options and <c>review export</c> refuse what they cannot do with one <c>error:</c> line
/// and exit code 1, before anything is listened on or written. Serial: the console is captured.</summary>
[Collection(nameof(PipelineCliCollection))]
public sealed class CliStudioTests
{
    [Theory]
    [InlineData(new[] { "serve", "--studio-db", "x.db" }, "--studio-db, --studio-postgres and --admin-keys configure the Studio: add --studio")]
    [InlineData(new[] { "serve", "--studio", "--studio-db", "x.db", "--studio-postgres", "Host=h" }, "--studio-db and --studio-postgres name two stores: give one")]
    [InlineData(new[] { "serve", "--studio", "--studio-db", "/no/such/folder/x.db", "--port", "0" }, "the Studio database /no/such/folder/x.db: its folder /no/such/folder does not exist")]
    [InlineData(new[] { "review", "export", "--endpoint", "e", "--format", "csv", "--out", "o" }, "--format must be tsv, conll or squad, not 'csv'")]
    [InlineData(new[] { "review", "export", "--endpoint", "e", "--format", "tsv", "--out", "o", "--studio-db", "/no/such/studio.db" }, "no Studio database at /no/such/studio.db (--studio-db)")]
    public void StudioOptions_RefuseWhatTheyCannotDo_InOneErrorLine(string[] args, string message)
    {
        var (code, _, error) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Equal($"error: {message}", error.Trim());
    }
}
