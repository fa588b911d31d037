using System.Text.Json;
using PixelCost.Harness.Commands;
using PixelCost.Harness.Tour;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary>One <c>tour --quick</c> shared by the tests that read its output (seconds: no UNet pass is run).</summary>
public sealed class QuickTourFixture : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"pixelcost-tour-{Guid.NewGuid():N}");
    public (int Code, string Out, string Err) Result { get; }
    public JsonDocument Json { get; }

    public QuickTourFixture()
    {
        Result = CliRun.Run(["tour", "--quick", "--json", "--out", Dir], TourCommand.Create());
        Json = JsonDocument.Parse(Result.Code == 0 ? Result.Out : "{}");
    }

    public void Dispose()
    {
        Json.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

public class TourCommandTests(QuickTourFixture tour) : IClassFixture<QuickTourFixture>
{
    private JsonElement Root => tour.Json.RootElement;

    private static JsonElement Cost(params string[] args)
    {
        var r = CliRun.Run(["cost", .. args, "--json"], CostCommand.Create());
        Assert.True(r.Code == 0, r.Err);
        return JsonDocument.Parse(r.Out).RootElement;
    }

    private JsonElement Rung(string name) => Root.GetProperty("ladder").EnumerateArray().Single(r => r.GetProperty("name").GetString() == name);

    [Fact]
    public void QuickTourWritesEveryFileAndSaysItIsQuick()
    {
        Assert.True(tour.Result.Code == 0, tour.Result.Err);
        var files = Root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToList();
        foreach (var f in new[] { "01_random_noise.png", "02_smooth_noise.png", "03_gradient.png", "forward_scaled_linear.png", "forward_linear.png",
            "oracle.png", "wrong_half_noise.png", "wrong_zero_noise.png", "report.json", "report.html", "chart_schedules.png", "chart_ladder_flops.png",
            "chart_ladder_seconds.png", "chart_steps_flops.png", "chart_steps_seconds.png", "chart_components.png", "chart_pixel_vs_latent.svg" })
            Assert.Contains(f, files);
        foreach (var f in files)
            Assert.True(new FileInfo(Path.Combine(tour.Dir, f)).Length > 0, f);
        // Nothing else (no temp files) in the folder.
        Assert.Equal(files.OrderBy(f => f), Directory.GetFiles(tour.Dir).Select(Path.GetFileName).OrderBy(f => f));
        Assert.True(Root.GetProperty("quick").GetBoolean());
        Assert.Contains("--quick", Root.GetProperty("throughput_source").GetString());
        Assert.Contains("NOT a UNet pass", Root.GetProperty("throughput_source").GetString());
        Assert.Equal("projected", Rung("SD 1.5 UNet pass, 512², batch 1").GetProperty("seconds_kind").GetString());
        // Every image the HTML report shows is a file beside it.
        string html = File.ReadAllText(Path.Combine(tour.Dir, "report.html"));
        var srcs = System.Text.RegularExpressions.Regex.Matches(html, "src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.True(srcs.Count >= 14, $"{srcs.Count} images in the report");
        Assert.All(srcs, src => Assert.True(File.Exists(Path.Combine(tour.Dir, Uri.UnescapeDataString(src))), src));
        // The report file is the JSON printed.
        using var file = JsonDocument.Parse(File.ReadAllText(Path.Combine(tour.Dir, "report.json")));
        Assert.Equal(Root.GetProperty("ladder").GetRawText(), file.RootElement.GetProperty("ladder").GetRawText());
    }

    [Fact]
    public void CountedNumbersAreCosts()
    {
        var sd20 = Cost("--model", "sd15", "--steps", "20", "--guidance", "7.5");
        Assert.Equal(sd20.GetProperty("total").GetProperty("flops").GetInt64(), Rung("SD 1.5, 20 steps, CFG 7.5").GetProperty("flops").GetInt64());
        var sdxl = Cost("--model", "sdxl", "--steps", "30", "--guidance", "5");
        Assert.Equal(sdxl.GetProperty("total").GetProperty("flops").GetInt64(), Rung("SDXL 1024², 30 steps, CFG 5").GetProperty("flops").GetInt64());
        var turbo = Cost("--model", "sd-turbo", "--steps", "1", "--guidance", "0");
        Assert.Equal(turbo.GetProperty("total").GetProperty("flops").GetInt64(), Rung("SD-Turbo, 1 step").GetProperty("flops").GetInt64());
        var lcm = Cost("--model", "sd15", "--steps", "4", "--guidance", "0");
        Assert.Equal(lcm.GetProperty("total").GetProperty("flops").GetInt64(), Rung("LCM (SD 1.5), 4 steps, no CFG").GetProperty("flops").GetInt64());
        var pass = lcm.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("component").GetString() == "unet pass");
        Assert.Equal(pass.GetProperty("flops").GetInt64(), Rung("SD 1.5 UNet pass, 512², batch 1").GetProperty("flops").GetInt64());
        // The random map's FLOPs are cost's random map of 1024² (and the Philox fill's 1 FLOP per value).
        var px = Cost("--model", "sd15", "--steps", "1", "--width", "1024", "--height", "1024");
        Assert.Equal(px.GetProperty("random_pixels").GetProperty("flops").GetInt64(), Rung("random pixel map 1024²").GetProperty("flops").GetInt64());
        Assert.Equal(1024 * 1024 * 3, Rung("random pixel map 1024²").GetProperty("flops").GetInt64());
        // Pixel vs latent: the latent row is cost's SD 1.5 pass (PyTorch's 803,273,441,280 matmul FLOPs).
        var spaces = Root.GetProperty("pixel_vs_latent").EnumerateArray().ToList();
        Assert.Equal(803_273_441_280, spaces[0].GetProperty("matmul_flops").GetInt64());
        Assert.Equal(786_432, spaces[1].GetProperty("values").GetInt64());
        Assert.Equal(16_384, spaces[0].GetProperty("values").GetInt64());
        // Attention grows with tokens²: 64× the tokens at every level → its matmuls grow more than the convolutions' 64×.
        double attn = (double)spaces[1].GetProperty("attention_matmul_flops").GetInt64() / spaces[0].GetProperty("attention_matmul_flops").GetInt64();
        Assert.InRange(attn, 64 * 20, 64 * 64 * 1.01);
    }

    [Fact]
    public void StepCurvesPassThroughEachPresetsOwnRun()
    {
        foreach (var p in Root.GetProperty("presets").EnumerateArray())
        {
            int steps = p.GetProperty("steps").GetInt32();
            var point = p.GetProperty("by_steps").EnumerateArray().Single(b => b.GetProperty("steps").GetInt32() == steps);
            Assert.Equal(p.GetProperty("flops").GetInt64(), point.GetProperty("flops").GetInt64());
            Assert.Equal(p.GetProperty("projected_seconds").GetDouble(), point.GetProperty("projected_seconds").GetDouble(), 6);
            // The run is its components (the single UNet pass is not one of them).
            Assert.Equal(p.GetProperty("flops").GetInt64(), p.GetProperty("components").EnumerateArray().Sum(c => c.GetProperty("flops").GetInt64()));
            var pts = p.GetProperty("by_steps").EnumerateArray().Select(b => b.GetProperty("flops").GetInt64()).ToList();
            Assert.Equal(pts.OrderBy(x => x), pts);
        }
    }

    [Fact]
    public void LadderIsOrderedAndRatiosAreToTheRandomMap()
    {
        var rows = Root.GetProperty("ladder").EnumerateArray().ToList();
        Assert.Equal("random pixel map 1024²", rows[0].GetProperty("name").GetString());
        var flops = rows.Select(r => r.GetProperty("flops").GetInt64()).ToList();
        Assert.Equal(flops.OrderBy(f => f), flops);
        long random = flops[0];
        double randomSeconds = rows[0].GetProperty("seconds").GetDouble();
        foreach (var r in rows)
        {
            Assert.Equal((double)r.GetProperty("flops").GetInt64() / random, r.GetProperty("flop_ratio").GetDouble(), 9);
            Assert.Equal(r.GetProperty("seconds").GetDouble() / randomSeconds, r.GetProperty("seconds_ratio").GetDouble(), 9);
        }
        Assert.Equal(flops.Count, rows.Select(r => r.GetProperty("name").GetString()).Distinct().Count());
    }

    [Fact]
    public void AuditRowsAreCostsAndVerdictsFollowTheRatio()
    {
        var audit = Root.GetProperty("audit").EnumerateArray().ToList();
        Assert.Equal(Audit.Claims.Count, audit.Count);
        JsonElement Row(string id) => audit.Single(a => a.GetProperty("claim").GetProperty("id").GetString() == id);
        var sdxl20 = Cost("--model", "sdxl", "--steps", "20", "--guidance", "5", "--width", "1024", "--height", "1024");
        Assert.Equal(sdxl20.GetProperty("total").GetProperty("flops").GetInt64(), Row("sdxl-20-steps-5-pflops").GetProperty("ours").GetDouble());
        var step = Cost("--model", "sd15", "--steps", "1", "--guidance", "7.5");
        double denoise = step.GetProperty("components").EnumerateArray()
            .Where(c => c.GetProperty("component").GetString() is "unet × steps" or "scheduler × steps").Sum(c => (double)c.GetProperty("flops").GetInt64());
        Assert.Equal(denoise, Row("sd15-step-25-tflops").GetProperty("ours").GetDouble());
        var turbo = Cost("--model", "sd-turbo", "--steps", "1", "--guidance", "0");
        Assert.Equal(turbo.GetProperty("total").GetProperty("flops").GetInt64(), Row("one-step-model-50-tflops").GetProperty("ours").GetDouble());
        var sd20 = Cost("--model", "sd15", "--steps", "20", "--guidance", "7.5");
        Assert.Equal(sd20.GetProperty("flop_ratio").GetDouble(), Row("coherent-1e6-random").GetProperty("ours").GetDouble(), 9);
        Assert.Equal(1024 * 1024 * 3, Row("random-pixels-3-mflops").GetProperty("ours").GetDouble());
        foreach (var a in audit)
        {
            if (a.GetProperty("ours").ValueKind == JsonValueKind.Null) continue;
            double ratio = a.GetProperty("ratio").GetDouble();
            Assert.Equal(a.GetProperty("claim").GetProperty("quantity").GetDouble() / a.GetProperty("ours").GetDouble(), ratio, 9);
        }
        // The counted FLOP claims are all far off here: 5 PFLOPs vs ~0.28 PFLOPs counted.
        Assert.Contains("too high", Row("sdxl-20-steps-5-pflops").GetProperty("verdict").GetString());
        Assert.Contains("too low", Row("coherent-1e6-random").GetProperty("verdict").GetString());
    }

    [Fact]
    public void ClaimsAreWellFormedData()
    {
        Assert.Equal(7, Audit.Claims.Count);
        Assert.Equal(Audit.Claims.Count, Audit.Claims.Select(c => c.Id).Distinct().Count());
        foreach (var c in Audit.Claims)
        {
            Assert.Contains(c.Measure, new[] { "total", "denoise", "ratio", "pixels_flops", "pixels_seconds", "pixels_watts" });
            Assert.True(c.Quantity > 0, c.Id);
            Assert.False(string.IsNullOrWhiteSpace(c.Implies), c.Id);
            Assert.False(string.IsNullOrWhiteSpace(c.Heard), c.Id);
            if (c.Measure is "total" or "denoise" or "ratio") Assert.Contains(c.Model, PixelCost.Runtime.Models.UnetConfig.PresetNames);
        }
        // A pixel claim about another size than the tour measures is refused, not compared with the wrong map.
        var px = new PixelMeasurements(512, 512, 1, 1, null, "none");
        Assert.Throws<InvalidDataException>(() => Audit.Run(Audit.Claims.Where(c => c.Measure == "pixels_flops").ToList(), (_, _, _, _, _) => null!, px));
    }

    [Theory]
    [InlineData(100.0, "≈ 100× too high")]
    [InlineData(0.01, "≈ 100× too low")]
    [InlineData(3.0, "≈ 3× too high")]
    [InlineData(0.25, "≈ 4× too low")]
    [InlineData(1.5, "about right")]
    [InlineData(0.6, "about right")]
    public void VerdictDirectionFollowsTheRatio(double ratio, string verdict)
    {
        var flop = Audit.Claims.First(c => c.Unit == "FLOP");
        Assert.StartsWith(verdict, Audit.Verdict(flop, ratio));
        var watts = Audit.Claims.Single(c => c.Measure == "pixels_watts");
        Assert.StartsWith(ratio >= 1 ? "holds" : "does not hold", Audit.Verdict(watts, ratio));
        Assert.StartsWith("cannot check", Audit.Verdict(flop, null));
    }

    [Fact]
    public void OracleRecoversAndWrongNoiseDoesNot()
    {
        var chains = Root.GetProperty("pictures").GetProperty("reverse").EnumerateArray().ToList();
        Assert.True(chains[0].GetProperty("max_abs_error").GetDouble() < 1e-4);
        Assert.All(chains.Skip(1), c => Assert.True(c.GetProperty("mean_abs_error").GetDouble() > 0.5));
    }

    [Fact]
    public void MissingImageIsOneLineAndNothingWritten()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-tour-bad-{Guid.NewGuid():N}");
        var r = CliRun.Run(["tour", "--quick", "--image", "/nonexistent/scene.png", "--out", dir], TourCommand.Create());
        CliRun.AssertOneLineError(r, "--image", "/nonexistent/scene.png");
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void CorruptImageIsOneLineAndNothingWritten()
    {
        string bad = Path.Combine(Path.GetTempPath(), $"pixelcost-corrupt-{Guid.NewGuid():N}.png");
        File.WriteAllBytes(bad, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5]);
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-tour-bad-{Guid.NewGuid():N}");
        try
        {
            var r = CliRun.Run(["tour", "--quick", "--image", bad, "--out", dir], TourCommand.Create());
            CliRun.AssertOneLineError(r, "--image", bad);
            Assert.False(Directory.Exists(dir));
        }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void UnwritableOutIsOneLine()
    {
        string file = Path.GetTempFileName();   // a file where the folder should be
        try
        {
            var r = CliRun.Run(["tour", "--quick", "--out", file], TourCommand.Create());
            CliRun.AssertOneLineError(r, "--out", file);
            Assert.Equal(0, new FileInfo(file).Length);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void ImageOptionDiffusesTheGivenPicture()
    {
        // A user PNG (our own pixel map from the quick tour) goes through the same strips.
        string dir = Path.Combine(Path.GetTempPath(), $"pixelcost-tour-img-{Guid.NewGuid():N}");
        try
        {
            var r = CliRun.Run(["tour", "--quick", "--json", "--image", Path.Combine(tour.Dir, "03_gradient.png"), "--out", dir], TourCommand.Create());
            Assert.True(r.Code == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            Assert.Contains("03_gradient.png", doc.RootElement.GetProperty("pictures").GetProperty("source").GetString());
            Assert.True(doc.RootElement.GetProperty("pictures").GetProperty("reverse")[0].GetProperty("max_abs_error").GetDouble() < 1e-4);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
