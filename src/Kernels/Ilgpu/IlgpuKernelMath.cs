using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// Launch shapes shared by the SIMT elementwise kernels: grid-stride loops over a grid sized to fill the device a few
/// times over (more groups only add scheduling work; fewer leave multiprocessors idle).
/// </summary>
internal static class IlgpuGrid
{
    /// <summary>
    /// Threads per group: 256 on a GPU (a good occupancy point); 64 on ILGPU's CPU accelerator, which simulates every
    /// thread of a group with its own OS thread, so each barrier and shuffle costs a rendezvous of all of them.
    /// </summary>
    public static int GroupSize(Accelerator acc) =>
        Math.Min(acc.AcceleratorType == AcceleratorType.CPU ? 64 : 256, acc.MaxNumThreadsPerGroup);

    /// <summary>Groups that keep every multiprocessor busy 4 times over (enough in flight to hide memory latency).</summary>
    public static int MaxGroups(Accelerator acc, int group) =>
        Math.Max(1, acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / group) * 4);

    /// <summary>
    /// A 1-D grid for <paramref name="work"/> independent items (one per thread) handled by a grid-stride loop;
    /// <paramref name="maxGroups"/> &gt; 0 caps the grid lower (tests use it to exercise the stride loop on small data).
    /// </summary>
    public static KernelConfig Strided(Accelerator acc, long work, int maxGroups = 0)
    {
        int group = GroupSize(acc);
        long wanted = Math.Max(1, (work + group - 1) / group);
        int cap = maxGroups > 0 ? Math.Min(maxGroups, MaxGroups(acc, group)) : MaxGroups(acc, group);
        return new KernelConfig((int)Math.Min(wanted, cap), group);
    }
}

/// <summary>
/// Scalar fp32 math for kernels (ILGPU compiles XMath, not MathF). Log and SinCos are scalar ports of
/// <see cref="SimdMath{TO, TV}.Log"/> and <see cref="SimdMath{TO, TV}.SinCos"/> — the same constants and the same
/// evaluation order — so the GPU Gaussian fill follows the CPU one. Where the CPU uses a fused multiply-add, these
/// write <c>a * b + c</c>: CUDA contracts that to one FMA (ILGPU's PTX backend emits plain mul.f32/add.f32, which
/// ptxas fuses), so on a GPU the results match the CPU's bit for bit up to that contraction; ILGPU's CPU accelerator
/// runs the .NET code unfused (MathF.FusedMultiplyAdd has no ILGPU mapping), a few ulp off.
/// </summary>
internal static class IlgpuKernelMath
{
    /// <summary>a·b + c (fused on CUDA by contraction; see the class comment).</summary>
    public static float Fma(float a, float b, float c) => a * b + c;

    /// <summary>Natural log of a positive normal float (Box–Muller's u1 ∈ [2⁻²⁴, 1]); no NaN/∞/0 handling.</summary>
    public static float Log(float x)
    {
        uint bits = Interop.FloatAsInt(x);
        int e = (int)(bits >> 23) - 127;
        float m = Interop.IntAsFloat((bits & 0x007FFFFFu) | 0x3F800000u); // [1, 2)
        if (m > 1.41421356f) { m *= 0.5f; e += 1; }                          // centre on 1: [√½, √2)
        float f = m - 1f;                                                     // exact (Sterbenz)
        float p = SimdMath.LogP7;
        p = Fma(p, f, SimdMath.LogP6);
        p = Fma(p, f, SimdMath.LogP5);
        p = Fma(p, f, SimdMath.LogP4);
        p = Fma(p, f, SimdMath.LogP3);
        p = Fma(p, f, SimdMath.LogP2);
        p = Fma(p, f, SimdMath.LogP1);
        p = Fma(p, f, SimdMath.LogP0);
        float f2 = f * f;
        float log1p = Fma(f2 * f, p, Fma(-0.5f, f2, f));
        float ef = e;
        return Fma(ef, SimdMath.LogLn2Hi, Fma(ef, SimdMath.LogLn2Lo, log1p));
    }

