using System.Globalization;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

// Inside PixelCost.Kernels.*, a bare `Ops` names the namespace PixelCost.Kernels; this alias names the class.

/// <summary>
/// One golden case: tests/PixelCost.Kernels.Tests/Golden/ops/&lt;case&gt;.safetensors, made by
/// tools/golden/make_ops.py (torch.manual_seed(1234) before each case). Inputs are F32 (exactly what our kernels see),
/// outputs F64 (torch computed them in float64 from those inputs), parameters in the metadata.
/// </summary>
internal sealed class GoldenCase : IDisposable
{
    public const string Script = "tools/golden/make_ops.py";
    public const string Seed = "1234";

    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "ops");

    public GoldenCase(string name)
    {
        Name = name;
        File = SafetensorsFile.Open(Path.Combine(Dir, name + ".safetensors"));
    }

    public string Name { get; }
    public SafetensorsFile File { get; }

    public string Meta(string key) =>
        File.Metadata.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"golden case '{Name}' has no metadata '{key}'");

    public int Int(string key) => int.Parse(Meta(key), CultureInfo.InvariantCulture);
    public float Float(string key) => (float)double.Parse(Meta(key), CultureInfo.InvariantCulture);
    public bool Bool(string key) => bool.Parse(Meta(key));

    /// <summary>Where the data came from, for every assertion message (DESIGN §7.8).</summary>
    public string What => $"golden case '{Name}' (made by {Meta("script")} with torch.manual_seed({Meta("seed")}), torch {Meta("torch")})";

    public Tensor Input(IAccelerator acc, string name) => acc.FromArray(File.ReadFloats(name), File.Shape(name));

    public Tensor OutputLike(IAccelerator acc, string name) => acc.Allocate(File.Shape(name));

    public void Check(string name, Tensor got, double atol, double rtol) =>
        Close.All(File.ReadFloats(name), got.ToArray(), atol, rtol, File.Shape(name), $"{What}, output '{name}'");

    public void Dispose() => File.Dispose();
}

/// <summary>
/// Our CPU ops against PyTorch (DESIGN §7.8). The reference is float64, ours fp32 from the same fp32 inputs, so the
/// tolerances below are fp32 rounding of our kernel alone (u = 2⁻²⁴ ≈ 6e-8 per operation), each derived where it is
/// declared. A real bug (wrong index, transposed weight, missing bias, wrong eps) gives errors of order 1e-2 … 1, far
/// outside all of them.
/// </summary>
[Trait("Golden", GoldenCase.Script + " seed " + GoldenCase.Seed)]
public class GoldenOpsTests
{
    // Exact data movement (concat, upsample): the fp32 inputs are copied, the float64 reference holds the same values.
    private const double ExactAtol = 0, ExactRtol = 0;

    // One correctly rounded fp32 operation per element (add, scale, bias): ≤ 0.5 ulp of the result; 1 ulp = 2⁻²³ allowed.
    private const double OneOpAtol = 0, OneOpRtol = 1.2e-7;

    // Matmul class (gemm, linear, conv2d): a K-term fp32 dot product errs by at most γ_K·Σ|a_k·b_k| (γ_K ≈ K·u) in any
    // summation order (blocked or FMA included). Here K ≤ 45 (conv 5·3·3) and for unit-normal inputs Σ|a·b| ≲ 0.64·K ≈ 30,
    // so the worst case is 45·6e-8·30 ≈ 8e-5 absolute. The error does not shrink with |ref| (outputs near zero come from
    // cancellation), so the bound is absolute; rtol 1e-5 covers the few large outputs (|ref| ≈ 10).
    private const double MatmulAtol = 1e-4, MatmulRtol = 1e-5;

    // Norms: the output (x − μ)/σ·γ + β is O(1) here; μ and σ come from reductions over n ≤ 960 elements (group norm with
    // 1 group of 32×5×6), each ≈ √n·u ≈ 2e-6 relative, times |μ|/σ ≤ 6 for the offset layer-norm case → ≈ 1e-5.
    private const double NormAtol = 1e-5, NormRtol = 1e-5;

    // Elementwise activations: a vectorised exp/erf/tanh in fp32 is good to a few ulps, and σ(x) = 1/(1+e⁻ˣ) adds two
    // roundings: rtol 1e-5 (~170 ulp) is generous. GELU for x ≈ −4 is x·½·(1+erf(x/√2)) with 1+erf ≈ 6e-5 formed by
    // cancellation, so the absolute error is |x|·u ≈ 3e-7 while |ref| ≈ 1e-4: hence an absolute floor of 2e-6.
    private const double ActAtol = 2e-6, ActRtol = 1e-5;

