using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using PixelCost.Kernels.Ilgpu;
using Half = ILGPU.Half;
using G = PixelCost.Kernels.GemmTensorCoreIlgpu;

namespace PixelCost.Kernels;

/// <summary>Sizes of one convolution launch (public: ILGPU's CPU backend builds its launcher in another assembly).</summary>
public struct ConvTcArgs
{
    public int Cin, H, W, Cout, Kh, Kw, Stride, Padding, Ho, Wo, HasBias;
}

/// <summary>
/// Tensor-core conv2d on ILGPU as an implicit GEMM, the semantics of <see cref="Ops.Conv2d"/> (x: [N,Cin,H,W];
/// w: [Cout,Cin,kh,kw]; bias: [Cout] or none; y: [N,Cout,Ho,Wo]).
/// <list type="bullet">
/// <item>v1 "ilgpu.tc-f16": per image, Y[co, p] = Σ_r W[co, r]·X̂[r, p] with r = (ci, ky, kx) (K = Cin·kh·kw) and
/// p = (oy, ox): the GEMM tiles of <see cref="GemmTensorCoreIlgpu"/> (128×128×32 blocks, 8 warps of generated 64×32
/// m16n8 register tiles), W staged like a row-major A, X̂ gathered (im2col) while staging the B tile in fp16, padding
/// taps and tails zero-filled; bias added in the epilogue.</item>
/// </list>
/// Needs sm_80+ on CUDA; the CPU accelerator emulates the mma (see <see cref="Mma"/>).
/// </summary>
internal sealed class Conv2dTensorCoreIlgpu
{
    private readonly int _scratch;
    private readonly Action<AcceleratorStream, KernelConfig, F32Source, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvTcArgs> _f32;
    private readonly Action<AcceleratorStream, KernelConfig, F16Source, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvTcArgs> _f16;

    public Conv2dTensorCoreIlgpu(Accelerator acc)
    {
        _scratch = Mma.ScratchUInts(acc, G.Threads / 32, GemmTcAcc.Slots);
        _f32 = acc.LoadKernel<F32Source, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvTcArgs>(Kernel);
        _f16 = acc.LoadKernel<F16Source, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvTcArgs>(Kernel);
    }

    public static IReadOnlyList<string> Variants { get; } = ["ilgpu.tc-f16"];

    public static bool IsSupported(Accelerator acc) => G.IsSupported(acc);

    public static string VariantName(int variant, Accelerator acc) => Name(variant);

    private static string Name(int variant) => Mma.VariantName(Conv2dSpec.Op, Variants, variant);

    /// <summary>As <see cref="GemmTensorCoreIlgpu.Tolerance"/> with K = Cin·kh·kw (x and w rounded to fp16); the bias is
    /// added in fp32.</summary>
    public static (double Atol, double Rtol) Tolerance(int variant)
    {
        _ = Name(variant);
        return G.Tolerance(0);
    }

    /// <summary>Absolute tolerance for |x| ≤ xMax, |w| ≤ wMax, |bias| ≤ bMax.</summary>
    public static double Atol(int variant, Conv2dDims d, double xMax, double wMax, double bMax = 0)
    {
        _ = Name(variant);
        return G.Atol(0, d.Cin * d.Kh * d.Kw, 1f, xMax, wMax) + (d.HasBias ? bMax * Math.Pow(2, -23) : 0);
    }

    /// <summary>fp32 weights. bias: [Cout] when d.HasBias, otherwise any view, e.g. default (never read: y is passed in
    /// its place, as a null view may not launch). d from Conv2dSpec.Validate.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        Conv2dDims d, int variant)
    {
        _ = Name(variant);
        _f32(stream, Config(d), new F32Source(w), x, d.HasBias ? bias : y, y, Args(d));
    }

