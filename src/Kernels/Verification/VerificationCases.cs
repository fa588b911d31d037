using PixelCost.Kernels.Noise;
using PixelCost.Kernels.Pixels;
using PixelCost.Kernels.Reference;
using static PixelCost.Kernels.Verification.Verifier;

namespace PixelCost.Kernels.Verification;

/// <summary>
/// The registry: every op family with a sweep of small shapes — odd sizes, lengths around vector widths and tiles
/// (1, 7, 33, 100), transposes, batches, alpha/beta, strides and padding, self/cross/causal attention. Inputs come from
/// a fixed-seed generator (<see cref="Data"/>), uniform in [−0.5, 0.5) unless noted, so every run sees the same
/// numbers. Shapes stay small: each case must also run on ILGPU's (slow, simulated) CPU accelerator.
/// </summary>
public static class VerificationCases
{
    public static IReadOnlyList<VerifyCase> All { get; } = Build();

    private static int s_seed;

    /// <summary>Uniform values in [lo, hi) from a 32-bit LCG (Numerical Recipes' constants) keyed by a running seed:
    /// deterministic across runs and machines (no System.Random, whose algorithm is not specified).</summary>
    public static float[] Data(long count, float lo = -0.5f, float hi = 0.5f)
    {
        uint s = (uint)(++s_seed * 0x9E3779B9u) | 1;
        var r = new float[count];
        for (long i = 0; i < count; i++)
        {
            s = s * 1664525u + 1013904223u;
            r[i] = lo + (s >> 8) * (1f / (1 << 24)) * (hi - lo);
        }
        return r;
    }

    private static long N(int[] shape) => Tensor.ElementCount(shape);

    private static List<VerifyCase> Build()
    {
        s_seed = 0;
        var l = new List<VerifyCase>();
        Noise(l);
        PixelMaps(l);
        Gemm(l);
        Linear(l);
        Conv2d(l);
        Norms(l);
        Softmax(l);
        Attention(l);
        Activations(l);
        Glue(l);
        Copy(l);
        Embedding(l);
        return l;
    }

    // ---- noise and pixel maps: outputs are floats from (seed, index); the reference's float outputs are the definition ----

    private static void Noise(List<VerifyCase> l)
    {
        foreach (int n in new[] { 1, 7, 33, 100, 1000 })
        {
            ulong seed = 0x1234_5678_9abc_def0ul + (ulong)n, stream = (ulong)n % 3;
            l.Add(new VerifyCase
            {
                Op = NoiseSpec.UniformOp, Label = $"[{n}] stream {stream}", Inputs = [], OutputShape = [n],
                Launch = (acc, _, y, v) => Ops.FillUniform(acc, y, seed, stream, v),
                // (x >> 8)·2⁻²⁴ is exact in float: the reference's floats are the definition.
                Reference = () => { var y = new float[n]; NoiseReference.Uniform<F32>(y, seed, stream); return Out(y); },
                Count = () => { var y = new float[n]; using var s = Counted.Begin(); NoiseReference.Uniform<Counted>(y, seed, stream); return s.Counts; },
                SpecCost = NoiseSpec.UniformCost(n),
                Tolerance = _ => Tolerances.Exact(NoiseSpec.UniformOp),
            });
        }
        foreach (var (n, mean, std) in new[] { (1, 0f, 1f), (7, 0f, 1f), (33, 0.5f, 2f), (100, 0f, 1f), (1001, -1f, 0.5f) })
        {
            ulong seed = 99 + (ulong)n;
            l.Add(new VerifyCase
            {
                Op = NoiseSpec.GaussianOp, Label = $"[{n}] mean {mean} std {std}", Inputs = [], OutputShape = [n],
                Launch = (acc, _, y, v) => Ops.FillGaussian(acc, y, seed, mean, std, 1, v),
                Reference = () => { var y = new float[n]; NoiseReference.Gaussian<F64>(y, seed, mean, std, 1); return Out(y); },
                Count = () => { var y = new float[n]; using var s = Counted.Begin(); NoiseReference.Gaussian<Counted>(y, seed, mean, std, 1); return s.Counts; },
                SpecCost = NoiseSpec.GaussianCost(n),
                Tolerance = v => Tolerances.Gaussian(v, std),
            });
        }
    }

