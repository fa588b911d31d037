using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Kernels.Tests;

// Inside PixelCost.Kernels.*, a bare `Ops` names the namespace PixelCost.Kernels; this alias names the class.

/// <summary>
/// The coefficient mapping of <see cref="DenoiseCoefficients"/> checked against diffusers: the scheduler trajectories in
/// Golden/schedulers/ (see its README: diffusers 0.27.2, float64, a fixed stand-in model
/// eps = 0.5·xin + 0.001·t·tanh(xin) − 0.1 with xin = scale_model_input(x, t); every random draw recorded). For every
/// step k we take the recorded sample x_k, evaluate the stand-in model in double, compute the step's coefficients here
/// (what the runtime's schedulers will do) and run one <see cref="Ops.DenoiseStep"/> (two for PLMS in its steady state);
/// the result must be the recorded x_{k+1}. Multistep history (PLMS ets, DPM-Solver++ x0) is whatever the op's aux
/// output wrote in earlier steps, so the aux path is checked too. Configs: 1000 training steps, scaled_linear betas
/// 0.00085 → 0.012, 4 inference steps (index.json in the shared golden folder).
/// </summary>
[Trait("Golden", "diffusers 0.27.2 scheduler trajectories (shared golden/schedulers)")]
public class DenoiseStepGoldenTests
{
    private static readonly CpuAccelerator Cpu = new();

    // Our fp32 step vs diffusers' float64 (coefficients from float32 torch tensors): x_k and the model output are
    // rounded to fp32 (2⁻²⁴ relative) and the step adds a few roundings, all relative to Σ|terms| = |Cx·x| + |Ce·m| + …
    // ≲ 15 here (Cx ≤ ~3, |x| ≲ 4; Euler-ancestral's first Ce = −10.7 with |m| ≲ 1.3), so ≈ 6·6e-8·15 ≈ 5e-6; our
    // ᾱ table (float32 like torch's) may differ from torch's in the last bit, 1e-7 relative of a coefficient. A wrong
    // coefficient or term moves x by ≥ 1e-3.
    private const double Atol = 1e-5, Rtol = 1e-5;

