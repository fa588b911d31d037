using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// Vectorised fp32 transcendentals for fused elementwise kernels (8 lanes; the JIT lowers Vector256 to AVX2 here and
/// emulates it elsewhere, so results are the same bits on every machine). Errors measured against double math over a
/// dense sweep by the tests in ElementwiseTests: Exp ≤ 2.4e-7 relative (normal results), Erf ≤ 1.2e-7 absolute, NormalCdf ≤ 1.6e-7 absolute, Tanh ≤ 1.2e-7 absolute.
/// Tails shorter than a vector go through <see cref="Apply"/> with a padded buffer so they use the very same code.
/// </summary>
public static class SimdMath
{
    private const float Log2E = 1.44269504088896341f;
    // ln 2 split in a part with trailing zero bits (n·Ln2Hi is exact for |n| ≤ 2^9) and the remainder.
    private const float Ln2Hi = 0.693145751953125f;
    private const float Ln2Lo = 1.42860682030941723212e-6f;
    // Above ExpOverflow expf is +∞; below ExpMin it rounds to 0. 2^n is applied as 2^⌊n/2⌋·2^(n−⌊n/2⌋), so n up to
    // 128 and subnormal results (n down to −150) come out right without a special path.
    private const float ExpOverflow = 88.72283935546875f;
    private const float ExpMax = 88.72283935546875f;
    private const float ExpMin = -104f;
    private const float RoundMagic = 12582912f; // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits

    // vminps/vmaxps with their x86 semantics spelled out (when either input is NaN the second operand is returned): the
    // clamps below rely on it; elsewhere the IEEE Min/Max (NaN-propagating) fallback is used.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> VMin(Vector256<float> a, Vector256<float> b) => Avx.IsSupported ? Avx.Min(a, b) : Vector256.Min(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> VMax(Vector256<float> a, Vector256<float> b) => Avx.IsSupported ? Avx.Max(a, b) : Vector256.Max(a, b);

    // e^r on |r| ≤ ln2/2: degree-6 least-squares fit on Chebyshev nodes (numpy polyfit), 2.6e-9 relative in exact
    // arithmetic: fp32 Horner rounding dominates.
    private const float E2 = 0.5f, E3 = 0.16666415333747864f, E4 = 0.041666217148303986f, E5 = 0.008375128731131554f,
        E6 = 0.001394858118146658f;

