using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>Kernels only for <see cref="PtxCompilerTests"/>.</summary>
internal static class PtxTestKernels
{
    [IlgpuKernel(KernelGrouping.Implicit)]
    public static void Scale(Index1D i, ArrayView<float> x, float s) => x[i] *= s;

    /// <summary>One warp, one m16n8k16 tensor-core tile; the fragments' layout does not matter for compiling.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void MmaTile(ArrayView<uint> a, ArrayView<uint> b, ArrayView<float> c)
    {
        int lane = Warp.LaneIdx;
        if (CudaAsm.IsSupported)
        {
            Input<uint> a0 = a[lane * 4], a1 = a[lane * 4 + 1], a2 = a[lane * 4 + 2], a3 = a[lane * 4 + 3];
            Input<uint> b0 = b[lane * 2], b1 = b[lane * 2 + 1];
            Input<float> c0 = c[lane * 4], c1 = c[lane * 4 + 1], c2 = c[lane * 4 + 2], c3 = c[lane * 4 + 3];
            Output<float> d0 = default, d1 = default, d2 = default, d3 = default;
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};",
                ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref c0, ref c1, ref c2, ref c3);
            c[lane * 4] = d0.Value;
            c[lane * 4 + 1] = d1.Value;
            c[lane * 4 + 2] = d2.Value;
            c[lane * 4 + 3] = d3.Value;
        }
    }

    // Not marked: CompileAll must skip it.
    public static void Unmarked(Index1D i, ArrayView<float> x) => x[i] = 0;
}

public class PtxCompilerTests(IlgpuCpuFixture gpu) : IClassFixture<IlgpuCpuFixture>
{
    public static TheoryData<int, int> Architectures => new() { { 8, 0 }, { 9, 0 } };

    private static CudaArchitecture Arch(int major, int minor) => new(major, minor);

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ImplicitlyGroupedKernelCompilesWithoutAGpu(int major, int minor)
    {
        var arch = Arch(major, minor);
        string ptx = PtxCompiler.Compile(gpu.Context, typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.Scale))!,
            arch, KernelGrouping.Implicit);
        Assert.Contains($".target {PtxCompiler.TargetOf(arch)}", ptx, StringComparison.Ordinal);
        Assert.Contains($".version {PtxCompiler.DefaultInstructionSet(arch)}", ptx, StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains("mul.f32", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void TargetIsTheLowerOfTheDeviceAndIlgpusHighestCapability()
    {
        // ILGPU 1.5.3 needs at most sm_80 (fp16 max/tanh), so Hopper gets sm_80 PTX that the driver JITs up.
        Assert.Equal("sm_80", PtxCompiler.TargetOf(CudaArchitecture.SM_80));
        Assert.Equal("sm_80", PtxCompiler.TargetOf(CudaArchitecture.SM_90));
        Assert.Equal("sm_75", PtxCompiler.TargetOf(CudaArchitecture.SM_75));
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void TensorCoreInlinePtxIsEmittedForCuda(int major, int minor)
    {
        var arch = Arch(major, minor);
        string ptx = PtxCompiler.Compile(gpu.Context, typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.MmaTile))!,
            arch, KernelGrouping.Explicit);
        Assert.Contains($".target {PtxCompiler.TargetOf(arch)}", ptx, StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Contains("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void SpecialisationIsEmittedAsMaxThreadsPerGroup()
    {
        string ptx = PtxCompiler.Compile(gpu.Context, typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.MmaTile))!,
            CudaArchitecture.SM_80, KernelGrouping.Explicit, new KernelSpecialization(128, null));
        Assert.Contains(".maxntid 128", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void CompileAllCompilesExactlyTheMarkedKernels()
    {
        var all = PtxCompiler.CompileAll(gpu.Context, typeof(PtxTestKernels), CudaArchitecture.SM_90);
        Assert.Equal(["PtxTestKernels.MmaTile", "PtxTestKernels.Scale"], all.Select(k => k.Name));
        Assert.Equal([KernelGrouping.Explicit, KernelGrouping.Implicit], all.Select(k => k.Grouping));
        Assert.All(all, k => Assert.Contains(".entry", k.Ptx, StringComparison.Ordinal));
        Assert.Contains(typeof(PtxTestKernels), PtxCompiler.KernelTypes(typeof(PtxTestKernels).Assembly));
    }

    [Fact]
    public void WriteAllDumpsEveryMarkedKernelOfAnAssembly()
    {
        string dir = Directory.CreateTempSubdirectory("pixelcost-ptx-").FullName;
        try
        {
            var paths = PtxCompiler.WriteAll(gpu.Context, typeof(GpuPeak).Assembly, CudaArchitecture.SM_90, dir);
            Assert.Contains(Path.Combine(dir, "GpuPeak.FmaKernel.sm_80.ptx"), paths);
            Assert.Contains(Path.Combine(dir, "GpuPeak.TriadKernel.sm_80.ptx"), paths);
            Assert.All(paths, p => Assert.Contains(".entry", File.ReadAllText(p), StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void GroupingComesFromTheAttributeElseFromTheFirstParameter()
    {
        Assert.Equal(KernelGrouping.Explicit, PtxCompiler.GroupingOf(typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.MmaTile))!));
        Assert.Equal(KernelGrouping.Implicit, PtxCompiler.GroupingOf(typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.Unmarked))!));
        Assert.Equal(KernelGrouping.Explicit, PtxCompiler.GroupingOf(typeof(GpuPeak).GetMethod(nameof(GpuPeak.TriadKernel))!));
        string ptx = PtxCompiler.Compile(gpu.Context, typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.Unmarked))!, CudaArchitecture.SM_80);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsupportedIsaIsRefusedByName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PtxCompiler.Compile(gpu.Context,
            typeof(PtxTestKernels).GetMethod(nameof(PtxTestKernels.Scale))!, CudaArchitecture.SM_80, KernelGrouping.Implicit,
            isa: CudaInstructionSet.ISA_10));
        Assert.Contains("ILGPU does not emit PTX ISA", e.Message, StringComparison.Ordinal);
    }
}
