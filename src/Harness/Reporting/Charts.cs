using PixelCost.Runtime.Imaging;
using ScottPlot;

namespace PixelCost.Harness.Reporting;

/// <summary>The two files one chart is written to.</summary>
public sealed record ChartFiles(string Png, string Svg);

/// <summary>One line of a line chart.</summary>
public sealed record ChartSeries(string Name, double[] X, double[] Y);

/// <summary>
/// Charts through ScottPlot 5, each written as PNG and SVG (atomically) at <see cref="Width"/>×<see cref="Height"/>.
/// All text is drawn in the bundled DejaVu Sans, registered with ScottPlot by file, so a machine without system fonts
/// still gets readable titles and ticks. Log axes plot log10 of the values (ScottPlot 5 has no log scale) with ticks
/// at whole powers of ten labelled 10ⁿ and minor ticks at 2…9 × 10ⁿ.
/// </summary>
public static class Charts
{
    public const int Width = 900, Height = 500;

    private static readonly Lazy<string> FontName = new(() =>
    {
        string path = BundledFont.FilePath;
        // One file serves every weight: ScottPlot asks for bold titles, and an unregistered style would fall back to
        // a system font (none on a bare server).
        foreach (var (bold, italic) in new[] { (false, false), (true, false), (false, true), (true, true) })
            Fonts.AddFontFile(BundledFont.Name, path, bold, italic);
        Fonts.Default = BundledFont.Name;
        return BundledFont.Name;
    });

    public static ChartFiles Bar(string pathWithoutExtension, string title, string yLabel, IReadOnlyList<string> labels, IReadOnlyList<double> values, bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(values);
        if (labels.Count == 0 || labels.Count != values.Count)
            throw new ArgumentException($"chart '{title}': {labels.Count} labels for {values.Count} values (need the same number, ≥ 1)");
        CheckValues(title, "bar", values, logY);
        var plot = NewPlot(title, null, yLabel);
        // Log bars grow from a power of ten below the smallest value, at least 0.3 decades below it, so every bar shows.
        double floor = logY ? Math.Floor(values.Min(Math.Log10) - 0.3) : 0;
        var bars = values.Select((v, i) => new ScottPlot.Bar
        {
            Position = i,
            Value = logY ? Math.Log10(v) : v,
            ValueBase = floor,
            FillColor = Palette(0),
        }).ToList();
        plot.Add.Bars(bars);
        CategoryTicks(plot, labels);
        if (logY) LogTicks(plot);
        else plot.Axes.Margins(bottom: 0);
        return Save(plot, pathWithoutExtension);
    }

    public static ChartFiles Lines(string pathWithoutExtension, string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series, bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException($"chart '{title}': no series");
        var plot = NewPlot(title, xLabel, yLabel);
        for (int s = 0; s < series.Count; s++)
        {
            var ser = series[s];
            if (ser.X.Length == 0 || ser.X.Length != ser.Y.Length)
                throw new ArgumentException($"chart '{title}': series '{ser.Name}' has {ser.X.Length} x and {ser.Y.Length} y values (need the same number, ≥ 1)");
            CheckValues(title, $"series '{ser.Name}'", ser.Y, logY);
            if (ser.X.Any(x => !double.IsFinite(x))) throw new ArgumentException($"chart '{title}': series '{ser.Name}' has a non-finite x value");
            var line = plot.Add.Scatter(ser.X, logY ? ser.Y.Select(Math.Log10).ToArray() : ser.Y);
            line.LegendText = ser.Name;
            line.Color = Palette(s);
            line.LineWidth = 2;
            line.MarkerSize = 6;
        }
        if (logY) LogTicks(plot);
        if (series.Count > 1) plot.ShowLegend(Alignment.UpperLeft);
        return Save(plot, pathWithoutExtension);
    }

