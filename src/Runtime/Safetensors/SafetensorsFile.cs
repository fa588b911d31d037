using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace PixelCost.Runtime.Safetensors;

/// <summary>Element types of the safetensors format, spelled as in its header.</summary>
public enum SafetensorsDType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 }

public static class SafetensorsDTypes
{
    public static int SizeOf(this SafetensorsDType d) => d switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8 => 1,
        SafetensorsDType.U16 or SafetensorsDType.I16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.U32 or SafetensorsDType.I32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.U64 or SafetensorsDType.I64 or SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(d), d, "unknown safetensors dtype"),
    };

    /// <summary>Parses a header dtype string; null when it is not one we read (e.g. F8_E4M3).</summary>
    public static SafetensorsDType? Parse(string s) =>
        Enum.TryParse<SafetensorsDType>(s, ignoreCase: false, out var d) && Enum.IsDefined(d) && s == d.ToString() ? d : null;
}

/// <summary>One tensor's header entry. <see cref="Begin"/>/<see cref="End"/> are byte offsets into the data section.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, int[] Shape, long Begin, long End)
{
    public long ElementCount
    {
        get { long n = 1; foreach (int d in Shape) n *= d; return n; }
    }

    public long ByteLength => End - Begin;

    public string ShapeString => "[" + string.Join(",", Shape) + "]";
}

