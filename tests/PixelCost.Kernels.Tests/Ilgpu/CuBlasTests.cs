using System.Runtime.InteropServices;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class CuBlasTests
{
    [Fact]
    public void AvailabilitySaysWhichLibrariesWereTried()
    {
        bool present = new[] { "libcublas.so.13", "libcublas.so.12", "libcublas.so" }.Any(f =>
        {
            if (!NativeLibrary.TryLoad(f, out nint h)) return false;
            NativeLibrary.Free(h);
            return true;
        });
        bool ok = CuBlasNative.IsAvailable(out string? why);
        Assert.Equal(present, ok);
        if (!ok) Assert.StartsWith("libcublas.so.13, libcublas.so.12, libcublas.so not found", why, StringComparison.Ordinal);
    }

    [Fact]
    public void StatusStringWithoutTheLibraryFallsBackToTheNumber()
    {
        if (CuBlasNative.IsAvailable(out _)) return; // with cuBLAS the real text comes back; covered on GPU machines
        Assert.Equal("status 7", CuBlasNative.StatusString(7));
        var e = Assert.Throws<CuBlasCallException>(() => CuBlasNative.Check(7, "cublasGemmEx"));
        Assert.Equal("cublasGemmEx failed: status 7 (cublasStatus_t 7)", e.Message);
        CuBlasNative.Check(CuBlasNative.Success, "cublasGemmEx");
    }

    [Fact]
    public void RowMajorGemmSwapsOperandsAndDimensions()
    {
        // Row-major C[2×3] = A[2×4]·B[4×3] is column-major Cᵀ[3×2] = Bᵀ[3×4]·Aᵀ[4×2].
        Assert.Equal(new CuBlasGemmArgs(CuBlasOp.N, CuBlasOp.N, M: 3, N: 2, K: 4, FirstIsB: true, Lda: 3, Ldb: 4, Ldc: 3),
            CuBlasNative.RowMajorGemm(2, 3, 4));
    }

    [Fact]
    public void TransposedOperandsBecomeOpTWithTheirStoredRowLength()
    {
        // A stored 4×2 (k×m), B stored 3×4 (n×k).
        Assert.Equal(new CuBlasGemmArgs(CuBlasOp.T, CuBlasOp.T, M: 3, N: 2, K: 4, FirstIsB: true, Lda: 4, Ldb: 2, Ldc: 3),
            CuBlasNative.RowMajorGemm(2, 3, 4, transA: true, transB: true));
        Assert.Equal(new CuBlasGemmArgs(CuBlasOp.N, CuBlasOp.T, M: 3, N: 2, K: 4, FirstIsB: true, Lda: 3, Ldb: 2, Ldc: 3),
            CuBlasNative.RowMajorGemm(2, 3, 4, transA: true));
        Assert.Equal(new CuBlasGemmArgs(CuBlasOp.T, CuBlasOp.N, M: 3, N: 2, K: 4, FirstIsB: true, Lda: 4, Ldb: 4, Ldc: 3),
            CuBlasNative.RowMajorGemm(2, 3, 4, transB: true));
    }

    [Fact]
    public void ColumnMajorReadingOfTheMappedArgumentsIsTheRowMajorProduct()
    {
        // Emulate cuBLAS's column-major GEMM on the mapped arguments and compare with the row-major definition.
        var rng = new Random(7);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (2, 3, 4), (5, 1, 3), (3, 7, 2) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            float[] a = Enumerable.Range(0, m * k).Select(_ => (float)rng.Next(-5, 6)).ToArray();
            float[] b = Enumerable.Range(0, k * n).Select(_ => (float)rng.Next(-5, 6)).ToArray();
            var g = CuBlasNative.RowMajorGemm(m, n, k, ta, tb);
            float[] first = g.FirstIsB ? b : a, second = g.FirstIsB ? a : b;
            var c = new float[m * n];
            for (int j = 0; j < g.N; j++)
            for (int i = 0; i < g.M; i++)
            {
                float s = 0;
                for (int p = 0; p < g.K; p++)
                {
                    float x = g.TransA == CuBlasOp.N ? first[i + p * g.Lda] : first[p + i * g.Lda];
                    float y = g.TransB == CuBlasOp.N ? second[p + j * g.Ldb] : second[j + p * g.Ldb];
                    s += x * y;
                }
                c[i + j * g.Ldc] = s;
            }
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                Assert.Equal(s, c[i * n + j]);
            }
        }
    }
}