    /// <summary>fp16 weights (kept fp16 on the GPU), fp32 activations.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<Half> w, ArrayView<float> bias, ArrayView<float> y,
        Conv2dDims d, int variant)
    {
        _ = Name(variant);
        _f16(stream, Config(d), new F16Source(w), x, d.HasBias ? bias : y, y, Args(d));
    }

    private KernelConfig Config(Conv2dDims d) =>
        new(new Index3D((d.Ho * d.Wo + G.BN - 1) / G.BN, (d.Cout + G.BM - 1) / G.BM, d.N), new Index3D(G.Threads, 1, 1),
            SharedMemoryConfig.RequestDynamic<uint>(_scratch));

    private static ConvTcArgs Args(Conv2dDims d) => new()
    {
        Cin = d.Cin, H = d.H, W = d.W, Cout = d.Cout, Kh = d.Kh, Kw = d.Kw, Stride = d.Stride, Padding = d.Padding,
        Ho = d.Ho, Wo = d.Wo, HasBias = d.HasBias ? 1 : 0,
    };

    // Grid: x = tile of output pixels, y = tile of output channels, z = image. GEMM view: M = Cout, N = Ho·Wo, K = Cin·kh·kw.
    [IlgpuKernel(KernelGrouping.Explicit, typeof(F32Source))]
    private static void Kernel<TW>(TW w, ArrayView<float> x, ArrayView<float> bias, ArrayView<float> y, ConvTcArgs p)
        where TW : struct, IGemmSource
    {
        var sa = SharedMemory.Allocate<uint>(G.TileU);
        var sb = SharedMemory.Allocate<uint>(G.TileU);
        int tid = Group.IdxX, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
        int p0 = Grid.IdxX * G.BN, co0 = Grid.IdxY * G.BM, n = Grid.IdxZ;
        int pixels = p.Ho * p.Wo, taps = p.Kh * p.Kw, kTotal = p.Cin * taps;
        long xOff = (long)n * p.Cin * p.H * p.W, yOff = (long)n * p.Cout * pixels;
        int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
        var scratch = SharedMemory.GetDynamic<uint>();
        var wScratch = CudaAsm.IsSupported ? scratch : scratch.SubView(warp * GemmTcAcc.Slots * 32, GemmTcAcc.Slots * 32);
        int aFrag = (wm + g) * G.S + t, bFrag = (wn + g) * G.S + t;
        var acc = default(GemmTcAcc);
        for (int k0 = 0; k0 < kTotal; k0 += G.BK)
        {
            G.Stage(w, 0, true, co0, p.Cout, k0, kTotal, sa, tid);
            // im2col gather: threads walk output pixels (coalesced along ox for stride 1), each a pair of taps.
            for (int e = tid; e < G.BN * (G.BK / 2); e += G.Threads)
            {
                int r = e & (G.BN - 1), kp = e >> 7;
                int pix = p0 + r, k = k0 + 2 * kp;
                float v0 = 0f, v1 = 0f;
                if (pix < pixels)
                {
                    int oy = pix / p.Wo, ox = pix - oy * p.Wo;
                    v0 = Tap(x, xOff, k, kTotal, taps, oy, ox, p);
                    v1 = Tap(x, xOff, k + 1, kTotal, taps, oy, ox, p);
                }
                sb[r * G.S + kp] = Mma.Pack(v0, v1);
            }
            Group.Barrier();
            acc.Step(sa, aFrag, sb, bFrag, G.S, wScratch);
            acc.Step(sa, aFrag + 8, sb, bFrag + 8, G.S, wScratch);
            Group.Barrier();
        }
        acc.StoreRowBias(y, yOff, co0 + wm + g, p0 + wn + 2 * t, p.Cout, pixels, bias, p.HasBias != 0);
    }

    /// <summary>X̂[k, (oy, ox)] = x[ci, oy·s + ky − pad, ox·s + kx − pad], zero in the padding and for k ≥ K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tap(ArrayView<float> x, long xOff, int k, int kTotal, int taps, int oy, int ox, ConvTcArgs p)
    {
        if (k >= kTotal) return 0f;
        int ci = k / taps, rem = k - ci * taps, ky = rem / p.Kw, kx = rem - ky * p.Kw;
        int iy = oy * p.Stride + ky - p.Padding, ix = ox * p.Stride + kx - p.Padding;
        if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) return 0f;
        return x[xOff + ((long)ci * p.H + iy) * p.W + ix];
    }

    /// <summary>Epilogue of one m16n8 fragment: rows = output channels (+ bias), columns = output pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreFrag(FragC f, ArrayView<float> y, long yOff, int row, int col, int m, int n, ArrayView<float> bias, bool hasBias)
    {
        if (row < m)
        {
            float b = hasBias ? bias[row] : 0f;
            if (col < n) y[yOff + (long)row * n + col] = f.C0 + b;
            if (col + 1 < n) y[yOff + (long)row * n + col + 1] = f.C1 + b;
        }
        if (row + 8 < m)
        {
            float b = hasBias ? bias[row + 8] : 0f;
            if (col < n) y[yOff + (long)(row + 8) * n + col] = f.C2 + b;
            if (col + 1 < n) y[yOff + (long)(row + 8) * n + col + 1] = f.C3 + b;
        }
    }
}
