using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Harness.Energy;
using PixelCost.Kernels.Ilgpu;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>One CUDA accelerator (the first device) with profiling on, or the reason there is none.</summary>
public sealed class CudaFixture : IDisposable
{
    public CudaFixture()
    {
        var probe = CudaDevices.Probe();
        if (probe.Reason is not null)
        {
            Reason = probe.Reason;
            return;
        }
        Context = IlgpuContexts.CreateContext();
        var devices = Context.GetCudaDevices();
        if (devices.Count == 0)
        {
            Reason = "ILGPU's Cuda() kept no device: " + string.Join("; ", probe.Devices.Select(d => $"{d.Name}: {d.IlgpuUnusable}"));
            return;
        }
        Accelerator = devices[0].CreateCudaAccelerator(Context);
        Device = probe.Devices[0];
    }

    public string? Reason { get; }
    public Context? Context { get; }
    public CudaAccelerator? Accelerator { get; }
    public CudaDeviceInfo? Device { get; }

    public void Dispose()
    {
        Accelerator?.Dispose();
        Context?.Dispose();
    }
}

/// <summary>GPU-only checks of the ILGPU infrastructure; every test skips (not fails) without a CUDA device.</summary>
public class CudaInfraGpuTests(CudaFixture cuda, ITestOutputHelper log) : IClassFixture<CudaFixture>
{
    private CudaAccelerator Acc
    {
        get
        {
            Skip.If(cuda.Accelerator is null, cuda.Reason);
            return cuda.Accelerator!;
        }
    }

    [SkippableFact]
    public void ProbeDescribesTheDeviceIlgpuUses()
    {
        var acc = Acc;
        var d = cuda.Device!;
        log.WriteLine(d.ToString());
        Assert.Null(d.IlgpuUnusable);
        Assert.Equal(acc.NumMultiprocessors, d.Multiprocessors);
        Assert.Equal(acc.Device.InstructionSet?.ToString(), d.PtxIsa);
        Assert.Equal(PtxCompiler.TargetOf(acc.Architecture), d.PtxTarget);
    }

    [SkippableFact]
    public void FmaKernelOnTheGpuMatchesTheScalarChains()
    {
        var acc = Acc;
        var cfg = new PeakConfig(4, 256, 64, 1 << 20);
        float[] got = GpuPeak.RunFma(acc, cfg);
        // The GPU fuses multiply and add (one rounding instead of two): a few ulps over 256 rounds of a contraction.
        for (int t = 0; t < got.Length; t++)
        {
            float want = GpuPeak.FmaReference(t, cfg.Iterations);
            Assert.True(Math.Abs(got[t] - want) <= 1e-5f * Math.Abs(want), $"thread {t}: {got[t]} vs {want}");
        }
    }

    [SkippableFact]
    public void PeakRatesArePlausible()
    {
        var acc = Acc;
        var d = cuda.Device!;
        var rates = GpuPeak.Measure(acc, TimeSpan.FromSeconds(0.5));
        // 128 fp32 lanes per SM from Ampere (GA10x) to Hopper; GA100 has 64, so this is an upper bound.
        double fp32Bound = d.Multiprocessors * 128 * 2.0 * d.ClockMHz * 1e-3;
        log.WriteLine($"{d.Name}: {rates.Gflops:F0} GFLOP/s fp32 (bound {fp32Bound:F0}), triad {rates.TriadGBps:F0} GB/s (theoretical {d.TheoreticalBandwidthGBps:F0})");
        Assert.InRange(rates.Gflops, 1000, fp32Bound * 1.05);
        Assert.InRange(rates.TriadGBps, 100, d.TheoreticalBandwidthGBps * 1.05);
    }

    [SkippableFact]
    public void InlineMmaRunsOnTensorCores()
    {
        var acc = Acc;
        var k = acc.LoadKernel<ArrayView<uint>, ArrayView<uint>, ArrayView<float>>(PtxTestKernels.MmaTile);
        // Every fp16 element 1.0 (0x3C00, two per 32-bit register): each output is the sum of 16 products 1·1 plus
        // C = 0.5, whatever the fragment layout.
        using var a = acc.Allocate1D(Enumerable.Repeat(0x3C003C00u, 32 * 4).ToArray());
        using var b = acc.Allocate1D(Enumerable.Repeat(0x3C003C00u, 32 * 2).ToArray());
        using var c = acc.Allocate1D(Enumerable.Repeat(0.5f, 32 * 4).ToArray());
        k(acc.DefaultStream, new KernelConfig(1, 32), a.View, b.View, c.View);
        acc.Synchronize();
        Assert.All(c.GetAsArray1D(), v => Assert.Equal(16.5f, v));
    }

    [SkippableFact]
    public void CuBlasGemmsComputeTheRowMajorProduct()
    {
        var acc = Acc;
        Skip.IfNot(CuBlasNative.IsAvailable(out string? why), why);
        using var blas = new CuBlasHandle(acc);
        var stream = (CudaStream)acc.DefaultStream;
        var rng = new Random(3);
        const int m = 37, n = 19, k = 45;
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            // Small integers: exact in fp16, and every partial sum exact in fp32, so both GEMMs must match exactly.
            float[] av = Enumerable.Range(0, m * k).Select(_ => (float)rng.Next(-4, 5)).ToArray();
            float[] bv = Enumerable.Range(0, k * n).Select(_ => (float)rng.Next(-4, 5)).ToArray();
            var want = new float[m * n];
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += (ta ? av[p * m + i] : av[i * k + p]) * (tb ? bv[j * k + p] : bv[p * n + j]);
                want[i * n + j] = s;
            }
            using var a32 = acc.Allocate1D(av);
            using var b32 = acc.Allocate1D(bv);
            using var c32 = acc.Allocate1D<float>(m * n);
            blas.Sgemm(stream, a32.View, b32.View, c32.View, m, n, k, ta, tb);
            acc.Synchronize();
            Assert.Equal(want, c32.GetAsArray1D());

            using var a16 = acc.Allocate1D(av.Select(x => (ILGPU.Half)x).ToArray());
            using var b16 = acc.Allocate1D(bv.Select(x => (ILGPU.Half)x).ToArray());
            using var c16 = acc.Allocate1D<float>(m * n);
            blas.GemmF16(stream, a16.View, b16.View, c16.View, m, n, k, ta, tb);
            acc.Synchronize();
            Assert.Equal(want, c16.GetAsArray1D());
        }
    }

    [SkippableFact]
    public void NvmlMeasuresTheEnergyOfAGpuWindow()
    {
        var acc = Acc;
        using var meter = new NvmlMeter();
        Skip.If(meter.Unavailable is not null, meter.Unavailable);
        var fma = acc.LoadKernel<ArrayView<float>, int, float, float>(GpuPeak.FmaKernel);
        var cfg = PeakConfig.For(acc);
        using var output = acc.Allocate1D<float>((long)cfg.Groups * cfg.GroupSize);
        acc.Synchronize();
        var window = meter.Start();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(1.2))
        {
            fma(acc.DefaultStream, new KernelConfig(cfg.Groups, cfg.GroupSize), output.View, cfg.Iterations, GpuPeak.X, GpuPeak.Y);
            acc.Synchronize();
        }
        var reading = window.Stop();
        double seconds = clock.Elapsed.TotalSeconds;
        log.WriteLine($"{meter.Name} ({meter.Mode}): {reading} over {seconds:F2} s");
        Assert.NotNull(reading.Joules);
        // Between 10 W (idle-ish board) and 1500 W (beyond any single GPU) on average.
        Assert.InRange(reading.Joules!.Value / seconds, 10, 1500);
    }
}
