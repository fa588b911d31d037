using System.Text.Json;

namespace PixelCost.Runtime.Safetensors;

/// <summary>One tensor of a checkpoint and the file (shard) that holds it.</summary>
public sealed record CheckpointTensor(string Name, SafetensorsDType DType, int[] Shape, long ByteLength, string File)
{
    public long ElementCount
    {
        get { long n = 1; foreach (int d in Shape) n *= d; return n; }
    }

    public string ShapeString => "[" + string.Join(",", Shape) + "]";
}

/// <summary>
/// A checkpoint that is one safetensors file or several shards listed by a <c>*.safetensors.index.json</c>
/// (<c>{"metadata": {...}, "weight_map": {"tensor": "shard.safetensors", ...}}</c>, as transformers and diffusers write
/// it). Shards are memory-mapped only when a tensor in them is first asked for; <see cref="ListTensors"/> opens all of
/// them. Every error about an index names the index file and the tensor concerned. Not thread-safe: open shards are
/// cached without locking.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>Real indexes are a few hundred kB (one line per tensor); past this it is not an index.</summary>
    public const long MaxIndexBytes = 64L * 1024 * 1024;

    private readonly string[] _shardPaths;
    private readonly SafetensorsFile?[] _shards;
    private readonly Dictionary<string, int> _shardOf;
    private readonly List<string> _names;

    /// <summary>The file opened: the safetensors file itself, or the index.</summary>
    public string Path { get; }

    public bool IsSharded { get; }

    /// <summary>Shard files (full paths) in the order the index first names them; a single file is its own shard.</summary>
    public IReadOnlyList<string> ShardPaths => _shardPaths;

    /// <summary>A single file's <c>__metadata__</c>; for an index, its <c>metadata</c> object (non-string values as JSON text).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names: header order for a file, weight_map order for an index.</summary>
    public IReadOnlyList<string> TensorNames => _names;

    /// <summary>True when the path names a sharded-checkpoint index rather than a safetensors file.</summary>
    public static bool IsIndexPath(string path) => path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase);

    public static SafetensorsCheckpoint Open(string path) => new(path);

    private SafetensorsCheckpoint(string path)
    {
        Path = path;
        if (!IsIndexPath(path))
        {
            var f = SafetensorsFile.Open(path);
            _shardPaths = [path];
            _shards = [f];
            _names = f.Tensors.Select(t => t.Name).ToList();
            _shardOf = _names.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
            Metadata = f.Metadata;
            return;
        }

        IsSharded = true;
        var fi = new FileInfo(path);
        if (!fi.Exists) throw new FileNotFoundException($"safetensors index '{path}' does not exist", path);
        if (fi.Length > MaxIndexBytes)
            throw Bad($"is {fi.Length} bytes, larger than any real index ({MaxIndexBytes} bytes at most)");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Bad($"is not valid JSON: {e.Message}");
        }
        using var _ = doc;
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw Bad($"is a JSON {root.ValueKind}, not an object with a weight_map");

        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        if (root.TryGetProperty("metadata", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Object) throw Bad($"has metadata that is a JSON {m.ValueKind}, not an object");
            foreach (var p in m.EnumerateObject())
                meta[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        }
        Metadata = meta;

        if (!root.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
            throw Bad("has no \"weight_map\" object (tensor name → shard file)");

        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var shardIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var shardPaths = new List<string>();
        _names = new List<string>();
        _shardOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in wm.EnumerateObject())
        {
            if (_shardOf.ContainsKey(p.Name)) throw BadTensor(p.Name, "appears twice in the weight_map");
            if (p.Value.ValueKind != JsonValueKind.String)
                throw BadTensor(p.Name, $"is mapped to a JSON {p.Value.ValueKind}, not a shard file name");
            string shard = p.Value.GetString()!;
            // A shard lives next to its index; a rooted path or ".." would let an index read any file on the machine.
            if (shard.Length == 0 || System.IO.Path.IsPathRooted(shard) || shard.Split('/', '\\').Contains(".."))
                throw BadTensor(p.Name, $"is mapped to '{shard}', which is not a file name beside the index");
            if (!shardIndex.TryGetValue(shard, out int k))
            {
                string full = System.IO.Path.Combine(dir, shard);
                if (!File.Exists(full))
                    throw BadTensor(p.Name, $"is in shard '{full}', which does not exist");
                k = shardPaths.Count;
                shardIndex[shard] = k;
                shardPaths.Add(full);
            }
            _shardOf[p.Name] = k;
            _names.Add(p.Name);
        }
        if (_names.Count == 0) throw Bad("has an empty weight_map: no tensors");
        _shardPaths = shardPaths.ToArray();
        _shards = new SafetensorsFile?[_shardPaths.Length];
    }

    private InvalidDataException Bad(string what) => new($"safetensors index '{Path}' {what}");

    private InvalidDataException BadTensor(string name, string what) => new($"safetensors index '{Path}', tensor '{name}' {what}");

    public bool Contains(string name) => _shardOf.ContainsKey(name);

    /// <summary>The open shard that holds the tensor (mapped on first use). Throws naming the tensor when it is not
    /// in the checkpoint, or when its shard is malformed or lacks it.</summary>
    public SafetensorsFile FileOf(string name)
    {
        if (!_shardOf.TryGetValue(name, out int k))
            throw IsSharded ? BadTensor(name, "is not in the weight_map")
                            : new InvalidDataException($"safetensors file '{Path}', tensor '{name}': is not in the file");
        var f = Shard(k, name);
        if (IsSharded && !f.Contains(name))
            throw BadTensor(name, $"is mapped to shard '{f.Path}', which does not contain it");
        return f;
    }

    private SafetensorsFile Shard(int k, string forTensor)
    {
        if (_shards[k] is { } open) return open;
        try
        {
            return _shards[k] = SafetensorsFile.Open(_shardPaths[k]);
        }
        catch (InvalidDataException e)
        {
            throw BadTensor(forTensor, $"cannot be read: {e.Message}");
        }
        catch (IOException e)
        {
            throw BadTensor(forTensor, $"cannot be read from shard '{_shardPaths[k]}': {e.Message}");
        }
    }

    public CheckpointTensor Info(string name)
    {
        var f = FileOf(name);
        var t = f.Info(name);
        return new CheckpointTensor(t.Name, t.DType, t.Shape, t.ByteLength, f.Path);
    }

    public float[] ReadFloats(string name) => FileOf(name).ReadFloats(name);

    public void ReadFloats(string name, Span<float> dst) => FileOf(name).ReadFloats(name, dst);

    public ReadOnlySpan<byte> RawBytes(string name) => FileOf(name).RawBytes(name);

    /// <summary>Every tensor, opening every shard: checks that each weight_map entry is in its shard.</summary>
    public IReadOnlyList<CheckpointTensor> ListTensors() => _names.Select(Info).ToList();

    /// <summary>Each shard's own <c>__metadata__</c> (opens every shard).</summary>
    public IReadOnlyList<(string Shard, IReadOnlyDictionary<string, string> Metadata)> ShardMetadata()
    {
        var first = new Dictionary<int, string>();
        foreach (var n in _names) first.TryAdd(_shardOf[n], n);
        return Enumerable.Range(0, _shardPaths.Length)
            .Select(k => (_shardPaths[k], Shard(k, first.GetValueOrDefault(k, "?")).Metadata)).ToList();
    }

    public void Dispose()
    {
        foreach (var s in _shards) s?.Dispose();
    }
}
