using System.CommandLine;
using PixelCost.Kernels;
using PixelCost.Runtime.Models;
using PixelCost.Runtime.Models.TextEncoder;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost run unet|vae-decode|text-encoder --model PATH --inputs FILE --output FILE [--accelerator …]</c>: one
/// component on given tensors, its output tensor(s) written as one safetensors file — how users check us against PyTorch. PATH is a component folder,
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
                return [("out", unet.Forward(sample, t, ctx, te, ti))];
            }));
        run.Subcommands.Add(Component("vae-decode", "AutoencoderKL decoder (with post_quant_conv): input latent [B,4,h,w] (already divided by the scaling factor); writes image.",
            (acc, model, inputs) =>
            {
                using var vae = VaeDecoder.Load(acc, model);
                using var latent = Input(acc, inputs, "latent", s => s.Length == 4 && s[1] == vae.Config.LatentChannels, $"[B,{vae.Config.LatentChannels},h,w]");
                return [("image", vae.Decode(latent))];
            }));
        var component = new Option<string>("--component") { Description = "Which text encoder of a pipeline or SDXL checkpoint: text_encoder or text_encoder_2.", DefaultValueFactory = _ => "text_encoder" };
        run.Subcommands.Add(Component("text-encoder", "CLIP text encoder: input input_ids [B,T] (int64 or int32); writes last_hidden_state, penultimate_hidden_state, pooled (and text_embeds with a projection).",
            (acc, model, inputs, pr) =>
            {
                string which = pr.GetValue(component)!;
                if (which is not ("text_encoder" or "text_encoder_2"))
                    throw new CliException($"--component must be text_encoder or text_encoder_2, not '{which}'");
                using var enc = ClipTextModel.Load(acc, model, which);
                var c = enc.Config;
                using var ids = InputIds(acc, inputs, c.MaxPositions, c.VocabSize);
                var o = enc.Forward(ids);
                var list = new List<(string, Tensor)> { ("last_hidden_state", o.LastHiddenState), ("penultimate_hidden_state", o.PenultimateHiddenState), ("pooled", o.Pooled) };
                if (o.TextEmbeds is { } te) list.Add(("text_embeds", te));
                return list;
            }, component));
        return run;
    }

    private delegate IReadOnlyList<(string Name, Tensor Result)> Body(IAccelerator acc, string model, SafetensorsFile inputs, ParseResult pr);

    private static Command Component(string name, string description, Func<IAccelerator, string, SafetensorsFile, IReadOnlyList<(string, Tensor)>> body) =>
        Component(name, description, (acc, model, inputs, _) => body(acc, model, inputs));

    private static Command Component(string name, string description, Body body, params Option[] extra)
    {
        var model = new Option<string>("--model") { Description = "Component folder, pipeline folder or single-file checkpoint.", Required = true };
        var inputs = new Option<string>("--inputs") { Description = "A safetensors file with the input tensors.", Required = true };
        var output = new Option<string>("--output") { Description = "The safetensors file to write (float32).", Required = true };
        var accelerator = new Option<string>("--accelerator") { Description = "Where to run: cpu, ilgpu-cpu, cuda or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command(name, description);
        foreach (var o in new Option[] { model, inputs, output, accelerator, threads }.Concat(extra)) cmd.Options.Add(o);
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
            var results = body(acc, pr.GetValue(model)!, input, pr);
            try
            {
                var writer = new SafetensorsWriter();
                foreach (var (tensorName, result) in results) writer.Add(tensorName, result.ToArray(), result.Shape.ToArray());
                writer.Save(outPath);
                string what = string.Join(", ", results.Select(r => $"{r.Name} {r.Result.ShapeString}"));
                stdout.WriteLine($"{name} on {acc.Name}: wrote {what} to {outPath}");
            }
            finally
            {
                foreach (var (_, result) in results) result.Dispose();
            }
            return 0;
        });
        return cmd;
    }

    /// <summary>input_ids [B,T] (int64 or int32 in the file, 1 ≤ T ≤ max positions, every id in [0, vocab)) as an I32
    /// tensor; errors name the file, the tensor and what is wrong (the first bad id with its position).</summary>
    private static Tensor InputIds(IAccelerator acc, SafetensorsFile file, int maxPositions, int vocab)
    {
        const string name = "input_ids";
        string expected = $"[B,T] of int64 or int32 with 1 ≤ T ≤ {maxPositions}";
        if (!file.Contains(name)) throw new InvalidDataException($"{file.Path}: input tensor '{name}' is missing (expected {expected})");
        var info = file.Info(name);
        if (info.Shape.Length != 2 || info.Shape[0] < 1 || info.Shape[1] < 1 || info.Shape[1] > maxPositions)
            throw new InvalidDataException($"{file.Path}: input tensor '{name}' is {info.ShapeString}, expected {expected}");
        var raw = file.RawBytes(name);
        var ids = new int[info.ElementCount];
        for (int i = 0; i < ids.Length; i++)
        {
            long v = info.DType switch
            {
                SafetensorsDType.I64 => BitConverter.ToInt64(raw.Slice(8 * i, 8)),
                SafetensorsDType.I32 => BitConverter.ToInt32(raw.Slice(4 * i, 4)),
                _ => throw new InvalidDataException($"{file.Path}: input tensor '{name}' is {info.DType}, expected int64 or int32 token ids"),
            };
            if (v < 0 || v >= vocab)
                throw new InvalidDataException($"{file.Path}: input tensor '{name}' has id {v} at [{i / info.Shape[1]},{i % info.Shape[1]}], outside the text encoder's vocabulary [0, {vocab})");
            ids[i] = (int)v;
        }
        var t = acc.Allocate(DType.I32, info.Shape);
        acc.Upload<int>(t, ids);
        return t;
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
