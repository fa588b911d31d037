namespace PixelCost.Kernels.Verification;

/// <summary>A comparison rule |got − ref| ≤ <see cref="Atol"/> + <see cref="Rtol"/>·|ref| (DESIGN §5), with where it
/// comes from. Atol = Rtol = 0 means bitwise: the float bits (or bytes) must be identical.</summary>
public readonly record struct Tolerance(double Atol, double Rtol, string Source)
{
    public bool IsExact => Atol == 0 && Rtol == 0;

    public static Tolerance Exact(string source) => new(0, 0, source);

    public override string ToString() => IsExact ? "bitwise" : $"atol {Atol:G3} + rtol {Rtol:G3}·|ref|";
}

/// <summary>The arithmetic a variant computes in, read from its ledger name.</summary>
public enum Precision { F32, Tf32, F16, Bf16 }

/// <summary>
/// One function per op family giving the tolerance of a variant (by its ledger name) on a shape. Inputs of the
/// verification cases are uniform in [−0.5, 0.5) unless a case says otherwise (see <see cref="VerificationCases"/>),
/// which is what the dot-product bounds below assume (|a·b| ≤ 1/4 per term).
/// </summary>
public static class Tolerances
{
    /// <summary>fp32 unit roundoff u = 2⁻²⁴ (half an ulp of 1).</summary>
    public const double U32 = 1.0 / (1 << 24);

    /// <summary>fp16 and tf32 keep 10 explicit mantissa bits: rounding an input costs up to 2⁻¹¹ relative.</summary>
    public const double U16 = 1.0 / (1 << 11);

    /// <summary>bf16 keeps 7: 2⁻⁸ relative.</summary>
    public const double UBf16 = 1.0 / (1 << 8);

