using System.Text.Json;
using PixelCost.Runtime.Safetensors;

namespace PixelCost.Runtime.Models;

/// <summary>One weights checkpoint of a model: a whole single-file model, a component folder, or one component
/// (<c>unet/</c>, <c>vae/</c>, …) of a diffusers pipeline folder.</summary>
public sealed class ModelSourcePart
{
    internal ModelSourcePart(string component, string weightsPath, string? configPath, SafetensorsCheckpoint checkpoint)
    {
        Component = component;
        WeightsPath = weightsPath;
        ConfigPath = configPath;
        Checkpoint = checkpoint;
        Tensors = checkpoint.ListTensors();
    }

    /// <summary>The pipeline subfolder ("unet", "text_encoder_2", …); empty for a file or a component folder.</summary>
    public string Component { get; }

    /// <summary>The safetensors file or sharded index.</summary>
    public string WeightsPath { get; }

    /// <summary>The component's config.json, when there is one beside the weights.</summary>
    public string? ConfigPath { get; }

    public SafetensorsCheckpoint Checkpoint { get; }

    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary><c>_class_name</c> (diffusers) or <c>architectures[0]</c> (transformers) of config.json, if any.</summary>
    public string? ConfigClassName()
    {
        if (ConfigPath is null) return null;
        try
        {
            var fi = new FileInfo(ConfigPath);
            if (fi.Length > 16 * 1024 * 1024) return null;
            using var doc = JsonDocument.Parse(File.ReadAllBytes(ConfigPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            if (doc.RootElement.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String) return c.GetString();
            if (doc.RootElement.TryGetProperty("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
                && a[0].ValueKind == JsonValueKind.String) return a[0].GetString();
            return null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"config '{ConfigPath}' is not valid JSON: {e.Message}");
        }
    }
}

/// <summary>
/// Finds and opens the safetensors weights behind a path: a <c>.safetensors</c> file, a sharded
/// <c>*.safetensors.index.json</c>, a component folder (config.json + diffusion_pytorch_model.safetensors or
/// model.safetensors, possibly sharded or an fp16 variant), or a diffusers pipeline folder (unet/, vae/,
/// text_encoder/, text_encoder_2/ …). Headers are read and validated; tensor data is only mapped.
/// </summary>
public sealed class ModelSource : IDisposable
{
    /// <summary>Weight file names tried in a folder, best first (diffusers and transformers conventions).</summary>
    public static readonly string[] WeightFileNames =
    [
        "diffusion_pytorch_model.safetensors", "model.safetensors",
        "diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json",
        "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors",
        "diffusion_pytorch_model.safetensors.index.fp16.json", "model.safetensors.index.fp16.json",
        "diffusion_pytorch_model.fp16.safetensors.index.json", "model.fp16.safetensors.index.json",
    ];

    /// <summary>Pipeline subfolders in the order a text-to-image run uses them; others that hold weights follow.</summary>
    private static readonly string[] ComponentOrder = ["text_encoder", "text_encoder_2", "unet", "vae"];

    private readonly List<ModelSourcePart> _parts = new();

    public string Path { get; }

    public bool IsPipelineFolder { get; }

    public IReadOnlyList<ModelSourcePart> Parts => _parts;

    private ModelSource(string path, bool pipeline)
    {
        Path = path;
        IsPipelineFolder = pipeline;
    }

    public static ModelSource Open(string path)
    {
        if (File.Exists(path))
        {
            var s = new ModelSource(path, false);
            s.Add("", path, null);
            return s;
        }
        if (!Directory.Exists(path)) throw new FileNotFoundException($"'{path}' does not exist", path);

        if (FindWeights(path) is { } w)
        {
            var s = new ModelSource(path, false);
            s.Add("", w, ConfigBeside(path));
            return s;
        }

        // A pipeline component saved only as a pickle (unet/diffusion_pytorch_model.bin) must not silently drop out.
        foreach (var d in Directory.GetDirectories(path))
            if (FindWeights(d) is null)
                foreach (var f in Directory.EnumerateFiles(d))
                    if (PickleGuard.HasPickleExtension(f)) PickleGuard.ThrowIfPickle(f);

        var subs = Directory.GetDirectories(path).Select(d => System.IO.Path.GetFileName(d)!)
            .Where(n => FindWeights(System.IO.Path.Combine(path, n)) is not null)
            .OrderBy(n => Array.IndexOf(ComponentOrder, n) is int i and >= 0 ? i : ComponentOrder.Length)
            .ThenBy(n => n, StringComparer.Ordinal).ToList();
        if (subs.Count > 0)
        {
            var s = new ModelSource(path, true);
            foreach (var n in subs)
            {
                string dir = System.IO.Path.Combine(path, n);
                s.Add(n, FindWeights(dir)!, ConfigBeside(dir));
            }
            return s;
        }

        // No safetensors: a pickle checkpoint gets the "convert it" message rather than "not a model".
        foreach (var f in Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1 }))
            if (PickleGuard.HasPickleExtension(f)) PickleGuard.ThrowIfPickle(f);
        throw new UnknownModelException(
            $"cannot tell what model this is: folder '{path}' holds no safetensors weights (looked for {string.Join(", ", WeightFileNames.Take(4))} " +
            $"in it and in component subfolders such as {string.Join("/, ", ComponentOrder)}/)");
    }

    private static string? ConfigBeside(string dir)
    {
        string c = System.IO.Path.Combine(dir, "config.json");
        return File.Exists(c) ? c : null;
    }

    /// <summary>The weights file of a component folder, or null when it holds none.</summary>
    public static string? FindWeights(string dir)
    {
        foreach (var n in WeightFileNames)
        {
            string p = System.IO.Path.Combine(dir, n);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    private void Add(string component, string weights, string? config)
    {
        SafetensorsCheckpoint? ck = null;
        try
        {
            ck = SafetensorsCheckpoint.Open(weights);
            _parts.Add(new ModelSourcePart(component, weights, config, ck));
        }
        catch
        {
            ck?.Dispose();
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var p in _parts) p.Checkpoint.Dispose();
    }
}
