using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Kernels.Tests;

public class SoftmaxTests(ITestOutputHelper log)
{
    private static readonly CpuAccelerator Cpu = new();

    internal static float[] Random(int n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng.NextSingle();
        return a;
    }

    internal static float[] RefSoftmax(float[] x, int rows, int d)
    {
        var xs = x.Select(v => new F64(v)).ToArray();
        var ys = new F64[xs.Length];
        SoftmaxReference.Run<F64>(xs, ys, rows, d);
        return ys.Select(v => (float)v.V).ToArray();
    }

    // Error budget of the float kernel against the double reference, inputs with |x − max| ≤ 16:
    //  - the exp argument x − max is one rounded float subtraction: ≤ 16·2^-24 ≈ 1e-6 absolute → 1e-6 relative in e^.;
    //  - SimdMath.ExpFlush: ≤ 2e-7 relative (measured in ExpMatchesMathExp);
    //  - the sum over ≤ 4096 terms in 16 vector lanes: ≤ (4096/16)·2^-24 ≈ 1.5e-5 worst case, far less in practice
    //    for D ≤ 100 (≤ 7·2^-24 ≈ 4e-7); 1/sum and the multiply: 2 roundings.
    // So rtol 1e-5 bounds every case tested here (D ≤ 1000, worst sum term 1000/16·6e-8 = 3.7e-6). atol covers only
    // probabilities below e^-86.5 ≈ 2.6e-38 that SimdMath.ExpFlush flushes to 0.
    private const double Rtol = 1e-5, Atol = 1e-37;

    // The 512-bit path forced (emulated in software on this AVX2 machine). Its exp is bit-identical per lane to the
    // 256-bit one (Exp512IsBitIdentical), its max is exact, and only the sum's association changes (16 lanes instead
    // of 8, which only shrinks the bound above), so the same Rtol/Atol apply to it.
    private static readonly CpuAccelerator Cpu512 = new(2, 512);

    private float[] Check(int[] shape, float[] x, bool inPlace, string what, CpuAccelerator? acc = null)
    {
        acc ??= Cpu;
        int d = shape[^1], rows = x.Length / d;
        var expected = RefSoftmax(x, rows, d);
        using var tx = acc.FromArray(x, shape);
        if (inPlace)
        {
            Ops.Softmax(acc, tx, tx);
            var got = tx.ToArray();
            Close.All(expected, got, Atol, Rtol, shape, what + " in place");
            return got;
        }
        else
        {
            using var ty = acc.Allocate(shape);
            Ops.Softmax(acc, tx, ty);
            var got = ty.ToArray();
            Close.All(expected, got, Atol, Rtol, shape, what);
            Assert.Equal(x, tx.ToArray()); // input untouched
            return got;
        }
    }

    // 256 vs 512 path: identical exps and max, so the outputs differ only through the row sum's association. Each sum
    // of d ≤ 4096 positive terms is within (d/W + log2 W)·2^-24 relative of the exact one — ≤ (4096/16 + 4)·6e-8 ≈ 1.6e-5
    // at worst for the largest row here, ≤ (100/8 + 3)·6e-8 ≈ 1e-6 for d ≤ 100 — plus one rounding of 1/sum.
    private const double AgreeRtol = 3e-6, AgreeRtolLong = 4e-5;

    public static IEnumerable<object[]> Widths512() =>
        Enumerable.Range(1, 33).Concat([47, 48, 49, 64, 65, 100]).Select(d => new object[] { d });

    [Theory, MemberData(nameof(Widths512))]
    public void V512MatchesReferenceAndV256(int d)
    {
        foreach (int rows in new[] { 1, 3 })
        {
            var x = Random(rows * d, 7000 * d + rows, -8f, 8f);
            foreach (bool inPlace in new[] { false, true })
            {
                string what = $"softmax v512 [{rows},{d}]";
                var y512 = Check([rows, d], x, inPlace, what, Cpu512);
                var y256 = Check([rows, d], x, inPlace, $"softmax [{rows},{d}]");
                Close.All(y256, y512, Atol, AgreeRtol, new[] { rows, d }, what + " vs 256-bit path");
            }
        }
    }

    [Fact]
    public void V512StreamingRowsAndThreads()
    {
        // 16 MB out of place: the streaming-store path (RowStream) on both widths, split across the two threads.
        int rows = 1024, d = 4096;
        var x = Random(rows * d, 11, -8f, 8f);
        var y512 = Check([rows, d], x, false, "softmax v512 streamed", Cpu512);
        var y256 = Check([rows, d], x, false, "softmax streamed");
        Close.All(y256, y512, Atol, AgreeRtolLong, new[] { rows, d }, "softmax streamed 512 vs 256");
        var small = Random(5000 * 17, 8, -8f, 8f);
        Check([5000, 17], small, false, "softmax v512 5000 rows", Cpu512);
    }

