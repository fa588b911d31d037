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
/// The AutoencoderKL encoder (+ quant_conv). The shared golden data has no encoder output, so the tiny VAE's encoder
/// is checked against <see cref="Naive"/>: a separate float64 transcription of diffusers 0.27.2's Encoder in plain
/// loops (no Ops, no shared code with the model), whose building blocks are themselves checked by running the
/// decoder through them against diffusers' golden image. What this cannot catch is a misreading of diffusers shared by
/// both transcriptions; the weights' names and shapes (every encoder tensor of the file used, each shape checked) pin
/// the structure.
/// </summary>
[Trait("Golden", "diffusers 0.27.2 AutoencoderKL (Golden/vae_tiny), encoder vs a float64 transcription")]
public sealed class VaeEncoderTests(ITestOutputHelper output)
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "vae_tiny");

    private static float[] TestImage(int n, int seed)
    {
        var r = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    [Fact]
    public void NaiveTranscription_Decoder_MatchesDiffusers()
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir, "io.safetensors"));
        var naive = new Naive(Path.Combine(Dir, "diffusion_pytorch_model.safetensors"), VaeConfig.Load(Dir));
        var got = naive.Decode(io.ReadDoubles("latent"), 8, 8);
        var image = io.ReadFloats("image");
        // float64 against float64 (diffusers' output stored as F32): the difference is the F32 rounding of the stored image.
        Close.All(image, got.Select(v => (float)v).ToArray(), 1e-6, 1e-6, io.Shape("image"), "naive decoder vs diffusers");
    }

    [Fact]
    public void Cpu_Encode_MatchesTheFloat64Transcription()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        EncodeAndCompare(cpu);
    }

    [Fact]
    public void IlgpuCpu_Encode_MatchesTheFloat64Transcription()
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        EncodeAndCompare(acc);
    }

    private void EncodeAndCompare(IAccelerator cpu)
    {
        var cfg = VaeConfig.Load(Dir);
        var img = TestImage(3 * 16 * 16, 11);
        var naive = new Naive(Path.Combine(Dir, "diffusion_pytorch_model.safetensors"), cfg);
        var expect = naive.Encode(img.Select(v => (double)v).ToArray(), 16, 16);

        using var enc = VaeEncoder.Load(cpu, Dir);
        using var x = cpu.FromArray(img, 1, 3, 16, 16);
        long before = cpu.Memory.InUse;
        using var m = enc.Encode(x);
        Assert.Equal([1, 8, 8, 8], m.Shape.ToArray());
        Assert.Equal(before + BufferPool.SizeClass(m.Bytes), cpu.Memory.InUse);   // activations freed
        var got = m.ToArray();
        double max = got.Select((v, i) => Math.Abs(v - expect[i])).Max();
        output.WriteLine($"encoder on {cpu.Id}: max |got − float64 transcription| = {max:G3}");
        // Same float32-vs-float64 budget as the decoder's golden test (reductions of ≤ 576 terms through ~20 layers).
        Close.All(expect.Select(v => (float)v).ToArray(), got, 2e-5, 2e-5, new[] { 1, 8, 8, 8 }, "encoder moments");

        Assert.Equal(["encoder", "quant_conv"], cpu.Ledger.ByScope(1).Select(s => s.Scope).Where(s => s != "").Order().ToArray());
        Assert.Equal(2, cpu.Ledger.Entries.Count(e => e.Op == "concat" && e.Scope == "encoder/down_blocks.0/downsamplers.0"));
        Assert.Single(cpu.Ledger.Entries, e => e.Op == "attention" && e.Scope == "encoder/mid_block/attentions.0");
    }

    [Fact]
    public void Encode_FromLdmNamedWeights_EqualsDiffusersNamed()
    {
        using var cpu = new CpuAccelerator(threads: 2);
        using var a = VaeEncoder.Load(cpu, Dir);
        using var b = VaeEncoder.Load(cpu, Path.Combine(Dir, "ldm_checkpoint.safetensors"));
        using var x = cpu.FromArray(TestImage(3 * 16 * 16, 5), 1, 3, 16, 16);
        using var ma = a.Encode(x);
        using var mb = b.Encode(x);
        Assert.Equal(ma.ToArray(), mb.ToArray());   // the same weights under other names: bit-identical
    }

    [Fact]
    public void Load_UsesEveryEncoderTensor_AndChecksShapes()
    {
        using var cpu = new CpuAccelerator(threads: 1);
        using var enc = VaeEncoder.Load(cpu, Dir);
        using var ckpt = SafetensorsCheckpoint.Open(Path.Combine(Dir, "diffusion_pytorch_model.safetensors"));
        long inFile = ckpt.ListTensors().Where(t => t.Name.StartsWith("encoder.", StringComparison.Ordinal) || t.Name.StartsWith("quant_conv.", StringComparison.Ordinal))
            .Sum(t => t.ElementCount);
        Assert.Equal(inFile, enc.ParameterCount);
        var wrong = VaeConfig.Load(Dir) with { LatentChannels = 8, Source = "test config" };
        var e = Assert.Throws<InvalidDataException>(() => VaeEncoder.Load(cpu, Path.Combine(Dir, "diffusion_pytorch_model.safetensors"), wrong));
        Assert.Contains("'encoder.conv_out.weight' has shape [8,64,3,3], expected [16,64,3,3] for the VAE encoder of test config", e.Message);
        using var bad = cpu.Zeros(1, 3, 15, 16);
        Assert.Contains("multiples of 2", Assert.Throws<ArgumentException>(() => enc.Encode(bad)).Message);
    }

    [Fact]
    public void Meta_LedgerEqualsCpu_AndSd15EncoderCosts()
    {
        var cfg = VaeConfig.Load(Dir);
        using var cpu = new CpuAccelerator(threads: 2);
        using var meta = new MetaAccelerator();
        using var ec = VaeEncoder.Random(cpu, cfg, 5);
        using var em = VaeEncoder.Random(meta, cfg, 5);
        using var xc = cpu.Zeros(2, 3, 16, 16);
        using var xm = meta.Allocate(2, 3, 16, 16);
        cpu.Ledger.Clear();
        meta.Ledger.Clear();
        using (ec.Encode(xc)) { }
        using (em.Encode(xm)) { }
        Assert.Equal(cpu.Ledger.Entries.Select(e => (e.Op, e.Shape, e.Scope, e.Cost)), meta.Ledger.Entries.Select(e => (e.Op, e.Shape, e.Scope, e.Cost)));

        // SD's encoder: diffusers' sum(p.numel() for p in vae.encoder.parameters()) = 34,163,592, quant_conv 72.
        var sd = VaeConfig.Preset("sd15");
        Assert.Equal(34_163_592L + 72, sd.EncoderParameterCount);
        using var meta2 = new MetaAccelerator();
        var sw = Stopwatch.StartNew();
        using var enc = VaeEncoder.Random(meta2, sd);
        Assert.Equal(34_163_592L + 72, enc.ParameterCount);
        meta2.Ledger.Clear();
        using var img = meta2.Allocate(1, 3, 512, 512);
        using var moments = enc.Encode(img);
        Assert.Equal([1, 8, 64, 64], moments.Shape.ToArray());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1));
        output.WriteLine($"SD 1.5 VAE encode 512²: {meta2.Ledger.Count} launches, {meta2.Ledger.TotalCost()}");
    }

    /// <summary>
    /// diffusers 0.27.2's AutoencoderKL, transcribed in float64 plain loops for batch 1 (independent of Ops and of
    /// VaeGraph): Conv2d with explicit per-side padding, GroupNorm, SiLU, ResnetBlock2D, the VAE's single-head
    /// Attention, Upsample2D, Downsample2D (F.pad (0,1,0,1) then a stride-2 conv), Encoder, Decoder.
    /// </summary>
    private sealed class Naive
    {
        private readonly Dictionary<string, (double[] V, int[] S)> _w = new();
        private readonly VaeConfig _c;

        public Naive(string file, VaeConfig c)
        {
            _c = c;
            using var f = SafetensorsFile.Open(file);
            foreach (var t in f.Tensors) _w[t.Name] = (f.ReadDoubles(t.Name), t.Shape);
        }

        private sealed record T(double[] V, int C, int H, int W);

        private T Conv(T x, string n, int stride, int padTop, int padLeft, int padBottom, int padRight)
        {
            var (w, s) = _w[n + ".weight"];
            var b = _w[n + ".bias"].V;
            int co = s[0], k = s[2];
            int ho = (x.H + padTop + padBottom - k) / stride + 1, wo = (x.W + padLeft + padRight - k) / stride + 1;
            var y = new double[co * ho * wo];
            for (int o = 0; o < co; o++)
                for (int i = 0; i < ho; i++)
                    for (int j = 0; j < wo; j++)
                    {
                        double acc = b[o];
                        for (int ci = 0; ci < x.C; ci++)
                            for (int u = 0; u < k; u++)
                                for (int v = 0; v < k; v++)
                                {
                                    int r = i * stride + u - padTop, q = j * stride + v - padLeft;
                                    if (r < 0 || r >= x.H || q < 0 || q >= x.W) continue;
                                    acc += w[((o * x.C + ci) * k + u) * k + v] * x.V[(ci * x.H + r) * x.W + q];
                                }
                        y[(o * ho + i) * wo + j] = acc;
                    }
            return new T(y, co, ho, wo);
        }

        private T Conv(T x, string n, int pad) => Conv(x, n, 1, pad, pad, pad, pad);

        private T Norm(T x, string n, bool silu)
        {
            var g = _w[n + ".weight"].V;
            var be = _w[n + ".bias"].V;
            int groups = _c.NormNumGroups, per = x.C / groups, hw = x.H * x.W;
            var y = new double[x.V.Length];
            for (int gi = 0; gi < groups; gi++)
            {
                var vals = Enumerable.Range(gi * per * hw, per * hw).Select(i => x.V[i]).ToArray();
                double mean = vals.Average(), var_ = vals.Select(v => (v - mean) * (v - mean)).Average();
                double rstd = 1 / Math.Sqrt(var_ + 1e-6);
                for (int c = gi * per; c < (gi + 1) * per; c++)
                    for (int p = 0; p < hw; p++)
                    {
                        double v = (x.V[c * hw + p] - mean) * rstd * g[c] + be[c];
                        y[c * hw + p] = silu ? v / (1 + Math.Exp(-v)) : v;
                    }
            }
            return x with { V = y };
        }

        private static T Add(T a, T b) => a with { V = a.V.Select((v, i) => v + b.V[i]).ToArray() };

        private T Resnet(T x, string n)
        {
            var h = Conv(Norm(x, n + ".norm1", true), n + ".conv1", 1);
            h = Conv(Norm(h, n + ".norm2", true), n + ".conv2", 1);
            var s = _w.ContainsKey(n + ".conv_shortcut.weight") ? Conv(x, n + ".conv_shortcut", 0) : x;
            return Add(s, h);
        }

        private double[] Linear(double[] tok, int l, int c, string n)
        {
            var w = _w[n + ".weight"].V;
            var b = _w[n + ".bias"].V;
            var y = new double[l * c];
            for (int t = 0; t < l; t++)
                for (int o = 0; o < c; o++)
                {
                    double acc = b[o];
                    for (int i = 0; i < c; i++) acc += w[o * c + i] * tok[t * c + i];
                    y[t * c + o] = acc;
                }
            return y;
        }

        private T Attention(T x, string n)
        {
            int c = x.C, l = x.H * x.W;
            var h = Norm(x, n + ".group_norm", false);
            var tok = new double[l * c];   // view(B, C, HW).transpose(1, 2)
            for (int ch = 0; ch < c; ch++) for (int p = 0; p < l; p++) tok[p * c + ch] = h.V[ch * l + p];
            var q = Linear(tok, l, c, n + ".to_q");
            var k = Linear(tok, l, c, n + ".to_k");
            var v = Linear(tok, l, c, n + ".to_v");
            var o = new double[l * c];
            double scale = 1 / Math.Sqrt(c);
            for (int i = 0; i < l; i++)
            {
                var s = new double[l];
                for (int j = 0; j < l; j++) { double d = 0; for (int e = 0; e < c; e++) d += q[i * c + e] * k[j * c + e]; s[j] = d * scale; }
                double mx = s.Max();
                var p = s.Select(z => Math.Exp(z - mx)).ToArray();
                double sum = p.Sum();
                for (int e = 0; e < c; e++) { double acc = 0; for (int j = 0; j < l; j++) acc += p[j] / sum * v[j * c + e]; o[i * c + e] = acc; }
            }
            var outTok = Linear(o, l, c, n + ".to_out.0");
            var y = new double[c * l];
            for (int ch = 0; ch < c; ch++) for (int p = 0; p < l; p++) y[ch * l + p] = outTok[p * c + ch] + x.V[ch * l + p];
            return x with { V = y };
        }

        private T Mid(T x, string n) => Resnet(Attention(Resnet(x, n + ".resnets.0"), n + ".attentions.0"), n + ".resnets.1");

        public double[] Encode(double[] img, int hgt, int wid)
        {
            var x = Conv(new T(img, _c.InChannels, hgt, wid), "encoder.conv_in", 1);
            int n = _c.BlockOutChannels.Length;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < _c.LayersPerBlock; j++) x = Resnet(x, $"encoder.down_blocks.{i}.resnets.{j}");
                if (i != n - 1) x = Conv(x, $"encoder.down_blocks.{i}.downsamplers.0.conv", 2, 0, 0, 1, 1);
            }
            x = Mid(x, "encoder.mid_block");
            x = Conv(Norm(x, "encoder.conv_norm_out", true), "encoder.conv_out", 1);
            return Conv(x, "quant_conv", 0).V;
        }

        public double[] Decode(double[] z, int hgt, int wid)
        {
            var x = Conv(new T(z, _c.LatentChannels, hgt, wid), "post_quant_conv", 0);
            x = Conv(x, "decoder.conv_in", 1);
            x = Mid(x, "decoder.mid_block");
            int n = _c.BlockOutChannels.Length;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j <= _c.LayersPerBlock; j++) x = Resnet(x, $"decoder.up_blocks.{i}.resnets.{j}");
                if (i == n - 1) continue;
                var u = new double[x.C * 4 * x.H * x.W];
                for (int ch = 0; ch < x.C; ch++)
                    for (int r = 0; r < 2 * x.H; r++)
                        for (int q = 0; q < 2 * x.W; q++) u[(ch * 2 * x.H + r) * 2 * x.W + q] = x.V[(ch * x.H + r / 2) * x.W + q / 2];
                x = Conv(new T(u, x.C, 2 * x.H, 2 * x.W), $"decoder.up_blocks.{i}.upsamplers.0.conv", 1);
            }
            return Conv(Norm(x, "decoder.conv_norm_out", true), "decoder.conv_out", 1).V;
        }
    }
}
