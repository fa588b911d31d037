using System.Runtime.InteropServices;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Verification;

/// <summary>One input of a case: a dense tensor uploaded before the launch — F32, or I32 (indices: the floats are
/// whole numbers, converted on upload).</summary>
public sealed record Operand(string Name, int[] Shape, float[] Data, DType DType = DType.F32)
{
    internal Tensor Upload(IAccelerator acc)
    {
        if (DType == DType.F32) return acc.FromArray(Data, Shape);
        var t = acc.Allocate(DType.I32, Shape);
        acc.Upload<int>(t, Data.Select(v => (int)v).ToArray());
        return t;
    }
}

/// <summary>
/// One verification case: an op on one small shape with deterministic inputs. <see cref="Launch"/> runs the op through
/// <see cref="Ops"/> on the uploaded inputs into the output tensor with a variant number; <see cref="Reference"/> is the
/// op's scalar reference (F64, or F32 where the op is exact by definition) on the same inputs; <see cref="Count"/> runs
/// the reference with <see cref="Counted"/>; <see cref="SpecCost"/> is what the Spec says it costs.
/// </summary>
public sealed class VerifyCase
{
    /// <summary>The op's ledger name ("gemm", "group_norm_silu", "noise.uniform", …).</summary>
    public required string Op { get; init; }
    public required string Label { get; init; }

    /// <summary>False for ops whose entry takes no variant number (one implementation per backend).</summary>
    public bool HasVariants { get; init; } = true;

    public required Operand[] Inputs { get; init; }
    public required int[] OutputShape { get; init; }
    public DType OutputType { get; init; } = DType.F32;

    /// <summary>The output's content before the launch (gemm with beta ≠ 0); null: NaN (F32) or 0xAB bytes (U8), so an
    /// element the kernel fails to write — or a C read with beta = 0 — shows.</summary>
    public float[]? OutputInit { get; init; }

    public required Action<IAccelerator, Tensor[], Tensor, int> Launch { get; init; }
    public required Func<double[]> Reference { get; init; }
    public required Func<OpCounts> Count { get; init; }
    public required Cost SpecCost { get; init; }

    /// <summary>The tolerance for a variant's ledger name on this shape (see <see cref="Tolerances"/>).</summary>
    public required Func<string, Tolerance> Tolerance { get; init; }

    private double[]? _expected;
    private readonly Lock _lock = new();

    /// <summary>The reference output, computed once and kept (it does not depend on the accelerator or variant).</summary>
    public double[] Expected
    {
        get { lock (_lock) return _expected ??= Reference(); }
    }

    public override string ToString() => $"{Op} {Label}";
}

/// <summary>One case on one variant: its errors against the reference, or why it did not run.</summary>
/// <param name="WorstRatio">max over elements of |got − ref| / (atol + rtol·|ref|); 0 when all equal, ∞ when a
/// bitwise case differs or a value is NaN.</param>
public sealed record CaseResult(string Case, bool Passed, double MaxAbsError, double WorstRatio, int Mismatches, Tolerance Tolerance,
    string? FirstMismatch, string? Error = null, bool Unsupported = false);

/// <summary>A variant number's ledger name on an accelerator, or why it has no kernel there.</summary>
public sealed record VariantInfo(int Number, string? Name, string? NoKernel)
{
    public string Shown => Name ?? $"v{Number}";
}

public enum VerifyStatus { Pass, Fail, NoKernel }

/// <summary>An op's variant on an accelerator over all the op's cases.</summary>
public sealed record VariantResult(string Accelerator, string Op, string Variant, int VariantNumber, VerifyStatus Status,
    int Passed, int Total, int Unsupported, double MaxAbsError, double WorstRatio, Tolerance? WorstTolerance, string? Note,
    IReadOnlyList<CaseResult> Cases);

/// <summary>The FLOP check of one op: the Counted reference against the Spec over every case. Independent of accelerators.</summary>
public sealed record FlopCheck(string Op, int Cases, int Equal, string? FirstMismatch)
{
    public bool Passed => Equal == Cases;
}

