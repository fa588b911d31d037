using System.Text.Json;

namespace PixelCost.Runtime.Models;

/// <summary>
/// The architecture of a diffusers <c>UNet2DConditionModel</c>, read from its <c>config.json</c> (or a preset with the
/// public values of SD 1.5, SD 2.1, SD-Turbo, SDXL, SDXL-Turbo). Head counts are resolved once here: diffusers' legacy
/// naming puts the number of heads of SD 1.x/2.x/XL in <c>attention_head_dim</c> when <c>num_attention_heads</c> is
/// null (diffusers itself does <c>num_attention_heads or attention_head_dim</c>), so <see cref="HeadsPerBlock"/> is
/// always a head count. Unknown fields are ignored; a value this runtime does not implement is an
/// <see cref="InvalidDataException"/> naming the file and the field.
/// </summary>
public sealed record UnetConfig
{
    public const string CrossAttnDown = "CrossAttnDownBlock2D", Down = "DownBlock2D";
    public const string CrossAttnUp = "CrossAttnUpBlock2D", Up = "UpBlock2D";
    public const string MidCrossAttn = "UNetMidBlock2DCrossAttn";

    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    public int LayersPerBlock { get; init; } = 2;
    public string[] DownBlockTypes { get; init; } = [CrossAttnDown, CrossAttnDown, CrossAttnDown, Down];
    public string[] UpBlockTypes { get; init; } = [Up, CrossAttnUp, CrossAttnUp, CrossAttnUp];
    public int CrossAttentionDim { get; init; } = 768;

    /// <summary>Attention heads per down level (up levels use them reversed, the mid block the last).</summary>
    public int[] HeadsPerBlock { get; init; } = [8, 8, 8, 8];

    /// <summary>Linear proj_in/proj_out on [B,HW,C] (SD 2.x, XL) instead of 1×1 convolutions (SD 1.x).</summary>
    public bool UseLinearProjection { get; init; }

    /// <summary>Transformer blocks per attention, per down level (up levels reversed, mid the last).</summary>
    public int[] TransformerLayersPerBlock { get; init; } = [1, 1, 1, 1];

    public int NormNumGroups { get; init; } = 32;
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>null, or "text_time" (SDXL: text_embeds + sinusoidal time_ids through add_embedding).</summary>
    public string? AdditionEmbedType { get; init; }
    public int AdditionTimeEmbedDim { get; init; }
    public int ProjectionClassEmbeddingsInputDim { get; init; }

    public bool FlipSinToCos { get; init; } = true;
    public float FreqShift { get; init; }

    /// <summary>Latent side the model was trained at (64 = 512² images).</summary>
    public int SampleSize { get; init; } = 64;

    /// <summary>Where this config came from (a path or "preset NAME"), for error messages.</summary>
    public string Source { get; init; } = "defaults";

    public int Levels => BlockOutChannels.Length;
    public int TimeEmbedDim => BlockOutChannels[0] * 4;
    public bool HasTextTimeEmbedding => AdditionEmbedType == "text_time";

    public static IReadOnlyList<string> PresetNames { get; } = ["sd15", "sd21", "sd21-base", "sd-turbo", "sdxl", "sdxl-turbo"];

