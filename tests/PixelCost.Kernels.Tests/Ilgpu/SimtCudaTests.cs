using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests.Ilgpu;

/// <summary>
/// The SIMT kernels on a CUDA device (skipped without one, DESIGN §7.6) vs the fp64 references, at sizes past every
/// tile and with the real hardware's warps, shared memory and 16-byte loads. Tolerances as the CPU-accelerator tests.
/// </summary>
public sealed class SimtCudaTests : IDisposable
{
    private readonly Context _ctx = IlgpuContexts.CreateContext();
    private readonly Accelerator? _acc;

    public SimtCudaTests()
    {
        var dev = _ctx.Devices.FirstOrDefault(d => d.AcceleratorType == AcceleratorType.Cuda);
        if (dev is not null) _acc = dev.CreateAccelerator(_ctx);
    }

    public void Dispose()
    {
        _acc?.Dispose();
        _ctx.Dispose();
    }

    private static float[] U(long n, int seed, float scale = 1f) => TestData.Uniform(n, seed).Select(v => v * scale).ToArray();

    [SkippableFact]
    public void AllOpsMatchReferenceOnCuda()
    {
        Skip.If(_acc is null, "no CUDA device");
        var acc = _acc!;
        var s = acc.DefaultStream;
        var gemm = new GemmIlgpu(acc);
        var sm = new SoftmaxIlgpu(acc);
        var lin = new LinearIlgpu(gemm);
        var conv = new Conv2dIlgpu(acc, gemm);
        using var att = new AttentionIlgpu(acc, gemm, sm);

        foreach (int v in new[] { 1, 2, 3 })
            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                int B = 2, M = 133, N = 270, K = 145;
                int[] aS = ta ? [B, K, M] : [B, M, K], bS = tb ? [N, K] : [K, N], cS = [B, M, N];
                var d = GemmSpec.Validate(aS, bS, cS, ta, tb);
                var av = U(B * M * K, 1); var bv = U(N * K, 2); var cv = U(B * M * N, 3);
                using var a = acc.Allocate1D(av); using var b = acc.Allocate1D(bv); using var c = acc.Allocate1D(cv);
                gemm.Run(s, a.View, b.View, c.View, d, ta, tb, 0.5f, 2f, v);
                acc.Synchronize();
                var e = TestData.D(cv);
                GemmReference.Gemm<F64>(TestData.D(av), TestData.D(bv), e, d, ta, tb, 0.5f, 2f);
                Close.All(TestData.F(e), c.GetAsArray1D(), TestData.DotAtol(K, 0.5) + 2 * 0.5 * Math.Pow(2, -23), 0, cS,
                    $"cuda gemm v{v} tA{ta} tB{tb}");
            }
        foreach (int v in new[] { 1, 2, 3 })
        {
            var ld = new LinearDims(300, 320, 644, true);
            var xv = U(300 * 320, 4); var wv = U(644 * 320, 5); var bv = U(644, 6);
            using var x = acc.Allocate1D(xv); using var w = acc.Allocate1D(wv); using var bb = acc.Allocate1D(bv);
            using var y = acc.Allocate1D<float>(300 * 644);
            lin.Run(s, x.View, w.View, bb.View, y.View, ld, v);
            acc.Synchronize();
            var e = new F64[300 * 644];
            LinearReference.Linear<F64>(TestData.D(xv), TestData.D(wv), TestData.D(bv), e, ld);
            Close.All(TestData.F(e), y.GetAsArray1D(), TestData.DotAtol(320), 0, new[] { 300, 644 }, $"cuda linear v{v}");
        }
        foreach (int v in new[] { 1, 2 })
            foreach (var (k, st, pd) in new[] { (3, 1, 1), (3, 2, 1), (1, 1, 0), (1, 2, 0) })
            {
                int n = 2, cin = 24, h = 33, wd = 31, cout = 70;
                int ho = (h + 2 * pd - k) / st + 1, wo = (wd + 2 * pd - k) / st + 1;
                var cd = Conv2dSpec.Validate([n, cin, h, wd], [cout, cin, k, k], [cout], true, [n, cout, ho, wo], st, pd);
                var xv = U(n * cin * h * wd, 7); var wv = U(cout * cin * k * k, 8); var bv = U(cout, 9);
                using var x = acc.Allocate1D(xv); using var w = acc.Allocate1D(wv); using var bb = acc.Allocate1D(bv);
                using var y = acc.Allocate1D<float>(n * cout * ho * wo);
                conv.Run(s, x.View, w.View, bb.View, y.View, cd, v);
                acc.Synchronize();
                var e = new F64[n * cout * ho * wo];
                Conv2dReference.Conv2d<F64>(TestData.D(xv), TestData.D(wv), TestData.D(bv), e, cd);
                Close.All(TestData.F(e), y.GetAsArray1D(), TestData.DotAtol(cin * k * k), 0, new[] { n, cout, ho, wo },
                    $"cuda conv v{v} k{k} s{st} p{pd}");
            }
        {
            int rows = 1000, dd = 1000;
            var xv = U(rows * dd, 10, 20f);
            using var x = acc.Allocate1D(xv);
            sm.Run(s, x.View, x.View, rows, dd, 0);
            acc.Synchronize();
            var e = new F64[rows * dd];
            SoftmaxReference.Run<F64>(TestData.D(xv), e, rows, dd);
            var (at, rt) = SoftmaxIlgpu.Tolerance(1);
            Close.All(TestData.F(e), x.GetAsArray1D(), at, rt, new[] { rows, dd }, "cuda softmax in place");
        }
        foreach (int v in new[] { 1, 2 })
            foreach (var (b, lq, lk, h, d, causal) in new[] { (2, 256, 77, 8, 40, false), (1, 200, 200, 5, 64, true), (1, 130, 130, 2, 80, false), (1, 100, 150, 2, 160, false), (1, 64, 64, 1, 512, false) })
            {
                int c = h * d;
                var qv = U(b * lq * c, 11, 2f); var kv = U(b * lk * c, 12, 2f); var vv = U(b * lk * c, 13, 2f);
                using var q = acc.Allocate1D(qv); using var k = acc.Allocate1D(kv); using var vb = acc.Allocate1D(vv);
                using var o = acc.Allocate1D<float>(qv.Length);
                float sc = 1f / MathF.Sqrt(d);
                att.Run(s, q.View, k.View, vb.View, o.View, b, lq, lk, h, d, sc, causal, v);
                acc.Synchronize();
                var e = new F64[qv.Length];
                AttentionReference.Run<F64>(TestData.D(qv), TestData.D(kv), TestData.D(vv), e, b, lq, lk, h, d, new F64(sc), causal);
                var (at, rt) = AttentionIlgpu.Tolerance(v);
                Close.All(TestData.F(e), o.GetAsArray1D(), at, rt, new[] { b, lq, c }, $"cuda attention v{v} lq{lq} lk{lk} h{h} d{d} causal {causal}");
            }
    }
}
