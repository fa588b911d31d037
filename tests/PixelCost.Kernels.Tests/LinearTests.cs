using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class LinearTests
{
    public static IEnumerable<object[]> Sizes()
    {
        int[] s = [1, 2, 7, 16, 17, 31, 33, 65];
        foreach (int r in s) foreach (int n in s)
                yield return [r, (r * 3 + n) % 40 + 1, n];
        yield return [300, 700, 20];   // K > KC, M > MC
        yield return [5, 9, 3100];     // N > NC
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesReference(int rows, int K, int N) => Check(rows, K, N, 0);

    // The 512-bit path (12×32 Vector512 kernel, emulated here): same sizes (they cover the 12-row and 32-column tails,
    // K > KC = 128 and N > NC), same tolerance — the bound holds for any summation order.
    [Theory]
    [MemberData(nameof(Sizes))]
    public void Vector512MatchesReference(int rows, int K, int N) => Check(rows, K, N, 512);

    [Theory]
    [InlineData(13, 33, 65)]
    [InlineData(64, 160, 31)]
    public void Vector256And512PathsAgree(int rows, int K, int N)
    {
        var xv = TestData.Uniform(rows * K, 5); var wv = TestData.Uniform(N * K, 6); var bv = TestData.Uniform(N, 7);
        var outs = new List<float[]>();
        foreach (int bits in new[] { 256, 512 })
        {
            using var cpu = new CpuAccelerator(2, bits);
            using var x = cpu.FromArray(xv, rows, K);
            using var w = cpu.FromArray(wv, N, K);
            using var b = cpu.FromArray(bv, N);
            using var y = cpu.Allocate(rows, N);
            Ops.Linear(cpu, x, w, b, y);
            Assert.Equal(bits == 512 ? "cpu.v2-packed-v512" : "cpu.v2-packed", Assert.Single(cpu.Ledger.Entries).Variant);
            outs.Add(y.ToArray());
        }
        // Each within DotAtol(K) of the exact result, so within twice that of each other.
        Close.All(outs[0], outs[1], 2 * TestData.DotAtol(K), 0, new[] { rows, N }, $"linear 256 vs 512 {rows}x{K}->{N}");
    }

    private static void Check(int rows, int K, int N, int vectorBits)
    {
        foreach (bool bias in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
            {
                using var cpu = new CpuAccelerator(threads, vectorBits);
                // x as [2, rows, K] when rows is even, to cover the leading-dims flattening.
                int[] xS = rows % 2 == 0 ? [2, rows / 2, K] : [rows, K];
                int[] yS = rows % 2 == 0 ? [2, rows / 2, N] : [rows, N];
                var xv = TestData.Uniform(rows * K, 1); var wv = TestData.Uniform(N * K, 2); var bv = TestData.Uniform(N, 3);
                using var x = cpu.FromArray(xv, xS);
                using var w = cpu.FromArray(wv, N, K);
                using var b = cpu.FromArray(bv, N);
                using var y = cpu.FromArray(TestData.Uniform(rows * N, 4), yS);   // garbage in y must be overwritten
                Ops.Linear(cpu, x, w, bias ? b : null, y);
                var d = LinearSpec.Validate(xS, [N, K], bias ? [N] : default, bias, yS);
                var expected = new F64[rows * N];
                LinearReference.Linear<F64>(TestData.ToF64(xv), TestData.ToF64(wv), bias ? TestData.ToF64(bv) : [], expected, d);
                // Dot-product bound of K terms (TestData.DotAtol); the bias add adds one rounding of a value ≤ K/4 + 0.5.
                Close.All(TestData.ToFloat(expected), y.ToArray(), TestData.DotAtol(K), 0, new[] { rows, N }, $"linear v{cpu.VectorBits} {rows}x{K}->{N} bias {bias} t{threads}");
            }
    }

    [Theory]
    [InlineData(1, 1, 1, false)]
    [InlineData(3, 5, 7, true)]
    [InlineData(6, 17, 2, true)]
    [InlineData(4, 2, 33, false)]
    public void CountedReferenceEqualsSpec(int rows, int K, int N, bool bias)
    {
        var d = LinearSpec.Validate([rows, K], [N, K], bias ? [N] : default, bias, [rows, N]);
        var y = new Counted[rows * N];
        using var scope = Counted.Begin();
        LinearReference.Linear<Counted>(TestData.ToCounted(TestData.Uniform(rows * K, 1)), TestData.ToCounted(TestData.Uniform(N * K, 2)),
            bias ? TestData.ToCounted(TestData.Uniform(N, 3)) : [], y, d);
        Assert.Equal(LinearSpec.Cost(d).ArithmeticOnly, scope.Counts.ToCost());
    }

    [Theory]
    [InlineData(new[] { 4, 5 }, new[] { 6, 4 }, 6, new[] { 4, 6 }, "w must be [N, 5]")]
    [InlineData(new[] { 4, 5 }, new[] { 6, 5 }, 5, new[] { 4, 6 }, "bias must be [6]")]
    [InlineData(new[] { 4, 5 }, new[] { 6, 5, 1 }, -1, new[] { 4, 6 }, "w must be rank 2")]
    [InlineData(new[] { 4, 5 }, new[] { 6, 5 }, -1, new[] { 4, 7 }, "y must end in N = 6")]
    [InlineData(new[] { 2, 4, 5 }, new[] { 6, 5 }, -1, new[] { 8, 6 }, "rank of x")]
    [InlineData(new[] { 2, 4, 5 }, new[] { 6, 5 }, -1, new[] { 2, 3, 6 }, "leading dims")]
    [InlineData(new[] { 0, 5 }, new[] { 6, 5 }, -1, new[] { 0, 6 }, "zero-size")]
    public void BadShapesThrowNamingOpAndShapes(int[] xS, int[] wS, int biasLen, int[] yS, string why)
    {
        using var cpu = new CpuAccelerator(1);
        using var x = cpu.Allocate(xS);
        using var w = cpu.Allocate(wS);
        using var b = biasLen >= 0 ? cpu.Allocate(biasLen) : null;
        using var y = cpu.Allocate(yS);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Linear(cpu, x, w, b, y));
        Assert.Contains("linear", ex.Message);
        Assert.Contains(Tensor.FormatShape(xS), ex.Message);
        Assert.Contains(Tensor.FormatShape(wS), ex.Message);
        Assert.Contains(why, ex.Message);
    }
}
