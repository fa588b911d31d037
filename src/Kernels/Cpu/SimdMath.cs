using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// The one home of our vectorised fp32 transcendentals (activations, norms, softmax, attention, the Gaussian fill),
/// written once over the vector width: TO is
/// <see cref="V256"/> (8 lanes, AVX2 here) or <see cref="V512"/> (16 lanes, AVX-512 where the hardware has it, emulated
/// in software elsewhere). Every lane runs the same operations in the same order at both widths, so the two paths give
/// the same bits (the tests check it). Errors measured against double math over a
/// dense sweep by the tests in ElementwiseTests: Exp ≤ 2.4e-7 relative (normal results), Erf ≤ 1.2e-7 absolute, NormalCdf ≤ 1.6e-7 absolute, Tanh ≤ 1.2e-7 absolute;
/// in SoftmaxTests: ExpFlush ≈ 2 × 2⁻²⁴ relative, Exp2NonPositive ≈ 1.3 × 2⁻²⁴; in NoiseTests: Log ≤ 4u relative, SinCos ≤ 4u absolute.
/// Every exp variant (Exp, ExpNoNaN, ExpInRange, ExpFlush, and Exp2NonPositive's folded coefficients) shares one
/// reduction and polynomial (<see cref="ExpCore"/>); they differ only in how they handle the ends of the range.
/// Tails shorter than a vector go through Apply with a padded buffer so they use the very same code.
/// </summary>
public static class SimdMath<TO, TV> where TO : struct, IVec<TV> where TV : struct
{
    // The exp range reduction and polynomial are SimdMath's (non-generic) constants, shared with the scalar twin.
    private const float Log2E = SimdMath.Log2E, Ln2Hi = SimdMath.Ln2Hi, Ln2Lo = SimdMath.Ln2Lo, RoundMagic = SimdMath.Magic;
    // Above ExpOverflow expf is +∞; below ExpMin it rounds to 0. 2^n is applied as 2^⌊n/2⌋·2^(n−⌊n/2⌋), so n up to
    // 128 and subnormal results (n down to −150) come out right without a special path.
    private const float ExpOverflow = 88.72283935546875f;
    private const float ExpMax = 88.72283935546875f;
    private const float ExpMin = -104f;

    // Short names keep the polynomials readable.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static TV C(float c) => TO.Splat(c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] private static TV Fma(TV a, TV b, TV c) => TO.Fma(a, b, c);

    /// <summary>
    /// The one exp core: x = n·ln2 + r (n = round(x·log2 e), two-constant Cody–Waite reduction, |r| ≤ ln2/2) and e^r by
    /// SimdMath's degree-6 minimax polynomial. Returns e^r; k holds n in its low mantissa bits (k = 1.5·2^23 + n).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV ExpCore(TV x, out TV k)
    {
        k = Fma(x, C(Log2E), C(RoundMagic));
        var nf = TO.Sub(k, C(RoundMagic));
        var r = TO.Fnma(nf, C(Ln2Hi), x);
        r = TO.Fnma(nf, C(Ln2Lo), r);
        // e^r = (1 + r) + r²·(C2 + C3 r + r²(C4 + C5 r + C6 r²)): Estrin-style, a 4-deep dependency chain after r
        // instead of Horner's 6, so more exps are in flight in the out-of-order window.
        var r2 = TO.Mul(r, r);
        var q01 = Fma(C(SimdMath.ExpC3), r, C(SimdMath.ExpC2));
        var q23 = Fma(C(SimdMath.ExpC5), r, C(SimdMath.ExpC4));
        var q = Fma(Fma(C(SimdMath.ExpC6), r2, q23), r2, q01);
        return Fma(q, r2, TO.Add(r, TO.One));
    }

    /// <summary>Range reduction and polynomial: returns e^r and n (int32 lanes, as bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Reduce(TV x, out TV n)
    {
        var p = ExpCore(x, out var k);
        // The low bits of k hold n + 0x400000 (from the magic).
        n = TO.SubInt(k, TO.SplatInt(0x4B400000));
        return p;
    }

