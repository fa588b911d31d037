using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

// ILGPU builds its kernel launchers in a dynamic assembly named "ILGPURuntime"; they must see the internal parameter
// structs below. (Lead: one such attribute in PixelCost.Kernels.csproj can replace this at merge.)

using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU denoise step (the formula: <see cref="DenoiseCoefficients"/>). A streaming op: each element is read once from
/// every input and written once to every output, so the only goal is full memory bandwidth.
///  v1-simt: one float per thread per iteration, grid-stride loop;
///  v2-f4: four floats per thread per iteration through 16-byte loads/stores (ld.global.v4.f32), grid-stride; used when
///         every view starts on a 16-byte boundary (else the v1 kernel runs), the last n mod 4 elements by the first
///         threads of the grid. (Checked by compiling with ILGPU 1.5.3's PTXBackend for sm_86 without a device: 5
///         ld.global.v4.f32 and 2 st.global.v4.f32 in the main loop, no local memory.)
/// </summary>
internal sealed class DenoiseStepIlgpu
{
    private const int GroupSize = 256;

    /// <summary>16 bytes: ILGPU's PTX backend turns a load/store of this four-float struct into one vector access when
    /// the view is known (AsAligned) to be 16-byte aligned.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct F4
    {
        public float X, Y, Z, W;
    }

    /// <summary>The kernel's scalars; flags are 0/1 ints (uniform branches). Absent views are passed as x, never read.</summary>
    internal struct Params
    {
        public long N;
        public int Guidance, Noise, Hist, Aux;   // Aux: 0 none, 1 copy of m̂, 2 Ax·x + Ae·m̂
        public float G, Cx, Ce, Cn, Ch, Ax, Ae;
    }

    private readonly Accelerator _acc;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, Params> _scalar;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, Params> _vector;

    public DenoiseStepIlgpu(Accelerator acc)
    {
        _acc = acc;
        _scalar = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, Params>(ScalarKernel);
        _vector = acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, Params>(VectorKernel);
    }

    /// <summary>The kernel the last <see cref="Run"/> enqueued (v2 falls back to v1 for unaligned views).</summary>
    public string LastKernel { get; private set; } = "";

    /// <summary>The kernel <see cref="Run"/> will enqueue for these views (v2 needs every view 16-byte aligned; otherwise
    /// v1 runs): what the ledger records.</summary>
    public string KernelName(ArrayView<float> x, ArrayView<float> modelOut, ArrayView<float> noise, ArrayView<float> hist,
        ArrayView<float> y, ArrayView<float> aux, int variant)
    {
        VariantName(variant, _acc);
        long n = x.Length;
        bool guidance = modelOut.Length == 2 * n;
        var cond = guidance ? modelOut.SubView(n, n) : x;
        bool aligned = Aligned(x) && Aligned(modelOut.SubView(0, n)) && Aligned(cond) && Aligned(noise) && Aligned(hist) && Aligned(y) && Aligned(aux);
        return Variants[variant != 1 && aligned ? 1 : 0];
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.v1-simt", "ilgpu.v2-f4"];

    public static string VariantName(int variant, Accelerator acc) => variant switch
    {
        0 => Variants[1],
        1 or 2 => Variants[variant - 1],
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant,
            $"{DenoiseStepSpec.Op}: ILGPU variants are 0 (default), 1 (simt), 2 (f4) on {acc.Name}"),
    };

    /// <summary>
    /// Both variants do the reference's operations in fp32 (the PTX backend may contract a·b + c into an FMA): the result
    /// is a sum of ≤ 4 products (plus guidance), so its error is a few ulp of Σ|terms| — for the tests' inputs
    /// (|values| ≲ 5, |coefficients| ≤ 1.5, guidance ≤ 7.5: Σ|terms| ≲ 140) ≤ 4·2⁻²⁴·140 ≈ 3.3e-5 absolute in the worst
    /// case, typically far less. A missing or wrong term moves results by ≥ 1e-2.
    /// </summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => variant is >= 0 and <= 2
        ? (3e-5, 1e-6)
        : throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{DenoiseStepSpec.Op}: ILGPU variants are 0, 1, 2");

