using System.Collections.Immutable;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>How a kernel is launched, which decides how ILGPU compiles its entry point.</summary>
public enum KernelGrouping
{
    /// <summary>First parameter is Index1D/2D/3D; loaded with <c>LoadAutoGroupedStreamKernel</c> (or
    /// <c>LoadStreamKernel</c> with an index); ILGPU picks the group size.</summary>
    Implicit,

    /// <summary>No index parameter; loaded with <c>LoadStreamKernel</c> and launched with a <c>KernelConfig</c>
    /// (grid, group); the kernel reads <c>Grid</c>/<c>Group</c> indices itself.</summary>
    Explicit,
}

/// <summary>Marks a static method as an ILGPU kernel so <see cref="PtxCompiler.CompileAll"/> (and
/// <c>pixelcost verify --ptx DIR</c>) can find and compile it.</summary>
/// <example><c>[IlgpuKernel(KernelGrouping.Explicit)] static void TiledGemm(ArrayView&lt;float&gt; a, …)</c></example>
/// <remarks>A generic kernel is compiled for the <see cref="TypeArguments"/> given (one attribute per instantiation to
/// compile); with none, for float in every type parameter.</remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true, Inherited = false)]
public sealed class IlgpuKernelAttribute(KernelGrouping grouping, params Type[] typeArguments) : Attribute
{
    public KernelGrouping Grouping { get; } = grouping;
    public Type[] TypeArguments { get; } = typeArguments;
}

/// <summary>One kernel's PTX: <see cref="Name"/> is "DeclaringType.Method".</summary>
public sealed record PtxKernel(string Name, KernelGrouping Grouping, string Ptx);

/// <summary>
/// Compiles kernels to PTX text with ILGPU's <see cref="PTXBackend"/> on any context, no GPU or driver needed: the
/// backend needs only the target architecture and PTX ISA, which a <c>CudaAccelerator</c> would otherwise take from
/// its device and driver. The PTX is what ILGPU would hand to <c>cuModuleLoadData</c> on such a device.
/// </summary>
/// <remarks>
/// ILGPU's <c>.target</c> is <see cref="CudaCapabilityContext.TargetArchitecture"/>: the lower of the device's
/// architecture and the highest one any of ILGPU's capabilities needs (sm_80 in 1.5.3 for fp16 intrinsics), so SM_90
/// compiles to <c>.target sm_80</c>; the driver JITs it for the real device. Inline PTX (<c>CudaAsm</c>) must therefore
/// use only instructions valid on that target (mma.sync is; Hopper-only wgmma is not).
/// </remarks>
public static class PtxCompiler
{
    /// <summary>ILGPU's PTX ISAs, newest first (<see cref="PTXCodeGenerator.SupportedInstructionSets"/>).</summary>
    public static IImmutableSet<CudaInstructionSet> SupportedInstructionSets => PTXCodeGenerator.SupportedInstructionSets;

    /// <summary>The ISA used when none is given: the oldest one ILGPU supports that knows the target architecture,
    /// so the PTX loads on the oldest driver that can run it.</summary>
    public static CudaInstructionSet DefaultInstructionSet(CudaArchitecture arch)
    {
        var target = new CudaCapabilityContext(arch).TargetArchitecture;
        var needed = CudaDriverVersionUtils.GetMinimumDriverVersion(target);
        return SupportedInstructionSets
            .Where(s => CudaDriverVersionUtils.GetMinimumDriverVersion(s) >= needed)
            .DefaultIfEmpty(SupportedInstructionSets.First())
            .Min();
    }

    /// <summary>The <c>.target</c> ILGPU emits for <paramref name="arch"/>, e.g. "sm_80".</summary>
    public static string TargetOf(CudaArchitecture arch) =>
        new CudaCapabilityContext(arch).TargetArchitecture.ToString().ToLowerInvariant();

    /// <summary>Compiles one kernel method to PTX for <paramref name="arch"/>.</summary>
    /// <param name="ctx">Any ILGPU context (a CPU-only one will do); it sets the optimisation level (O2 from
    /// <see cref="IlgpuContexts"/>).</param>
    /// <param name="specialization">Group-size hints (<c>new KernelSpecialization(maxNumThreadsPerGroup, minNumGroupsPerMultiprocessor)</c>), emitted as .maxntid/.minnctapersm.</param>
    /// <param name="isa">PTX ISA; default <see cref="DefaultInstructionSet"/>.</param>
    public static string Compile(Context ctx, MethodInfo kernel, CudaArchitecture arch, KernelGrouping grouping,
        KernelSpecialization specialization = default, CudaInstructionSet? isa = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(kernel);
        using var backend = CreateBackend(ctx, arch, isa);
        return Compile(backend, kernel, grouping, specialization);
    }

    /// <summary>As above, with the grouping from <see cref="GroupingOf"/>.</summary>
    public static string Compile(Context ctx, MethodInfo kernel, CudaArchitecture arch,
        KernelSpecialization specialization = default, CudaInstructionSet? isa = null) =>
        Compile(ctx, kernel, arch, GroupingOf(kernel), specialization, isa);

