using Spectre.Console;

namespace DistilBert.Cli.Output;

/// <summary>
/// A Spectre.Console table printed in chunks: rows are buffered and flushed every <c>chunkRows</c> rows (and at the
/// end), so streaming a large file shows results as they come in constant memory.
/// </summary>
public sealed class ResultTable(string[] columns, ProgressReporter? progress = null, int chunkRows = 40)
{
    readonly List<string[]> rows = [];

    /// <summary>Adds a row, flushing the table when a chunk is full.</summary>
    public void Add(params string[] cells)
    {
        rows.Add(cells);
        if (rows.Count >= chunkRows) Flush();
    }

    /// <summary>Prints the buffered rows as one table.</summary>
    public void Flush()
    {
        if (rows.Count == 0) return;
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in columns) table.AddColumn(new TableColumn(Markup.Escape(column)));
        foreach (var row in rows) table.AddRow(row.Select(c => new Text(c)).ToArray());
        progress?.ClearLine();
        AnsiConsole.Write(table);
        rows.Clear();
    }

    /// <summary>A score as printed in tables: four decimals.</summary>
    public static string Score(float score) => score.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
}