    private static void PixelMaps(List<VerifyCase> l)
    {
        foreach (var (h, w) in new[] { (1, 1), (7, 5), (33, 10) })
        {
            l.Add(new VerifyCase
            {
                Op = PixelsSpec.NoiseOp, Label = $"{h}x{w}", Inputs = [], OutputShape = [h, w, 3],
                Launch = (acc, _, y, v) => Ops.PixelsNoise(acc, y, 42, v),
                Reference = () => { var y = new float[h * w * 3]; PixelsReference.Noise<F32>(y, 42); return Out(y); },
                Count = () => { var y = new float[h * w * 3]; using var s = Counted.Begin(); PixelsReference.Noise<Counted>(y, 42); return s.Counts; },
                SpecCost = PixelsSpec.NoiseCost(h, w),
                Tolerance = _ => Tolerances.Exact(PixelsSpec.NoiseOp),
            });
        }
        foreach (var (h, w, scale) in new[] { (1, 1, 1), (7, 9, 4), (33, 20, 16) })
        {
            l.Add(new VerifyCase
            {
                Op = PixelsSpec.SmoothNoiseOp, Label = $"{h}x{w} scale {scale}", HasVariants = false, Inputs = [], OutputShape = [h, w, 3],
                Launch = (acc, _, y, _) => Ops.PixelsSmoothNoise(acc, y, 9, scale),
                // The float reference (F32) is the definition the kernels reproduce bit for bit (PixelsTests).
                Reference = () => { var y = new float[h * w * 3]; PixelsReference.SmoothNoise<F32>(y, h, w, 9, scale); return Out(y); },
                Count = () => { var y = new float[h * w * 3]; using var s = Counted.Begin(); PixelsReference.SmoothNoise<Counted>(y, h, w, 9, scale); return s.Counts; },
                SpecCost = PixelsSpec.SmoothNoiseCost(h, w, scale),
                Tolerance = _ => Tolerances.SmoothNoise(),
            });
        }
        foreach (var (h, w) in new[] { (1, 1), (7, 33), (20, 9) })
        {
            l.Add(new VerifyCase
            {
                Op = PixelsSpec.GradientOp, Label = $"{h}x{w}", HasVariants = false, Inputs = [], OutputShape = [h, w, 3],
                Launch = (acc, _, y, _) => Ops.PixelsGradient(acc, y),
                Reference = () => { var y = new float[h * w * 3]; PixelsReference.Gradient<F32>(y, h, w); return Out(y); },
                Count = () => { var y = new float[h * w * 3]; using var s = Counted.Begin(); PixelsReference.Gradient<Counted>(y, h, w); return s.Counts; },
                SpecCost = PixelsSpec.GradientCost(h, w),
                Tolerance = _ => Tolerances.Exact(PixelsSpec.GradientOp),
            });
        }
        foreach (var (h, w, cell) in new[] { (1, 1, 1), (7, 9, 2), (33, 17, 5) })
        {
            l.Add(new VerifyCase
            {
                Op = PixelsSpec.CheckerboardOp, Label = $"{h}x{w} cell {cell}", HasVariants = false, Inputs = [], OutputShape = [h, w, 3],
                Launch = (acc, _, y, _) => Ops.PixelsCheckerboard(acc, y, cell),
                Reference = () => { var y = new float[h * w * 3]; PixelsReference.Checkerboard<F32>(y, h, w, cell); return Out(y); },
                Count = () => { var y = new float[h * w * 3]; using var s = Counted.Begin(); PixelsReference.Checkerboard<Counted>(y, h, w, cell); return s.Counts; },
                SpecCost = PixelsSpec.CheckerboardCost(h, w),
                Tolerance = _ => Tolerances.Exact(PixelsSpec.CheckerboardOp),
            });
        }
        foreach (int n in new[] { 1, 7, 33, 100 })
        {
            // Values below 0, above 1, and exactly on the rounding boundaries (k + ½)/255.
            var x = Data(n, -0.25f, 1.25f);
            for (int i = 0; i < n; i += 3) x[i] = (i % 255 + 0.5f) / 255f;
            l.Add(new VerifyCase
            {
                Op = PixelsSpec.QuantizeOp, Label = $"[{n}]", HasVariants = false, Inputs = [new("src", [n], x)], OutputShape = [n], OutputType = DType.U8,
                Launch = (acc, i, y, _) => Ops.QuantizeU8(acc, i[0], y),
                Reference = () => { var y = new byte[n]; PixelsReference.Quantize<F32>(x, y); return Out(y); },
                Count = () => { var y = new byte[n]; using var s = Counted.Begin(); PixelsReference.Quantize<Counted>(x, y); return s.Counts; },
                SpecCost = PixelsSpec.QuantizeCost(n),
                Tolerance = _ => Tolerances.Exact(PixelsSpec.QuantizeOp),
            });
        }
    }

    // ---- matmul family ----

