using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Kernels.Tests;

public class AttentionTests(ITestOutputHelper log)
{
    private static readonly CpuAccelerator Cpu = new();

    // Error budget of the fp32 kernels against the double reference, q, k, v uniform in [-1, 1]:
    //  - a score is a D-term fp32 dot product times scale: |error| ≤ D·2^-24·Σ|q_e k_e|·scale; with scale = 1/√D and
    //    D ≤ 80 that is ≤ √80·6e-8·… ≈ 5e-7 absolute in the exp argument (the tiled variant's pre-multiplication of q by
    //    scale·log2 e adds one rounding per q element: ≤ 1e-7 relative of the score);
    //  - so each probability is off by ≲ 1e-6 relative (plus SimdMath exp's 2e-7 and the row sum's few ulps);
    //  - o = Σ p v with Σ p = 1 and |v| ≤ 1: absolute error ≲ 1e-6 + the PV dot product's Lk·2^-24 ≈ 6e-6 for Lk = 100.
    // atol 5e-6 and rtol 5e-5 cover that bound; the observed worst errors (≈1.5e-7) are logged.
    private const double Atol = 5e-6, Rtol = 5e-5;

    private static float[] Ref(float[] q, float[] k, float[] v, int b, int lq, int lk, int h, int d, float scale, bool causal)
    {
        var o = new F64[b * lq * h * d];
        AttentionReference.Run<F64>(q.Select(x => new F64(x)).ToArray(), k.Select(x => new F64(x)).ToArray(),
            v.Select(x => new F64(x)).ToArray(), o, b, lq, lk, h, d, new F64(scale), causal);
        return o.Select(x => (float)x.V).ToArray();
    }

    private static float[] Run(float[] q, float[] k, float[] v, int b, int lq, int lk, int h, int d, float? scale, bool causal,
        int variant, CpuAccelerator? acc = null)
    {
        var Cpu = acc ?? AttentionTests.Cpu;
        using var tq = Cpu.FromArray(q, b, lq, h * d);
        using var tk = Cpu.FromArray(k, b, lk, h * d);
        using var tv = Cpu.FromArray(v, b, lk, h * d);
        using var to = Cpu.Allocate(b, lq, h * d);
        Ops.Attention(Cpu, tq, tk, tv, to, h, scale, causal, variant);
        Assert.Equal(q, tq.ToArray());
        return to.ToArray();
    }

    private double _worst;

    private void Check(int b, int lq, int lk, int h, int d, bool causal = false, float? scale = null, int seed = 1,
        float qRange = 1f, double atol = Atol, double rtol = Rtol)
    {
        int c = h * d;
        var q = SoftmaxTests.Random(b * lq * c, seed, -qRange, qRange);
        var k = SoftmaxTests.Random(b * lk * c, seed + 1);
        var v = SoftmaxTests.Random(b * lk * c, seed + 2);
        float sc = scale ?? 1f / MathF.Sqrt(d);
        var expected = Ref(q, k, v, b, lq, lk, h, d, sc, causal);
        int[] shape = [b, lq, c];
        string what = $"attention b{b} lq{lq} lk{lk} h{h} d{d}{(causal ? " causal" : "")} scale {sc}";
        var naive = Run(q, k, v, b, lq, lk, h, d, scale, causal, 1);
        var tiled = Run(q, k, v, b, lq, lk, h, d, scale, causal, 2);
        var dflt = Run(q, k, v, b, lq, lk, h, d, scale, causal, 0);
        Close.All(expected, naive, atol, rtol, shape, what + " naive");
        Close.All(expected, tiled, atol, rtol, shape, what + " tiled");
        Assert.Equal(tiled, dflt);  // variant 0 is the tiled kernel
        Close.All(naive, tiled, atol, rtol, shape, what + " naive vs tiled");
        for (int i = 0; i < expected.Length; i++)
            _worst = Math.Max(_worst, Math.Max(Math.Abs(naive[i] - expected[i]), Math.Abs(tiled[i] - expected[i])));
    }

