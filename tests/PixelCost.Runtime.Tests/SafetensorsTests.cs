using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Runtime.Tests;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-st-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>A file from a header text and a data section, with the true header length unless one is given.</summary>
    private string WriteRaw(string name, string header, byte[] data, ulong? headerLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        var p = PathOf(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    private static InvalidDataException OpenFails(string path)
    {
        var e = Assert.Throws<InvalidDataException>(() => { using var f = SafetensorsFile.Open(path); });
        Assert.Contains(path, e.Message);
        return e;
    }

    private static InvalidDataException OpenFails(string path, string tensor)
    {
        var e = OpenFails(path);
        Assert.Contains($"tensor '{tensor}'", e.Message);
        return e;
    }

    [Fact]
    public void RoundTripKeepsValuesShapesOrderAndMetadata()
    {
        float[] a = [1.5f, -2.25f, 3e-8f, float.MaxValue, -0f, 7f];
        double[] b = [Math.PI, -1e300, 5e-324];
        Half[] h = [(Half)0.5f, (Half)(-65504f), Half.Epsilon];
        int[] ints = [int.MinValue, -1, 0, int.MaxValue];
        var w = new SafetensorsWriter();
        w.Metadata["seed"] = "7";
        w.Metadata["note"] = "ünïcödé \"quoted\"";
        w.Add("layer.a", a, 2, 3)
         .Add("b", b, 3)
         .Add("h", h, 1, 3)
         .AddRaw("i", SafetensorsDType.I32, [4], MemoryMarshal.AsBytes(ints.AsSpan()).ToArray())
         .AddRaw("bf", SafetensorsDType.BF16, [2], [0x80, 0x3F, 0x20, 0xC1])   // 1.0, -10.0
         .AddRaw("flags", SafetensorsDType.BOOL, [3], [1, 0, 1])
         .Add("scalar", new float[] { 42f })
         .Add("empty", ReadOnlySpan<float>.Empty, 0, 5);
        var p = PathOf("rt.safetensors");
        w.Save(p);

        using var f = SafetensorsFile.Open(p);
        Assert.Equal(["layer.a", "b", "h", "i", "bf", "flags", "scalar", "empty"], f.Tensors.Select(t => t.Name));
        Assert.Equal("7", f.Metadata["seed"]);
        Assert.Equal("ünïcödé \"quoted\"", f.Metadata["note"]);
        Assert.Equal([2, 3], f.Shape("layer.a"));
        Assert.Equal(a, f.ReadFloats("layer.a"));
        Assert.Equal(b, f.ReadDoubles("b"));
        Assert.Equal(b.Select(x => (float)x), f.ReadFloats("b"));
        Assert.Equal(h.Select(x => (float)x), f.ReadFloats("h"));
        Assert.Equal(ints.Select(x => (float)x), f.ReadFloats("i"));
        Assert.Equal([1f, -10f], f.ReadFloats("bf"));
        Assert.Equal([1f, 0f, 1f], f.ReadFloats("flags"));
        Assert.Equal(Array.Empty<int>(), f.Shape("scalar"));
        Assert.Equal([42f], f.ReadFloats("scalar"));
        Assert.Empty(f.ReadFloats("empty"));
        Assert.Equal(SafetensorsDType.F16, f.Info("h").DType);
        // the data section starts 8-byte aligned so F64/I64 reads are aligned
        Assert.Equal(0, (f.FileLength - f.DataLength) % 8);
    }

    [Fact]
    public void ReadsIntoASpanOfTheRightLengthOnly()
    {
        var p = PathOf("span.safetensors");
        new SafetensorsWriter().Add("x", new float[] { 1, 2, 3 }, 3).Save(p);
        using var f = SafetensorsFile.Open(p);
        var dst = new float[3];
        f.ReadFloats("x", dst);
        Assert.Equal([1f, 2f, 3f], dst);
        var e = Assert.Throws<ArgumentException>(() => f.ReadFloats("x", new float[4]));
        Assert.Contains("'x'", e.Message);
    }

    // Made by torch: tools/golden/make_safetensors.py, torch.manual_seed(4321). Each narrow/integer tensor comes with
    // torch's own float64 widening of it, so our widening is checked against torch's, not against our own numbers.
    [Theory]
    [InlineData("f32")]
    [InlineData("f16")]
    [InlineData("bf16")]
    [InlineData("i64")]
    [InlineData("i32")]
    [InlineData("u8")]
    [InlineData("bool")]
    public void ReadsTorchFixtureWideningAsTorchDoes(string name)
    {
        using var f = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Golden", "safetensors", "dtypes.safetensors"));
        Assert.Equal("4321", f.Metadata["seed"]);
        Assert.Equal("tools/golden/make_safetensors.py", f.Metadata["script"]);
        Assert.Equal(f.Shape(name + ".as_f64"), f.Shape(name));
        var torchWide = f.ReadDoubles(name + ".as_f64");
        Assert.Equal(torchWide, f.ReadDoubles(name));
        Assert.Equal(torchWide.Select(x => (float)x), f.ReadFloats(name));
    }

    [Fact]
    public void ReadsTorchFixtureShapesAndF64()
    {
        using var f = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Golden", "safetensors", "dtypes.safetensors"));
        Assert.Equal(SafetensorsDType.F64, f.Info("f64").DType);
        Assert.Equal(SafetensorsDType.BF16, f.Info("bf16").DType);
        Assert.Equal(SafetensorsDType.BOOL, f.Info("bool").DType);
        Assert.Equal([3, 5], f.Shape("f64"));
        // torch rounded f64 → f32 to nearest; so does our narrowing
        Assert.Equal(f.ReadFloats("f32"), f.ReadFloats("f64"));
        Assert.Equal(Array.Empty<int>(), f.Shape("scalar"));
        Assert.Equal([2.5f], f.ReadFloats("scalar"));
        Assert.Equal([0, 4], f.Shape("empty"));
        Assert.Empty(f.ReadFloats("empty"));
        Assert.Equal([2, 2, 1, 1], f.Shape("model.layers.0.weight"));
        Assert.True(f.Contains("model.layers.0.weight"));
    }

    [Fact]
    public void TruncatedHeaderLengthNamesFile()
    {
        var p = PathOf("short.safetensors");
        File.WriteAllBytes(p, [1, 0, 0]);
        Assert.Contains("truncated", OpenFails(p).Message);
    }

    [Fact]
    public void HeaderCutShortNamesFile()
    {
        // a valid file cut in the middle of its header
        var full = new SafetensorsWriter().Add("w", new float[] { 1, 2 }, 2).ToBytes();
        var p = PathOf("cut.safetensors");
        File.WriteAllBytes(p, full[..20]);
        Assert.Contains("exceeds", OpenFails(p).Message);
    }

    [Fact]
    public void HeaderLengthBeyondFileNamesFile()
    {
        var p = WriteRaw("long.safetensors", "{}", [], headerLength: 1UL << 40);
        Assert.Contains("header length", OpenFails(p).Message);
        var q = WriteRaw("huge.safetensors", "{}", [], headerLength: ulong.MaxValue);
        Assert.Contains("header length", OpenFails(q).Message);
    }

    [Theory]
    [InlineData("{\"w\": {\"dtype\": \"F32\"")]
    [InlineData("not json at all")]
    [InlineData("[1, 2]")]
    [InlineData("{\"__metadata__\": {\"a\": 1}}")]
    public void BadJsonNamesFile(string header)
    {
        var p = WriteRaw("badjson.safetensors", header, []);
        OpenFails(p);
    }

    [Fact]
    public void UnknownDtypeNamesTensor()
    {
        var p = WriteRaw("dtype.safetensors", "{\"w\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
        Assert.Contains("F7", OpenFails(p, "w").Message);
    }

    [Theory]
    [InlineData("[0,12]", "beyond")]        // end past the 8-byte data section
    [InlineData("[8,16]", "beyond")]
    [InlineData("[8,0]", "begin after")]
    [InlineData("[-1,7]", "non-negative")]
    [InlineData("[0]", "two integers")]
    public void OffsetsOutOfRangeNameTensor(string offsets, string expect)
    {
        var p = WriteRaw("offsets.safetensors", $"{{\"w\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{offsets}}}}}", new byte[8]);
        Assert.Contains(expect, OpenFails(p, "w").Message);
    }

    [Fact]
    public void DataSectionTruncatedNamesTensor()
    {
        var full = new SafetensorsWriter().Add("a", new float[] { 1, 2 }, 2).Add("b", new float[] { 3, 4, 5 }, 3).ToBytes();
        var p = PathOf("cutdata.safetensors");
        File.WriteAllBytes(p, full[..^4]);
        Assert.Contains("beyond", OpenFails(p, "b").Message);
    }

    [Theory]
    [InlineData("F32", "[3]")]      // 12 bytes needed, 8 given
    [InlineData("F64", "[2]")]
    [InlineData("F16", "[2,2,2]")]
    public void SizeShapeMismatchNamesTensor(string dtype, string shape)
    {
        var p = WriteRaw("size.safetensors", $"{{\"w\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[0,8]}}}}", new byte[8]);
        Assert.Contains("mismatch", OpenFails(p, "w").Message);
    }

    [Fact]
    public void NegativeOrHugeDimensionNamesTensor()
    {
        var p = WriteRaw("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]);
        OpenFails(p, "w");
        var q = WriteRaw("big.safetensors",
            "{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", new byte[8]);
        OpenFails(q, "w");
    }

    [Fact]
    public void OverlappingTensorsNameBoth()
    {
        var p = WriteRaw("overlap.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            new byte[12]);
        var e = OpenFails(p, "b");
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void DuplicateTensorNamesTensor()
    {
        var p = WriteRaw("dup.safetensors",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            new byte[8]);
        Assert.Contains("twice", OpenFails(p, "a").Message);
    }

    [Fact]
    public void MissingTensorNamesFileAndTensor()
    {
        var p = PathOf("ok.safetensors");
        new SafetensorsWriter().Add("x", new float[] { 1 }, 1).Save(p);
        using var f = SafetensorsFile.Open(p);
        var e = Assert.Throws<InvalidDataException>(() => f.ReadFloats("y"));
        Assert.Contains(p, e.Message);
        Assert.Contains("'y'", e.Message);
    }

    [Fact]
    public void WriterRejectsDataThatDoesNotFillTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => new SafetensorsWriter().Add("w", new float[] { 1, 2, 3 }, 2, 2));
        Assert.Contains("'w'", e.Message);
    }
}
