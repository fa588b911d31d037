namespace PixelCost.Kernels;

/// <summary>What the optional second output <c>aux</c> of the denoise step receives.</summary>
public enum DenoiseAux
{
    /// <summary>aux = m̂, the guided model output (ε̂ for ε-models): a copy, no FLOPs (PLMS keeps these as history).</summary>
    Guided,
    /// <summary>aux = Ax·x + Ae·m̂, e.g. the x0-prediction (DPM-Solver++ history, LCM's <c>denoised</c>): 3 FLOPs/element.</summary>
    X0,
}

/// <summary>
/// The per-step scalars of <see cref="Ops.DenoiseStep"/>, computed on the host by the scheduler. Elementwise over the
/// latent, with m the model output ([N,…], or [2N,…] = (uncond, cond) with classifier-free guidance):
/// <code>
///   m̂   = cfg ? u + Guidance·(c − u) : m                      (u = m[:N], c = m[N:], as diffusers' chunk(2))
///   out = Cx·x + Ce·m̂ [+ Cn·noise] [+ Ch·hist]                (bracketed terms only when that tensor is given)
///   aux = m̂ (AuxKind Guided) or Ax·x + Ae·m̂ (AuxKind X0)     (only when aux is given)
/// </code>
/// <c>noise</c> and <c>hist</c> are just two optional extra addends of x's shape: the names say their usual use (the
/// step's fresh Gaussian noise; a previous step's quantity), but a multistep solver may put any older history there.
/// Every diffusers scheduler below is linear in (x, m̂, noise, history) for one step, so each step is one launch
/// (PLMS in its steady state: two). Notation: ᾱ_t = alphas_cumprod[t], ᾱ_p = ᾱ at the previous (next lower) timestep
/// (the scheduler's final/"one" value when that is &lt; 0), β̄ = 1 − ᾱ; m̂ is ε̂ for epsilon models and v̂ for
/// v-prediction models (guidance is linear, so it applies to whichever the model predicts). Sources: diffusers v0.27.2
/// scheduling_*.py <c>step</c>. Not covered (not linear): <c>clip_sample</c> and dynamic <c>thresholding</c> of x0
/// (both off in the SD configs), learned-variance models (DDPM <c>learned_range</c>).
/// <list type="table">
/// <item><term>DDIM (η, ε)</term><description>σ = η·√(β̄_p/β̄_t·(1 − ᾱ_t/ᾱ_p)), d = √(1 − ᾱ_p − σ²):
///   Cx = √(ᾱ_p/ᾱ_t), Ce = d − √ᾱ_p·√β̄_t/√ᾱ_t, noise (only if η &gt; 0) with Cn = σ.</description></item>
/// <item><term>DDIM (v-prediction)</term><description>x0 = √ᾱ_t·x − √β̄_t·v, ε = √ᾱ_t·v + √β̄_t·x:
///   Cx = √ᾱ_p·√ᾱ_t + d·√β̄_t, Ce = d·√ᾱ_t − √ᾱ_p·√β̄_t, Cn = σ as above.</description></item>
/// <item><term>DDPM (fixed_small)</term><description>α = ᾱ_t/ᾱ_p, β = 1 − α, A = √ᾱ_p·β/β̄_t, B = √α·β̄_p/β̄_t:
///   ε: Cx = A/√ᾱ_t + B, Ce = −A·√β̄_t/√ᾱ_t; v: Cx = A·√ᾱ_t + B, Ce = −A·√β̄_t;
///   noise for t &gt; 0 with Cn = √max(β̄_p/β̄_t·β, 1e-20) (absent at t = 0).</description></item>
/// <item><term>Euler (ε)</term><description>σ̂ = σ·(γ + 1), dt = σ_next − σ̂: Cx = 1, Ce = dt;
///   churn (γ &gt; 0) adds noise with Cn = s_noise·√(σ̂² − σ²) (diffusers adds it after the model call, so linear).
///   v: x0 = a·v + b·x' with a = −σ/√(σ²+1), b = 1/(σ²+1): Cx = 1 + dt/σ̂·(1 − b), Ce = −dt/σ̂·a, Cn = s_noise·√(σ̂² − σ²)·Cx.
///   The model-input scaling x/√(σ²+1) feeds the UNet and is not part of this op.</description></item>
/// <item><term>Euler ancestral</term><description>σ_up = √(σ_next²·(σ² − σ_next²)/σ²), σ_down = √(σ_next² − σ_up²),
///   dt = σ_down − σ: ε: Cx = 1, Ce = dt; v: Cx = 1 + dt/σ·(1 − b), Ce = −dt/σ·a (a, b as Euler); Cn = σ_up.</description></item>
/// <item><term>LCM</term><description>c_skip = 0.25/(s² + 0.25), c_out = s/√(s² + 0.25) with s = t·timestep_scaling;
///   denoised = Ax·x + Ae·m̂ with (ε) Ax = c_out/√ᾱ_t + c_skip, Ae = −c_out·√β̄_t/√ᾱ_t (v: Ax = c_out·√ᾱ_t + c_skip,
///   Ae = −c_out·√β̄_t); aux (X0) = denoised when wanted. Not the last step: Cx = √ᾱ_p·Ax, Ce = √ᾱ_p·Ae, noise with
///   Cn = √β̄_p (ᾱ_p at the next timestep of the list). Last step: Cx = Ax, Ce = Ae, no noise (out = denoised).</description></item>
/// <item><term>PNDM / PLMS (skip_prk_steps)</term><description>Each step is x_p = sc·x + k·e′ with sc = √(ᾱ_p/ᾱ_t),
///   k = −(ᾱ_p − ᾱ_t)/(ᾱ_t·√β̄_p + √(ᾱ_t·β̄_t·ᾱ_p)) and e′ a combination of m̂ and the kept outputs e (diffusers' ets);
///   aux (Guided) appends m̂ to the kept outputs. Counter 0: Cx = sc, Ce = k, aux; write out elsewhere, x is needed again.
///   Counter 1 (the timestep repeats; diffusers steps t+Δ → t from the saved counter-0 sample, not appending m̂): x = saved
///   sample, Cx = sc(t+Δ→t), Ce = k/2, hist = e₀, Ch = k/2. Counter 2: Cx = sc, Ce = 3k/2, hist = e₀, Ch = −k/2, aux.
///   Counter 3: Ce = 23k/12, hist = e₋₁, Ch = −16k/12, noise = e₋₂, Cn = 5k/12, aux. Counter ≥ 4, two launches:
///   (1) Cx = sc, Ce = 55k/24, noise = e₋₂, Cn = 37k/24, hist = e₋₃, Ch = −9k/24, aux = the buffer of e₋₃ (aux may be hist:
///   elementwise read-before-write), out = x; (2) x = that out, m = e₋₁ (no guidance), Cx = 1, Ce = −59k/24, out = x.
///   v-prediction converts e′ as √ᾱ_t·e′ + √β̄_t·x: multiply every e-coefficient by √ᾱ_t and add k·√β̄_t to Cx.</description></item>
/// <item><term>DPM-Solver++ 2M (midpoint)</term><description>With the step's σ's (k-diffusion, sigmas[i], sigmas[i+1]):
///   α = 1/√(σ² + 1), s = σ·α, λ = ln α − ln s, h = λ_t − λ_s0, A = α_t·(e^(−h) − 1); x0 = Ax·x + Ae·m̂ with
///   (ε) Ax = 1/α_s0, Ae = −s_s0/α_s0 (v: Ax = α_s0, Ae = −s_s0); aux (X0) = x0 is the next step's hist.
///   First order (first step; last step with lower_order_final): Cx = s_t/s_s0 − A·Ax, Ce = −A·Ae (with σ_t = 0, A = −1:
///   out = x0). Second order, r0 = (λ_s0 − λ_s1)/h, w = 1 + 1/(2r0): Cx = s_t/s_s0 − A·w·Ax, Ce = −A·w·Ae,
///   hist = the previous x0, Ch = A/(2r0); aux may be the hist buffer (read before write). SDE-DPM-Solver++ adds noise
///   with Cn = s_t·√(1 − e^(−2h)) and its own Cx, Ce.</description></item>
/// </list>
/// Checked against diffusers' recorded float64 trajectories, every step (DenoiseStepGoldenTests): DDIM ε and v, DDPM ε
/// (on the values its default clip_sample leaves alone), Euler ε, Euler ancestral ε, LCM ε, PNDM/PLMS ε (warm-up and the
/// two-launch steady state) and DPM-Solver++ 2M ε. The other forms above (v-prediction of DDPM/Euler/LCM/PNDM/DPM, Euler
/// churn, DDIM η &gt; 0, SDE-DPM) follow from the same diffusers code by the same algebra but have no golden check.
/// </summary>
public readonly record struct DenoiseCoefficients(
    float Cx, float Ce, float Cn = 0f, float Ch = 0f, float Guidance = 1f,
    DenoiseAux AuxKind = DenoiseAux.Guided, float Ax = 0f, float Ae = 1f);

