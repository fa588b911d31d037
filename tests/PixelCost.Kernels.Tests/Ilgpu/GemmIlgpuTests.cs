using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>The ILGPU gemm variants on ILGPU's CPU accelerator vs the fp64 reference, over tails of every tile size.</summary>
public class GemmIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private static GemmIlgpu? _gemm;
    private static Accelerator? _gemmAcc;

    private GemmIlgpu Kernels()
    {
        if (_gemmAcc != fx.Accelerator) { _gemm = new GemmIlgpu(fx.Accelerator); _gemmAcc = fx.Accelerator; }
        return _gemm!;
    }

    private static ArrayView<float> From(MemoryBuffer1D<float, Stride1D.Dense> buf, int offset) =>
        ((ArrayView<float>)buf.View).SubView(offset, buf.Length - offset);

    private static int[] Shape(bool batched, int batch, int r, int c) => batched ? [batch, r, c] : [r, c];

    /// <param name="offset">Start the operands this many floats into their buffers (1: misaligned for 16-byte loads).</param>
    private void Check(int variant, int batch, int M, int N, int K, bool transA, bool transB, float alpha = 1f, float beta = 0f,
        bool aBatched = false, bool bBatched = false, bool nanInC = false, int offset = 0)
    {
        bool cBatched = aBatched || bBatched || batch > 1;
        int[] aS = transA ? Shape(aBatched, batch, K, M) : Shape(aBatched, batch, M, K);
        int[] bS = transB ? Shape(bBatched, batch, N, K) : Shape(bBatched, batch, K, N);
        int[] cS = Shape(cBatched, batch, M, N);
        var av = TestData.Uniform(Tensor.ElementCount(aS), 1 + M);
        var bv = TestData.Uniform(Tensor.ElementCount(bS), 2 + N);
        var cv = TestData.Uniform(Tensor.ElementCount(cS), 3 + K);
        if (nanInC) Array.Fill(cv, float.NaN);
        var acc = fx.Accelerator;
        using var a = acc.Allocate1D(new float[offset].Concat(av).ToArray());
        using var b = acc.Allocate1D(new float[offset].Concat(bv).ToArray());
        using var c = acc.Allocate1D(new float[offset].Concat(cv).ToArray());
        var d = GemmSpec.Validate(aS, bS, cS, transA, transB);
        Kernels().Run(acc.DefaultStream, From(a, offset), From(b, offset), From(c, offset), d,
            transA, transB, alpha, beta, variant);
        acc.Synchronize();
        var got = c.GetAsArray1D().AsSpan(offset).ToArray();

        var expected = TestData.ToF64(cv);
        GemmReference.Gemm<F64>(TestData.ToF64(av), TestData.ToF64(bv), expected, d, transA, transB, alpha, beta);
        // fp32 dot product of K terms (TestData.DotAtol) scaled by |alpha|, plus the rounding of beta·c.
        double atol = TestData.DotAtol(K, Math.Abs(alpha)) + Math.Abs(beta) * 0.5 * Math.Pow(2, -23);
        Close.All(TestData.ToFloat(expected), got, atol, 0, cS,
            $"{GemmIlgpu.VariantName(variant, fx.Accelerator)} batch {batch} M{M} N{N} K{K} tA{transA} tB{transB} α{alpha} β{beta} off{offset}");
    }

    public static TheoryData<int> AllVariants() => [1, 2, 3];

    // Tails of the 64- and 128-tiles, of the 16- and 8-deep K slabs and of the 4-wide loads; every transpose pair.
    [Theory]
    [MemberData(nameof(AllVariants))]
    public void SizesAndTransposes(int variant)
    {
        (int M, int N, int K)[] sizes = [(1, 1, 1), (3, 5, 7), (17, 33, 9), (65, 70, 31), (129, 6, 20), (5, 131, 8)];
        foreach (var (m, n, k) in sizes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(variant, 1, m, n, k, ta, tb);
    }

    // Batched with a broadcast A or B, alpha/beta (beta = 0 ignores NaNs in C), misaligned operands (scalar loads).
    [Theory]
    [MemberData(nameof(AllVariants))]
    public void BatchAlphaBetaAndAlignment(int variant)
    {
        Check(variant, 3, 19, 36, 24, false, false, aBatched: true, bBatched: true);
        Check(variant, 2, 33, 20, 12, false, true, aBatched: false, bBatched: true, alpha: 0.5f, beta: 2f);
        Check(variant, 2, 7, 68, 17, true, false, aBatched: true, bBatched: false, alpha: -1f, beta: 1f);
        Check(variant, 1, 40, 44, 20, false, false, nanInC: true);
        Check(variant, 1, 40, 44, 20, false, false, beta: 0f, nanInC: true, offset: 1);
        Check(variant, 2, 36, 36, 36, true, true, aBatched: true, bBatched: true, alpha: 2f, beta: -0.5f, offset: 1);
        Check(variant, 1, 12, 8, 100, false, false, offset: 4);
    }

    [Fact]
    public void VariantNamesAndDefault()
    {
        Assert.Equal("ilgpu.v1-simt", GemmIlgpu.VariantName(1, fx.Accelerator));
        Assert.Equal("ilgpu.v3-naive", GemmIlgpu.VariantName(3, fx.Accelerator));
        Assert.StartsWith("ilgpu.v", GemmIlgpu.VariantName(0, fx.Accelerator));
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmIlgpu.VariantName(4, fx.Accelerator));
        Check(0, 1, 70, 3, 5, false, true);
        // The CPU device has 2 multiprocessors: 4 or more 128×128 output tiles fill it, so the default takes the 128-tile.
        Assert.Equal("ilgpu.v1-simt", GemmIlgpu.VariantName(0, fx.Accelerator, 1, 200, 120));
        Assert.Equal("ilgpu.v2-simt-128", GemmIlgpu.VariantName(0, fx.Accelerator, 4, 100, 100));
        Assert.Equal("ilgpu.v3-naive", GemmIlgpu.VariantName(3, fx.Accelerator, 4, 100, 100));
    }
}
