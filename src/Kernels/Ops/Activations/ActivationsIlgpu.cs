using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU activations (the semantics of <see cref="ActivationsReference"/>):
/// <list type="bullet">
/// <item>ilgpu.v1-simt: one element per thread per grid-stride step, the function chosen at compile time
/// (<see cref="SpecializedValue{T}"/>: one specialised kernel per function, no run-time branch). SiLU and quick_gelu
/// as x/(1 + e^−z); GELU erf as x·Φ(x) with the CPU's Φ fit; GELU tanh with tanh from one exp; GEGLU a·GELU_erf(g)
/// with one thread per output. In place (y = x) is fine for the unary ops: each thread reads its element first.</item>
/// <item>ilgpu.v2-vec4 (default, unary ops): as v1, four elements per thread through a <see cref="PackedFloat4"/> view —
/// ILGPU emits ld/st.global.v4.f32 for it — when x and y both start on a 16-byte boundary; the last n mod 4 elements
/// go through the scalar path in the same launch. Views that are not 16-byte aligned run v1's kernel. GEGLU has v1 only.</item>
/// </list>
/// </summary>
internal sealed class ActivationsIlgpu
{
    /// <summary>The unary functions (the values of the specialised kernel parameter).</summary>
    public enum Unary { Silu = 0, GeluErf = 1, GeluTanh = 2, QuickGelu = 3 }

    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, SpecializedValue<int>> _unary;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> _geglu;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<PackedFloat4>, ArrayView<PackedFloat4>, ArrayView<float>, ArrayView<float>,
        SpecializedValue<int>> _unary4;

    public ActivationsIlgpu(Accelerator acc)
    {
        _acc = acc;
        _unary = acc.LoadKernel<ArrayView<float>, ArrayView<float>, SpecializedValue<int>>(UnaryKernel);
        _unary4 = acc.LoadKernel<ArrayView<PackedFloat4>, ArrayView<PackedFloat4>, ArrayView<float>, ArrayView<float>, SpecializedValue<int>>(UnaryVec4Kernel);
        _geglu = acc.LoadKernel<ArrayView<float>, ArrayView<float>, int>(GegluKernel);
    }

    /// <summary>Caps the grid when &gt; 0 (tests: exercises the grid-stride loop on small data).</summary>
    internal int MaxGroups { get; set; }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt", "ilgpu.v2-vec4"];