    private static void Gemm(List<VerifyCase> l)
    {
        // (batch, aBatched, bBatched, M, N, K, transA, transB, alpha, beta): M, N, K from {1, 7, 33, 70}. No case has
        // all three at 70: on ILGPU's CPU accelerator a 16×16-tiled kernel pays ~15 ms per group per barrier (measured:
        // 3.7 s for one 70³ GEMM on 2 cores), so each case stays at ≲ 50 group × K-tile steps.
        var shapes = new (int B, bool AB, bool BB, int M, int N, int K, bool TA, bool TB, float Alpha, float Beta)[]
        {
            (1, false, false, 1, 1, 1, false, false, 1f, 0f),
            (1, false, false, 7, 33, 70, false, false, 1f, 0f),
            (1, false, false, 70, 7, 33, true, false, 1f, 0f),
            (1, false, false, 33, 70, 7, false, true, 1f, 0f),
            (1, false, false, 33, 33, 33, true, true, 1f, 0f),
            (1, false, false, 1, 70, 33, false, false, 0.5f, 0f),
            (1, false, false, 70, 1, 7, false, true, 1f, 1f),
            (1, false, false, 70, 70, 7, false, false, -2f, 0.75f),
            (1, false, false, 7, 7, 1, true, true, 1f, -1f),
            (3, true, true, 7, 33, 7, false, false, 1f, 0f),
            (3, false, true, 33, 7, 33, false, true, 1f, 0f),
            (2, true, false, 1, 7, 33, true, false, 1.5f, 0.5f),
        };
        foreach (var s in shapes)
        {
            int[] aS = s.TA ? [s.K, s.M] : [s.M, s.K], bS = s.TB ? [s.N, s.K] : [s.K, s.N];
            if (s.AB) aS = [s.B, .. aS];
            if (s.BB) bS = [s.B, .. bS];
            int[] cS = s.B > 1 ? [s.B, s.M, s.N] : [s.M, s.N];
            var a = Data(N(aS)); var b = Data(N(bS));
            float[]? c0 = s.Beta != 0 ? Data(N(cS)) : null;
            var d = GemmSpec.Validate(aS, bS, cS, s.TA, s.TB);
            string label = $"{(s.B > 1 ? $"b{s.B}{(s.AB ? "" : " A bcast")}{(s.BB ? "" : " B bcast")} " : "")}M{s.M} N{s.N} K{s.K}{(s.TA ? " Aᵀ" : "")}{(s.TB ? " Bᵀ" : "")}" +
                (s.Alpha != 1 || s.Beta != 0 ? $" α{s.Alpha} β{s.Beta}" : "");
            l.Add(new VerifyCase
            {
                Op = GemmSpec.Op, Label = label, Inputs = [new("a", aS, a), new("b", bS, b)], OutputShape = cS, OutputInit = c0,
                Launch = (acc, i, c, v) => Ops.Gemm(acc, i[0], i[1], c, s.TA, s.TB, s.Alpha, s.Beta, v),
                Reference = () =>
                {
                    var c = c0 is null ? new F64[N(cS)] : D(c0);
                    GemmReference.Gemm<F64>(D(a), D(b), c, d, s.TA, s.TB, s.Alpha, s.Beta);
                    return Out(c);
                },
                Count = () =>
                {
                    Counted[] ca = C(a), cb = C(b), cc = c0 is null ? new Counted[N(cS)] : C(c0);
                    using var sc = Counted.Begin();
                    GemmReference.Gemm<Counted>(ca, cb, cc, d, s.TA, s.TB, s.Alpha, s.Beta);
                    return sc.Counts;
                },
                SpecCost = GemmSpec.Cost(d, s.Alpha, s.Beta),
                Tolerance = v => Tolerances.Gemm(v, s.K, s.Alpha, s.Beta),
            });
        }
    }

    private static void Linear(List<VerifyCase> l)
    {
        foreach (var (xS, n, bias) in new (int[], int, bool)[]
                 { ([1, 1], 1, true), ([7, 33], 7, true), ([33, 70], 70, false), ([2, 5, 7], 33, true), ([70, 7], 1, false) })
        {
            int k = xS[^1];
            int[] wS = [n, k], yS = [.. xS[..^1], n];
            var x = Data(N(xS)); var w = Data(N(wS)); var b = bias ? Data(n) : [];
            var d = LinearSpec.Validate(xS, wS, bias ? [n] : default, bias, yS);
            l.Add(new VerifyCase
            {
                Op = LinearSpec.Op, Label = $"x{Tensor.FormatShape(xS)} → {n}{(bias ? " +bias" : "")}",
                Inputs = bias ? [new("x", xS, x), new("w", wS, w), new("bias", [n], b)] : [new("x", xS, x), new("w", wS, w)],
                OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.Linear(acc, i[0], i[1], bias ? i[2] : null, y, v),
                Reference = () => { var y = new F64[N(yS)]; LinearReference.Linear<F64>(D(x), D(w), D(b), y, d); return Out(y); },
                Count = () =>
                {
                    Counted[] cx = C(x), cw = C(w), cb = C(b), y = new Counted[N(yS)];
                    using var s = Counted.Begin(); LinearReference.Linear<Counted>(cx, cw, cb, y, d); return s.Counts;
                },
                SpecCost = LinearSpec.Cost(d),
                Tolerance = v => Tolerances.Linear(v, k),
            });
        }
    }

