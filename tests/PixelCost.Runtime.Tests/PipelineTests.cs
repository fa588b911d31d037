using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Pipelines;
using PixelCost.Runtime.Schedulers;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>The denoise loop on the tiny golden UNet and VAE (real weights) with a few DDIM steps.</summary>
public sealed class PipelineTests : IDisposable
{
    private static readonly string Golden = Path.Combine(AppContext.BaseDirectory, "Golden");
    private readonly CpuAccelerator _cpu = new(threads: 2);

    public void Dispose() => _cpu.Dispose();

    private DiffusionPipeline Pipe(int steps) => new(_cpu, UnetModel.Load(_cpu, Path.Combine(Golden, "unet", "unet_sd1_tiny")),
        VaeDecoder.Load(_cpu, Path.Combine(Golden, "vae_tiny")), Scheduler.FromPreset("ddim", steps));

    private Tensor Embeddings(int b, int cross, ulong seed)
    {
        var t = _cpu.Allocate(b, 7, cross);
        Ops.FillGaussian(_cpu, t, seed);
        return t;
    }

    private float[] Generate(int steps, float guidance, ulong seed, ulong condSeed = 1, ulong uncondSeed = 2)
    {
        using var pipe = Pipe(steps);
        int cross = pipe.Unet.Config.CrossAttentionDim;
        using var cond = Embeddings(1, cross, condSeed);
        using var uncond = Embeddings(1, cross, uncondSeed);
        using var image = pipe.Generate(cond, uncond, new GenerateOptions(128, 128, guidance, seed));
        Assert.Equal([1, 3, 32, 32], image.Shape.ToArray());   // latent 16² (÷8), the tiny VAE's two levels upsample ×2
        return image.ToArray();
    }

    [Fact]
    public void SameSeedSameImageOtherSeedOtherImage()
    {
        var a = Generate(3, 7.5f, seed: 5);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(a, Generate(3, 7.5f, seed: 5));
        Assert.True(a.Zip(Generate(3, 7.5f, seed: 6)).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    /// <summary>uncond + g·(cond − uncond) is cond when uncond = cond: guided runs with equal embeddings must give the
    /// unguided image (up to the rounding of the guidance arithmetic and the batch-2 evaluation).</summary>
    [Fact]
    public void GuidanceWithEqualEmbeddingsIsTheUnguidedImage()
    {
        var guided = Generate(3, 7.5f, seed: 9, condSeed: 4, uncondSeed: 4);
        var plain = Generate(3, 1f, seed: 9, condSeed: 4);
        Assert.True(guided.Zip(plain).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        var other = Generate(3, 7.5f, seed: 9, condSeed: 4, uncondSeed: 3);
        Assert.True(other.Zip(plain).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void EachStepIsOneBatchedUnetEvaluationAndOneFusedSchedulerLaunch()
    {
        using var pipe = Pipe(4);
        int cross = pipe.Unet.Config.CrossAttentionDim;
        using var cond = Embeddings(1, cross, 1);
        using var uncond = Embeddings(1, cross, 2);
        _cpu.Ledger.Clear();
        using var image = pipe.Generate(cond, uncond, new GenerateOptions(128, 128, 7.5f, 3));
        var e = _cpu.Ledger.Entries;
        for (int s = 0; s < 4; s++)
        {
            var conv = e.Where(x => x.Scope.StartsWith($"step.{s}/unet") && x.Op == "conv2d").ToList();
            Assert.NotEmpty(conv);
            Assert.StartsWith("[2,", conv[0].Shape);   // uncond and cond in one batch
            Assert.Equal("denoise_step", Assert.Single(e, x => x.Scope == $"step.{s}/scheduler").Op);
        }
        Assert.Contains(e, x => x.Scope.StartsWith("vae"));
        var byTop = _cpu.Ledger.ByScope(1).Select(x => x.Scope).ToList();
        Assert.Contains("step.3", byTop);
        Assert.Contains("vae", byTop);

        string png = Path.Combine(Path.GetTempPath(), $"pixelcost-pipe-{Guid.NewGuid():N}.png");
        try
        {
            DiffusionPipeline.SavePng(image, png);
            var (px, w, h, _) = PixelCost.Runtime.Imaging.Png.Decode(File.ReadAllBytes(png));
            Assert.Equal((32, 32, 32 * 32 * 3), (w, h, px.Length));
        }
        finally { File.Delete(png); }
    }

    [Fact]
    public void GuidanceWithoutUncondAndBadSizesAreClearErrors()
    {
        using var pipe = Pipe(2);
        using var cond = Embeddings(1, pipe.Unet.Config.CrossAttentionDim, 1);
        Assert.Contains("needs uncond", Assert.Throws<ArgumentException>(() => pipe.Generate(cond, null, new GenerateOptions(128, 128, 7.5f))).Message);
        Assert.Contains("multiples of", Assert.Throws<ArgumentException>(() => pipe.Generate(cond, null, new GenerateOptions(100, 128, 1f))).Message);
    }
}