/// <summary>
/// A read-only, memory-mapped safetensors file: 8-byte little-endian header length N, N bytes of JSON header, then the
/// data section. Everything in the header is checked when the file is opened (DESIGN §7.12) — header length, JSON,
/// dtypes, shapes, offsets within the data section, byte size = elements × dtype size, no two tensors overlapping — so
/// a bad checkpoint fails at once with an <see cref="InvalidDataException"/> naming the file and the tensor, never
/// later as a wrong number or an access violation.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Headers of real checkpoints are well under 1 MB; anything past this is corruption, not a header.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    public string Path { get; }
    public long FileLength { get; }
    public long DataLength => FileLength - _dataStart;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensors in header order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    private SafetensorsFile(string path)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the safetensors reader assumes a little-endian host");
        Path = path;
        var fi = new FileInfo(path);
        if (!fi.Exists) throw new FileNotFoundException($"safetensors file '{path}' does not exist", path);
        FileLength = fi.Length;
        PickleGuard.ThrowIfPickle(path);
        if (FileLength < 8)
            throw Bad($"is {FileLength} bytes long, too short for the 8-byte header length (truncated header)");

        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _base = p + _view.PointerOffset;

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base, 8));
            if (headerLength > (ulong)(FileLength - 8))
                throw Bad($"header length {headerLength} exceeds the {FileLength - 8} bytes after the length field (truncated header or not a safetensors file)");
            if (headerLength > MaxHeaderBytes)
                throw Bad($"header length {headerLength} is larger than the sane maximum {MaxHeaderBytes}");
            if (headerLength < 2)
                throw Bad($"header length {headerLength} is too short for a JSON object");
            _dataStart = 8 + (long)headerLength;

            var (meta, tensors) = ParseHeader(new ReadOnlySpan<byte>(_base + 8, (int)headerLength));
            Metadata = meta;
            Tensors = tensors;
            _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static SafetensorsFile Open(string path) => new(path);

    private InvalidDataException Bad(string what) => new($"safetensors file '{Path}' {what}");

    private InvalidDataException BadTensor(string name, string what) => new($"safetensors file '{Path}', tensor '{name}': {what}");

    private (Dictionary<string, string>, List<SafetensorsTensorInfo>) ParseHeader(ReadOnlySpan<byte> json)
    {
        // The JSON reader would only notice bad UTF-8 later, inside a name, as an InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw Bad("has a header that is not valid UTF-8 text");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Bad($"has a header that is not valid JSON: {e.Message}");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw Bad($"has a header that is a JSON {doc.RootElement.ValueKind}, not an object");

        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new List<SafetensorsTensorInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (!seen.Add(prop.Name))
                throw BadTensor(prop.Name, "appears twice in the header");
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object)
                    throw Bad($"has __metadata__ that is a JSON {prop.Value.ValueKind}, not an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw Bad($"has __metadata__ entry '{m.Name}' that is a JSON {m.Value.ValueKind}, not a string");
                    meta[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            tensors.Add(ParseTensor(prop.Name, prop.Value));
        }

        // No two tensors may share bytes (a writer bug or a crafted file); empty tensors occupy nothing.
        var ordered = tensors.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Begin < ordered[i - 1].End)
                throw BadTensor(ordered[i].Name,
                    $"data_offsets [{ordered[i].Begin},{ordered[i].End}] overlap those of tensor '{ordered[i - 1].Name}' [{ordered[i - 1].Begin},{ordered[i - 1].End}]");
        }
        return (meta, tensors);
    }

    private SafetensorsTensorInfo ParseTensor(string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw BadTensor(name, $"header entry is a JSON {e.ValueKind}, not an object");

        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw BadTensor(name, "has no string 'dtype'");
        string dtypeText = dt.GetString()!;
        var dtype = SafetensorsDTypes.Parse(dtypeText)
            ?? throw BadTensor(name, $"has unknown or unsupported dtype '{dtypeText}' (supported: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");

        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw BadTensor(name, "has no 'shape' array");
        var shape = new int[sh.GetArrayLength()];
        int k = 0;
        foreach (var dim in sh.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int v) || v < 0)
                throw BadTensor(name, $"has shape {sh.GetRawText()} with a dimension that is not an integer in [0, {int.MaxValue}]");
            shape[k++] = v;
        }

        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw BadTensor(name, "has no 'data_offsets' array of two integers");
        long begin = Offset(name, off[0], off), end = Offset(name, off[1], off);
        if (begin > end)
            throw BadTensor(name, $"data_offsets [{begin},{end}] begin after they end");
        if (end > DataLength)
            throw BadTensor(name, $"data_offsets [{begin},{end}] lie beyond the data section of {DataLength} bytes (file truncated or offsets out of range)");

        long bytes;
        try
        {
            long n = 1;
            foreach (int d in shape) n = checked(n * d);
            bytes = checked(n * dtype.SizeOf());
        }
        catch (OverflowException)
        {
            throw BadTensor(name, $"shape [{string.Join(",", shape)}] has more elements than fit in 64 bits");
        }
        if (bytes != end - begin)
            throw BadTensor(name,
                $"shape [{string.Join(",", shape)}] of {dtypeText} needs {bytes} bytes but data_offsets [{begin},{end}] hold {end - begin} (size/shape mismatch)");

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private long Offset(string name, JsonElement v, JsonElement all)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x) || x < 0)
            throw BadTensor(name, $"has data_offsets {all.GetRawText()} that are not non-negative integers");
        return x;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsTensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw BadTensor(name, "is not in the file");

    public int[] Shape(string name) => (int[])Info(name).Shape.Clone();

    /// <summary>The tensor's raw little-endian bytes, straight from the mapping (valid until Dispose).</summary>
    public ReadOnlySpan<byte> RawBytes(string name)
    {
        var t = Info(name);
        return Bytes(t);
    }

    private ReadOnlySpan<byte> Bytes(SafetensorsTensorInfo t)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (t.ByteLength > int.MaxValue)
            throw BadTensor(t.Name, $"is {t.ByteLength} bytes, more than one span can hold");
        return new ReadOnlySpan<byte>(_base + _dataStart + t.Begin, (int)t.ByteLength);
    }

    /// <summary>The tensor's values widened (or, for F64/I64, rounded) to float, row-major.</summary>
    public float[] ReadFloats(string name)
    {
        var t = Info(name);
        if (t.ElementCount > Array.MaxLength)
            throw BadTensor(name, $"has {t.ElementCount} elements, more than one array can hold");
        var dst = new float[t.ElementCount];
        ReadInto(t, dst);
        return dst;
    }

    /// <summary>Reads the tensor into <paramref name="dst"/>, which must hold exactly its element count (e.g. a Tensor's span).</summary>
    public void ReadFloats(string name, Span<float> dst) => ReadInto(Info(name), dst);

    /// <summary>The tensor's values as double (exact for every dtype but I64/U64 beyond 2^53).</summary>
    public double[] ReadDoubles(string name)
    {
        var t = Info(name);
        var src = Bytes(t);
        var dst = new double[t.ElementCount];
        if (t.DType == SafetensorsDType.F64) { MemoryMarshal.Cast<byte, double>(src).CopyTo(dst); return dst; }
        if (t.DType is SafetensorsDType.I64 or SafetensorsDType.U64)
        {
            for (int i = 0; i < dst.Length; i++)
            {
                var b = src.Slice(i * 8, 8);
                dst[i] = t.DType == SafetensorsDType.I64 ? BinaryPrimitives.ReadInt64LittleEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b);
            }
            return dst;
        }
        // every other dtype is exact in float
        var f = new float[t.ElementCount];
        ReadInto(t, f);
        for (int i = 0; i < f.Length; i++) dst[i] = f[i];
        return dst;
    }

    private void ReadInto(SafetensorsTensorInfo t, Span<float> dst)
    {
        if (dst.Length != t.ElementCount)
            throw new ArgumentException($"safetensors file '{Path}', tensor '{t.Name}' {t.ShapeString} has {t.ElementCount} elements; the destination holds {dst.Length}");
        var src = Bytes(t);
        switch (t.DType)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case SafetensorsDType.F64:
                { var s = MemoryMarshal.Cast<byte, double>(src); for (int i = 0; i < dst.Length; i++) dst[i] = (float)s[i]; }
                break;
            case SafetensorsDType.F16:
                FloatWidening.HalfToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
                break;
            case SafetensorsDType.BF16:
                FloatWidening.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(src), dst);
                break;
            case SafetensorsDType.I64:
                { var s = MemoryMarshal.Cast<byte, long>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.U64:
                { var s = MemoryMarshal.Cast<byte, ulong>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.I32:
                { var s = MemoryMarshal.Cast<byte, int>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.U32:
                { var s = MemoryMarshal.Cast<byte, uint>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.I16:
                { var s = MemoryMarshal.Cast<byte, short>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.U16:
                { var s = MemoryMarshal.Cast<byte, ushort>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.I8:
                { var s = MemoryMarshal.Cast<byte, sbyte>(src); for (int i = 0; i < dst.Length; i++) dst[i] = s[i]; }
                break;
            case SafetensorsDType.U8:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i];
                break;
            case SafetensorsDType.BOOL:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i] != 0 ? 1f : 0f;
                break;
            default:
                throw BadTensor(t.Name, $"dtype {t.DType} cannot be read as float");
        }
    }

    public void Dispose()
    {
        if (_base != null && _view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view?.Dispose();
        _map?.Dispose();
    }
}

/// <summary>Writes safetensors files (tests and tools): tensors in the order added, data 8-byte aligned after the header.</summary>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, SafetensorsDType DType, int[] Shape, byte[] Data)> _tensors = new();

    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    public SafetensorsWriter Add(string name, ReadOnlySpan<float> data, params int[] shape) =>
        AddRaw(name, SafetensorsDType.F32, shape, MemoryMarshal.AsBytes(data).ToArray());

    public SafetensorsWriter Add(string name, ReadOnlySpan<double> data, params int[] shape) =>
        AddRaw(name, SafetensorsDType.F64, shape, MemoryMarshal.AsBytes(data).ToArray());

    public SafetensorsWriter Add(string name, ReadOnlySpan<Half> data, params int[] shape) =>
        AddRaw(name, SafetensorsDType.F16, shape, MemoryMarshal.AsBytes(data).ToArray());

    public SafetensorsWriter AddRaw(string name, SafetensorsDType dtype, int[] shape, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved for the metadata, not a tensor name");
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' added twice");
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}' has a negative dimension in [{string.Join(",", shape)}]");
            n = checked(n * d);
        }
        if (n * dtype.SizeOf() != data.Length)
            throw new ArgumentException($"tensor '{name}' [{string.Join(",", shape)}] of {dtype} needs {n * dtype.SizeOf()} bytes, got {data.Length}");
        _tensors.Add((name, dtype, (int[])shape.Clone(), data));
        return this;
    }

    public byte[] ToBytes()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the safetensors writer assumes a little-endian host");
        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        var header = headerStream.ToArray().ToList();
        // pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned
        while ((8 + header.Count) % 8 != 0) header.Add((byte)' ');

        using var file = new MemoryStream();
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
        file.Write(len);
        file.Write(header.ToArray());
        foreach (var t in _tensors) file.Write(t.Data);
        return file.ToArray();
    }

    /// <summary>Writes the file atomically (temporary file + rename, <see cref="IO.AtomicFile"/>).</summary>
    public void Save(string path) => IO.AtomicFile.WriteAllBytes(path, ToBytes());
}