/// <summary>Runs verification cases (see <see cref="VerificationCases"/>) on an accelerator.</summary>
public static class Verifier
{
    /// <summary>Variant numbers tried by the dry run: 0 (the default, an alias of one of the others) up to this.</summary>
    public const int MaxVariant = 8;

    /// <summary>Every op that has cases, in registry order.</summary>
    public static IReadOnlyList<string> Ops => VerificationCases.All.Select(c => c.Op).Distinct().ToList();

    public static IReadOnlyList<VerifyCase> CasesOf(string op) => VerificationCases.All.Where(c => c.Op == op).ToList();

    /// <summary>
    /// The distinct variants of <paramref name="c"/>'s op on <paramref name="acc"/>, found by dry runs of variant 0, 1, …
    /// (<see cref="IAccelerator.DryRun"/>: the ledger names the variant, nothing runs). An ArgumentException
    /// (ArgumentOutOfRangeException from the backend) for a number above 0 ends the list; a NotSupportedException is
    /// "no kernel" for that number. Each ledger name is listed once, under the first number that gave it.
    /// </summary>
    public static IReadOnlyList<VariantInfo> Variants(IAccelerator acc, VerifyCase c)
    {
        var list = new List<VariantInfo>();
        int last = c.HasVariants ? MaxVariant : 0;
        for (int v = 0; v <= last; v++)
        {
            string? name;
            try { name = DryRun(acc, c, v); }
            catch (NotSupportedException e) when (IsNoKernel(e))
            {
                list.Add(new VariantInfo(v, null, e.Message));
                if (v == 0) break;   // no kernel for the op's default: the backend has none for this op
                continue;
            }
            catch (ArgumentException) when (v > 0) { break; }
            if (name is not null && !list.Any(x => x.Name == name)) list.Add(new VariantInfo(v, name, null));
        }
        return list;
    }

    private static string? DryRun(IAccelerator acc, VerifyCase c, int variant)
    {
        var tensors = new List<Tensor>();
        int before = acc.Ledger.Count;
        bool wasDry = acc.DryRun;
        try
        {
            foreach (var op in c.Inputs) tensors.Add(acc.Allocate(op.DType, op.Shape, zero: false));
            var y = acc.Allocate(c.OutputType, c.OutputShape, zero: false);
            tensors.Add(y);
            acc.DryRun = true;
            c.Launch(acc, tensors.Take(c.Inputs.Length).ToArray(), y, variant);
            var entries = acc.Ledger.Entries;
            return entries.Count > before ? entries[^1].Variant : null;
        }
        finally
        {
            acc.DryRun = wasDry;
            foreach (var t in tensors) t.Dispose();
        }
    }

    /// <summary>
    /// A NotSupportedException from a backend ("no ILGPU kernel for this op yet", "needs AVX2") means there is no kernel to
    /// check; one thrown inside ILGPU (its compiler rejecting a construct in a kernel that exists) is a failure.
    /// </summary>
    internal static bool IsNoKernel(NotSupportedException e) =>
        e.TargetSite?.DeclaringType?.Assembly != typeof(ILGPU.Context).Assembly;