    private const int Elements = 64;
    private static readonly int[] Shape = [1, 4, 4, 4];

    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "schedulers");

    private sealed class Trajectory : IDisposable
    {
        public Trajectory(string name)
        {
            Name = name;
            File = SafetensorsFile.Open(Path.Combine(Dir, name + ".safetensors"));
            Samples = File.ReadDoubles("samples");
            Timesteps = File.ReadDoubles("timesteps");
            Sigmas = File.Contains("sigmas") ? File.ReadDoubles("sigmas") : [];
            Noise = File.Contains("noise") ? File.ReadDoubles("noise") : [];
        }

        public string Name { get; }
        public SafetensorsFile File { get; }
        public double[] Samples { get; }
        public double[] Timesteps { get; }
        public double[] Sigmas { get; }
        public double[] Noise { get; }
        public int Steps => Timesteps.Length;

        public double[] Sample(int k) => Samples.AsSpan(k * Elements, Elements).ToArray();
        public double[] NoiseDraw(int k) => Noise.AsSpan(k * Elements, Elements).ToArray();

        public void Dispose() => File.Dispose();
    }

    /// <summary>alphas_cumprod as torch makes it: linspace(√0.00085, √0.012, 1000) in float32, squared, 1 − β in
    /// float32, the running product accumulated in double (CPU cumprod's accumulate type) and stored as float32.</summary>
    private static readonly double[] AlphasCumprod = MakeAlphasCumprod();

    private static double[] MakeAlphasCumprod()
    {
        const int steps = 1000;
        float start = (float)Math.Sqrt(0.00085), end = (float)Math.Sqrt(0.012);
        float step = (end - start) / (steps - 1);
        var a = new double[steps];
        double acc = 1;
        for (int i = 0; i < steps; i++)
        {
            float v = i < steps / 2 ? start + step * i : end - step * (steps - i - 1);
            float beta = v * v;
            acc *= 1f - beta;
            a[i] = (float)acc;
        }
        return a;
    }

    private static double Abar(double t) => AlphasCumprod[(int)t];

    /// <summary>The stand-in model on xin = scale·x, in double.</summary>
    private static double[] Model(double[] x, double t, double scale = 1)
    {
        var eps = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double xin = x[i] * scale;
            eps[i] = 0.5 * xin + 0.001 * t * Math.Tanh(xin) - 0.1;
        }
        return eps;
    }

    private static Tensor T(double[] v) => Cpu.FromArray(Array.ConvertAll(v, d => (float)d), 1, 4, 4, 4);

    /// <summary>One launch: out = Cx·x + Ce·m [+ Cn·noise] [+ Ch·hist], aux as given; returns out.</summary>
    private static float[] Step(double[] x, double[] m, DenoiseCoefficients c, double[]? noise = null, Tensor? hist = null, Tensor? aux = null)
    {
        using var tx = T(x); using var tm = T(m); using var y = Cpu.Allocate(1, 4, 4, 4);
        using var tn = noise != null ? T(noise) : null;
        Ops.DenoiseStep(Cpu, tx, tm, y, c, tn, hist, aux);
        return y.ToArray();
    }

    private static void Expect(Trajectory g, int k, float[] got) =>
        Close.All(Array.ConvertAll(g.Sample(k + 1), d => (float)d), got, Atol, Rtol, Shape, $"{g.Name} step {k} (t = {g.Timesteps[k]})");

    [Theory, InlineData(false), InlineData(true)]
    public void Ddim(bool vPrediction)
    {
        using var g = new Trajectory(vPrediction ? "ddim_v_n4" : "ddim_n4");
        for (int k = 0; k < g.Steps; k++)
        {
            double t = g.Timesteps[k], prev = t - 1000 / 4;
            double at = Abar(t), ap = prev >= 0 ? Abar(prev) : Abar(0);   // set_alpha_to_one = false: final = ᾱ[0]
            double d = Math.Sqrt(1 - ap);                                  // η = 0: σ = 0
            var c = vPrediction
                ? new DenoiseCoefficients((float)(Math.Sqrt(ap * at) + d * Math.Sqrt(1 - at)), (float)(d * Math.Sqrt(at) - Math.Sqrt(ap * (1 - at))))
                : new DenoiseCoefficients((float)Math.Sqrt(ap / at), (float)(d - Math.Sqrt(ap) * Math.Sqrt(1 - at) / Math.Sqrt(at)));
            var x = g.Sample(k);
            Expect(g, k, Step(x, Model(x, t), c));
        }
    }

    /// <summary>DDPM (fixed_small variance; noise at every t &gt; 0), on the values its x0 clamp leaves alone.</summary>
    [Fact]
    public void Ddpm()
    {
        using var g = new Trajectory("ddpm_n4");
        for (int k = 0; k < g.Steps; k++)
        {
            double t = g.Timesteps[k], prev = t - 1000 / 4;
            double at = Abar(t), ap = prev >= 0 ? Abar(prev) : 1.0;        // DDPM's "one"
            double alpha = at / ap, beta = 1 - alpha;
            double a = Math.Sqrt(ap) * beta / (1 - at), b = Math.Sqrt(alpha) * (1 - ap) / (1 - at);
            double variance = Math.Max((1 - ap) / (1 - at) * beta, 1e-20);
            var c = new DenoiseCoefficients((float)(a / Math.Sqrt(at) + b), (float)(-a * Math.Sqrt(1 - at) / Math.Sqrt(at)),
                Cn: (float)Math.Sqrt(variance));
            var x = g.Sample(k);
            var m = Model(x, t);
            var got = Step(x, m, c, noise: t > 0 ? g.NoiseDraw(k) : null);
            // This config keeps DDPM's default clip_sample = true: x0 is clamped to [−1, 1], which is not linear and not
            // part of the op (SD's configs set it false). Compare where the clamp did nothing.
            var want = Array.ConvertAll(g.Sample(k + 1), d => (float)d);
            var keep = Enumerable.Range(0, Elements).Where(i => Math.Abs((x[i] - Math.Sqrt(1 - at) * m[i]) / Math.Sqrt(at)) <= 1).ToArray();
            Assert.True(keep.Length >= Elements / 2, $"ddpm step {k}: only {keep.Length} of {Elements} values unclipped");
            Close.All(keep.Select(i => want[i]).ToArray(), keep.Select(i => got[i]).ToArray(), Atol, Rtol, null,
                $"{g.Name} step {k} (t = {t}), the {keep.Length} unclipped values");
        }
    }

    [Fact]
    public void Euler()
    {
        using var g = new Trajectory("euler_leading_n4");
        for (int k = 0; k < g.Steps; k++)
        {
            double s = g.Sigmas[k], next = g.Sigmas[k + 1];
            var x = g.Sample(k);
            // s_churn = 0: γ = 0, σ̂ = σ; diffusers draws noise but never uses it (index.json: 0 draws).
            Expect(g, k, Step(x, Model(x, g.Timesteps[k], 1 / Math.Sqrt(s * s + 1)), new DenoiseCoefficients(1f, (float)(next - s))));
        }
    }

    [Fact]
    public void EulerAncestral()
    {
        using var g = new Trajectory("euler_ancestral_trailing_n4");
        for (int k = 0; k < g.Steps; k++)
        {
            double s = g.Sigmas[k], next = g.Sigmas[k + 1];
            double up = Math.Sqrt(next * next * (s * s - next * next) / (s * s)), down = Math.Sqrt(next * next - up * up);
            var x = g.Sample(k);
            var c = new DenoiseCoefficients(1f, (float)(down - s), Cn: (float)up);
            Expect(g, k, Step(x, Model(x, g.Timesteps[k], 1 / Math.Sqrt(s * s + 1)), c, noise: g.NoiseDraw(k)));
        }
    }

    [Fact]
    public void Lcm()
    {
        using var g = new Trajectory("lcm_n4");
        using var aux = Cpu.Allocate(1, 4, 4, 4);
        for (int k = 0; k < g.Steps; k++)
        {
            double t = g.Timesteps[k];
            bool last = k == g.Steps - 1;
            double at = Abar(t), ap = Abar(last ? t : g.Timesteps[k + 1]);
            double st = t * 10.0;                                               // timestep_scaling = 10
            double cSkip = 0.25 / (st * st + 0.25), cOut = st / Math.Sqrt(st * st + 0.25);
            double ax = cOut / Math.Sqrt(at) + cSkip, ae = -cOut * Math.Sqrt(1 - at) / Math.Sqrt(at);
            var c = last
                ? new DenoiseCoefficients((float)ax, (float)ae, AuxKind: DenoiseAux.X0, Ax: (float)ax, Ae: (float)ae)
                : new DenoiseCoefficients((float)(Math.Sqrt(ap) * ax), (float)(Math.Sqrt(ap) * ae), Cn: (float)Math.Sqrt(1 - ap),
                    AuxKind: DenoiseAux.X0, Ax: (float)ax, Ae: (float)ae);
            var x = g.Sample(k);
            var got = Step(x, Model(x, t), c, noise: last ? null : g.NoiseDraw(k), aux: aux);
            Expect(g, k, got);
            // The last step's output is LCM's `denoised`, which aux (kind X0) holds at every step.
            if (last) Close.All(got, aux.ToArray(), 1e-6, 1e-6, Shape, "lcm: aux = denoised = out on the last step");
        }
    }

    /// <summary>PLMS (skip_prk_steps, set_alpha_to_one = false): timesteps 751, 501, 501, 251, 1 (counters 0..4).</summary>
    [Fact]
    public void Pndm()
    {
        using var g = new Trajectory("pndm_n4");
        const int delta = 1000 / 4;
        // The kept model outputs (diffusers' ets), written by the op's aux output: a ring of three buffers.
        var ets = new List<Tensor>();
        using var e0 = Cpu.Allocate(1, 4, 4, 4); using var e1 = Cpu.Allocate(1, 4, 4, 4); using var e2 = Cpu.Allocate(1, 4, 4, 4);
        var guided = new DenoiseCoefficients(0, 0, AuxKind: DenoiseAux.Guided);
        for (int k = 0; k < g.Steps; k++)
        {
            double t = g.Timesteps[k];
            var x = g.Sample(k);
            var m = Model(x, t);
            double from = t, to = t - delta;
            if (k == 1) { from = t + delta; to = t; x = g.Sample(0); }   // counter 1: back from the saved counter-0 sample
            double at = Abar(from), ap = to >= 0 ? Abar(to) : Abar(0);
            double sc = Math.Sqrt(ap / at), q = -(ap - at) / (at * Math.Sqrt(1 - ap) + Math.Sqrt(at * (1 - at) * ap));
            float[] got;
            switch (k)
            {
                case 0:
                    got = Step(x, m, guided with { Cx = (float)sc, Ce = (float)q }, aux: e0);
                    ets.Add(e0);
                    break;
                case 1:
                    got = Step(x, m, new DenoiseCoefficients((float)sc, (float)(q / 2), Ch: (float)(q / 2)), hist: ets[0]);
                    break;
                case 2:
                    got = Step(x, m, guided with { Cx = (float)sc, Ce = (float)(1.5 * q), Ch = (float)(-0.5 * q) }, hist: ets[0], aux: e1);
                    ets.Add(e1);
                    break;
                case 3:
                    got = Step(x, m, guided with { Cx = (float)sc, Ce = (float)(23 * q / 12), Ch = (float)(-16 * q / 12), Cn = (float)(5 * q / 12) },
                        noise: Host(ets[0]), hist: ets[1], aux: e2);
                    ets.Add(e2);
                    break;
                default:
                    {
                        // Two launches: (1) x, m̂, e₋₂ (noise slot), e₋₃ (hist) with m̂ written over e₋₃; (2) + e₋₁.
                        Tensor em1 = ets[^1], em2 = ets[^2], em3 = ets[^3];
                        using var tx = T(x); using var tm = T(m);
                        Ops.DenoiseStep(Cpu, tx, tm, tx, guided with { Cx = (float)sc, Ce = (float)(55 * q / 24), Cn = (float)(37 * q / 24), Ch = (float)(-9 * q / 24) },
                            noise: em2, hist: em3, aux: em3);
                        Ops.DenoiseStep(Cpu, tx, em1, tx, new DenoiseCoefficients(1f, (float)(-59 * q / 24)));
                        got = tx.ToArray();
                        ets.Remove(em3); ets.Add(em3);
                        Close.All(Array.ConvertAll(m, d => (float)d), em3.ToArray(), 1e-6, 1e-6, Shape, "pndm: aux wrote m̂ over e₋₃");
                        break;
                    }
            }
            Expect(g, k, got);
        }

        static double[] Host(Tensor t) => Array.ConvertAll(t.ToArray(), f => (double)f);
    }

    /// <summary>DPM-Solver++ 2M (midpoint, lower_order_final, final sigma 0): orders 1, 2, 2, 1.</summary>
    [Fact]
    public void DpmSolverPlusPlus2M()
    {
        using var g = new Trajectory("dpmpp_2m_n4");
        using var hist = Cpu.Allocate(1, 4, 4, 4);   // the previous x0, rewritten in place by aux each step
        double lambdaPrev = double.NaN;
        for (int k = 0; k < g.Steps; k++)
        {
            double s0 = g.Sigmas[k], st = g.Sigmas[k + 1];
            double alpha0 = 1 / Math.Sqrt(s0 * s0 + 1), sig0 = s0 * alpha0;
            double alphaT = 1 / Math.Sqrt(st * st + 1), sigT = st * alphaT;
            double lambda0 = Math.Log(alpha0) - Math.Log(sig0);
            double ax = 1 / alpha0, ae = -sig0 / alpha0;                      // x0 = (x − σ·m)/α
            bool final = st == 0;
            // σ_t = 0: λ_t = ∞, e^(−h) = 0, A = −α_t = −1 and σ_t/σ_s0 = 0, so out = x0.
            double h = final ? double.PositiveInfinity : Math.Log(alphaT) - Math.Log(sigT) - lambda0;
            double a = alphaT * ((final ? 0 : Math.Exp(-h)) - 1), ratio = sigT / sig0;
            bool firstOrder = k == 0 || k == g.Steps - 1;
            DenoiseCoefficients c;
            if (firstOrder) c = new DenoiseCoefficients((float)(ratio - a * ax), (float)(-a * ae), AuxKind: DenoiseAux.X0, Ax: (float)ax, Ae: (float)ae);
            else
            {
                double r0 = (lambda0 - lambdaPrev) / h, w = 1 + 1 / (2 * r0);
                c = new DenoiseCoefficients((float)(ratio - a * w * ax), (float)(-a * w * ae), Ch: (float)(a / (2 * r0)),
                    AuxKind: DenoiseAux.X0, Ax: (float)ax, Ae: (float)ae);
            }
            var x = g.Sample(k);
            Expect(g, k, Step(x, Model(x, g.Timesteps[k]), c, hist: firstOrder ? null : hist, aux: hist));
            lambdaPrev = lambda0;
        }
    }
}
