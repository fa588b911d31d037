using System.Text.Json;
using PixelCost.Kernels.Cpu;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

/// <summary>
/// The kernels against PyTorch 1.13 CPU fp32: Golden/norms_elementwise.json, made by tools/golden/norms_elementwise.py
/// (seed 1234). This checks that our references define the same ops as PyTorch/diffusers, not only that the kernels
/// agree with our references.
/// </summary>
public class NormElementwiseGoldenTests
{
    private static readonly CpuAccelerator Cpu = new();
    private static readonly JsonElement Golden =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "norms_elementwise.json"))).RootElement;

    private static (float[] Data, int[] Shape) Get(string testCase, string name)
    {
        var e = Golden.GetProperty(testCase).GetProperty(name);
        return (e.GetProperty("data").EnumerateArray().Select(v => (float)v.GetDouble()).ToArray(),
            e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32()).ToArray());
    }

    private static Tensor Load(string testCase, string name)
    {
        var (d, s) = Get(testCase, name);
        return Cpu.FromArray(d, s);
    }

    // PyTorch's own fp32 statistics differ from ours by ~1e-7 relative; outputs are O(1..5) after the affine.
    private const double NormAtol = 1e-5, NormRtol = 1e-5;

    [Theory]
    [InlineData("group_norm_g3_eps1e-5", 3, 1e-5f, false)]
    [InlineData("group_norm_silu_g2_eps1e-6", 2, 1e-6f, true)]
    public void GroupNormMatchesPyTorch(string name, int groups, float eps, bool silu)
    {
        using var x = Load(name, "x"); using var g = Load(name, "gamma"); using var b = Load(name, "beta");
        using var y = Cpu.Allocate(x.Shape.ToArray());
        var (expected, shape) = Get(name, "y");
        foreach (int v in new[] { 0, 1 })
        {
            Ops.GroupNorm(Cpu, x, groups, g, b, y, eps, silu, v);
            Close.All(expected, y.ToArray(), NormAtol, NormRtol, shape, $"{name} v{v}");
        }
    }

    [Fact]
    public void LayerNormMatchesPyTorch()
    {
        const string name = "layer_norm_eps1e-5";
        using var x = Load(name, "x"); using var g = Load(name, "gamma"); using var b = Load(name, "beta");
        using var y = Cpu.Allocate(x.Shape.ToArray());
        var (expected, shape) = Get(name, "y");
        Ops.LayerNorm(Cpu, x, g, b, y);
        Close.All(expected, y.ToArray(), NormAtol, NormRtol, shape, name);
    }

    // Our exp (2.4e-7 relative) / erf (1.2e-7 absolute) against PyTorch's vectorised Sleef-style fp32 functions
    // (≈ 1 ulp): ≤ ~1e-6 absolute for |x| ≤ ~12.
    [Theory]
    [InlineData("silu")] [InlineData("gelu_erf")] [InlineData("gelu_tanh")] [InlineData("quick_gelu")] [InlineData("geglu")]
    public void ActivationsMatchPyTorch(string name)
    {
        using var x = Load(name, "x");
        var (expected, shape) = Get(name, "y");
        using var y = Cpu.Allocate(shape);
        foreach (int v in new[] { 0, 1 })
        {
            switch (name)
            {
                case "silu": Ops.Silu(Cpu, x, y, v); break;
                case "gelu_erf": Ops.Gelu(Cpu, x, y, GeluApproximation.Erf, v); break;
                case "gelu_tanh": Ops.Gelu(Cpu, x, y, GeluApproximation.Tanh, v); break;
                case "quick_gelu": Ops.QuickGelu(Cpu, x, y, v); break;
                case "geglu": Ops.Geglu(Cpu, x, y, v); break;
            }
            Close.All(expected, y.ToArray(), 2e-6, 2e-6, shape, $"{name} v{v}");
        }
    }

    [Theory]
    [InlineData("timestep_320_flip_shift0", true, 0f)]
    [InlineData("timestep_7_noflip_shift1", false, 1f)]
    public void TimestepEmbeddingMatchesDiffusersFormula(string name, bool flip, float shift)
    {
        using var t = Load(name, "t");
        var (expected, shape) = Get(name, "y");
        using var y = Cpu.Allocate(shape);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.TimestepEmbedding(Cpu, t, y, flip, shift, 10000f, v);
            // A 1-ulp difference between PyTorch's fp32 exp and MathF.Exp in a frequency moves t·freq by ≤ 999·6e-8.
            Close.All(expected, y.ToArray(), 1e-4, 0, shape, $"{name} v{v}");
        }
    }
}