/// <summary>
/// Shape rules and cost of the fused denoise step (see <see cref="DenoiseCoefficients"/> for the formula). FLOPs are
/// what <see cref="DenoiseStepReference"/> executes per element: guidance c − u, ·g, + u = 3 (only with a [2N,…] model
/// output); Cx·x + Ce·m̂ = 2 multiplies + 1 add = 3; each present extra term (noise, hist) a multiply and an add = 2;
/// aux of kind X0 Ax·x + Ae·m̂ = 3 (kind Guided is a copy: 0). Bytes: every input read once (the model output is 2n
/// floats with guidance), every output written once; in place (out = x) still counts one read and one write.
/// </summary>
public static class DenoiseStepSpec
{
    public const string Op = "denoise_step";

    /// <summary>
    /// x: [N, …]; modelOut: [N, …] or [2N, …] with x's trailing dims; noise, hist, out, aux (each optional but out): x's
    /// shape. out and aux may be exactly x, noise or hist (in place: each element is read before it is written) but
    /// must not overlap modelOut or each other.
    /// </summary>
    public static void Validate(Tensor x, Tensor modelOut, Tensor? noise, Tensor? hist, Tensor y, Tensor? aux, DenoiseCoefficients c)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(modelOut);
        ArgumentNullException.ThrowIfNull(y);
        Shapes.RequireF32(Op, "x", x); Shapes.RequireF32(Op, "modelOut", modelOut); Shapes.RequireF32(Op, "out", y);
        Shapes.RequireNonEmpty(Op, "x", x);
        int n = x.Dim(0);
        bool trailing = modelOut.Rank == x.Rank && modelOut.Shape[1..].SequenceEqual(x.Shape[1..]);
        if (!trailing || (modelOut.Dim(0) != n && modelOut.Dim(0) != 2 * n))
            throw new ArgumentException(
                $"{Op}: modelOut {modelOut.ShapeString} must be [N, …] or [2N, …] (uncond, cond) with the trailing dims of x {x.ShapeString} (N = {n})");
        RequireLikeX("out", y);
        if (noise != null) RequireLikeX("noise", noise);
        if (hist != null) RequireLikeX("hist", hist);
        if (aux != null) RequireLikeX("aux", aux);
        foreach (var (name, t) in Outputs())
        {
            Shapes.RequireSameOrDisjoint(Op, "x", x, name, t);
            if (noise != null) Shapes.RequireSameOrDisjoint(Op, "noise", noise, name, t);
            if (hist != null) Shapes.RequireSameOrDisjoint(Op, "hist", hist, name, t);
            if (t.Overlaps(modelOut))
                throw new ArgumentException($"{Op}: {name} {t.ShapeString} must not overlap modelOut {modelOut.ShapeString}");
        }
        if (aux != null && aux.Overlaps(y))
            throw new ArgumentException($"{Op}: aux {aux.ShapeString} must not overlap out {y.ShapeString}");
        float[] all = [c.Cx, c.Ce, c.Cn, c.Ch, c.Guidance, c.Ax, c.Ae];
        if (!all.All(float.IsFinite))
            throw new ArgumentException($"{Op}: every coefficient must be finite, got {c} (x {x.ShapeString})");
        if (!Enum.IsDefined(c.AuxKind))
            throw new ArgumentException($"{Op}: unknown aux kind {(int)c.AuxKind} (x {x.ShapeString})");

