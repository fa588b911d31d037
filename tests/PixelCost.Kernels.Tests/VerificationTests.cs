using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Kernels.Verification;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class VerificationTests
{
    public static TheoryData<string> AllOps()
    {
        var d = new TheoryData<string>();
        foreach (var op in Verifier.Ops) d.Add(op);
        return d;
    }

    [Fact]
    public void RegistryCoversEveryOpFamily()
    {
        string[] expected =
        [
            "noise.uniform", "noise.gaussian", "pixels.noise", "pixels.smooth_noise", "pixels.gradient", "pixels.checkerboard",
            "pixels.quantize_u8", "gemm", "linear", "conv2d", "group_norm", "group_norm_silu", "layer_norm", "softmax", "attention",
            "silu", "gelu", "gelu_tanh", "quick_gelu", "geglu", "add", "scale", "add_channel_bias", "concat", "upsample_nearest_2x",
            "timestep_embedding", "copy", "embedding",
        ];
        Assert.Equal(expected.Order(), Verifier.Ops.Order());
        Assert.All(Verifier.Ops, op => Assert.True(Verifier.CasesOf(op).Count >= 3, $"{op}: a sweep, not one shape"));
    }

    [Theory]
    [MemberData(nameof(AllOps))]
    public void CountedReferenceEqualsSpec(string op)
    {
        var f = Verifier.CheckFlops(op);
        Assert.True(f.Passed, f.FirstMismatch);
        Assert.Equal(Verifier.CasesOf(op).Count, f.Cases);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(512)]
    public void EveryCpuVariantPasses(int bits)
    {
        using var cpu = new CpuAccelerator(vectorBits: bits);
        foreach (var op in Verifier.Ops)
        {
            var rows = Verifier.VerifyOp(cpu, op);
            Assert.NotEmpty(rows);
            foreach (var r in rows)
            {
                Assert.True(r.Status == VerifyStatus.Pass, $"{op} {r.Variant} ({bits}-bit): {r.Status} {r.Note}");
                Assert.Equal(r.Total, r.Passed);
                Assert.InRange(r.WorstRatio, 0, 1);
            }
            // Variant 0 is an alias: each ledger name is verified once.
            Assert.Equal(rows.Count, rows.Select(r => r.Variant).Distinct().Count());
        }
    }

    [Fact]
    public void VariantsStopAtTheFirstUnknownNumberAndListEachNameOnce()
    {
        using var cpu = new CpuAccelerator(vectorBits: 256);
        var v = Verifier.Variants(cpu, Verifier.CasesOf("attention")[0]);
        Assert.Equal(["cpu.v2-tiled-online", "cpu.v1-naive"], v.Select(x => x.Name!.Replace("-v512", "")).ToArray());
        Assert.Equal([0, 1], v.Select(x => x.Number).ToArray());
        var copy = Verifier.Variants(cpu, Verifier.CasesOf("copy")[0]);
        Assert.Single(copy);
    }

    // ---- the comparison catches wrong results (each of these would pass if the check were vacuous) ----

    [Fact]
    public void PerturbedOutputFailsAndExactOutputPasses()
    {
        var c = Verifier.CasesOf("gemm")[1];
        var tol = c.Tolerance("cpu.v2-packed");
        var exp = c.Expected;
        var ok = Verifier.Compare(c.Label, c.OutputShape, exp, exp.Select(v => (double)(float)v).ToArray(), tol);
        Assert.True(ok.Passed);
        Assert.InRange(ok.WorstRatio, 0, 1);

        var bad = exp.Select(v => (double)(float)v).ToArray();
        bad[5] += 10 * tol.Atol;
        var r = Verifier.Compare(c.Label, c.OutputShape, exp, bad, tol);
        Assert.False(r.Passed);
        Assert.Equal(1, r.Mismatches);
        Assert.True(r.WorstRatio > 1);
        Assert.Contains(Verifier.Coord(5, c.OutputShape), r.FirstMismatch);

        bad[5] = double.NaN;
        Assert.False(Verifier.Compare(c.Label, c.OutputShape, exp, bad, tol).Passed);
    }

    [Fact]
    public void BitwiseToleranceRejectsOneUlpAndSignedZero()
    {
        var tol = Tolerances.Exact("copy");
        double[] exp = [1.0, 0.0, -2.5];
        Assert.True(Verifier.Compare("t", [3], exp, [1.0, 0.0, -2.5], tol).Passed);
        Assert.False(Verifier.Compare("t", [3], exp, [(double)MathF.BitIncrement(1f), 0.0, -2.5], tol).Passed);
        Assert.False(Verifier.Compare("t", [3], exp, [1.0, -0.0, -2.5], tol).Passed);
    }

    /// <summary>A deliberately wrong kernel: the real op followed by a tiny scale of its output, run through the same
    /// runner as every case. It must fail; the unmodified case must pass.</summary>
    [Theory]
    [InlineData("gemm", 1.001f)]
    [InlineData("attention", 1.001f)]
    [InlineData("concat", 1.0000001f)]
    public void WrongKernelIsCaught(string op, float factor)
    {
        using var cpu = new CpuAccelerator(vectorBits: 256);
        var good = Verifier.CasesOf(op)[2];
        var wrong = new VerifyCase
        {
            Op = good.Op, Label = good.Label + " (wrong)", Inputs = good.Inputs, OutputShape = good.OutputShape, OutputInit = good.OutputInit,
            Launch = (acc, i, y, v) => { good.Launch(acc, i, y, v); Ops.Scale(acc, y, factor, y); },
            Reference = good.Reference, Count = good.Count, SpecCost = good.SpecCost, Tolerance = good.Tolerance,
        };
        string name = Verifier.Variants(cpu, good)[0].Name!;
        Assert.True(Verifier.RunCase(cpu, good, 0, name).Passed);
        var r = Verifier.RunCase(cpu, wrong, 0, name);
        Assert.False(r.Passed);
        Assert.True(r.WorstRatio > 1);
        var row = Verifier.VerifyOp(cpu, op, [good, wrong]);
        Assert.All(row, x => Assert.Equal(VerifyStatus.Fail, x.Status));
    }

    [Fact]
    public void UnwrittenOutputIsCaught()
    {
        using var cpu = new CpuAccelerator(vectorBits: 256);
        var good = Verifier.CasesOf("add")[1];
        var lazy = new VerifyCase
        {
            Op = good.Op, Label = "writes nothing", Inputs = good.Inputs, OutputShape = good.OutputShape,
            Launch = (acc, i, y, v) => { }, Reference = good.Reference, Count = good.Count, SpecCost = good.SpecCost, Tolerance = good.Tolerance,
        };
        Assert.False(Verifier.RunCase(cpu, lazy, 0, "cpu.v2-simd-threads").Passed);
    }

    [Fact]
    public void NotSupportedIsNoKernelNotAFailure()
    {
        using var cpu = new CpuAccelerator(vectorBits: 256);
        var good = Verifier.CasesOf("add")[0];
        var missing = new VerifyCase
        {
            Op = good.Op, Label = good.Label, Inputs = good.Inputs, OutputShape = good.OutputShape,
            Launch = (_, _, _, _) => throw new NotSupportedException("add: no ILGPU kernel for this op yet"),
            Reference = good.Reference, Count = good.Count, SpecCost = good.SpecCost, Tolerance = good.Tolerance,
        };
        var rows = Verifier.VerifyOp(cpu, "add", [missing]);
        var row = Assert.Single(rows);
        Assert.Equal(VerifyStatus.NoKernel, row.Status);
        Assert.Contains("no ILGPU kernel", row.Note);
    }

    [Fact]
    public void IlgpuCpuRowsPassOrHaveNoKernel()
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        var copy = Verifier.VerifyOp(acc, "copy");
        Assert.Equal(VerifyStatus.Pass, Assert.Single(copy).Status);
        var embedding = Verifier.VerifyOp(acc, "embedding");
        Assert.Equal(VerifyStatus.Pass, Assert.Single(embedding).Status);
        // Whatever ILGPU kernels exist when this runs: a row passes or says "no kernel", never fails.
        foreach (var r in Verifier.VerifyOp(acc, "add"))
            Assert.True(r.Status != VerifyStatus.Fail, $"{r.Variant}: {r.Note}");
    }

    [Theory]
    [InlineData("cpu.v2-packed", Precision.F32)]
    [InlineData("ilgpu.v2-batched-tiled", Precision.F32)]
    [InlineData("ilgpu.v3-tc-f16", Precision.F16)]
    [InlineData("ilgpu.v2-flash-tc", Precision.F16)]
    [InlineData("cuda.v4-tf32", Precision.Tf32)]
    [InlineData("ilgpu.v5-tc-bf16", Precision.Bf16)]
    public void PrecisionComesFromTheLedgerName(string name, Precision p) => Assert.Equal(p, Tolerances.PrecisionOf(name));

    [Fact]
    public void HalfPrecisionToleranceIsLooserThanFp32()
    {
        Assert.True(Tolerances.Gemm("ilgpu.v3-tc-f16", 70, 1, 0).Atol > 50 * Tolerances.Gemm("ilgpu.v2-tiled", 70, 1, 0).Atol);
        Assert.True(Tolerances.Attention("ilgpu.v2-flash-tc", 40, 77).Atol > Tolerances.Attention("ilgpu.v1-naive", 40, 77).Atol);
        Assert.True(Tolerances.Exact("copy").IsExact);
    }
}
