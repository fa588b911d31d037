using System.Diagnostics;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The AutoencoderKL decoder against diffusers 0.27.2 (Golden/vae_tiny: weights, latent → float64 image), its errors
/// for a wrong checkpoint, its ledger scopes, and its shape-only run on the meta accelerator.
/// </summary>
[Trait("Golden", "diffusers 0.27.2 AutoencoderKL.decode (Golden/vae_tiny)")]
public sealed class VaeTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "vae_tiny");

    // The reference is float64 from the same float32 weights; ours is float32 throughout. The longest reductions are
    // the 3×3 convolutions over 64 channels (576 terms, ≈ 576·2⁻²⁴ ≈ 3.4e-5 relative each) and the group-norm
    // statistics, chained through ~20 layers whose outputs are renormalised by each GroupNorm; |image| is O(1).
    // Measured: max |diff| 1.4e-6 on cpu (512-bit path), 2.0e-6 on ilgpu-cpu; 2e-5 absolute + 2e-5 relative leaves 10×
    // that for other summation orders (256-bit path, thread counts).
    private const double Atol = 2e-5, Rtol = 2e-5;

    private static (float[] Latent, int[] LatentShape, float[] Image, int[] ImageShape) Io()
    {
        using var f = SafetensorsFile.Open(Path.Combine(Dir, "io.safetensors"));
        return (f.ReadFloats("latent"), f.Shape("latent"), f.ReadFloats("image"), f.Shape("image"));
    }

    private (float[] Image, double MaxErr) DecodeGolden(IAccelerator acc)
    {
        var (latent, ls, image, ims) = Io();
        using var vae = VaeDecoder.Load(acc, Dir);
        using var z = acc.FromArray(latent, ls);
        using var y = vae.Decode(z);
        Assert.Equal(ims, y.Shape.ToArray());
        var got = y.ToArray();
        Close.All(image, got, Atol, Rtol, ims, $"vae_tiny image on {acc.Id}");
        double max = 0;
        for (int i = 0; i < got.Length; i++) max = Math.Max(max, Math.Abs(got[i] - image[i]));
        output.WriteLine($"{acc.Name}: max |got − diffusers| = {max:G3} over {got.Length} values");
        return (got, max);
    }

    [Fact]
    public void Cpu_Decode_MatchesDiffusers()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var (_, max) = DecodeGolden(cpu);
        Assert.True(max < Atol, $"max |diff| {max:G3}");
    }

    [Fact]
    public void IlgpuCpu_Decode_MatchesDiffusers()
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        DecodeGolden(acc);
    }

    [Fact]
    public void Cpu_DecodeFromLdmNamedWeights_MatchesDiffusers()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var (latent, ls, image, ims) = Io();
        using var vae = VaeDecoder.Load(cpu, Path.Combine(Dir, "ldm_checkpoint.safetensors"));   // config.json beside it
        using var z = cpu.FromArray(latent, ls);
        using var y = vae.Decode(z);
        Close.All(image, y.ToArray(), Atol, Rtol, ims, "vae_tiny image from LDM names");
        // Attention projections come from 1×1 convs [C,C,1,1]; the numbers are those of the diffusers file.
        using var d = VaeDecoder.Load(cpu, Dir);
        Assert.Equal(d.Weight("decoder.mid_block.attentions.0.to_out.0.weight").ToArray(), vae.Weight("decoder.mid_block.attentions.0.to_out.0.weight").ToArray());
        Assert.Equal(d.Weight("decoder.up_blocks.0.upsamplers.0.conv.weight").ToArray(), vae.Weight("decoder.up_blocks.0.upsamplers.0.conv.weight").ToArray());
        Assert.Equal(d.Weight("decoder.up_blocks.1.resnets.0.conv_shortcut.bias").ToArray(), vae.Weight("decoder.up_blocks.1.resnets.0.conv_shortcut.bias").ToArray());

        var e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(cpu, Path.Combine(Dir, "ldm_checkpoint.safetensors"), VaeConfig.Load(Dir) with { LayersPerBlock = 3, Source = "test config" }));
        Assert.Contains("'first_stage_model.decoder.up.3.block.3.norm1.weight' (diffusers 'decoder.up_blocks.0.resnets.3.norm1.weight') is missing", e.Message);
    }

    /// <summary>Batch 2 (the mid attention's per-batch bias adds, batched GEMMs): each item equals its own decode.</summary>
    [Fact]
    public void Cpu_DecodeBatchOfTwo_EqualsEachItemAlone()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var (latent, ls, image, ims) = Io();
        var other = latent.Select(v => -0.5f * v + 0.1f).ToArray();
        using var vae = VaeDecoder.Load(cpu, Dir);
        using var z = cpu.FromArray(latent.Concat(other).ToArray(), 2, ls[1], ls[2], ls[3]);
        using var y = vae.Decode(z);
        Assert.Equal([2, 3, 16, 16], y.Shape.ToArray());
        var both = y.ToArray();
        Close.All(image, both[..image.Length], Atol, Rtol, ims, "batch item 0 vs diffusers");
        using var z1 = cpu.FromArray(other, ls);
        using var y1 = vae.Decode(z1);
        // Same kernels, same per-item reductions: equal up to a few ulps (threads may split the batch differently).
        Close.All(y1.ToArray(), both[image.Length..], 1e-6, 1e-6, ims, "batch item 1 vs alone");
    }

    [Fact]
    public void Load_ReadsConfigAndCountsParameters()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        using var vae = VaeDecoder.Load(cpu, Dir);
        Assert.Equal([32, 64], vae.Config.BlockOutChannels);
        Assert.Equal(8, vae.Config.NormNumGroups);
        Assert.Equal(0.18215, vae.Config.ScalingFactor);
        Assert.False(vae.IsRandom);
        // Every decoder tensor of the file (and post_quant_conv) is used; the encoder's and quant_conv are not.
        using var ckpt = SafetensorsCheckpoint.Open(Path.Combine(Dir, "diffusion_pytorch_model.safetensors"));
        long inFile = ckpt.ListTensors().Where(t => t.Name.StartsWith("decoder.", StringComparison.Ordinal) || t.Name.StartsWith("post_quant_conv.", StringComparison.Ordinal))
            .Sum(t => t.ElementCount);
        Assert.Equal(inFile, vae.ParameterCount);
        Assert.Equal(inFile, vae.Config.DecoderParameterCount);
    }

    /// <summary>A copy of the golden component folder with one tensor changed (or dropped, when <paramref name="shape"/> is null).</summary>
    private static string CorruptCopy(string tensor, int[]? shape)
    {
        string dir = Path.Combine(Path.GetTempPath(), "pixelcost-vae-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(Dir, "config.json"), Path.Combine(dir, "config.json"));
        using var src = SafetensorsFile.Open(Path.Combine(Dir, "diffusion_pytorch_model.safetensors"));
        var w = new SafetensorsWriter();
        foreach (var t in src.Tensors)
        {
            if (t.Name != tensor) { w.Add(t.Name, src.ReadFloats(t.Name), t.Shape); continue; }
            if (shape is null) continue;
            w.Add(t.Name, new float[shape.Aggregate(1, (a, d) => a * d)], shape);
        }
        w.Save(Path.Combine(dir, "diffusion_pytorch_model.safetensors"));
        return dir;
    }

    [Fact]
    public void Load_MissingTensor_NamesFileTensorAndExpectedShape()
    {
        string dir = CorruptCopy("decoder.mid_block.attentions.0.to_k.weight", null);
        try
        {
            using var cpu = new CpuAccelerator(threads: 1);
            var e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(cpu, dir));
            Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
            Assert.Contains("'decoder.mid_block.attentions.0.to_k.weight' is missing", e.Message);
            Assert.Contains("[64,64]", e.Message);
            Assert.Equal(0, cpu.Memory.InUse);   // checked before anything was allocated
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_WrongShape_NamesFileTensorExpectedAndActual()
    {
        string dir = CorruptCopy("decoder.up_blocks.1.resnets.0.conv_shortcut.weight", [32, 64, 3, 3]);
        try
        {
            using var cpu = new CpuAccelerator(threads: 1);
            var e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(cpu, dir));
            Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
            Assert.Contains("'decoder.up_blocks.1.resnets.0.conv_shortcut.weight' has shape [32,64,3,3], expected [32,64,1,1]", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_ConfigThatDoesNotFitTheWeights_IsAShapeError()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        var cfg = VaeConfig.Load(Dir) with { LayersPerBlock = 1, Source = "test config" };
        var e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(cpu, Path.Combine(Dir, "diffusion_pytorch_model.safetensors"), cfg));
        Assert.Contains("diffusion_pytorch_model.safetensors: tensor 'decoder.up_blocks.0.resnets.2.", e.Message);
        Assert.Contains("is not part of the VAE decoder of test config", e.Message);
        var wide = VaeConfig.Load(Dir) with { BlockOutChannels = [32, 128], Source = "test config" };
        e = Assert.Throws<InvalidDataException>(() => VaeDecoder.Load(cpu, Path.Combine(Dir, "diffusion_pytorch_model.safetensors"), wide));
        Assert.Contains("'decoder.conv_in.weight' has shape [64,4,3,3], expected [128,4,3,3]", e.Message);
    }

    [Fact]
    public void Decode_WrongLatent_IsAnArgumentError()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        using var vae = VaeDecoder.Random(cpu, VaeConfig.Load(Dir));
        using var z = cpu.Zeros(1, 3, 8, 8);
        var e = Assert.Throws<ArgumentException>(() => vae.Decode(z));
        Assert.Contains("[1,3,8,8]", e.Message);
    }

    [Fact]
    public void Decode_LedgerScopesRollUp_AndActivationsAreFreed()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var (latent, ls, _, _) = Io();
        using var vae = VaeDecoder.Load(cpu, Dir);
        using var z = cpu.FromArray(latent, ls);
        long before = cpu.Memory.InUse;
        cpu.Ledger.Clear();
        using (var y = vae.Decode(z))
            Assert.Equal(before + BufferPool.SizeClass(y.Bytes), cpu.Memory.InUse);   // only the image stays
        Assert.Equal(before, cpu.Memory.InUse);

        var total = cpu.Ledger.TotalCost();
        var top = cpu.Ledger.ByScope(1).ToDictionary(s => s.Scope);
        Assert.Equal(["decoder", "post_quant_conv"], top.Keys.Order().ToArray());
        Assert.Equal(total, top.Values.Aggregate(Cost.Zero, (c, s) => c + s.Cost));
        var blocks = cpu.Ledger.ByScope(2).ToDictionary(s => s.Scope);
        Assert.Equal(["decoder/conv_in", "decoder/conv_norm_out", "decoder/conv_out", "decoder/mid_block", "decoder/up_blocks.0", "decoder/up_blocks.1"],
            blocks.Keys.Where(k => k.StartsWith("decoder", StringComparison.Ordinal)).Order().ToArray());
        Assert.Equal(top["decoder"].Cost, blocks.Where(b => b.Key.StartsWith("decoder/", StringComparison.Ordinal)).Aggregate(Cost.Zero, (c, s) => c + s.Value.Cost));
        Assert.Equal(top["decoder"].Launches, blocks.Where(b => b.Key.StartsWith("decoder/", StringComparison.Ordinal)).Sum(b => b.Value.Launches));

        // The attention op runs in the mid block's attention, once; every launch has a diffusers-named scope.
        var att = cpu.Ledger.Entries.Single(e => e.Op == "attention");
        Assert.Equal("decoder/mid_block/attentions.0", att.Scope);
        Assert.All(cpu.Ledger.Entries, e => Assert.NotEqual("", e.Scope));
        Assert.Equal(2, cpu.Ledger.Entries.Count(e => e.Scope == "decoder/up_blocks.0/upsamplers.0"));   // upsample + conv
        Assert.DoesNotContain(cpu.Ledger.Entries, e => e.Scope.StartsWith("decoder/up_blocks.1/upsamplers", StringComparison.Ordinal));
    }

    [Fact]
    public void Meta_LedgerEqualsCpuEntryByEntry()
    {
        var cfg = VaeConfig.Load(Dir);
        using var cpu = new CpuAccelerator(threads: 2);
        using var meta = new MetaAccelerator();
        var (latent, ls, _, _) = Io();
        using var vaeCpu = VaeDecoder.Load(cpu, Dir);
        using var vaeMeta = VaeDecoder.Load(meta, Dir);   // shapes only: no upload
        Assert.True(vaeMeta.Weight("decoder.conv_in.weight").IsMeta);
        using var zc = cpu.FromArray(latent, ls);
        using var zm = meta.Allocate(ls);
        cpu.Ledger.Clear();
        meta.Ledger.Clear();
        using var yc = vaeCpu.Decode(zc);
        using var ym = vaeMeta.Decode(zm);
        Assert.Equal(yc.Shape.ToArray(), ym.Shape.ToArray());
        var ec = cpu.Ledger.Entries;
        var em = meta.Ledger.Entries;
        Assert.Equal(ec.Count, em.Count);
        for (int i = 0; i < ec.Count; i++)
        {
            Assert.Equal((ec[i].Op, ec[i].Shape, ec[i].Scope), (em[i].Op, em[i].Shape, em[i].Scope));
            Assert.Equal(ec[i].Cost, em[i].Cost);
            Assert.Equal(MetaAccelerator.Variant, em[i].Variant);
            Assert.Equal(LaunchTiming.NotRun, em[i].Timing);
        }
        // Random weights launch the same fills on both.
        cpu.Ledger.Clear();
        meta.Ledger.Clear();
        using (VaeDecoder.Random(cpu, cfg, 7)) { }
        using (VaeDecoder.Random(meta, cfg, 7)) { }
        Assert.Equal(cpu.Ledger.Entries.Select(e => (e.Op, e.Shape, e.Cost)), meta.Ledger.Entries.Select(e => (e.Op, e.Shape, e.Cost)));
    }

    [Fact]
    public void Random_IsDeterministic_NormsOne_BiasesZero()
    {
        var cfg = VaeConfig.Load(Dir);
        using var cpu = new CpuAccelerator(threads: 1);
        using var a = VaeDecoder.Random(cpu, cfg, 3);
        using var b = VaeDecoder.Random(cpu, cfg, 3);
        Assert.True(a.IsRandom);
        Assert.Equal(a.Weight("decoder.conv_in.weight").ToArray(), b.Weight("decoder.conv_in.weight").ToArray());
        Assert.All(a.Weight("decoder.mid_block.resnets.0.norm1.weight").ToArray(), v => Assert.Equal(1f, v));
        Assert.All(a.Weight("decoder.conv_out.bias").ToArray(), v => Assert.Equal(0f, v));
        var w = a.Weight("decoder.up_blocks.0.resnets.0.conv1.weight").ToArray();   // 64·9 inputs: std 1/24
        double std = Math.Sqrt(w.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.9 / 24, 1.1 / 24);
        using var z = cpu.Zeros(1, 4, 4, 4);
        Ops.FillGaussian(cpu, z, 1);
        using var y = a.Decode(z);
        Assert.All(y.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>
    /// SD 1.5's decoder at 512² (latent 64²) on the meta accelerator: shapes and costs only, in well under a second.
    /// Its parameter count equals diffusers' (sum(p.numel() for p in vae.decoder.parameters()) = 49,490,179, plus 20 of
    /// post_quant_conv), and its matmul FLOPs equal an independent count of the graph.
    /// </summary>
    [Fact]
    public void Sd15_Decoder512_OnMeta_CostsWithoutMemory()
    {
        using var meta = new MetaAccelerator();
        var cfg = VaeConfig.Preset("sd15");
        Assert.Equal(49_490_179L + 20, cfg.DecoderParameterCount);
        long gcBefore = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        using var vae = VaeDecoder.Random(meta, cfg);
        Assert.Equal(49_490_179L + 20, vae.ParameterCount);
        long weights = meta.Memory.InUse;
        Assert.Equal(4 * (49_490_179L + 20), weights);
        meta.Ledger.Clear();
        meta.ResetPeak();
        using var z = meta.Allocate(1, 4, 64, 64);
        using var y = vae.Decode(z);
        sw.Stop();
        Assert.Equal([1, 3, 512, 512], y.Shape.ToArray());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"meta decode took {sw.Elapsed.TotalSeconds:F3} s");
        // The peak of live activations is in up_blocks.3's first resnet at 512²: its input x [1,256,512²] and norm1(x)
        // (kept for the conv_shortcut), conv1's output [1,128,512²], and the latent — exact bytes, no pool classes.
        long peakActivations = meta.Memory.Peak - weights;
        Assert.Equal(4L * (2 * 256 * 512 * 512 + 128 * 512 * 512 + 4 * 64 * 64), peakActivations);
        // No real memory: the managed heap grew by far less than that peak (671 MB).
        long managed = GC.GetAllocatedBytesForCurrentThread() - gcBefore;
        Assert.True(managed < 32L << 20, $"managed allocations {managed:N0} B");
        Assert.Equal(weights + y.Bytes + z.Bytes, meta.Memory.InUse);   // every activation freed

        var cost = meta.Ledger.TotalCost();
        Assert.Equal(ExpectedMatmulFlops(cfg, 1, 64, 64), cost.MatmulFlops);
        output.WriteLine($"SD 1.5 VAE decode 512²: {meta.Ledger.Count} launches, {cost}, peak activations {peakActivations:N0} B, in {sw.Elapsed.TotalMilliseconds:F1} ms");
    }

    /// <summary>
    /// Matmul FLOPs of the decode, counted from the architecture (2 per MAC; bias excluded): each conv 2·Cout·Cin·k²·H·W,
    /// each linear 2·HW·C², attention 2·2·HW²·C.
    /// </summary>
    private static long ExpectedMatmulFlops(VaeConfig c, int b, int h, int w)
    {
        long total = 0;
        long Conv(int cin, int cout, int k, int hh, int ww) => 2L * b * cout * cin * k * k * hh * ww;
        long Res(int cin, int cout, int hh, int ww) => Conv(cin, cout, 3, hh, ww) + Conv(cout, cout, 3, hh, ww) + (cin != cout ? Conv(cin, cout, 1, hh, ww) : 0);
        int top = c.BlockOutChannels[^1], lat = c.LatentChannels;
        total += Conv(lat, lat, 1, h, w) + Conv(lat, top, 3, h, w);
        long hw = (long)h * w;
        total += 2 * Res(top, top, h, w) + 4 * 2L * b * hw * top * top + 4L * b * hw * hw * top;
        var rev = c.BlockOutChannels.Reverse().ToArray();
        int prev = rev[0];
        for (int i = 0; i < rev.Length; i++)
        {
            for (int j = 0; j <= c.LayersPerBlock; j++) total += Res(j == 0 ? prev : rev[i], rev[i], h, w);
            prev = rev[i];
            if (i != rev.Length - 1) { h *= 2; w *= 2; total += Conv(rev[i], rev[i], 3, h, w); }
        }
        return total + Conv(c.BlockOutChannels[0], c.OutChannels, 3, h, w);
    }

    [Fact]
    public void Config_PresetsAndBadFiles()
    {
        var sdxl = VaeConfig.Preset("sdxl");
        Assert.Equal(0.13025, sdxl.ScalingFactor);
        Assert.Equal([128, 256, 512, 512], sdxl.BlockOutChannels);
        Assert.Equal(8, sdxl.UpscaleFactor);
        Assert.Equal(0.18215, VaeConfig.Preset("sd21").ScalingFactor);
        Assert.Throws<ArgumentException>(() => VaeConfig.Preset("sd3"));
        Assert.Contains("\"norm_num_groups\" = 24 does not divide", Assert.Throws<InvalidDataException>(() =>
            VaeConfig.Parse("""{"block_out_channels":[32,64],"norm_num_groups":24}""", "x.json")).Message);
        Assert.Contains("x.json: \"layers_per_block\" must be an integer", Assert.Throws<InvalidDataException>(() =>
            VaeConfig.Parse("""{"layers_per_block":"two"}""", "x.json")).Message);
        Assert.Contains("x.json: not valid JSON", Assert.Throws<InvalidDataException>(() => VaeConfig.Parse("{", "x.json")).Message);
        Assert.Contains("act_fn", Assert.Throws<NotSupportedException>(() => VaeConfig.Parse("""{"act_fn":"relu"}""", "x.json")).Message);
    }
}