    private static void Conv2d(List<VerifyCase> l)
    {
        // (N, Cin, H, W, Cout, k, stride, padding, bias)
        foreach (var (n, cin, h, w, cout, k, stride, pad, bias) in new[]
                 {
                     (1, 1, 1, 1, 1, 1, 1, 0, true),
                     (2, 3, 7, 9, 5, 3, 1, 1, true),
                     (1, 4, 8, 8, 7, 3, 2, 1, true),
                     (1, 5, 9, 7, 3, 3, 2, 0, false),
                     (1, 33, 5, 6, 7, 1, 1, 0, false),
                     (1, 7, 6, 5, 33, 3, 1, 1, true),
                     (2, 2, 7, 7, 3, 1, 2, 0, true),
                 })
        {
            int[] xS = [n, cin, h, w], wS = [cout, cin, k, k];
            int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
            int[] yS = [n, cout, ho, wo];
            var x = Data(N(xS)); var wt = Data(N(wS)); var b = bias ? Data(cout) : [];
            var d = Conv2dSpec.Validate(xS, wS, bias ? [cout] : default, bias, yS, stride, pad);
            l.Add(new VerifyCase
            {
                Op = Conv2dSpec.Op, Label = $"{n}x{cin}x{h}x{w} → {cout} k{k} s{stride} p{pad}{(bias ? " +bias" : "")}",
                Inputs = bias ? [new("x", xS, x), new("w", wS, wt), new("bias", [cout], b)] : [new("x", xS, x), new("w", wS, wt)],
                OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.Conv2d(acc, i[0], i[1], bias ? i[2] : null, y, stride, pad, v),
                Reference = () => { var y = new F64[N(yS)]; Conv2dReference.Conv2d<F64>(D(x), D(wt), D(b), y, d); return Out(y); },
                Count = () =>
                {
                    Counted[] cx = C(x), cw = C(wt), cb = C(b), y = new Counted[N(yS)];
                    using var s = Counted.Begin(); Conv2dReference.Conv2d<Counted>(cx, cw, cb, y, d); return s.Counts;
                },
                SpecCost = Conv2dSpec.Cost(d),
                Tolerance = v => Tolerances.Conv2d(v, cin, k, k),
            });
        }
    }

    // ---- norms, softmax, attention ----

    private static void Norms(List<VerifyCase> l)
    {
        foreach (bool silu in new[] { false, true })
            foreach (var (xS, groups, affine) in new (int[], int, bool)[]
                     { ([1, 1, 1, 1], 1, true), ([1, 6, 5, 7], 3, true), ([2, 8, 3, 3], 8, false), ([1, 32, 4, 4], 32, true), ([2, 12, 33], 4, true), ([1, 4, 100], 2, false) })
            {
                int n = xS[0], c = xS[1], sp = (int)(N(xS) / ((long)n * c));
                var x = Data(N(xS), -2f, 2f); var g = affine ? Data(c) : []; var b = affine ? Data(c) : [];
                string op = silu ? "group_norm_silu" : "group_norm";
                long m = (long)c / groups * sp;
                l.Add(new VerifyCase
                {
                    Op = op, Label = $"x{Tensor.FormatShape(xS)} g{groups}{(affine ? " affine" : "")}",
                    Inputs = affine ? [new("x", xS, x), new("gamma", [c], g), new("beta", [c], b)] : [new("x", xS, x)],
                    OutputShape = xS,
                    Launch = (acc, i, y, v) => Ops.GroupNorm(acc, i[0], groups, affine ? i[1] : null, affine ? i[2] : null, y, 1e-5f, silu, v),
                    Reference = () => { var y = new F64[N(xS)]; GroupNormReference.Run<F64>(D(x), y, n, c, sp, groups, D(g), D(b), 1e-5f, silu); return Out(y); },
                    Count = () =>
                    {
                        Counted[] cx = C(x), cg = C(g), cb = C(b), y = new Counted[N(xS)];
                        using var s = Counted.Begin(); GroupNormReference.Run<Counted>(cx, y, n, c, sp, groups, cg, cb, 1e-5f, silu); return s.Counts;
                    },
                    SpecCost = GroupNormSpec.Cost(xS, groups, affine, affine, silu),
                    Tolerance = v => Tolerances.Norm(v, m),
                });
            }
        foreach (var (xS, gamma, beta) in new (int[], bool, bool)[]
                 { ([1, 1], true, true), ([3, 7], true, true), ([2, 5, 33], true, false), ([1, 100], false, false), ([4, 70], false, true) })
        {
            int dd = xS[^1];
            var x = Data(N(xS), -2f, 2f); var g = gamma ? Data(dd) : []; var b = beta ? Data(dd) : [];
            var ins = new List<Operand> { new("x", xS, x) };
            if (gamma) ins.Add(new("gamma", [dd], g));
            if (beta) ins.Add(new("beta", [dd], b));
            l.Add(new VerifyCase
            {
                Op = "layer_norm", Label = $"x{Tensor.FormatShape(xS)}{(gamma ? " γ" : "")}{(beta ? " β" : "")}",
                Inputs = [.. ins], OutputShape = xS,
                Launch = (acc, i, y, v) => Ops.LayerNorm(acc, i[0], gamma ? i[1] : null, beta ? i[^1] : null, y, 1e-5f, v),
                Reference = () => { var y = new F64[N(xS)]; LayerNormReference.Run<F64>(D(x), y, dd, D(g), D(b), 1e-5f); return Out(y); },
                Count = () =>
                {
                    Counted[] cx = C(x), cg = C(g), cb = C(b), y = new Counted[N(xS)];
                    using var s = Counted.Begin(); LayerNormReference.Run<Counted>(cx, y, dd, cg, cb, 1e-5f); return s.Counts;
                },
                SpecCost = LayerNormSpec.Cost(xS, gamma, beta),
                Tolerance = v => Tolerances.Norm(v, dd),
            });
        }
    }

