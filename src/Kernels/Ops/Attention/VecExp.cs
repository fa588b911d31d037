using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Ops;

/// <summary>
/// Our own fp32 exp / exp2 for the softmax and attention kernels (generic over the vector width: <see cref="AttnV256"/> AVX2 + FMA, <see cref="AttnV512"/> cross-platform
/// Vector512; with scalar twins for row tails that
/// run the identical algorithm, so a value does not depend on whether it fell in a vector or in a tail).
/// Method: x = n·ln2 + r with n = round(x·log2 e) and r by a two-constant Cody–Waite reduction (|r| ≤ ln2/2),
/// e^r by a degree-6 polynomial (c0 = c1 = 1) fitted for minimax relative error on that interval (fit error 2.0e-9, far below
/// fp32's 6e-8 half-ulp, so the rounding of the Horner steps dominates), then 2^n added into the exponent bits.
/// n is taken with the 1.5·2^23 "magic number" add, which rounds to nearest and leaves n in the low mantissa bits —
/// shifting those bits left by 23 gives n's exponent field without a float→int conversion.
/// Range: inputs are clamped to [-86.5, 88.3]; results below e^-86.5 ≈ 2.6e-38 (and -inf) are flushed to 0, so
/// subnormal outputs are not produced; NaN propagates. Measured max relative error vs Math.Exp: see VecExpTests.
/// </summary>
internal static class VecExp
{
    // Minimax fit of e^r on |r| ≤ 1.001·ln2/2 (tools: a reweighted least-squares fit in numpy), c0 = 1 fixed.
    private const float C2 = 0.49999994f, C3 = 0.16666430f, C4 = 0.041668009f, C5 = 0.0083742365f, C6 = 0.0013843559f;
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split so n·Ln2Hi is exact for |n| < 2^15 (Ln2Hi has 9 significant bits); Ln2Lo carries the rest.
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float Magic = 12582912f; // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits
    internal const float MinArg = -86.5f, MaxArg = 88.3f;
    // For exp2 the same polynomial with ln2 folded in: B_k = (float)(c_k·ln2^k), written out as literals (SoftmaxTests checks
    // them against that formula) because consts, unlike static readonly fields, need no class-initialisation check in the
    // AggressiveOptimization kernels that inline this (the check forced register spills in their inner loops).
    internal const float B1 = 0.6931472f, B2 = 0.24022648f, B3 = 0.05550332f, B4 = 0.009618439f, B5 = 0.0013399004f,
        B6 = 0.00015353257f;
    internal const float C2p = C2, C3p = C3, C4p = C4, C5p = C5, C6p = C6;  // for that test
    internal const float Exp2MinArg = -124.8f;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>e^x per lane, 256-bit path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) => Exp<AttnV256, Vector256<float>>(x);

    /// <summary>e^x per lane, 512-bit path (same algorithm, bit-identical per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x) => Exp<AttnV512, Vector512<float>>(x);

    /// <summary>e^x per lane for either vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<V, TV>(TV x) where V : IVecF<TV> where TV : struct
    {
        var xc = V.Clamp(x, V.Splat(MinArg), V.Splat(MaxArg));
        var t = V.Fma(xc, V.Splat(Log2E), V.Splat(Magic));
        var n = V.Sub(t, V.Splat(Magic));
        var r = V.Fnma(n, V.Splat(Ln2Hi), xc);
        r = V.Fnma(n, V.Splat(Ln2Lo), r);
        // e^r = (1 + r) + r²·(C2 + C3 r + r²(C4 + C5 r + C6 r²)): Estrin-style, a 4-deep dependency chain after r
        // instead of Horner's 6, so more exps are in flight in the out-of-order window.
        var r2 = V.Mul(r, r);
        var q01 = V.Fma(V.Splat(C3), r, V.Splat(C2));
        var q23 = V.Fma(V.Splat(C5), r, V.Splat(C4));
        var q = V.Fma(V.Fma(V.Splat(C6), r2, q23), r2, q01);
        var p = V.Fma(q, r2, V.Add(r, V.Splat(1f)));
        // x < MinArg (incl. -inf) → 0.
        return V.ZeroWhereLess(x, V.Splat(MinArg), V.AddToExponent(p, t));
    }

    /// <summary>e^x, the scalar twin of <see cref="Exp(Vector256{float})"/> (bit-identical per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        if (x < MinArg) return 0f;
        if (float.IsNaN(x)) return x;
        float xc = MathF.Min(x, MaxArg);
        float t = MathF.FusedMultiplyAdd(xc, Log2E, Magic);
        float n = t - Magic;
        float r = MathF.FusedMultiplyAdd(-n, Ln2Hi, xc);
        r = MathF.FusedMultiplyAdd(-n, Ln2Lo, r);
        float r2 = r * r;
        float q01 = MathF.FusedMultiplyAdd(C3, r, C2), q23 = MathF.FusedMultiplyAdd(C5, r, C4);
        float q = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(C6, r2, q23), r2, q01);
        float p = MathF.FusedMultiplyAdd(q, r2, r + 1f);
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(p) + (BitConverter.SingleToInt32Bits(t) << 23));
    }

    /// <summary>
    /// 2^x per lane for x ≤ 0 (the attention kernel's scores are pre-scaled by log2 e and have their row max
    /// subtracted). x below -124.8 is clamped there, so it yields ≈2^-124.8 (≈3e-38), not 0: negligible next to a row
    /// sum ≥ 1; the kernel writes exact zeros for masked and padding keys itself. No NaN or +inf handling (none occur).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2NonPositive(Vector256<float> x) => Exp2NonPositive<AttnV256, Vector256<float>>(x);

    /// <summary>512-bit <see cref="Exp2NonPositive(Vector256{float})"/> (bit-identical per lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2NonPositive(Vector512<float> x) => Exp2NonPositive<AttnV512, Vector512<float>>(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp2NonPositive<V, TV>(TV x) where V : IVecF<TV> where TV : struct
    {
        var xc = V.Max(x, V.Splat(Exp2MinArg));
        var t = V.Add(xc, V.Splat(Magic));
        var f = V.Sub(xc, V.Sub(t, V.Splat(Magic)));  // exact: |f| ≤ 0.5
        var p = V.Fma(V.Splat(B6), f, V.Splat(B5));
        p = V.Fma(p, f, V.Splat(B4));
        p = V.Fma(p, f, V.Splat(B3));
        p = V.Fma(p, f, V.Splat(B2));
        p = V.Fma(p, f, V.Splat(B1));
        p = V.Fma(p, f, V.Splat(1f));
        return V.AddToExponent(p, t);
    }
}
