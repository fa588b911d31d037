using System.Text.Json;
using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Runtime.Safetensors;
using PixelCost.Runtime.Schedulers;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The schedulers against diffusers 0.27.2's recorded float64 trajectories (Golden/schedulers/, copied from the shared
/// golden data; see its README): every configuration of index.json at every step count there (1, 4, 20), replayed in
/// FULL on our CpuAccelerator — our own x feeds the next step, nothing is re-seeded from the recording (DDPM excepted,
/// see <see cref="Ddpm_UnclampedElements"/>) — with the recorded noise draws and the stand-in model
/// eps = 0.5·xin + 0.001·t·tanh(xin) − 0.1, xin = ScaleModelInput(k)·x, evaluated on the host in double from our fp32
/// sample. Also: timesteps and σ's equal the recorded ones exactly; one (PLMS steady state: two) denoise-step launches
/// per step; classifier-free guidance in the op equals the host-combined ε̂; bad config files give one clear error.
/// </summary>
[Trait("Golden", "diffusers 0.27.2 scheduler trajectories (Golden/schedulers)")]
public class SchedulerTests(ITestOutputHelper output)
{
    private const int Elements = 64;
    private static readonly int[] Shape = [1, 4, 4, 4];

    // Tolerance of a whole fp32 trajectory against diffusers' float64 one, |ours − ref| ≤ Atol + Rtol·|ref|:
    // each step rounds x and the model output to fp32 (6e-8 relative) and adds ~4 roundings in the op, relative to the
    // sum of its terms |Cx·x| + |Ce·m| + … ≲ 15 (Euler's first σ is 14.6; Euler ancestral's first Ce ≈ −10.7); our
    // coefficients are computed in double and rounded once to fp32, while diffusers rounds them through float32
    // tensors (1e-7 relative each); each step's error is carried into the next (|Cx| ≤ ~3, model slope ≤ 0.5 +
    // 0.001·t) over up to 21 steps. Measured worst over all 27 trajectories: 3.2e-6 absolute (LCM n1, whose single
    // step maps x ≈ ±4 through Cx ≈ 14), 2.9e-6 for Euler ancestral; the per-test output prints each. 1e-5 + 1e-5·|ref|
    // leaves a factor ≥ 3 for other SIMD widths and FMA placement. A wrong coefficient is caught: scaling DPM-Solver's
    // second-order weight by 1 + 1e-3 moves x by 1.8e-4 after one step (tried; the test fails).
    private const double Atol = 1e-5, Rtol = 1e-5;

    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "schedulers");

    private static readonly JsonElement Index = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "index.json"))).RootElement;

    public static TheoryData<string> AllConfigs()
    {
        var d = new TheoryData<string>();
        foreach (var p in Index.EnumerateObject()) if (!p.Name.StartsWith('_')) d.Add(p.Name);
        return d;
    }

    public static TheoryData<string> TwentyStepConfigs()
    {
        var d = new TheoryData<string>();
        foreach (var p in Index.EnumerateObject()) if (p.Name.EndsWith("_n20", StringComparison.Ordinal)) d.Add(p.Name);
        return d;
    }

    /// <summary>The index entry's config as a diffusers scheduler_config.json, parsed by our reader.</summary>
    private static SchedulerConfig ConfigOf(string name)
    {
        var e = Index.GetProperty(name);
        var fields = new Dictionary<string, JsonElement> { ["_class_name"] = e.GetProperty("class") };
        foreach (var p in e.GetProperty("config").EnumerateObject()) fields[p.Name] = p.Value;
        return SchedulerConfig.Parse(JsonSerializer.Serialize(fields), $"index.json:{name}");
    }

    private static int StepsOf(string name) => Index.GetProperty(name).GetProperty("num_inference_steps").GetInt32();

    private sealed class Golden : IDisposable
    {
        private readonly SafetensorsFile _file;

        public Golden(string name)
        {
            _file = SafetensorsFile.Open(Path.Combine(Dir, name + ".safetensors"));
            Samples = _file.ReadDoubles("samples");
            Timesteps = _file.ReadDoubles("timesteps").Select(v => (int)v).ToArray();
            Sigmas = _file.Contains("sigmas") ? _file.ReadDoubles("sigmas") : null;
            Noise = _file.Contains("noise") ? _file.ReadDoubles("noise") : [];
        }

        public double[] Samples { get; }
        public int[] Timesteps { get; }
        public double[]? Sigmas { get; }
        public double[] Noise { get; }
        public int Draws => Noise.Length / Elements;

        public float[] Sample(int k) => Samples.AsSpan(k * Elements, Elements).ToArray().Select(v => (float)v).ToArray();
        public float[] NoiseDraw(int k) => Noise.AsSpan(k * Elements, Elements).ToArray().Select(v => (float)v).ToArray();

        public void Dispose() => _file.Dispose();
    }

    /// <summary>The stand-in model on the host, in double, from our fp32 sample.</summary>
    private static double[] Model(float[] x, double scale, double t)
    {
        var eps = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double xin = x[i] * scale;
            eps[i] = 0.5 * xin + 0.001 * t * Math.Tanh(xin) - 0.1;
        }
        return eps;
    }

    /// <summary>Launches one step should make: one denoise_step, two for PLMS from its fifth step on.</summary>
    private static int ExpectedLaunches(SchedulerConfig c, int k) => c.ClassName == "PNDMScheduler" && k >= 4 ? 2 : 1;

    /// <summary>
    /// Runs a whole trajectory from the recorded x_0; <paramref name="check"/> sees (step, our x after it) and may return
    /// corrected values to continue from (DDPM only). <paramref name="guidance"/> &gt; 0: feed [2N] (uncond, cond) with
    /// that guidance scale, chosen so that the guided combination is the stand-in's ε.
    /// </summary>
    private static void Replay(string name, SchedulerConfig config, Golden g, Func<int, float[], float[]?> check, float guidance = 0,
        Func<IScheduler, int, float[], double[], double[]>? transform = null, IAccelerator? acc = null)
    {
        var cpu = acc ?? new CpuAccelerator(threads: 1);
        int n = StepsOf(name);
        using var sched = Scheduler.Create(config, n);
        Assert.Equal(g.Timesteps, sched.Timesteps);
        if (g.Sigmas != null) Assert.Equal(g.Sigmas, sched.Sigmas!);   // exact: float32 values widened on both sides
        else Assert.Null(sched.Sigmas);
        Assert.Equal(g.Samples.Length / Elements - 1, sched.Timesteps.Length);

        using var x = cpu.FromArray(g.Sample(0), Shape);
        using var noise = cpu.Allocate(Shape);
        using var m = cpu.Allocate(guidance > 0 ? [2, 4, 4, 4] : Shape);
        int draws = 0;
        for (int k = 0; k < sched.Timesteps.Length; k++)
        {
            var xs = x.ToArray();
            var eps = Model(xs, sched.ScaleModelInput(k), sched.ModelTimesteps[k]);
            if (transform != null) eps = transform(sched, k, xs, eps);
            if (guidance > 0)
            {
                // uncond u = 0.3·ε + 0.2 (any values), cond c = u + (ε − u)/g: u + g·(c − u) = ε.
                var both = new float[2 * Elements];
                for (int i = 0; i < Elements; i++)
                {
                    double u = 0.3 * eps[i] + 0.2;
                    both[i] = (float)u;
                    both[Elements + i] = (float)(u + (eps[i] - u) / guidance);
                }
                m.CopyFrom(both);
            }
            else m.CopyFrom(eps.Select(v => (float)v).ToArray());
            Tensor? nz = null;
            if (sched.NeedsNoise(k))
            {
                // Draws are recorded per step in order; a step that does not need one (Euler ancestral's last, σ_up = 0)
                // still made its draw in diffusers, so draw k belongs to step k.
                Assert.True(k < g.Draws, $"{name}: step {k} needs noise but only {g.Draws} draws were recorded");
                noise.CopyFrom(g.NoiseDraw(k));
                nz = noise;
                draws++;
            }
            int before = cpu.Ledger.Count;
            sched.Step(cpu, x, m, guidance > 0 ? guidance : 1f, k, nz);
            var entries = cpu.Ledger.Entries.Skip(before).ToArray();
            Assert.Equal(ExpectedLaunches(config, k), entries.Length);
            Assert.All(entries, e => Assert.Equal(DenoiseStepSpec.Op, e.Op));
            var fix = check(k, x.ToArray());
            if (fix != null) x.CopyFrom(fix);
        }
        int recorded = Index.GetProperty(name).GetProperty("noise_draws").GetInt32();
        // Euler ancestral draws on its last step too (multiplied by σ_up = 0); we skip that one.
        Assert.Equal(config.ClassName == "EulerAncestralDiscreteScheduler" ? recorded - 1 : recorded, draws);
    }

    [Theory, MemberData(nameof(AllConfigs))]
    public void FullTrajectory_MatchesDiffusers(string name)
    {
        var config = ConfigOf(name);
        if (config.ClassName == "DDPMScheduler") return;   // Ddpm_UnclampedElements
        using var g = new Golden(name);
        double worst = 0;
        Replay(name, config, g, (k, got) =>
        {
            var want = g.Sample(k + 1);
            worst = Math.Max(worst, got.Zip(want, (a, b) => Math.Abs(a - b)).Max());
            Close.All(want, got, Atol, Rtol, Shape, $"{name} after step {k} (t = {g.Timesteps[k]})");
            return null;
        });
        output.WriteLine($"{name}: {g.Timesteps.Length} steps, worst |ours − diffusers| = {worst:G3}");

        // x_0 was N(0, 1) noise times init_noise_sigma (64 draws: the sample std is within ±35% at > 4 standard errors).
        using var s = Scheduler.Create(config, StepsOf(name));
        var x0 = g.Samples.AsSpan(0, Elements).ToArray();
        double mean = x0.Average(), std = Math.Sqrt(x0.Sum(v => (v - mean) * (v - mean)) / (Elements - 1));
        Assert.InRange(std / s.InitNoiseSigma, 0.65, 1.35);
    }

    [Fact]
    public void Euler_LinspaceSpacing_FractionalTimesteps()
    {
        using var s = Scheduler.Create(SchedulerConfig.Preset("euler") with { TimestepSpacing = "linspace" }, 20);
        Assert.Equal(999f, s.ModelTimesteps[0]);
        Assert.Equal((float)(18 * (999.0 / 19)), s.ModelTimesteps[1]);   // numpy linspace, reversed, as float32
        Assert.Equal(946, s.Timesteps[1]);
        var table = NoiseSchedule.AlphasCumprod(s.Config).Select(NoiseSchedule.Sigma).ToArray();
        double t = s.ModelTimesteps[1], w = t - Math.Floor(t);
        Assert.Equal((float)(table[946] + ((double)table[947] - table[946]) * w), (float)s.Sigmas![1]);
        Assert.Equal(s.Sigmas[0], s.InitNoiseSigma);                     // linspace: σ_max itself
        Assert.Equal(1 / Math.Sqrt(s.Sigmas[1] * s.Sigmas[1] + 1), s.ScaleModelInput(1), 1e-7);
    }

    /// <summary>
    /// The recorded DDPM config leaves clip_sample at DDPMScheduler's default, true: x0 is clamped to [−1, 1] before the
    /// update, which is not linear, so our scheduler rejects it (first assertion). Every element of this stand-in
    /// trajectory evolves on its own (elementwise model, scheduler and noise), so the same trajectory without the clamp
    /// matches diffusers exactly on every element whose recorded x0 was inside [−1, 1] at that step. We run the full
    /// trajectory with clip_sample = false, compare those elements, and put the recorded value back into the elements the
    /// recording clamped (they left the unclamped path), so each element is compared on every step diffusers did not clamp.
    /// </summary>
    [Theory, InlineData("ddpm_n1"), InlineData("ddpm_n4"), InlineData("ddpm_n20")]
    public void Ddpm_UnclampedElements(string name)
    {
        var config = ConfigOf(name);
        Assert.True(config.ClipSample);
        var e = Assert.Throws<NotSupportedException>(() => Scheduler.Create(config, StepsOf(name)));
        Assert.Contains("clip_sample", e.Message);

        using var g = new Golden(name);
        var alphas = NoiseSchedule.AlphasCumprod(config);
        int compared = 0, total = 0;
        Replay(name, config with { ClipSample = false }, g, (k, got) =>
        {
            var xk = g.Samples.AsSpan(k * Elements, Elements).ToArray();
            int t = g.Timesteps[k];
            double at = alphas[t];
            var want = g.Sample(k + 1);
            var keep = Enumerable.Range(0, Elements).Where(i =>
            {
                double eps = 0.5 * xk[i] + 0.001 * t * Math.Tanh(xk[i]) - 0.1;
                return Math.Abs((xk[i] - Math.Sqrt(1 - at) * eps) / Math.Sqrt(at)) <= 1;
            }).ToArray();
            compared += keep.Length;
            total += Elements;
            Close.All(keep.Select(i => want[i]).ToArray(), keep.Select(i => got[i]).ToArray(), Atol, Rtol, null,
                $"{name} after step {k} (t = {t}), the {keep.Length} elements diffusers did not clamp");
            var next = (float[])got.Clone();
            for (int i = 0; i < Elements; i++) if (!keep.Contains(i)) next[i] = want[i];
            return next;
        });
        output.WriteLine($"{name}: compared {compared} of {total} element-steps (the rest were clamped by diffusers)");
        Assert.True(compared >= total / 8, $"{name}: only {compared} of {total} element-steps unclamped");
    }

    /// <summary>A [2N] model output with guidance g gives the trajectory of the host-combined ε̂ (and diffusers').</summary>
    [Theory, MemberData(nameof(TwentyStepConfigs))]
    public void Guidance_InTheOp_EqualsHostCombined(string name)
    {
        var config = ConfigOf(name) with { ClipSample = false };
        using var g = new Golden(name);
        var plain = new List<float[]>();
        Replay(name, config, g, (k, got) => { plain.Add(got); return null; });
        double worst = 0;
        Replay(name, config, g, (k, got) =>
        {
            worst = Math.Max(worst, got.Zip(plain[k], (a, b) => Math.Abs(a - b)).Max());
            // The guided ε̂ = u + 7.5·(c − u) is rebuilt in fp32 from rounded u and c: ~1e-6 relative on ε̂; over 20 steps
            // that stays well inside the golden tolerance, against which both runs are also held.
            Close.All(plain[k], got, Atol, Rtol, Shape, $"{name} with guidance 7.5, step {k}");
            if (config.ClassName != "DDPMScheduler") Close.All(g.Sample(k + 1), got, Atol, Rtol, Shape, $"{name} (CFG) vs diffusers, step {k}");
            return null;
        }, guidance: 7.5f);
        output.WriteLine($"{name}: worst |CFG − host-combined| = {worst:G3}");
    }

    /// <summary>
    /// v-prediction of every scheduler whose v-conversion happens at the step's own timestep and sample (all but PLMS,
    /// which converts its combined multistep output at the current t; the golden data has DDIM v only): the same config
    /// with prediction_type v_prediction, fed v = √ᾱ·ε − √β̄·x0 for the stand-in's ε (ᾱ = ᾱ_t, or 1/(σ² + 1) for the
    /// σ-schedulers; Euler's sample is x0 + σ·ε), must follow diffusers' ε trajectory: x0 and ε are the same quantities.
    /// </summary>
    [Theory]
    [InlineData("ddpm_n20"), InlineData("ddim_n20"), InlineData("euler_leading_n20"), InlineData("euler_trailing_n20")]
    [InlineData("euler_ancestral_trailing_n20"), InlineData("lcm_n20"), InlineData("dpmpp_2m_n20")]
    public void VPrediction_FollowsTheEpsilonTrajectory(string name)
    {
        var config = ConfigOf(name) with { ClipSample = false };
        using var g = new Golden(name);
        var plain = new List<float[]>();
        Replay(name, config, g, (k, got) => { plain.Add(got); return null; });
        var alphas = NoiseSchedule.AlphasCumprod(config);
        double worst = 0;
        Replay(name, config with { PredictionType = "v_prediction" }, g, (k, got) =>
        {
            worst = Math.Max(worst, got.Zip(plain[k], (a, b) => Math.Abs(a - b)).Max());
            Close.All(plain[k], got, Atol, Rtol, Shape, $"{name} as v-prediction, step {k}");
            return null;
        }, transform: (sched, k, x, eps) =>
        {
            var v = new double[eps.Length];
            // Euler's sample is x0 + σ·ε (k-diffusion scale); DPM-Solver's is √ᾱ·x0 + √β̄·ε with ᾱ = 1/(σ² + 1).
            bool kScale = config.ClassName.StartsWith("Euler", StringComparison.Ordinal);
            double? sigma = sched.Sigmas?[k];
            double at = sigma is double s ? 1 / (s * s + 1) : alphas[sched.Timesteps[k]];
            for (int i = 0; i < v.Length; i++)
            {
                double x0 = kScale ? x[i] - sigma!.Value * eps[i] : (x[i] - Math.Sqrt(1 - at) * eps[i]) / Math.Sqrt(at);
                v[i] = Math.Sqrt(at) * eps[i] - Math.Sqrt(1 - at) * x0;
            }
            return v;
        });
        output.WriteLine($"{name}: worst |v-run − ε-run| = {worst:G3}");
    }

    /// <summary>
    /// PLMS beyond the golden configs: v-prediction (converted on the combined output at the current t, so it cannot be
    /// derived from the ε trajectory) and spacings whose repeated step spans different timesteps than the first
    /// (trailing or linspace with 7 steps: 999 → 857 first, then 998 → 856 — the general form of our counter-1 update).
    /// Reference: diffusers' step_plms transcribed here in double (ets list, counter, saved sample), fed the same
    /// stand-in model on its own trajectory; ours must follow it within the golden tolerance.
    /// </summary>
    [Theory]
    [InlineData("leading", "v_prediction", 20)]
    [InlineData("trailing", "epsilon", 7)]
    [InlineData("linspace", "v_prediction", 7)]
    [InlineData("trailing", "v_prediction", 3)]
    public void Pndm_FollowsDiffusersPlms_ForOtherSettings(string spacing, string prediction, int steps)
    {
        var config = SchedulerConfig.Preset("pndm") with { TimestepSpacing = spacing, PredictionType = prediction };
        var cpu = new CpuAccelerator(threads: 1);
        using var sched = Scheduler.Create(config, steps);
        var alphas = NoiseSchedule.AlphasCumprod(config);
        double final = alphas[0];   // set_alpha_to_one = false
        int delta = config.NumTrainTimesteps / steps;
        using var g = new Golden("pndm_n20");
        var start = g.Sample(0);

        // diffusers' PLMS in double
        var hx = start.Select(v => (double)v).ToArray();
        var ets = new List<double[]>();
        double[]? cur = null;
        using var x = cpu.FromArray(start, Shape);
        using var m = cpu.Allocate(Shape);
        for (int c = 0; c < sched.Timesteps.Length; c++)
        {
            int t = sched.Timesteps[c];
            m.CopyFrom(Model(x.ToArray(), 1, t).Select(v => (float)v).ToArray());
            sched.Step(cpu, x, m, 1f, c, null);

            var mo = Enumerable.Range(0, Elements).Select(i => 0.5 * hx[i] + 0.001 * t * Math.Tanh(hx[i]) - 0.1).ToArray();
            int from = t, to = t - delta;
            if (c != 1)
            {
                if (ets.Count > 3) ets.RemoveAt(0);
                ets.Add(mo);
            }
            else { to = t; from = t + delta; }
            var sample = hx;
            double[] e;
            if (ets.Count == 1 && c == 0) { e = mo; cur = hx; }
            else if (ets.Count == 1 && c == 1) { e = Comb((1, mo), (1, ets[^1])).Select(v => v / 2).ToArray(); sample = cur!; }
            else if (ets.Count == 2) e = Comb((1.5, ets[^1]), (-0.5, ets[^2]));
            else if (ets.Count == 3) e = Comb((23.0 / 12, ets[^1]), (-16.0 / 12, ets[^2]), (5.0 / 12, ets[^3]));
            else e = Comb((55.0 / 24, ets[^1]), (-59.0 / 24, ets[^2]), (37.0 / 24, ets[^3]), (-9.0 / 24, ets[^4]));
            double at = alphas[from], ap = to >= 0 ? alphas[to] : final;
            if (prediction == "v_prediction") e = Comb((Math.Sqrt(at), e), (Math.Sqrt(1 - at), sample));
            double denom = at * Math.Sqrt(1 - ap) + Math.Sqrt(at * (1 - at) * ap);
            hx = Comb((Math.Sqrt(ap / at), sample), (-(ap - at) / denom, e));

            Close.All(hx.Select(v => (float)v).ToArray(), x.ToArray(), Atol, Rtol, Shape,
                $"PLMS {spacing} {prediction} N={steps}, step {c} (t = {t})");
        }

        static double[] Comb(params (double W, double[] V)[] terms) =>
            Enumerable.Range(0, terms[0].V.Length).Select(i => terms.Sum(p => p.W * p.V[i])).ToArray();
    }

    /// <summary>The same schedulers on ILGPU's CPU accelerator (the GPU kernels of the op, simulated): the scheduler code
    /// only allocates and launches through IAccelerator, so it runs unchanged there. The multistep and noisy ones, with
    /// guidance, against diffusers.</summary>
    [Theory]
    [InlineData("pndm_n20"), InlineData("dpmpp_2m_n20"), InlineData("euler_ancestral_trailing_n20"), InlineData("lcm_n20")]
    public void IlgpuCpu_FullTrajectory_MatchesDiffusers(string name) => OnAccelerator(IlgpuAccelerator.CreateCpu(), name);

    /// <summary>The same on a CUDA GPU; skipped where there is none.</summary>
    [SkippableTheory]
    [InlineData("pndm_n20"), InlineData("dpmpp_2m_n20"), InlineData("euler_ancestral_trailing_n20"), InlineData("lcm_n20")]
    public void Cuda_FullTrajectory_MatchesDiffusers(string name)
    {
        IlgpuAccelerator acc;
        try { acc = IlgpuAccelerator.CreateCuda(); }
        catch (AcceleratorUnavailableException e) { Skip.If(true, e.Message); return; }
        OnAccelerator(acc, name);
    }

    private static void OnAccelerator(IAccelerator acc, string name)
    {
        using (acc)
        {
            var config = ConfigOf(name);
            using var g = new Golden(name);
            Replay(name, config, g, (k, got) =>
            {
                Close.All(g.Sample(k + 1), got, Atol, Rtol, Shape, $"{name} on {acc.Id} (guidance 3), step {k}");
                return null;
            }, guidance: 3f, acc: acc);
        }
    }

    [Fact]
    public void Presets_AllConstruct_AndMapToTheirClasses()
    {
        foreach (var p in SchedulerConfig.PresetNames)
        {
            using var s = Scheduler.FromPreset(p, 20);
            Assert.Equal(20, s.NumInferenceSteps);
            Assert.True(s.Timesteps.Length >= 20);
        }
        Assert.Equal("PNDMScheduler", SchedulerConfig.Preset("sd15").ClassName);
        Assert.Equal("trailing", SchedulerConfig.Preset("sd-turbo").TimestepSpacing);
        Assert.Equal("EulerAncestralDiscreteScheduler", SchedulerConfig.Preset("sdxl-turbo").ClassName);
        Assert.Throws<ArgumentException>(() => SchedulerConfig.Preset("nope"));
    }

    [Fact]
    public void Ddim_Eta_DrawsNoise_AndMatchesTheClosedForm()
    {
        // η = 1 on one step from t = 501 (10 steps: p = 401), checked against the formula evaluated here in double.
        var cpu = new CpuAccelerator(threads: 1);
        var config = SchedulerConfig.Preset("ddim");
        using var s = Scheduler.Create(config, 10, eta: 1.0);
        int k = Array.IndexOf(s.Timesteps, 501);
        Assert.True(s.NeedsNoise(k));
        var a = NoiseSchedule.AlphasCumprod(config);
        double at = a[501], ap = a[401];
        var xv = Enumerable.Range(0, Elements).Select(i => (float)Math.Sin(i)).ToArray();
        var mv = Enumerable.Range(0, Elements).Select(i => (float)Math.Cos(i * 0.7)).ToArray();
        var nv = Enumerable.Range(0, Elements).Select(i => (float)Math.Sin(i * 1.3 + 1)).ToArray();
        using var x = cpu.FromArray(xv, Shape); using var m = cpu.FromArray(mv, Shape); using var n = cpu.FromArray(nv, Shape);
        for (int j = 0; j <= k; j++)
        {
            if (j == k) x.CopyFrom(xv);
            s.Step(cpu, x, m, 1f, j, n);
        }
        double sigma = Math.Sqrt((1 - ap) / (1 - at) * (1 - at / ap));
        var want = Enumerable.Range(0, Elements).Select(i =>
        {
            double x0 = (xv[i] - Math.Sqrt(1 - at) * mv[i]) / Math.Sqrt(at);
            return (float)(Math.Sqrt(ap) * x0 + Math.Sqrt(1 - ap - sigma * sigma) * mv[i] + sigma * nv[i]);
        }).ToArray();
        Close.All(want, x.ToArray(), 1e-5, 1e-5, Shape, "DDIM η = 1");
        Assert.Throws<ArgumentException>(() => s.Step(cpu, x, m, 1f, 0, null));   // η > 0 needs noise
    }

    [Fact]
    public void Step_Order_Arguments_AndBuffers()
    {
        var cpu = new CpuAccelerator(threads: 1);
        var s = Scheduler.FromPreset("sd15", 10);
        using var x = cpu.Zeros(Shape); using var m = cpu.Zeros(Shape);
        long baseline = cpu.Memory.InUse;
        Assert.Throws<InvalidOperationException>(() => s.Step(cpu, x, m, 1f, 1, null));        // must start at 0
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Step(cpu, x, m, 1f, 99, null));
        for (int k = 0; k < s.Timesteps.Length; k++) s.Step(cpu, x, m, 1f, k, null);
        long withHistory = cpu.Memory.InUse;
        Assert.True(withHistory > baseline + 2 * Elements * 4, "PLMS keeps its history in accelerator buffers");
        s.Step(cpu, x, m, 1f, 0, null);                                                       // a new trajectory reuses them
        Assert.Equal(withHistory, cpu.Memory.InUse);
        using var other = cpu.Zeros(2, 4, 4, 4);
        Assert.Throws<InvalidOperationException>(() => s.Step(cpu, other, m, 1f, 1, null));   // shape changed mid-way
        s.Dispose();
        Assert.True(cpu.Memory.InUse < withHistory, "Dispose frees the history buffers");
        Assert.Throws<ObjectDisposedException>(() => s.Step(cpu, x, m, 1f, 0, null));
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("pixelcost-sched-").FullName;

        public string Write(string name, string text)
        {
            var p = System.IO.Path.Combine(Path, name);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
            File.WriteAllText(p, text);
            return p;
        }

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }

    private const string Sd15Json = """
        {
          "_class_name": "PNDMScheduler",
          "_diffusers_version": "0.6.0",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "num_train_timesteps": 1000,
          "set_alpha_to_one": false,
          "skip_prk_steps": true,
          "steps_offset": 1,
          "trained_betas": null,
          "clip_sample": false
        }
        """;

    [Fact]
    public void ConfigFile_Sd15_ReadsAsThePreset()
    {
        using var d = new TempDir();
        d.Write("scheduler/scheduler_config.json", Sd15Json);
        var fromFolder = SchedulerConfig.Load(d.Path);   // a pipeline folder
        Assert.Equal(SchedulerConfig.Preset("sd15") with { ClipSample = fromFolder.ClipSample }, fromFolder);
        using var s = Scheduler.FromFile(d.Path, 50);
        Assert.Equal(51, s.Timesteps.Length);
        Assert.Equal(981, s.Timesteps[0]);
        Assert.Equal(961, s.Timesteps[1]);
        Assert.Equal(961, s.Timesteps[2]);
    }

    [Theory]
    [InlineData("""{"_class_name": "KarrasVeScheduler", "num_train_timesteps": 1000}""", "KarrasVeScheduler")]
    [InlineData("""{"num_train_timesteps": 1000}""", "_class_name")]
    [InlineData("""{"_class_name": "DDIMScheduler", "num_train_timesteps": "many"}""", "num_train_timesteps")]
    [InlineData("""{"_class_name": "DDIMScheduler", "clip_sample": 1}""", "clip_sample")]
    [InlineData("""{"_class_name": "DDIMScheduler", """, "not valid JSON")]
    [InlineData("""[1, 2]""", "JSON object")]
    [InlineData("""{"_class_name": "DDIMScheduler"}""", "clip_sample")]                       // DDIM's default is true
    [InlineData("""{"_class_name": "DDIMScheduler", "clip_sample": false, "timestep_spacing": "cosine"}""", "timestep_spacing")]
    [InlineData("""{"_class_name": "DDIMScheduler", "clip_sample": false, "prediction_type": "sample"}""", "prediction_type")]
    [InlineData("""{"_class_name": "DDIMScheduler", "clip_sample": false, "beta_schedule": "squaredcos_cap_v2"}""", "beta_schedule")]
    [InlineData("""{"_class_name": "DDIMScheduler", "clip_sample": false, "trained_betas": [0.1, 0.2]}""", "trained_betas")]
    [InlineData("""{"_class_name": "PNDMScheduler"}""", "skip_prk_steps")]
    [InlineData("""{"_class_name": "EulerDiscreteScheduler", "use_karras_sigmas": true}""", "use_karras_sigmas")]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver++"}""", "algorithm_type")]
    [InlineData("""{"_class_name": "DPMSolverMultistepScheduler", "solver_order": 3}""", "solver_order")]
    [InlineData("""{"_class_name": "DDPMScheduler", "clip_sample": false, "variance_type": "learned_range"}""", "variance_type")]
    public void BadConfigFile_OneClearError_NamingTheFile(string json, string mentions)
    {
        using var d = new TempDir();
        var path = d.Write("scheduler_config.json", json);
        var e = Assert.Throws<InvalidDataException>(() => { using var s = Scheduler.FromFile(path, 10); });
        Assert.Contains(path, e.Message);
        Assert.Contains(mentions, e.Message);
        output.WriteLine(e.Message);
    }

    [Fact]
    public void MissingConfigFile_NamesTheFolder()
    {
        using var d = new TempDir();
        var e = Assert.Throws<InvalidDataException>(() => SchedulerConfig.Load(d.Path));
        Assert.Contains(d.Path, e.Message);
    }
}