    private static void Softmax(List<VerifyCase> l)
    {
        foreach (int[] xS in new[] { new[] { 1, 1 }, [3, 7], [2, 33], [1, 100], [2, 3, 70] })
        {
            int dd = xS[^1], rows = (int)(N(xS) / dd);
            var x = Data(N(xS), -4f, 4f);
            l.Add(new VerifyCase
            {
                Op = SoftmaxSpec.Op, Label = $"x{Tensor.FormatShape(xS)}", Inputs = [new("x", xS, x)], OutputShape = xS,
                Launch = (acc, i, y, v) => Ops.Softmax(acc, i[0], y, v),
                Reference = () => { var y = new F64[N(xS)]; SoftmaxReference.Run<F64>(D(x), y, rows, dd); return Out(y); },
                Count = () => { var cx = C(x); var y = new Counted[N(xS)]; using var s = Counted.Begin(); SoftmaxReference.Run<Counted>(cx, y, rows, dd); return s.Counts; },
                SpecCost = SoftmaxSpec.Cost(xS),
                Tolerance = v => Tolerances.Softmax(v, dd),
            });
        }
    }

    private static void Attention(List<VerifyCase> l)
    {
        // (batch, Lq, Lk, heads, D, causal): self, cross (Lq ≠ Lk), causal; head dims 8 and 40.
        foreach (var (b, lq, lk, heads, dd, causal) in new[]
                 {
                     (1, 1, 1, 1, 8, false),
                     (1, 7, 7, 2, 8, false),
                     (1, 33, 33, 1, 40, false),
                     (2, 33, 7, 2, 8, false),
                     (1, 7, 77, 1, 40, false),
                     (1, 33, 33, 2, 8, true),
                     (1, 70, 70, 1, 40, true),
                     (2, 100, 33, 1, 40, false),
                 })
        {
            int c = heads * dd;
            int[] qS = [b, lq, c], kS = [b, lk, c];
            var q = Data(N(qS)); var k = Data(N(kS)); var vv = Data(N(kS));
            float scale = 1f / MathF.Sqrt(dd);
            string kind = causal ? "causal" : lq == lk ? "self" : "cross";
            l.Add(new VerifyCase
            {
                Op = AttentionSpec.Op, Label = $"{kind} b{b} {heads}h Lq{lq} Lk{lk} D{dd}",
                Inputs = [new("q", qS, q), new("k", kS, k), new("v", kS, vv)], OutputShape = qS,
                Launch = (acc, i, o, v) => Ops.Attention(acc, i[0], i[1], i[2], o, heads, null, causal, v),
                Reference = () => { var o = new F64[N(qS)]; AttentionReference.Run<F64>(D(q), D(k), D(vv), o, b, lq, lk, heads, dd, new F64(scale), causal); return Out(o); },
                Count = () =>
                {
                    Counted[] cq = C(q), ck = C(k), cv = C(vv), o = new Counted[N(qS)];
                    using var s = Counted.Begin(); AttentionReference.Run<Counted>(cq, ck, cv, o, b, lq, lk, heads, dd, new Counted(scale), causal); return s.Counts;
                },
                SpecCost = AttentionSpec.Cost(b, lq, lk, heads, dd, causal),
                Tolerance = v => Tolerances.Attention(v, dd, lk),
            });
        }
    }

