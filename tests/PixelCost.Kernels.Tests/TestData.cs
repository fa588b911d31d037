using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Tests;

/// <summary>Deterministic inputs and widening helpers shared by the gemm/linear/conv tests.</summary>
internal static class TestData
{
    /// <summary>Uniform values in [-0.5, 0.5) from a fixed seed: |v| ≤ 0.5 is what the tolerances below assume.</summary>
    public static float[] Uniform(long count, int seed)
    {
        var rng = new Random(seed);
        var r = new float[count];
        for (long i = 0; i < count; i++) r[i] = (float)(rng.NextDouble() - 0.5);
        return r;
    }

    public static F64[] ToF64(float[] v) => Array.ConvertAll(v, x => new F64(x));
    public static Counted[] ToCounted(float[] v) => Array.ConvertAll(v, x => new Counted(x));
    public static float[] ToFloat(F64[] v) => Array.ConvertAll(v, x => (float)x.V);

    /// <summary>
    /// Absolute tolerance of an fp32 dot product of <paramref name="terms"/> products of values bounded by 0.5 against
    /// an fp64 reference: the classic bound |error| ≤ γ_K · Σ|a||b| with γ_K ≈ K·2⁻²⁴ and Σ|a||b| ≤ K·0.25, doubled for
    /// the rounding of the fused/blocked order (K-blocks, FMA vs separate multiply-add) and of alpha/beta/bias.
    /// A wrong or missing term moves a result by ~0.01–0.25, far above this (≤ 1e-3 for K ≤ 1000 here).
    /// </summary>
    public static double DotAtol(long terms, double scale = 1) => 2.0 * (terms + 2) * Math.Pow(2, -24) * (terms * 0.25 + 1) * scale + 1e-7;
}
