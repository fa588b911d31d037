using System.Xml.Linq;
using PixelCost.Harness.Reporting;
using PixelCost.Runtime.Imaging;
using Xunit;

namespace PixelCost.Harness.Tests.Reporting;

public sealed class ChartsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-charts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    public static TheoryData<string> Kinds() => ["bar", "bar-log", "lines", "lines-log", "stacked"];

    private ChartFiles Make(string kind, string title) => kind switch
    {
        "bar" => Charts.Bar(P(kind), title, "GFLOP", ["noise", "gradient", "UNet step", "VAE decode"], [0.003, 0.001, 339.2, 1240.5]),
        "bar-log" => Charts.Bar(P(kind), title, "FLOP (counted)", ["noise", "gradient", "UNet step", "VAE decode"], [3.1e6, 1.0e6, 6.8e11, 2.5e12], logY: true),
        "lines" => Charts.Lines(P(kind), title, "steps", "seconds (measured)",
            [new ChartSeries("cpu", [1, 2, 4, 8], [1.1, 2.0, 4.2, 8.1]), new ChartSeries("cuda", [1, 2, 4, 8], [0.1, 0.2, 0.35, 0.7])]),
        "lines-log" => Charts.Lines(P(kind), title, "resolution (px)", "FLOP (counted)",
            [new ChartSeries("UNet", [256, 512, 768, 1024], [1e11, 7e11, 1.6e12, 2.8e12])], logY: true),
        _ => Charts.StackedBars(P(kind), title, "ms (measured)", ["sd15", "sd21", "sdxl"],
            [("text encoder", [5, 6, 12]), ("UNet", [300, 320, 900]), ("VAE", [40, 40, 80])]),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PngHasTheSizeAndInkInThePlotAndTitle_SvgIsXmlWithTheTitle(string kind)
    {
        string title = $"Cost ladder {kind} Qjy";
        var files = Make(kind, title);
        Assert.Equal(P(kind) + ".png", files.Png);
        Assert.Equal(P(kind) + ".svg", files.Svg);

        var (px, w, h, color) = Png.Read(files.Png);
        Assert.Equal((Charts.Width, Charts.Height), (w, h));
        int ch = Png.Channels(color);
        var bg = px[..ch];
        int Ink(int x0, int x1, int y0, int y1)
        {
            int n = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    if (Math.Abs(px[(y * w + x) * ch] - bg[0]) + Math.Abs(px[(y * w + x) * ch + 1] - bg[1]) + Math.Abs(px[(y * w + x) * ch + 2] - bg[2]) > 96) n++;
            return n;
        }
        // The title band (top 40 rows, middle half): blank text would leave it empty.
        int title0 = Ink(w / 4, 3 * w / 4, 0, 40);
        Assert.True(title0 > 200, $"{kind}: {title0} ink pixels in the title band");
        // The plot area (the middle of the image): bars or lines.
        int plot = Ink(w / 5, 4 * w / 5, h / 4, 3 * h / 4);
        Assert.True(plot > 500, $"{kind}: {plot} ink pixels in the plot area");
        // The y-axis label and ticks on the left.
        Assert.True(Ink(0, 80, 60, h - 60) > 200, $"{kind}: no ink left of the plot");

        var svg = XDocument.Load(files.Svg);
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Contains(title, svg.Root.Value);
        Assert.Empty(Directory.GetFiles(_dir, ".*"));   // no temporary files left
    }

    [Fact]
    public void LogTicksReadAsPowersOfTen()
    {
        Assert.Equal("10⁶", Charts.PowerOfTen(6));
        Assert.Equal("10⁰", Charts.PowerOfTen(0));
        Assert.Equal("10⁻³", Charts.PowerOfTen(-3));
        Assert.Equal("10¹²", Charts.PowerOfTen(12.0000001));
        // Values from 10⁶ to 2.5·10¹²: the axis shows whole powers in that range and no raw exponents like "6" or "1E+06".
        var text = XDocument.Load(Make("bar-log", "log").Svg).Root!.Value;
        Assert.Contains("10⁹", text);
        Assert.Contains("10¹²", text);
        Assert.DoesNotContain("E+", text);
    }

    [Fact]
    public void BadDataIsRefusedAndNothingIsWritten()
    {
        Assert.Contains("log axis", Assert.Throws<ArgumentException>(() => Charts.Bar(P("a"), "t", "y", ["a", "b"], [1, 0], logY: true)).Message);
        Assert.Contains("2 labels for 1 values", Assert.Throws<ArgumentException>(() => Charts.Bar(P("a"), "t", "y", ["a", "b"], [1])).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => Charts.Bar(P("a"), "t", "y", ["a"], [double.NaN])).Message);
        Assert.Contains("'s1'", Assert.Throws<ArgumentException>(() => Charts.Lines(P("a"), "t", "x", "y", [new ChartSeries("s1", [1, 2], [1])])).Message);
        Assert.Contains("3 values for 2 groups", Assert.Throws<ArgumentException>(() => Charts.StackedBars(P("a"), "t", "y", ["g1", "g2"], [("p", [1, 2, 3])])).Message);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }
}
