using System.Text.Json;
using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests;

public class CostCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, CostCommand.Create());

    private static JsonElement Component(JsonElement root, string name) =>
        root.GetProperty("components").EnumerateArray().Single(c => c.GetProperty("component").GetString() == name);

    /// <summary>The yardstick, from PyTorch's FlopCounterMode: SD 1.5 UNet at 512², one pass, batch 1 =
    /// 803,273,441,280 matmul FLOPs (conv + linear + attention matmuls, 2 per MAC, bias excluded).</summary>
    [Fact]
    public void Sd15OnePassWithoutGuidanceIsPyTorchsCount()
    {
        var r = Run("cost", "--model", "sd15", "--steps", "1", "--guidance", "0", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var pass = Component(root, "unet pass");
        Assert.Equal(803_273_441_280, pass.GetProperty("matmul_flops").GetInt64());
        Assert.Equal(859_520_964, pass.GetProperty("parameters").GetInt64());
        Assert.Equal(1, root.GetProperty("unet_evaluations_per_step").GetInt32());
        // The VAE decoder's parameters are diffusers' (post_quant_conv 20 + decoder 49,490,179).
        Assert.Equal(49_490_199, Component(root, "vae decoder").GetProperty("parameters").GetInt64());
        // The ratio is total FLOPs over the pixel map's, as printed.
        double ratio = (double)root.GetProperty("total").GetProperty("flops").GetInt64() / root.GetProperty("random_pixels").GetProperty("flops").GetInt64();
        Assert.Equal(ratio, root.GetProperty("flop_ratio").GetDouble(), 6);
    }

    /// <summary>
    /// A pipeline folder with a text encoder (<see cref="TinyPipeline"/>; clip_text_tiny's config.json: width D 32, 2 layers,
    /// 4 heads, MLP M 64, projection 24; prompts padded to T = 77 tokens). Its row's matmul FLOPs, from the architecture:
    /// per layer q, k, v, out projections 2·T·D·D each, fc1 + fc2 2·2·T·D·M, and causal attention — AttentionSpec counts
    /// only the T(T+1)/2 unmasked (query, key) pairs per head, 2·pairs·d for QKᵀ and again for PV (d = D / heads) — then
    /// the pooled projection 2·D·24; times 2 with guidance > 1 (the negative prompts), and part of the total.
    /// </summary>
    [Theory]
    [InlineData(7.5, 2)]
    [InlineData(1.0, 1)]
    public void PipelineFolderCountsItsTextEncoderOncePerPromptBatch(double guidance, int encodes)
    {
        string dir = Directory.CreateTempSubdirectory("pixelcost-cost-").FullName;
        try
        {
            string model = TinyPipeline.Assemble(Path.Combine(dir, "tiny-pipeline"));
            var r = Run("cost", "--model", model, "--width", "64", "--height", "64", "--steps", "2",
                "--guidance", guidance.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "3", "--json");
            Assert.True(r.Code == 0, r.Err);
            using var doc = JsonDocument.Parse(r.Out);
            var root = doc.RootElement;

            const long B = 3, T = 77, D = 32, M = 64, Heads = 4, Layers = 2, Projection = 24;
            const long d = D / Heads, pairs = T * (T + 1) / 2;
            const long perLayer = 4 * (2 * B * T * D * D) + 2 * (2 * B * T * D * M) + B * Heads * (2 * pairs * d + 2 * pairs * d);
            const long encode = Layers * perLayer + 2 * B * D * Projection;
            var te = Component(root, "text_encoder");
            Assert.Equal(encodes * encode, te.GetProperty("matmul_flops").GetInt64());

            // The total is the run's rows (a UNet pass is shown apart: "unet × steps" holds it), the text encoder among them.
            var rows = root.GetProperty("components").EnumerateArray().Where(c => c.GetProperty("component").GetString() != "unet pass").ToList();
            Assert.Contains(rows, c => c.GetProperty("component").GetString() == "text_encoder");
            Assert.Equal(rows.Sum(c => c.GetProperty("matmul_flops").GetInt64()), root.GetProperty("total").GetProperty("matmul_flops").GetInt64());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void GuidanceDoublesTheBatchAndStepsMultiply()
    {
        using var one = JsonDocument.Parse(Run("cost", "--model", "sd15", "--steps", "1", "--guidance", "0", "--json").Out);
        using var cfg = JsonDocument.Parse(Run("cost", "--model", "sd15", "--steps", "20", "--guidance", "7.5", "--json").Out);
        long single = Component(one.RootElement, "unet pass").GetProperty("matmul_flops").GetInt64();
        Assert.Equal(2 * single, Component(cfg.RootElement, "unet pass").GetProperty("matmul_flops").GetInt64());
        Assert.Equal(40 * single, Component(cfg.RootElement, "unet × steps").GetProperty("matmul_flops").GetInt64());
        Assert.Equal(Component(one.RootElement, "vae decoder").GetProperty("matmul_flops").GetInt64(),
            Component(cfg.RootElement, "vae decoder").GetProperty("matmul_flops").GetInt64());
    }

    [Fact]
    public void SdxlAt1024CostsInSecondsWithoutAllocating()
    {
        var t0 = System.Diagnostics.Stopwatch.StartNew();
        var r = Run("cost", "--model", "sdxl", "--steps", "1", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(1024, doc.RootElement.GetProperty("width").GetInt32());
        Assert.Equal(2_567_463_684, Component(doc.RootElement, "unet pass").GetProperty("parameters").GetInt64());
        Assert.True(Component(doc.RootElement, "unet pass").GetProperty("matmul_flops").GetInt64() > 10_000_000_000_000);
        Assert.True(GC.GetTotalMemory(false) < 2L << 30);   // shapes only: no weights or activations in memory
        Assert.True(t0.Elapsed < TimeSpan.FromMinutes(1), t0.Elapsed.ToString());
    }

    [Theory]
    [InlineData("--model", "sd99", "neither a preset")]
    [InlineData("--width", "500", "multiples of 64")]
    [InlineData("--steps", "0", "--steps")]
    [InlineData("--batch", "0", "--batch")]
    public void BadInputIsOneErrorLine(string option, string value, string mention)
    {
        var r = Run("cost", option, value);
        Assert.NotEqual(0, r.Code);
        var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("pixelcost: error:", line);
        Assert.Contains(mention, line);
        Assert.Equal("", r.Out);
    }

    /// <summary>A CLIP text encoder's matmul FLOPs for one batch of prompts of T tokens, from the architecture alone:
    /// per layer the q, k, v, out projections (2·T·D² each), fc1 and fc2 (2·T·D·M each) and causal attention (query i
    /// meets i + 1 keys; QKᵀ and PV each 2·D per pair: 4·D·T(T+1)/2); the projection 2·D·P on the pooled row.</summary>
    private static long ClipMatmulFlops(int prompts, long layers, long d, long m, long p, long t = 77) =>
        prompts * (layers * (4 * 2 * t * d * d + 2 * 2 * t * d * m + 4 * d * (t * (t + 1) / 2)) + 2 * d * p);

    [Theory]
    [InlineData("sd15", "0", 1, 12, 768, 3072, 0, 123_060_480L)]     // CLIP ViT-L/14
    [InlineData("sd15", "7.5", 2, 12, 768, 3072, 0, 123_060_480L)]   // + the negative prompts' batch
    [InlineData("sd21", "7.5", 2, 23, 1024, 4096, 0, 340_387_840L)]  // OpenCLIP ViT-H/14, penultimate layer baked in
    public void TextEncoderRowIsCountedAndInTheTotal(string model, string guidance, int batches, int layers, int d, int m, int p, long parameters)
    {
        var r = Run("cost", "--model", model, "--steps", "2", "--guidance", guidance, "--batch", "3", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        var te = Component(root, "text_encoder");
        Assert.Equal(ClipMatmulFlops(3 * batches, layers, d, m, p), te.GetProperty("matmul_flops").GetInt64());
        Assert.Equal(parameters, te.GetProperty("parameters").GetInt64());
        long sum = new[] { "unet × steps", "vae decoder", "text_encoder" }.Sum(n => Component(root, n).GetProperty("matmul_flops").GetInt64());
        Assert.Equal(sum, root.GetProperty("total").GetProperty("matmul_flops").GetInt64());
    }

    [Fact]
    public void SdxlHasBothTextEncoders()
    {
        var r = Run("cost", "--model", "sdxl", "--steps", "1", "--width", "512", "--height", "512", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var root = doc.RootElement;
        // Guidance 5 (SDXL's default): prompts + negative prompts, batch 1 each.
        Assert.Equal(ClipMatmulFlops(2, 12, 768, 3072, 0), Component(root, "text_encoder").GetProperty("matmul_flops").GetInt64());
        var g = Component(root, "text_encoder_2");
        Assert.Equal(ClipMatmulFlops(2, 32, 1280, 5120, 1280), g.GetProperty("matmul_flops").GetInt64());
        Assert.Equal(694_659_840L, g.GetProperty("parameters").GetInt64());   // SDXL's CLIPTextModelWithProjection
        long sum = new[] { "unet × steps", "vae decoder", "text_encoder", "text_encoder_2" }.Sum(n => Component(root, n).GetProperty("matmul_flops").GetInt64());
        Assert.Equal(sum, root.GetProperty("total").GetProperty("matmul_flops").GetInt64());
    }
}