    /// <summary>The float 2^n for int32 lanes n in [−126, 127]: (n + 127) &lt;&lt; 23.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Pow2(TV n) => TO.ShiftLeftInt(TO.AddInt(n, TO.SplatInt(127)), 23);

    /// <summary>e^x for x in [−87.3, 88.3] only (2^n must be a normal float): no clamping, no special values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpInRange(TV x)
    {
        // The result is normal here, so adding n to p's exponent field (two integer ops) equals p·2^n bit for bit.
        var p = ExpCore(x, out var k);
        return TO.AddToExponent(p, k);
    }

    /// <summary>
    /// e^x for every finite or infinite x; a NaN input gives an unspecified value (callers whose result also
    /// depends on x directly, like x/(1 + e^−x), propagate the NaN themselves).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpNoNaN(TV x)
    {
        var xc = TO.Min(TO.Max(x, C(ExpMin)), C(ExpMax));
        var p = Reduce(xc, out var n);
        var h = TO.ShiftRightArithmeticInt(n, 1);
        var y = TO.Mul(TO.Mul(p, Pow2(h)), Pow2(TO.SubInt(n, h)));
        return TO.Select(TO.Greater(x, C(ExpOverflow)), C(float.PositiveInfinity), y);
    }

    /// <summary>e^x: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial, × 2^n. NaN gives NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp(TV x) => TO.Select(TO.Equal(x, x), ExpNoNaN(x), x);

    /// <summary>
    /// e^x for the softmax kernels, whose arguments are x − rowmax ≤ 0 (or −∞): inputs clamped to [−86.5, 88.3], results
    /// below e^−86.5 ≈ 2.6e-38 (and −∞) flushed to 0, so no subnormal outputs; NaN propagates. Bit-identical per lane to
    /// <see cref="SimdMath.ExpFlush(float)"/>, its scalar twin for row tails.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV ExpFlush(TV x)
    {
        var xc = TO.Clamp(x, C(SimdMath.ExpFlushMinArg), C(SimdMath.ExpFlushMaxArg));
        var p = ExpCore(xc, out var t);
        return TO.ZeroWhereLess(x, C(SimdMath.ExpFlushMinArg), TO.AddToExponent(p, t));
    }

    /// <summary>
    /// 2^x per lane for x ≤ 0 (the attention kernel's scores are pre-scaled by log2 e and have their row max
    /// subtracted). x below −124.8 is clamped there, so it yields ≈2^−124.8 (≈3e-38), not 0: negligible next to a row
    /// sum ≥ 1; the kernel writes exact zeros for masked and padding keys itself. No NaN or +∞ handling (none occur).
    /// The exp polynomial with ln2 folded into its coefficients (Horner: only 6 FMAs after the reduction).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp2NonPositive(TV x)
    {
        var xc = TO.Max(x, C(SimdMath.Exp2MinArg));
        var t = TO.Add(xc, C(RoundMagic));
        var f = TO.Sub(xc, TO.Sub(t, C(RoundMagic)));  // exact: |f| ≤ 0.5
        var p = Fma(C(SimdMath.B6), f, C(SimdMath.B5));
        p = Fma(p, f, C(SimdMath.B4));
        p = Fma(p, f, C(SimdMath.B3));
        p = Fma(p, f, C(SimdMath.B2));
        p = Fma(p, f, C(SimdMath.B1));
        p = Fma(p, f, TO.One);
        return TO.AddToExponent(p, t);
    }

