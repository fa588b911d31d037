using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Schedulers;
using PixelCost.Tests;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// Each scheduler's predicted clean latent (IScheduler.PredictX0) at a middle step against the textbook formula
/// computed here on the host in double: ε-prediction x̂₀ = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t, v-prediction
/// x̂₀ = √ᾱ_t·x_t − √(1−ᾱ_t)·v̂ (ᾱ_t from the training schedule at the step's timestep), σ-schedulers x̂₀ = x − σ·ε̂ with
/// ε̂ = u + g·(c − u) combined here from the [2N] model output.
/// </summary>
public sealed class PredictedX0Tests : IDisposable
{
    private readonly CpuAccelerator _cpu = new(threads: 1);

    public void Dispose() => _cpu.Dispose();

    [Theory]
    [InlineData("ddim", "alpha")]
    [InlineData("ddim-v", "v")]
    [InlineData("pndm", "alpha")]
    [InlineData("ddpm", "alpha")]
    [InlineData("dpmpp-2m", "alpha")]   // its x0 from α = 1/√(σ²+1), s = σ·α of the float32 σ: the same formula
    [InlineData("euler", "sigma")]
    [InlineData("euler-ancestral-trailing", "sigma")]
    public void MiddleStepMatchesTheHostFormula(string preset, string form)
    {
        var config = SchedulerConfig.Preset(preset);
        using var sched = Scheduler.Create(config, 4);
        const int k = 2;
        var rng = new Random(7);
        float[] xs = Enumerable.Range(0, 64).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        float[] ms = Enumerable.Range(0, 128).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        const float g = 5f;
        using var x = _cpu.FromArray(xs, 1, 4, 4, 4);
        using var m = _cpu.FromArray(ms, 2, 4, 4, 4);
        using var x0 = _cpu.Allocate(1, 4, 4, 4);
        _cpu.Ledger.Clear();
        sched.PredictX0(_cpu, x, m, g, k, x0);

        double at = NoiseSchedule.AlphasCumprod(config)[sched.Timesteps[k]];
        var expected = new float[64];
        for (int i = 0; i < 64; i++)
        {
            double e = ms[i] + (double)g * (ms[64 + i] - ms[i]);
            expected[i] = (float)(form switch
            {
                "alpha" => (xs[i] - Math.Sqrt(1 - at) * e) / Math.Sqrt(at),
                "v" => Math.Sqrt(at) * xs[i] - Math.Sqrt(1 - at) * e,
                _ => xs[i] - sched.Sigmas![k] * e,
            });
        }
        // fp32 coefficients and three roundings against double; the σ form's |σ·ε̂| reaches ~40 at σ ≈ 8 (euler-a
        // trailing's step 2): 1e-5 relative to that.
        Close.All(expected, x0.ToArray(), atol: 2e-5, rtol: 2e-5, new[] { 1, 4, 4, 4 }, $"{preset} x̂₀ at step {k}");
        Assert.Equal(xs, x.ToArray());   // the sample is not touched
        var e1 = Assert.Single(_cpu.Ledger.Entries);
        Assert.Equal("denoise_step", e1.Op);
        Assert.Equal(6 * 64, e1.Cost.OtherFlops);   // guidance 3 + Cx·x + Ce·m̂ 3 per element
    }
}
