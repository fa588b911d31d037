using System.Text.RegularExpressions;
using PixelCost.Runtime.Models.Lora;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

public enum ComponentKind { Unet, Vae, TextEncoder, Lora, Pipeline }

/// <summary>Which Stable Diffusion generation a network's structure matches (DESIGN §6). The VAE is shared by all three.</summary>
public enum ModelFamily { Unknown, SD1, SD2, SDXL }

/// <summary>Tensor naming: diffusers/transformers folders, or single-file LDM checkpoints (OpenCLIP names included); for
/// LoRA files also PEFT (lora_A/lora_B) and kohya (lora_unet_…/lora_te…_); Diffusers then means lora.down/lora.up.</summary>
public enum WeightNaming { Diffusers, Ldm, Peft, Kohya, Mixed }

/// <summary>The model could not be recognised from its tensor names and shapes.</summary>
/// <remarks>An <see cref="IOException"/> (InvalidDataException is sealed): the file is readable but not a model we know.</remarks>
public sealed class UnknownModelException(string message) : IOException(message);

/// <summary>One fact read off the weights: a width, a channel list, a projection kind. Value is an int, long, int[] or string.</summary>
public sealed record ModelFact(string Key, object Value)
{
    public string ValueText => Value is int[] a ? "[" + string.Join(",", a) + "]" : Value.ToString() ?? "";
}

public sealed record DTypeTotals(SafetensorsDType DType, int Tensors, long Elements, long Bytes);

/// <summary>Tensor count, parameters, bytes, and the same by dtype. Parameters are the elements of floating-point
/// tensors: integer tensors in checkpoints are buffers (CLIP's position_ids), not weights.</summary>
public sealed record WeightTotals(int Tensors, long Parameters, long Bytes, IReadOnlyList<DTypeTotals> ByDType)
{
    public static bool IsFloat(SafetensorsDType d) =>
        d is SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F64;

    public static WeightTotals Of(IEnumerable<CheckpointTensor> tensors)
    {
        var list = tensors.ToList();
        var by = list.GroupBy(t => t.DType).OrderBy(g => g.Key)
            .Select(g => new DTypeTotals(g.Key, g.Count(), g.Sum(t => t.ElementCount), g.Sum(t => t.ByteLength))).ToList();
        return new WeightTotals(list.Count, list.Where(t => IsFloat(t.DType)).Sum(t => t.ElementCount), list.Sum(t => t.ByteLength), by);
    }
}

/// <summary>A recognised network inside a checkpoint.</summary>
/// <param name="Name">Its pipeline role: unet, vae, text_encoder, text_encoder_2 (the folder name in a pipeline folder).</param>
/// <param name="Prefix">The name prefix its tensors share in a single-file checkpoint ("" when none).</param>
/// <param name="Description">One line: what it is and why we think so.</param>
public sealed record DetectedComponent(string Name, ComponentKind Kind, ModelFamily Family, WeightNaming Naming, string Prefix,
    string Source, string Description, IReadOnlyList<ModelFact> Facts, WeightTotals Totals);

/// <summary>What a file or folder holds. <see cref="Kind"/> is Pipeline when there is more than one component.</summary>
public sealed record DetectedModel(string Path, ComponentKind Kind, ModelFamily Family, WeightNaming Naming,
    IReadOnlyList<DetectedComponent> Components, WeightTotals Totals, IReadOnlyList<string> Notes)
{
    public string Description =>
        Kind == ComponentKind.Pipeline
            ? $"{(Family == ModelFamily.Unknown ? "Stable Diffusion" : ModelDetection.FamilyName(Family))} pipeline ({string.Join(" + ", Components.Select(c => c.Name))}), {ModelDetection.NamingName(Naming)} naming"
            : Components[0].Description;
}

