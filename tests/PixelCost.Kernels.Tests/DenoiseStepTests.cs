using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;
using PixelCost.Tests;
using Xunit;
using static PixelCost.Kernels.Tests.TestData;

namespace PixelCost.Kernels.Tests;

// Inside PixelCost.Kernels.*, a bare `Ops` names the namespace PixelCost.Kernels; this alias names the class.

/// <summary>One combination of the denoise step's options (which optional tensors exist, what aux receives).</summary>
public readonly record struct DenoiseOptions(bool Guidance, bool Noise, bool Hist, DenoiseAux? Aux)
{
    public static IEnumerable<DenoiseOptions> All() =>
        from g in new[] { false, true }
        from n in new[] { false, true }
        from h in new[] { false, true }
        from a in new DenoiseAux?[] { null, DenoiseAux.Guided, DenoiseAux.X0 }
        select new DenoiseOptions(g, n, h, a);

    /// <summary>Coefficients of modest size (|c| ≤ 1.5) and a real guidance scale; the aux kind from the options.</summary>
    public DenoiseCoefficients Coefficients => new(Cx: 0.93f, Ce: -1.37f, Cn: 0.41f, Ch: -0.62f, Guidance: 7.5f,
        AuxKind: Aux ?? DenoiseAux.Guided, Ax: 1.21f, Ae: -0.58f);

    public override string ToString() => $"cfg={Guidance} noise={Noise} hist={Hist} aux={Aux?.ToString() ?? "none"}";
}

/// <summary>Inputs of one denoise-step case as host arrays (x: [1, n]; modelOut: [1 or 2, n]).</summary>
internal sealed class DenoiseCase
{
    public DenoiseCase(int n, DenoiseOptions o, int seed)
    {
        N = n; O = o;
        X = Normal(n, seed); M = Normal((o.Guidance ? 2 : 1) * n, seed + 1);
        Noise = o.Noise ? Normal(n, seed + 2) : []; Hist = o.Hist ? Normal(n, seed + 3) : [];
    }

    public int N { get; }
    public DenoiseOptions O { get; }
    public float[] X { get; }
    public float[] M { get; }
    public float[] Noise { get; }
    public float[] Hist { get; }

    /// <summary>The float64 reference: (out, aux) (aux empty without one).</summary>
    public (float[] Out, float[] Aux) Reference()
    {
        var y = new F64[N];
        var aux = new F64[O.Aux != null ? N : 0];
        DenoiseStepReference.Step<F64>(D(X), D(M), D(Noise), D(Hist), y, aux, O.Coefficients);
        return (F(y), F(aux));
    }
}

public class DenoiseStepTests
{
    private static readonly CpuAccelerator Cpu = new();
    // The 512-bit path forced: on AVX2-only machines .NET runs its Vector512 operations in software (slow but real).
    private static readonly CpuAccelerator Cpu512 = new(2, vectorBits: 512);

    // fp32 vs the float64 reference: out is a sum of ≤ 4 products plus guidance (u + 7.5·(c − u)); each fp32 operation
    // (fused or not) errs by ≤ 2⁻²⁴ of its magnitude, so the error is a few ulp of Σ|terms|. Inputs are unit normals
    // (|v| ≲ 5), coefficients ≤ 1.5, so |m̂| ≲ 80 and Σ|terms| ≲ 140: ≤ 4·2⁻²⁴·140 ≈ 3.3e-5 in the worst case.
    // A missing or wrong term moves values by ≥ 1e-2.
    private const double Atol = 3e-5, Rtol = 1e-6;

    public static IEnumerable<object[]> Options() => DenoiseOptions.All().Select(o => new object[] { o });

    // ---- the cost is what the reference executes ----