    [Fact]
    public void V512SpecialValues()
    {
        int d = 37;
        var x = Random(2 * d, 3, -8f, 8f);
        for (int j = 0; j < d; j += 3) x[j] = float.NegativeInfinity;
        x[d + 36] = float.NegativeInfinity; // in the scalar tail
        for (int j = 0; j < d; j++) x[d + j] += 1e4f;  // large offset: needs the max subtraction
        var got = Check([2, d], x, true, "softmax v512 -inf and offset", Cpu512);
        for (int j = 0; j < d; j += 3) Assert.Equal(0f, got[j]);
        Assert.Equal(0f, got[d + 36]);
    }

    [Fact]
    public void LedgerNamesThePath()
    {
        foreach (var (acc, name) in new[] { (new CpuAccelerator(2, 256), "cpu.v1-simd-rows"), (new CpuAccelerator(2, 512), "cpu.v1-simd-rows-v512") })
        {
            using var x = acc.Allocate(4, 9);
            x.CopyFrom(Random(36, 1));
            Ops.Softmax(acc, x, x);
            Assert.Equal(name, Assert.Single(acc.Ledger.Entries).Variant);
        }
    }

    [Fact]
    public void Exp512IsBitIdentical()
    {
        // The 512-bit exp runs the same operations (fused where the 256-bit one fuses), so it must equal the 256-bit
        // exp and the scalar twin bit for bit; the error bound of ExpMatchesMathExp then carries over, and is
        // re-checked here on a 1M-point sweep (fewer than the 256-bit test: emulated Vector512 is slow).
        const int n = 1 << 20;
        double worst = 0;
        var xs = new float[n];
        for (int i = 0; i < n; i++) xs[i] = SimdMath.ExpFlushMinArg + (SimdMath.ExpFlushMaxArg - SimdMath.ExpFlushMinArg) * i / (n - 1f);
        for (int i = 0; i < n; i += 16)
        {
            var v = SimdMath.ExpFlush(Vector512.Create(xs, i));
            var lo = SimdMath.ExpFlush(Vector256.Create(xs, i)); var hi = SimdMath.ExpFlush(Vector256.Create(xs, i + 8));
            for (int l = 0; l < 16; l++)
            {
                float x = xs[i + l], got = v[l];
                Assert.Equal(l < 8 ? lo[l] : hi[l - 8], got);
                Assert.Equal(SimdMath.ExpFlush(x), got);
                double exact = Math.Exp(x);
                worst = Math.Max(worst, Math.Abs(got - exact) / exact);
            }
        }
        log.WriteLine($"SimdMath.ExpFlush (512) max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24)");
        Assert.True(worst <= 3 * Math.Pow(2, -24), $"max relative error {worst:G3}");
        float[] special = [float.NegativeInfinity, float.NaN, 0f, -100f, 1f, -1f, 88f, -86f,
            float.PositiveInfinity, 100f, -86.5f, 88.3f, -0f, float.Epsilon, -float.Epsilon, -87f];
        var sp = SimdMath.ExpFlush(Vector512.Create(special));
        for (int l = 0; l < 16; l++)
        {
            float s = SimdMath.ExpFlush(special[l]);
            // NaN in → NaN out; which NaN (sign, payload) the arithmetic hands on is not specified.
            if (float.IsNaN(s)) Assert.True(float.IsNaN(sp[l]));
            else Assert.Equal(BitConverter.SingleToInt32Bits(s), BitConverter.SingleToInt32Bits(sp[l]));
        }
        Assert.Equal(0f, sp[0]); Assert.True(float.IsNaN(sp[1])); Assert.Equal(1f, sp[2]); Assert.Equal(0f, sp[3]);
    }

    [Fact]
    public void Exp2CoefficientsAreTheExpPolynomialTimesLn2Powers()
    {
        // The exp2 polynomial is the exp one with ln 2 folded in: B_k = (float)(c_k·ln2^k); the literals must match.
        const double ln2 = 0.69314718055994531;
        Assert.Equal(SimdMath.B1, (float)ln2);
        Assert.Equal(SimdMath.B2, (float)(SimdMath.ExpC2 * ln2 * ln2));
        Assert.Equal(SimdMath.B3, (float)(SimdMath.ExpC3 * Math.Pow(ln2, 3)));
        Assert.Equal(SimdMath.B4, (float)(SimdMath.ExpC4 * Math.Pow(ln2, 4)));
        Assert.Equal(SimdMath.B5, (float)(SimdMath.ExpC5 * Math.Pow(ln2, 5)));
        Assert.Equal(SimdMath.B6, (float)(SimdMath.ExpC6 * Math.Pow(ln2, 6)));
    }