    /// <summary>Runs <paramref name="c"/> with variant <paramref name="variant"/> (ledger name <paramref name="variantName"/>):
    /// uploads the inputs, launches, downloads the output and compares it with the reference.</summary>
    public static CaseResult RunCase(IAccelerator acc, VerifyCase c, int variant, string variantName)
    {
        var tol = c.Tolerance(variantName);
        var tensors = new List<Tensor>();
        try
        {
            foreach (var op in c.Inputs) tensors.Add(op.Upload(acc));
            var y = acc.Allocate(c.OutputType, c.OutputShape, zero: false);
            tensors.Add(y);
            long n = y.Length;
            if (c.OutputType == DType.U8)
            {
                var init = new byte[n];
                Array.Fill(init, (byte)0xAB);
                acc.Upload<byte>(y, init);
            }
            else
            {
                var init = c.OutputInit ?? Enumerable.Repeat(float.NaN, (int)n).ToArray();
                acc.Upload<float>(y, init);
            }
            int before = acc.Ledger.Count;
            c.Launch(acc, tensors.Take(c.Inputs.Length).ToArray(), y, variant);
            acc.Synchronize();
            // A backend may pick its kernel by shape (e.g. tensor cores only for aligned sizes): the tolerance follows
            // the variant that actually ran, as the ledger names it.
            var entries = acc.Ledger.Entries;
            string ran = entries.Skip(before).FirstOrDefault(e => e.Op == c.Op)?.Variant ?? variantName;
            if (ran != variantName) tol = c.Tolerance(ran) with { Source = $"ran as {ran}: {c.Tolerance(ran).Source}" };
            double[] got;
            if (c.OutputType == DType.U8)
            {
                var b = new byte[n];
                acc.Download<byte>(y, b);
                got = Array.ConvertAll(b, v => (double)v);
            }
            else got = Array.ConvertAll(acc.Download(y), v => (double)v);
            return Compare(c.Label, c.OutputShape, c.Expected, got, tol);
        }
        catch (NotSupportedException e) when (IsNoKernel(e))
        {
            return new CaseResult(c.Label, false, 0, 0, 0, tol, null, e.Message, Unsupported: true);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException or AccessViolationException))
        {
            // Anything else — a shape the kernel rejects, an ILGPU compile or launch error — is this case failing.
            return new CaseResult(c.Label, false, double.PositiveInfinity, double.PositiveInfinity, 0, tol, null, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    /// <summary>
    /// The comparison rule: element i passes when |got − ref| ≤ atol + rtol·|ref| (a NaN never passes), or, for an exact
    /// tolerance, when the float bits are identical. Internal so tests can feed it a perturbed output.
    /// </summary>
    internal static CaseResult Compare(string label, int[] shape, double[] expected, double[] got, Tolerance tol)
    {
        if (expected.Length != got.Length)
            return new CaseResult(label, false, double.PositiveInfinity, double.PositiveInfinity, got.Length, tol, null,
                $"output has {got.Length} values, the reference {expected.Length}");
        double maxErr = 0, worst = 0;
        int bad = 0;
        string? first = null;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], g = got[i];
            double err = Math.Abs(g - e);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            bool ok;
            double ratio;
            if (tol.IsExact)
            {
                ok = BitConverter.SingleToInt32Bits((float)e) == BitConverter.SingleToInt32Bits((float)g);
                ratio = ok ? 0 : double.PositiveInfinity;
                if (!ok && err == 0) err = double.Epsilon;   // −0 vs +0, or two different NaNs: still a difference
            }
            else
            {
                double bound = tol.Atol + tol.Rtol * Math.Abs(e);
                ok = err <= bound;
                ratio = err == 0 ? 0 : bound > 0 ? err / bound : double.PositiveInfinity;
            }
            maxErr = Math.Max(maxErr, err);
            worst = Math.Max(worst, ratio);
            if (!ok)
            {
                // The first three mismatches with their coordinates (N,C,H,W for 4-D outputs; DESIGN §5).
                if (++bad <= 3)
                    first = (first is null ? "" : first + "; ") + $"at {Coord(i, shape)}: got {g:R}, expected {e:R}, |diff| {err:G4}";
            }
        }
        return new CaseResult(label, bad == 0, maxErr, worst, bad, tol, first);
    }

    /// <summary>Index → "[n,c,h,w]" in <paramref name="shape"/>.</summary>
    public static string Coord(long index, ReadOnlySpan<int> shape)
    {
        var c = new long[shape.Length];
        long rem = index;
        for (int d = shape.Length - 1; d >= 0; d--) { c[d] = rem % shape[d]; rem /= shape[d]; }
        return "[" + string.Join(",", c) + "]";
    }

    /// <summary>Every variant of <paramref name="op"/> on <paramref name="acc"/> over all the op's cases.</summary>
    public static IReadOnlyList<VariantResult> VerifyOp(IAccelerator acc, string op) => VerifyOp(acc, op, CasesOf(op));

