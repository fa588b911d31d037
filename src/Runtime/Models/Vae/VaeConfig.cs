using System.Text.Json;

namespace PixelCost.Runtime.Models;

/// <summary>
/// The fields of a diffusers <c>AutoencoderKL</c> config.json that shape the network (diffusers 0.27.2 names):
/// block_out_channels, layers_per_block, latent_channels, norm_num_groups, scaling_factor, in_channels, out_channels.
/// The decoder has len(block_out_channels) up blocks of layers_per_block + 1 resnets each (channels reversed), an
/// upsampler after every block but the last, and a mid block (resnet, single-head attention, resnet) at the widest
/// channels; every GroupNorm has <see cref="NormEps"/>.
/// </summary>
public sealed record VaeConfig
{
    /// <summary>Every GroupNorm of diffusers' VAE (resnets, mid attention, conv_norm_out) uses eps 1e-6.</summary>
    public const float NormEps = 1e-6f;

    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public double ScalingFactor { get; init; } = 0.18215;

    /// <summary><c>mid_block_add_attention</c> (diffusers default true).</summary>
    public bool MidBlockAttention { get; init; } = true;

    /// <summary>Where the config came from (a file path or "preset sd15"), for error messages.</summary>
    public string Source { get; init; } = "";

    /// <summary>The decoder's channels at its input (the widest level): block_out_channels[-1].</summary>
    public int DecoderInChannels => BlockOutChannels[^1];

    /// <summary>Spatial upscaling of the decoder: 2^(levels − 1) (8 for SD).</summary>
    public int UpscaleFactor => 1 << (BlockOutChannels.Length - 1);

    public static IReadOnlyList<string> PresetNames { get; } = ["sd15", "sd21", "sd21-base", "sd-turbo", "sdxl", "sdxl-turbo"];

    /// <summary>The VAE of a known model: every SD 1.x/2.x/XL VAE has channels 128,256,512,512, 2 layers per block, 32
    /// groups and 4 latent channels; SDXL's scaling factor is 0.13025, the others' 0.18215.</summary>
    public static VaeConfig Preset(string name)
    {
        var sd = new VaeConfig
        {
            BlockOutChannels = [128, 256, 512, 512], LayersPerBlock = 2, NormNumGroups = 32, LatentChannels = 4,
            ScalingFactor = 0.18215, Source = $"preset {name}",
        };
        return name.ToLowerInvariant() switch
        {
            "sd15" or "sd21" or "sd21-base" or "sd-turbo" => sd,
            "sdxl" or "sdxl-turbo" => sd with { ScalingFactor = 0.13025 },
            _ => throw new ArgumentException($"unknown VAE preset '{name}' (known: {string.Join(", ", PresetNames)})", nameof(name)),
        };
    }

    /// <summary>Reads a diffusers vae config.json (a file, or a folder holding config.json or vae/config.json).</summary>
    public static VaeConfig Load(string path)
    {
        string file = path;
        if (Directory.Exists(path))
        {
            file = Path.Combine(path, "config.json");
            if (!File.Exists(file) && File.Exists(Path.Combine(path, "vae", "config.json"))) file = Path.Combine(path, "vae", "config.json");
        }
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no VAE config.json there", file);
        string json;
        try
        {
            if (new FileInfo(file).Length > 1 << 20) throw new InvalidDataException($"{file}: a config.json over 1 MiB is not a VAE config");
            json = File.ReadAllText(file);
        }
        catch (IOException e) { throw new InvalidDataException($"{file}: cannot read the VAE config: {e.Message}", e); }
        return Parse(json, file);
    }