    /// <summary>The grouping in the kernel's <see cref="IlgpuKernelAttribute"/>; unmarked kernels are implicitly
    /// grouped when their first parameter is an Index1D/2D/3D and explicitly grouped otherwise.</summary>
    public static KernelGrouping GroupingOf(MethodInfo kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var def = kernel.IsGenericMethod ? kernel.GetGenericMethodDefinition() : kernel;
        if (def.GetCustomAttributes<IlgpuKernelAttribute>().FirstOrDefault() is { } a) return a.Grouping;
        var first = kernel.GetParameters().FirstOrDefault()?.ParameterType;
        // ILGPU's implicitly grouped kernels take Index1D/2D/3D only (EntryPointDescription.FromImplicitlyGroupedKernel).
        return first?.GetIndexType() is IndexType.Index1D or IndexType.Index2D or IndexType.Index3D
            ? KernelGrouping.Implicit
            : KernelGrouping.Explicit;
    }

    /// <summary>Compiles every <see cref="IlgpuKernelAttribute"/> method of <paramref name="type"/> (public or not,
    /// static), in name order, with one backend.</summary>
    public static IReadOnlyList<PtxKernel> CompileAll(Context ctx, Type type, CudaArchitecture arch, CudaInstructionSet? isa = null)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(type);
        var kernels = FindKernels(type);
        if (kernels.Count == 0) return [];
        using var backend = CreateBackend(ctx, arch, isa);
        return kernels
            .Select(k => new PtxKernel(KernelName(k.Method), k.Grouping, Compile(backend, k.Method, k.Grouping, default)))
            .ToList();
    }

    /// <summary>The marked kernels of <paramref name="type"/> (static methods with <see cref="IlgpuKernelAttribute"/>),
    /// generic ones instantiated as their attributes say.</summary>
    public static IReadOnlyList<(MethodInfo Method, KernelGrouping Grouping)> FindKernels(Type type)
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        return type.GetMethods(all)
            .SelectMany(m => m.GetCustomAttributes<IlgpuKernelAttribute>().Select(a => (Method: Instantiate(m, a), a.Grouping)))
            .OrderBy(p => KernelName(p.Method), StringComparer.Ordinal)
            .ToList();
    }

    private static MethodInfo Instantiate(MethodInfo m, IlgpuKernelAttribute a) => !m.IsGenericMethodDefinition ? m
        : m.MakeGenericMethod(a.TypeArguments.Length > 0 ? a.TypeArguments : m.GetGenericArguments().Select(_ => typeof(float)).ToArray());

    /// <summary>Every type of <paramref name="assembly"/> that has at least one marked kernel.</summary>
    public static IReadOnlyList<Type> KernelTypes(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return assembly.GetTypes().Where(t => FindKernels(t).Count > 0).OrderBy(t => t.FullName, StringComparer.Ordinal).ToList();
    }

    /// <summary>For <c>verify --ptx DIR</c>: compiles every marked kernel of <paramref name="assembly"/> and writes
    /// each to <c>DIR/&lt;Type&gt;.&lt;Method&gt;.&lt;target&gt;.ptx</c> (target as <see cref="TargetOf"/>, e.g. sm_80);
    /// returns the paths written, in order.</summary>
    public static IReadOnlyList<string> WriteAll(Context ctx, Assembly assembly, CudaArchitecture arch, string directory,
        CudaInstructionSet? isa = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        string target = TargetOf(arch);
        var written = new List<string>();
        foreach (var type in KernelTypes(assembly))
        {
            foreach (var k in CompileAll(ctx, type, arch, isa))
            {
                string path = Path.Combine(directory, $"{k.Name}.{target}.ptx");
                File.WriteAllText(path, k.Ptx);
                written.Add(path);
            }
        }
        return written;
    }

    public static string KernelName(MethodInfo m) =>
        $"{m.DeclaringType?.Name}.{m.Name}" + (m.IsGenericMethod ? $"<{string.Join(",", m.GetGenericArguments().Select(t => t.Name))}>" : "");

    private static PTXBackend CreateBackend(Context ctx, CudaArchitecture arch, CudaInstructionSet? isa)
    {
        var set = isa ?? DefaultInstructionSet(arch);
        if (!SupportedInstructionSets.Contains(set))
            throw new ArgumentOutOfRangeException(nameof(isa), set, $"ILGPU does not emit PTX ISA {set} (supported: {string.Join(", ", SupportedInstructionSets)})");
        // No NVVM: ILGPU's own PTX generator, as a CudaAccelerator without LibDevice uses.
        return new PTXBackend(ctx, arch, set, null!);
    }

    private static string Compile(PTXBackend backend, MethodInfo kernel, KernelGrouping grouping, KernelSpecialization specialization)
    {
        if (!kernel.IsStatic)
            throw new ArgumentException($"kernel {KernelName(kernel)} must be static", nameof(kernel));
        var entry = grouping == KernelGrouping.Implicit
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        var compiled = backend.Compile(entry, specialization);
        return ((PTXCompiledKernel)compiled).PTXAssembly;
    }
}