    [Fact]
    public void Exp2_512IsBitIdentical()
    {
        // Same argument as Exp512IsBitIdentical for the attention kernel's exp2 (x ≤ 0, clamped at -124.8).
        double worst = 0;
        var xs = new float[16];
        for (float x0 = -130f; x0 <= 0f; x0 += 16 * 0.0009765625f / 3)
        {
            for (int l = 0; l < 16; l++) xs[l] = MathF.Min(0f, x0 + l * 0.0009765625f / 3);
            var v = SimdMath.Exp2NonPositive(Vector512.Create(xs));
            var lo = SimdMath.Exp2NonPositive(Vector256.Create(xs, 0)); var hi = SimdMath.Exp2NonPositive(Vector256.Create(xs, 8));
            for (int l = 0; l < 16; l++)
            {
                Assert.Equal(l < 8 ? lo[l] : hi[l - 8], v[l]);
                if (xs[l] >= -124f) worst = Math.Max(worst, Math.Abs(v[l] - Math.Pow(2, xs[l])) / Math.Pow(2, xs[l]));
            }
        }
        log.WriteLine($"SimdMath.Exp2NonPositive (512) max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24)");
        Assert.True(worst <= 4 * Math.Pow(2, -24), $"max relative error {worst:G3}");
    }

    public static IEnumerable<object[]> Widths() =>
        Enumerable.Range(1, 17).Concat([31, 33, 40, 63, 64, 65, 77, 80, 100, 1000]).Select(d => new object[] { d });

    [Theory, MemberData(nameof(Widths))]
    public void MatchesReference(int d)
    {
        foreach (int rows in new[] { 1, 3, 7 })
        {
            var x = Random(rows * d, 1000 * d + rows, -8f, 8f);
            Check([rows, d], x, inPlace: false, $"softmax [{rows},{d}]");
            Check([rows, d], x, inPlace: true, $"softmax [{rows},{d}]");
        }
    }

    [Fact]
    public void HigherRankAndManyRows()
    {
        var x = Random(2 * 3 * 5 * 33, 7, -8f, 8f);
        Check([2, 3, 5, 33], x, false, "softmax rank 4");
        var big = Random(5000 * 17, 8, -8f, 8f); // enough rows to use both threads
        Check([5000, 17], big, false, "softmax 5000 rows");
    }

    [Theory]
    [InlineData(1e4f)] [InlineData(-1e4f)] [InlineData(3e38f)]
    public void LargeOffsetsAreStable(float offset)
    {
        // Without the max subtraction e^(1e4) overflows; with it the result equals the unshifted softmax (the
        // differences are exact: Sterbenz, the values are within a factor 2 of each other when |offset| ≫ 8).
        foreach (int d in new[] { 5, 17, 64 })
        {
            var x = Random(3 * d, d, -8f, 8f).Select(v => offset + v).ToArray();
            Check([3, d], x, false, $"softmax offset {offset} d {d}");
        }
    }

    [Fact]
    public void NegativeInfinityGivesZero()
    {
        int d = 19;
        var x = Random(2 * d, 3, -8f, 8f);
        for (int j = 0; j < d; j += 3) x[j] = float.NegativeInfinity;
        x[d + 18] = float.NegativeInfinity; // in the scalar tail
        var expected = RefSoftmax(x, 2, d);
        using var tx = Cpu.FromArray(x, 2, d);
        Ops.Softmax(Cpu, tx, tx);
        var got = tx.ToArray();
        Close.All(expected, got, Atol, Rtol, new[] { 2, d }, "softmax with -inf");
        for (int j = 0; j < d; j += 3) Assert.Equal(0f, got[j]);
        Assert.Equal(0f, got[d + 18]);
        Assert.Equal(1.0, got.Take(d).Sum(v => (double)v), 5);
    }