    public static ChartFiles StackedBars(string pathWithoutExtension, string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<(string Part, double[] Values)> parts)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(parts);
        if (groups.Count == 0 || parts.Count == 0) throw new ArgumentException($"chart '{title}': {groups.Count} groups, {parts.Count} parts (need ≥ 1 of each)");
        var plot = NewPlot(title, null, yLabel);
        var bottoms = new double[groups.Count];
        for (int p = 0; p < parts.Count; p++)
        {
            var (part, vals) = parts[p];
            if (vals.Length != groups.Count)
                throw new ArgumentException($"chart '{title}': part '{part}' has {vals.Length} values for {groups.Count} groups");
            CheckValues(title, $"part '{part}'", vals, logY: false);
            if (vals.Any(v => v < 0)) throw new ArgumentException($"chart '{title}': part '{part}' has a negative value (stacks add up non-negative parts)");
            var bars = new List<ScottPlot.Bar>();
            for (int g = 0; g < groups.Count; g++)
            {
                bars.Add(new ScottPlot.Bar { Position = g, ValueBase = bottoms[g], Value = bottoms[g] + vals[g], FillColor = Palette(p) });
                bottoms[g] += vals[g];
            }
            var bp = plot.Add.Bars(bars);
            bp.LegendText = part;
            bp.Color = Palette(p);
        }
        CategoryTicks(plot, groups);
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperRight);
        return Save(plot, pathWithoutExtension);
    }

    private static void CheckValues(string title, string what, IReadOnlyList<double> values, bool logY)
    {
        foreach (double v in values)
        {
            if (!double.IsFinite(v)) throw new ArgumentException($"chart '{title}': {what} has a non-finite value ({v})");
            if (logY && v <= 0) throw new ArgumentException($"chart '{title}': {what} has the value {v}, which a log axis cannot show (values must be > 0)");
        }
    }

    private static Plot NewPlot(string title, string? xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontName.Value);
        plot.Title(title, 18);
        if (xLabel != null) plot.XLabel(xLabel, 14);
        plot.YLabel(yLabel, 14);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 13;
        plot.Axes.Left.TickLabelStyle.FontSize = 13;
        return plot;
    }

    private static Color Palette(int i) => new ScottPlot.Palettes.Category10().GetColor(i);

    private static void CategoryTicks(Plot plot, IReadOnlyList<string> labels)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < labels.Count; i++) ticks.AddMajor(i, labels[i]);
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Grid.XAxisStyle.IsVisible = false;
        // Long or many labels: slant them so neighbours do not overlap.
        if (labels.Count * labels.Max(l => l.Length) > 80)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -30;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            // ScottPlot sizes the axis for unrotated labels; reserve the slanted labels' height (sin 30° of their
            // width at ~0.6 em per character) plus room for the axis title, so they are not cut off.
            plot.Axes.Bottom.MinimumSize = 0.5f * 0.6f * 13 * labels.Max(l => l.Length) + 40;
        }
    }

    /// <summary>Majors at whole log10 values labelled 10ⁿ; minors at log10(k·10ⁿ), k = 2…9.</summary>
    private static void LogTicks(Plot plot)
    {
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = PowerOfTen,
        };
    }

    /// <summary>"10⁶" for 6, "10⁻³" for −3 (superscript digits are in the bundled font).</summary>
    internal static string PowerOfTen(double log10)
    {
        int n = (int)Math.Round(log10);
        const string sup = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        var digits = Math.Abs(n).ToString(System.Globalization.CultureInfo.InvariantCulture).Select(c => sup[c - '0']);
        return "10" + (n < 0 ? "⁻" : "") + string.Concat(digits);
    }

    private static ChartFiles Save(Plot plot, string pathWithoutExtension)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathWithoutExtension);
        var files = new ChartFiles(pathWithoutExtension + ".png", pathWithoutExtension + ".svg");
        byte[] png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        string svg = plot.GetSvgXml(Width, Height);
        Runtime.IO.AtomicFile.WriteAllBytes(files.Png, png);
        Runtime.IO.AtomicFile.WriteAllText(files.Svg, svg);
        return files;
    }
}