    /// <summary>
    /// Enqueues one step on <paramref name="stream"/>. x, y: [n]; modelOut: [n] or [2n] (uncond, cond); noise, hist,
    /// aux: [n] or an empty view when absent. y/aux may be the same views as x, noise or hist (in place). Arguments
    /// are assumed valid (<see cref="DenoiseStepSpec.Validate"/>).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> modelOut, ArrayView<float> noise,
        ArrayView<float> hist, ArrayView<float> y, ArrayView<float> aux, DenoiseCoefficients c, int variant)
    {
        VariantName(variant, _acc);
        long n = x.Length;
        bool guidance = modelOut.Length == 2 * n;
        var p = new Params
        {
            N = n, Guidance = guidance ? 1 : 0, Noise = noise.Length > 0 ? 1 : 0, Hist = hist.Length > 0 ? 1 : 0,
            Aux = aux.Length == 0 ? 0 : c.AuxKind == DenoiseAux.X0 ? 2 : 1,
            G = c.Guidance, Cx = c.Cx, Ce = c.Ce, Cn = c.Cn, Ch = c.Ch, Ax = c.Ax, Ae = c.Ae,
        };
        var u = modelOut.SubView(0, n);
        var cond = guidance ? modelOut.SubView(n, n) : x;
        var nz = p.Noise != 0 ? noise : x;
        var h = p.Hist != 0 ? hist : x;
        var a = p.Aux != 0 ? aux : y;
        bool aligned = Aligned(x) && Aligned(u) && Aligned(cond) && Aligned(nz) && Aligned(h) && Aligned(y) && Aligned(a);
        bool wide = variant != 1 && aligned;
        long work = wide ? Math.Max(1, n / 4) : n;
        // Small calls get one group of whole warps (no idle warps); large ones enough 256-thread groups to fill the
        // device several times over, the grid-stride loop covering the rest.
        int group = (int)Math.Min(GroupSize, (work + 31) / 32 * 32);
        long maxGroups = Math.Max(1, (long)_acc.NumMultiprocessors * Math.Max(1, _acc.MaxNumThreadsPerMultiprocessor / GroupSize) * 4);
        int groups = (int)Math.Clamp((work + group - 1) / group, 1, maxGroups);
        var config = new KernelConfig(groups, group);
        LastKernel = Variants[wide ? 1 : 0];
        if (wide) _vector(stream, config, x, u, cond, nz, h, y, a, p);
        else _scalar(stream, config, x, u, cond, nz, h, y, a, p);
    }

    private static bool Aligned(ArrayView<float> v) => v.Length == 0 || v.LoadEffectiveAddressAsPtr().ToInt64() % 16 == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Guided(float u, float cond, Params p) => p.Guidance != 0 ? u + p.G * (cond - u) : u;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Next(float xv, float m, float nz, float h, Params p)
    {
        float acc = p.Cx * xv + p.Ce * m;
        if (p.Noise != 0) acc += p.Cn * nz;
        if (p.Hist != 0) acc += p.Ch * h;
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float AuxOf(float xv, float m, Params p) => p.Aux == 2 ? p.Ax * xv + p.Ae * m : m;

    /// <summary>One element per thread per iteration; reads of absent inputs are skipped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void One(long i, ArrayView<float> x, ArrayView<float> u, ArrayView<float> cond, ArrayView<float> noise,
        ArrayView<float> hist, ArrayView<float> y, ArrayView<float> aux, Params p)
    {
        float c = p.Guidance != 0 ? cond[i] : 0f;
        float nz = p.Noise != 0 ? noise[i] : 0f;
        float h = p.Hist != 0 ? hist[i] : 0f;
        float xv = x[i], m = Guided(u[i], c, p);
        float r = Next(xv, m, nz, h, p);
        if (p.Aux != 0) aux[i] = AuxOf(xv, m, p);
        y[i] = r;
    }

    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void ScalarKernel(ArrayView<float> x, ArrayView<float> u, ArrayView<float> cond, ArrayView<float> noise,
        ArrayView<float> hist, ArrayView<float> y, ArrayView<float> aux, Params p)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < p.N; i += stride) One(i, x, u, cond, noise, hist, y, aux, p);
    }

    [IlgpuKernel(KernelGrouping.Explicit)]
    private static void VectorKernel(ArrayView<float> x, ArrayView<float> u, ArrayView<float> cond, ArrayView<float> noise,
        ArrayView<float> hist, ArrayView<float> y, ArrayView<float> aux, Params p)
    {
        long quads = p.N / 4, stride = (long)Grid.DimX * Group.DimX;
        long first = Grid.GlobalIndex.X;
        var x4 = x.SubView(0, quads * 4).Cast<F4>().AsAligned(16);
        var u4 = u.SubView(0, quads * 4).Cast<F4>().AsAligned(16);
        var y4 = y.SubView(0, quads * 4).Cast<F4>().AsAligned(16);
        var c4 = p.Guidance != 0 ? cond.SubView(0, quads * 4).Cast<F4>().AsAligned(16) : x4;
        var n4 = p.Noise != 0 ? noise.SubView(0, quads * 4).Cast<F4>().AsAligned(16) : x4;
        var h4 = p.Hist != 0 ? hist.SubView(0, quads * 4).Cast<F4>().AsAligned(16) : x4;
        var a4 = p.Aux != 0 ? aux.SubView(0, quads * 4).Cast<F4>().AsAligned(16) : y4;
        for (long q = first; q < quads; q += stride)
        {
            F4 xv = x4[q], uv = u4[q];
            F4 cv = p.Guidance != 0 ? c4[q] : default;
            F4 nv = p.Noise != 0 ? n4[q] : default;
            F4 hv = p.Hist != 0 ? h4[q] : default;
            F4 m, r;
            m.X = Guided(uv.X, cv.X, p); m.Y = Guided(uv.Y, cv.Y, p); m.Z = Guided(uv.Z, cv.Z, p); m.W = Guided(uv.W, cv.W, p);
            r.X = Next(xv.X, m.X, nv.X, hv.X, p); r.Y = Next(xv.Y, m.Y, nv.Y, hv.Y, p);
            r.Z = Next(xv.Z, m.Z, nv.Z, hv.Z, p); r.W = Next(xv.W, m.W, nv.W, hv.W, p);
            if (p.Aux != 0)
            {
                F4 av;
                av.X = AuxOf(xv.X, m.X, p); av.Y = AuxOf(xv.Y, m.Y, p); av.Z = AuxOf(xv.Z, m.Z, p); av.W = AuxOf(xv.W, m.W, p);
                a4[q] = av;
            }
            y4[q] = r;
        }
        // The n mod 4 trailing elements: one each for the grid's first threads.
        long tail = quads * 4 + first;
        if (tail < p.N) One(tail, x, u, cond, noise, hist, y, aux, p);
    }
}