/// <summary>
/// Says what a checkpoint is from its tensor names and shapes alone (DESIGN §6): component kind, SD family, naming,
/// the widths it found. Families are told apart by structure, not size, so toy models are recognised too: SDXL has an
/// added text/time embedding (<c>add_embedding</c> / LDM <c>label_emb</c>); SD 2.x projects into its transformers with
/// linear layers, SD 1.x with 1×1 convolutions. The widths found are reported beside the real family's.
/// </summary>
public static class ModelDetection
{
    /// <summary>Single-file (LDM) prefixes and the component each holds. The text encoders come with HF names under
    /// "transformer." or OpenCLIP names under "model.".</summary>
    private static readonly (string Prefix, string Component)[] LdmPrefixes =
    [
        ("model.diffusion_model.", "unet"),
        ("first_stage_model.", "vae"),
        ("cond_stage_model.transformer.", "text_encoder"),
        ("cond_stage_model.model.", "text_encoder"),
        ("conditioner.embedders.0.transformer.", "text_encoder"),
        ("conditioner.embedders.0.model.", "text_encoder"),
        ("conditioner.embedders.1.model.", "text_encoder_2"),
        ("conditioner.embedders.1.transformer.", "text_encoder_2"),
    ];

    private const string LookedFor =
        "looked for a UNet (conv_in.weight + down_blocks.*, or input_blocks.0.0.weight + time_embed.*), a VAE (decoder.conv_in.weight " +
        "+ post_quant_conv.weight or decoder.up*), a CLIP text encoder (text_model.embeddings.token_embedding.weight, or OpenCLIP's " +
        "token_embedding.weight + transformer.resblocks.*), and the single-file prefixes model.diffusion_model., first_stage_model., " +
        "cond_stage_model., conditioner.embedders.N., and LoRA factors (…lora_A/lora_B.weight, …lora.down/up.weight, lora_unet_/lora_te*_…lora_down/up.weight).";

    public static string FamilyName(ModelFamily f) => f switch
    {
        ModelFamily.SD1 => "SD 1.x",
        ModelFamily.SD2 => "SD 2.x",
        ModelFamily.SDXL => "SDXL",
        _ => "not family-specific",
    };

    public static string NamingName(WeightNaming n) => n switch
    {
        WeightNaming.Diffusers => "diffusers",
        WeightNaming.Ldm => "LDM single-file",
        WeightNaming.Peft => "PEFT",
        WeightNaming.Kohya => "kohya",
        _ => "mixed",
    };

    public static string KindName(ComponentKind k) => k switch
    {
        ComponentKind.Unet => "unet",
        ComponentKind.Vae => "vae",
        ComponentKind.TextEncoder => "clip text encoder",
        ComponentKind.Lora => "lora",
        _ => "pipeline",
    };

    /// <summary>Opens the path (file, index, component or pipeline folder) and detects what it holds.</summary>
    public static DetectedModel Detect(string path)
    {
        using var source = ModelSource.Open(path);
        return Detect(source);
    }

    public static DetectedModel Detect(ModelSource source)
    {
        var components = new List<DetectedComponent>();
        var notes = new List<string>();
        foreach (var part in source.Parts)
        {
            var found = DetectTensors(part.WeightsPath, part.Tensors, part.Component, notes);
            components.AddRange(found);
            if (part.ConfigClassName() is { } cls)
            {
                var kind = found.Count == 1 ? found[0].Kind : ComponentKind.Pipeline;
                bool agrees = kind switch
                {
                    ComponentKind.Unet => cls.Contains("UNet", StringComparison.OrdinalIgnoreCase),
                    ComponentKind.Vae => cls.Contains("Autoencoder", StringComparison.OrdinalIgnoreCase),
                    ComponentKind.TextEncoder => cls.Contains("CLIP", StringComparison.OrdinalIgnoreCase),
                    _ => true,
                };
                notes.Add(agrees
                    ? $"{part.ConfigPath}: _class_name {cls} agrees with the weights"
                    : $"warning: {part.ConfigPath} says {cls}, but the weights look like a {KindName(kind)}");
            }
        }
        return Combine(source.Path, components, WeightTotals.Of(source.Parts.SelectMany(p => p.Tensors)), notes);
    }

    /// <summary>Detects what a set of tensors (one checkpoint) holds; <paramref name="source"/> names it in messages.</summary>
    public static DetectedModel Detect(string source, IReadOnlyList<CheckpointTensor> tensors)
    {
        var notes = new List<string>();
        return Combine(source, DetectTensors(source, tensors, "", notes), WeightTotals.Of(tensors), notes);
    }