        void RequireLikeX(string name, Tensor t)
        {
            Shapes.RequireF32(Op, name, t);
            if (!t.Shape.SequenceEqual(x.Shape))
                throw new ArgumentException($"{Op}: {name} {t.ShapeString} must have the shape of x {x.ShapeString}");
        }

        IEnumerable<(string, Tensor)> Outputs()
        {
            yield return ("out", y);
            if (aux != null) yield return ("aux", aux);
        }
    }

    /// <summary>FLOPs per element (see the class comment).</summary>
    public static long OtherPerElement(bool guidance, bool noise, bool hist, DenoiseAux? aux) =>
        3 + (guidance ? 3 : 0) + (noise ? 2 : 0) + (hist ? 2 : 0) + (aux == DenoiseAux.X0 ? 3 : 0);

    /// <param name="xShape">The latent's shape [N, …].</param>
    /// <param name="guidance">modelOut is [2N, …] (classifier-free guidance).</param>
    /// <param name="noise">A noise tensor is given.</param>
    /// <param name="hist">A history tensor is given.</param>
    /// <param name="aux">The aux output's kind, null when there is no aux output.</param>
    public static Cost Cost(ReadOnlySpan<int> xShape, bool guidance, bool noise, bool hist, DenoiseAux? aux)
    {
        long n = Tensor.ElementCount(xShape);
        long reads = 1 + (guidance ? 2 : 1) + (noise ? 1 : 0) + (hist ? 1 : 0);
        long writes = 1 + (aux != null ? 1 : 0);
        return new Cost(0, OtherPerElement(guidance, noise, hist, aux) * n, 0, 4 * n * reads, 4 * n * writes);
    }

    /// <summary>The cost of a call with these tensors (what the Ops entry records).</summary>
    public static Cost Cost(Tensor x, Tensor modelOut, Tensor? noise, Tensor? hist, Tensor? aux, DenoiseCoefficients c) =>
        Cost(x.Shape, modelOut.Dim(0) != x.Dim(0), noise != null, hist != null, aux != null ? c.AuxKind : null);
}
