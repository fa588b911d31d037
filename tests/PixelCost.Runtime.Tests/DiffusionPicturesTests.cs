using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Runtime.Diffusion;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The pictures of diffusion: ᾱ_t of both schedules against the closed-form definition (betas linear in β or in √β,
/// cumulative product of 1 − β, in double), forward noising against x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε computed by hand at
/// chosen pixels, and the reverse DDIM chain: the true noise recovers x₀ to fp32 rounding, wrong estimates do not.
/// </summary>
public class DiffusionPicturesTests
{
    /// <summary>ᾱ_t = Π_{i≤t} (1 − β_i), β_i = linspace(start, end)_i (linear) or linspace(√start, √end)_i² (scaled linear).</summary>
    private static double HandAlphaBar(bool scaled, double start, double end, int t)
    {
        double a = 1;
        for (int i = 0; i <= t; i++)
        {
            double beta = scaled ? Math.Pow(Math.Sqrt(start) + i * (Math.Sqrt(end) - Math.Sqrt(start)) / 999, 2) : start + i * (end - start) / 999;
            a *= 1 - beta;
        }
        return a;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(500)]
    [InlineData(999)]
    public void AlphaBarMatchesTheClosedForm(int t)
    {
        var sd = DiffusionPictures.Schedules[0];
        var ddpm = DiffusionPictures.Schedules[1];
        Assert.Equal("scaled_linear", sd.BetaSchedule);
        Assert.Equal("linear", ddpm.BetaSchedule);
        // Ours is diffusers' float32 betas and float32 cumprod (stored per step): relative error ≲ 1e3 steps × 6e-8.
        Assert.Equal(HandAlphaBar(true, 0.00085, 0.012, t), sd.AlphaBar[t], 1e-5 * HandAlphaBar(true, 0.00085, 0.012, t) + 1e-9);
        Assert.Equal(HandAlphaBar(false, 0.0001, 0.02, t), ddpm.AlphaBar[t], 1e-5 * HandAlphaBar(false, 0.0001, 0.02, t) + 1e-9);
        Assert.Equal(Math.Sqrt(1 - sd.AlphaBar[t]), sd.SqrtOneMinusAlphaBar(t), 12);
    }

    [Fact]
    public void KnownValuesOfTheSchedules()
    {
        // Hand check: ᾱ_0 = 1 − β_0 (0.99915 scaled linear, 0.9999 linear); at t = 999 the linear schedule has ~4e-5 left
        // (DDPM's paper: "almost pure noise"), SD's scaled linear ~4.7e-3 (it keeps more signal at the end).
        Assert.Equal(0.99915, DiffusionPictures.Schedules[0].AlphaBar[0], 6);
        Assert.Equal(0.9999, DiffusionPictures.Schedules[1].AlphaBar[0], 6);
        Assert.InRange(DiffusionPictures.Schedules[1].AlphaBar[999], 3e-5, 5e-5);
        Assert.InRange(DiffusionPictures.Schedules[0].AlphaBar[999], 4e-3, 5.5e-3);
    }

    [Fact]
    public void ForwardNoisingIsTheFormulaAtChosenPixels()
    {
        using var acc = new CpuAccelerator(2);
        const int n = 32;
        var clean = ProceduralScene.Render(n, n);
        using var x0 = acc.FromArray(clean, 1, 3, n, n);
        using var eps = acc.Allocate(1, 3, n, n);
        Ops.FillGaussian(acc, eps, 7);   // the same seed Forward uses: its ε
        var e = eps.ToArray();
        var schedule = DiffusionPictures.Schedules[1];
        int[] ts = [0, 250, 999];
        var frames = DiffusionPictures.Forward(acc, x0, schedule, ts, seed: 7);
        Assert.Equal(ts, frames.Select(f => f.Timestep).ToArray());
        foreach (var (f, t) in frames.Zip(ts))
        {
            double ab = HandAlphaBar(false, 0.0001, 0.02, t);
            foreach (int i in new[] { 0, 17, n * n + 5, 3 * n * n - 1 })
            {
                double want = Math.Sqrt(ab) * clean[i] + Math.Sqrt(1 - ab) * e[i];
                Assert.Equal(want, f.Image[i], 1e-5);   // fp32 coefficients and one fused multiply-add pair
            }
        }
        // t = 0 is nearly the picture; t = 999 nearly the noise.
        Assert.True(Math.Abs(frames[0].Image[17] - clean[17]) < 0.05);
        Assert.True(Math.Abs(frames[2].Image[17] - e[17]) < 0.01);
    }

    [Fact]
    public void TheOracleRecoversThePictureAndWrongNoiseDoesNot()
    {
        using var acc = new CpuAccelerator(2);
        const int n = 64;
        using var x0 = acc.FromArray(ProceduralScene.Render(n, n), 1, 3, n, n);
        var oracle = DiffusionPictures.Reverse(acc, x0, 10, 1f, 42, "oracle");
        // Exact algebra gives x₀ back; fp32 rounding of x_901 (|x| ≲ 4) is amplified by 1/√ᾱ_901 ≈ 13 in the x₀
        // prediction: ≲ 4·6e-8·13·(a few roundings) ≈ 1e-5.
        Assert.True(oracle.MaxAbsError < 1e-4, $"oracle max error {oracle.MaxAbsError}");
        Assert.Equal(11, oracle.Frames.Count);   // the noised start + 10 steps
        Assert.Equal(new[] { 901, 801, 701, 601, 501, 401, 301, 201, 101, 1 }, oracle.Timesteps);   // SD: leading spacing, steps_offset 1
        foreach (float scale in new[] { 0.5f, 0f })
        {
            var wrong = DiffusionPictures.Reverse(acc, x0, 10, scale, 42, "wrong");
            Assert.True(wrong.MeanAbsError > 0.5, $"ε̂ = {scale}·ε: mean error {wrong.MeanAbsError}");
        }
    }

    [Fact]
    public void TheSceneIsSkySunHillsAndFloor()
    {
        const int n = 256;
        var img = ProceduralScene.Render(n, n);
        Assert.All(img, v => Assert.InRange(v, -1f, 1f));
        (float R, float G, float B) At(int x, int y) => (img[y * n + x], img[n * n + y * n + x], img[2 * n * n + y * n + x]);
        var sky = At(10, 5);
        Assert.True(sky.B > sky.R && sky.B > sky.G, "blue sky at the top left");
        var sun = At((int)(0.72 * n), (int)(0.26 * n));
        Assert.True(sun.R > 0.9f && sun.G > 0.5f && sun.B < 0, "yellow sun");
        var hill = At(n / 2, (int)(0.68 * n));
        Assert.True(hill.G > hill.R && hill.G > hill.B, "green hill");
        Assert.Throws<ArgumentException>(() => ProceduralScene.Render(4, 4));
    }
}