    /// <summary>The unary ops' variant names (GEGLU has v1 only: <see cref="GegluVariantName"/>).</summary>
    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        1 => Variants[0],
        0 or 2 => Variants[1],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "activations: ILGPU variants are 0 (default = 2), 1 (simt) and 2 (vec4)"),
    };

    public static string GegluVariantName(int variant, Accelerator acc) => variant switch
    {
        0 or 1 => Variants[0],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "geglu: ILGPU variants are 0 (default) and 1 (simt)"),
    };

    /// <summary>
    /// For |x| ≤ 20. The exp is <see cref="IlgpuKernelMath.Exp"/> on every device: ≤ 2.4e-7 relative fused, a few ulp
    /// more unfused, plus the rounding of z (|z|·2⁻²⁴ absolute in the exponent: ≤ 34·2⁻²⁴ relative for quick_gelu's
    /// 1.702x), so σ and x·σ are within ≈ 2e-6 relative: SiLU, quick_gelu rtol 2e-6. GELU erf: Φ's fit ≤ 1.6e-7 absolute, ×|x| ≤ 20: atol 3e-6 (relative
    /// on the x &lt; 0 tail, where the fit is relatively accurate, rtol 2e-6). GELU tanh: 1 − 2/(e^{2|y|} + 1) is 1 ulp
    /// of 1 absolute near 0 plus the exp's error, × 0.5|x|: atol 3e-6, rtol 2e-6. GEGLU as GELU erf times a, rounding
    /// once more. atol 1e-7 everywhere for results near 0. Measured on ILGPU's CPU device over 20 000 values in [−20, 20]:
    /// max |error| SiLU 1.3e-6 (1.3e-7 relative), quick_gelu 7.4e-7, GELU erf 3.7e-7, GELU tanh 3.9e-7.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant, Unary f) => f switch
    {
        Unary.Silu or Unary.QuickGelu => (1e-7, 2e-6),
        _ => (3e-6, 2e-6),
    };

    /// <summary>y = f(x), n = x.Length (y may be x). Variant 2 falls back to v1's kernel for views not 16-byte aligned.</summary>
    /// <summary>The kernel <see cref="Run"/> enqueues for these views: v2 needs both 16-byte aligned and n ≥ 4, else v1
    /// runs (what the ledger records).</summary>
    public static string KernelName(ArrayView<float> x, ArrayView<float> y, int variant, Accelerator acc) =>
        VariantName(variant, acc) == Variants[1] && x.Length >= 4 && Aligned16(x) && Aligned16(y) ? Variants[1] : Variants[0];

    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, Unary f, int variant)
    {
        long n = x.Length;
        if (n == 0) return;
        var fn = new SpecializedValue<int>((int)f);
        if (KernelName(x, y, variant, _acc) == Variants[1])
        {
            long n4 = n / 4, rest = n - 4 * n4;
            // The threads below the tail's length handle it; an empty tail is an empty view at the start (a view may not
            // start at its parent's end).
            var xt = rest > 0 ? x.SubView(4 * n4, rest) : x.SubView(0, 0);
            var yt = rest > 0 ? y.SubView(4 * n4, rest) : y.SubView(0, 0);
            _unary4(stream, IlgpuGrid.Strided(_acc, n4, MaxGroups), x.SubView(0, 4 * n4).Cast<PackedFloat4>(), y.SubView(0, 4 * n4).Cast<PackedFloat4>(),
                xt, yt, fn);
            return;
        }
        _unary(stream, IlgpuGrid.Strided(_acc, n, MaxGroups), x, y, fn);
    }

    private static bool Aligned16(ArrayView<float> v) => (v.LoadEffectiveAddressAsPtr().ToInt64() & 15) == 0;

    /// <summary>x: [rows, 2D] → y: [rows, D] = x[:, :D]·GELU_erf(x[:, D:]) (y must not overlap x).</summary>
    public void RunGeglu(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int d, int variant)
    {
        GegluVariantName(variant, _acc);
        if (y.Length == 0) return;
        _geglu(stream, IlgpuGrid.Strided(_acc, y.Length, MaxGroups), x, y, d);
    }

    internal static float Apply(float v, int f) => f switch
    {
        0 => IlgpuKernelMath.Silu(v),
        1 => v * IlgpuKernelMath.NormalCdf(v),
        2 => GeluTanh(v),
        _ => v / (1f + IlgpuKernelMath.Exp(v * -1.702f)),
    };

    /// <summary>h + h·tanh(√(2/π)·(x + 0.044715x³)), h = x/2 (the CPU kernel's form of 0.5x(1 + tanh)).</summary>
    private static float GeluTanh(float x)
    {
        float inner = 0.79788456080286535588f * (x + 0.044715f * (x * x * x));
        float h = 0.5f * x;
        return h * IlgpuKernelMath.Tanh(inner) + h;
    }

    // x, y: [n]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void UnaryKernel(ArrayView<float> x, ArrayView<float> y, SpecializedValue<int> f)
    {
        long n = x.Length;
        for (long i = Grid.GlobalIndex.X; i < n; i += (long)Grid.DimX * Group.DimX) y[i] = Apply(x[i], f.Value);
    }

    // x4, y4: [n / 4] of 4 floats; xt, yt: the last n mod 4 elements.
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void UnaryVec4Kernel(ArrayView<PackedFloat4> x4, ArrayView<PackedFloat4> y4, ArrayView<float> xt, ArrayView<float> yt, SpecializedValue<int> f)
    {
        long first = Grid.GlobalIndex.X;
        for (long i = first; i < x4.Length; i += (long)Grid.DimX * Group.DimX)
        {
            var v = x4[i];
            v.X = Apply(v.X, f.Value); v.Y = Apply(v.Y, f.Value); v.Z = Apply(v.Z, f.Value); v.W = Apply(v.W, f.Value);
            y4[i] = v;
        }
        if (first < xt.Length) yt[first] = Apply(xt[first], f.Value);
    }

    // x: [rows, 2D], y: [rows, D]
    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void GegluKernel(ArrayView<float> x, ArrayView<float> y, int d)
    {
        long n = y.Length;
        for (long i = Grid.GlobalIndex.X; i < n; i += (long)Grid.DimX * Group.DimX)
        {
            long r = i / d, j = i - r * d;
            long a = r * 2 * d + j;
            float g = x[a + d];
            y[i] = x[a] * (g * IlgpuKernelMath.NormalCdf(g));
        }
    }
}

/// <summary>
/// Four consecutive floats: ILGPU loads and stores a view of these with one 16-byte vector instruction (it assumes the
/// 16-byte alignment, so callers check it). Public because kernels' parameter types must be.
/// </summary>
public struct PackedFloat4
{
    public float X, Y, Z, W;
}
