using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// GemmTensorCoreIlgpu on ILGPU's CPU accelerator (mma emulated with the PTX fragment layout) vs the fp64 reference:
/// odd sizes below, at and across the 16/32/128 tiles, both transposes, batch 2 with broadcast operands, alpha/beta,
/// fp16 operand views. Tolerance: GemmTensorCoreIlgpu.Tolerance (fp16 rounding of the inputs, K·2⁻⁹·|alpha|·max|a||b|).
/// </summary>
public class GemmTensorCoreIlgpuTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    private GemmTensorCoreIlgpu Gemm => _gemm ??= new GemmTensorCoreIlgpu(fx.Accelerator);
    private static GemmTensorCoreIlgpu? _gemm;
    private static Accelerator? _gemmAcc;

    private static int[] Shape(bool batched, int batch, int r, int c) => batched ? [batch, r, c] : [r, c];

    private enum Kind { F32, HalfB, HalfA }

    private void Check(int batch, int M, int N, int K, bool transA, bool transB, float alpha, float beta,
        bool aBatched, bool bBatched, Kind kind = Kind.F32)
    {
        if (!ReferenceEquals(_gemmAcc, fx.Accelerator)) { _gemm = null; _gemmAcc = fx.Accelerator; }
        var acc = fx.Accelerator;
        bool cBatched = aBatched || bBatched || batch > 1;
        int[] aS = transA ? Shape(aBatched, batch, K, M) : Shape(aBatched, batch, M, K);
        int[] bS = transB ? Shape(bBatched, batch, N, K) : Shape(bBatched, batch, K, N);
        int[] cS = Shape(cBatched, batch, M, N);
        var av = TestData.Uniform(Tensor.ElementCount(aS), 11 + M);
        var bv = TestData.Uniform(Tensor.ElementCount(bS), 12 + N);
        var cv = TestData.Uniform(Tensor.ElementCount(cS), 13 + K);
        if (beta == 0) Array.Fill(cv, float.NaN);   // beta = 0 must not read C
        var d = GemmSpec.Validate(aS, bS, cS, transA, transB);
        using var cb = acc.Allocate1D(cv);
        var stream = acc.DefaultStream;
        if (kind == Kind.HalfB)
        {
            using var ab = acc.Allocate1D(av);
            using var bb = acc.Allocate1D(Array.ConvertAll(bv, x => (ILGPU.Half)x));
            Gemm.Run(stream, ab.View, bb.View, cb.View, d, transA, transB, alpha, beta, 0);
            stream.Synchronize();
        }
        else if (kind == Kind.HalfA)
        {
            using var ab = acc.Allocate1D(Array.ConvertAll(av, x => (ILGPU.Half)x));
            using var bb = acc.Allocate1D(bv);
            Gemm.Run(stream, ab.View, bb.View, cb.View, d, transA, transB, alpha, beta, 1);
            stream.Synchronize();
        }
        else
        {
            using var ab = acc.Allocate1D(av);
            using var bb = acc.Allocate1D(bv);
            Gemm.Run(stream, ab.View, bb.View, cb.View, d, transA, transB, alpha, beta, 0);
            stream.Synchronize();
        }
        var expected = TestData.ToF64(cv);
        GemmReference.Gemm<F64>(TestData.ToF64(av), TestData.ToF64(bv), expected, d, transA, transB, alpha, beta);
        // Uniform data: |x| ≤ 0.5.
        double atol = GemmTensorCoreIlgpu.Atol(0, K, alpha, 0.5, 0.5, beta, 0.5);
        Close.All(TestData.ToFloat(expected), cb.GetAsArray1D(), atol, 0, cS,
            $"gemm tc {kind} batch {batch} M{M} N{N} K{K} tA{transA} tB{transB} α{alpha} β{beta} aB{aBatched} bB{bBatched}");
    }

    public static IEnumerable<object[]> Shapes()
    {
        int[] sizes = [1, 7, 16, 33, 70];
        int i = 0;
        foreach (int m in sizes)
            foreach (int n in sizes)
            {
                int k = sizes[(i * 3 + 1) % sizes.Length];
                yield return [m, n, k, (i & 1) != 0, (i & 2) != 0];
                i++;
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void SmallOddShapesBothTransposes(int m, int n, int k, bool transA, bool transB) =>
        Check(1, m, n, k, transA, transB, 1f, 0f, false, false);

    [Fact]
    public void KTailsAndBlockTailsOfOneShape()
    {
        foreach (int k in new[] { 1, 15, 17, 31, 32, 33, 64, 65 })
            Check(1, 9, 11, k, false, false, 1f, 0f, false, false);
        Check(1, 130, 129, 40, true, false, 1f, 0f, false, false);   // two row and column tiles, tails in both
    }

    [Fact]
    public void BatchWithBroadcastAlphaBeta()
    {
        Check(2, 33, 7, 70, false, true, 0.5f, 0.75f, true, true);
        Check(2, 17, 33, 16, true, false, -1.5f, 1f, false, true);   // A broadcast over the batch
        Check(2, 16, 9, 33, false, false, 1f, -0.5f, true, false);   // B broadcast over the batch
    }

    [Fact]
    public void Fp16OperandViews()
    {
        Check(1, 33, 70, 40, false, true, 1f, 0f, false, false, Kind.HalfB);
        Check(2, 7, 16, 33, true, false, 2f, 0.5f, true, true, Kind.HalfA);
    }

    [Fact]
    public void VariantNames()
    {
        Assert.Equal("ilgpu.tc-f16", GemmTensorCoreIlgpu.VariantName(0, fx.Accelerator));
        Assert.Equal("ilgpu.tc-f16", GemmTensorCoreIlgpu.VariantName(1, fx.Accelerator));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => GemmTensorCoreIlgpu.VariantName(2, fx.Accelerator));
        Assert.Contains("gemm", ex.Message);
    }
}