    // The 512-bit path forced (emulated in software here). Per query row and key it computes the same FMA chains in the
    // same order as the 256-bit path (scores, P·V), with bit-identical exps (SoftmaxTests.Exp2_512IsBitIdentical), so
    // the error budget above applies unchanged (Atol, Rtol). Against the 256-bit path only the row sums' association
    // differs (16 lanes instead of 8): o = acc / l differs by the relative difference of l, ≤ (Lk/8 + 4)·2^-24 ≈ 1e-6
    // for Lk ≤ 150 here, plus a rounding → AgreeRtol 3e-6; AgreeAtol covers o values that cancel to ≈ 0.
    private static readonly CpuAccelerator Cpu512 = new(2, 512);
    private const double AgreeAtol = 1e-7, AgreeRtol = 3e-6;

    private void Check512(int b, int lq, int lk, int h, int d, bool causal = false, float? scale = null, int seed = 1)
    {
        int c = h * d;
        var q = SoftmaxTests.Random(b * lq * c, seed);
        var k = SoftmaxTests.Random(b * lk * c, seed + 1);
        var v = SoftmaxTests.Random(b * lk * c, seed + 2);
        float sc = scale ?? 1f / MathF.Sqrt(d);
        var expected = Ref(q, k, v, b, lq, lk, h, d, sc, causal);
        int[] shape = [b, lq, c];
        string what = $"attention v512 b{b} lq{lq} lk{lk} h{h} d{d}{(causal ? " causal" : "")}";
        foreach (int variant in new[] { 1, 2 })
        {
            var o512 = Run(q, k, v, b, lq, lk, h, d, scale, causal, variant, Cpu512);
            var o256 = Run(q, k, v, b, lq, lk, h, d, scale, causal, variant);
            Close.All(expected, o512, Atol, Rtol, shape, what + $" variant {variant}");
            Close.All(o256, o512, AgreeAtol, AgreeRtol, shape, what + $" variant {variant} vs 256-bit path");
            for (int i = 0; i < expected.Length; i++) _worst = Math.Max(_worst, Math.Abs(o512[i] - expected[i]));
        }
    }

    // D: every tail of the 16-lane vector (1..33), and the diffusion head sizes 40, 64, 80, 160.
    public static IEnumerable<object[]> HeadDims512() =>
        Enumerable.Range(1, 33).Concat([40, 64, 80, 160]).Select(d => new object[] { d });

    [Theory, MemberData(nameof(HeadDims512))]
    public void V512HeadDimSweep(int d)
    {
        Check512(1, 7, 19, 2, d);
        Check512(1, 13, 13, 1, d, causal: true);
        log.WriteLine($"v512 d {d}: worst |diff| {_worst:G3}");
    }

    // Lk: every tail of the 32-key block (1..33) plus 63..65; Lq tails of the 6-row panel.
    public static IEnumerable<object[]> KeyLengths512() =>
        Enumerable.Range(1, 33).Concat([63, 64, 65]).Select(l => new object[] { l });

    [Theory, MemberData(nameof(KeyLengths512))]
    public void V512LengthSweep(int lk)
    {
        Check512(1, 1 + lk % 7, lk, 2, 3, seed: lk);
        Check512(1, lk, lk, 1, 5, causal: true, seed: lk + 1);
        log.WriteLine($"v512 lk {lk}: worst |diff| {_worst:G3}");
    }

    [Fact]
    public void V512SeveralTilesBatchesScale()
    {
        // Crosses the query tile (48) and key tile (128) boundaries with tails, several batches/heads, custom scale.
        Check512(1, 50, 150, 1, 40);
        Check512(1, 130, 130, 1, 17, causal: true);
        Check512(2, 9, 77, 3, 8, scale: 0.5f);
        log.WriteLine($"v512 worst |diff| {_worst:G3}");
    }

    [Fact]
    public void LedgerNamesThePath()
    {
        foreach (var (bits, suffix) in new[] { (256, ""), (512, "-v512") })
        {
            var acc = new CpuAccelerator(2, bits);
            using var q = acc.Allocate(1, 5, 8);
            using var o = acc.Allocate(1, 5, 8);
            Ops.Attention(acc, q, q, q, o, 2, variant: 1);
            Ops.Attention(acc, q, q, q, o, 2, variant: 2);
            Assert.Equal(["cpu.v1-naive" + suffix, "cpu.v2-tiled-online" + suffix], acc.Ledger.Entries.Select(e => e.Variant).ToArray());
        }
    }

