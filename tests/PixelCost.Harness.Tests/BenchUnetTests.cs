using System.Text.Json;
using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests;

public class BenchUnetTests
{
    private static readonly string Tiny = Path.Combine(AppContext.BaseDirectory, "Golden", "unet_sd1_tiny");

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, BenchCommand.Create());

    [Fact]
    public void JsonOnTheTinyGoldenUnetCarriesTheContract()
    {
        var r = Run("bench", "unet", "--model", Tiny, "--width", "128", "--height", "128", "--batch", "2", "--threads", "1", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        double seconds = root.GetProperty("seconds").GetDouble(), gflops = root.GetProperty("gflops").GetDouble();
        Assert.True(seconds > 0);
        Assert.True(root.GetProperty("measured_peak_gflops").GetDouble() > 0);
        var unet = root.GetProperty("parts").EnumerateArray().Single();
        Assert.Equal("unet", unet.GetProperty("component").GetString());
        Assert.Equal(unet.GetProperty("flops").GetInt64() / seconds / 1e9, gflops, 6);
        Assert.True(unet.GetProperty("peak_memory_bytes").GetInt64() > 0);
        // The splits cover the evaluation: every block of the tiny model, and op shares that add up to one.
        var blocks = unet.GetProperty("by_block").EnumerateArray().Select(b => b.GetProperty("name").GetString()).ToList();
        foreach (var b in new[] { "conv_in", "down_blocks.0", "down_blocks.1", "mid_block", "up_blocks.0", "up_blocks.1", "conv_out" }) Assert.Contains(b, blocks);
        Assert.Equal(1.0, unet.GetProperty("by_op").EnumerateArray().Sum(o => o.GetProperty("share").GetDouble()), 6);
        Assert.Equal(unet.GetProperty("flops").GetInt64(), unet.GetProperty("by_block").EnumerateArray().Sum(o => o.GetProperty("flops").GetInt64()));
    }

    [Theory]
    [InlineData("--model", "nope-xyz", "neither a preset")]
    [InlineData("--width", "100", "multiples of")]
    [InlineData("--repeats", "0", "--repeats")]
    public void BadInputIsOneErrorLine(string option, string value, string mention)
    {
        var r = option == "--model" ? Run("bench", "unet", "--model", value) : Run("bench", "unet", "--model", Tiny, option, value);
        Assert.NotEqual(0, r.Code);
        var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("pixelcost: error:", line);
        Assert.Contains(mention, line);
    }
}
