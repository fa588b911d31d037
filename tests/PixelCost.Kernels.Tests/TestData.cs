using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Tests;

/// <summary>Deterministic inputs (fixed seeds: failures reproduce), widening helpers and tolerances shared by the op tests.</summary>
internal static class TestData
{
    public static float[] Normal(int n, int seed, double mean = 0, double std = 1)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    /// <summary>Uniform values in [-0.5, 0.5) from a fixed seed: |v| ≤ 0.5 is what <see cref="DotAtol"/> assumes.</summary>
    public static float[] Uniform(long count, int seed)
    {
        var rng = new Random(seed);
        var r = new float[count];
        for (long i = 0; i < count; i++) r[i] = (float)(rng.NextDouble() - 0.5);
        return r;
    }

    public static F64[] D(float[] a) => Array.ConvertAll(a, v => new F64(v));
    public static F32[] S(float[] a) => Array.ConvertAll(a, v => new F32(v));
    public static Counted[] C(float[] a) => Array.ConvertAll(a, v => new Counted(v));
    public static float[] F(F64[] a) => Array.ConvertAll(a, v => (float)v.V);
    public static float[] F(F32[] a) => Array.ConvertAll(a, v => v.V);
    public static F64[] ToF64(float[] v) => D(v);
    public static Counted[] ToCounted(float[] v) => C(v);
    public static float[] ToFloat(F64[] v) => F(v);

    public static Tensor T(this CpuAccelerator acc, float[] data, params int[] shape) => acc.FromArray(data, shape);

    /// <summary>
    /// Absolute tolerance of an fp32 dot product of <paramref name="terms"/> products of values bounded by 0.5 against
    /// an fp64 reference: the classic bound |error| ≤ γ_K · Σ|a||b| with γ_K ≈ K·2⁻²⁴ and Σ|a||b| ≤ K·0.25, doubled for
    /// the rounding of the fused/blocked order (K-blocks, FMA vs separate multiply-add) and of alpha/beta/bias.
    /// A wrong or missing term moves a result by ~0.01–0.25, far above this (≤ 1e-3 for K ≤ 1000 here).
    /// </summary>
    public static double DotAtol(long terms, double scale = 1) => 2.0 * (terms + 2) * Math.Pow(2, -24) * (terms * 0.25 + 1) * scale + 1e-7;
}
