using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// UnetModel against diffusers 0.27.2 (Golden/unet/, copied from the shared golden data: tiny SD1-, SD2- and SDXL-style
/// UNet2DConditionModels with random weights, inputs, the float64 output `out` and the `debug.*` block outputs; made by
/// the shared golden script with PyTorch 1.13, see that README). The forward pass runs on our CpuAccelerator (and once
/// on ILGPU's CPU accelerator) and must match the float64 output and every recorded intermediate; also the ledger's
/// scopes and launch count, the configs and presets, and the errors for weights that do not fit the config.
/// </summary>
[Trait("Golden", "diffusers 0.27.2 tiny UNets (Golden/unet)")]
public class UnetTests(ITestOutputHelper output)
{
    // Tolerance of our fp32 forward pass against diffusers' float64 one, |ours − ref| ≤ Atol + Rtol·|ref|: each of the
    // ~60 ops on the longest path rounds to fp32 (6e-8 relative) with sums of up to 9·C = 576 terms (3×3 convs over 64
    // channels) and GroupNorm/LayerNorm divisions that amplify errors by 1/σ of their input; activations stay O(1–10).
    // The golden values are float64 results stored as F32 (one more rounding). Measured worst differences (printed by
    // each test): 1.3e-5 absolute, 0.09 of this tolerance, in SDXL's up_blocks.0 on the CPU; 1.4e-5 (0.11) in SD1's
    // up_blocks.1 on ilgpu-cpu; the final outputs within 2.5e-6. 1e-4 + 1e-4·|ref| leaves a factor ≈ 9 for other SIMD
    // widths, thread counts and summation orders, while a single wrongly wired tensor moves block outputs by O(0.1)
    // (every golden weight is random).
    private const double Atol = 1e-4, Rtol = 1e-4;

    private static string Dir(string model) => Path.Combine(AppContext.BaseDirectory, "Golden", "unet", $"unet_{model}_tiny");