    /// <summary>Parses config.json text; every error names <paramref name="source"/> and the field.</summary>
    public static VaeConfig Parse(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: the VAE config must be a JSON object");
            var c = new VaeConfig { Source = source };

            if (root.TryGetProperty("_class_name", out var cls) && cls.ValueKind == JsonValueKind.String && cls.GetString() != "AutoencoderKL")
                throw new NotSupportedException($"{source}: \"_class_name\" = \"{cls.GetString()}\" is not supported (only AutoencoderKL)");
            c = c with
            {
                InChannels = Int(root, "in_channels", c.InChannels, source),
                OutChannels = Int(root, "out_channels", c.OutChannels, source),
                LayersPerBlock = Int(root, "layers_per_block", c.LayersPerBlock, source),
                LatentChannels = Int(root, "latent_channels", c.LatentChannels, source),
                NormNumGroups = Int(root, "norm_num_groups", c.NormNumGroups, source),
                ScalingFactor = Double(root, "scaling_factor", c.ScalingFactor, source),
                MidBlockAttention = Bool(root, "mid_block_add_attention", true, source),
            };
            if (root.TryGetProperty("block_out_channels", out var boc))
            {
                if (boc.ValueKind != JsonValueKind.Array || boc.GetArrayLength() == 0)
                    throw new InvalidDataException($"{source}: \"block_out_channels\" must be a non-empty array of integers");
                c = c with { BlockOutChannels = boc.EnumerateArray().Select(e => IntValue(e, "block_out_channels", source)).ToArray() };
            }
            if (Str(root, "act_fn", source) is { } act && act != "silu")
                throw new NotSupportedException($"{source}: \"act_fn\" = \"{act}\" is not supported (only silu)");
            foreach (var (field, type) in new[] { ("up_block_types", "UpDecoderBlock2D"), ("down_block_types", "DownEncoderBlock2D") })
            {
                if (!root.TryGetProperty(field, out var types)) continue;
                if (types.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{source}: \"{field}\" must be an array");
                foreach (var u in types.EnumerateArray())
                    if (u.ValueKind != JsonValueKind.String || u.GetString() != type)
                        throw new NotSupportedException($"{source}: \"{field}\" entry {u} is not supported (only {type})");
                if (types.GetArrayLength() != c.BlockOutChannels.Length)
                    throw new InvalidDataException($"{source}: \"{field}\" has {types.GetArrayLength()} entries but \"block_out_channels\" {c.BlockOutChannels.Length}");
            }
            if (root.TryGetProperty("use_post_quant_conv", out var upq) && upq.ValueKind == JsonValueKind.False)
                throw new NotSupportedException($"{source}: \"use_post_quant_conv\" = false is not supported");
            c.Validate();
            return c;
        }
    }

    /// <summary>Checks the sizes make a network: positive, and the groups divide every channel count.</summary>
    public void Validate()
    {
        string s = Source.Length > 0 ? Source : "VAE config";
        if (BlockOutChannels is null || BlockOutChannels.Length == 0) throw new InvalidDataException($"{s}: \"block_out_channels\" is empty");
        if (BlockOutChannels.Length > 8) throw new InvalidDataException($"{s}: \"block_out_channels\" has {BlockOutChannels.Length} levels (at most 8)");
        foreach (var (field, v) in new[] { ("in_channels", InChannels), ("out_channels", OutChannels), ("layers_per_block", LayersPerBlock),
                     ("latent_channels", LatentChannels), ("norm_num_groups", NormNumGroups) })
            if (v < 1) throw new InvalidDataException($"{s}: \"{field}\" = {v} must be ≥ 1");
        foreach (int ch in BlockOutChannels)
        {
            if (ch < 1) throw new InvalidDataException($"{s}: \"block_out_channels\" entry {ch} must be ≥ 1");
            if (ch % NormNumGroups != 0)
                throw new InvalidDataException($"{s}: \"norm_num_groups\" = {NormNumGroups} does not divide the {ch} channels of \"block_out_channels\"");
        }
        if (!(ScalingFactor > 0) || double.IsInfinity(ScalingFactor)) throw new InvalidDataException($"{s}: \"scaling_factor\" = {ScalingFactor} must be > 0");
    }

    /// <summary>
    /// Every parameter of <c>post_quant_conv</c> and the decoder, in diffusers names and PyTorch shapes, in the order
    /// diffusers registers them. Their element count is the model's parameter count (SD: 20 + 49,490,179).
    /// </summary>
    public IReadOnlyList<VaeParameter> DecoderParameters()
    {
        Validate();
        var p = new ParameterList();
        p.Conv("post_quant_conv", LatentChannels, LatentChannels, 1);
        int top = DecoderInChannels;
        p.Conv("decoder.conv_in", top, LatentChannels, 3);
        MidBlock(p, "decoder.mid_block", top);
        foreach (var b in UpBlocks())
        {
            for (int j = 0; j < b.Resnets; j++) p.Resnet($"decoder.up_blocks.{b.Index}.resnets.{j}", j == 0 ? b.In : b.Out, b.Out);
            if (b.Upsample) p.Conv($"decoder.up_blocks.{b.Index}.upsamplers.0.conv", b.Out, b.Out, 3);
        }
        p.Norm("decoder.conv_norm_out", BlockOutChannels[0]);
        p.Conv("decoder.conv_out", OutChannels, BlockOutChannels[0], 3);
        return p.Items;
    }

    /// <summary>
    /// Every parameter of the encoder and <c>quant_conv</c> (diffusers names, registration order). The encoder ends in
    /// 2·latent_channels (mean and log-variance: double_z); SD's count is 34,163,592 + 72.
    /// </summary>
    public IReadOnlyList<VaeParameter> EncoderParameters()
    {
        Validate();
        var p = new ParameterList();
        p.Conv("encoder.conv_in", BlockOutChannels[0], InChannels, 3);
        foreach (var b in DownBlocks())
        {
            for (int j = 0; j < b.Resnets; j++) p.Resnet($"encoder.down_blocks.{b.Index}.resnets.{j}", j == 0 ? b.In : b.Out, b.Out);
            if (b.Downsample) p.Conv($"encoder.down_blocks.{b.Index}.downsamplers.0.conv", b.Out, b.Out, 3);
        }
        int top = BlockOutChannels[^1];
        MidBlock(p, "encoder.mid_block", top);
        p.Norm("encoder.conv_norm_out", top);
        p.Conv("encoder.conv_out", 2 * LatentChannels, top, 3);
        p.Conv("quant_conv", 2 * LatentChannels, 2 * LatentChannels, 1);
        return p.Items;
    }

    private void MidBlock(ParameterList p, string name, int ch)
    {
        p.Resnet(name + ".resnets.0", ch, ch);
        if (MidBlockAttention)
        {
            p.Norm(name + ".attentions.0.group_norm", ch);
            foreach (var l in new[] { "to_q", "to_k", "to_v", "to_out.0" }) p.Linear(name + ".attentions.0." + l, ch);
        }
        p.Resnet(name + ".resnets.1", ch, ch);
    }

    private sealed class ParameterList
    {
        public List<VaeParameter> Items { get; } = new();

        public void Conv(string n, int cout, int cin, int k)
        {
            Items.Add(new(n + ".weight", [cout, cin, k, k], VaeParameterKind.Weight));
            Items.Add(new(n + ".bias", [cout], VaeParameterKind.Bias));
        }

        public void Norm(string n, int ch)
        {
            Items.Add(new(n + ".weight", [ch], VaeParameterKind.NormWeight));
            Items.Add(new(n + ".bias", [ch], VaeParameterKind.Bias));
        }

        public void Linear(string n, int ch)
        {
            Items.Add(new(n + ".weight", [ch, ch], VaeParameterKind.Weight));
            Items.Add(new(n + ".bias", [ch], VaeParameterKind.Bias));
        }

        public void Resnet(string n, int cin, int cout)
        {
            Norm(n + ".norm1", cin);
            Conv(n + ".conv1", cout, cin, 3);
            Norm(n + ".norm2", cout);
            Conv(n + ".conv2", cout, cout, 3);
            if (cin != cout) Conv(n + ".conv_shortcut", cout, cin, 1);
        }
    }

    /// <summary>The encoder's down blocks: index, input and output channels, resnets (layers_per_block), whether a
    /// stride-2 downsampler follows (all but the last).</summary>
    public IReadOnlyList<(int Index, int In, int Out, int Resnets, bool Downsample)> DownBlocks()
    {
        var blocks = new List<(int, int, int, int, bool)>();
        int output = BlockOutChannels[0];
        for (int i = 0; i < BlockOutChannels.Length; i++)
        {
            int prev = output;
            output = BlockOutChannels[i];
            blocks.Add((i, prev, output, LayersPerBlock, i != BlockOutChannels.Length - 1));
        }
        return blocks;
    }

    /// <summary>The decoder's up blocks: index, input and output channels, resnets, whether an upsampler follows.</summary>
    public IReadOnlyList<(int Index, int In, int Out, int Resnets, bool Upsample)> UpBlocks()
    {
        var rev = BlockOutChannels.Reverse().ToArray();
        var blocks = new List<(int, int, int, int, bool)>();
        int output = rev[0];
        for (int i = 0; i < rev.Length; i++)
        {
            int prev = output;
            output = rev[i];
            blocks.Add((i, prev, output, LayersPerBlock + 1, i != rev.Length - 1));
        }
        return blocks;
    }

    /// <summary>Parameters of post_quant_conv and the decoder (from the config alone).</summary>
    public long DecoderParameterCount => DecoderParameters().Sum(p => p.ElementCount);

    /// <summary>Parameters of the encoder and quant_conv (from the config alone).</summary>
    public long EncoderParameterCount => EncoderParameters().Sum(p => p.ElementCount);

    private static JsonElement? Field(JsonElement root, string name) =>
        root.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null ? e : null;

    private static int Int(JsonElement root, string name, int fallback, string source) =>
        Field(root, name) is { } e ? IntValue(e, name, source) : fallback;

    private static int IntValue(JsonElement e, string name, string source) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
            : throw new InvalidDataException($"{source}: \"{name}\" must be an integer (got {e})");

    private static double Double(JsonElement root, string name, double fallback, string source) =>
        Field(root, name) is not { } e ? fallback
            : e.ValueKind == JsonValueKind.Number ? e.GetDouble()
            : throw new InvalidDataException($"{source}: \"{name}\" must be a number (got {e})");

    private static bool Bool(JsonElement root, string name, bool fallback, string source) =>
        Field(root, name) is not { } e ? fallback
            : e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean()
            : throw new InvalidDataException($"{source}: \"{name}\" must be true or false (got {e})");

    private static string? Str(JsonElement root, string name, string source) =>
        Field(root, name) is not { } e ? null
            : e.ValueKind == JsonValueKind.String ? e.GetString()
            : throw new InvalidDataException($"{source}: \"{name}\" must be a string (got {e})");
}

public enum VaeParameterKind { Weight, Bias, NormWeight }

/// <summary>One parameter: diffusers name, PyTorch shape, and what it is (for random initialisation).</summary>
public sealed record VaeParameter(string Name, int[] Shape, VaeParameterKind Kind)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Inputs per output (conv: Cin·k·k; linear: K): the random weights' std is 1/√fanIn.</summary>
    public long FanIn => Shape.Length < 2 ? 1 : Shape.Skip(1).Aggregate(1L, (a, d) => a * d);

    public string ShapeString => "[" + string.Join(",", Shape) + "]";
}