    // ---- activations and glue ----

    private static void Activations(List<VerifyCase> l)
    {
        var unary = new (string Op, Action<IAccelerator, Tensor, Tensor, int> Launch, Action<F64[], F64[]> Ref, Action<Counted[], Counted[]> Cnt, Func<int[], Cost> Spec)[]
        {
            ("silu", (a, x, y, v) => Ops.Silu(a, x, y, v), (x, y) => ActivationsReference.Silu<F64>(x, y), (x, y) => ActivationsReference.Silu<Counted>(x, y), s => ActivationsSpec.Silu(s)),
            ("gelu", (a, x, y, v) => Ops.Gelu(a, x, y, GeluApproximation.Erf, v), (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Erf),
                (x, y) => ActivationsReference.Gelu<Counted>(x, y, GeluApproximation.Erf), s => ActivationsSpec.Gelu(s, GeluApproximation.Erf)),
            ("gelu_tanh", (a, x, y, v) => Ops.Gelu(a, x, y, GeluApproximation.Tanh, v), (x, y) => ActivationsReference.Gelu<F64>(x, y, GeluApproximation.Tanh),
                (x, y) => ActivationsReference.Gelu<Counted>(x, y, GeluApproximation.Tanh), s => ActivationsSpec.Gelu(s, GeluApproximation.Tanh)),
            ("quick_gelu", (a, x, y, v) => Ops.QuickGelu(a, x, y, v), (x, y) => ActivationsReference.QuickGelu<F64>(x, y), (x, y) => ActivationsReference.QuickGelu<Counted>(x, y), s => ActivationsSpec.QuickGelu(s)),
        };
        foreach (var u in unary)
            foreach (int[] xS in new[] { new[] { 1 }, [7], [33], [100], [2, 3, 5, 7] })
            {
                var x = Data(N(xS), -6f, 6f);
                l.Add(new VerifyCase
                {
                    Op = u.Op, Label = $"x{Tensor.FormatShape(xS)}", Inputs = [new("x", xS, x)], OutputShape = xS,
                    Launch = (acc, i, y, v) => u.Launch(acc, i[0], y, v),
                    Reference = () => { var y = new F64[x.Length]; u.Ref(D(x), y); return Out(y); },
                    Count = () => { var cx = C(x); var y = new Counted[x.Length]; using var s = Counted.Begin(); u.Cnt(cx, y); return s.Counts; },
                    SpecCost = u.Spec(xS),
                    Tolerance = v => Tolerances.Activation(v),
                });
            }
        foreach (var (rows, dd) in new[] { (1, 1), (3, 7), (2, 33), (4, 50) })
        {
            int[] xS = [rows, 2 * dd], yS = [rows, dd];
            var x = Data(N(xS), -6f, 6f);
            l.Add(new VerifyCase
            {
                Op = "geglu", Label = $"x{Tensor.FormatShape(xS)}", Inputs = [new("x", xS, x)], OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.Geglu(acc, i[0], y, v),
                Reference = () => { var y = new F64[N(yS)]; ActivationsReference.Geglu<F64>(D(x), y, dd); return Out(y); },
                Count = () => { var cx = C(x); var y = new Counted[N(yS)]; using var s = Counted.Begin(); ActivationsReference.Geglu<Counted>(cx, y, dd); return s.Counts; },
                SpecCost = ActivationsSpec.Geglu(xS),
                Tolerance = v => Tolerances.Activation(v, gated: true),
            });
        }
    }