    /// <summary>The public diffusers UNet configs (the unet/config.json of each model's repository).</summary>
    public static UnetConfig Preset(string name)
    {
        // SD 1.5 (runwayml/stable-diffusion-v1-5): attention_head_dim 8 = 8 heads at every level.
        var sd15 = new UnetConfig { Source = "preset sd15" };
        // SD 2.x (stabilityai/stable-diffusion-2-1[-base], sd-turbo): attention_head_dim [5,10,20,20] heads of 64, OpenCLIP-H 1024.
        var sd2 = sd15 with { CrossAttentionDim = 1024, HeadsPerBlock = [5, 10, 20, 20], UseLinearProjection = true };
        // SDXL (stabilityai/stable-diffusion-xl-base-1.0, sdxl-turbo): 3 levels, depths 1/2/10, CLIP-L ++ bigG = 2048,
        // added embedding of pooled text (1280) + 6 time ids × 256 = 2816.
        var sdxl = new UnetConfig
        {
            BlockOutChannels = [320, 640, 1280],
            DownBlockTypes = [Down, CrossAttnDown, CrossAttnDown],
            UpBlockTypes = [CrossAttnUp, CrossAttnUp, Up],
            CrossAttentionDim = 2048,
            HeadsPerBlock = [5, 10, 20],
            UseLinearProjection = true,
            TransformerLayersPerBlock = [1, 2, 10],
            AdditionEmbedType = "text_time",
            AdditionTimeEmbedDim = 256,
            ProjectionClassEmbeddingsInputDim = 2816,
            SampleSize = 128,
        };
        return name.ToLowerInvariant() switch
        {
            "sd15" => sd15,
            "sd21" => sd2 with { SampleSize = 96, Source = "preset sd21" },
            "sd21-base" => sd2 with { SampleSize = 64, Source = "preset sd21-base" },
            "sd-turbo" => sd2 with { SampleSize = 64, Source = "preset sd-turbo" },
            "sdxl" => sdxl with { Source = "preset sdxl" },
            "sdxl-turbo" => sdxl with { SampleSize = 64, Source = "preset sdxl-turbo" },
            _ => throw new ArgumentException($"unknown UNet preset '{name}' (known: {string.Join(", ", PresetNames)})"),
        };
    }