    private static DetectedModel Combine(string path, List<DetectedComponent> components, WeightTotals totals, List<string> notes)
    {
        var kind = components.Count == 1 ? components[0].Kind : ComponentKind.Pipeline;
        var unet = components.FirstOrDefault(c => c.Kind == ComponentKind.Unet);
        var family = unet?.Family
            ?? (components.Select(c => c.Family).Where(f => f != ModelFamily.Unknown).Distinct().ToList() is [var only] ? only : ModelFamily.Unknown);
        var namings = components.Select(c => c.Naming).Distinct().ToList();
        var naming = namings.Count == 1 ? namings[0] : WeightNaming.Mixed;
        return new DetectedModel(path, kind, family, naming, components, totals, notes);
    }

    private static List<DetectedComponent> DetectTensors(string source, IReadOnlyList<CheckpointTensor> tensors, string component, List<string> notes)
    {
        // A LoRA file: every tensor is a LoRA factor or alpha. Parsed by LoraAdapter's own reader (one way to read LoRA names).
        if (tensors.Count > 0 && tensors.All(t => LoraAdapter.IsLoraTensorName(t.Name)))
            return [Lora(source, tensors, component)];

        // Single-file LDM checkpoints: split by prefix, detect each group on its own.
        var groups = new List<(string Prefix, string Component, List<CheckpointTensor> Tensors)>();
        var rest = new List<CheckpointTensor>();
        foreach (var t in tensors)
        {
            int k = Array.FindIndex(LdmPrefixes, p => t.Name.StartsWith(p.Prefix, StringComparison.Ordinal));
            if (k < 0) { rest.Add(t); continue; }
            var (prefix, comp) = LdmPrefixes[k];
            int g = groups.FindIndex(x => x.Prefix == prefix);
            if (g < 0) { groups.Add((prefix, comp, new List<CheckpointTensor>())); g = groups.Count - 1; }
            groups[g].Tensors.Add(t);
        }

        var found = new List<DetectedComponent>();
        if (groups.Count > 0)
        {
            foreach (var (prefix, comp, list) in groups)
            {
                var d = DetectOne(source, Strip(list, prefix), prefix, comp)
                    ?? throw new UnknownModelException(
                        $"cannot tell what model this is: '{source}' has {list.Count} tensors under '{prefix}' but they are not a {comp} " +
                        $"(first: {string.Join(", ", list.Take(3).Select(t => t.Name))}); {LookedFor}");
                found.Add(d);
            }
            if (rest.Count > 0)
                notes.Add($"{source}: {rest.Count} tensors outside the model prefixes, not part of any component (e.g. {string.Join(", ", rest.Take(3).Select(t => t.Name))})");
            return found;
        }

        var one = DetectOne(source, tensors.ToDictionary(t => t.Name, StringComparer.Ordinal), "", component);
        if (one is null)
        {
            string sample = tensors.Count == 0 ? "it has no tensors" : $"it has {tensors.Count} tensors, e.g. {string.Join(", ", tensors.Take(3).Select(t => t.Name))}";
            throw new UnknownModelException($"cannot tell what model this is: '{source}': {sample}; {LookedFor}");
        }
        found.Add(one);
        return found;
    }

    private static DetectedComponent Lora(string source, IReadOnlyList<CheckpointTensor> tensors, string component)
    {
        var layout = LoraAdapter.ReadLayout(source, tensors);
        var targets = layout.Targets.Select(LoraAdapter.TargetName).ToList();
        var facts = new List<ModelFact>
        {
            new("rank", layout.Rank),
            new("modules", layout.Modules.Count),
            new("targets", string.Join(",", targets)),
        };
        foreach (var t in layout.Targets) facts.Add(new($"modules_{LoraAdapter.TargetName(t)}", layout.ModuleCount(t)));
        facts.Add(new("alpha", layout.Modules.All(m => m.AlphaName is not null) ? "per module" : layout.Modules.Any(m => m.AlphaName is not null) ? "some modules (others r)" : "none (alpha = r)"));
        // SDXL's second text encoder is only adapted in SDXL LoRAs; otherwise the family cannot be told from LoRA names.
        var family = layout.Targets.Contains(LoraTarget.TextEncoder2) ? ModelFamily.SDXL : ModelFamily.Unknown;
        string desc = $"LoRA (naming: {NamingName(layout.Naming)}, rank {layout.Rank}, {layout.Modules.Count} module{(layout.Modules.Count == 1 ? "" : "s")}; targets: {string.Join(", ", targets)})";
        return new DetectedComponent(Name(component, "lora"), ComponentKind.Lora, family, layout.Naming, "", source, desc, facts, WeightTotals.Of(tensors));
    }