    /// <summary>
    /// Natural log of positive normal floats only (no NaN/∞/zero/subnormal handling): Box–Muller's u1 ∈ [2⁻²⁴, 1].
    /// log x = e·ln2 + log1p(f), the mantissa centred on 1 ([√½, √2)) so f is small on both sides and needs no
    /// cancellation. ≤ 4u relative on (0, 1] (u = 2⁻²⁴; measured exhaustively over the Gaussian fill's inputs in NoiseTests).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Log(TV x)
    {
        var e = TO.SubInt(TO.ShiftRightLogicalInt(x, 23), TO.SplatInt(127));
        var m = TO.Or(TO.And(x, TO.SplatInt(0x007FFFFF)), TO.SplatInt(0x3F800000)); // [1, 2)
        var big = TO.Greater(m, C(1.41421356f));
        m = TO.Select(big, TO.Mul(m, C(0.5f)), m);
        e = TO.SubInt(e, big); // the mask is −1 where halved
        var f = TO.Sub(m, TO.One); // exact (Sterbenz)
        var p = C(SimdMath.LogP7);
        p = Fma(p, f, C(SimdMath.LogP6));
        p = Fma(p, f, C(SimdMath.LogP5));
        p = Fma(p, f, C(SimdMath.LogP4));
        p = Fma(p, f, C(SimdMath.LogP3));
        p = Fma(p, f, C(SimdMath.LogP2));
        p = Fma(p, f, C(SimdMath.LogP1));
        p = Fma(p, f, C(SimdMath.LogP0));
        var f2 = TO.Mul(f, f);
        var log1p = Fma(TO.Mul(f2, f), p, Fma(C(-0.5f), f2, f));
        var ef = TO.IntToFloat(e);
        return Fma(ef, C(SimdMath.LogLn2Hi), Fma(ef, C(SimdMath.LogLn2Lo), log1p));
    }

    /// <summary>
    /// sin θ and cos θ for |θ| ≤ 2¹⁶: reduce to x = θ − q·π/2 ∈ [−π/4, π/4], Taylor polynomials (truncation below
    /// 2·10⁻⁹ there: x¹¹/11! and x¹²/12!), then rotate by the quadrant q mod 4. ≤ 4u absolute on [0, 2π) (NoiseTests).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (TV Sin, TV Cos) SinCos(TV theta)
    {
        var qf = TO.Round(TO.Mul(theta, C(SimdMath.TwoOverPi)));
        var x = TO.Fnma(qf, C(SimdMath.PiHalf1), theta);
        x = TO.Fnma(qf, C(SimdMath.PiHalf2), x);
        var q = TO.FloatToInt(qf);
        var x2 = TO.Mul(x, x);
        var s = Fma(x2, C(1f / 362880), C(-1f / 5040));
        s = Fma(s, x2, C(1f / 120));
        s = Fma(s, x2, C(-1f / 6));
        s = Fma(TO.Mul(s, x2), x, x);
        var c = Fma(x2, C(-1f / 3628800), C(1f / 40320));
        c = Fma(c, x2, C(-1f / 720));
        c = Fma(c, x2, C(1f / 24));
        c = Fma(c, x2, C(-0.5f));
        c = Fma(c, x2, TO.One);
        // q mod 4 = 1: (sin, cos) = (cos x, −sin x); 2: (−sin x, −cos x); 3: (−cos x, sin x).
        var swap = TO.ShiftRightArithmeticInt(TO.ShiftLeftInt(q, 31), 31); // all ones where q is odd
        var two = TO.SplatInt(2);
        var sinSign = TO.ShiftLeftInt(TO.And(q, two), 30);
        var cosSign = TO.ShiftLeftInt(TO.And(TO.AddInt(q, TO.SplatInt(1)), two), 30);
        var sin = TO.Xor(TO.Select(swap, c, s), sinSign);
        var cos = TO.Xor(TO.Select(swap, s, c), cosSign);
        return (sin, cos);
    }

    /// <summary>σ(x) = 1/(1 + e^−x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid(TV x) => TO.Div(TO.One, TO.Add(TO.One, Exp(TO.Neg(x))));

    /// <summary>
    /// x·σ(x) = x/(1 + e^−x). e^−x is clamped to [e^−87, e^88] so the cheap in-range exp applies: past the clamp the
    /// exact result is x itself (x &gt; 87) or below 1e-36 in magnitude (x &lt; −88). A NaN x gives NaN through the numerator.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Silu(TV x) => TO.Div(x, TO.Add(TO.One, ExpInRange(TO.Min(TO.Max(TO.Neg(x), C(-87f)), C(88f)))));

    /// <summary>x·σ(1.702x) (CLIP's quick GELU), clamped like <see cref="Silu"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV QuickGelu(TV x) =>
        TO.Div(x, TO.Add(TO.One, ExpInRange(TO.Min(TO.Max(TO.Mul(x, C(-1.702f)), C(-87f)), C(88f)))));