    /// <summary>Reads a diffusers UNet config.json: the file, or a folder holding it (a component folder, or a pipeline
    /// folder's unet/).</summary>
    public static UnetConfig Load(string path)
    {
        string file = path;
        if (Directory.Exists(path))
        {
            file = Path.Combine(path, "config.json");
            if (!File.Exists(file)) file = Path.Combine(path, "unet", "config.json");
            if (!File.Exists(file)) throw new InvalidDataException($"{path}: no config.json there or in its unet/ folder");
        }
        string text;
        try { text = File.ReadAllText(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{file}: cannot read the UNet config: {e.Message}", e);
        }
        return Parse(text, file);
    }

    /// <summary>Parses the JSON text of a diffusers UNet config; <paramref name="source"/> names it in errors.</summary>
    public static UnetConfig Parse(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: a UNet config must be a JSON object, not {r.ValueKind}");
            if (Str(r, "_class_name", source) is { } cls && cls != "UNet2DConditionModel")
                throw new InvalidDataException($"{source}: field \"_class_name\" is \"{cls}\"; this is the config of a UNet2DConditionModel reader");

            int inCh = Int(r, "in_channels", source) ?? 4;
            int outCh = Int(r, "out_channels", source) ?? 4;
            int[] blocks = IntList(r, "block_out_channels", source, null) ?? [320, 640, 1280, 1280];
            int levels = blocks.Length;
            if (levels == 0 || blocks.Any(c => c <= 0))
                throw new InvalidDataException($"{source}: field \"block_out_channels\" must be a non-empty list of positive numbers");
            int layers = IntOrList(r, "layers_per_block", source, levels, 2, uniform: true)[0];
            string[] down = StrList(r, "down_block_types", source) ?? [CrossAttnDown, CrossAttnDown, CrossAttnDown, Down];
            string[] up = StrList(r, "up_block_types", source) ?? [Up, CrossAttnUp, CrossAttnUp, CrossAttnUp];
            if (down.Length != levels) throw new InvalidDataException($"{source}: field \"down_block_types\" has {down.Length} entries but block_out_channels has {levels}");
            if (up.Length != levels) throw new InvalidDataException($"{source}: field \"up_block_types\" has {up.Length} entries but block_out_channels has {levels}");
            foreach (var t in down)
                if (t is not (CrossAttnDown or Down))
                    throw new InvalidDataException($"{source}: field \"down_block_types\": block type \"{t}\" is not supported (supported: {CrossAttnDown}, {Down})");
            foreach (var t in up)
                if (t is not (CrossAttnUp or Up))
                    throw new InvalidDataException($"{source}: field \"up_block_types\": block type \"{t}\" is not supported (supported: {CrossAttnUp}, {Up})");
            string mid = Str(r, "mid_block_type", source) ?? MidCrossAttn;
            if (mid != MidCrossAttn)
                throw new InvalidDataException($"{source}: field \"mid_block_type\": \"{mid}\" is not supported (supported: {MidCrossAttn})");

            int[]? numHeads = IsSet(r, "num_attention_heads") ? IntOrList(r, "num_attention_heads", source, levels, 0, uniform: false) : null;
            int[] heads = numHeads ?? IntOrList(r, "attention_head_dim", source, levels, 8, uniform: false);
            for (int i = 0; i < levels; i++)
                if (heads[i] <= 0 || blocks[i] % heads[i] != 0)
                    throw new InvalidDataException($"{source}: field \"{(numHeads is null ? "attention_head_dim" : "num_attention_heads")}\": {heads[i]} heads do not divide the {blocks[i]} channels of level {i}");
            int[] depth = IntOrList(r, "transformer_layers_per_block", source, levels, 1, uniform: false);
            if (depth.Any(d => d < 0)) throw new InvalidDataException($"{source}: field \"transformer_layers_per_block\" must not be negative");
            int groups = Int(r, "norm_num_groups", source) ?? 32;
            if (groups <= 0 || blocks.Any(c => c % groups != 0))
                throw new InvalidDataException($"{source}: field \"norm_num_groups\": {groups} groups must divide every block_out_channels entry");

            string? addType = Str(r, "addition_embed_type", source);
            if (addType is not (null or "text_time"))
                throw new InvalidDataException($"{source}: field \"addition_embed_type\": \"{addType}\" is not supported (supported: null, \"text_time\")");
            int addTimeDim = Int(r, "addition_time_embed_dim", source) ?? 0;
            int projIn = Int(r, "projection_class_embeddings_input_dim", source) ?? 0;
            if (addType == "text_time" && (addTimeDim <= 0 || projIn <= 0))
                throw new InvalidDataException($"{source}: \"addition_embed_type\" text_time needs positive \"addition_time_embed_dim\" and \"projection_class_embeddings_input_dim\"");

            // Fields whose other values change the graph in ways this runtime does not build: refuse, never ignore.
            Require(r, source, "act_fn", "silu");
            Require(r, source, "time_embedding_type", "positional");
            Require(r, source, "resnet_time_scale_shift", "default");
            Require(r, source, "attention_type", "default");
            RequireNull(r, source, "class_embed_type");
            RequireNull(r, source, "encoder_hid_dim_type");
            RequireNull(r, source, "time_cond_proj_dim");
            RequireNull(r, source, "time_embedding_dim");
            RequireNull(r, source, "time_embedding_act_fn");
            RequireNull(r, source, "timestep_post_act");
            RequireNull(r, source, "cross_attention_norm");
            RequireNull(r, source, "reverse_transformer_layers_per_block");
            RequireNull(r, source, "num_class_embeds");
            RequireFalse(r, source, "only_cross_attention");
            RequireFalse(r, source, "dual_cross_attention");
            RequireFalse(r, source, "center_input_sample");
            RequireFalse(r, source, "resnet_skip_time_act");
            RequireFalse(r, source, "class_embeddings_concat");
            RequireFalse(r, source, "mid_block_only_cross_attention");
            RequireNumber(r, source, "mid_block_scale_factor", 1);
            RequireNumber(r, source, "resnet_out_scale_factor", 1);
            RequireNumber(r, source, "downsample_padding", 1);
            RequireNumber(r, source, "conv_in_kernel", 3);
            RequireNumber(r, source, "conv_out_kernel", 3);

            return new UnetConfig
            {
                InChannels = inCh,
                OutChannels = outCh,
                BlockOutChannels = blocks,
                LayersPerBlock = layers,
                DownBlockTypes = down,
                UpBlockTypes = up,
                CrossAttentionDim = Int(r, "cross_attention_dim", source) ?? 1280,
                HeadsPerBlock = heads,
                UseLinearProjection = Bool(r, "use_linear_projection", source) ?? false,
                TransformerLayersPerBlock = depth,
                NormNumGroups = groups,
                NormEps = (float)(Num(r, "norm_eps", source) ?? 1e-5),
                AdditionEmbedType = addType,
                AdditionTimeEmbedDim = addTimeDim,
                ProjectionClassEmbeddingsInputDim = projIn,
                FlipSinToCos = Bool(r, "flip_sin_to_cos", source) ?? true,
                FreqShift = (float)(Num(r, "freq_shift", source) ?? 0),
                SampleSize = Int(r, "sample_size", source) ?? 64,
                Source = source,
            };
        }
    }

