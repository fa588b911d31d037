using System.Diagnostics;
using PixelCost.Harness.Reporting;
using PixelCost.Runtime.Imaging;
using Xunit;

namespace PixelCost.Harness.Tests.Reporting;

/// <summary>tools/check-report.sh: a report as a browser draws it (headless Chromium), and a blank page refused.</summary>
public sealed class ReportScreenshotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-shot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string? Chromium() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(d => new[] { Path.Combine(d, "chromium"), Path.Combine(d, "chromium-browser") }).FirstOrDefault(File.Exists);

    private static (int Code, string Output) Check(string html, string png)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "tools", "check-report.sh");
        var psi = new ProcessStartInfo("bash", [script, html, png]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(entireProcessTree: true); return (-1, "timed out"); }
        return (p.ExitCode, output + err.Result);
    }

    [SkippableFact]
    public void ChromiumDrawsTheReportAndTheCheckRefusesABlankPage()
    {
        Skip.If(Chromium() is null, "chromium is not on PATH (Debian package 'chromium'), so the report cannot be screenshotted here");
        var chart = Charts.Bar(Path.Combine(_dir, "flops"), "FLOPs per image", "GFLOP (counted)", ["noise", "UNet step"], [0.003, 339.2]);
        var report = new HtmlReport("Report <check>");
        report.Heading("Cost");
        report.Table("Counted FLOPs", ["op", "GFLOP"], [["noise", "0.003"], ["UNet step", "339.2"]], "counted, not measured");
        report.Image(Path.GetFileName(chart.Png), "FLOPs per image");
        string html = Path.Combine(_dir, "report.html");
        report.Save(html);

        string shot = Path.Combine(_dir, "shot.png");
        var (code, output) = Check(html, shot);
        Assert.True(code == 0, $"check-report exit {code}:\n{output}");
        var (px, w, h, color) = Png.Read(shot);
        Assert.Equal((1200, 2000), (w, h));
        // The chart's blue bars (Category10 #1f77b4) are on the page: the image beside the report was found and drawn.
        int ch = Png.Channels(color), blue = 0;
        for (int i = 0; i < w * h; i++)
            if (Math.Abs(px[i * ch] - 0x1f) < 12 && Math.Abs(px[i * ch + 1] - 0x77) < 12 && Math.Abs(px[i * ch + 2] - 0xb4) < 12) blue++;
        Assert.True(blue > 2000, $"{blue} chart-blue pixels in the screenshot");

        string blank = Path.Combine(_dir, "blank.html");
        File.WriteAllText(blank, "<!DOCTYPE html><html><body></body></html>");
        var (blankCode, blankOut) = Check(blank, Path.Combine(_dir, "blank.png"));
        Assert.True(blankCode == 1, $"check-report accepted a blank page (exit {blankCode}):\n{blankOut}");
        Assert.Contains("blank screenshot", blankOut);
    }
}