    /// <summary>
    /// The precision a ledger name says: a token "tf32" → tf32; "bf16" → bf16; "f16"/"fp16"/"half" or a tensor-core
    /// token "tc" (e.g. "ilgpu.v3-tc-f16", "ilgpu.v2-flash-tc") → fp16 inputs with fp32 accumulation; anything else
    /// fp32. Tokens, not substrings: "batched" contains "tc" and is an fp32 name.
    /// </summary>
    public static Precision PrecisionOf(string variant)
    {
        var tokens = variant.ToLowerInvariant().Split(['.', '-', '_', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (tokens.Contains("tf32")) return Precision.Tf32;
        if (tokens.Contains("bf16")) return Precision.Bf16;
        if (tokens.Any(t => t is "f16" or "fp16" or "half" or "tc")) return Precision.F16;
        return Precision.F32;
    }

    /// <summary>Relative rounding of one input element before the multiply (0 for fp32 kernels).</summary>
    private static double InputRounding(Precision p) => p switch
    {
        Precision.F32 => 0,
        Precision.Bf16 => UBf16,
        _ => U16,   // fp16 and tf32: 10-bit mantissa
    };

    /// <summary>
    /// A dot product of <paramref name="terms"/> products of inputs with |v| ≤ 0.5 (so Σ|a·b| ≤ terms/4), times
    /// <paramref name="scale"/>: fp32 accumulation in any order errs by ≤ (terms + 2)·u·Σ|a·b| (Higham, Thm 3.1, one more
    /// rounding for a bias/alpha), doubled for margin (the same bound as the kernel tests' TestData.DotAtol); rounding
    /// both inputs to fp16/tf32/bf16 adds 2·u_in·Σ|a·b|. 1e-7 keeps an exact-zero product sum from demanding 0.
    /// </summary>
    public static double DotAtol(long terms, Precision p, double scale = 1)
    {
        double sumAbs = terms * 0.25 + 1;
        return 2.0 * sumAbs * ((terms + 2) * U32 + 2 * InputRounding(p)) * scale + 1e-7;
    }

    /// <summary>gemm: K-term dot products scaled by |alpha|, plus the rounding of beta·c (|c| ≤ 0.5).</summary>
    public static Tolerance Gemm(string variant, int k, float alpha, float beta)
    {
        var p = PrecisionOf(variant);
        return new(DotAtol(k, p, Math.Abs(alpha)) + Math.Abs(beta) * 0.5 * 2 * U32, 0,
            $"{p} K={k}-term dot product (Σ|ab| ≤ K/4, (K+2)·2⁻²⁴ accumulation{(p == Precision.F32 ? "" : ", inputs rounded")}) ×|alpha|, + beta·c rounding");
    }

    /// <summary>linear: K-term dot products plus the bias add (inside the K+2 roundings).</summary>
    public static Tolerance Linear(string variant, int k)
    {
        var p = PrecisionOf(variant);
        return new(DotAtol(k, p), 0, $"{p} K={k}-term dot product + bias rounding");
    }

    /// <summary>conv2d: Cin·kh·kw-term dot products (padding taps included) plus the bias.</summary>
    public static Tolerance Conv2d(string variant, int cin, int kh, int kw)
    {
        var p = PrecisionOf(variant);
        int terms = cin * kh * kw;
        return new(DotAtol(terms, p), 0, $"{p} Cin·kh·kw={terms}-term dot product + bias rounding");
    }

    /// <summary>
    /// attention (q, k, v uniform in [−0.5, 0.5), scale 1/√D): fp32 — a score is a D-term dot product (≤ D·2⁻²⁴·D/4·scale
    /// absolute in the exp argument), exp ≈ 2 ulp, so each probability is within ~1e-6 relative and o = Σp·v (Σp = 1,
    /// |v| ≤ 0.5) within ~1e-6 + Lk·2⁻²⁴ absolute; atol 5e-6·max(1, Lk/100), rtol 5e-5 (the AttentionTests budget).
    /// fp16 tensor cores (flash-tc): q, k rounded to fp16 put ~2·2⁻¹¹·Σ|q·k|·scale ≤ √D·2⁻¹¹/2 into each score, P and v
    /// rounded to fp16 add 2·2⁻¹¹ relative to each product of PV: atol 4·(√D/2 + 2)·2⁻¹¹·0.5, rtol 2⁻⁸.
    /// </summary>
    public static Tolerance Attention(string variant, int d, int lk)
    {
        var p = PrecisionOf(variant);
        if (p == Precision.F32) return new(5e-6 * Math.Max(1.0, lk / 100.0), 5e-5, $"fp32 D={d} score dot + exp + Lk={lk}-term PV (AttentionTests budget)");
        double u = InputRounding(p);
        return new(4 * (Math.Sqrt(d) / 2 + 2) * u * 0.5, UBf16, $"{p} inputs rounded ({u:G3}) into D={d} scores and P·V, fp32 accumulation");
    }

    /// <summary>softmax over d: exp ≈ 2 ulp, the row sum's d roundings, one divide; inputs in [−4, 4).</summary>
    public static Tolerance Softmax(string variant, int d)
    {
        var p = PrecisionOf(variant);
        double u = p == Precision.F32 ? U32 : InputRounding(p);
        return new(1e-7, 8 * u + 2 * d * U32, $"{p}: exp ~2 ulp + a {d}-term row sum + divide");
    }

    /// <summary>
    /// group/layer norm over m values (inputs in [−2, 2), gamma/beta in [−0.5, 0.5)): fp32 statistics within ~m·2⁻²⁴
    /// relative, rsqrt ~2 ulp, so normalised values (|v| ≲ 4) within ~1e-6; atol = rtol = 1e-5 + 4·m·2⁻²⁴
    /// (NormTests' 1e-5, grown with the reduction length).
    /// </summary>
    public static Tolerance Norm(string variant, long m)
    {
        var p = PrecisionOf(variant);
        double t = 1e-5 + 4 * m * U32 + 16 * InputRounding(p);
        return new(t, t, $"{p}: {m}-value mean/variance reductions + rsqrt (NormTests 1e-5, + 4·m·2⁻²⁴)");
    }

    /// <summary>silu/gelu/quick_gelu/geglu (inputs in [−6, 6)): SimdMath exp/erf/tanh within ~2.4e-7 relative / 1.2e-7
    /// absolute, times |x| ≤ 6 (ElementwiseTests' ActAtol 1e-6, ActRtol 2e-6; geglu multiplies one more value).</summary>
    public static Tolerance Activation(string variant, bool gated = false)
    {
        var p = PrecisionOf(variant);
        double extra = 16 * InputRounding(p);
        return gated
            ? new(4e-6 + extra, 4e-6 + extra, $"{p}: erf GELU of the gate (ActAtol/ActRtol) × one more value, ×2")
            : new(1e-6 + extra, 2e-6 + extra, $"{p}: vector exp/erf/tanh (ElementwiseTests ActAtol 1e-6, ActRtol 2e-6)");
    }

    /// <summary>add, add_channel_bias, scale: one fp32 rounding of the exact result (≤ 2⁻²⁴ relative; 2⁻²³ allowed).</summary>
    public static Tolerance OneRounding(string variant)
    {
        var p = PrecisionOf(variant);
        return new(0, p == Precision.F32 ? 2 * U32 : 2 * InputRounding(p), $"{p}: one rounding of the exact result");
    }

    /// <summary>
    /// timestep embedding: arg = t·freq in fp32 errs by ≤ ~3 roundings of |arg| ≤ tMax (freq from exp ≈ 1 ulp, the
    /// product, the i/(half − shift) quotient), which sin/cos (slope ≤ 1) pass on as absolute error, plus their own ~2 ulp.
    /// </summary>
    public static Tolerance Timestep(string variant, double tMax)
    {
        var p = PrecisionOf(variant);
        return new(8 * (tMax + 1) * U32 + 4 * U32, 0, $"{p}: arg = t·freq with |arg| ≤ {tMax} → ~3 roundings of arg in sin/cos");
    }

    /// <summary>
    /// Gaussian noise (Box–Muller): |z| ≤ r_max = √(−2 ln 2⁻²⁴) ≈ 5.77; the log's ≤ 2 ulp relative error is halved by the
    /// sqrt; sin/cos ≤ 2 ulp of 1 absolute (NoiseTests' LogMaxRelErr, TrigMaxAbsErr), ×2 margin against the double reference.
    /// </summary>
    public static Tolerance Gaussian(string variant, float std)
    {
        const double rMax = 5.77;
        return new(2 * std * rMax * (4 * U32 + U32), 2 * (2 * U32 + 6 * U32),
            $"{PrecisionOf(variant)}: Box–Muller, log ≤ 2 ulp rel., sin/cos ≤ 2 ulp abs. (NoiseTests), ×2");
    }

    /// <summary>
    /// Smooth value noise interpolates lattice values with a smoothstep (a·b + c chains). On the host (cpu, ilgpu-cpu)
    /// each product and sum is rounded as the reference rounds it, so the result is bitwise; CUDA's compiler contracts
    /// a·b + c into one FMA (one rounding fewer), measured on an H200 at ≤ 5.96e-8 absolute on values in [0, 1]
    /// (≈ 1 ulp relative). So: 2 ulp relative (2⁻²²), the same on every accelerator — a wrong lattice value or weight
    /// moves results by ≥ 1e-3.
    /// </summary>
    public static Tolerance SmoothNoise() => new(0, Math.Pow(2, -22), "pixels.smooth_noise: bitwise on the host; CUDA may contract a·b + c into an FMA (≤ 1 ulp, measured on an H200)");

    /// <summary>Copies, concatenation, upsampling, uniform noise, pixel maps, quantisation: the definition is exact
    /// (moves, integer RNG + a power-of-two scale, or the float reference's own rounding), so bitwise.</summary>
    public static Tolerance Exact(string op) => Tolerance.Exact($"{op}: exact by definition (bitwise)");
}
