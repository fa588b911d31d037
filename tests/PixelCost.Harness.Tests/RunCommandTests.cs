using PixelCost.Harness.Commands;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary>`pixelcost run unet|vae-decode` on the tiny golden models: the written tensor against diffusers' float64
/// output (same tolerance as the model tests: 1e-4 + 1e-4·|ref|, measured ~1.5e-6), and bad inputs as one line.</summary>
public sealed class RunCommandTests : IDisposable
{
    private static readonly string Golden = Path.Combine(AppContext.BaseDirectory, "Golden");
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, RunCommand.Create());

    [Theory]
    [InlineData("unet", "unet_sd1_tiny", "out")]
    [InlineData("vae-decode", "vae_tiny", "image")]
    public void WritesTheComponentsOutputMatchingDiffusers(string component, string model, string tensor)
    {
        string dir = Path.Combine(Golden, model), output = Path.Combine(_dir, "o.safetensors");
        var r = Run("run", component, "--model", dir, "--inputs", Path.Combine(dir, "io.safetensors"), "--output", output, "--threads", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"wrote {tensor}", r.Out);
        using var got = SafetensorsFile.Open(output);
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        Assert.Equal(io.Shape(tensor), got.Shape(tensor));
        float[] g = got.ReadFloats(tensor), want = io.ReadFloats(tensor);
        for (int i = 0; i < g.Length; i++) Assert.True(Math.Abs(g[i] - want[i]) <= 1e-4 + 1e-4 * Math.Abs(want[i]), $"{tensor}[{i}] = {g[i]}, want {want[i]}");
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void MissingOrMisshapenInputsAndABadOutputFolderAreOneLine()
    {
        string unet = Path.Combine(Golden, "unet_sd1_tiny"), vaeIo = Path.Combine(Golden, "vae_tiny", "io.safetensors");
        string output = Path.Combine(_dir, "o.safetensors");
        void One((int Code, string Out, string Err) r, params string[] mentions)
        {
            Assert.NotEqual(0, r.Code);
            var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("pixelcost: error:", line);
            foreach (var m in mentions) Assert.Contains(m, line);
            Assert.False(File.Exists(output));
        }
        One(Run("run", "unet", "--model", unet, "--inputs", vaeIo, "--output", output), "io.safetensors", "'sample' is missing");
        string wrong = Path.Combine(_dir, "wrong.safetensors");
        new SafetensorsWriter().Add("sample", new float[2 * 3 * 16 * 16], 2, 3, 16, 16).Save(wrong);
        One(Run("run", "unet", "--model", unet, "--inputs", wrong, "--output", output), "wrong.safetensors", "'sample' is [2,3,16,16]", "[B,4,H,W]");
        One(Run("run", "unet", "--model", unet, "--inputs", Path.Combine(unet, "io.safetensors"), "--output", Path.Combine(_dir, "no", "o.safetensors")), "does not exist");
        One(Run("run", "vae-decode", "--model", unet, "--inputs", vaeIo, "--output", output), "unet_sd1_tiny");
    }
}