    // Softmax: exp to a few ulps, a sum over ≤ 130 terms (√130·u ≈ 7e-7), one division: rtol 1e-5. Probabilities below
    // ~1e-7 may underflow differently: atol 1e-7.
    private const double SoftmaxAtol = 1e-7, SoftmaxRtol = 1e-5;

    // Attention: scores err by ≈ D·u·|q||k| (D ≤ 12) and enter exp, so probabilities err by ~1e-6 relative; the output
    // Σ p·v over Lk ≤ 150 keys is a convex combination of |v| ≲ 4, bounded by γ_Lk·max|v| ≈ 150·6e-8·4 ≈ 4e-5, plus the
    // online softmax's rescaling per tile. Outputs near zero are cancellations, so atol 5e-5; rtol 1e-4.
    private const double AttnAtol = 5e-5, AttnRtol = 1e-4;

    // Timestep embedding: the angle t·f is formed in fp32 with t ≤ 999 and f = exp(−ln(10⁴)·i/half) to ~1.5 ulp, so the
    // angle already carries up to 999·1.5·u ≈ 9e-5 rad before sin/cos; diffusers computes it in fp32 too. Outputs are in
    // [−1, 1]: atol 3e-4 (3× headroom), no rtol (small outputs do not have smaller errors).
    private const double TembAtol = 3e-4, TembRtol = 0;

    private static CpuAccelerator Cpu() => new();

    [Theory]
    [InlineData("gemm_nn")]
    [InlineData("gemm_nt")]
    [InlineData("gemm_tn_alpha_beta")]
    [InlineData("gemm_batched")]
    [InlineData("gemm_batched_broadcast_b")]
    public void Gemm(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var a = g.Input(acc, "a");
        using var b = g.Input(acc, "b");
        using var c = g.File.Contains("c_in") ? g.Input(acc, "c_in") : g.OutputLike(acc, "c");
        Ops.Gemm(acc, a, b, c, g.Bool("transA"), g.Bool("transB"), g.Float("alpha"), g.Float("beta"));
        g.Check("c", c, MatmulAtol, MatmulRtol);
    }

    [Theory]
    [InlineData("linear_bias")]
    [InlineData("linear_nobias")]
    public void Linear(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var w = g.Input(acc, "w");
        using var bias = g.File.Contains("bias") ? g.Input(acc, "bias") : null;
        using var y = g.OutputLike(acc, "y");
        Ops.Linear(acc, x, w, bias, y);
        g.Check("y", y, MatmulAtol, MatmulRtol);
    }

    [Theory]
    [InlineData("conv2d_k1_s1_p0")]
    [InlineData("conv2d_k3_s1_p1")]
    [InlineData("conv2d_k3_s2_p1")]
    [InlineData("conv2d_k3_s1_p0_nobias")]
    [InlineData("conv2d_k1_s2_p0")]
    public void Conv2d(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var w = g.Input(acc, "w");
        using var bias = g.File.Contains("bias") ? g.Input(acc, "bias") : null;
        using var y = g.OutputLike(acc, "y");
        Ops.Conv2d(acc, x, w, bias, y, g.Int("stride"), g.Int("padding"));
        g.Check("y", y, MatmulAtol, MatmulRtol);
    }

    [Theory]
    [InlineData("group_norm_g32_eps1e5")]
    [InlineData("group_norm_g4_eps1e6")]
    [InlineData("group_norm_g1_eps1e5")]
    [InlineData("group_norm_g32_eps1e6_silu")]
    [InlineData("group_norm_g4_c12_odd_spatial")]
    public void GroupNorm(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var gamma = g.Input(acc, "gamma");
        using var beta = g.Input(acc, "beta");
        using var y = g.OutputLike(acc, "y");
        Ops.GroupNorm(acc, x, g.Int("groups"), gamma, beta, y, g.Float("eps"), g.Bool("fuse_silu"));
        g.Check("y", y, NormAtol, NormRtol);
    }

    [Theory]
    [InlineData("layer_norm_affine")]
    [InlineData("layer_norm_plain_eps1e6")]
    public void LayerNorm(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var gamma = g.File.Contains("gamma") ? g.Input(acc, "gamma") : null;
        using var beta = g.File.Contains("beta") ? g.Input(acc, "beta") : null;
        using var y = g.OutputLike(acc, "y");
        Ops.LayerNorm(acc, x, gamma, beta, y, g.Float("eps"));
        g.Check("y", y, NormAtol, NormRtol);
    }

