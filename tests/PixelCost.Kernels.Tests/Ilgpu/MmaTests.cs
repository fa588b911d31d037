using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The m16n8k16 primitive on ILGPU's CPU accelerator (the emulated path, same fragment layout as the PTX instruction):
/// one warp loads A [16,16] and B [16,8] into fragments by the PTX ISA formulas, runs the mma on C, stores D.
/// </summary>
public class MmaTests(IlgpuCpuFixture fx) : IClassFixture<IlgpuCpuFixture>
{
    // a: [16,16] row-major, b: [16,8] row-major (k, n), c/d: [16,8].
    internal static void OneTile(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, t = lane & 3;
        FragA fa;
        fa.R0 = Mma.Pack(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]);
        fa.R1 = Mma.Pack(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]);
        fa.R2 = Mma.Pack(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]);
        fa.R3 = Mma.Pack(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]);
        FragB fb;
        fb.R0 = Mma.Pack(b[2 * t * 8 + g], b[(2 * t + 1) * 8 + g]);
        fb.R1 = Mma.Pack(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g]);
        FragC fc;
        fc.C0 = c[g * 8 + 2 * t]; fc.C1 = c[g * 8 + 2 * t + 1];
        fc.C2 = c[(g + 8) * 8 + 2 * t]; fc.C3 = c[(g + 8) * 8 + 2 * t + 1];
        Mma.M16N8K16(ref fc, fa, fb);
        d[g * 8 + 2 * t] = fc.C0; d[g * 8 + 2 * t + 1] = fc.C1;
        d[(g + 8) * 8 + 2 * t] = fc.C2; d[(g + 8) * 8 + 2 * t + 1] = fc.C3;
    }

    private static void PackRoundTrip(Index1D i, ArrayView<float> x, ArrayView<float> y)
    {
        uint p = Mma.Pack(x[2 * i], x[2 * i + 1]);
        y[2 * i] = Mma.Lo(p);
        y[2 * i + 1] = Mma.Hi(p);
    }

    [Fact]
    public void M16N8K16MatchesAMatmulOfTheFp16Inputs()
    {
        var acc = fx.Accelerator;
        // Inputs rounded to fp16 on the host, so the kernel's fp32 → fp16 conversion is exact; distinct values
        // everywhere, so a swapped row/column/half shows.
        var rng = new Random(7);
        float H(double v) => (float)(System.Half)v;
        var a = Enumerable.Range(0, 256).Select(_ => H(rng.NextDouble() * 2 - 1)).ToArray();
        var b = Enumerable.Range(0, 128).Select(_ => H(rng.NextDouble() * 2 - 1)).ToArray();
        var c = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var k = acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(OneTile);
        using var ab = acc.Allocate1D(a);
        using var bb = acc.Allocate1D(b);
        using var cb = acc.Allocate1D(c);
        using var db = acc.Allocate1D<float>(128);
        k(new KernelConfig(1, 32), ab.View, bb.View, cb.View, db.View);
        acc.Synchronize();
        var got = db.GetAsArray1D();
        var expected = Expected(a, b, c);
        // fp16·fp16 products are exact in fp32; 16 fp32 additions of terms ≤ 1 plus |c| ≤ 0.5 each round by ≤ 2⁻²⁴·17,
        // so 17·17·2⁻²⁴ bounds any summation order (the tensor core's too). A misplaced element moves a value by ~0.1.
        Close.All(expected, got, 17.0 * 17 * Math.Pow(2, -24), 0, new[] { 16, 8 }, "mma.m16n8k16");
    }

    /// <summary>D = A·B + C in fp64, rounded to fp32.</summary>
    internal static float[] Expected(float[] a, float[] b, float[] c)
    {
        var expected = new float[128];
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double s = c[i * 8 + j];
                for (int kk = 0; kk < 16; kk++) s += (double)a[i * 16 + kk] * b[kk * 8 + j];
                expected[i * 8 + j] = (float)s;
            }
        return expected;
    }

    [Fact]
    public void PackRoundsToFp16AndUnpacksExactly()
    {
        var acc = fx.Accelerator;
        float[] x = [1f, -2.5f, 65504f, 1e-3f, 0.1f, 1f / 3, 3.14159f, -0f, 6e-5f, 1000.7f];
        var k = acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(PackRoundTrip);
        using var xb = acc.Allocate1D(x);
        using var yb = acc.Allocate1D<float>(x.Length);
        k(x.Length / 2, xb.View, yb.View);
        acc.Synchronize();
        var got = yb.GetAsArray1D();
        for (int i = 0; i < x.Length; i++)
        {
            // Within fp16's half-ulp of round-to-nearest, or exactly System.Half's rounding; 2⁻¹¹ relative.
            double tol = Math.Abs(x[i]) * Math.Pow(2, -10) + 6e-8;
            Assert.True(Math.Abs(got[i] - x[i]) <= tol, $"x {x[i]} -> {got[i]}");
            Assert.Equal((float)(System.Half)got[i], got[i]);
        }
    }
}
