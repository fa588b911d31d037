using PixelCost.Kernels;

namespace PixelCost.Runtime.Schedulers;

/// <summary>
/// PNDM's PLMS path (PNDMScheduler with skip_prk_steps): a 4th-order linear multistep method on the kept model outputs
/// (diffusers' <c>ets</c>). Each diffusers step is x_p = sc·x + k·e′ with sc = √(ᾱ_p/ᾱ_t),
/// k = −(ᾱ_p − ᾱ_t)/(ᾱ_t·√β̄_p + √(ᾱ_t·β̄_t·ᾱ_p)), p = t − Δ (Δ = T div N) and e′ the Adams–Bashforth combination
/// (v-prediction converts e′ to √ᾱ_t·e′ + √β̄_t·x, so with P = sc + k·vb, Q = k·va: x_p = P·x + Q·e′).
/// The timestep list repeats its second entry (N + 1 steps). Per step (counter c; m̂ the guided output; e₋ᵢ kept outputs,
/// newest first), each one launch unless said:
/// <list type="bullet">
/// <item>c = 0: x ← P·x + Q·m̂; aux keeps m̂ (e₀).</item>
/// <item>c = 1: diffusers restarts from the counter-0 sample x_s with e′ = (m̂ + e₀)/2 over t + Δ → t. We do not keep x_s:
///   the current x = P₀·x_s + Q₀·e₀, so x ← (P₁/P₀)·x + (Q₁/2)·m̂ + (Q₁/2 − P₁·Q₀/P₀)·e₀ (= x + Q/2·(m̂ − e₀) when both
///   steps span the same timesteps, as with leading spacing). m̂ is not kept.</item>
/// <item>c = 2: e′ = (3m̂ − e₋₁)/2; c = 3: e′ = (23m̂ − 16e₋₁ + 5e₋₂)/12 (e₋₂ in the op's noise slot); both keep m̂.</item>
/// <item>c ≥ 4, two launches: e′ = (55m̂ − 59e₋₁ + 37e₋₂ − 9e₋₃)/24 has five inputs with x, the op takes four:
///   (1) x ← P·x + Q·(55m̂ + 37e₋₂ − 9e₋₃)/24, aux writes m̂ over e₋₃'s buffer (read before write);
///   (2) x ← x − Q·59/24·e₋₁ (e₋₁ as the model output, no guidance).</item>
/// </list>
/// Three history buffers, reused as a ring.
/// </summary>
public sealed class PndmScheduler : SchedulerBase
{
    private readonly double _final;
    private readonly List<int> _kept = new();   // buffer slots of the kept outputs, oldest first
    private double _p0, _q0;                     // counter 0's P and Q (for counter 1)

    internal PndmScheduler(SchedulerConfig config, int steps) : base(config, steps, buffers: 3)
    {
        // diffusers' _timesteps ascending, then plms = (ts[:-1], ts[-2:-1], ts[-1:]) reversed.
        var ts = NoiseSchedule.Spaced(config, steps).Select(NoiseSchedule.Round).Select(v => (int)v).Reverse().ToArray();
        var plms = new List<int>(ts[..^1]);
        if (ts.Length >= 2) plms.Add(ts[^2]);
        plms.Add(ts[^1]);
        plms.Reverse();
        Timesteps = plms.ToArray();
        ModelTimesteps = Timesteps.Select(t => (float)t).ToArray();
        _final = config.SetAlphaToOne ? 1.0 : AlphasCumprod[0];
    }

    /// <summary>P and Q of one diffusers step from timestep <paramref name="from"/> to <paramref name="to"/>.</summary>
    private (double P, double Q) Coefficients(int from, int to)
    {
        double at = AlphasCumprod[from], ap = AlphaOrFinal(to, _final);
        double sc = Math.Sqrt(ap / at);
        double k = -(ap - at) / (at * Math.Sqrt(1 - ap) + Math.Sqrt(at * (1 - at) * ap));
        double va = VPrediction ? Math.Sqrt(at) : 1, vb = VPrediction ? Math.Sqrt(1 - at) : 0;
        return (sc + k * vb, k * va);
    }

    protected override void StepCore(IAccelerator acc, Tensor sample, Tensor modelOut, float guidance, int c, Tensor? noise)
    {
        int t = Timesteps[c], delta = StepRatio;
        if (c == 0) _kept.Clear();
        if (c == 1)
        {
            var (p1, q1) = Coefficients(t + delta, t);
            Launch(acc, sample, modelOut, sample, guidance, p1 / _p0, q1 / 2, ch: q1 / 2 - p1 * _q0 / _p0, hist: Kept(acc, sample, 1));
            return;
        }
        var (p, q) = Coefficients(t, t - delta);
        switch (_kept.Count)
        {
            case 0:
                _p0 = p; _q0 = q;
                Launch(acc, sample, modelOut, sample, guidance, p, q, aux: Keep(acc, sample));
                break;
            case 1:
                {
                    var e1 = Kept(acc, sample, 1);
                    Launch(acc, sample, modelOut, sample, guidance, p, q * 1.5, ch: -q * 0.5, hist: e1, aux: Keep(acc, sample));
                    break;
                }
            case 2:
                {
                    Tensor e1 = Kept(acc, sample, 1), e2 = Kept(acc, sample, 2);
                    Launch(acc, sample, modelOut, sample, guidance, p, q * 23 / 12, cn: q * 5 / 12, ch: -q * 16 / 12,
                        noise: e2, hist: e1, aux: Keep(acc, sample));
                    break;
                }
            default:
                {
                    Tensor e1 = Kept(acc, sample, 1), e2 = Kept(acc, sample, 2), e3 = Kept(acc, sample, 3);
                    Launch(acc, sample, modelOut, sample, guidance, p, q * 55 / 24, cn: q * 37 / 24, ch: -q * 9 / 24,
                        noise: e2, hist: e3, aux: e3);
                    int oldest = _kept[0];
                    _kept.RemoveAt(0);
                    _kept.Add(oldest);                      // e₋₃'s buffer now holds m̂, the newest
                    Launch(acc, sample, e1, sample, 1f, 1, -q * 59 / 24);
                    break;
                }
        }
    }

    /// <summary>The i-th newest kept output (1 = newest).</summary>
    private Tensor Kept(IAccelerator acc, Tensor sample, int i) => Buffer(acc, sample, _kept[^i]);

    /// <summary>A free slot for the output about to be kept (at most three are kept before the ring turns).</summary>
    private Tensor Keep(IAccelerator acc, Tensor sample)
    {
        int slot = _kept.Count;
        _kept.Add(slot);
        return Buffer(acc, sample, slot);
    }
}
