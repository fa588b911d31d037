using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Meta;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Models.Lora;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Runtime.Tests.Lora;

/// <summary>
/// LoraAdapter on the tiny golden SD1-style UNet (Golden/unet/unet_sd1_tiny, diffusers 0.27.2 names and weights): small
/// LoRA files written here with SafetensorsWriter in each naming (PEFT lora_A/lora_B, diffusers lora.down/lora.up +
/// alpha, kohya on diffusers names, kohya on LDM names, F16), fused through Ops.Gemm, compared with
/// W + scale·(alpha/r)·up·down computed here in double from the file's values and the weights as loaded.
/// </summary>
public class LoraAdapterTests
{
    private static string UnetDir => Path.Combine(AppContext.BaseDirectory, "Golden", "unet", "unet_sd1_tiny");

    private const int R = 4;
    private const float Alpha = 8f;   // files with an alpha: factor alpha/r = 2

    /// <summary>Linear (attention, feed-forward, to_out.0 with its ".0"), 1×1 conv (proj_in) and 3×3 conv modules.</summary>
    private static readonly string[] Modules =
    [
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
        "down_blocks.0.attentions.1.transformer_blocks.0.ff.net.2",
        "down_blocks.0.attentions.0.proj_in",
        "down_blocks.0.resnets.0.conv1",
        "mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0",
        "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k",
    ];

    private sealed record Factors(float[] Down, int[] DownShape, float[] Up, int[] UpShape);

