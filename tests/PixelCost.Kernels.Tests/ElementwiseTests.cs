using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests;

public class ElementwiseTests
{
    private static readonly CpuAccelerator Cpu = new();
    // The 512-bit path forced: on AVX2-only machines .NET runs its Vector512 operations in software (slow but real).
    private static readonly CpuAccelerator Cpu512 = new(2, 512);

    /// <summary>Every tail length of both widths (n mod 16 = 0..15 twice over) plus odd and multi-chunk sizes.</summary>
    public static IEnumerable<object[]> Lengths512() =>
        Enumerable.Range(1, 33).Concat([47, 1000, 40_000]).Select(n => new object[] { n });

    public static IEnumerable<object[]> Lengths() =>
        Enumerable.Range(1, 17).Concat([31, 33, 1000, 40_000]).Select(n => new object[] { n });

    // ---- vectorised math vs double math over dense sweeps ----

    private static float[] Sweep(float lo, float hi, int n) =>
        Enumerable.Range(0, n).Select(i => lo + (hi - lo) * i / (n - 1f)).ToArray();

    private static unsafe float[] Apply<TF>(float[] x, bool wide = false) where TF : struct, IVectorFunc
    {
        var y = new float[x.Length];
        fixed (float* px = x, py = y) SimdMath.Apply<TF>(px, py, x.Length, wide);
        return y;
    }

