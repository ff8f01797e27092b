using DistilBert.Training;
using ScottPlot;

namespace DistilBert.Cli.Training;

/// <summary>The learning curves of a run as a PNG: training loss (raw and smoothed) over steps on the left, each evaluation
/// metric over steps on the right.</summary>
public static class TrainingPlot
{
    /// <summary>The PNG's name in the run folder.</summary>
    public const string FileName = "curves.png";

    /// <summary>Draws <paramref name="metricsPath"/> (metrics.jsonl) into <paramref name="pngPath"/>; false when there is nothing to draw.</summary>
    public static bool Write(string metricsPath, string pngPath, int width = 1200, int height = 480)
    {
        var (steps, evaluations) = MetricsLog.Read(metricsPath);
        var finite = steps.Where(s => double.IsFinite(s.Loss)).ToList();
        if (finite.Count == 0) return false;

        var multi = new Multiplot();
        multi.AddPlots(evaluations.Count > 0 ? 2 : 1);
        var loss = multi.GetPlot(0);
        double[] x = finite.Select(s => (double)s.Step).ToArray();
        double[] y = finite.Select(s => s.Loss).ToArray();
        var raw = loss.Add.ScatterLine(x, y);
        raw.LegendText = "loss";
        raw.LineWidth = 1;
        raw.Color = Colors.SteelBlue.WithAlpha(0.35);
        var smooth = loss.Add.ScatterLine(x, MovingAverage(y, Math.Max(1, y.Length / 50)));
        smooth.LegendText = "loss (moving average)";
        smooth.LineWidth = 2;
        smooth.Color = Colors.SteelBlue;
        loss.Title("training loss");
        loss.XLabel("optimizer step");
        loss.ShowLegend();

        if (evaluations.Count > 0)
        {
            var eval = multi.GetPlot(1);
            var palette = new ScottPlot.Palettes.Category10();
            int i = 0;
            foreach (var name in evaluations.SelectMany(e => e.Metrics.Keys).Distinct().Where(n => n != "perplexity"))
            {
                var points = evaluations.Where(e => e.Metrics.TryGetValue(name, out var v) && double.IsFinite(v)).ToList();
                if (points.Count == 0) continue;
                var line = eval.Add.ScatterLine(points.Select(e => (double)e.Step).ToArray(), points.Select(e => e.Metrics[name]).ToArray());
                line.LegendText = name;
                line.Color = palette.GetColor(i++);
                line.LineWidth = 2;
                line.MarkerSize = 7;
            }
            eval.Title($"evaluation (best by {evaluations[0].MainMetric})");
            eval.XLabel("optimizer step");
            eval.ShowLegend();
        }
        if (PlotFont.Value is { } font)
            foreach (var plot in multi.GetPlots()) plot.Font.Set(font);
        multi.Layout = new ScottPlot.MultiplotLayouts.Columns();
        multi.SavePng(pngPath, width, height);
        return true;
    }

    // The bundled Skia natives do not use fontconfig, so text needs a font file registered by path; the usual places of
    // a sans-serif TrueType font are searched once. Without one the curves are still drawn, without text.
    static readonly Lazy<string?> PlotFont = new(() =>
    {
        string[] preferred = ["DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttf"];
        string[] folders = ["/usr/share/fonts", "/usr/local/share/fonts", Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".fonts"),
            "/System/Library/Fonts", "/Library/Fonts", Environment.GetFolderPath(Environment.SpecialFolder.Fonts)];
        foreach (var folder in folders.Where(f => f.Length > 0 && Directory.Exists(f)))
        {
            string[] files;
            try { files = Directory.GetFiles(folder, "*.ttf", SearchOption.AllDirectories); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            var pick = preferred.Select(n => files.FirstOrDefault(f => Path.GetFileName(f) == n)).FirstOrDefault(f => f is not null);
            if (pick is null) continue;
            const string name = "DistilBert Plot Font";
            Fonts.AddFontFile(name, pick);
            return name;
        }
        return null;
    });

    static double[] MovingAverage(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
