using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The ILGPU denoise step on ILGPU's CPU accelerator against the float64 reference (<see cref="DenoiseStepReference"/>),
/// every option combination, sizes 1..9 (only a tail for v2), 31, 33, 36, 100, 1027 and 70 000 (more than one grid of
/// threads: the grid-stride loop wraps), views 16-byte aligned and not (v2 then runs the v1 loop), and in place.
/// </summary>
public class DenoiseStepIlgpuTests : IClassFixture<IlgpuCpuFixture>
{
    private readonly IlgpuCpuFixture _f;
    private readonly DenoiseStepIlgpu _k;

    public DenoiseStepIlgpuTests(IlgpuCpuFixture f)
    {
        _f = f;
        _k = new DenoiseStepIlgpu(f.Accelerator);
    }

    private static readonly int[] Sizes = [1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 100, 1027];

    /// <summary>Uploads data at float offset <paramref name="offset"/> of a fresh buffer (offset 1: not 16-byte aligned).</summary>
    private (MemoryBuffer1D<float, Stride1D.Dense> Buffer, ArrayView<float> View) At(float[] data, int offset)
    {
        var buf = _f.Accelerator.Allocate1D<float>(data.Length + offset + 1);
        var view = buf.View.SubView(offset, data.Length);
        view.CopyFromCPU(data);
        return (buf, view);
    }

    private static float[] Host(ArrayView<float> v)
    {
        var a = new float[v.Length];
        v.CopyToCPU(a);
        return a;
    }

    private void Check(int n, DenoiseOptions o, int variant, int offset, bool inPlace)
    {
        var k = new DenoiseCase(n, o, n * 3 + variant);
        var (want, wantAux) = k.Reference();
        var x = At(k.X, offset); var m = At(k.M, offset);
        var nz = o.Noise ? At(k.Noise, offset) : default; var h = o.Hist ? At(k.Hist, offset) : default;
        var y = inPlace ? x : At(new float[n], offset);
        var aux = o.Aux == null ? default : inPlace && o.Hist ? h : At(new float[n], offset);
        try
        {
            var stream = _f.Accelerator.DefaultStream;
            _k.Run(stream, x.View, m.View, nz.View, h.View, y.View, aux.View, o.Coefficients, variant);
            stream.Synchronize();
            // 16-byte loads exactly when asked for and every view is aligned: fresh buffers are, offset 1 is not, nor is
            // the cond half of a [2, n] model output when n is not a multiple of 4 (latents always are: C = 4).
            bool aligned = offset == 0 && (!o.Guidance || n % 4 == 0);
            Assert.Equal(variant != 1 && aligned ? "ilgpu.v2-f4" : "ilgpu.v1-simt", _k.LastKernel);
            var (atol, rtol) = DenoiseStepIlgpu.Tolerance(variant);
            string what = $"{DenoiseStepIlgpu.VariantName(variant, _f.Accelerator)} n={n} {o} offset={offset}{(inPlace ? " in place" : "")}";
            Close.All(want, Host(y.View), atol, rtol, new[] { 1, n }, what + " out");
            if (o.Aux != null) Close.All(wantAux, Host(aux.View), atol, rtol, new[] { 1, n }, what + " aux");
        }
        finally
        {
            foreach (var b in new[] { x.Buffer, m.Buffer, nz.Buffer, h.Buffer, y.Buffer, aux.Buffer }.Distinct()) b?.Dispose();
        }
    }

    /// <summary>
    /// Every option combination at sizes 1 (v2: tail only), 6 (one quad + tail), 36 (quads only); every size for the
    /// fullest and the barest combination. (Variant 0 is v2: see <see cref="VariantNamesAndErrors"/>.) The simulated
    /// accelerator costs ~50 ms a launch, hence not the full product.
    /// </summary>
    [Theory, InlineData(1), InlineData(2)]
    public void MatchesReferenceForEveryOptionAndSize(int variant)
    {
        foreach (var o in DenoiseOptions.All())
            foreach (int n in new[] { 1, 6, 36 })
                Check(n, o, variant, offset: 0, inPlace: false);
        foreach (var o in new[] { new DenoiseOptions(true, true, true, DenoiseAux.X0), new DenoiseOptions(false, false, false, null) })
            foreach (int n in Sizes)
                Check(n, o, variant, offset: 0, inPlace: false);
    }

    [Fact]
    public void UnalignedViewsInPlaceAndLongGrids()
    {
        var full = new DenoiseOptions(true, true, true, DenoiseAux.X0);
        foreach (var o in new[] { full, new DenoiseOptions(false, false, true, DenoiseAux.Guided), new DenoiseOptions(true, true, false, null) })
            foreach (int variant in new[] { 1, 2 })
            {
                foreach (int n in new[] { 5, 100 }) { Check(n, o, variant, offset: 1, inPlace: false); Check(n, o, variant, 0, inPlace: true); }
                Check(70_000, o, variant, offset: 0, inPlace: false);
            }
    }

    [Fact]
    public void VariantNamesAndErrors()
    {
        Assert.Equal("ilgpu.v2-f4", DenoiseStepIlgpu.VariantName(0, _f.Accelerator));
        Assert.Equal(["ilgpu.v1-simt", "ilgpu.v2-f4"], DenoiseStepIlgpu.Variants);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DenoiseStepIlgpu.VariantName(3, _f.Accelerator));
        Assert.Contains("denoise_step", e.Message);
    }

    /// <summary>
    /// The same kernels on a CUDA device when ILGPU finds one (skipped otherwise): both variants, a latent-sized case
    /// with guidance and every extra term, a tail, and a grid that must stride (4M elements). Same tolerance: the fp32
    /// operations are the same up to FMA contraction, which the bound already allows.
    /// </summary>
    [SkippableFact]
    public void CudaMatchesReference()
    {
        using var ctx = IlgpuContexts.CreateContext();
        Skip.If(ctx.GetCudaDevices().Count == 0, "no CUDA device visible to ILGPU");
        using var acc = ctx.GetCudaDevice(0).CreateAccelerator(ctx);
        var k = new DenoiseStepIlgpu(acc);
        var full = new DenoiseOptions(true, true, true, DenoiseAux.X0);
        foreach (var (n, o) in new[] { (2 * 4 * 64 * 64, full), (4 * 128 * 128 + 3, full), (1 << 22, full), (1000, new DenoiseOptions(false, false, false, DenoiseAux.Guided)) })
            foreach (int variant in new[] { 1, 2 })
            {
                var c = new DenoiseCase(n, o, n + variant);
                var (want, wantAux) = c.Reference();
                using var x = acc.Allocate1D(c.X); using var m = acc.Allocate1D(c.M);
                using var nz = acc.Allocate1D(o.Noise ? c.Noise : [0f]); using var h = acc.Allocate1D(o.Hist ? c.Hist : [0f]);
                using var y = acc.Allocate1D<float>(n); using var aux = acc.Allocate1D<float>(n);
                k.Run(acc.DefaultStream, x.View, m.View, o.Noise ? nz.View : default, o.Hist ? h.View : default, y.View,
                    o.Aux != null ? aux.View : default, o.Coefficients, variant);
                acc.Synchronize();
                var (atol, rtol) = DenoiseStepIlgpu.Tolerance(variant);
                string what = $"cuda {k.LastKernel} n={n} {o}";
                Close.All(want, Host(y.View), atol, rtol, null, what + " out");
                if (o.Aux != null) Close.All(wantAux, Host(aux.View), atol, rtol, null, what + " aux");
            }
    }
}