    private static Dictionary<string, CheckpointTensor> Strip(List<CheckpointTensor> list, string prefix) =>
        list.ToDictionary(t => t.Name[prefix.Length..], StringComparer.Ordinal);

    private static DetectedComponent? DetectOne(string source, Dictionary<string, CheckpointTensor> t, string prefix, string component)
    {
        var ctx = new Ctx(source, prefix, t);
        if (t.ContainsKey("conv_in.weight") && t.Keys.Any(k => k.StartsWith("down_blocks.", StringComparison.Ordinal)))
            return Unet(ctx, WeightNaming.Diffusers, Name(component, "unet"));
        if (t.ContainsKey("input_blocks.0.0.weight") && t.Keys.Any(k => k.StartsWith("time_embed.", StringComparison.Ordinal)))
            return Unet(ctx, WeightNaming.Ldm, Name(component, "unet"));
        if (t.ContainsKey("decoder.conv_in.weight") || t.ContainsKey("encoder.conv_in.weight"))
        {
            bool diffusers = t.Keys.Any(k => k.StartsWith("decoder.up_blocks.", StringComparison.Ordinal) || k.StartsWith("encoder.down_blocks.", StringComparison.Ordinal));
            bool ldm = t.Keys.Any(k => k.StartsWith("decoder.up.", StringComparison.Ordinal) || k.StartsWith("encoder.down.", StringComparison.Ordinal));
            if (diffusers != ldm) return Vae(ctx, diffusers ? WeightNaming.Diffusers : WeightNaming.Ldm, Name(component, "vae"));
        }
        if (t.ContainsKey("text_model.embeddings.token_embedding.weight"))
            return ClipHf(ctx, Name(component, "text_encoder"));
        if (t.ContainsKey("token_embedding.weight") && t.Keys.Any(k => k.StartsWith("transformer.resblocks.", StringComparison.Ordinal)))
            return OpenClip(ctx, Name(component, "text_encoder"));
        return null;
    }

    private static string Name(string component, string fallback) => component.Length > 0 ? component : fallback;

    /// <summary>The tensors of one component (names without prefix) and how to name them in messages.</summary>
    private sealed class Ctx(string source, string prefix, Dictionary<string, CheckpointTensor> t)
    {
        public string Source => source;
        public string Prefix => prefix;
        public Dictionary<string, CheckpointTensor> T => t;

        public int[]? Shape(string name) => t.TryGetValue(name, out var x) ? x.Shape : null;

        /// <summary>The shape of a tensor the structure requires, checked for rank.</summary>
        public int[] Need(string name, int rank, string what)
        {
            if (!t.TryGetValue(name, out var x))
                throw new UnknownModelException($"cannot tell what model this is: '{source}' looks like a {what} but has no tensor '{prefix}{name}'");
            if (x.Shape.Length != rank)
                throw new InvalidDataException($"'{source}', tensor '{prefix}{name}': shape {x.ShapeString} is not {rank}-D, as a {what}'s {name} must be");
            return x.Shape;
        }

        public WeightTotals Totals() => WeightTotals.Of(t.Values);
    }

    private static readonly Regex CrossKey = new(@"(^|\.)transformer_blocks\.(\d+)\.attn2\.to_k\.weight$", RegexOptions.CultureInvariant);