    /// <summary>Every variant of <paramref name="op"/> on <paramref name="acc"/> over <paramref name="cases"/> (all of
    /// that op; tests pass their own).</summary>
    public static IReadOnlyList<VariantResult> VerifyOp(IAccelerator acc, string op, IReadOnlyList<VerifyCase> cases)
    {
        ArgumentNullException.ThrowIfNull(acc);
        if (cases.Count == 0) throw new ArgumentException($"verify: no cases for op '{op}'", nameof(op));
        IReadOnlyList<VariantInfo> variants;
        try { variants = Variants(acc, cases[0]); }
        catch (Exception e) when (e is not (OutOfMemoryException or StackOverflowException or AccessViolationException))
        {
            // e.g. an ILGPU kernel that fails to compile when its kernel class loads: the op fails, named, and the run goes on.
            return [new VariantResult(acc.Id, op, "v0", 0, VerifyStatus.Fail, 0, cases.Count, 0, double.PositiveInfinity,
                double.PositiveInfinity, null, $"dry run failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}", [])];
        }
        var results = new List<VariantResult>();
        foreach (var v in variants)
        {
            if (v.Name is null)
            {
                results.Add(new VariantResult(acc.Id, op, v.Shown, v.Number, VerifyStatus.NoKernel, 0, cases.Count, 0, 0, 0, null, v.NoKernel, []));
                continue;
            }
            var rs = cases.Select(c => RunCase(acc, c, v.Number, v.Name)).ToList();
            results.Add(Summarise(acc.Id, op, v.Name, v.Number, rs));
        }
        return results;
    }

    /// <summary>Rolls case results up into a row: passes when no case failed and at least one ran.</summary>
    internal static VariantResult Summarise(string accelerator, string op, string variant, int number, IReadOnlyList<CaseResult> rs)
    {
        int unsupported = rs.Count(r => r.Unsupported);
        int passed = rs.Count(r => r.Passed);
        bool failed = rs.Any(r => !r.Passed && !r.Unsupported);
        var worstCase = rs.Where(r => !r.Unsupported).OrderByDescending(r => r.WorstRatio).FirstOrDefault();
        var firstFail = rs.FirstOrDefault(r => !r.Passed && !r.Unsupported);
        string? note = firstFail is null
            ? unsupported > 0 ? $"{unsupported} case(s) not supported: {rs.First(r => r.Unsupported).Error}" : null
            : $"{firstFail.Case}: {firstFail.Error ?? $"{firstFail.Mismatches} mismatch(es), first {firstFail.FirstMismatch} (tolerance {firstFail.Tolerance})"}";
        var status = failed ? VerifyStatus.Fail : passed > 0 ? VerifyStatus.Pass : VerifyStatus.NoKernel;
        return new VariantResult(accelerator, op, variant, number, status, passed, rs.Count, unsupported,
            rs.Where(r => !r.Unsupported).Select(r => r.MaxAbsError).DefaultIfEmpty(0).Max(),
            worstCase?.WorstRatio ?? 0, worstCase?.Tolerance, note, rs);
    }

    /// <summary>The FLOP check of <paramref name="op"/>: for every case, the Counted reference's count must equal the
    /// Spec's <see cref="Cost.ArithmeticOnly"/> exactly.</summary>
    public static FlopCheck CheckFlops(string op)
    {
        var cases = CasesOf(op);
        int equal = 0;
        string? first = null;
        foreach (var c in cases)
        {
            var counted = c.Count().ToCost();
            var spec = c.SpecCost.ArithmeticOnly;
            if (counted == spec) equal++;
            else first ??= $"{c.Label}: counted {counted}, spec {spec}";
        }
        return new FlopCheck(op, cases.Count, equal, first);
    }

    internal static F64[] D(float[] a) => Array.ConvertAll(a, v => new F64(v));
    internal static Counted[] C(float[] a) => Array.ConvertAll(a, v => new Counted(v));
    internal static double[] Out(F64[] a) => Array.ConvertAll(a, v => v.V);
    internal static double[] Out(float[] a) => Array.ConvertAll(a, v => (double)v);
    internal static double[] Out(byte[] a) => Array.ConvertAll(a, v => (double)v);
    internal static Span<float> AsFloats(Span<F32> s) => MemoryMarshal.Cast<F32, float>(s);
}