    private static bool IsSet(JsonElement r, string name) =>
        r.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    private static string Where(string source, string name) => $"{source}: field \"{name}\"";

    private static int? Int(JsonElement r, string name, string source)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
            : throw new InvalidDataException($"{Where(source, name)} must be an integer, got {v.GetRawText()}");
    }

    private static double? Num(JsonElement r, string name, string source)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        return v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : throw new InvalidDataException($"{Where(source, name)} must be a number, got {v.GetRawText()}");
    }

    private static bool? Bool(JsonElement r, string name, string source)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
            : throw new InvalidDataException($"{Where(source, name)} must be true or false, got {v.GetRawText()}");
    }

    private static string? Str(JsonElement r, string name, string source)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        return v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw new InvalidDataException($"{Where(source, name)} must be a string, got {v.GetRawText()}");
    }

    private static string[]? StrList(JsonElement r, string name, string source)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw new InvalidDataException($"{Where(source, name)} must be a list of strings, got {v.GetRawText()}");
        return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    private static int[]? IntList(JsonElement r, string name, string source, int? length)
    {
        if (!IsSet(r, name)) return null;
        var v = r.GetProperty(name);
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out _)))
            throw new InvalidDataException($"{Where(source, name)} must be a list of integers, got {v.GetRawText()}");
        var a = v.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        if (length is { } n && a.Length != n)
            throw new InvalidDataException($"{Where(source, name)} has {a.Length} entries, one per level ({n}) expected");
        return a;
    }

    /// <summary>An integer (the same at every level) or a list with one per level.</summary>
    private static int[] IntOrList(JsonElement r, string name, string source, int levels, int fallback, bool uniform)
    {
        if (!IsSet(r, name)) return Enumerable.Repeat(fallback, levels).ToArray();
        var v = r.GetProperty(name);
        int[] a = v.ValueKind == JsonValueKind.Array
            ? IntList(r, name, source, levels)!
            : Enumerable.Repeat(Int(r, name, source)!.Value, levels).ToArray();
        if (uniform && a.Distinct().Count() > 1)
            throw new InvalidDataException($"{Where(source, name)}: different values per level ({v.GetRawText()}) are not supported");
        return a;
    }

    private static void Require(JsonElement r, string source, string name, string want)
    {
        if (Str(r, name, source) is { } s && s != want)
            throw new InvalidDataException($"{Where(source, name)}: \"{s}\" is not supported (only \"{want}\")");
    }

    private static void RequireNull(JsonElement r, string source, string name)
    {
        if (IsSet(r, name))
            throw new InvalidDataException($"{Where(source, name)}: {r.GetProperty(name).GetRawText()} is not supported (only null)");
    }

    private static void RequireFalse(JsonElement r, string source, string name)
    {
        if (IsSet(r, name) && r.GetProperty(name).ValueKind != JsonValueKind.False)
            throw new InvalidDataException($"{Where(source, name)}: {r.GetProperty(name).GetRawText()} is not supported (only false)");
    }

    private static void RequireNumber(JsonElement r, string source, string name, double want)
    {
        if (Num(r, name, source) is { } d && d != want)
            throw new InvalidDataException($"{Where(source, name)}: {d} is not supported (only {want})");
    }
}