    private static DetectedComponent Unet(Ctx c, WeightNaming naming, string name)
    {
        const string what = "UNet";
        bool ldm = naming == WeightNaming.Ldm;
        var convIn = c.Need(ldm ? "input_blocks.0.0.weight" : "conv_in.weight", 4, what);
        var temb = c.Need(ldm ? "time_embed.0.weight" : "time_embedding.linear_1.weight", 2, what);
        var convOut = c.Shape(ldm ? "out.2.weight" : "conv_out.weight");

        // Levels: channel width and transformer depth of each down level.
        var channels = new List<int>();
        var depths = new List<int>();
        if (!ldm)
        {
            for (int i = 0; c.T.Keys.Any(k => k.StartsWith($"down_blocks.{i}.", StringComparison.Ordinal)); i++)
            {
                var r = c.Need($"down_blocks.{i}.resnets.0.conv2.weight", 4, what);
                channels.Add(r[0]);
                depths.Add(CountIndices(c.T.Keys, $"down_blocks.{i}.attentions.0.transformer_blocks."));
            }
        }
        else
        {
            // input_blocks.k: resnets (k.0.out_layers) of the current level, then a downsampler (k.0.op) closing it.
            int level = -1;
            bool open = false;
            for (int k = 1; c.T.Keys.Any(n => n.StartsWith($"input_blocks.{k}.", StringComparison.Ordinal)); k++)
            {
                if (c.T.ContainsKey($"input_blocks.{k}.0.op.weight")) { open = false; continue; }
                var r = c.Need($"input_blocks.{k}.0.out_layers.3.weight", 4, what);
                int depth = CountIndices(c.T.Keys, $"input_blocks.{k}.1.transformer_blocks.");
                if (!open) { level++; open = true; channels.Add(r[0]); depths.Add(depth); }
                else depths[level] = Math.Max(depths[level], depth);
            }
        }

        var cross = c.T.Where(kv => CrossKey.IsMatch(kv.Key)).Select(kv => kv.Value).ToList();
        if (cross.Count == 0)
            throw new UnknownModelException(
                $"cannot tell what model this is: '{c.Source}' looks like a UNet ({c.Prefix}{(ldm ? "input_blocks.0.0.weight" : "conv_in.weight")}) but has no cross-attention " +
                $"layer (looked for {c.Prefix}…transformer_blocks.N.attn2.to_k.weight), so it is not a text-conditioned Stable Diffusion UNet");
        foreach (var x in cross)
            if (x.Shape.Length != 2)
                throw new InvalidDataException($"'{c.Source}', tensor '{c.Prefix}{x.Name}': shape {x.ShapeString} is not 2-D [inner, cross_attention_width]");
        var crossWidths = cross.Select(x => x.Shape[1]).Distinct().Order().ToArray();

        var projRanks = c.T.Where(kv => kv.Key.EndsWith(".proj_in.weight", StringComparison.Ordinal)).Select(kv => kv.Value.Shape.Length).Distinct().ToList();
        string proj = projRanks switch
        {
            [2] => "linear",
            [4] => "conv1x1",
            [] => throw new UnknownModelException($"cannot tell what model this is: '{c.Source}' has cross-attention but no transformer proj_in weights ({c.Prefix}…proj_in.weight)"),
            _ => "mixed",
        };
        var add = c.Shape(ldm ? "label_emb.0.0.weight" : "add_embedding.linear_1.weight");
        int transformerBlocks = cross.Count;

        ModelFamily family;
        string why;
        if (add is not null)
        {
            family = ModelFamily.SDXL;
            why = $"{(ldm ? "label_emb" : "add_embedding")} (added text/time embedding, {add[^1]} in)";
        }
        else if (proj == "linear") { family = ModelFamily.SD2; why = "linear proj_in, no added embedding"; }
        else if (proj == "conv1x1") { family = ModelFamily.SD1; why = "1×1-conv proj_in, no added embedding"; }
        else
            throw new UnknownModelException($"cannot tell what model this is: '{c.Source}' has both linear and 1×1-conv proj_in weights and no added embedding: neither SD 1.x nor SD 2.x");

        var facts = new List<ModelFact>
        {
            new("in_channels", convIn[1]),
            new("out_channels", convOut is { Length: 4 } ? convOut[0] : 0),
            new("block_out_channels", channels.ToArray()),
            new("transformer_depth", depths.ToArray()),
            new("transformer_blocks", transformerBlocks),
            new("cross_attention_width", crossWidths.Length == 1 ? crossWidths[0] : (object)crossWidths),
            new("attention_projection", proj),
            new("time_embed_width", temb[0]),
        };
        if (add is not null) facts.Add(new("addition_embed_in", add[^1]));

        int realCross = family switch { ModelFamily.SD1 => 768, ModelFamily.SD2 => 1024, _ => 2048 };
        // The SDXL refiner conditions on OpenCLIP-bigG alone (1280) with aesthetic-score time ids (2560 in).
        bool refiner = family == ModelFamily.SDXL && crossWidths.SequenceEqual([1280]) && add![^1] == 2560;
        string size = refiner ? "cross-attention width 1280 and 2560 added-embedding inputs: the SDXL refiner"
            : crossWidths.SequenceEqual([realCross])
            ? $"cross-attention width {realCross}"
            : $"{FamilyName(family)}-style at another size: cross-attention width {string.Join("/", crossWidths)} ({FamilyName(family)} proper: {realCross})";
        string inpaint = convIn[1] == 9 ? ", 9 input channels (inpainting)" : "";
        string desc = $"{FamilyName(family)} UNet ({why}; {size}; channels {string.Join(",", channels)}{inpaint}), {NamingName(naming)} naming";
        return new DetectedComponent(name, ComponentKind.Unet, family, naming, c.Prefix, c.Source, desc, facts, c.Totals());
    }