    /// <summary>Deterministic factors per module, shaped for the weight: linear [r,in]/[out,r], conv [r,in,kh,kw]/[out,r,1,1].</summary>
    private static Dictionary<string, Factors> MakeFactors(UnetModel unet, int seed = 7)
    {
        var rng = new Random(seed);
        float[] Rand(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var result = new Dictionary<string, Factors>();
        foreach (var m in Modules)
        {
            var w = unet.Weights[m + ".weight"];
            int[] ws = w.Shape.ToArray();
            int[] down = ws.Length == 4 ? [R, ws[1], ws[2], ws[3]] : [R, ws[1]];
            int[] up = ws.Length == 4 ? [ws[0], R, 1, 1] : [ws[0], R];
            result[m] = new Factors(Rand(Tensor.ElementCount(down)), down, Rand(Tensor.ElementCount(up)), up);
        }
        return result;
    }

    public enum Naming { Peft, DiffusersOld, KohyaDiffusers, KohyaLdm }

    private static string Write(string dir, Naming naming, Dictionary<string, Factors> factors, UnetConfig cfg, bool f16 = false)
    {
        var w = new SafetensorsWriter();
        void Add(string name, float[] data, int[] shape)
        {
            if (f16) w.Add(name, data.Select(v => (Half)v).ToArray(), shape);
            else w.Add(name, data, shape);
        }
        foreach (var (m, f) in factors)
        {
            string kohya = "lora_unet_" + (naming == Naming.KohyaLdm ? UnetModel.LdmName(cfg, m + ".weight")[..^".weight".Length] : m).Replace('.', '_');
            var (down, up, alpha) = naming switch
            {
                Naming.Peft => ($"unet.{m}.lora_A.weight", $"unet.{m}.lora_B.weight", (string?)null),
                Naming.DiffusersOld => ($"unet.{m}.lora.down.weight", $"unet.{m}.lora.up.weight", $"unet.{m}.alpha"),
                _ => ($"{kohya}.lora_down.weight", $"{kohya}.lora_up.weight", $"{kohya}.alpha"),
            };
            Add(down, f.Down, f.DownShape);
            Add(up, f.Up, f.UpShape);
            if (alpha is not null) w.Add(alpha, [Alpha], []);
        }
        string path = Path.Combine(dir, $"{naming}{(f16 ? "-f16" : "")}.safetensors");
        w.Save(path);
        return path;
    }

    /// <summary>W + scale·factor·up·down in double, from the factors as the file holds them (F16-rounded when f16).</summary>
    private static double[] Expected(float[] w0, Factors f, double scaleTimesFactor, bool f16)
    {
        float Q(float v) => f16 ? (float)(Half)v : v;
        int outF = f.UpShape[0], inF = f.Down.Length / R;
        var e = new double[w0.Length];
        for (int o = 0; o < outF; o++)
            for (int i = 0; i < inF; i++)
            {
                double s = 0;
                for (int k = 0; k < R; k++) s += (double)Q(f.Up[o * R + k]) * Q(f.Down[k * inF + i]);
                e[o * inF + i] = w0[o * inF + i] + scaleTimesFactor * s;
            }
        return e;
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        // fp32 GEMM of r = 4 terms plus one add on values O(1): a few ulp of O(1); 1e-5 abs + 1e-5 rel leaves margin.
        Close.All(expected.Select(v => (float)v).ToArray(), actual, 1e-5, 1e-5, what: what);
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("pixelcost-lora-").FullName;

    [Theory]
    [InlineData(Naming.Peft, false)]
    [InlineData(Naming.DiffusersOld, false)]
    [InlineData(Naming.KohyaDiffusers, false)]
    [InlineData(Naming.KohyaLdm, false)]
    [InlineData(Naming.KohyaLdm, true)]
    public void Fuse_MatchesTheDoubleComputation(Naming naming, bool f16)
    {
        string dir = TempDir();
        try
        {
            using var cpu = new CpuAccelerator(threads: 2);
            using var unet = UnetModel.Load(cpu, UnetDir);
            var factors = MakeFactors(unet);
            var before = unet.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
            using var lora = LoraAdapter.Load(Write(dir, naming, factors, unet.Config, f16));
            Assert.Equal(R, lora.Rank);
            Assert.Equal([LoraTarget.Unet], lora.Targets);

            const float scale = 0.75f;
            var report = naming == Naming.KohyaLdm ? lora.FuseInto(unet, scale) : lora.FuseInto(cpu, unet.Weights, LoraTarget.Unet, scale);
            Assert.Equal(Modules.Length, report.Matched);
            Assert.Empty(report.Unmatched);
            double factor = naming == Naming.Peft ? 1.0 : Alpha / R;   // PEFT files carry no alpha: alpha = r
            foreach (var (name, w0) in before)
            {
                string module = name[..^(name.EndsWith(".weight") ? ".weight".Length : 0)];
                var now = unet.Weights[name].ToArray();
                if (name.EndsWith(".weight") && factors.TryGetValue(module, out var f))
                    AssertClose(Expected(w0, f, scale * factor, f16), now, name);
                else
                    Assert.True(w0.AsSpan().SequenceEqual(now), $"{name} changed but no LoRA module targets it");
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PeftAndKohyaNaming_FuseToIdenticalWeights()
    {
        string dir = TempDir();
        try
        {
            using var cpu = new CpuAccelerator(threads: 2);
            using var a = UnetModel.Load(cpu, UnetDir);
            using var b = UnetModel.Load(cpu, UnetDir);
            var factors = MakeFactors(a);
            using var old = LoraAdapter.Load(Write(dir, Naming.DiffusersOld, factors, a.Config));
            using var kohya = LoraAdapter.Load(Write(dir, Naming.KohyaLdm, factors, a.Config));
            old.FuseInto(cpu, a.Weights, LoraTarget.Unet, 0.6f);
            kohya.FuseInto(b, 0.6f);
            foreach (var name in a.Weights.Keys)
                Assert.True(a.Weights[name].ToArray().AsSpan().SequenceEqual(b.Weights[name].ToArray()), name);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ScaleZero_LeavesWeightsUnchanged_LedgerHoldsTheFuseAndTheForwardCostIsUnchanged()
    {
        string dir = TempDir();
        try
        {
            using var cpu = new CpuAccelerator(threads: 2);
            using var unet = UnetModel.Load(cpu, UnetDir);
            var factors = MakeFactors(unet);
            using var lora = LoraAdapter.Load(Write(dir, Naming.Peft, factors, unet.Config));

            var before = unet.Weights.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
            var forwardBefore = ForwardLedger(cpu, unet);

            cpu.Ledger.Clear();
            lora.FuseInto(cpu, unet.Weights, LoraTarget.Unet, 0f);
            foreach (var (name, w0) in before) Assert.True(w0.AsSpan().SequenceEqual(unet.Weights[name].ToArray()), name);

            // One gemm per module under scope "lora", 2·out·r·in matmul FLOPs each (counted here from the weight shapes).
            var entries = cpu.Ledger.Entries;
            Assert.Equal(Modules.Length, entries.Count);
            Assert.All(entries, e => { Assert.Equal("gemm", e.Op); Assert.Equal("lora", e.Scope); });
            var expectedFlops = Modules.Select(m => unet.Weights[m + ".weight"]).Select(w => 2L * w.Dim(0) * R * (w.Length / w.Dim(0))).Order();
            Assert.Equal(expectedFlops, entries.Select(e => e.Cost.MatmulFlops).Order());

            lora.FuseInto(cpu, unet.Weights, LoraTarget.Unet, 1f);
            var forwardAfter = ForwardLedger(cpu, unet);
            Assert.Equal(forwardBefore.Count, forwardAfter.Count);
            Assert.Equal(forwardBefore.Select(e => (e.Op, e.Shape, e.Cost)), forwardAfter.Select(e => (e.Op, e.Shape, e.Cost)));
        }
        finally { Directory.Delete(dir, true); }
    }

    private static List<LedgerEntry> ForwardLedger(IAccelerator acc, UnetModel unet)
    {
        using var io = SafetensorsFile.Open(Path.Combine(UnetDir, "io.safetensors"));
        using var sample = acc.FromArray(io.ReadFloats("sample"), io.Shape("sample"));
        using var t = acc.FromArray(io.ReadFloats("timestep"), io.Shape("timestep"));
        using var ctx = acc.FromArray(io.ReadFloats("encoder_hidden_states"), io.Shape("encoder_hidden_states"));
        acc.Ledger.Clear();
        using var y = unet.Forward(sample, t, ctx);
        acc.Synchronize();
        return acc.Ledger.Entries.ToList();
    }

    [Fact]
    public void OnMeta_TheFuseIsCountedWithoutRunning()
    {
        string dir = TempDir();
        try
        {
            using var meta = new MetaAccelerator();
            using var unet = UnetModel.Random(meta, UnetConfig.Load(UnetDir), 1);
            using var lora = LoraAdapter.Load(Write(dir, Naming.KohyaLdm, MakeFactors(unet), unet.Config));
            meta.Ledger.Clear();
            Assert.Equal(Modules.Length, lora.FuseInto(unet, 1f).Matched);
            long expected = Modules.Select(m => unet.Weights[m + ".weight"]).Sum(w => 2L * w.Dim(0) * R * (w.Length / w.Dim(0)));
            Assert.Equal(expected, meta.Ledger.TotalCost().MatmulFlops);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("style.safetensors", "style.safetensors", 1f)]
    [InlineData("style.safetensors:0.8", "style.safetensors", 0.8f)]
    [InlineData("/models/a:b/style.safetensors:-1.5", "/models/a:b/style.safetensors", -1.5f)]
    [InlineData("/models/a:b/style.safetensors", "/models/a:b/style.safetensors", 1f)]
    public void ParseSpec_SplitsFileAndScale(string spec, string path, float scale) =>
        Assert.Equal((path, scale), LoraAdapter.ParseSpec(spec));

    [Fact]
    public void TextEncoderNamings_FuseIntoHfNames()
    {
        string dir = TempDir();
        try
        {
            using var cpu = new CpuAccelerator(threads: 2);
            const string q = "text_model.encoder.layers.0.self_attn.q_proj";
            var rng = new Random(3);
            float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            float[] w0 = Rand(16 * 12), down = Rand(R * 12), up = Rand(16 * R);
            var te1 = new Dictionary<string, Tensor> { [q + ".weight"] = cpu.FromArray(w0, 16, 12), [q + ".bias"] = cpu.FromArray(new float[16], 16) };
            var te2 = new Dictionary<string, Tensor> { [q + ".weight"] = cpu.FromArray(w0, 16, 12) };
            var peftTe = new Dictionary<string, Tensor> { [q + ".weight"] = cpu.FromArray(w0, 16, 12) };
            new SafetensorsWriter()
                .Add($"lora_te1_{q.Replace('.', '_')}.lora_down.weight", down, R, 12).Add($"lora_te1_{q.Replace('.', '_')}.lora_up.weight", up, 16, R)
                .Add($"lora_te2_{q.Replace('.', '_')}.lora_down.weight", down, R, 12).Add($"lora_te2_{q.Replace('.', '_')}.lora_up.weight", up, 16, R)
                .Add($"lora_te2_{q.Replace('.', '_')}.alpha", new float[] { 2f }, [])
                .Save(Path.Combine(dir, "xl.safetensors"));
            new SafetensorsWriter()
                .Add($"text_encoder.{q}.lora_A.weight", down, R, 12).Add($"text_encoder.{q}.lora_B.weight", up, 16, R)
                .Save(Path.Combine(dir, "peft.safetensors"));
            using var xl = LoraAdapter.Load(Path.Combine(dir, "xl.safetensors"));
            using var peft = LoraAdapter.Load(Path.Combine(dir, "peft.safetensors"));
            Assert.Equal([LoraTarget.TextEncoder, LoraTarget.TextEncoder2], xl.Targets.Order());
            Assert.Equal(1, xl.FuseInto(cpu, te1, LoraTarget.TextEncoder, 1f).Matched);
            Assert.Equal(1, xl.FuseInto(cpu, te2, LoraTarget.TextEncoder2, 1f).Matched);
            Assert.Equal(0, xl.FuseInto(cpu, te2, LoraTarget.Unet, 1f).Matched);   // no UNet modules: nothing to do
            Assert.Equal(1, peft.FuseInto(cpu, peftTe, LoraTarget.TextEncoder, 1f).Matched);
            var f = new Factors(down, [R, 12], up, [16, R]);
            AssertClose(Expected(w0, f, 1.0, false), te1[q + ".weight"].ToArray(), "te1 (alpha = r)");
            AssertClose(Expected(w0, f, 2.0 / R, false), te2[q + ".weight"].ToArray(), "te2 (alpha 2)");
            AssertClose(Expected(w0, f, 1.0, false), peftTe[q + ".weight"].ToArray(), "peft te");
            foreach (var t in te1.Values.Concat(te2.Values).Concat(peftTe.Values)) t.Dispose();
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadInputs_AreOneClearException()
    {
        string dir = TempDir();
        try
        {
            using var cpu = new CpuAccelerator(threads: 2);
            using var unet = UnetModel.Load(cpu, UnetDir);
            string P(string n) => Path.Combine(dir, n);
            float[] Z(int n) => new float[n];

            // Matches nothing: the error lists names tried.
            new SafetensorsWriter().Add("lora_unet_down_blocks_9_foo.lora_down.weight", Z(8), 2, 4).Add("lora_unet_down_blocks_9_foo.lora_up.weight", Z(8), 4, 2)
                .Save(P("nothing.safetensors"));
            using (var l = LoraAdapter.Load(P("nothing.safetensors")))
            {
                var e = Assert.Throws<InvalidDataException>(() => l.FuseInto(unet, 1f));
                Assert.Contains("down_blocks_9_foo", e.Message);
                Assert.Contains("nothing.safetensors", e.Message);
            }

            // Shapes that do not fit: module and both shapes named, and no weight changed (checked before fusing).
            const string q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q";
            var q0 = unet.Weights[q + ".weight"].ToArray();
            new SafetensorsWriter()
                .Add($"unet.{q}.lora_A.weight", Z(4 * 48), 4, 48).Add($"unet.{q}.lora_B.weight", Z(32 * 4), 32, 4)
                .Save(P("shape.safetensors"));
            using (var l = LoraAdapter.Load(P("shape.safetensors")))
            {
                var e = Assert.Throws<InvalidDataException>(() => l.FuseInto(cpu, unet.Weights, LoraTarget.Unet, 1f));
                Assert.Contains(q, e.Message);
                Assert.Contains("[32,32]", e.Message);
                Assert.Contains("[4,48]", e.Message);
                Assert.True(q0.AsSpan().SequenceEqual(unet.Weights[q + ".weight"].ToArray()));
            }

            // Missing up.
            new SafetensorsWriter().Add($"unet.{q}.lora_A.weight", Z(4 * 32), 4, 32).Save(P("noup.safetensors"));
            var m = Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(P("noup.safetensors")));
            Assert.Contains(q, m.Message);
            Assert.Contains("up", m.Message);

            // Rank disagreement between up and down.
            new SafetensorsWriter().Add($"unet.{q}.lora_A.weight", Z(4 * 32), 4, 32).Add($"unet.{q}.lora_B.weight", Z(32 * 3), 32, 3).Save(P("rank.safetensors"));
            Assert.Contains("rank", Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(P("rank.safetensors"))).Message);

            // A dtype a LoRA cannot have: file and tensor named.
            new SafetensorsWriter().AddRaw($"unet.{q}.lora_A.weight", SafetensorsDType.I32, [4, 32], new byte[4 * 32 * 4])
                .Add($"unet.{q}.lora_B.weight", Z(32 * 4), 32, 4).Save(P("dtype.safetensors"));
            var d = Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(P("dtype.safetensors")));
            Assert.Contains("dtype.safetensors", d.Message);
            Assert.Contains($"unet.{q}.lora_A.weight", d.Message);
            Assert.Contains("I32", d.Message);

            // Not a LoRA tensor at all (e.g. a UNet checkpoint).
            new SafetensorsWriter().Add("conv_in.weight", Z(4), 4).Save(P("notlora.safetensors"));
            Assert.Contains("conv_in.weight", Assert.Throws<InvalidDataException>(() => LoraAdapter.Load(P("notlora.safetensors"))).Message);

            Assert.Throws<FileNotFoundException>(() => LoraAdapter.Load(P("absent.safetensors")));

            var disposed = LoraAdapter.Load(P("shape.safetensors"));
            disposed.Dispose();
            Assert.Throws<ObjectDisposedException>(() => disposed.FuseInto(unet, 1f));

            // F16 target weights: refused with a reason, not silently mis-fused.
            using var half = cpu.Allocate(DType.F16, 32, 32);
            using (var l = LoraAdapter.Load(P("shape.safetensors")))
            {
                var weights = new Dictionary<string, Tensor> { [q + ".weight"] = half };
                Assert.Contains("F16", Assert.Throws<NotSupportedException>(() => l.FuseInto(cpu, weights, LoraTarget.Unet, 1f)).Message);
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