    public static IEnumerable<object[]> HeadDims() =>
        Enumerable.Range(1, 17).Concat([31, 33, 40, 64, 80]).Select(d => new object[] { d });

    [Theory, MemberData(nameof(HeadDims))]
    public void HeadDimSweep(int d)
    {
        Check(1, 9, 17, 2, d);
        Check(1, 17, 17, 1, d, causal: true);
        log.WriteLine($"d {d}: worst |diff| {_worst:G3}");
    }

    private static readonly int[] Lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 17, 33, 77, 100];

    public static IEnumerable<object[]> LengthsData() => Lengths.Select(l => new object[] { l });

    [Theory, MemberData(nameof(LengthsData))]
    public void LengthSweep(int lq)
    {
        foreach (int lk in Lengths) Check(1, lq, lk, 2, 3, seed: lq * 131 + lk);
        Check(1, lq, lq, 2, 40, causal: true, seed: lq);
        Check(1, lq, 77, 1, 40, seed: lq + 5);  // cross-attention to 77 text tokens
        log.WriteLine($"lq {lq}: worst |diff| {_worst:G3}");
    }

    [Theory]
    [InlineData(1, 1)] [InlineData(1, 2)] [InlineData(1, 3)] [InlineData(1, 8)]
    [InlineData(2, 1)] [InlineData(2, 2)] [InlineData(2, 3)] [InlineData(2, 8)]
    public void HeadsAndBatches(int b, int h)
    {
        Check(b, 33, 17, h, 8);
        Check(b, 15, 15, h, 5, causal: true);
        log.WriteLine($"worst |diff| {_worst:G3}");
    }

    [Fact]
    public void SeveralTilesSelfCrossCausal()
    {
        // Crosses the query tile (48) and key tile (128) boundaries, with tails in both.
        Check(1, 100, 300, 2, 40);
        Check(1, 300, 300, 1, 40, causal: true);
        Check(2, 130, 77, 3, 17);
        Check(1, 257, 257, 1, 64, causal: true);
        log.WriteLine($"worst |diff| {_worst:G3}");
    }

    [Fact]
    public void CustomScale()
    {
        Check(1, 17, 33, 2, 16, scale: 0.5f);
        Check(1, 33, 33, 2, 16, scale: 0.05f, causal: true);
        Check(1, 9, 7, 1, 40, scale: -1f);
    }

    [Fact]
    public void LargeScoresAreStable()
    {
        // Scores up to ~±2000: exp would overflow without the running max. The exp argument's absolute error grows
        // with the score (|s|·2^-23 ≈ 2.4e-4 at 2000), so the probabilities, and o, are only that accurate.
        Check(1, 33, 150, 2, 16, scale: 1f, qRange: 250f, atol: 2e-3, rtol: 2e-3);
        Check(1, 150, 150, 1, 40, causal: true, scale: 1f, qRange: 100f, atol: 2e-3, rtol: 2e-3);
    }

    public static IEnumerable<object[]> CountShapes() => new[]
    {
        new object[] { 1, 1, 1, 1, 1, false }, new object[] { 1, 5, 7, 2, 3, false }, new object[] { 2, 9, 4, 3, 8, false },
        new object[] { 1, 6, 6, 2, 5, true }, new object[] { 2, 17, 17, 3, 4, true }, new object[] { 1, 4, 77, 8, 2, false },
    };

    [Theory, MemberData(nameof(CountShapes))]
    public void CountedEqualsSpec(int b, int lq, int lk, int h, int d, bool causal)
    {
        int c = h * d;
        Counted[] R(int n, int seed) => SoftmaxTests.Random(n, seed).Select(x => new Counted(x)).ToArray();
        var q = R(b * lq * c, 1); var k = R(b * lk * c, 2); var v = R(b * lk * c, 3);
        var o = new Counted[b * lq * c];
        using var scope = Counted.Begin();
        AttentionReference.Run<Counted>(q, k, v, o, b, lq, lk, h, d, new Counted(0.3f), causal);
        Assert.Equal(AttentionSpec.Cost(b, lq, lk, h, d, causal).ArithmeticOnly, scope.Counts.ToCost());
    }

    [Fact]
    public void LedgerRecordsSpecCost()
    {
        var acc = new CpuAccelerator();
        using var q = acc.Allocate(2, 4096 / 64, 8 * 40);
        using var kv = acc.Allocate(2, 77, 8 * 40);
        using var o = acc.Allocate(2, 64, 320);
        Ops.Attention(acc, q, kv, kv, o, 8);
        var e = Assert.Single(acc.Ledger.Entries);
        Assert.Equal("attention", e.Op);
        Assert.Equal(AttentionSpec.Cost(2, 64, 77, 8, 40, false), e.Cost);
        // The definition's matmul count: 2·B·H·Lq·Lk·D for QKᵀ plus the same for PV.
        Assert.Equal(4L * 2 * 8 * 64 * 77 * 40, e.Cost.MatmulFlops);
    }

    private static void Bad(Action call, params string[] parts)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Contains("attention", ex.Message);
        foreach (var p in parts) Assert.Contains(p, ex.Message);
    }

    [Fact]
    public void BadInputNamesOpAndShapes()
    {
        using var q = Cpu.Allocate(1, 4, 6);
        using var k = Cpu.Allocate(1, 5, 6);
        using var v = Cpu.Allocate(1, 5, 6);
        using var o = Cpu.Allocate(1, 4, 6);
        Ops.Attention(Cpu, q, k, v, o, 2); // fine
        Bad(() => Ops.Attention(Cpu, q, k, v, o, 4), "heads 4", "[1,4,6]");
        Bad(() => Ops.Attention(Cpu, q, k, v, o, 0), "heads 0");
        using var k8 = Cpu.Allocate(1, 5, 8);
        Bad(() => Ops.Attention(Cpu, q, k8, v, o, 2), "channel", "[1,5,8]");
        Bad(() => Ops.Attention(Cpu, q, k, k8, o, 2), "channel", "[1,5,8]");
        using var v3 = Cpu.Allocate(1, 3, 6);
        Bad(() => Ops.Attention(Cpu, q, k, v3, o, 2), "length", "[1,3,6]");
        using var k2 = Cpu.Allocate(2, 5, 6);
        using var v2 = Cpu.Allocate(2, 5, 6);
        Bad(() => Ops.Attention(Cpu, q, k2, v2, o, 2), "batch", "[2,5,6]");
        using var oBad = Cpu.Allocate(1, 5, 6);
        Bad(() => Ops.Attention(Cpu, q, k, v, oBad, 2), "o must have q's shape", "o [1,5,6]");
        using var z = Cpu.Allocate(1, 0, 6);
        Bad(() => Ops.Attention(Cpu, z, k, v, z, 2), "zero-size", "[1,0,6]");
        using var z2 = Cpu.Allocate(1, 4, 0);
        Bad(() => Ops.Attention(Cpu, z2, z2, z2, z2, 1), "zero-size");
        Bad(() => Ops.Attention(Cpu, q, k, v, o, 2, causal: true), "causal", "[1,4,6]", "[1,5,6]");
        Bad(() => Ops.Attention(Cpu, q, k, v, q, 2), "overlap");
        Bad(() => Ops.Attention(Cpu, q, k, v, o, 2, variant: 3), "variant");
        using var q2d = Cpu.Allocate(4, 6);
        Bad(() => Ops.Attention(Cpu, q2d, k, v, o, 2), "rank 3", "[4,6]");
        Bad(() => Ops.Attention(Cpu, q, k, v, o, 2, scale: float.NaN), "scale");
    }

    [Fact]
    public void OutputOverlappingValueIsRejected()
    {
        using var buf = Cpu.Zeros(54);
        using var qk = Cpu.Zeros(1, 4, 6);
        using var v = buf.Slice(0, 0, 24).Reshape(1, 4, 6);
        using var o = buf.Slice(0, 24, 24).Reshape(1, 4, 6); // right after v
        Ops.Attention(Cpu, qk, qk, v, o, 1); // adjacent, disjoint: fine
        using var o2 = buf.Slice(0, 23, 24).Reshape(1, 4, 6);
        Bad(() => Ops.Attention(Cpu, qk, qk, v, o2, 1), "overlap");
    }
}