    // The approximation-error tests run for both widths (wide = the 512-bit code, emulated here): same bounds, since
    // the same operations run per lane.
    [Theory, InlineData(false), InlineData(true)]
    public void ExpIsWithinTwoUlpOverItsRange(bool wide)
    {
        var x = Sweep(-87.3f, 88.72f, 1_000_003);
        var y = Apply<ExpFunc>(x, wide);
        double worst = 0;
        for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - Math.Exp(x[i])) / Math.Exp(x[i]));
        // The degree-6 minimax fit on |r| ≤ ln2/2 is 2e-9; the rest is fp32 rounding in the polynomial and the range reduction.
        Assert.True(worst < 2.4e-7, $"max relative error {worst:G3}");
        // Subnormal results: absolute error within a subnormal ulp or two.
        var xs = Sweep(-103.9f, -87.3f, 100_001);
        var ys = Apply<ExpFunc>(xs, wide);
        for (int i = 0; i < xs.Length; i++) Assert.True(Math.Abs(ys[i] - Math.Exp(xs[i])) < 3e-45, $"exp({xs[i]}) = {ys[i]}");
        Assert.Equal(float.PositiveInfinity, SimdMath.Scalar<ExpFunc>(100f, wide));
        Assert.Equal(0f, SimdMath.Scalar<ExpFunc>(-110f, wide));
        Assert.True(float.IsNaN(SimdMath.Scalar<ExpFunc>(float.NaN, wide)));
        Assert.Equal(1f, SimdMath.Scalar<ExpFunc>(0f, wide));
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ErfIsWithin1_2e7OfScalarMath(bool wide)
    {
        var x = Sweep(-6f, 6f, 1_200_001);
        var y = Apply<ErfFunc>(x, wide);
        double worst = 0; float at = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Abs(y[i] - ScalarMath.Erf(x[i]));
            if (e > worst) { worst = e; at = x[i]; }
        }
        // Fits: 1.2e-8 (|x| < 0.9) and 5.6e-9 (0.9..3.92) in exact arithmetic; fp32 rounding of 1 − e^{−x²}·q near 1 adds ~1 ulp.
        Assert.True(worst < 1.5e-7, $"max absolute error {worst:G3} at x = {at}");
        Assert.Equal(0f, SimdMath.Scalar<ErfFunc>(0f, wide));
        Assert.Equal(1f, SimdMath.Scalar<ErfFunc>(float.PositiveInfinity, wide));
        Assert.Equal(-1f, SimdMath.Scalar<ErfFunc>(-50f, wide));
        Assert.True(float.IsNaN(SimdMath.Scalar<ErfFunc>(float.NaN, wide)));
    }

    [Theory, InlineData(false), InlineData(true)]
    public void NormalCdfIsWithin1_6e7Absolute(bool wide)
    {
        var x = Sweep(-14f, 14f, 1_400_001);
        var y = Apply<NormalCdfFunc>(x, wide);
        double worst = 0; float at = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Abs(y[i] - 0.5 * (1 + ScalarMath.Erf(x[i] / Math.Sqrt(2))));
            if (e > worst) { worst = e; at = x[i]; }
        }
        // Fit error ~2e-8; fp32 Horner rounding of q ≈ ½ near x = 0 and of 1 − e·q add up to ~1.5e-7.
        Assert.True(worst < 1.6e-7, $"max absolute error {worst:G3} at x = {at}");
        // Relative accuracy in the left tail, where ½(1 + erf) would cancel: Φ(−5) = 2.8665157187919333e-7.
        Assert.Equal(2.8665157187919333e-7, SimdMath.Scalar<NormalCdfFunc>(-5f, wide), 2.8665e-7 * 1e-5);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void TanhIsWithin2e7Absolute(bool wide)
    {
        var x = Sweep(-12f, 12f, 1_200_001);
        var y = Apply<TanhFunc>(x, wide);
        double worst = 0;
        for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, Math.Abs(y[i] - Math.Tanh(x[i])));
        // 1 − 2/(e^{2|y|} + 1) rounds at ulp(1) = 1.2e-7 near |y| → 0 (relative error is large only where the value is tiny).
        Assert.True(worst < 2e-7, $"max absolute error {worst:G3}");
        Assert.Equal(1f, SimdMath.Scalar<TanhFunc>(100f, wide));
        Assert.Equal(-1f, SimdMath.Scalar<TanhFunc>(float.NegativeInfinity, wide));
        Assert.True(float.IsNaN(SimdMath.Scalar<TanhFunc>(float.NaN, wide)));
    }

    /// <summary>
    /// The two widths run the same fp32 operations per lane (FMA, divide, min/max, bit ops are all exactly rounded or
    /// exact), so they must give the same bits, for every span length 0..33 (all tails of both widths) and for special
    /// values (±0, ±∞, NaN, huge, subnormal inputs).
    /// </summary>
    [Fact]
    public void VectorMath256And512AgreeBitForBit()
    {
        var x = Normal(40, 9, std: 6).Concat([0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e30f, -1e30f,
            88.7f, -88.7f, 89f, -104.5f, 1e-40f, -1e-40f, 3.92f, -3.92f, 0.9f, 44f, -44f, 5.6f, 5.5f]).ToArray();
        for (int n = 0; n <= 33; n++)
        {
            var xs = x[(x.Length - n)..];   // the last n: the special values first
            Same<ExpFunc>(xs, "exp"); Same<ErfFunc>(xs, "erf"); Same<TanhFunc>(xs, "tanh"); Same<SigmoidFunc>(xs, "sigmoid");
            Same<ActivationsCpu.SiluF>(xs, "silu"); Same<ActivationsCpu.QuickGeluF>(xs, "quick_gelu");
            Same<ActivationsCpu.GeluErfF>(xs, "gelu"); Same<ActivationsCpu.GeluTanhF>(xs, "gelu_tanh");
        }
        var all = Normal(1000, 10, std: 5).Concat(x).ToArray();
        Same<NormalCdfFunc>(all.Where(v => !float.IsNaN(v)).ToArray(), "Φ");   // Φ(NaN) is unspecified by contract
        Same<ExpFunc>(all, "exp"); Same<ErfFunc>(all, "erf"); Same<ActivationsCpu.GeluErfF>(all, "gelu");

        static void Same<TF>(float[] xs, string what) where TF : struct, IVectorFunc
        {
            var a = Apply<TF>(xs, wide: false); var b = Apply<TF>(xs, wide: true);
            for (int i = 0; i < xs.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]) || (float.IsNaN(a[i]) && float.IsNaN(b[i])),
                    $"{what}({xs[i]:R}) n={xs.Length} i={i}: 256-bit {a[i]:R}, 512-bit {b[i]:R}");
        }
    }

    // ---- activations: kernel (and fp32 reference variant) vs the double reference ----

    private delegate void Ref64(F64[] x, F64[] y);

    // Tolerances (both widths: the 512-bit kernels run the same per-lane operations, checked bit for bit above): exp 2.4e-7 relative propagates to ≤ ~2.4e-7 relative in SiLU/σ; erf's 1.2e-7 absolute times 0.5|x|
    // (|x| ≤ ~10 here) gives ≤ 6e-7 absolute in GELU; plus a few ulp of fp32 rounding of the result.
    private const double ActAtol = 1e-6, ActRtol = 2e-6;

    private static void CheckUnary(int n, Action<CpuAccelerator, Tensor, Tensor, int> op, Ref64 reference, string what, CpuAccelerator? acc = null)
    {
        var cpu = acc ?? Cpu;
        var x = Normal(n, n + 17, std: 4);
        if (n > 8) { x[0] = -100; x[1] = 100; x[2] = 0; x[3] = -9; x[4] = 12; }
        var y64 = new F64[n];
        reference(D(x), y64);
        var expected = F(y64);
        using var tx = cpu.T(x, n); using var ty = cpu.Allocate(n);
        foreach (int variant in new[] { 0, 1, 2 })
        {
            op(cpu, tx, ty, variant);
            Close.All(expected, ty.ToArray(), ActAtol, ActRtol, new[] { n }, $"{what} v{variant} {cpu.VectorBits}-bit");
            if (variant != 1) Assert.Equal(cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads", cpu.Ledger.Entries[^1].Variant);
        }
        if (cpu.UseVector512)
        {
            // The 512-bit kernel gives the 256-bit kernel's bits (same per-lane operations).
            using var t256 = Cpu.T(x, n); using var y256 = Cpu.Allocate(n);
            op(Cpu, t256, y256, 0);
            op(cpu, tx, ty, 0);
            Close.All(y256.ToArray(), ty.ToArray(), 0, 0, new[] { n }, $"{what} 256 vs 512");
        }
        op(cpu, tx, tx, 0);
        Close.All(expected, tx.ToArray(), ActAtol, ActRtol, new[] { n }, $"{what} in place {cpu.VectorBits}-bit");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void SiluMatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Silu(c, x, y, v),
        (x, y) => ActivationsReference.Silu<F64>(x, y), "silu");

    [Theory, MemberData(nameof(Lengths512))]
    public void SiluV512MatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Silu(c, x, y, v),
        (x, y) => ActivationsReference.Silu<F64>(x, y), "silu", Cpu512);

    [Theory, MemberData(nameof(Lengths))]
    public void QuickGeluMatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.QuickGelu(c, x, y, v),
        (x, y) => ActivationsReference.QuickGelu<F64>(x, y), "quick_gelu");

    [Theory, MemberData(nameof(Lengths512))]
    public void QuickGeluV512MatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.QuickGelu(c, x, y, v),
        (x, y) => ActivationsReference.QuickGelu<F64>(x, y), "quick_gelu", Cpu512);

    [Theory, MemberData(nameof(Lengths))]
    public void GeluErfMatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Gelu(c, x, y, GeluApproximation.Erf, v),
        (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Erf), "gelu");

    [Theory, MemberData(nameof(Lengths512))]
    public void GeluErfV512MatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Gelu(c, x, y, GeluApproximation.Erf, v),
        (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Erf), "gelu", Cpu512);

    [Theory, MemberData(nameof(Lengths))]
    public void GeluTanhMatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Gelu(c, x, y, GeluApproximation.Tanh, v),
        (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Tanh), "gelu_tanh");

    [Theory, MemberData(nameof(Lengths512))]
    public void GeluTanhV512MatchesReference(int n) => CheckUnary(n, (c, x, y, v) => Ops.Gelu(c, x, y, GeluApproximation.Tanh, v),
        (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Tanh), "gelu_tanh", Cpu512);

    [Fact]
    public void GeluMatchesPyTorchFormulaAtKnownPoints()
    {
        // torch.nn.functional.gelu(x) = x·Φ(x); Φ(1) = 0.841344746068543, Φ(−2) = 0.022750131948179, Φ(0.5) = 0.691462461274013.
        using var x = Cpu.T([1f, -2f, 0.5f], 3); using var y = Cpu.Allocate(3);
        Ops.Gelu(Cpu, x, y);
        Close.All(new[] { 0.841344746068543f, -2 * 0.022750131948179f, 0.5f * 0.691462461274013f }, y.ToArray(), 2e-7, 1e-6, null, "gelu table");
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(3, 7)] [InlineData(2, 8)] [InlineData(5, 17)] [InlineData(4, 31)] [InlineData(2, 33)]
    [InlineData(3, 1000)] [InlineData(64, 40)] [InlineData(2, 15)] [InlineData(3, 16)] [InlineData(1, 47)]
    public void GegluMatchesReference(int rows, int d)
    {
        var x = Normal(rows * 2 * d, rows * 100 + d, std: 3);
        var y64 = new F64[rows * d];
        ActivationsReference.Geglu<F64>(D(x), y64, d);
        var expected = F(y64);
        float[]? first = null;
        foreach (var cpu in new[] { Cpu, Cpu512 })
        {
            using var tx = cpu.T(x, rows, 2 * d); using var ty = cpu.Allocate(rows, d);
            foreach (int variant in new[] { 1, 0 })
            {
                Ops.Geglu(cpu, tx, ty, variant);
                // GELU's tolerance times |a| (≤ ~12 here); the same for the 512-bit path (same per-lane operations).
                Close.All(expected, ty.ToArray(), 1e-5, ActRtol, new[] { rows, d }, $"geglu v{variant} {cpu.VectorBits}-bit");
            }
            Assert.Equal(cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads", cpu.Ledger.Entries[^1].Variant);
            // 256 and 512 bits agree bit for bit.
            if (first is null) first = ty.ToArray(); else Close.All(first, ty.ToArray(), 0, 0, new[] { rows, d }, "geglu 256 vs 512");
        }
    }

    // ---- glue: exact (the kernels execute the same single fp32 operation per element as the reference) ----

    [Theory, MemberData(nameof(Lengths))]
    public void AddAndScaleMatchReferenceExactly(int n) => CheckAddAndScale(n, Cpu);

    [Theory, MemberData(nameof(Lengths512))]
    public void AddAndScaleV512MatchReferenceExactly(int n) => CheckAddAndScale(n, Cpu512);

    private static void CheckAddAndScale(int n, CpuAccelerator Cpu)
    {
        var a = Normal(n, 1); var b = Normal(n, 2);
        var expectedAdd = new F32[n]; GlueReference.Add<F32>(S(a), S(b), expectedAdd);
        var expectedScale = new F32[n]; GlueReference.Scale<F32>(S(a), new F32(0.18215f), expectedScale);
        using var ta = Cpu.T(a, n); using var tb = Cpu.T(b, n); using var ty = Cpu.Allocate(n);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.Add(Cpu, ta, tb, ty, v); Close.All(F(expectedAdd), ty.ToArray(), 0, 0, new[] { n }, $"add v{v}");
            Ops.Scale(Cpu, ta, 0.18215f, ty, v); Close.All(F(expectedScale), ty.ToArray(), 0, 0, new[] { n }, $"scale v{v}");
        }
        Ops.Add(Cpu, ta, tb, ty);
        Assert.Equal(Cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads", Cpu.Ledger.Entries[^1].Variant);
        Ops.Add(Cpu, ta, tb, tb); Close.All(F(expectedAdd), tb.ToArray(), 0, 0, new[] { n }, "add in place (y = b)");
        Ops.Scale(Cpu, ta, 0.18215f, ta); Close.All(F(expectedScale), ta.ToArray(), 0, 0, new[] { n }, "scale in place");
    }

    public static IEnumerable<object[]> ChannelShapes() => new[]
    {
        new object[] { new[] { 1, 1, 1, 1 } }, new object[] { new[] { 2, 3, 3, 5 } }, new object[] { new[] { 2, 5, 8, 8 } },
        new object[] { new[] { 1, 7, 1, 1 } }, new object[] { new[] { 2, 9, 17 } }, new object[] { new[] { 3, 1000 } },
        new object[] { new[] { 2, 20, 64, 33 } }, new object[] { new[] { 2, 3, 31 } }, new object[] { new[] { 1, 17, 16 } },
    };

    [Theory, MemberData(nameof(ChannelShapes))]
    public void AddChannelBiasMatchesReferenceExactly(int[] shape)
    {
        foreach (var acc in new[] { Cpu, Cpu512 }) CheckAddChannelBias(shape, acc);
    }

    private static void CheckAddChannelBias(int[] shape, CpuAccelerator Cpu)
    {
        int n = shape[0], c = shape[1], len = (int)Tensor.ElementCount(shape), s = len / (n * c);
        var x = Normal(len, len); var b = Normal(n * c, 3);
        var expected = new F32[len]; GlueReference.AddChannelBias<F32>(S(x), S(b), expected, n, c, s);
        using var tx = Cpu.T(x, shape); using var tb = Cpu.T(b, n, c); using var ty = Cpu.Allocate(shape);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.AddChannelBias(Cpu, tx, tb, ty, v);
            Close.All(F(expected), ty.ToArray(), 0, 0, shape, $"add_channel_bias v{v} {Cpu.VectorBits}-bit");
        }
        Ops.AddChannelBias(Cpu, tx, tb, tx);
        Close.All(F(expected), tx.ToArray(), 0, 0, shape, "add_channel_bias in place");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1)] [InlineData(2, 3, 5, 3, 5)] [InlineData(2, 320, 640, 8, 8)] [InlineData(1, 7, 9, 17, 3)]
    [InlineData(3, 1, 2, 1, 33)]
    public void ConcatMatchesReferenceExactly(int n, int ca, int cb, int h, int w)
    {
        var a = Normal(n * ca * h * w, 1); var b = Normal(n * cb * h * w, 2);
        var expected = new float[n * (ca + cb) * h * w];
        GlueReference.Concat<float>(a, b, expected, n, ca, cb, h * w);
        using var ta = Cpu.T(a, n, ca, h, w); using var tb = Cpu.T(b, n, cb, h, w); using var ty = Cpu.Allocate(n, ca + cb, h, w);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.ConcatChannels(Cpu, ta, tb, ty, v);
            Close.All(expected, ty.ToArray(), 0, 0, new[] { n, ca + cb, h, w }, $"concat v{v}");
        }
        // Independent check of the layout: y[n, Ca + j, h, w] is b[n, j, h, w].
        Assert.Equal(b[(n - 1) * cb * h * w], ty.ToArray()[((n - 1) * (ca + cb) + ca) * h * w]);
    }

    [Theory]
    [InlineData(1, 1, 1, 1)] [InlineData(2, 3, 3, 5)] [InlineData(1, 4, 8, 8)] [InlineData(1, 2, 5, 17)] [InlineData(2, 3, 4, 33)]
    [InlineData(1, 2, 3, 16)] [InlineData(1, 1, 2, 31)] [InlineData(2, 2, 2, 15)]
    public void UpsampleMatchesReferenceExactly(int n, int c, int h, int w)
    {
        foreach (var acc in new[] { Cpu, Cpu512 }) CheckUpsample(n, c, h, w, acc);
    }

    private static void CheckUpsample(int n, int c, int h, int w, CpuAccelerator Cpu)
    {
        var x = Normal(n * c * h * w, 4);
        var expected = new float[x.Length * 4];
        GlueReference.Upsample2xNearest<float>(x, expected, n, c, h, w);
        using var tx = Cpu.T(x, n, c, h, w); using var ty = Cpu.Allocate(n, c, 2 * h, 2 * w);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.Upsample2xNearest(Cpu, tx, ty, v);
            Close.All(expected, ty.ToArray(), 0, 0, new[] { n, c, 2 * h, 2 * w }, $"upsample v{v} {Cpu.VectorBits}-bit");
        }
        Ops.Upsample2xNearest(Cpu, tx, ty);
        Assert.Equal(Cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads", Cpu.Ledger.Entries[^1].Variant);
        // Independent check: the bottom-right output pixel is the bottom-right input pixel.
        Assert.Equal(x[^1], ty.ToArray()[^1]);
    }

    [Theory]
    [InlineData(1, 320, true, 0f)] [InlineData(3, 7, false, 1f)] [InlineData(2, 1, true, 0f)] [InlineData(2, 2, false, 0f)]
    [InlineData(4, 33, true, 1f)] [InlineData(1, 256, false, 0f)]
    public void TimestepEmbeddingMatchesDiffusersFormula(int n, int dim, bool flip, float shift)
    {
        var t = Enumerable.Range(0, n).Select(i => (float)(999 - 333 * i + 0.5 * i)).ToArray();
        var expected32 = new F32[n * dim];
        GlueReference.TimestepEmbedding<F32>(S(t), expected32, dim, flip, shift, 10000f);
        using var tt = Cpu.T(t, n); using var ty = Cpu.Allocate(n, dim);
        foreach (int v in new[] { 0, 1 })
        {
            Ops.TimestepEmbedding(Cpu, tt, ty, flip, shift, 10000f, v);
            // Same fp32 operations in the same order, same MathF functions: bit-identical.
            Close.All(F(expected32), ty.ToArray(), 0, 0, new[] { n, dim }, $"timestep v{v}");
        }
        // Independent double formula. fp32 rounding of freq (2^-24 relative) times t ≤ 999 moves the argument by ≤ 6e-5.
        var got = ty.ToArray();
        int half = dim / 2;
        for (int b = 0; b < n; b++)
        {
            for (int i = 0; i < half; i++)
            {
                double arg = t[b] * Math.Exp(-Math.Log(10000.0) * i / (half - shift));
                double first = flip ? Math.Cos(arg) : Math.Sin(arg), second = flip ? Math.Sin(arg) : Math.Cos(arg);
                Assert.True(Math.Abs(got[b * dim + i] - first) < 1e-4, $"[{b},{i}] {got[b * dim + i]} vs {first}");
                Assert.True(Math.Abs(got[b * dim + half + i] - second) < 1e-4, $"[{b},{half + i}]");
            }
            if (dim % 2 == 1) Assert.Equal(0f, got[b * dim + dim - 1]);
        }
    }

    // ---- counting: the reference executes exactly the spec's FLOPs ----

    [Theory]
    [InlineData(1)] [InlineData(7)] [InlineData(64)]
    public void ActivationCountsMatchSpec(int n)
    {
        var x = C(Normal(n, 1)); var y = new Counted[n];
        int[] shape = [n];
        using (var s = Counted.Begin()) { ActivationsReference.Silu<Counted>(x, y); Assert.Equal(ActivationsSpec.Silu(shape).ArithmeticOnly, s.Counts.ToCost()); }
        using (var s = Counted.Begin()) { ActivationsReference.QuickGelu<Counted>(x, y); Assert.Equal(ActivationsSpec.QuickGelu(shape).ArithmeticOnly, s.Counts.ToCost()); }
        foreach (var ap in new[] { GeluApproximation.Erf, GeluApproximation.Tanh })
            using (var s = Counted.Begin()) { ActivationsReference.Gelu<Counted>(x, y, ap); Assert.Equal(ActivationsSpec.Gelu(shape, ap).ArithmeticOnly, s.Counts.ToCost()); }
        using (var s = Counted.Begin()) { GlueReference.Add<Counted>(x, x, y); Assert.Equal(GlueSpec.Add(shape).ArithmeticOnly, s.Counts.ToCost()); }
        using (var s = Counted.Begin()) { GlueReference.Scale<Counted>(x, Counted.From(2.0), y); Assert.Equal(GlueSpec.Scale(shape).ArithmeticOnly, s.Counts.ToCost()); }
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(3, 5)] [InlineData(4, 640)]
    public void GegluCountsMatchSpec(int rows, int d)
    {
        var x = C(Normal(rows * 2 * d, 1)); var y = new Counted[rows * d];
        using var s = Counted.Begin();
        ActivationsReference.Geglu<Counted>(x, y, d);
        Assert.Equal(ActivationsSpec.Geglu([rows, 2 * d]).ArithmeticOnly, s.Counts.ToCost());
    }

    [Theory]
    [InlineData(1, 1, 1, 1)] [InlineData(2, 3, 3, 5)] [InlineData(2, 320, 8, 8)]
    public void GlueCountsMatchSpec(int n, int c, int h, int w)
    {
        int len = n * c * h * w;
        var x = C(Normal(len, 1)); var b = C(Normal(n * c, 2));
        using (var s = Counted.Begin())
        {
            GlueReference.AddChannelBias<Counted>(x, b, new Counted[len], n, c, h * w);
            Assert.Equal(GlueSpec.AddChannelBias([n, c, h, w]).ArithmeticOnly, s.Counts.ToCost());
        }
        using (var s = Counted.Begin())
        {
            GlueReference.Concat<Counted>(x, x, new Counted[2 * len], n, c, c, h * w);
            GlueReference.Upsample2xNearest<Counted>(x, new Counted[4 * len], n, c, h, w);
            Assert.Equal(Cost.Zero, s.Counts.ToCost());
            Assert.Equal(Cost.Zero, GlueSpec.Concat([n, c, h, w], [n, c, h, w]).ArithmeticOnly);
            Assert.Equal(Cost.Zero, GlueSpec.Upsample([n, c, h, w]).ArithmeticOnly);
        }
    }

    [Theory]
    [InlineData(1, 320, 0f)] [InlineData(2, 7, 1f)] [InlineData(3, 1, 0f)] [InlineData(2, 2, 0f)]
    public void TimestepCountsMatchSpec(int n, int dim, float shift)
    {
        var t = C(Normal(n, 1)); var y = new Counted[n * dim];
        using var s = Counted.Begin();
        GlueReference.TimestepEmbedding<Counted>(t, y, dim, true, shift, 10000f);
        Assert.Equal(GlueSpec.Timestep(n, dim).ArithmeticOnly, s.Counts.ToCost());
    }

    [Fact]
    public void ByteCountsAreOneReadOneWrite()
    {
        Assert.Equal(new Cost(0, 0, 0, 4 * 120, 4 * 120), GlueSpec.Concat([2, 5, 2, 3], [2, 5, 2, 3]));
        Assert.Equal(4L * 4 * 2 * 3, GlueSpec.Upsample([1, 1, 2, 3]).BytesWritten);
        var g = ActivationsSpec.Geglu([4, 10]);
        Assert.Equal((4L * 40, 4L * 20), (g.BytesRead, g.BytesWritten));
    }

    // ---- bad input: ArgumentException naming the op and the shapes ----

    private static void Throws(Action a, params string[] parts)
    {
        var e = Assert.ThrowsAny<ArgumentException>(a);
        foreach (var p in parts) Assert.Contains(p, e.Message);
    }

    [Fact]
    public void RejectsBadInput()
    {
        using var x = Cpu.Allocate(2, 6); using var y5 = Cpu.Allocate(2, 5); using var y3 = Cpu.Allocate(2, 3);
        using var empty = Cpu.Allocate(DType.F32, 0, 4);
        Throws(() => Ops.Silu(Cpu, x, y5), "silu", "[2,5]", "[2,6]");
        Throws(() => Ops.Gelu(Cpu, x, y5), "gelu", "[2,5]", "[2,6]");
        Throws(() => Ops.Gelu(Cpu, x, y5, GeluApproximation.Tanh), "gelu_tanh", "[2,5]");
        Throws(() => Ops.QuickGelu(Cpu, x, y5), "quick_gelu", "[2,5]");
        Throws(() => Ops.Silu(Cpu, empty, empty), "silu", "[0,4]", "zero-size");
        Throws(() => Ops.Scale(Cpu, x, 2f, y5), "scale", "[2,5]", "[2,6]");
        Throws(() => Ops.Geglu(Cpu, y5, y3), "geglu", "[2,5]", "even");
        Throws(() => Ops.Geglu(Cpu, x, y5), "geglu", "y [2,5]", "[2,3]", "x [2,6]");
        Throws(() => Ops.Geglu(Cpu, x, x), "geglu", "[2,6]");
        Throws(() => Ops.Add(Cpu, x, y5, x), "add", "[2,6]", "[2,5]");
        Throws(() => Ops.Add(Cpu, x, x, y5), "add", "y [2,5]");

        using var t4 = Cpu.Allocate(2, 3, 4, 5); using var b23 = Cpu.Allocate(2, 3); using var b32 = Cpu.Allocate(3, 2);
        using var t4b = Cpu.Allocate(2, 3, 4, 6);
        Throws(() => Ops.AddChannelBias(Cpu, t4, b32, t4), "add_channel_bias", "b [3,2]", "[2,3,4,5]");
        Throws(() => Ops.AddChannelBias(Cpu, t4, b23, t4b), "add_channel_bias", "y [2,3,4,6]");

        using var a = Cpu.Allocate(2, 3, 4, 5); using var bH = Cpu.Allocate(2, 2, 5, 5); using var bN = Cpu.Allocate(1, 2, 4, 5);
        using var bW = Cpu.Allocate(2, 2, 4, 6); using var ok = Cpu.Allocate(2, 2, 4, 5); using var yc = Cpu.Allocate(2, 5, 4, 5);
        using var ycBad = Cpu.Allocate(2, 6, 4, 5);
        Throws(() => Ops.ConcatChannels(Cpu, a, bH, yc), "concat", "[2,3,4,5]", "[2,2,5,5]");
        Throws(() => Ops.ConcatChannels(Cpu, a, bN, yc), "concat", "[1,2,4,5]");
        Throws(() => Ops.ConcatChannels(Cpu, a, bW, yc), "concat", "[2,2,4,6]");
        Throws(() => Ops.ConcatChannels(Cpu, a, ok, ycBad), "concat", "y [2,6,4,5]", "[2,5,4,5]");
        Throws(() => Ops.ConcatChannels(Cpu, a, ok, a), "concat");

        using var up = Cpu.Allocate(2, 3, 8, 9); using var upBad = Cpu.Allocate(2, 3, 8, 10); // (the valid one)
        Throws(() => Ops.Upsample2xNearest(Cpu, t4, up), "upsample_nearest_2x", "y [2,3,8,9]", "[2,3,8,10]", "x [2,3,4,5]");
        Ops.Upsample2xNearest(Cpu, t4, upBad); // the right shape passes
        Throws(() => Ops.Upsample2xNearest(Cpu, b23, up), "upsample_nearest_2x", "[2,3]", "[N, C, H, W]");

        using var tN = Cpu.Allocate(2); using var emb = Cpu.Allocate(3, 8); using var emb2 = Cpu.Allocate(2, 2);
        Throws(() => Ops.TimestepEmbedding(Cpu, tN, emb), "timestep_embedding", "y [3,8]", "t [2]");
        Throws(() => Ops.TimestepEmbedding(Cpu, tN, emb2, downscaleFreqShift: 1f), "timestep_embedding", "half dim 1");
        Throws(() => Ops.TimestepEmbedding(Cpu, b23, emb), "timestep_embedding", "t [2,3]");
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Silu(Cpu, x, x, variant: 7));
    }

    [Fact]
    public void LaunchesRecordSpecCostInTheLedger()
    {
        using var acc = new CpuAccelerator(1);
        using var x = acc.Allocate(4, 10); using var y = acc.Allocate(4, 5);
        Ops.Geglu(acc, x, y);
        Ops.Silu(acc, x, x);
        var entries = acc.Ledger.Entries;
        Assert.Equal(2, entries.Count);
        Assert.Equal(ActivationsSpec.Geglu([4, 10]), entries[0].Cost);
        Assert.Equal("silu", entries[1].Op);
    }
}