    private static int CountIndices(IEnumerable<string> keys, string prefix)
    {
        var seen = new HashSet<int>();
        foreach (var k in keys)
        {
            if (!k.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = k.IndexOf('.', prefix.Length);
            if (dot > prefix.Length && int.TryParse(k.AsSpan(prefix.Length, dot - prefix.Length), out int i)) seen.Add(i);
        }
        return seen.Count;
    }

    private static DetectedComponent Vae(Ctx c, WeightNaming naming, string name)
    {
        const string what = "VAE";
        bool ldm = naming == WeightNaming.Ldm;
        bool hasDecoder = c.T.ContainsKey("decoder.conv_in.weight"), hasEncoder = c.T.ContainsKey("encoder.conv_in.weight");
        var channels = new List<int>();
        // Level i's width: the encoder's down level i, or the decoder's up level (reversed in diffusers, same index in LDM).
        if (hasEncoder)
        {
            for (int i = 0; ; i++)
            {
                string key = ldm ? $"encoder.down.{i}.block.0.conv2.weight" : $"encoder.down_blocks.{i}.resnets.0.conv2.weight";
                if (c.Shape(key) is not { Length: 4 } s) break;
                channels.Add(s[0]);
            }
        }
        else
        {
            var up = new List<int>();
            for (int i = 0; ; i++)
            {
                string key = ldm ? $"decoder.up.{i}.block.0.conv2.weight" : $"decoder.up_blocks.{i}.resnets.0.conv2.weight";
                if (c.Shape(key) is not { Length: 4 } s) break;
                up.Add(s[0]);
            }
            if (!ldm) up.Reverse();
            channels.AddRange(up);
        }
        int latent, image;
        if (hasDecoder)
        {
            latent = c.Need("decoder.conv_in.weight", 4, what)[1];
            image = c.Shape("decoder.conv_out.weight") is { Length: 4 } o ? o[0] : 0;
        }
        else
        {
            image = c.Need("encoder.conv_in.weight", 4, what)[1];
            latent = c.Shape("encoder.conv_out.weight") is { Length: 4 } o ? o[0] / 2 : 0;   // mean and log-variance
        }
        var q = c.Shape(ldm ? "decoder.mid.attn_1.q.weight" : "decoder.mid_block.attentions.0.to_q.weight")
            ?? c.Shape(ldm ? "encoder.mid.attn_1.q.weight" : "encoder.mid_block.attentions.0.to_q.weight")
            ?? c.Shape("decoder.mid_block.attentions.0.query.weight");
        string attnProj = q is null ? "none" : q.Length == 4 ? "conv1x1" : "linear";
        var facts = new List<ModelFact>
        {
            new("latent_channels", latent),
            new("image_channels", image),
            new("block_out_channels", channels.ToArray()),
            new("has_encoder", hasEncoder ? "yes" : "no"),
            new("has_decoder", hasDecoder ? "yes" : "no"),
            new("post_quant_conv", c.T.ContainsKey("post_quant_conv.weight") ? "yes" : "no"),
            new("mid_attention_projection", attnProj),
        };
        string size = channels.SequenceEqual([128, 256, 512, 512]) && latent == 4
            ? "the SD 1.x/2.x/XL size"
            : $"channels {string.Join(",", channels)} (SD's VAE has 128,256,512,512)";
        string parts = hasEncoder && hasDecoder ? "encoder + decoder" : hasDecoder ? "decoder only" : "encoder only";
        string desc = $"AutoencoderKL VAE ({parts}, {latent} latent channels, {size}), {NamingName(naming)} naming";
        return new DetectedComponent(name, ComponentKind.Vae, ModelFamily.Unknown, naming, c.Prefix, c.Source, desc, facts, c.Totals());
    }

    private static (ModelFamily Family, string Known) TextFamily(int width, int layers) => width switch
    {
        768 when layers == 12 => (ModelFamily.SD1, "CLIP ViT-L/14 (SD 1.x's encoder; SDXL's first)"),
        1024 => (ModelFamily.SD2, "OpenCLIP ViT-H/14 (SD 2.x's encoder)"),
        1280 => (ModelFamily.SDXL, "OpenCLIP ViT-bigG/14 (SDXL's second encoder)"),
        _ => (ModelFamily.Unknown, $"a CLIP text transformer of width {width} (CLIP-L is 768, OpenCLIP ViT-H 1024, bigG 1280)"),
    };

    private static DetectedComponent ClipHf(Ctx c, string name)
    {
        const string what = "CLIP text encoder";
        var tok = c.Need("text_model.embeddings.token_embedding.weight", 2, what);
        var pos = c.Need("text_model.embeddings.position_embedding.weight", 2, what);
        int layers = CountIndices(c.T.Keys, "text_model.encoder.layers.");
        var fc1 = c.Shape("text_model.encoder.layers.0.mlp.fc1.weight");
        var proj = c.Shape("text_projection.weight");
        return Clip(c, name, WeightNaming.Diffusers, tok[1], layers, tok[0], pos[0], fc1 is { Length: 2 } ? fc1[0] : 0, proj is { Length: 2 } ? proj[0] : 0);
    }

    private static DetectedComponent OpenClip(Ctx c, string name)
    {
        const string what = "OpenCLIP text encoder";
        var tok = c.Need("token_embedding.weight", 2, what);
        var pos = c.Need("positional_embedding", 2, what);
        int layers = CountIndices(c.T.Keys, "transformer.resblocks.");
        var fc = c.Shape("transformer.resblocks.0.mlp.c_fc.weight");
        var proj = c.Shape("text_projection");   // OpenCLIP stores [width, projection], a bare parameter
        return Clip(c, name, WeightNaming.Ldm, tok[1], layers, tok[0], pos[0], fc is { Length: 2 } ? fc[0] : 0, proj is { Length: 2 } ? proj[1] : 0);
    }

    private static DetectedComponent Clip(Ctx c, string name, WeightNaming naming, int width, int layers, int vocab, int positions, int mlp, int projection)
    {
        var (family, known) = TextFamily(width, layers);
        var facts = new List<ModelFact>
        {
            new("width", width), new("layers", layers), new("vocab", vocab), new("positions", positions), new("mlp_width", mlp),
        };
        if (projection > 0) facts.Add(new("projection_dim", projection));
        string style = naming == WeightNaming.Ldm ? "OpenCLIP" : "transformers";
        string desc = $"CLIP text encoder: {known}; width {width}, {layers} layers, {positions} positions{(projection > 0 ? $", projection {projection}" : "")}, {style} naming";
        // In a single-file checkpoint the HF-named encoder sits under an LDM prefix: the file's naming is LDM.
        var fileNaming = c.Prefix.Length > 0 ? WeightNaming.Ldm : naming;
        return new DetectedComponent(name, ComponentKind.TextEncoder, family, fileNaming, c.Prefix, c.Source, desc, facts, c.Totals());
    }
}
