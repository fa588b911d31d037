using System.Runtime.Intrinsics;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ops;
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
    //  - VecExp: ≤ 2e-7 relative (measured in ExpMatchesMathExp);
    //  - the sum over ≤ 4096 terms in 16 vector lanes: ≤ (4096/16)·2^-24 ≈ 1.5e-5 worst case, far less in practice
    //    for D ≤ 100 (≤ 7·2^-24 ≈ 4e-7); 1/sum and the multiply: 2 roundings.
    // So rtol 1e-5 bounds every case tested here (D ≤ 1000, worst sum term 1000/16·6e-8 = 3.7e-6). atol covers only
    // probabilities below e^-86.5 ≈ 2.6e-38 that VecExp flushes to 0.
    private const double Rtol = 1e-5, Atol = 1e-37;

    private void Check(int[] shape, float[] x, bool inPlace, string what)
    {
        int d = shape[^1], rows = x.Length / d;
        var expected = RefSoftmax(x, rows, d);
        using var tx = Cpu.FromArray(x, shape);
        if (inPlace)
        {
            Ops.Ops.Softmax(Cpu, tx, tx);
            Close.All(expected, tx.ToArray(), Atol, Rtol, shape, what + " in place");
        }
        else
        {
            using var ty = Cpu.Allocate(shape);
            Ops.Ops.Softmax(Cpu, tx, ty);
            Close.All(expected, ty.ToArray(), Atol, Rtol, shape, what);
            Assert.Equal(x, tx.ToArray()); // input untouched
        }
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
        Ops.Ops.Softmax(Cpu, tx, tx);
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
        for (int i = 0; i < n; i++) xs[i] = VecExp.MinArg + (VecExp.MaxArg - VecExp.MinArg) * i / (n - 1f);
        for (int i = 0; i < n; i += 8)
        {
            var v = VecExp.Exp(Vector256.Create(xs, i));
            for (int l = 0; l < 8; l++)
            {
                float x = xs[i + l], got = v[l];
                Assert.Equal(got, VecExp.Exp(x)); // scalar twin is bit-identical
                double exact = Math.Exp(x), rel = Math.Abs(got - exact) / exact;
                if (rel > worst) { worst = rel; worstX = x; }
            }
        }
        log.WriteLine($"VecExp.Exp max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24) at x = {worstX:R}");
        // fp32 itself rounds with relative error ≤ 2^-24 ≈ 6e-8; we require ≤ 3·2^-24 (≈ 1.8e-7).
        Assert.True(worst <= 3 * Math.Pow(2, -24), $"max relative error {worst:G3} at {worstX}");
        Assert.Equal(0f, VecExp.Exp(float.NegativeInfinity));
        Assert.Equal(0f, VecExp.Exp(-100f));
        Assert.Equal(1f, VecExp.Exp(0f));
        Assert.True(float.IsNaN(VecExp.Exp(float.NaN)));
        var sp = VecExp.Exp(Vector256.Create(float.NegativeInfinity, float.NaN, 0f, -100f, 1f, -1f, 88f, -86f));
        Assert.Equal(0f, sp[0]); Assert.True(float.IsNaN(sp[1])); Assert.Equal(1f, sp[2]); Assert.Equal(0f, sp[3]);
    }

    [Fact]
    public void Exp2MatchesMath()
    {
        double worst = 0;
        for (float x = -124f; x <= 0f; x += 0.0009765625f / 3)
        {
            float got = VecExp.Exp2NonPositive(Vector256.Create(x))[0];
            double exact = Math.Pow(2, x), rel = Math.Abs(got - exact) / exact;
            worst = Math.Max(worst, rel);
        }
        log.WriteLine($"VecExp.Exp2NonPositive max relative error {worst:G3} ({worst / Math.Pow(2, -24):F2} × 2^-24)");
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
        Ops.Ops.Softmax(acc, x, x);
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
        var ex = Assert.Throws<ArgumentException>(() => Ops.Ops.Softmax(Cpu, x, y));
        Assert.Contains("softmax", ex.Message); Assert.Contains("[3,5]", ex.Message); Assert.Contains("[5,3]", ex.Message);

        using var z = Cpu.Allocate(3, 0);
        ex = Assert.Throws<ArgumentException>(() => Ops.Ops.Softmax(Cpu, z, z));
        Assert.Contains("softmax", ex.Message); Assert.Contains("[3,0]", ex.Message);

        // A partial overlap (y shifted by one element) is rejected; y = x exactly is in place and fine.
        using var buf = Cpu.Allocate(17);
        using var x1 = new Tensor(Cpu, DType.F32, [2, 8], buf.Handle, owns: false);
        using var y1 = new Tensor(Cpu, DType.F32, [2, 8], buf.Handle + 4, owns: false);
        ex = Assert.Throws<ArgumentException>(() => Ops.Ops.Softmax(Cpu, x1, y1));
        Assert.Contains("softmax", ex.Message); Assert.Contains("overlap", ex.Message); Assert.Contains("[2,8]", ex.Message);

        var ex2 = Assert.ThrowsAny<ArgumentException>(() => Ops.Ops.Softmax(Cpu, x, x, variant: 7));
        Assert.Contains("softmax", ex2.Message); Assert.Contains("variant", ex2.Message);
    }
}
