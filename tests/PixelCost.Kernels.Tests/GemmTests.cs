using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class GemmTests
{
    private static int[] Shape(bool batched, int batch, int r, int c) => batched ? [batch, r, c] : [r, c];

    /// <summary>Runs Ops.Gemm and the fp64 reference on the same inputs and compares.</summary>
    private static void Check(int threads, int batch, int M, int N, int K, bool transA, bool transB, float alpha, float beta,
        bool aBatched = false, bool bBatched = false, bool nanInC = false, int variant = 0, int vectorBits = 0)
    {
        bool cBatched = aBatched || bBatched || batch > 1;
        using var cpu = new CpuAccelerator(threads, vectorBits);
        int[] aS = transA ? Shape(aBatched, batch, K, M) : Shape(aBatched, batch, M, K);
        int[] bS = transB ? Shape(bBatched, batch, N, K) : Shape(bBatched, batch, K, N);
        int[] cS = Shape(cBatched, batch, M, N);
        var av = TestData.Uniform(Tensor.ElementCount(aS), 1 + M);
        var bv = TestData.Uniform(Tensor.ElementCount(bS), 2 + N);
        var cv = TestData.Uniform(Tensor.ElementCount(cS), 3 + K);
        if (nanInC) Array.Fill(cv, float.NaN);
        using var a = cpu.FromArray(av, aS);
        using var b = cpu.FromArray(bv, bS);
        using var c = cpu.FromArray(cv, cS);
        Ops.Gemm(cpu, a, b, c, transA, transB, alpha, beta, variant);

        var d = GemmSpec.Validate(aS, bS, cS, transA, transB);
        var expected = TestData.ToF64(cv);
        GemmReference.Gemm<F64>(TestData.ToF64(av), TestData.ToF64(bv), expected, d, transA, transB, alpha, beta);
        // Dot-product bound (TestData.DotAtol) scaled by |alpha|, plus the |beta·c| ≤ 0.5|beta| term's rounding.
        double atol = TestData.DotAtol(K, Math.Abs(alpha)) + Math.Abs(beta) * 0.5 * Math.Pow(2, -23);
        Close.All(TestData.ToFloat(expected), c.ToArray(), atol, 0, cS,
            $"gemm v{cpu.VectorBits} t{threads} batch {batch} M{M} N{N} K{K} tA{transA} tB{transB} α{alpha} β{beta}");
        if (variant != 1) Assert.EndsWith(cpu.UseVector512 ? "-v512" : "-packed", cpu.Ledger.Entries[^1].Variant);
    }

    // ---- The 512-bit path (12×32 Vector512 micro-kernel), forced: emulated in software on AVX2-only machines, so the
    // sizes stay small but cover every MR = 12 and NR = 32 tail, both K blocks (KC = 128) and the 16-lane halves. The
    // tolerances are the 256-bit tests' (Check): the bound is on any fp32 summation order of K products, which both
    // kernels are.

    public static IEnumerable<object[]> Sizes512()
    {
        int[] mn = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23, 24, 25, 31, 32, 33, 65];
        int[] ks = [1, 2, 3, 5, 8, 13, 16, 17, 31, 32, 33, 65, 129];
        int i = 0;
        foreach (int m in mn)
            foreach (int n in mn)
                yield return [m, n, ks[i++ % ks.Length]];
    }

    [Theory]
    [MemberData(nameof(Sizes512))]
    public void Vector512SmallSizesAllTransposes(int M, int N, int K)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                Check(2, 1, M, N, K, ta, tb, 1f, 0f, vectorBits: 512);
    }

    [Fact]
    public void Vector512EveryKUpTo33()
    {
        for (int k = 1; k <= 33; k++) Check(1, 1, 13, 33, k, false, false, 1f, 0f, vectorBits: 512);
    }

    // K > KC (128: several K blocks), M > MC (384), N > NC (3072), with alpha/beta; 1–3 threads (uneven splits, split on M and N).
    [Theory]
    [InlineData(1, 30, 40, 300, 1f, 0f)]
    [InlineData(2, 37, 70, 260, 0.5f, 2f)]
    [InlineData(3, 50, 20, 129, -1f, 1f)]
    [InlineData(2, 400, 9, 7, 1f, 0f)]
    [InlineData(2, 5, 3100, 6, 2f, -0.5f)]
    [InlineData(3, 100, 65, 33, 1f, 1f)]
    public void Vector512CrossesCacheBlocks(int threads, int M, int N, int K, float alpha, float beta)
    {
        Check(threads, 1, M, N, K, false, false, alpha, beta, vectorBits: 512);
        Check(threads, 1, M, N, K, true, true, alpha, beta, vectorBits: 512);
    }

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(2f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-0.5f, 3f)]
    [InlineData(0f, 1f)]
    public void Vector512AlphaBeta(float alpha, float beta)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 19, 5), (12, 32, 9), (33, 65, 31), (24, 64, 17) })
        {
            Check(2, 1, m, n, k, false, false, alpha, beta, vectorBits: 512);
            Check(2, 1, m, n, k, true, true, alpha, beta, vectorBits: 512);
        }
    }

    [Fact]
    public void Vector512BetaZeroIgnoresNaNInC()
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (12, 32, 3), (5, 17, 140), (33, 65, 31) })
            Check(2, 1, m, n, k, false, true, 3f, 0f, nanInC: true, vectorBits: 512);
    }

    [Theory]
    [InlineData(3, true, true)]
    [InlineData(3, true, false)]
    [InlineData(5, false, true)]
    [InlineData(2, false, false)]
    [InlineData(8, true, true)]
    public void Vector512BatchedWithBroadcast(int batch, bool aBatched, bool bBatched)
    {
        foreach (var (m, n, k) in new[] { (7, 19, 5), (13, 33, 20) })
            foreach (bool tb in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                    Check(threads, batch, m, n, k, !tb, tb, 1.5f, 0.5f, aBatched, bBatched, vectorBits: 512);
    }

    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(13, 33, 17, false, true)]
    [InlineData(25, 31, 300, true, false)]
    [InlineData(65, 17, 129, true, true)]
    public void Vector256And512PathsAgree(int M, int N, int K, bool ta, bool tb)
    {
        int[] aS = ta ? [K, M] : [M, K], bS = tb ? [N, K] : [K, N];
        var av = TestData.Uniform(M * K, 21); var bv = TestData.Uniform(K * N, 22); var cv = TestData.Uniform(M * N, 23);
        var outs = new List<float[]>();
        foreach (int bits in new[] { 256, 512 })
        {
            using var cpu = new CpuAccelerator(2, bits);
            using var a = cpu.FromArray(av, aS);
            using var b = cpu.FromArray(bv, bS);
            using var c = cpu.FromArray(cv, M, N);
            Ops.Gemm(cpu, a, b, c, ta, tb, 0.75f, -1f);
            Assert.Equal(bits == 512 ? "cpu.v2-packed-v512" : "cpu.v2-packed", Assert.Single(cpu.Ledger.Entries).Variant);
            outs.Add(c.ToArray());
        }
        // Both are within DotAtol of the exact result (scaled by alpha, plus beta·c's rounding), so within twice that of each other.
        double atol = 2 * (TestData.DotAtol(K, 0.75) + 0.5 * Math.Pow(2, -23));
        Close.All(outs[0], outs[1], atol, 0, new[] { M, N }, $"gemm 256 vs 512 M{M} N{N} K{K}");
    }

    public static IEnumerable<object[]> SmallSizes()
    {
        // Every MR (6) and NR (16) tail and the 8-lane vector tail, with a K that is not a multiple of anything.
        for (int m = 1; m <= 17; m++)
            for (int n = 1; n <= 17; n++)
                yield return [m, n, (m * 7 + n) % 17 + 1];
    }

    [Theory]
    [MemberData(nameof(SmallSizes))]
    public void SmallSizesAllTransposes(int M, int N, int K)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                Check(2, 1, M, N, K, ta, tb, 1f, 0f);
    }

    public static IEnumerable<object[]> MixedSizes()
    {
        int[] s = [1, 5, 17, 31, 33, 64, 65, 127];
        foreach (int m in s) foreach (int n in s) foreach (int k in new[] { 1, 16, 33, 127 })
                    if ((m + n + k) % 3 == 0 || m == n) yield return [m, n, k];
    }

    [Theory]
    [MemberData(nameof(MixedSizes))]
    public void MixedSizesAllTransposes(int M, int N, int K)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                Check(2, 1, M, N, K, ta, tb, 1f, 0f);
    }

    // Shapes that cross the cache blocks: K > KC (several K blocks, accumulation into C), M > MC, N > NC, with
    // alpha/beta so the first-block/later-block write-backs both run; 1, 2 and 3 threads (uneven splits).
    [Theory]
    [InlineData(1, 150, 70, 300, 1f, 0f)]
    [InlineData(2, 150, 70, 600, 0.5f, 2f)]
    [InlineData(3, 299, 45, 257, -1f, 1f)]
    [InlineData(2, 7, 3100, 20, 1f, 0f)]
    [InlineData(2, 13, 6200, 9, 2f, -0.5f)]
    [InlineData(2, 400, 17, 520, 1f, 1f)]
    public void CrossesCacheBlocks(int threads, int M, int N, int K, float alpha, float beta)
    {
        Check(threads, 1, M, N, K, false, false, alpha, beta);
        Check(threads, 1, M, N, K, true, true, alpha, beta);
    }

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(2f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-0.5f, 3f)]
    [InlineData(0f, 1f)]
    public void AlphaBeta(float alpha, float beta)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 19, 5), (33, 65, 31), (64, 64, 64) })
        {
            Check(2, 1, m, n, k, false, false, alpha, beta);
            Check(2, 1, m, n, k, true, false, alpha, beta);
        }
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(3f)]
    public void BetaZeroIgnoresNaNInC(float alpha)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (5, 17, 300), (33, 65, 31) })
            foreach (int variant in new[] { 0, 1 })
                Check(2, 1, m, n, k, false, true, alpha, 0f, nanInC: true, variant: variant);
    }

    [Theory]
    [InlineData(3, true, true)]
    [InlineData(3, true, false)]
    [InlineData(5, false, true)]
    [InlineData(2, false, false)]
    [InlineData(8, true, true)]
    [InlineData(1, true, true)]
    public void BatchedWithBroadcast(int batch, bool aBatched, bool bBatched)
    {
        foreach (var (m, n, k) in new[] { (7, 19, 5), (33, 17, 64), (1, 40, 3) })
            foreach (bool tb in new[] { false, true })
                foreach (int threads in new[] { 1, 2 })
                    Check(threads, batch, m, n, k, !tb, tb, 1.5f, 0.5f, aBatched, bBatched);
    }

    [Fact]
    public void ScalarVariantMatchesReference() => Check(2, 2, 9, 13, 21, true, false, 2f, 1f, true, true, variant: 1);

    public static IEnumerable<object[]> CountShapes()
    {
        foreach (var (batch, m, n, k, ab, bb) in new[] { (1, 1, 1, 1, false, false), (1, 3, 5, 7, false, false), (4, 6, 2, 9, true, false), (3, 2, 9, 4, false, true), (2, 5, 5, 5, true, true) })
            foreach (var (alpha, beta) in new[] { (1f, 0f), (2f, 0f), (1f, 1f), (0.5f, -2f) })
                yield return [batch, m, n, k, ab, bb, alpha, beta];
    }

    [Theory]
    [MemberData(nameof(CountShapes))]
    public void CountedReferenceEqualsSpec(int batch, int M, int N, int K, bool aB, bool bB, float alpha, float beta)
    {
        bool cB = aB || bB || batch > 1;
        int[] aS = Shape(aB, batch, M, K), bS = Shape(bB, batch, N, K), cS = Shape(cB, batch, M, N);
        var d = GemmSpec.Validate(aS, bS, cS, false, true);
        var c = TestData.ToCounted(TestData.Uniform(Tensor.ElementCount(cS), 3));
        using var scope = Counted.Begin();
        GemmReference.Gemm<Counted>(TestData.ToCounted(TestData.Uniform(Tensor.ElementCount(aS), 1)),
            TestData.ToCounted(TestData.Uniform(Tensor.ElementCount(bS), 2)), c, d, false, true, alpha, beta);
        var counts = scope.Counts;
        Assert.Equal(GemmSpec.Cost(d, alpha, beta).ArithmeticOnly, counts.ToCost());
    }

    [Fact]
    public void CostBytesAndLedger()
    {
        using var cpu = new CpuAccelerator(2);
        using var a = cpu.Allocate(4, 6, 5);
        using var b = cpu.Allocate(5, 7);
        using var c = cpu.Allocate(4, 6, 7);
        Ops.Gemm(cpu, a, b, c, beta: 1f);
        var e = Assert.Single(cpu.Ledger.Entries);
        Assert.Equal("gemm", e.Op);
        // A batched (4·6·5 floats), B broadcast and read once (5·7), C read (beta ≠ 0) and written (4·6·7).
        Assert.Equal(new Cost(2L * 4 * 6 * 7 * 5, 2L * 4 * 6 * 7, 0, 4L * (4 * 6 * 5 + 5 * 7 + 4 * 6 * 7), 4L * 4 * 6 * 7), e.Cost);
    }

    [Theory]
    [InlineData(new[] { 3, 4 }, new[] { 5, 6 }, new[] { 3, 6 }, false, false, "inner dimensions differ")]
    [InlineData(new[] { 3, 4 }, new[] { 4, 6 }, new[] { 3, 5 }, false, false, "c must be [3,6]")]
    [InlineData(new[] { 4 }, new[] { 4, 6 }, new[] { 1, 6 }, false, false, "rank 2 or 3")]
    [InlineData(new[] { 1, 2, 3, 4 }, new[] { 4, 6 }, new[] { 3, 6 }, false, false, "rank 2 or 3")]
    [InlineData(new[] { 0, 4 }, new[] { 4, 6 }, new[] { 0, 6 }, false, false, "zero-size")]
    [InlineData(new[] { 3, 0 }, new[] { 0, 6 }, new[] { 3, 6 }, false, false, "zero-size")]
    [InlineData(new[] { 2, 3, 4 }, new[] { 3, 4, 6 }, new[] { 2, 3, 6 }, false, false, "batch sizes differ")]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4, 6 }, new[] { 3, 3, 6 }, false, false, "batch sizes differ")]
    [InlineData(new[] { 2, 3, 4 }, new[] { 4, 6 }, new[] { 3, 6 }, false, false, "needs c of rank 3")]
    [InlineData(new[] { 4, 3 }, new[] { 4, 6 }, new[] { 3, 6 }, false, false, "inner dimensions differ")]
    [InlineData(new[] { 3, 4 }, new[] { 4, 6 }, new[] { 3, 6 }, false, true, "inner dimensions differ")]
    public void BadShapesThrowNamingOpAndShapes(int[] aS, int[] bS, int[] cS, bool ta, bool tb, string why)
    {
        using var cpu = new CpuAccelerator(1);
        using var a = cpu.Allocate(aS);
        using var b = cpu.Allocate(bS);
        using var c = cpu.Allocate(cS);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Gemm(cpu, a, b, c, ta, tb));
        Assert.Contains("gemm", ex.Message);
        Assert.Contains(Tensor.FormatShape(aS), ex.Message);
        Assert.Contains(Tensor.FormatShape(cS), ex.Message);
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public void OverlappingOutputThrows()
    {
        using var cpu = new CpuAccelerator(1);
        using var a = cpu.Allocate(4, 4);
        using var b = cpu.Allocate(4, 4);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Gemm(cpu, a, b, a));
        Assert.Contains("gemm", ex.Message);
        Assert.Contains("overlap", ex.Message);
    }

    [SkippableTheory]
    [InlineData(1, 37, 70, 300, false, false, 1f, 0f)]
    [InlineData(3, 17, 33, 65, true, true, 0.5f, 2f)]
    [InlineData(2, 64, 1, 127, false, true, 1f, 1f)]
    public void OpenBlasMatchesReference(int batch, int M, int N, int K, bool ta, bool tb, float alpha, float beta)
    {
        Skip.If(OpenBlas.Unavailable is not null, OpenBlas.Unavailable);
        using var cpu = new CpuAccelerator(2);
        Assert.True(OpenBlas.SetThreads(2));
        int[] aS = ta ? [batch, K, M] : [batch, M, K], bS = tb ? [N, K] : [K, N], cS = [batch, M, N];
        var av = TestData.Uniform(Tensor.ElementCount(aS), 11);
        var bv = TestData.Uniform(Tensor.ElementCount(bS), 12);
        var cv = TestData.Uniform(Tensor.ElementCount(cS), 13);
        using var a = cpu.FromArray(av, aS);
        using var b = cpu.FromArray(bv, bS);
        using var c = cpu.FromArray(cv, cS);
        OpenBlas.Gemm(a, b, c, ta, tb, alpha, beta);
        var d = GemmSpec.Validate(aS, bS, cS, ta, tb);
        var expected = TestData.ToF64(cv);
        GemmReference.Gemm<F64>(TestData.ToF64(av), TestData.ToF64(bv), expected, d, ta, tb, alpha, beta);
        double atol = TestData.DotAtol(K, Math.Abs(alpha)) + Math.Abs(beta) * 0.5 * Math.Pow(2, -23);
        Close.All(TestData.ToFloat(expected), c.ToArray(), atol, 0, cS, "openblas");
    }

    [Theory]
    [InlineData(null, 3, false, null)]
    [InlineData("Haswell", 3, false, null)]
    [InlineData("ZEN", 3, false, null)]
    [InlineData("Sandybridge", 3, true, "weaker")]
    [InlineData("Nehalem", 3, true, "weaker")]
    [InlineData("SkylakeX", 3, true, "lacks")]
    [InlineData("Haswell", 4, true, "weaker")]
    [InlineData("SkylakeX", 4, false, null)]
    [InlineData("NoSuchCore", 3, true, "not a core")]
    public void CoreTypeWarning(string? coreType, int cpuTier, bool warns, string? words)
    {
        var w = OpenBlas.CoreTypeWarning(coreType, cpuTier);
        Assert.Equal(warns, w is not null);
        if (words is not null) Assert.Contains(words, w);
    }
}