    private static void Glue(List<VerifyCase> l)
    {
        foreach (int[] s in new[] { new[] { 1 }, [7], [33], [100], [2, 3, 5, 7] })
        {
            var a = Data(N(s)); var b = Data(N(s));
            l.Add(new VerifyCase
            {
                Op = "add", Label = $"{Tensor.FormatShape(s)}", Inputs = [new("a", s, a), new("b", s, b)], OutputShape = s,
                Launch = (acc, i, y, v) => Ops.Add(acc, i[0], i[1], y, v),
                Reference = () => { var y = new F64[a.Length]; GlueReference.Add<F64>(D(a), D(b), y); return Out(y); },
                Count = () => { Counted[] ca = C(a), cb = C(b), y = new Counted[a.Length]; using var sc = Counted.Begin(); GlueReference.Add<Counted>(ca, cb, y); return sc.Counts; },
                SpecCost = GlueSpec.Add(s),
                Tolerance = Tolerances.OneRounding,
            });
            const float factor = -1.5f;
            l.Add(new VerifyCase
            {
                Op = "scale", Label = $"{Tensor.FormatShape(s)} ×{factor}", Inputs = [new("x", s, a)], OutputShape = s,
                Launch = (acc, i, y, v) => Ops.Scale(acc, i[0], factor, y, v),
                Reference = () => { var y = new F64[a.Length]; GlueReference.Scale<F64>(D(a), new F64(factor), y); return Out(y); },
                Count = () => { Counted[] ca = C(a), y = new Counted[a.Length]; using var sc = Counted.Begin(); GlueReference.Scale<Counted>(ca, new Counted(factor), y); return sc.Counts; },
                SpecCost = GlueSpec.Scale(s),
                Tolerance = Tolerances.OneRounding,
            });
        }
        foreach (int[] s in new[] { new[] { 1, 1, 1, 1 }, [1, 3, 5, 7], [2, 7, 1, 1], [2, 33, 3, 3], [1, 4, 100] })
        {
            int n = s[0], c = s[1], sp = (int)(N(s) / ((long)n * c));
            var x = Data(N(s)); var b = Data((long)n * c);
            l.Add(new VerifyCase
            {
                Op = "add_channel_bias", Label = $"x{Tensor.FormatShape(s)}", Inputs = [new("x", s, x), new("b", [n, c], b)], OutputShape = s,
                Launch = (acc, i, y, v) => Ops.AddChannelBias(acc, i[0], i[1], y, v),
                Reference = () => { var y = new F64[x.Length]; GlueReference.AddChannelBias<F64>(D(x), D(b), y, n, c, sp); return Out(y); },
                Count = () => { Counted[] cx = C(x), cb = C(b), y = new Counted[x.Length]; using var sc = Counted.Begin(); GlueReference.AddChannelBias<Counted>(cx, cb, y, n, c, sp); return sc.Counts; },
                SpecCost = GlueSpec.AddChannelBias(s),
                Tolerance = Tolerances.OneRounding,
            });
        }
        foreach (var (n, ca, cb, tail) in new[] { (1, 1, 1, new[] { 1, 1 }), (1, 2, 3, [3, 5]), (2, 1, 7, [7, 1]), (1, 33, 1, [2, 2]), (2, 5, 4, [100]) })
        {
            int[] aS = [n, ca, .. tail], bS = [n, cb, .. tail], yS = [n, ca + cb, .. tail];
            int sp = tail.Aggregate(1, (p, q) => p * q);
            var a = Data(N(aS)); var b = Data(N(bS));
            l.Add(new VerifyCase
            {
                Op = "concat", Label = $"a{Tensor.FormatShape(aS)} b{Tensor.FormatShape(bS)}", Inputs = [new("a", aS, a), new("b", bS, b)], OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.ConcatChannels(acc, i[0], i[1], y, v),
                Reference = () => { var y = new float[N(yS)]; GlueReference.Concat<float>(a, b, y, n, ca, cb, sp); return Out(y); },
                Count = () => { Counted[] ka = C(a), kb = C(b), y = new Counted[N(yS)]; using var sc = Counted.Begin(); GlueReference.Concat<Counted>(ka, kb, y, n, ca, cb, sp); return sc.Counts; },
                SpecCost = GlueSpec.Concat(aS, bS),
                Tolerance = _ => Tolerances.Exact("concat"),
            });
        }
        foreach (int[] s in new[] { new[] { 1, 1, 1, 1 }, [2, 3, 5, 7], [1, 7, 3, 33], [1, 2, 1, 100] })
        {
            int[] yS = [s[0], s[1], 2 * s[2], 2 * s[3]];
            var x = Data(N(s));
            l.Add(new VerifyCase
            {
                Op = "upsample_nearest_2x", Label = $"x{Tensor.FormatShape(s)}", Inputs = [new("x", s, x)], OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.Upsample2xNearest(acc, i[0], y, v),
                Reference = () => { var y = new float[N(yS)]; GlueReference.Upsample2xNearest<float>(x, y, s[0], s[1], s[2], s[3]); return Out(y); },
                Count = () => { Counted[] cx = C(x), y = new Counted[N(yS)]; using var sc = Counted.Begin(); GlueReference.Upsample2xNearest<Counted>(cx, y, s[0], s[1], s[2], s[3]); return sc.Counts; },
                SpecCost = GlueSpec.Upsample(s),
                Tolerance = _ => Tolerances.Exact("upsample_nearest_2x"),
            });
        }
        foreach (var (t, dim, flip, shift) in new[]
                 {
                     (new[] { 0f }, 2, true, 0f), (new[] { 1f, 999f }, 8, true, 0f), (new[] { 0f, 7f, 500.5f }, 33, false, 1f),
                     (new[] { 999f, 261f, 1f, 0f }, 320, true, 0f),
                 })
        {
            int n = t.Length;
            int[] yS = [n, dim];
            double tMax = t.Max(v => Math.Abs((double)v));
            l.Add(new VerifyCase
            {
                Op = "timestep_embedding", Label = $"t[{n}] dim {dim}{(flip ? " flip" : "")} shift {shift}", Inputs = [new("t", [n], t)], OutputShape = yS,
                Launch = (acc, i, y, v) => Ops.TimestepEmbedding(acc, i[0], y, flip, shift, 10000f, v),
                Reference = () => { var y = new F64[n * dim]; GlueReference.TimestepEmbedding<F64>(D(t), y, dim, flip, shift, 10000f); return Out(y); },
                Count = () => { Counted[] ct = C(t), y = new Counted[n * dim]; using var sc = Counted.Begin(); GlueReference.TimestepEmbedding<Counted>(ct, y, dim, flip, shift, 10000f); return sc.Counts; },
                SpecCost = GlueSpec.Timestep(n, dim),
                Tolerance = v => Tolerances.Timestep(v, tMax),
            });
        }
    }

