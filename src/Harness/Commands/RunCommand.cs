using System.CommandLine;
using PixelCost.Kernels;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost run unet|vae-decode --model PATH --inputs FILE --output FILE [--accelerator …]</c>: one component on given
/// tensors, the output written as a safetensors file — how users check us against PyTorch. PATH is a component folder,
/// a pipeline folder or a single-file checkpoint. Inputs are checked against the model's config before anything runs;
/// the output is written under a temporary name and renamed when complete.
/// </summary>
public static class RunCommand
{
    public static Command Create()
    {
        var run = new Command("run", "Run one model component on tensors from a safetensors file (to compare with PyTorch).");
        run.Subcommands.Add(Component("unet", "UNet2DConditionModel: inputs sample [B,C,H,W], timestep [B], encoder_hidden_states [B,T,cross] (SDXL also text_embeds, time_ids); writes out.",
            (acc, model, inputs) =>
            {
                using var unet = UnetModel.Load(acc, model);
                var c = unet.Config;
                using var sample = Input(acc, inputs, "sample", s => s.Length == 4 && s[1] == c.InChannels, $"[B,{c.InChannels},H,W]");
                int b = sample.Dim(0);
                using var t = Input(acc, inputs, "timestep", s => s.Length == 1 && (s[0] == b || s[0] == 1) || s.Length == 0, $"[{b}] (or a scalar)", broadcastTo: b);
                using var ctx = Input(acc, inputs, "encoder_hidden_states", s => s.Length == 3 && s[0] == b && s[2] == c.CrossAttentionDim, $"[{b},T,{c.CrossAttentionDim}]");
                using var te = c.HasTextTimeEmbedding ? Input(acc, inputs, "text_embeds", s => s.Length == 2 && s[0] == b, $"[{b},P]") : null;
                using var ti = c.HasTextTimeEmbedding ? Input(acc, inputs, "time_ids", s => s.Length == 2 && s[0] == b, $"[{b},n]") : null;
                return ("out", unet.Forward(sample, t, ctx, te, ti));
            }));
        run.Subcommands.Add(Component("vae-decode", "AutoencoderKL decoder (with post_quant_conv): input latent [B,4,h,w] (already divided by the scaling factor); writes image.",
            (acc, model, inputs) =>
            {
                using var vae = VaeDecoder.Load(acc, model);
                using var latent = Input(acc, inputs, "latent", s => s.Length == 4 && s[1] == vae.Config.LatentChannels, $"[B,{vae.Config.LatentChannels},h,w]");
                return ("image", vae.Decode(latent));
            }));
        return run;
    }

    private delegate (string Name, Tensor Result) Body(IAccelerator acc, string model, SafetensorsFile inputs);

    private static Command Component(string name, string description, Body body)
    {
        var model = new Option<string>("--model") { Description = "Component folder, pipeline folder or single-file checkpoint.", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "A safetensors file with the input tensors.", Required = true };
        var output = new Option<string>("--output") { Description = "The safetensors file to write (float32).", Required = true };
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: cpu, ilgpu-cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command(name, description);
        foreach (var o in new Option[] { model, inputs, output, accelerator, threads }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            TextWriter stdout = pr.InvocationConfiguration.Output, stderr = pr.InvocationConfiguration.Error;
            if (string.IsNullOrWhiteSpace(pr.GetValue(output))) throw new CliException($"--output must name a file, got '{pr.GetValue(output)}'");
            string outPath = Path.GetFullPath(pr.GetValue(output)!);
            string? dir = Path.GetDirectoryName(outPath);
            if (dir is null || !Directory.Exists(dir)) throw new CliException($"--output {outPath}: folder {dir} does not exist");
            if (pr.GetValue(threads) < 1) throw new CliException($"--threads must be ≥ 1, got {pr.GetValue(threads)}");
            using var input = SafetensorsFile.Open(pr.GetValue(inputs)!);
            var accs = Accelerators.Open(pr.GetValue(accelerator), pr.GetValue(threads), 0, stderr.WriteLine);
            if (accs.Count != 1)
            {
                foreach (var a in accs) a.Dispose();
                throw new CliException("--accelerator must name one accelerator (cpu, ilgpu-cpu or cuda:N)");
            }
            using var acc = accs[0];
            var (tensorName, result) = body(acc, pr.GetValue(model)!, input);
            using (result)
            {
                var data = result.ToArray();
                new SafetensorsWriter().Add(tensorName, data, result.Shape.ToArray()).Save(outPath);
                stdout.WriteLine($"{name} on {acc.Name}: wrote {tensorName} {result.ShapeString} to {outPath}");
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>An input tensor of the file, checked against what the model expects (the error names the file, the
    /// tensor, the expected and the actual shape), uploaded as F32.</summary>
    private static Tensor Input(IAccelerator acc, SafetensorsFile file, string name, Func<int[], bool> fits, string expected, int broadcastTo = 0)
    {
        if (!file.Contains(name)) throw new InvalidDataException($"{file.Path}: input tensor '{name}' is missing (expected {expected})");
        var shape = file.Shape(name);
        if (!fits(shape)) throw new InvalidDataException($"{file.Path}: input tensor '{name}' is {Tensor.FormatShape(shape)}, expected {expected}");
        var data = file.ReadFloats(name);
        if (broadcastTo > 0 && data.Length == 1 && broadcastTo > 1) data = Enumerable.Repeat(data[0], broadcastTo).ToArray();
        if (broadcastTo > 0) shape = [data.Length];
        return acc.FromArray(data, shape);
    }
}