    /// <summary>
    /// tanh y = sign(y)·(1 − 2/(e^{2|y|} + 1)). Absolute error ≈ 1 ulp of 1 near 0 (relative error grows there), which
    /// is what GELU needs: it adds the result to 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh(TV y)
    {
        var sign = TO.And(y, C(-0f));
        var a = TO.Abs(y);
        // Beyond |y| = 44, 2/(e^88 + 1) < 1e-38: tanh is 1 in fp32, so the clamp keeps exp in its cheap range.
        var e = ExpInRange(TO.Min(TO.Add(a, a), C(88f)));
        var t = TO.Sub(TO.One, TO.Div(C(2f), TO.Add(e, TO.One)));
        return TO.Select(TO.Equal(y, y), TO.Or(t, sign), y);
    }

    // erf(x)/x ≈ A(x²) on |x| < 0.9 and erfc(x)·e^{x²} ≈ B(1/(1 + x/2)) on 0.9 ≤ |x| < 3.92: least-squares fits on
    // Chebyshev nodes (tools: numpy polyfit, degree 5 and 6), 1.2e-8 and 5.6e-9 absolute in exact arithmetic; fp32
    // evaluation brings the total to ≤ 1.2e-7. Beyond 3.92 erf is 1 in fp32.
    private const float A0 = 1.1283791065216064f, A1 = -0.3761255443096161f, A2 = 0.11282408982515335f,
        A3 = -0.026787415146827698f, A4 = 0.005023307166993618f, A5 = -0.0006144192302599549f;
    private const float B0 = 0.0007271867361851037f, B1 = 0.2720731794834137f, B2 = 0.33898991346359253f,
        B3 = 0.07858195155858994f, B4 = 0.4389939308166504f, B5 = -0.08609457314014435f, B6 = -0.043839603662490845f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Erf(TV x)
    {
        var sign = TO.And(x, C(-0f));
        var a = TO.Min(TO.Abs(x), C(3.92f));
        var z = TO.Mul(a, a);
        var p = C(A5);
        p = Fma(p, z, C(A4));
        p = Fma(p, z, C(A3));
        p = Fma(p, z, C(A2));
        p = Fma(p, z, C(A1));
        p = Fma(p, z, C(A0));
        var small = TO.Mul(p, a);
        var t = TO.Div(TO.One, Fma(a, C(0.5f), TO.One));
        var q = C(B6);
        q = Fma(q, t, C(B5));
        q = Fma(q, t, C(B4));
        q = Fma(q, t, C(B3));
        q = Fma(q, t, C(B2));
        q = Fma(q, t, C(B1));
        q = Fma(q, t, C(B0));
        var large = Fma(TO.Neg(ExpInRange(TO.Neg(z))), q, TO.One); // 1 − e^{−x²}·q, −z ∈ [−15.4, 0]
        large = TO.Select(TO.GreaterOrEqual(a, C(3.92f)), TO.One, large);
        var r = TO.Select(TO.Less(a, C(0.9f)), small, large);
        r = TO.Or(r, sign);
        return TO.Select(TO.Equal(x, x), r, x);
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
    public static TV NormalCdf(TV x)
    {
        var ux = TO.Mul(TO.Abs(x), C(0.70710678118654752f));
        var u = TO.Min(ux, C(3.92f));
        var t = TO.Div(TO.One, Fma(u, C(0.6f), TO.One));
        var q = Fma(C(C8), t, C(C7));
        q = Fma(q, t, C(C6));
        q = Fma(q, t, C(C5));
        q = Fma(q, t, C(C4));
        q = Fma(q, t, C(C3));
        q = Fma(q, t, C(C2));
        q = Fma(q, t, C(C1));
        q = Fma(q, t, C(C0));
        var e = TO.Mul(ExpInRange(TO.Neg(TO.Mul(u, u))), q);   // −u² ∈ [−15.4, 0]
        // Past the fitted range the tail is < 1.6e-8: 0 (x·Φ then stays 0 instead of growing with |x|).
        e = TO.AndNot(e, TO.GreaterOrEqual(ux, C(3.92f)));
        return TO.Select(TO.Less(x, TO.Zero), e, TO.Sub(TO.One, e));
    }

    /// <summary>Applies a vector function to a span of any length; the tail is padded into one vector.</summary>
    public static unsafe void Apply<TF>(float* x, float* y, long n) where TF : struct, IVectorFunc
    {
        int w = TO.Count;
        long i = 0;
        // One vector per iteration: the functions are long dependency chains that out-of-order execution overlaps
        // across iterations anyway, and unrolling made the JIT spill its 16 ymm registers.
        for (; i + w <= n; i += w) TO.Store(TF.Invoke<TO, TV>(TO.Load(x + i)), y + i);
        if (i < n)
        {
            int rest = (int)(n - i);
            float* buf = stackalloc float[16];
            for (int j = 0; j < w; j++) buf[j] = j < rest ? x[i + j] : 0f;
            TO.Store(TF.Invoke<TO, TV>(TO.Load(buf)), buf);
            for (int j = 0; j < rest; j++) y[i + j] = buf[j];
        }
    }
}

/// <summary>Entry points that pick the width at run time (kernels pass <see cref="CpuAccelerator.UseVector512"/>).</summary>
public static class SimdMath
{
    // ---- The exp constants (one exp for every kernel; SimdMath<,>.ExpCore and the scalar twin ExpFlush(float)) ----
    // Minimax fit of e^r on |r| ≤ 1.001·ln2/2 (tools: a reweighted least-squares fit in numpy), c0 = c1 = 1: fit error
    // 2.0e-9 relative, far below fp32's 6e-8 half-ulp, so the rounding of the evaluation dominates.
    internal const float ExpC2 = 0.49999994f, ExpC3 = 0.16666430f, ExpC4 = 0.041668009f, ExpC5 = 0.0083742365f,
        ExpC6 = 0.0013843559f;
    internal const float Log2E = 1.44269504088896341f;
    // ln 2 split so n·Ln2Hi is exact for |n| < 2^15 (Ln2Hi has 9 significant bits); Ln2Lo carries the rest.
    internal const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    internal const float Magic = 12582912f; // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits
    internal const float ExpFlushMinArg = -86.5f, ExpFlushMaxArg = 88.3f;
    // For exp2 the same polynomial with ln2 folded in: B_k = (float)(c_k·ln2^k), written out as literals (SoftmaxTests checks
    // them against that formula) because consts, unlike static readonly fields, need no class-initialisation check in the
    // AggressiveOptimization kernels that inline this (the check forced register spills in their inner loops).
    internal const float B1 = 0.6931472f, B2 = 0.24022648f, B3 = 0.05550332f, B4 = 0.009618439f, B5 = 0.0013399004f,
        B6 = 0.00015353257f;
    internal const float Exp2MinArg = -124.8f;

