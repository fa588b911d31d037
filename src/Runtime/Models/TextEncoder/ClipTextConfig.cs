using System.Text.Json;

namespace PixelCost.Runtime.Models.TextEncoder;

/// <summary>
/// The shape of a CLIP text transformer (transformers' <c>CLIPTextConfig</c>): vocabulary, positions, width, layers,
/// heads, MLP width and activation, layer-norm eps, and the projection width of <c>CLIPTextModelWithProjection</c>
/// (null for a plain <c>CLIPTextModel</c>). <see cref="EosTokenId"/> marks the pooled position (the first
/// <c>&lt;|endoftext|&gt;</c>).
/// </summary>
public sealed record ClipTextConfig(int VocabSize, int MaxPositions, int HiddenSize, int Layers, int Heads, int IntermediateSize,
    string HiddenAct, float LayerNormEps = 1e-5f, int? ProjectionDim = null, int EosTokenId = 49407)
{
    /// <summary>Where the config came from ("preset clip-l", a file path), for error messages.</summary>
    public string Source { get; init; } = "";

    public int HeadDim => HiddenSize / Heads;

    /// <summary>
    /// "clip-l" — OpenAI CLIP ViT-L/14's text tower, SD 1.x's text_encoder and SDXL's text_encoder (12 layers, 768,
    /// 12 heads, MLP 3072, quick_gelu, no projection: CLIPTextModel); "openclip-h" — SD 2.x's text_encoder, OpenCLIP
    /// ViT-H/14 with its last layer dropped (23 of 24 layers: the penultimate layer baked in; 1024, 16 heads, 4096,
    /// gelu); "openclip-bigg" — SDXL's text_encoder_2, OpenCLIP ViT-bigG/14 (32 layers, 1280, 20 heads, 5120, gelu,
    /// projection 1280: CLIPTextModelWithProjection). All: vocabulary 49,408, 77 positions, eps 1e-5.
    /// </summary>
    public static ClipTextConfig Preset(string name) => name switch
    {
        "clip-l" => new ClipTextConfig(49408, 77, 768, 12, 12, 3072, "quick_gelu") { Source = "preset clip-l" },
        "openclip-h" => new ClipTextConfig(49408, 77, 1024, 23, 16, 4096, "gelu") { Source = "preset openclip-h" },
        "openclip-bigg" => new ClipTextConfig(49408, 77, 1280, 32, 20, 5120, "gelu", ProjectionDim: 1280) { Source = "preset openclip-bigg" },
        _ => throw new ArgumentException($"unknown text encoder preset '{name}' (known: clip-l, openclip-h, openclip-bigg)"),
    };

    public static IReadOnlyList<string> PresetNames { get; } = ["clip-l", "openclip-h", "openclip-bigg"];

    /// <summary>
    /// A transformers <c>config.json</c> (a file, or a folder holding one): the fields above; the projection is read
    /// only when <c>architectures</c> names <c>CLIPTextModelWithProjection</c> (a CLIPTextModel's config carries a
    /// projection_dim it does not use). An activation other than quick_gelu/gelu, or a missing field, is an
    /// InvalidDataException naming the file and the field.
    /// </summary>
    public static ClipTextConfig Load(string configJsonOrFolder)
    {
        string path = Directory.Exists(configJsonOrFolder) ? Path.Combine(configJsonOrFolder, "config.json") : configJsonOrFolder;
        if (!File.Exists(path)) throw new FileNotFoundException($"text encoder config '{path}' does not exist", path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object");
            // transformers nests the text config inside a full CLIPConfig; a text encoder's own file is flat.
            if (root.TryGetProperty("text_config", out var tc) && tc.ValueKind == JsonValueKind.Object && !root.TryGetProperty("hidden_size", out _))
                root = tc;
            int Int(string field)
            {
                if (!root.TryGetProperty(field, out var e) || e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v) || v <= 0)
                    throw new InvalidDataException($"{path}: field '{field}' is missing or not a positive integer");
                return v;
            }
            string act = root.TryGetProperty("hidden_act", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "quick_gelu";
            if (act is not ("quick_gelu" or "gelu"))
                throw new InvalidDataException($"{path}: field 'hidden_act' is '{act}'; supported: quick_gelu, gelu");
            float eps = root.TryGetProperty("layer_norm_eps", out var le) && le.ValueKind == JsonValueKind.Number ? le.GetSingle() : 1e-5f;
            bool withProjection = root.TryGetProperty("architectures", out var arch) && arch.ValueKind == JsonValueKind.Array
                && arch.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String && x.GetString() == "CLIPTextModelWithProjection");
            int eos = root.TryGetProperty("eos_token_id", out var eo) && eo.ValueKind == JsonValueKind.Number && eo.TryGetInt32(out int ev) ? ev : 49407;
            var c = new ClipTextConfig(Int("vocab_size"), Int("max_position_embeddings"), Int("hidden_size"), Int("num_hidden_layers"),
                Int("num_attention_heads"), Int("intermediate_size"), act, eps, withProjection ? Int("projection_dim") : null, eos) { Source = path };
            if (c.HiddenSize % c.Heads != 0)
                throw new InvalidDataException($"{path}: hidden_size {c.HiddenSize} is not divisible by num_attention_heads {c.Heads}");
            return c;
        }
    }

    /// <summary>Every parameter (transformers name, shape) of the model the config describes, in module order.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> ParameterShapes(ClipTextConfig c)
    {
        var p = new List<(string, int[])>
        {
            ("text_model.embeddings.token_embedding.weight", [c.VocabSize, c.HiddenSize]),
            ("text_model.embeddings.position_embedding.weight", [c.MaxPositions, c.HiddenSize]),
        };
        int d = c.HiddenSize, m = c.IntermediateSize;
        for (int i = 0; i < c.Layers; i++)
        {
            string l = $"text_model.encoder.layers.{i}.";
            foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
            {
                p.Add((l + $"self_attn.{proj}.weight", [d, d]));
                p.Add((l + $"self_attn.{proj}.bias", [d]));
            }
            p.Add((l + "layer_norm1.weight", [d])); p.Add((l + "layer_norm1.bias", [d]));
            p.Add((l + "mlp.fc1.weight", [m, d])); p.Add((l + "mlp.fc1.bias", [m]));
            p.Add((l + "mlp.fc2.weight", [d, m])); p.Add((l + "mlp.fc2.bias", [d]));
            p.Add((l + "layer_norm2.weight", [d])); p.Add((l + "layer_norm2.bias", [d]));
        }
        p.Add(("text_model.final_layer_norm.weight", [d]));
        p.Add(("text_model.final_layer_norm.bias", [d]));
        if (c.ProjectionDim is int pd) p.Add(("text_projection.weight", [pd, d]));
        return p;
    }
}