    private static void Copy(List<VerifyCase> l)
    {
        // (source shape, dim sliced, start, length): strided views along inner and outer dims.
        foreach (var (s, dim, start, len) in new[] { (new[] { 7 }, 0, 0, 7), (new[] { 4, 7, 9 }, 1, 2, 5), (new[] { 5, 6 }, 1, 1, 3), (new[] { 2, 3, 4, 33 }, 3, 1, 31), (new[] { 9, 2, 3 }, 0, 7, 2) })
        {
            int[] yS = (int[])s.Clone();
            yS[dim] = len;
            var x = Data(N(s));
            l.Add(new VerifyCase
            {
                Op = CopySpec.Op, Label = $"{Tensor.FormatShape(s)}.slice(dim {dim}, {start}, {len})", HasVariants = false,
                Inputs = [new("src", s, x)], OutputShape = yS,
                Launch = (acc, i, y, _) => Ops.Copy(acc, i[0].Slice(dim, start, len), y),
                Reference = () => Out(SliceReference(x, s, dim, start, len)),
                Count = () => { using var sc = Counted.Begin(); SliceReference(x, s, dim, start, len); return sc.Counts; },
                SpecCost = new Cost(0, 0, 0, 4 * N(yS), 4 * N(yS)),
                Tolerance = _ => Tolerances.Exact(CopySpec.Op),
            });
        }
    }

    private static void Embedding(List<VerifyCase> l)
    {
        // (batch, tokens, vocab, dim, positions): D around vector widths, a row id 0 and V − 1 in every case.
        foreach (var (b, t, v, d, pos) in new[] { (1, 1, 1, 1, false), (2, 7, 33, 8, true), (3, 5, 100, 33, true), (1, 77, 50, 7, false), (2, 3, 9, 100, true) })
        {
            var ids = Data(b * t, 0f, v).Select(MathF.Floor).ToArray();
            ids[0] = 0; ids[^1] = v - 1;
            var table = Data((long)v * d);
            var p = pos ? Data((long)(t + 1) * d) : [];   // one spare row: only the first T are added
            int[] yS = [b, t, d];
            Operand[] inputs = pos
                ? [new("ids", [b, t], ids, DType.I32), new("table", [v, d], table), new("positions", [t + 1, d], p)]
                : [new("ids", [b, t], ids, DType.I32), new("table", [v, d], table)];
            int[] iid = ids.Select(x => (int)x).ToArray();
            l.Add(new VerifyCase
            {
                Op = EmbeddingSpec.Op, Label = $"ids[{b},{t}] table[{v},{d}]{(pos ? " +pos" : "")}", Inputs = inputs, OutputShape = yS,
                Launch = (acc, i, y, vr) => Ops.Embedding(acc, i[0], i[1], pos ? i[2] : null, y, vr),
                Reference = () => { var y = new F64[N(yS)]; EmbeddingReference.Run<F64>(iid, D(table), D(p), y, t, v, d); return Out(y); },
                Count = () => { Counted[] ct = C(table), cp = C(p), y = new Counted[N(yS)]; using var sc = Counted.Begin(); EmbeddingReference.Run<Counted>(iid, ct, cp, y, t, v, d); return sc.Counts; },
                SpecCost = EmbeddingSpec.Cost(b, t, d, pos),
                Tolerance = pos ? Tolerances.OneRounding : _ => Tolerances.Exact(EmbeddingSpec.Op),
            });
        }
    }

    /// <summary>The definition of a slice copy: y[…, j, …] = x[…, start + j, …] (moves only, no arithmetic).</summary>
    private static float[] SliceReference(float[] x, int[] shape, int dim, int start, int len)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        var y = new float[outer * len * inner];
        for (long o = 0; o < outer; o++)
            for (int j = 0; j < len; j++)
                for (long e = 0; e < inner; e++)
                    y[(o * len + j) * inner + e] = x[(o * shape[dim] + start + j) * inner + e];
        return y;
    }
}