    // ---- log and sin/cos (Box–Muller in the Gaussian fill) ----
    // log1p(f) ≈ f − f²/2 + f³·P(f) on [√½ − 1, √2 − 1]: Chebyshev least-squares fit of degree 7 (numpy, double),
    // approximation error 0.4u relative; the float evaluation adds ~1–2u.
    internal const float LogP0 = 0.33333328596132117f, LogP1 = -0.2500029661011151f, LogP2 = 0.20001468916911802f,
        LogP3 = -0.1664224399368354f, LogP4 = 0.1420215939656715f, LogP5 = -0.12972272748635413f, LogP6 = 0.12712452014532022f,
        LogP7 = -0.08101634679255693f;
    // ln 2 split so that e·LogLn2Hi is exact for |e| < 2⁹ (15 significant bits).
    internal const float LogLn2Hi = 0.693145751953125f, LogLn2Lo = 1.428606765330187e-06f;
    // π/2 = PiHalf1 + PiHalf2 to ~2⁻⁴⁸: the reduction θ − q·π/2 is two fused multiply-adds.
    internal const float PiHalf1 = 1.57079637f, PiHalf2 = -4.37113883e-08f, TwoOverPi = 0.636619772f;

    /// <summary><see cref="SimdMath{TO, TV}.Log"/> and <see cref="SimdMath{TO, TV}.SinCos"/> at each width.</summary>
    public static Vector256<float> Log(Vector256<float> x) => SimdMath<V256, Vector256<float>>.Log(x);
    public static Vector512<float> Log(Vector512<float> x) => SimdMath<V512, Vector512<float>>.Log(x);
    public static (Vector256<float> Sin, Vector256<float> Cos) SinCos(Vector256<float> x) => SimdMath<V256, Vector256<float>>.SinCos(x);
    public static (Vector512<float> Sin, Vector512<float> Cos) SinCos(Vector512<float> x) => SimdMath<V512, Vector512<float>>.SinCos(x);