    [Fact]
    public void ExpMatchesMathExp()
    {
        // Sweep of 4M points over the whole non-flushed range, plus the special values.
        const int n = 1 << 22;
        double worst = 0, worstX = 0;
        var xs = new float[n];
        for (int i = 0; i < n; i++) xs[i] = SimdMath.ExpFlushMinArg + (SimdMath.ExpFlushMaxArg - SimdMath.ExpFlushMinArg) * i / (n - 1f);
        for (int i = 0; i < n; i += 8)
        {
            var v = SimdMath.ExpFlush(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                float x = xs[i + l], got = v[l];
                Assert.Equal(got, SimdMath.ExpFlush(x)); // scalar twin is bit-identical
                double exact = Math.Exp(x), rel = Math.Abs(got - exact) / exact;
                if (rel > worst) { worst = rel; worstX = x; }
            }
        }
        log.WriteLine($"SimdMath.ExpFlush max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24) at x = {worstX:R}");
        // fp32 itself rounds with relative error ≤ 2^-24 ≈ 6e-8; we require ≤ 3·2^-24 (≈ 1.8e-7).
        Assert.True(worst <= 3 * Math.Pow(2, -24), $"max relative error {worst:G3} at {worstX}");
        Assert.Equal(0f, SimdMath.ExpFlush(float.NegativeInfinity));
        Assert.Equal(0f, SimdMath.ExpFlush(-100f));
        Assert.Equal(1f, SimdMath.ExpFlush(0f));
        Assert.True(float.IsNaN(SimdMath.ExpFlush(float.NaN)));
        var sp = SimdMath.ExpFlush(Vector256.Create(float.NegativeInfinity, float.NaN, 0f, -100f, 1f, -1f, 88f, -86f));
        Assert.Equal(0f, sp[0]); Assert.True(float.IsNaN(sp[1])); Assert.Equal(1f, sp[2]); Assert.Equal(0f, sp[3]);
    }

    [Fact]
    public void Exp2MatchesMath()
    {
        double worst = 0;
        for (float x = -124f; x <= 0f; x += 0.0009765625f / 3)
        {
            float got = SimdMath.Exp2NonPositive(Vector256.Create(x))[0];
            double exact = Math.Pow(2, x), rel = Math.Abs(got - exact) / exact;
            worst = Math.Max(worst, rel);
        }
        log.WriteLine($"SimdMath.Exp2NonPositive max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24)");
        Assert.True(worst <= 4 * Math.Pow(2, -24), $"max relative error {worst:G3}");
    }

    public static IEnumerable<object[]> CountShapes() => new[]
    {
        new object[] { new[] { 1 } }, new object[] { new[] { 7 } }, new object[] { new[] { 3, 1 } },
        new object[] { new[] { 2, 17 } }, new object[] { new[] { 2, 3, 33 } }, new object[] { new[] { 4, 80 } },
    };

    [Theory, MemberData(nameof(CountShapes))]
    public void CountedEqualsSpec(int[] shape)
    {
        int d = shape[^1], rows = (int)(Tensor.ElementCount(shape) / d);
        var x = Random(rows * d, 5).Select(v => new Counted(v)).ToArray();
        var y = new Counted[x.Length];
        using var scope = Counted.Begin();
        SoftmaxReference.Run<Counted>(x, y, rows, d);
        Assert.Equal(SoftmaxSpec.Cost(shape).ArithmeticOnly, scope.Counts.ToCost());
    }

    [Fact]
    public void LedgerRecordsSpecCost()
    {
        var acc = new CpuAccelerator();
        using var x = acc.Allocate(4, 9);
        x.CopyFrom(Random(36, 1));
        Ops.Softmax(acc, x, x);
        var e = Assert.Single(acc.Ledger.Entries);
        Assert.Equal("softmax", e.Op);
        Assert.Equal(SoftmaxSpec.Cost([4, 9]), e.Cost);
        Assert.Equal(new Cost(0, 4 * 35, 36, 144, 144), e.Cost);
    }

    [Fact]
    public void BadInputNamesOpAndShapes()
    {
        using var x = Cpu.Allocate(3, 5);
        using var y = Cpu.Allocate(5, 3);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Softmax(Cpu, x, y));
        Assert.Contains("softmax", ex.Message); Assert.Contains("[3,5]", ex.Message); Assert.Contains("[5,3]", ex.Message);

        using var z = Cpu.Allocate(3, 0);
        ex = Assert.Throws<ArgumentException>(() => Ops.Softmax(Cpu, z, z));
        Assert.Contains("softmax", ex.Message); Assert.Contains("[3,0]", ex.Message);

        // A partial overlap (y shifted by one element) is rejected; y = x exactly is in place and fine.
        using var buf = Cpu.Allocate(17);
        using var x1 = buf.Slice(0, 0, 16).Reshape(2, 8);
        using var y1 = buf.Slice(0, 1, 16).Reshape(2, 8);
        ex = Assert.Throws<ArgumentException>(() => Ops.Softmax(Cpu, x1, y1));
        Assert.Contains("softmax", ex.Message); Assert.Contains("overlap", ex.Message); Assert.Contains("[2,8]", ex.Message);

        var ex2 = Assert.ThrowsAny<ArgumentException>(() => Ops.Softmax(Cpu, x, x, variant: 7));
        Assert.Contains("softmax", ex2.Message); Assert.Contains("variant", ex2.Message);
    }
}