    [Theory]
    [InlineData("softmax_rows")]
    [InlineData("softmax_large_logits")]
    public void Softmax(string name) => Unary(name, SoftmaxAtol, SoftmaxRtol, (acc, _, x, y) => Ops.Softmax(acc, x, y));

    [Theory]
    [InlineData("attention_self", 1)]
    [InlineData("attention_self", 2)]
    [InlineData("attention_cross", 1)]
    [InlineData("attention_cross", 2)]
    [InlineData("attention_causal", 1)]
    [InlineData("attention_causal", 2)]
    [InlineData("attention_self_scale", 1)]
    [InlineData("attention_self_scale", 2)]
    [InlineData("attention_long_keys", 1)]
    [InlineData("attention_long_keys", 2)]
    public void Attention(string name, int variant)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var q = g.Input(acc, "q");
        using var k = g.Input(acc, "k");
        using var v = g.Input(acc, "v");
        using var o = g.OutputLike(acc, "o");
        float? scale = g.Meta("scale") == "default" ? null : g.Float("scale");
        Ops.Attention(acc, q, k, v, o, g.Int("heads"), scale, g.Bool("causal"), variant);
        g.Check("o", o, AttnAtol, AttnRtol);
    }

    [Theory]
    [InlineData("silu")]
    [InlineData("gelu_erf")]
    [InlineData("gelu_tanh")]
    [InlineData("quick_gelu")]
    public void Activation(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var y = g.OutputLike(acc, "y");
        switch (g.Meta("op"))
        {
            case "silu": Ops.Silu(acc, x, y); break;
            case "gelu":
                Ops.Gelu(acc, x, y, g.Meta("approximation") == "tanh" ? GeluApproximation.Tanh : GeluApproximation.Erf);
                break;
            case "quick_gelu": Ops.QuickGelu(acc, x, y); break;
            default: throw new InvalidDataException($"{g.What}: op '{g.Meta("op")}' is not an activation");
        }
        g.Check("y", y, ActAtol, ActRtol);
    }

    /// <summary>Case <paramref name="name"/>: input "x" → output "y" through <paramref name="op"/>, compared with torch's y.</summary>
    private static void Unary(string name, double atol, double rtol, Action<CpuAccelerator, GoldenCase, Tensor, Tensor> op)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var x = g.Input(acc, "x");
        using var y = g.OutputLike(acc, "y");
        op(acc, g, x, y);
        g.Check("y", y, atol, rtol);
    }

    /// <summary>Case <paramref name="name"/>: inputs <paramref name="first"/>, <paramref name="second"/> → output "y".</summary>
    private static void Binary(string name, string first, string second, double atol, double rtol,
        Action<CpuAccelerator, Tensor, Tensor, Tensor> op)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var a = g.Input(acc, first);
        using var b = g.Input(acc, second);
        using var y = g.OutputLike(acc, "y");
        op(acc, a, b, y);
        g.Check("y", y, atol, rtol);
    }

    // h·GELU(gate): the activation's error plus one rounding of the product.
    [Fact]
    public void Geglu() => Unary("geglu", ActAtol, ActRtol, (acc, _, x, y) => Ops.Geglu(acc, x, y));

    [Fact]
    public void Add() => Binary("add", "a", "b", OneOpAtol, OneOpRtol, (acc, a, b, y) => Ops.Add(acc, a, b, y));

    [Fact]
    public void AddChannelBias() =>
        Binary("add_channel_bias", "x", "b", OneOpAtol, OneOpRtol, (acc, x, b, y) => Ops.AddChannelBias(acc, x, b, y));

    [Fact]
    public void Scale() => Unary("scale", OneOpAtol, OneOpRtol, (acc, g, x, y) => Ops.Scale(acc, x, g.Float("s"), y));

    [Fact]
    public void ConcatChannels() =>
        Binary("concat_channels", "a", "b", ExactAtol, ExactRtol, (acc, a, b, y) => Ops.ConcatChannels(acc, a, b, y));

    [Fact]
    public void Upsample2xNearest() =>
        Unary("upsample_nearest_2x", ExactAtol, ExactRtol, (acc, _, x, y) => Ops.Upsample2xNearest(acc, x, y));

    [Theory]
    [InlineData("timestep_embedding_sd")]
    [InlineData("timestep_embedding_odd")]
    public void TimestepEmbedding(string name)
    {
        using var g = new GoldenCase(name);
        using var acc = Cpu();
        using var t = g.Input(acc, "t");
        using var y = g.OutputLike(acc, "y");
        Assert.Equal(g.Int("dim"), y.Dim(1));
        Ops.TimestepEmbedding(acc, t, y, g.Bool("flip_sin_to_cos"), g.Float("downscale_freq_shift"), g.Float("max_period"));
        g.Check("y", y, TembAtol, TembRtol);
    }
}

