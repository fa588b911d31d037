using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

public class GpuPeakTests(IlgpuCpuFixture gpu) : IClassFixture<IlgpuCpuFixture>
{
    private static readonly PeakConfig Tiny = new(Groups: 2, GroupSize: 64, Iterations: 8, TriadElements: 1000, MinRepeats: 3);

    [Fact]
    public void FmaKernelComputesExactlyTheScalarChains()
    {
        // Same IL, same non-fused float arithmetic on the CPU accelerator: bit-for-bit equal. This is what keeps the
        // timed arithmetic from being optimised away: every FMA feeds the value written.
        float[] got = GpuPeak.RunFma(gpu.Accelerator, Tiny);
        Assert.Equal(Tiny.Groups * Tiny.GroupSize, got.Length);
        for (int t = 0; t < got.Length; t++) Assert.Equal(GpuPeak.FmaReference(t, Tiny.Iterations), got[t]);
        // And the chains really moved: after 32 rounds a start of 0 is 1 − 0.999³² ≈ 0.0315 per chain.
        Assert.NotEqual(GpuPeak.FmaReference(0, 0), GpuPeak.FmaReference(0, Tiny.Iterations));
        Assert.Equal(8 * (1 - Math.Pow(0.999, 32)) + (0.01 + 0.02 + 0.03 + 0.04 + 0.05 + 0.06 + 0.07) * Math.Pow(0.999, 32),
            GpuPeak.FmaReference(0, Tiny.Iterations), 4);
    }

    [Fact]
    public void MeasureReturnsPositiveFiniteRatesWithStopwatchTiming()
    {
        var (gflops, gbps) = GpuPeak.Measure(gpu.Accelerator, TimeSpan.Zero, Tiny);
        Assert.True(double.IsFinite(gflops) && gflops > 0, $"{gflops} GFLOP/s");
        Assert.True(double.IsFinite(gbps) && gbps > 0, $"{gbps} GB/s");
    }

    [Fact]
    public void MeasureWithProfilingMarkersAndTheDefaultCpuConfig()
    {
        using var ctx = IlgpuContexts.CreateCpuContext();
        using var acc = ctx.GetPreferredDevice(preferCPU: true).CreateAccelerator(ctx);
        Assert.Equal(new PeakConfig(2, 64, 16, 4096), PeakConfig.For(acc));
        var rates = GpuPeak.Measure(acc, TimeSpan.FromMilliseconds(1));
        Assert.True(double.IsFinite(rates.Gflops) && rates.Gflops > 0, rates.ToString());
        Assert.True(double.IsFinite(rates.TriadGBps) && rates.TriadGBps > 0, rates.ToString());
    }

    [Fact]
    public void TriadKernelComputesBPlusSTimesC()
    {
        var k = gpu.Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(GpuPeak.TriadKernel);
        int n = 300; // more than the 2×64-thread grid: the grid-stride loop covers the rest
        using var a = gpu.Accelerator.Allocate1D<float>(n);
        using var b = gpu.Upload(Enumerable.Range(0, n).Select(i => (float)i).ToArray());
        using var c = gpu.Upload(Enumerable.Range(0, n).Select(i => (float)(n - i)).ToArray());
        k(gpu.Accelerator.DefaultStream, new KernelConfig(2, 64), a.View, b.View, c.View, 2f);
        gpu.Accelerator.Synchronize();
        var got = a.GetAsArray1D();
        for (int i = 0; i < n; i++) Assert.Equal(i + 2f * (n - i), got[i]);
    }

    [Fact]
    public void PeakKernelsCompileToPtx()
    {
        var all = PtxCompiler.CompileAll(gpu.Context, typeof(GpuPeak), ILGPU.Runtime.Cuda.CudaArchitecture.SM_90);
        Assert.Equal(["GpuPeak.FmaKernel", "GpuPeak.TriadKernel"], all.Select(p => p.Name));
        // The eight chains stay in registers (no local-memory array).
        Assert.DoesNotContain(".local", all[0].Ptx, StringComparison.Ordinal);
    }
}