    /// <summary>sin θ and cos θ for |θ| ≤ 2¹⁶: quadrant reduction by π/2 in two steps, Taylor polynomials, rotation.</summary>
    public static void SinCos(float theta, out float sin, out float cos)
    {
        float qf = XMath.RoundToEven(theta * SimdMath.TwoOverPi);
        float x = Fma(-qf, SimdMath.PiHalf1, theta);
        x = Fma(-qf, SimdMath.PiHalf2, x);
        int q = (int)qf;
        float x2 = x * x;
        float s = Fma(x2, 1f / 362880, -1f / 5040);
        s = Fma(s, x2, 1f / 120);
        s = Fma(s, x2, -1f / 6);
        s = Fma(s * x2, x, x);
        float c = Fma(x2, -1f / 3628800, 1f / 40320);
        c = Fma(c, x2, -1f / 720);
        c = Fma(c, x2, 1f / 24);
        c = Fma(c, x2, -0.5f);
        c = Fma(c, x2, 1f);
        // q mod 4 = 1: (sin, cos) = (cos x, −sin x); 2: (−sin x, −cos x); 3: (−cos x, sin x).
        bool swap = (q & 1) != 0;
        uint sinSign = (uint)(q & 2) << 30, cosSign = (uint)((q + 1) & 2) << 30;
        sin = Interop.IntAsFloat(Interop.FloatAsInt(swap ? c : s) ^ sinSign);
        cos = Interop.IntAsFloat(Interop.FloatAsInt(swap ? s : c) ^ cosSign);
    }

    /// <summary>
    /// e^x: a scalar port of <see cref="SimdMath.ExpFlush(float)"/> (Cody–Waite reduction by ln 2, the degree-6
    /// polynomial, 2^n added to the exponent field): ≤ 2.4e-7 relative with FMAs, a few ulp unfused; x is clamped to
    /// [−86.5, 88.3] and results below e^−86.5 are 0. Used instead of XMath.Exp so that the CPU device and CUDA (where
    /// XMath's exp is ex2.approx of x·log₂e, off by |x|·2⁻²⁴ relative) evaluate the same, accurate function.
    /// </summary>
    public static float Exp(float x)
    {
        if (x < SimdMath.ExpFlushMinArg) return 0f;
        if (XMath.IsNaN(x)) return x;
        float xc = XMath.Min(x, SimdMath.ExpFlushMaxArg);
        float t = Fma(xc, SimdMath.Log2E, SimdMath.Magic);
        float n = t - SimdMath.Magic;
        float r = Fma(-n, SimdMath.Ln2Hi, xc);
        r = Fma(-n, SimdMath.Ln2Lo, r);
        float r2 = r * r;
        float q01 = Fma(SimdMath.ExpC3, r, SimdMath.ExpC2), q23 = Fma(SimdMath.ExpC5, r, SimdMath.ExpC4);
        float q = Fma(Fma(SimdMath.ExpC6, r2, q23), r2, q01);
        float p = Fma(q, r2, r + 1f);
        // The low mantissa bits of t hold n (t = 1.5·2²³ + n): shifted into the exponent field they add n.
        return Interop.IntAsFloat(Interop.FloatAsInt(p) + (Interop.FloatAsInt(t) << 23));
    }

    /// <summary>x / (1 + e^−x) = x·σ(x) (e^−x clamped at e^88.3; there the result is ≈ −0).</summary>
    public static float Silu(float x) => x / (1f + Exp(-x));

    /// <summary>
    /// Φ(x), the standard normal CDF, for GELU: the same fit as <see cref="SimdMath{TO, TV}.NormalCdf"/> (½·erfc(u)·e^{u²}
    /// on [0, 3.92], u = |x|/√2), ≤ 1.6e-7 absolute.
    /// </summary>
    public static float NormalCdf(float x)
    {
        float ux = XMath.Abs(x) * 0.70710678118654752f;
        float u = XMath.Min(ux, 3.92f);
        float t = 1f / Fma(u, 0.6f, 1f);
        float q = Fma(-0.02089308388531208f, t, 0.08239343017339706f);
        q = Fma(q, t, -0.06318971514701843f);
        q = Fma(q, t, -0.16021157801151276f);
        q = Fma(q, t, 0.25085893273353577f);
        q = Fma(q, t, 0.05137619003653526f);
        q = Fma(q, t, 0.19390834867954254f);
        q = Fma(q, t, 0.16551929712295532f);
        q = Fma(q, t, 0.00023815793974790722f);
        float e = Exp(-(u * u)) * q;
        if (ux >= 3.92f) e = 0f;
        return x < 0f ? e : 1f - e;
    }

    /// <summary>tanh y = sign(y)·(1 − 2/(e^{2|y|} + 1)); |y| clamped at 44 where tanh is 1 in fp32.</summary>
    public static float Tanh(float y)
    {
        float a = XMath.Min(XMath.Abs(y), 44f);
        float t = 1f - 2f / (Exp(a + a) + 1f);
        return y < 0f ? -t : t;
    }
}