    [Fact]
    public void CountedReferenceMatchesSpecCost()
    {
        int[][] shapes = [[1, 4, 8, 8], [2, 4, 3, 5], [1, 1, 1, 1], [3, 2, 7], [1, 17]];
        foreach (var shape in shapes)
            foreach (var o in DenoiseOptions.All())
            {
                int n = (int)Tensor.ElementCount(shape);
                var c = new DenoiseCase(n, o, 5);
                var y = new Counted[n];
                var aux = new Counted[o.Aux != null ? n : 0];
                using var s = Counted.Begin();
                DenoiseStepReference.Step<Counted>(C(c.X), C(c.M), C(c.Noise), C(c.Hist), y, aux, o.Coefficients);
                var spec = DenoiseStepSpec.Cost(shape, o.Guidance, o.Noise, o.Hist, o.Aux);
                Assert.True(spec.ArithmeticOnly == s.Counts.ToCost(), $"{Tensor.FormatShape(shape)} {o}: spec {spec}, counted {s.Counts}");
                long reads = 1 + (o.Guidance ? 2 : 1) + (o.Noise ? 1 : 0) + (o.Hist ? 1 : 0), writes = o.Aux != null ? 2 : 1;
                Assert.Equal(4L * n * reads, spec.BytesRead);
                Assert.Equal(4L * n * writes, spec.BytesWritten);
            }
        // The fullest case by hand: 3 (cfg) + 3 (Cx·x + Ce·m̂) + 2 (noise) + 2 (hist) + 3 (x0 aux) = 13 per element;
        // reads x, 2n model output, noise, hist = 5n floats; writes out and aux.
        Assert.Equal(new Cost(0, 13 * 256, 0, 4 * 5 * 256, 4 * 2 * 256), DenoiseStepSpec.Cost([1, 4, 8, 8], true, true, true, DenoiseAux.X0));
        Assert.Equal(new Cost(0, 3 * 256, 0, 4 * 2 * 256, 4 * 256), DenoiseStepSpec.Cost([1, 4, 8, 8], false, false, false, null));
    }

    // ---- CPU kernel vs the float64 reference, every tail length of both widths, in place ----

    public static IEnumerable<object[]> Lengths() => Enumerable.Range(1, 33).Concat([47, 1000, 40_000]).Select(n => new object[] { n });

