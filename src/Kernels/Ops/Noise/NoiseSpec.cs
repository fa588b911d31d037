namespace PixelCost.Kernels.Noise;

/// <summary>
/// Shape rules and cost of the noise fills. Mapping (see <see cref="Philox4x32"/>): element i of the flattened tensor
/// takes lane i % 4 of Philox block i / 4 (counter = (block, stream), key = seed).
/// <list type="bullet">
/// <item>Uniform: u = (x >> 8) · 2⁻²⁴ ∈ [0, 1): the top 24 bits, exactly representable in a float.</item>
/// <item>Gaussian (Box–Muller): elements 2p, 2p+1 use a = x[2p], b = x[2p+1] (lanes 0,1 or 2,3 of one block):
/// u1 = ((a >> 8) + 1) · 2⁻²⁴ ∈ (0, 1] (never log 0), u2 = (b >> 8) · 2⁻²⁴, r = √(−2 ln u1), θ = 2π·u2,
/// y[2p] = mean + std·(r cos θ), y[2p+1] = mean + std·(r sin θ). For odd n the last element uses r cos θ only.</item>
/// </list>
/// FLOP convention for RNG: the integer work of Philox (multiplies, xors, shifts, int→float conversion) is not FLOPs.
/// We count the floating-point operations the reference executes: per uniform 1 multiply (by 2⁻²⁴); per Gaussian pair
/// 2 multiplies (u1, u2), −2·ln (1), 2π·u2 (1), r·cos and r·sin (2), std·z + mean twice (4) = 10 other, and
/// ln, √, cos, sin = 4 transcendentals; a lone last element (odd n) costs 7 other and 3 transcendentals (no sin).
/// </summary>
public static class NoiseSpec
{
    public const string UniformOp = "noise.uniform";
    public const string GaussianOp = "noise.gaussian";

    /// <summary>2⁻²⁴: scales a 24-bit integer into [0, 1).</summary>
    public const float Inv24 = 1f / 16777216f;
    public const float TwoPi = (float)(2 * Math.PI);

    public static void Validate(string op, Tensor dst)
    {
        ArgumentNullException.ThrowIfNull(dst);
        if (dst.DType != DType.F32)
            throw new ArgumentException($"{op}: destination {dst.ShapeString} must be F32, not {dst.DType}");
    }

    public static void ValidateGaussian(Tensor dst, float mean, float std)
    {
        Validate(GaussianOp, dst);
        if (!float.IsFinite(mean) || !float.IsFinite(std) || std < 0)
            throw new ArgumentException($"{GaussianOp}: mean {mean} and std {std} must be finite with std ≥ 0 (destination {dst.ShapeString})");
    }

    public static Cost UniformCost(long n) => new(0, n, 0, 0, 4 * n);

    public static Cost GaussianCost(long n)
    {
        long pairs = n / 2, lone = n % 2;
        return new(0, 10 * pairs + 7 * lone, 4 * pairs + 3 * lone, 0, 4 * n);
    }
}