    /// <summary>Range reduction x = n·ln2 + r and the polynomial: returns e^r and n (as the rounded k's bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Reduce(Vector256<float> x, out Vector256<int> n)
    {
        var k = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(RoundMagic));
        var nf = k - Vector256.Create(RoundMagic);
        var r = Vector256.FusedMultiplyAdd(nf, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(nf, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(E6), r, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        // The low bits of k hold n + 0x400000 (from the magic).
        n = k.AsInt32() - Vector256.Create(0x4B400000);
        return p;
    }

    /// <summary>e^x for x in [−87.3, 88.3] only (2^n must be a normal float): no clamping, no special values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpInRange(Vector256<float> x)
    {
        var p = Reduce(x, out var n);
        return p * ((n + Vector256.Create(127)) << 23).AsSingle();   // (n + 127) << 23 is the float 2^n
    }

    /// <summary>
    /// e^x for every finite or infinite x; a NaN input gives an unspecified finite value (callers whose result also
    /// depends on x directly, like x/(1 + e^−x), propagate the NaN themselves).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpNoNaN(Vector256<float> x)
    {
        var xc = VMin(VMax(x, Vector256.Create(ExpMin)), Vector256.Create(ExpMax));
        var p = Reduce(xc, out var n);
        var h = n >> 1;
        var s1 = (h + Vector256.Create(127)) << 23;
        var s2 = (n - h + Vector256.Create(127)) << 23;
        var y = p * s1.AsSingle() * s2.AsSingle();
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(ExpOverflow)), Vector256.Create(float.PositiveInfinity), y);
    }

    /// <summary>e^x: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial, × 2^n. NaN gives NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x) =>
        Vector256.ConditionalSelect(Vector256.Equals(x, x), ExpNoNaN(x), x);

    /// <summary>σ(x) = 1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    /// <summary>
    /// x·σ(x) = x/(1 + e^−x). e^−x is clamped to [e^−87, e^88] so the cheap in-range exp applies: past the clamp the
    /// exact result is x itself (x &gt; 87) or below 1e-36 in magnitude (x &lt; −88). A NaN x gives NaN through the numerator.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Silu(Vector256<float> x) =>
        x / (Vector256<float>.One + ExpInRange(VMin(VMax(-x, Vector256.Create(-87f)), Vector256.Create(88f))));

    /// <summary>
    /// tanh y = sign(y)·(1 − 2/(e^{2|y|} + 1)). Absolute error ≈ 1 ulp of 1 near 0 (relative error grows there), which
    /// is what GELU needs: it adds the result to 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> y)
    {
        var sign = y & Vector256.Create(-0f);
        var a = Vector256.Abs(y);
        // Beyond |y| = 44, 2/(e^88 + 1) < 1e-38: tanh is 1 in fp32, so the clamp keeps exp in its cheap range.
        var e = ExpInRange(VMin(a + a, Vector256.Create(88f)));
        var t = Vector256<float>.One - Vector256.Create(2f) / (e + Vector256<float>.One);
        return Vector256.ConditionalSelect(Vector256.Equals(y, y), t | sign, y);
    }

    // erf(x)/x ≈ A(x²) on |x| < 0.9 and erfc(x)·e^{x²} ≈ B(1/(1 + x/2)) on 0.9 ≤ |x| < 3.92: least-squares fits on
    // Chebyshev nodes (tools: numpy polyfit, degree 5 and 6), 1.2e-8 and 5.6e-9 absolute in exact arithmetic; fp32
    // evaluation brings the total to ≤ 1.2e-7. Beyond 3.92 erf is 1 in fp32.
    private const float A0 = 1.1283791065216064f, A1 = -0.3761255443096161f, A2 = 0.11282408982515335f,
        A3 = -0.026787415146827698f, A4 = 0.005023307166993618f, A5 = -0.0006144192302599549f;
    private const float B0 = 0.0007271867361851037f, B1 = 0.2720731794834137f, B2 = 0.33898991346359253f,
        B3 = 0.07858195155858994f, B4 = 0.4389939308166504f, B5 = -0.08609457314014435f, B6 = -0.043839603662490845f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var sign = x & Vector256.Create(-0f);
        var a = VMin(Vector256.Abs(x), Vector256.Create(3.92f));
        var z = a * a;
        var p = Vector256.Create(A5);
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(A4));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(A3));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(A2));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(A1));
        p = Vector256.FusedMultiplyAdd(p, z, Vector256.Create(A0));
        var small = p * a;
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(a, Vector256.Create(0.5f), Vector256<float>.One);
        var q = Vector256.Create(B6);
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B5));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B4));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B3));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B2));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B1));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(B0));
        var large = Vector256.FusedMultiplyAdd(-ExpInRange(-z), q, Vector256<float>.One); // −z ∈ [−15.4, 0] // 1 − e^{−x²}·q
        large = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(3.92f)), Vector256<float>.One, large);
        var r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(0.9f)), small, large);
        r |= sign;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), r, x);
    }

    // Φ(x) for x < 0 is ½·erfc(|x|/√2) = e^{−u²}·R(t), u = |x|/√2, t = 1/(1 + 0.6u): R is a degree-8 least-squares fit of
    // ½·erfc(u)·e^{u²} on Chebyshev nodes of [0, 3.92] (numpy polyfit). One branch, one exp, one divide.
    private const float C0 = 0.00023815793974790722f, C1 = 0.16551929712295532f, C2 = 0.19390834867954254f,
        C3 = 0.05137619003653526f, C4 = 0.25085893273353577f, C5 = -0.16021157801151276f, C6 = -0.06318971514701843f,
        C7 = 0.08239343017339706f, C8 = -0.02089308388531208f;

    /// <summary>
    /// The standard normal CDF Φ(x) = ½(1 + erf(x/√2)), for GELU = x·Φ(x): ≤ 1.6e-7 absolute (measured 1.55e-7 near x = 0; relatively accurate for
    /// x &lt; 0, where 1 + erf would cancel). Cheaper than going through <see cref="Erf"/> (one branch instead of two).
    /// A NaN x gives an unspecified value; GELU's factor x carries the NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> NormalCdf(Vector256<float> x)
    {
        var ux = Vector256.Abs(x) * Vector256.Create(0.70710678118654752f);
        var u = VMin(ux, Vector256.Create(3.92f));
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(u, Vector256.Create(0.6f), Vector256<float>.One);
        var q = Vector256.FusedMultiplyAdd(Vector256.Create(C8), t, Vector256.Create(C7));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C6));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C5));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C4));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C3));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C2));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C1));
        q = Vector256.FusedMultiplyAdd(q, t, Vector256.Create(C0));
        var e = ExpInRange(-(u * u)) * q;   // −u² ∈ [−15.4, 0]
        // Past the fitted range the tail is < 1.6e-8: 0 (x·Φ then stays 0 instead of growing with |x|).
        e = Vector256.AndNot(e, Vector256.GreaterThanOrEqual(ux, Vector256.Create(3.92f)));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), e, Vector256<float>.One - e);
    }

    /// <summary>Applies a vector function to a span of any length; the tail is padded into one vector.</summary>
    public static unsafe void Apply<TF>(float* x, float* y, long n) where TF : struct, IVectorFunc
    {
        long i = 0;
        // One vector per iteration: the functions are long dependency chains that out-of-order execution overlaps
        // across iterations anyway, and unrolling made the JIT spill its 16 ymm registers.
        for (; i + 8 <= n; i += 8) TF.Invoke(Vector256.Load(x + i)).Store(y + i);
        if (i < n)
        {
            int rest = (int)(n - i);
            float* buf = stackalloc float[8];
            for (int j = 0; j < 8; j++) buf[j] = j < rest ? x[i + j] : 0f;
            var v = TF.Invoke(Vector256.Load(buf));
            v.Store(buf);
            for (int j = 0; j < rest; j++) y[i + j] = buf[j];
        }
    }

    /// <summary>Scalar entry to the vector code (tests and odd single values): lane 0 of a broadcast.</summary>
    public static float Scalar<TF>(float x) where TF : struct, IVectorFunc => TF.Invoke(Vector256.Create(x)).ToScalar();
}

/// <summary>An elementwise vector function, as a struct so generic kernels inline it.</summary>
public interface IVectorFunc
{
    static abstract Vector256<float> Invoke(Vector256<float> x);
}

public struct ExpFunc : IVectorFunc { public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.Exp(x); }
public struct ErfFunc : IVectorFunc { public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.Erf(x); }
public struct TanhFunc : IVectorFunc { public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.Tanh(x); }
public struct NormalCdfFunc : IVectorFunc { public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.NormalCdf(x); }
public struct SigmoidFunc : IVectorFunc { public static Vector256<float> Invoke(Vector256<float> x) => SimdMath.Sigmoid(x); }
