using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The SIMT kernels compiled by ILGPU's PTX backend for sm_90 without a GPU (CI has none): they compile, keep their
/// register tiles out of local memory (no ld/st.local: a spill or a run-time-indexed array would show there), and the
/// gemm/conv tile loaders get their 16-byte loads (ld.global.v4.f32).
/// </summary>
public class SimtPtxTests
{
    private static string Ptx(PTXBackend backend, Type type, string method)
    {
        var mi = type.GetMethod(method, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new InvalidOperationException($"{type.Name}.{method} not found");
        var kernel = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(mi), KernelSpecialization.Empty);
        return kernel.PTXAssembly;
    }

    [Fact]
    public void KernelsCompileForSm90WithoutLocalMemory()
    {
        using var ctx = IlgpuContexts.CreateContext();
        var arch = CudaArchitecture.SM_90;
        using var backend = new PTXBackend(ctx, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_80, null);
        var kernels = new (Type Type, string Method, bool Vec4)[]
        {
            (typeof(SimtGemmKernels), nameof(SimtGemmKernels.GemmT64), true),
            (typeof(SimtGemmKernels), nameof(SimtGemmKernels.GemmT128), true),
            (typeof(SimtGemmKernels), nameof(SimtGemmKernels.ConvT64), true),
            (typeof(SimtGemmKernels), nameof(SimtGemmKernels.ConvT128), true),
            (typeof(GemmIlgpu), "NaiveKernel", false),
            (typeof(SoftmaxIlgpu), "RowsKernel", false),
            (typeof(AttentionTiledKernels), nameof(AttentionTiledKernels.TiledD64), false),
            (typeof(AttentionTiledKernels), nameof(AttentionTiledKernels.TiledD128), false),
            (typeof(AttentionTiledKernels), nameof(AttentionTiledKernels.TiledD256), false),
            (typeof(AttentionTiledKernels), nameof(AttentionTiledKernels.TiledD512), false),
        };
        foreach (var (type, method, vec4) in kernels)
        {
            string ptx = Ptx(backend, type, method);
            Assert.DoesNotContain("ld.local", ptx);
            Assert.DoesNotContain("st.local", ptx);
            if (vec4) Assert.Contains("ld.global.v4.f32", ptx);
        }
    }
}