/// <summary>The golden files themselves: present, readable, and what the op tests expect. Passes without any kernel.</summary>
[Trait("Golden", GoldenCase.Script + " seed " + GoldenCase.Seed)]
public class GoldenFixturesTests
{
    // case → (op, inputs, outputs). Every file in Golden/ops must be listed here and every listed case must be tested above.
    private static readonly Dictionary<string, (string Op, string[] In, string[] Out)> Cases = new()
    {
        ["gemm_nn"] = ("gemm", ["a", "b"], ["c"]),
        ["gemm_nt"] = ("gemm", ["a", "b"], ["c"]),
        ["gemm_tn_alpha_beta"] = ("gemm", ["a", "b", "c_in"], ["c"]),
        ["gemm_batched"] = ("gemm", ["a", "b"], ["c"]),
        ["gemm_batched_broadcast_b"] = ("gemm", ["a", "b"], ["c"]),
        ["linear_bias"] = ("linear", ["x", "w", "bias"], ["y"]),
        ["linear_nobias"] = ("linear", ["x", "w"], ["y"]),
        ["conv2d_k1_s1_p0"] = ("conv2d", ["x", "w", "bias"], ["y"]),
        ["conv2d_k3_s1_p1"] = ("conv2d", ["x", "w", "bias"], ["y"]),
        ["conv2d_k3_s2_p1"] = ("conv2d", ["x", "w", "bias"], ["y"]),
        ["conv2d_k3_s1_p0_nobias"] = ("conv2d", ["x", "w"], ["y"]),
        ["conv2d_k1_s2_p0"] = ("conv2d", ["x", "w", "bias"], ["y"]),
        ["group_norm_g32_eps1e5"] = ("group_norm", ["x", "gamma", "beta"], ["y"]),
        ["group_norm_g4_eps1e6"] = ("group_norm", ["x", "gamma", "beta"], ["y"]),
        ["group_norm_g1_eps1e5"] = ("group_norm", ["x", "gamma", "beta"], ["y"]),
        ["group_norm_g32_eps1e6_silu"] = ("group_norm", ["x", "gamma", "beta"], ["y"]),
        ["group_norm_g4_c12_odd_spatial"] = ("group_norm", ["x", "gamma", "beta"], ["y"]),
        ["layer_norm_affine"] = ("layer_norm", ["x", "gamma", "beta"], ["y"]),
        ["layer_norm_plain_eps1e6"] = ("layer_norm", ["x"], ["y"]),
        ["softmax_rows"] = ("softmax", ["x"], ["y"]),
        ["softmax_large_logits"] = ("softmax", ["x"], ["y"]),
        ["attention_self"] = ("attention", ["q", "k", "v"], ["o"]),
        ["attention_cross"] = ("attention", ["q", "k", "v"], ["o"]),
        ["attention_causal"] = ("attention", ["q", "k", "v"], ["o"]),
        ["attention_self_scale"] = ("attention", ["q", "k", "v"], ["o"]),
        ["attention_long_keys"] = ("attention", ["q", "k", "v"], ["o"]),
        ["silu"] = ("silu", ["x"], ["y"]),
        ["gelu_erf"] = ("gelu", ["x"], ["y"]),
        ["gelu_tanh"] = ("gelu", ["x"], ["y"]),
        ["quick_gelu"] = ("quick_gelu", ["x"], ["y"]),
        ["geglu"] = ("geglu", ["x"], ["y"]),
        ["add"] = ("add", ["a", "b"], ["y"]),
        ["add_channel_bias"] = ("add_channel_bias", ["x", "b"], ["y"]),
        ["scale"] = ("scale", ["x"], ["y"]),
        ["concat_channels"] = ("concat", ["a", "b"], ["y"]),
        ["upsample_nearest_2x"] = ("upsample_nearest_2x", ["x"], ["y"]),
        ["timestep_embedding_sd"] = ("timestep_embedding", ["t"], ["y"]),
        ["timestep_embedding_odd"] = ("timestep_embedding", ["t"], ["y"]),
    };

