using System.Text.Json;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Runtime.Tests;

public sealed class ShardedCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-shard-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(_dir, name);

    private string WriteIndex(string name, object weightMap, object? metadata = null)
    {
        File.WriteAllText(P(name), JsonSerializer.Serialize(new { metadata, weight_map = weightMap }));
        return P(name);
    }

    [Fact]
    public void ReadsTensorsAcrossShardsWithIndexMetadata()
    {
        new SafetensorsWriter().Add("a", new float[] { 1, 2 }, 2).Add("b", new float[] { 3 }, 1).Save(P("m-00001-of-00002.safetensors"));
        var w = new SafetensorsWriter();
        w.Metadata["format"] = "pt";
        w.Add("c", new Half[] { (Half)4, (Half)5, (Half)6 }, 3, 1).Save(P("m-00002-of-00002.safetensors"));
        string index = WriteIndex("m.safetensors.index.json",
            new Dictionary<string, string> { ["a"] = "m-00001-of-00002.safetensors", ["c"] = "m-00002-of-00002.safetensors", ["b"] = "m-00001-of-00002.safetensors" },
            new { total_size = 18 });

        using var ck = SafetensorsCheckpoint.Open(index);
        Assert.True(ck.IsSharded);
        Assert.Equal(["a", "c", "b"], ck.TensorNames);
        Assert.Equal(2, ck.ShardPaths.Count);
        Assert.Equal("18", ck.Metadata["total_size"]);
        Assert.Equal([1f, 2f], ck.ReadFloats("a"));
        Assert.Equal([4f, 5f, 6f], ck.ReadFloats("c"));
        Assert.Equal([3, 1], ck.Info("c").Shape);
        Assert.EndsWith("m-00002-of-00002.safetensors", ck.Info("c").File);
        Assert.Equal(3, ck.ListTensors().Count);
        Assert.Equal("pt", ck.ShardMetadata()[1].Metadata["format"]);
        var e = Assert.Throws<InvalidDataException>(() => ck.ReadFloats("zzz"));
        Assert.Contains(index, e.Message);
        Assert.Contains("'zzz'", e.Message);
    }

    [Fact]
    public void ShardsOpenOnlyWhenATensorInThemIsRead()
    {
        new SafetensorsWriter().Add("good", new float[] { 1 }, 1).Save(P("good.safetensors"));
        File.WriteAllBytes(P("bad.safetensors"), [1, 2, 3]);   // truncated: fails only when opened
        string index = WriteIndex("lazy.safetensors.index.json", new Dictionary<string, string> { ["good"] = "good.safetensors", ["bad.w"] = "bad.safetensors" });

        using var ck = SafetensorsCheckpoint.Open(index);
        Assert.Equal([1f], ck.ReadFloats("good"));
        var e = Assert.Throws<InvalidDataException>(() => ck.ReadFloats("bad.w"));
        Assert.Contains(index, e.Message);
        Assert.Contains("tensor 'bad.w'", e.Message);
        Assert.Contains(P("bad.safetensors"), e.Message);
    }

    [Fact]
    public void SingleFileIsACheckpointOfOneShard()
    {
        var w = new SafetensorsWriter();
        w.Metadata["note"] = "x";
        w.Add("t", new float[] { 7 }, 1).Save(P("one.safetensors"));
        using var ck = SafetensorsCheckpoint.Open(P("one.safetensors"));
        Assert.False(ck.IsSharded);
        Assert.Equal([P("one.safetensors")], ck.ShardPaths);
        Assert.Equal("x", ck.Metadata["note"]);
        Assert.Equal([7f], ck.ReadFloats("t"));
        var e = Assert.Throws<InvalidDataException>(() => ck.Info("nope"));
        Assert.Contains("tensor 'nope'", e.Message);
    }

    [Fact]
    public void PickleByExtensionOrMagicIsRefusedWithAConvertHint()
    {
        File.WriteAllBytes(P("v1-5.ckpt"), [0x50, 0x4B, 3, 4, 0, 0, 0, 0, 0, 0]);
        var e = Assert.Throws<UnsupportedCheckpointException>(() => SafetensorsFile.Open(P("v1-5.ckpt")));
        Assert.Contains(P("v1-5.ckpt"), e.Message);
        Assert.Contains("convert it to safetensors", e.Message);
        Assert.Contains("never unpickles", e.Message);

        File.WriteAllBytes(P("weights.pth"), [0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Contains("pickle", Assert.Throws<UnsupportedCheckpointException>(() => SafetensorsFile.Open(P("weights.pth"))).Message);

        // a real safetensors file is read whatever it is called
        new SafetensorsWriter().Add("t", new float[] { 1 }, 1).Save(P("actually.bin"));
        using var f = SafetensorsFile.Open(P("actually.bin"));
        Assert.Equal([1f], f.ReadFloats("t"));
    }
}
