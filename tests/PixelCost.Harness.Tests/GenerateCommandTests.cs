using PixelCost.Harness.Commands;
using PixelCost.Runtime.Imaging;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary>
/// `pixelcost generate` on the tiny pipeline folder (<see cref="TinyPipeline"/>: SD1-style UNet, VAE, the tiny CLIP text
/// encoder with projection, a DDIM scheduler config, the built-in tokenizer): determinism to the PNG byte,
/// the metadata of every file, the frames, the cost table, LoRA fusing, and bad input as one line with nothing written.
/// </summary>
public sealed class GenerateCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-generate-").FullName;
    private readonly string _model;

    public GenerateCommandTests() => _model = TinyPipeline.Assemble(Path.Combine(_dir, "tiny-pipeline"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, GenerateCommand.Create());

    /// <summary>generate on the tiny pipeline at 64×64 (latent 8×8), 2 steps unless <paramref name="extra"/> says.</summary>
    private (int Code, string Out, string Err) Generate(string outName, params string[] extra) =>
        Run(["generate", "--model", _model, "--out", Path.Combine(_dir, outName), "--threads", "2",
            .. extra.Contains("--width") ? Array.Empty<string>() : ["--width", "64"], .. extra.Contains("--height") ? Array.Empty<string>() : ["--height", "64"],
            .. extra.Contains("--steps") ? Array.Empty<string>() : ["--steps", "2"], .. extra]);

    [Fact]
    public void SameSeedSamePngBytesAndEveryFileSaysWhatMadeIt()
    {
        var a = Generate("a", "--prompt", "a photo of a cat", "--seed", "7");
        Assert.True(a.Code == 0, a.Err);
        var b = Generate("b", "--prompt", "a photo of a cat", "--seed", "7");
        Assert.True(b.Code == 0, b.Err);
        var c = Generate("c", "--prompt", "a photo of a cat", "--seed", "8");
        byte[] pa = File.ReadAllBytes(Path.Combine(_dir, "a", "image.png"));
        Assert.Equal(pa, File.ReadAllBytes(Path.Combine(_dir, "b", "image.png")));
        Assert.NotEqual(pa, File.ReadAllBytes(Path.Combine(_dir, "c", "image.png")));

        var meta = Png.ReadText(Path.Combine(_dir, "a", "image.png"));
        Assert.Equal("a photo of a cat", meta["prompt"]);
        Assert.Equal("", meta["negative prompt"]);
        Assert.Equal("7", meta["seed"]);
        Assert.Equal("2", meta["steps"]);
        Assert.Equal("DDIMScheduler", meta["scheduler"]);
        Assert.Equal("file", meta["weights"]);
        Assert.Equal(_model, meta["model"]);
        Assert.Matches(@"^\d+ FLOPs counted \(\d+ matmul\)$", meta["cost"]);
        var (_, w, h, _) = Png.Read(Path.Combine(_dir, "a", "image.png"));
        Assert.Equal((16, 16), (w, h));   // the 8×8 latent (64 / 8) through the tiny VAE, whose two levels upsample ×2

        // The table: each part of the run, FLOPs counted and seconds measured, and the energy line either way.
        foreach (var s in new[] { "text encoder(s)", "UNet × 2 steps (batch 2B: CFG)", "one UNet step", "scheduler × 2", "VAE decode", "the image (all of the above)", "FLOPs counted" })
            Assert.Contains(s, a.Out);
        Assert.Matches("energy (not measured: |[0-9.]+ J \\(measured)", a.Out);
        Assert.DoesNotContain("preview", a.Out);
    }

    [Fact]
    public void FramesAreNumberedPngsAContactSheetAndAGifWithTheirCost()
    {
        var r = Generate("f", "--prompt", "", "--frames", "--scheduler", "euler");
        Assert.True(r.Code == 0, r.Err);
        string frames = Path.Combine(_dir, "f", "frames");
        Assert.Equal(["contact_sheet.png", "step_001.png", "step_002.png", "steps.gif"],
            Directory.GetFiles(frames).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
        var m1 = Png.ReadText(Path.Combine(frames, "step_001.png"));
        var m2 = Png.ReadText(Path.Combine(frames, "step_002.png"));
        Assert.Equal("x̂₀ after step 1 of 2", m1["frame"]);
        Assert.Equal("EulerDiscreteScheduler (euler)", m1["scheduler"]);
        long Flops(IReadOnlyDictionary<string, string> m) => long.Parse(m["cost"].Split(' ')[0]);
        Assert.True(Flops(m2) > Flops(m1));   // cumulative
        Assert.True(Flops(Png.ReadText(Path.Combine(_dir, "f", "image.png"))) > Flops(m2));   // + the VAE decode
        Assert.Contains("preview: x̂₀ + frame decodes", r.Out);
        Assert.Equal((byte)'G', File.ReadAllBytes(Path.Combine(frames, "steps.gif"))[0]);
    }

    [Fact]
    public void ALongPromptIsTruncatedWithANoteAndALoraFusesWithItsCostApart()
    {
        string lora = Path.Combine(_dir, "conv_in.safetensors");
        new SafetensorsWriter().Add("unet.conv_in.lora_A.weight", Enumerable.Repeat(0.01f, 2 * 4 * 9).ToArray(), 2, 4, 3, 3)
            .Add("unet.conv_in.lora_B.weight", Enumerable.Repeat(0.01f, 32 * 2).ToArray(), 32, 2, 1, 1).Save(lora);
        var r = Generate("l", "--prompt", string.Concat(Enumerable.Repeat("cat ", 2500)), "--steps", "1", "--lora", lora + ":0.5");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("truncated to 77", r.Err);
        Assert.Contains("Unet 1 modules fused", r.Out);
        Assert.Contains("LoRA fuse (once, into the weights)", r.Out);
        Assert.Equal(lora + ":0.5", Png.ReadText(Path.Combine(_dir, "l", "image.png"))["lora"]);
    }

    [Fact]
    public void BadInputIsOneLineAndNothingIsWritten()
    {
        string nothing = Path.Combine(_dir, "nothing.safetensors"), misfit = Path.Combine(_dir, "misfit.safetensors");
        new SafetensorsWriter().Add("unet.no.such.module.lora_A.weight", new float[8], 2, 4).Add("unet.no.such.module.lora_B.weight", new float[8], 4, 2).Save(nothing);
        new SafetensorsWriter().Add("unet.conv_in.lora_A.weight", new float[10], 2, 5).Add("unet.conv_in.lora_B.weight", new float[64], 32, 2).Save(misfit);
        var cases = new (string[] Args, string[] Mentions)[]
        {
            (["--scheduler", "heun"], ["unknown scheduler 'heun'"]),
            (["--steps", "0"], ["--steps", "1 … 1000", "0"]),
            (["--steps", "1001"], ["--steps", "1001"]),
            (["--guidance", "-1"], ["--guidance", "-1"]),
            (["--width", "100"], ["--width 100", "multiple of 16"]),
            (["--height", "72"], ["--height 72", "multiple of 16"]),
            (["--lora", Path.Combine(_dir, "missing.safetensors")], ["--lora", "missing.safetensors", "does not exist"]),
            (["--lora", nothing], ["nothing.safetensors", "none of the 1 Unet LoRA modules"]),
            (["--lora", misfit], ["misfit.safetensors", "conv_in", "does not fit"]),
            (["--scheduler", "lcm", "--steps", "60"], ["original_inference_steps"]),
        };
        foreach (var (args, mentions) in cases)
        {
            string outDir = Path.Combine(_dir, "bad");
            CliRun.AssertOneLineError(Generate("bad", ["--prompt", "x", .. args]), mentions);
            Assert.True(!Directory.Exists(outDir) || Directory.GetFileSystemEntries(outDir).Length == 0, string.Join(" ", args));
        }
        CliRun.AssertOneLineError(Run("generate", "--model", "sd16", "--prompt", "x", "--out", Path.Combine(_dir, "bad")), "sd16", "neither a preset");
        CliRun.AssertOneLineError(Run("generate", "--model", Path.Combine(_model, "unet"), "--prompt", "x", "--out", Path.Combine(_dir, "bad")), "not a diffusers pipeline folder");
    }
}