    [Fact]
    public void EveryFileIsAKnownCaseAndEveryCaseHasAFile()
    {
        var files = Directory.GetFiles(GoldenCase.Dir, "*.safetensors").Select(Path.GetFileNameWithoutExtension).Order().ToArray();
        Assert.Equal(Cases.Keys.Order().ToArray(), files);
    }

    [Fact]
    public void EveryCaseIsTestedAgainstAnOp()
    {
        // The case names in the InlineData of GoldenOpsTests plus the [Fact]s that open a fixed case.
        var tested = typeof(GoldenOpsTests).GetMethods()
            .SelectMany(m => m.GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>())
            .Select(a => (string)a.GetData(null!).First()[0])
            .Concat(["geglu", "add", "add_channel_bias", "scale", "concat_channels", "upsample_nearest_2x"])
            .ToHashSet();
        Assert.Equal(Array.Empty<string>(), Cases.Keys.Where(c => !tested.Contains(c)).ToArray());
    }

    public static TheoryData<string> AllCases() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(AllCases))]
    public void LoadsWithExpectedTensorsAndMetadata(string name)
    {
        using var g = new GoldenCase(name);
        var (op, inputs, outputs) = Cases[name];
        Assert.Equal(op, g.Meta("op"));
        Assert.Equal(name, g.Meta("case"));
        Assert.Equal(GoldenCase.Seed, g.Meta("seed"));
        Assert.Equal(GoldenCase.Script, g.Meta("script"));
        Assert.Equal(string.Join(",", inputs), g.Meta("inputs"));
        Assert.Equal(string.Join(",", outputs), g.Meta("outputs"));
        Assert.Equal(inputs.Concat(outputs).Order(), g.File.Tensors.Select(t => t.Name).Order());
        foreach (var i in inputs) Assert.Equal(SafetensorsDType.F32, g.File.Info(i).DType);
        foreach (var o in outputs)
        {
            Assert.Equal(SafetensorsDType.F64, g.File.Info(o).DType);
            var values = g.File.ReadDoubles(o);
            Assert.NotEmpty(values);
            Assert.All(values, v => Assert.True(double.IsFinite(v), $"{g.What}: output '{o}' has a non-finite value"));
        }
        foreach (var t in g.File.Tensors) Assert.Equal(t.ElementCount, g.File.ReadFloats(t.Name).Length);
    }

    // Shape rules of the ops, checked on the golden files so a script change that breaks them shows here, not as a
    // confusing op failure.
    [Theory]
    [MemberData(nameof(AllCases))]
    public void OutputShapesFollowTheOpsRules(string name)
    {
        using var g = new GoldenCase(name);
        int[] S(string t) => g.File.Shape(t);
        switch (g.Meta("op"))
        {
            case "conv2d":
            {
                int[] x = S("x"), w = S("w"), y = S("y");
                int stride = g.Int("stride"), pad = g.Int("padding");
                Assert.Equal([x[0], w[0], (x[2] + 2 * pad - w[2]) / stride + 1, (x[3] + 2 * pad - w[3]) / stride + 1], y);
                Assert.Equal(x[1], w[1]);
                break;
            }
            case "group_norm":
                Assert.Equal(S("x"), S("y"));
                Assert.Equal(0, S("x")[1] % g.Int("groups"));
                break;
            case "attention":
            {
                int[] q = S("q"), o = S("o");
                Assert.Equal(q, o);
                Assert.Equal(0, q[2] % g.Int("heads"));
                Assert.Equal(q[2] / g.Int("heads"), g.Int("head_dim"));
                break;
            }
            case "geglu":
                Assert.Equal(S("x")[^1], 2 * S("y")[^1]);
                break;
            case "upsample_nearest_2x":
                Assert.Equal([S("x")[0], S("x")[1], 2 * S("x")[2], 2 * S("x")[3]], S("y"));
                break;
            case "concat":
                Assert.Equal(S("a")[1] + S("b")[1], S("y")[1]);
                break;
            case "timestep_embedding":
                Assert.Equal([S("t")[0], g.Int("dim")], S("y"));
                break;
            case "gemm" or "linear":
                break;
            default:
                Assert.Equal(S(Cases[name].In[0]), S(Cases[name].Out[0]));
                break;
        }
    }
}