    /// <summary>Whether the 256-bit kernels' instructions (AVX2 + FMA) are there.</summary>
    public static bool Avx2FmaSupported => System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported;

    /// <summary>
    /// e^x, the scalar twin of <see cref="SimdMath{TO, TV}.ExpFlush"/> (bit-identical per lane): softmax row tails, so a
    /// value does not depend on whether it fell in a vector or in a tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpFlush(float x)
    {
        if (x < ExpFlushMinArg) return 0f;
        if (float.IsNaN(x)) return x;
        float xc = MathF.Min(x, ExpFlushMaxArg);
        float t = MathF.FusedMultiplyAdd(xc, Log2E, Magic);
        float n = t - Magic;
        float r = MathF.FusedMultiplyAdd(-n, Ln2Hi, xc);
        r = MathF.FusedMultiplyAdd(-n, Ln2Lo, r);
        float r2 = r * r;
        float q01 = MathF.FusedMultiplyAdd(ExpC3, r, ExpC2), q23 = MathF.FusedMultiplyAdd(ExpC5, r, ExpC4);
        float q = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(ExpC6, r2, q23), r2, q01);
        float p = MathF.FusedMultiplyAdd(q, r2, r + 1f);
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(p) + (BitConverter.SingleToInt32Bits(t) << 23));
    }

    /// <summary><see cref="SimdMath{TO, TV}.ExpFlush"/> at each width (tests).</summary>
    public static Vector256<float> ExpFlush(Vector256<float> x) => SimdMath<V256, Vector256<float>>.ExpFlush(x);
    public static Vector512<float> ExpFlush(Vector512<float> x) => SimdMath<V512, Vector512<float>>.ExpFlush(x);
    public static Vector256<float> Exp2NonPositive(Vector256<float> x) => SimdMath<V256, Vector256<float>>.Exp2NonPositive(x);
    public static Vector512<float> Exp2NonPositive(Vector512<float> x) => SimdMath<V512, Vector512<float>>.Exp2NonPositive(x);

    /// <summary>Applies a vector function to n floats (x and y may be the same) with the 512- or 256-bit path.</summary>
    public static unsafe void Apply<TF>(float* x, float* y, long n, bool wide = false) where TF : struct, IVectorFunc
    {
        if (wide) SimdMath<V512, Vector512<float>>.Apply<TF>(x, y, n);
        else SimdMath<V256, Vector256<float>>.Apply<TF>(x, y, n);
    }

    /// <summary>Scalar entry to the vector code (tests and odd single values): lane 0 of a broadcast.</summary>
    public static float Scalar<TF>(float x, bool wide = false) where TF : struct, IVectorFunc => wide
        ? V512.First(TF.Invoke<V512, Vector512<float>>(V512.Splat(x)))
        : V256.First(TF.Invoke<V256, Vector256<float>>(V256.Splat(x)));
}

/// <summary>An elementwise vector function, as a struct so generic kernels inline it; generic over the width.</summary>
public interface IVectorFunc
{
    static abstract TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct;
}

public struct ExpFunc : IVectorFunc
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.Exp(x);
}

public struct ErfFunc : IVectorFunc
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.Erf(x);
}

public struct TanhFunc : IVectorFunc
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.Tanh(x);
}

public struct NormalCdfFunc : IVectorFunc
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.NormalCdf(x);
}

public struct SigmoidFunc : IVectorFunc
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invoke<TO, TV>(TV x) where TO : struct, IVec<TV> where TV : struct => SimdMath<TO, TV>.Sigmoid(x);
}
