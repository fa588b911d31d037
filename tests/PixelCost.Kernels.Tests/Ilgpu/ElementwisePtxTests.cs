using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Pixels;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The SIMT elementwise/norm kernels compiled by ILGPU's PTX backend for sm_90 — no GPU needed — so CI catches a
/// kernel that runs on the CPU device but does not compile for CUDA, and checks the PTX facts the tolerances rely on.
/// </summary>
public class ElementwisePtxTests
{
    private static readonly Type[] Classes =
        [typeof(NoiseIlgpu), typeof(GroupNormIlgpu), typeof(LayerNormIlgpu), typeof(ActivationsIlgpu), typeof(GlueIlgpu), typeof(PixelsIlgpu)];

    /// <summary>Every kernel of the six classes (static methods named *Kernel), as PTX.</summary>
    private static Dictionary<string, string> CompileAll()
    {
        using var ctx = IlgpuContexts.CreateCpuContext();
        using var backend = new PTXBackend(ctx, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90,
            CudaInstructionSet.ISA_80, null);
        var ptx = new Dictionary<string, string>();
        foreach (var t in Classes)
            foreach (var m in t.GetMethods(BindingFlags.NonPublic | BindingFlags.Static).Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal)))
            {
                var entry = EntryPointDescription.FromExplicitlyGroupedKernel(m);
                var compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                ptx[$"{t.Name}.{m.Name}"] = compiled.PTXAssembly;
            }
        return ptx;
    }

    [Fact]
    public void EveryKernelCompilesForSm90WithoutApproximateInstructions()
    {
        var ptx = CompileAll();
        Assert.Equal(19, ptx.Count);
        foreach (var (name, code) in ptx)
        {
            Assert.Contains(".entry", code);
            // The stated tolerances assume IEEE sqrt/div/rcp and our own exp/log/sin/cos: no .approx instruction.
            Assert.False(code.Contains(".approx", StringComparison.Ordinal), $"{name} uses an approximate instruction");
        }
        Assert.Contains("shfl.sync.bfly", ptx["GroupNormIlgpu.Kernel"]);
        Assert.Contains("bar.sync", ptx["GroupNormIlgpu.Kernel"]);
        Assert.Contains("shfl.sync.bfly", ptx["LayerNormIlgpu.Kernel"]);
        Assert.DoesNotContain("bar.sync", ptx["LayerNormIlgpu.Kernel"]);
        Assert.Contains("st.global.b8", ptx["PixelsIlgpu.QuantizeKernel"]);
        // v2-vec4: one 16-byte load and store per four elements.
        Assert.Contains("ld.global.v4.f32", ptx["ActivationsIlgpu.UnaryVec4Kernel"]);
        Assert.Contains("st.global.v4.f32", ptx["ActivationsIlgpu.UnaryVec4Kernel"]);
    }
}