    private static void CheckCpu(CpuAccelerator cpu, int n)
    {
        foreach (var o in DenoiseOptions.All())
        {
            var k = new DenoiseCase(n, o, n * 7 + 1);
            var (want, wantAux) = k.Reference();
            var coef = o.Coefficients;
            using var x = cpu.T(k.X, 1, n);
            using var m = cpu.T(k.M, o.Guidance ? 2 : 1, n);
            using var noise = o.Noise ? cpu.T(k.Noise, 1, n) : null;
            using var hist = o.Hist ? cpu.T(k.Hist, 1, n) : null;
            using var y = cpu.Allocate(1, n);
            using var aux = o.Aux != null ? cpu.Allocate(1, n) : null;
            string what = $"denoise_step n={n} {o} {cpu.VectorBits}-bit";
            foreach (int variant in new[] { 0, 1, 2 })
            {
                Ops.DenoiseStep(cpu, x, m, y, coef, noise, hist, aux, variant);
                Close.All(want, y.ToArray(), Atol, Rtol, new[] { 1, n }, $"{what} v{variant} out");
                if (aux != null) Close.All(wantAux, aux.ToArray(), Atol, Rtol, new[] { 1, n }, $"{what} v{variant} aux");
                var e = cpu.Ledger.Entries[^1];
                Assert.Equal(variant == 1 ? "cpu.v1-reference" : cpu.UseVector512 ? "cpu.v2-simd-threads-v512" : "cpu.v2-simd-threads", e.Variant);
                Assert.Equal(DenoiseStepSpec.Cost([1, n], o.Guidance, o.Noise, o.Hist, o.Aux), e.Cost);
            }
            // In place: out = x, and aux = hist when both exist (each element read before it is written).
            var auxInPlace = aux != null && hist != null ? hist : aux;
            Ops.DenoiseStep(cpu, x, m, x, coef, noise, hist, auxInPlace);
            Close.All(want, x.ToArray(), Atol, Rtol, new[] { 1, n }, $"{what} in place out");
            if (auxInPlace != null) Close.All(wantAux, auxInPlace.ToArray(), Atol, Rtol, new[] { 1, n }, $"{what} in place aux");
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void CpuMatchesReference(int n) => CheckCpu(Cpu, n);

    [Theory, MemberData(nameof(Lengths))]
    public void CpuV512MatchesReference(int n) => CheckCpu(Cpu512, n);

    /// <summary>The two widths run the same fused operations per lane (and the same in the scalar tail): same bits.</summary>
    [Fact]
    public void Widths256And512AgreeBitForBit()
    {
        var o = new DenoiseOptions(true, true, true, DenoiseAux.X0);
        for (int n = 1; n <= 40; n++)
        {
            var k = new DenoiseCase(n, o, n);
            float[] Run(CpuAccelerator cpu, out float[] auxOut)
            {
                using var x = cpu.T(k.X, 1, n); using var m = cpu.T(k.M, 2, n);
                using var nz = cpu.T(k.Noise, 1, n); using var h = cpu.T(k.Hist, 1, n);
                using var y = cpu.Allocate(1, n); using var aux = cpu.Allocate(1, n);
                Ops.DenoiseStep(cpu, x, m, y, o.Coefficients, nz, h, aux);
                auxOut = aux.ToArray();
                return y.ToArray();
            }
            var a = Run(Cpu, out var auxA); var b = Run(Cpu512, out var auxB);
            Close.All(a, b, 0, 0, new[] { 1, n }, $"256 vs 512 out, n={n}");
            Close.All(auxA, auxB, 0, 0, new[] { 1, n }, $"256 vs 512 aux, n={n}");
        }
    }

    // ---- a DDIM step by hand ----

    /// <summary>
    /// DDIM (η = 0, ε-prediction) with round numbers: ᾱ_t = 0.64 (√ᾱ_t = 0.8, √β̄_t = 0.6), ᾱ_p = 0.81 (√ᾱ_p = 0.9,
    /// √β̄_p = √0.19 = 0.43588989435406736). Cx = √(ᾱ_p/ᾱ_t) = 1.125; Ce = √0.19 − 0.9·0.6/0.8 = −0.23911010564593264.
    /// Guidance 7.5 with (uncond, cond) = (0.1, 0.3), (0, 0.2), (−1, −1) → ε̂ = 1.6, 1.5, −1.
    /// x = (1, −0.5, 2): via diffusers' route x0 = (x − 0.6·ε̂)/0.8 = (0.05, −1.75, 3.25), x_p = 0.9·x0 + √0.19·ε̂ =
    /// 0.045 + 0.69742383096650778 = 0.74242383096650778; −1.575 + 0.65383484153110104 = −0.92116515846889896;
    /// 2.925 − 0.43588989435406736 = 2.48911010564593264. aux (X0: Ax = 1/0.8 = 1.25, Ae = −0.6/0.8 = −0.75) = x0.
    /// </summary>
    [Fact]
    public void DdimStepByHand()
    {
        var c = new DenoiseCoefficients(Cx: 1.125f, Ce: (float)(Math.Sqrt(0.19) - 0.675), Guidance: 7.5f,
            AuxKind: DenoiseAux.X0, Ax: 1.25f, Ae: -0.75f);
        foreach (var cpu in new[] { Cpu, Cpu512 })
        {
            using var x = cpu.T([1f, -0.5f, 2f], 1, 3);
            using var m = cpu.T([0.1f, 0f, -1f, 0.3f, 0.2f, -1f], 2, 3);
            using var y = cpu.Allocate(1, 3);
            using var aux = cpu.Allocate(1, 3);
            foreach (int variant in new[] { 1, 2 })
            {
                Ops.DenoiseStep(cpu, x, m, y, c, aux: aux, variant: variant);
                // fp32 inputs 0.1, 0.3, 0.2 are off by ≤ 1.5e-8 relative and the result by a few ulp: 1e-6 is tight.
                Close.All(new[] { 0.74242383096650778f, -0.92116515846889896f, 2.48911010564593264f }, y.ToArray(), 1e-6, 0, new[] { 1, 3 }, $"DDIM by hand v{variant}");
                Close.All(new[] { 0.05f, -1.75f, 3.25f }, aux.ToArray(), 1e-6, 0, new[] { 1, 3 }, $"DDIM x0 by hand v{variant}");
            }
        }
    }

    // ---- validation ----

    private static ArgumentException Throws(Action a) => Assert.Throws<ArgumentException>(a);

    [Fact]
    public void ValidationNamesTheOpAndShapes()
    {
        var cpu = Cpu;
        var c = new DenoiseCoefficients(1f, -0.5f);
        using var x = cpu.Allocate(1, 4, 3, 3);
        using var y = cpu.Allocate(1, 4, 3, 3);
        using var m3 = cpu.Allocate(3, 4, 3, 3);
        var e = Throws(() => Ops.DenoiseStep(cpu, x, m3, y, c));
        Assert.Contains("denoise_step", e.Message); Assert.Contains("[3,4,3,3]", e.Message); Assert.Contains("[1,4,3,3]", e.Message);

        using var mt = cpu.Allocate(2, 4, 3, 4);
        e = Throws(() => Ops.DenoiseStep(cpu, x, mt, y, c));
        Assert.Contains("denoise_step", e.Message); Assert.Contains("[2,4,3,4]", e.Message); Assert.Contains("trailing dims", e.Message);

        using var mr = cpu.Allocate(2, 36);
        e = Throws(() => Ops.DenoiseStep(cpu, x, mr, y, c));
        Assert.Contains("[2,36]", e.Message);

        using var m = cpu.Allocate(2, 4, 3, 3);
        using var bad = cpu.Allocate(1, 4, 3, 2);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, bad, c));
        Assert.Contains("denoise_step: out [1,4,3,2] must have the shape of x [1,4,3,3]", e.Message);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c, noise: bad));
        Assert.Contains("denoise_step: noise [1,4,3,2]", e.Message);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c, hist: bad));
        Assert.Contains("denoise_step: hist [1,4,3,2]", e.Message);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c, aux: bad));
        Assert.Contains("denoise_step: aux [1,4,3,2]", e.Message);

        // out aliasing modelOut: the uncond half exactly, and a view that starts inside it.
        using var first = m.Slice(0, 0, 1);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, first, c));
        Assert.Contains("denoise_step: out [1,4,3,3] must not overlap modelOut [2,4,3,3]", e.Message);
        using var inside = m.Reshape(72).Slice(0, 5, 36).Reshape(1, 4, 3, 3);
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c, aux: inside));
        Assert.Contains("denoise_step: aux [1,4,3,3] must not overlap modelOut", e.Message);
        // aux = out, and out partly overlapping x.
        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c, aux: y));
        Assert.Contains("denoise_step: aux [1,4,3,3] must not overlap out [1,4,3,3]", e.Message);
        using var big = cpu.Allocate(2, 4, 3, 3);
        using var lo = big.Slice(0, 0, 1);
        using var shifted = big.Reshape(72).Slice(0, 3, 36).Reshape(1, 4, 3, 3);
        e = Throws(() => Ops.DenoiseStep(cpu, lo, m, shifted, c));
        Assert.Contains("denoise_step: out [1,4,3,3] partly overlaps x [1,4,3,3]", e.Message);

        e = Throws(() => Ops.DenoiseStep(cpu, x, m, y, c with { Ce = float.NaN }));
        Assert.Contains("denoise_step: every coefficient must be finite", e.Message);
        using var empty = cpu.Allocate(0, 4);
        Throws(() => Ops.DenoiseStep(cpu, empty, empty, empty, c));

        // Allowed: in place on x, aux on hist, no guidance with modelOut [N, …].
        using var h = cpu.Allocate(1, 4, 3, 3);
        Ops.DenoiseStep(cpu, x, m, x, c, hist: h, aux: h);
        using var m1 = cpu.Allocate(1, 4, 3, 3);
        Ops.DenoiseStep(cpu, x, m1, y, c);
    }
}