    /// <summary>Largest |ours − ref| and the worst ratio to the tolerance, for the test output.</summary>
    private static (double Worst, double Ratio) Error(float[] expected, float[] actual)
    {
        double worst = 0, ratio = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            worst = Math.Max(worst, d);
            ratio = Math.Max(ratio, d / (Atol + Rtol * Math.Abs(expected[i])));
        }
        return (worst, ratio);
    }

    private sealed record GoldenRun(float[] Out, Dictionary<string, float[]> Debug, int Launches, Ledger Ledger, int[] Shape);

    /// <summary>Loads the model, runs Forward on the io.safetensors inputs (the first <paramref name="batch"/> samples
    /// of them, all by default) and collects every observed block output.</summary>
    private static GoldenRun Run(IAccelerator acc, string model, int? batch = null)
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir(model), "io.safetensors"));
        using var unet = UnetModel.Load(acc, Dir(model));
        Tensor Input(string name)
        {
            var shape = io.Shape(name);
            var data = io.ReadFloats(name);
            if (batch is { } b && b < shape[0])
            {
                data = data[..(int)(data.Length / shape[0] * b)];
                shape[0] = b;
            }
            return acc.FromArray(data, shape);
        }
        using var sample = Input("sample");
        using var t = Input("timestep");
        using var ctx = Input("encoder_hidden_states");
        Tensor? text = null, ids = null;
        if (io.Contains("text_embeds"))
        {
            text = Input("text_embeds");
            ids = Input("time_ids");
        }
        var debug = new Dictionary<string, float[]>();
        acc.Ledger.Clear();
        int before = acc.Ledger.Count;
        using var y = unet.Forward(sample, t, ctx, text, ids, (name, tensor) => debug[name] = tensor.ToArray());
        acc.Synchronize();
        int launches = acc.Ledger.Count - before;
        var result = y.ToArray();
        text?.Dispose();
        ids?.Dispose();
        return new GoldenRun(result, debug, launches, acc.Ledger, y.Shape.ToArray());
    }

    private void CheckAgainstGolden(string model, GoldenRun run, double atol = Atol, double rtol = Rtol)
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir(model), "io.safetensors"));
        // Block outputs first: a fault shows up at the first block that differs.
        foreach (var name in io.Tensors.Select(x => x.Name).Where(n => n.StartsWith("debug.", StringComparison.Ordinal)))
        {
            string block = name["debug.".Length..];
            Assert.True(run.Debug.ContainsKey(block), $"{model}: Forward did not report block '{block}'");
            // A run on the first samples only compares those (samples are independent: dim 0 is the batch).
            var want = io.ReadFloats(name)[..run.Debug[block].Length];
            var (worst, ratio) = Error(want, run.Debug[block]);
            output.WriteLine($"{model} {block,-16} worst |diff| {worst:E2} ({ratio:F3} of the tolerance)");
            Close.All(want, run.Debug[block], atol, rtol, ShapeOf(io, name, run.Shape[0]), $"{model} {block}");
        }
        var expected = io.ReadFloats("out")[..run.Out.Length];
        Assert.Equal(ShapeOf(io, "out", run.Shape[0]), run.Shape);
        var (w, r) = Error(expected, run.Out);
        output.WriteLine($"{model} out              worst |diff| {w:E2} ({r:F3} of the tolerance); {run.Launches} launches");
        Close.All(expected, run.Out, atol, rtol, ShapeOf(io, "out", run.Shape[0]), $"{model} out");
    }

    private static int[] ShapeOf(SafetensorsFile io, string name, int batch)
    {
        var s = io.Shape(name);
        s[0] = batch;
        return s;
    }

    [Theory]
    [InlineData("sd1", 2)]
    [InlineData("sd2", 2)]
    [InlineData("sdxl", 2)]
    [InlineData("sd1", 1)] // the first sample alone, as the ilgpu-cpu test runs it
    public void Forward_OnCpu_MatchesDiffusers(string model, int batch)
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var run = Run(cpu, model, batch);
        Assert.Equal(batch, run.Shape[0]);
        CheckAgainstGolden(model, run);
    }

    /// <summary>Opt-in (PIXELCOST_SLOW_TESTS=1): minutes on ILGPU's simulated device, too slow for CI's budget; every
    /// ILGPU kernel the forward uses is checked in CI by `verify --accelerator ilgpu-cpu`, and the same model code by
    /// the cpu tests.</summary>
    [SkippableFact]
    public void Forward_OnIlgpuCpu_MatchesDiffusers()
    {
        Skip.IfNot(Environment.GetEnvironmentVariable("PIXELCOST_SLOW_TESTS") == "1",
            "a whole UNet on ILGPU's simulated device takes ~9 minutes on 2 cores; set PIXELCOST_SLOW_TESTS=1 to run it");
        // ILGPU's CPU accelerator runs the GPU kernels (their default variants there are the SIMT fp32 ones, no tensor
        // cores), simulated thread by thread: slow (≈13 min for the golden batch of 2 on a busy 2-core machine, 8.7 min
        // for one sample, of which attention's 12 launches took 427 s), so one forward of the SD1-style model on the
        // first sample only (samples are independent), against the golden's first sample. Same fp32 tolerance:
        // measured worst 1.4e-5 (0.11 of it) in up_blocks.1, 2.5e-6 in the output.
        using var acc = IlgpuAccelerator.CreateCpu();
        var run = Run(acc, "sd1", batch: 1);
        foreach (var (op, launches, _, elapsed) in run.Ledger.ByOp().OrderByDescending(o => o.Elapsed).Take(6))
            output.WriteLine($"ilgpu-cpu {op,-20} {run.Ledger.Entries.First(e => e.Op == op).Variant,-28} {launches,4} launches {elapsed.TotalSeconds,8:F1} s");
        CheckAgainstGolden("sd1", run);
        Assert.Equal(Sd1TinyLaunches, run.Launches);
    }

    // Launches of one forward of the SD1/SD2-style tiny model (2 levels, 2 layers, depth 1), counted by hand from the
    // graph: time 5 (sinusoid, linear, silu, linear, silu of temb shared by every resnet); conv_in 1; a resnet 7
    // (norm1+silu, conv1, time_emb_proj, add_channel_bias, norm2+silu, conv2, add) + 1 with a 1×1 shortcut; a
    // transformer 25 (group norm, proj_in, copy to [B,HW,C]; attn1 7 = layer norm, q, k, v, attention, out, add;
    // attn2 7; ff 5 = layer norm, linear, geglu, linear, add; copy back, proj_out, add). down_blocks.0 = 2·(7+25) + 1
    // downsample = 65; down_blocks.1 = 8 + 7 = 15; mid 7 + 25 + 7 = 39; up_blocks.0 = 3·(concat 1 + 8) + upsample 2 = 29;
    // up_blocks.1 = 3·(1 + 8 + 25) = 102; conv_norm_out + conv_out 2. Total 258.
    private const int Sd1TinyLaunches = 258;

    [Fact]
    public void Forward_LedgerScopesRollUpToDiffusersModules()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var run = Run(cpu, "sd1");
        Assert.Equal(Sd1TinyLaunches, run.Launches);
        Assert.All(run.Ledger.Entries, e => Assert.NotEqual("", e.Scope));
        var top = run.Ledger.ByScope(1).ToDictionary(s => s.Scope, s => s.Launches);
        string[] modules = ["time_proj", "time_embedding", "conv_in", "down_blocks.0", "down_blocks.1", "mid_block",
            "up_blocks.0", "up_blocks.1", "conv_norm_out", "conv_out"];
        Assert.Equal(modules.Order(), top.Keys.Order());
        Assert.Equal(1, top["time_proj"]);
        Assert.Equal(4, top["time_embedding"]);
        Assert.Equal(65, top["down_blocks.0"]);
        Assert.Equal(15, top["down_blocks.1"]);
        Assert.Equal(39, top["mid_block"]);
        Assert.Equal(29, top["up_blocks.0"]);
        Assert.Equal(102, top["up_blocks.1"]);
        var deep = run.Ledger.ByScope().Select(s => s.Scope).ToHashSet();
        foreach (var path in new[]
                 {
                     "down_blocks.0/resnets.0", "down_blocks.0/attentions.1/transformer_blocks.0/attn1",
                     "down_blocks.0/attentions.1/transformer_blocks.0/attn2", "down_blocks.0/attentions.0/transformer_blocks.0/ff",
                     "down_blocks.0/downsamplers.0", "mid_block/attentions.0", "up_blocks.0/upsamplers.0", "up_blocks.1/resnets.2",
                 })
            Assert.Contains(path, deep);
        // Every scope's costs add up to the whole pass.
        Assert.Equal(run.Ledger.TotalCost().MatmulFlops, run.Ledger.ByScope(1).Sum(s => s.Cost.MatmulFlops));
    }

    /// <summary>
    /// Matmul FLOPs of one pass as PyTorch's FlopCounterMode counts them (2 per MAC of every convolution, linear layer
    /// and the two attention matmuls; biases excluded), computed here independently from the parameter list: each
    /// weight's MACs per output position times the positions it is applied at, plus 2·2·B·Lq·Lk·C per attention.
    /// </summary>
    private static long ExpectedMatmulFlops(UnetConfig c, int batch, int height, int width, int contextLen)
    {
        int n = c.Levels;
        long Positions(string name)
        {
            int Res(int level) => (height >> level) * (width >> level);
            string[] parts = name.Split('.');
            if (name.Contains("time_emb_proj") || parts[0] is "time_embedding" or "add_embedding") return batch;
            if (name.Contains(".attn2.to_k") || name.Contains(".attn2.to_v")) return (long)batch * contextLen;
            int level = parts[0] switch
            {
                "down_blocks" => int.Parse(parts[1]) + (name.Contains("downsamplers") ? 1 : 0),
                "up_blocks" => n - 1 - int.Parse(parts[1]) - (name.Contains("upsamplers") ? 1 : 0),
                "mid_block" => n - 1,
                _ => 0,
            };
            return (long)batch * Res(level);
        }
        long flops = 0;
        foreach (var (name, shape) in UnetModel.ParameterShapes(c))
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || shape.Length < 2) continue;
            flops += 2 * Tensor.ElementCount(shape) * Positions(name);
            if (name.EndsWith(".attn1.to_q.weight", StringComparison.Ordinal) || name.EndsWith(".attn2.to_q.weight", StringComparison.Ordinal))
            {
                long lq = Positions(name) / batch, lk = name.Contains(".attn1.") ? lq : contextLen;
                flops += 2L * 2 * batch * lq * lk * shape[0];
            }
        }
        return flops;
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    [InlineData("sdxl")]
    public void Forward_MatmulFlopsEqualTheGraphsCount(string model)
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var run = Run(cpu, model);
        var cfg = UnetConfig.Load(Dir(model));
        using var io = SafetensorsFile.Open(Path.Combine(Dir(model), "io.safetensors"));
        var s = io.Shape("sample");
        long expected = ExpectedMatmulFlops(cfg, s[0], s[2], s[3], io.Shape("encoder_hidden_states")[1]);
        output.WriteLine($"{model}: {run.Ledger.TotalCost().MatmulFlops:N0} matmul FLOPs");
        Assert.Equal(expected, run.Ledger.TotalCost().MatmulFlops);
    }

    [Fact]
    public void Sd15_At512_OnePass_MatmulFlopsEqualPyTorchs()
    {
        // The yardstick: SD 1.5 UNet at 512² (64² latent), batch 1, 77 tokens = 803,273,441,280 matmul FLOPs by
        // PyTorch's FlopCounterMode. A dry run records every launch's Spec cost without running kernels (the random
        // weights are allocated but never touched, so this takes seconds).
        using var cpu = new CpuAccelerator(threads: 1) { DryRun = true };
        var cfg = UnetConfig.Preset("sd15");
        using var unet = UnetModel.Random(cpu, cfg, seed: 1);
        Assert.Equal(859_520_964, unet.ParameterCount);
        using var x = cpu.Allocate(1, 4, 64, 64);
        using var t = cpu.Allocate(1);
        using var ctx = cpu.Allocate(1, 77, 768);
        cpu.Ledger.Clear();
        using var y = unet.Forward(x, t, ctx);
        Assert.Equal(803_273_441_280, cpu.Ledger.TotalCost().MatmulFlops);
        Assert.Equal(ExpectedMatmulFlops(cfg, 1, 64, 64, 77), cpu.Ledger.TotalCost().MatmulFlops);

        // Batch 2 (classifier-free guidance): twice the FLOPs; the pool's peak beyond the weights — every activation
        // the graph holds at once, skips included, in pool size classes — within the 1.5 GB budget.
        long weights = cpu.Memory.InUse - x.Bytes - t.Bytes - ctx.Bytes - y.Bytes;
        using var x2 = cpu.Allocate(2, 4, 64, 64);
        using var t2 = cpu.Allocate(2);
        using var ctx2 = cpu.Allocate(2, 77, 768);
        cpu.Ledger.Clear();
        long before = cpu.Memory.InUse;
        using var y2 = unet.Forward(x2, t2, ctx2);
        Assert.Equal(2 * 803_273_441_280, cpu.Ledger.TotalCost().MatmulFlops);
        long activations = cpu.Memory.Peak - before;
        output.WriteLine($"SD 1.5 512² batch 2: weights {weights / 1e6:F0} MB (pool classes), activation peak {activations / 1e6:F0} MB");
        Assert.True(activations < 1_500_000_000L, $"activation peak {activations:N0} bytes");
    }

    [Theory]
    [InlineData("sd15", 859_520_964L)]
    [InlineData("sd21", 865_910_724L)]
    [InlineData("sd21-base", 865_910_724L)]
    [InlineData("sd-turbo", 865_910_724L)]
    [InlineData("sdxl", 2_567_463_684L)]
    [InlineData("sdxl-turbo", 2_567_463_684L)]
    public void Presets_HaveThePublishedParameterCounts(string preset, long parameters)
    {
        var cfg = UnetConfig.Preset(preset);
        Assert.Equal(parameters, UnetModel.ParameterShapes(cfg).Sum(p => Tensor.ElementCount(p.Shape)));
    }

    [Fact]
    public void Configs_ParseTheGoldenFiles()
    {
        var sd1 = UnetConfig.Load(Dir("sd1"));
        Assert.Equal([32, 64], sd1.BlockOutChannels);
        Assert.Equal([4, 4], sd1.HeadsPerBlock); // legacy attention_head_dim = head count
        Assert.False(sd1.UseLinearProjection);
        Assert.Equal(32, sd1.CrossAttentionDim);
        Assert.Equal(8, sd1.NormNumGroups);
        var sd2 = UnetConfig.Load(Path.Combine(Dir("sd2"), "config.json"));
        Assert.Equal([2, 4], sd2.HeadsPerBlock);
        Assert.True(sd2.UseLinearProjection);
        Assert.Equal(48, sd2.CrossAttentionDim);
        var xl = UnetConfig.Load(Dir("sdxl"));
        Assert.True(xl.HasTextTimeEmbedding);
        Assert.Equal([1, 1, 2], xl.TransformerLayersPerBlock);
        Assert.Equal(8, xl.AdditionTimeEmbedDim);
        Assert.Equal(72, xl.ProjectionClassEmbeddingsInputDim);
        Assert.Equal([UnetConfig.Down, UnetConfig.CrossAttnDown, UnetConfig.CrossAttnDown], xl.DownBlockTypes);
    }

    [Theory]
    [InlineData("\"CrossAttnDownBlock2D\",", "\"SimpleCrossAttnDownBlock2D\",", "down_block_types")]
    [InlineData("\"act_fn\": \"silu\"", "\"act_fn\": \"gelu\"", "act_fn")]
    [InlineData("\"attention_head_dim\": 4", "\"attention_head_dim\": 5", "attention_head_dim")]
    [InlineData("\"norm_num_groups\": 8", "\"norm_num_groups\": \"eight\"", "norm_num_groups")]
    [InlineData("\"time_cond_proj_dim\": null", "\"time_cond_proj_dim\": 256", "time_cond_proj_dim")]
    public void Config_UnsupportedValue_NamesFileAndField(string from, string to, string field)
    {
        string dir = Directory.CreateTempSubdirectory("unet-config-").FullName;
        try
        {
            string text = File.ReadAllText(Path.Combine(Dir("sd1"), "config.json"));
            Assert.Contains(from, text);
            string file = Path.Combine(dir, "config.json");
            File.WriteAllText(file, text.Replace(from, to));
            var e = Assert.Throws<InvalidDataException>(() => UnetConfig.Load(dir));
            output.WriteLine(e.Message);
            Assert.Contains(file, e.Message);
            Assert.Contains($"\"{field}\"", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>A copy of the SD1 tiny model folder with its weights rewritten by <paramref name="edit"/>.</summary>
    private static string EditedCopy(Func<string, float[], int[], (float[] Data, int[] Shape)?> edit)
    {
        string dir = Directory.CreateTempSubdirectory("unet-weights-").FullName;
        File.Copy(Path.Combine(Dir("sd1"), "config.json"), Path.Combine(dir, "config.json"));
        using var src = SafetensorsFile.Open(Path.Combine(Dir("sd1"), "diffusion_pytorch_model.safetensors"));
        var w = new SafetensorsWriter();
        foreach (var t in src.Tensors)
            if (edit(t.Name, src.ReadFloats(t.Name), t.Shape) is { } e) w.Add(t.Name, e.Data, e.Shape);
        w.Save(Path.Combine(dir, "diffusion_pytorch_model.safetensors"));
        return dir;
    }

    [Fact]
    public void Load_WrongShape_NamesFileTensorAndShapes()
    {
        const string name = "down_blocks.0.attentions.1.transformer_blocks.0.ff.net.0.proj.weight";
        string dir = EditedCopy((n, d, s) => n == name ? (d, [s[1], s[0]]) : (d, s));
        try
        {
            using var cpu = new CpuAccelerator(threads: 1);
            var e = Assert.Throws<InvalidDataException>(() => UnetModel.Load(cpu, dir));
            output.WriteLine(e.Message);
            Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
            Assert.Contains($"'{name}'", e.Message);
            Assert.Contains("has shape [32,256]", e.Message);
            Assert.Contains("expects [256,32]", e.Message);
            Assert.Equal(0, cpu.Memory.InUse);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_MissingTensor_NamesIt()
    {
        const string name = "up_blocks.1.resnets.2.conv_shortcut.bias";
        string dir = EditedCopy((n, d, s) => n == name ? null : (d, s));
        try
        {
            using var cpu = new CpuAccelerator(threads: 1);
            var e = Assert.Throws<InvalidDataException>(() => UnetModel.Load(cpu, dir));
            output.WriteLine(e.Message);
            Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
            Assert.Contains($"'{name}' is missing", e.Message);
            Assert.Contains("[32]", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Load_ConfigOfAnotherModel_IsRefused()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        // SD2 weights with the SD1 config: the linear [C,C] projections are not the 1×1 convolutions it describes.
        var e = Assert.Throws<InvalidDataException>(() => UnetModel.Load(cpu, Dir("sd2"), UnetConfig.Load(Dir("sd1"))));
        output.WriteLine(e.Message);
        Assert.Contains("diffusion_pytorch_model.safetensors", e.Message);
    }

    [Fact]
    public void Random_IsDeterministicAndRuns()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var cfg = UnetConfig.Load(Dir("sd2"));
        float[] Once()
        {
            using var unet = UnetModel.Random(cpu, cfg, seed: 7);
            using var x = cpu.FromArray(Enumerable.Range(0, 2 * 4 * 8 * 8).Select(i => MathF.Sin(i)).ToArray(), 2, 4, 8, 8);
            using var t = cpu.FromArray([999f, 10f], 2);
            using var ctx = cpu.FromArray(Enumerable.Range(0, 2 * 5 * 48).Select(i => MathF.Cos(i)).ToArray(), 2, 5, 48);
            using var y = unet.Forward(x, t, ctx);
            return y.ToArray();
        }
        long inUse = cpu.Memory.InUse;
        var a = Once();
        Assert.Equal(inUse, cpu.Memory.InUse); // weights and every activation returned to the pool
        Assert.Equal(a, Once());
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
        Assert.True(a.Select(v => (double)v * v).Average() > 1e-4, "random weights give a non-trivial output");
    }

    [Fact]
    public void Load_PipelineFolderAndSingleFile_GiveTheSameWeights()
    {
        string dir = Directory.CreateTempSubdirectory("unet-pipeline-").FullName;
        try
        {
            string unetDir = Directory.CreateDirectory(Path.Combine(dir, "unet")).FullName;
            foreach (var f in new[] { "config.json", "diffusion_pytorch_model.safetensors" })
                File.Copy(Path.Combine(Dir("sd1"), f), Path.Combine(unetDir, f));
            using var cpu = new CpuAccelerator(threads: 1);
            using var a = UnetModel.Load(cpu, Dir("sd1"));
            using var b = UnetModel.Load(cpu, dir);
            using var c = UnetModel.Load(cpu, Path.Combine(unetDir, "diffusion_pytorch_model.safetensors"));
            Assert.Equal(UnetModel.ParameterShapes(a.Config).Count, a.Weights.Count);
            foreach (var (name, w) in a.Weights)
            {
                Assert.Equal(w.ToArray(), b.Weights[name].ToArray());
                Assert.Equal(w.ToArray(), c.Weights[name].ToArray());
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Forward_BadInputs_SayWhatIsExpected()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        using var unet = UnetModel.Load(cpu, Dir("sd1"));
        using var x = cpu.Zeros(1, 4, 16, 16);
        using var odd = cpu.Zeros(1, 4, 15, 16);
        using var x3 = cpu.Zeros(1, 3, 16, 16);
        using var t = cpu.Zeros(1);
        using var ctx = cpu.Zeros(1, 7, 32);
        using var ctxWide = cpu.Zeros(1, 7, 48);
        cpu.Ledger.Clear();
        Assert.Contains("[B,4,H,W]", Assert.Throws<ArgumentException>(() => unet.Forward(x3, t, ctx)).Message);
        Assert.Contains("divisible by 2", Assert.Throws<ArgumentException>(() => unet.Forward(odd, t, ctx)).Message);
        Assert.Contains("[1,T,32]", Assert.Throws<ArgumentException>(() => unet.Forward(x, t, ctxWide)).Message);
        Assert.Equal(0, cpu.Ledger.Count);

        using var xl = UnetModel.Load(cpu, Dir("sdxl"));
        using var ctx40 = cpu.Zeros(1, 7, 40);
        Assert.Contains("text_embeds and time_ids", Assert.Throws<ArgumentException>(() => xl.Forward(x, t, ctx40)).Message);
    }

    [Fact]
    public void Load_LdmSingleFile_GivesTheDiffusersWeights()
    {
        // The golden single-file copy of the same weights (model.diffusion_model.input_blocks…): every tensor, by value.
        using var cpu = new CpuAccelerator(threads: 1);
        using var a = UnetModel.Load(cpu, Dir("sd1"));
        using var b = UnetModel.Load(cpu, Path.Combine(Dir("sd1"), "ldm_checkpoint.safetensors"));
        Assert.Equal(a.Weights.Count, b.Weights.Count);
        foreach (var (name, w) in a.Weights) Assert.Equal(w.ToArray(), b.Weights[name].ToArray());
    }

    [Theory]
    [InlineData("unet_sd1_tiny")]
    [InlineData("unet_sd2_tiny")]
    [InlineData("unet_sdxl_tiny")]
    public void Load_LdmNames_MapEveryTensorOfTheGoldenHeaders(string model)
    {
        // Names and shapes only (Golden/models keeps the headers; the data section is zeros): every LDM tensor maps to
        // one diffusers parameter with its shape, none left over — SDXL's label_emb and depth-2 blocks included.
        string dir = GoldenModels.Materialize(model, Directory.CreateTempSubdirectory("unet-ldm-").FullName);
        try
        {
            using var cpu = new CpuAccelerator(threads: 1);
            using var unet = UnetModel.Load(cpu, Path.Combine(dir, "ldm_checkpoint.safetensors"));
            using var ck = SafetensorsFile.Open(Path.Combine(dir, "ldm_checkpoint.safetensors"));
            Assert.Equal(ck.Tensors.Count(t => t.Name.StartsWith(UnetModel.LdmPrefix, StringComparison.Ordinal)), unet.Weights.Count);
            Assert.Equal(UnetModel.ParameterShapes(unet.Config).Count, unet.Weights.Count);
        }
        finally { Directory.Delete(dir, true); }
    }
}
