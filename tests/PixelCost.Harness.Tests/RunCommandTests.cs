using PixelCost.Harness.Commands;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Harness.Tests;

/// <summary>`pixelcost run unet|vae-decode` on the tiny golden models: the written tensor against diffusers' float64
/// output (same tolerance as the model tests: 1e-4 + 1e-4·|ref|, measured ~1.5e-6), and bad inputs as one line.</summary>
public sealed class RunCommandTests : IDisposable
{
    private static readonly string Golden = Path.Combine(AppContext.BaseDirectory, "Golden");
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRun.Run(args, RunCommand.Create());

    [Theory]
    [InlineData("unet", "unet_sd1_tiny", "out")]
    [InlineData("vae-decode", "vae_tiny", "image")]
    public void WritesTheComponentsOutputMatchingDiffusers(string component, string model, string tensor)
    {
        string dir = Path.Combine(Golden, model), output = Path.Combine(_dir, "o.safetensors");
        var r = Run("run", component, "--model", dir, "--inputs", Path.Combine(dir, "io.safetensors"), "--output", output, "--threads", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"wrote {tensor}", r.Out);
        using var got = SafetensorsFile.Open(output);
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        Assert.Equal(io.Shape(tensor), got.Shape(tensor));
        float[] g = got.ReadFloats(tensor), want = io.ReadFloats(tensor);
        for (int i = 0; i < g.Length; i++) Assert.True(Math.Abs(g[i] - want[i]) <= 1e-4 + 1e-4 * Math.Abs(want[i]), $"{tensor}[{i}] = {g[i]}, want {want[i]}");
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void MissingOrMisshapenInputsAndABadOutputFolderAreOneLine()
    {
        string unet = Path.Combine(Golden, "unet_sd1_tiny"), vaeIo = Path.Combine(Golden, "vae_tiny", "io.safetensors");
        string output = Path.Combine(_dir, "o.safetensors");
        void One((int Code, string Out, string Err) r, params string[] mentions)
        {
            Assert.NotEqual(0, r.Code);
            var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("pixelcost: error:", line);
            foreach (var m in mentions) Assert.Contains(m, line);
            Assert.False(File.Exists(output));
        }
        One(Run("run", "unet", "--model", unet, "--inputs", vaeIo, "--output", output), "io.safetensors", "'sample' is missing");
        string wrong = Path.Combine(_dir, "wrong.safetensors");
        new SafetensorsWriter().Add("sample", new float[2 * 3 * 16 * 16], 2, 3, 16, 16).Save(wrong);
        One(Run("run", "unet", "--model", unet, "--inputs", wrong, "--output", output), "wrong.safetensors", "'sample' is [2,3,16,16]", "[B,4,H,W]");
        One(Run("run", "unet", "--model", unet, "--inputs", Path.Combine(unet, "io.safetensors"), "--output", Path.Combine(_dir, "no", "o.safetensors")), "does not exist");
        One(Run("run", "vae-decode", "--model", unet, "--inputs", vaeIo, "--output", output), "unet_sd1_tiny");
    }

    private static readonly string[] ClipCases =
        ["case0_eos", "case0_zero", "case1_eos", "case1_zero", "case2_eos", "case2_zero", "case3_eos", "case3_zero"];

    /// <summary>input_ids [rows, T] as int64 (what transformers' tokenizers return).</summary>
    private static byte[] I64(IEnumerable<long> ids) => ids.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void TextEncoder_WritesAllOutputsMatchingGolden()
    {
        string dir = Path.Combine(Golden, "clip_text_tiny"), inputs = Path.Combine(_dir, "ids.safetensors"), output = Path.Combine(_dir, "o.safetensors");
        using var io = SafetensorsFile.Open(Path.Combine(dir, "io.safetensors"));
        var ids = ClipCases.SelectMany(k => { var r = io.RawBytes(k + ".input_ids").ToArray(); return Enumerable.Range(0, 77).Select(i => BitConverter.ToInt64(r, 8 * i)); }).ToList();
        new SafetensorsWriter().AddRaw("input_ids", SafetensorsDType.I64, [ClipCases.Length, 77], I64(ids)).Save(inputs);
        var r = Run("run", "text-encoder", "--model", dir, "--inputs", inputs, "--output", output, "--threads", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("wrote last_hidden_state [8,77,32], penultimate_hidden_state [8,77,32], pooled [8,32], text_embeds [8,24]", r.Out);
        using var got = SafetensorsFile.Open(output);
        // The golden tensors are float64 PyTorch; tolerance as ClipTextModelTests (2e-5 + 2e-5·|ref|).
        foreach (var (name, size) in new[] { ("last_hidden_state", 77 * 32), ("penultimate_hidden_state", 77 * 32), ("pooled", 32), ("text_embeds", 24) })
        {
            var g = got.ReadFloats(name);
            for (int b = 0; b < ClipCases.Length; b++)
            {
                var want = io.ReadFloats($"{ClipCases[b]}.{name}");
                for (int i = 0; i < size; i++)
                    Assert.True(Math.Abs(g[b * size + i] - want[i]) <= 2e-5 + 2e-5 * Math.Abs(want[i]), $"{ClipCases[b]}.{name}[{i}] = {g[b * size + i]}, want {want[i]}");
            }
        }
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void TextEncoder_BadInputsAreOneLine()
    {
        string dir = Path.Combine(Golden, "clip_text_tiny"), output = Path.Combine(_dir, "o.safetensors");
        void One(string inputs, string[] extra, params string[] mentions)
        {
            var r = Run(["run", "text-encoder", "--model", dir, "--inputs", inputs, "--output", output, .. extra]);
            Assert.NotEqual(0, r.Code);
            var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("pixelcost: error:", line);
            foreach (var m in mentions) Assert.Contains(m, line);
            Assert.False(File.Exists(output));
        }
        string missing = Path.Combine(_dir, "missing.safetensors");
        new SafetensorsWriter().Add("ids", new float[77], 1, 77).Save(missing);
        One(missing, [], "missing.safetensors", "'input_ids' is missing");
        string big = Path.Combine(_dir, "big.safetensors");
        var ids = new long[2 * 77];
        ids[77 + 3] = 49408;   // = vocab size
        new SafetensorsWriter().AddRaw("input_ids", SafetensorsDType.I64, [2, 77], I64(ids)).Save(big);
        One(big, [], "big.safetensors", "id 49408 at [1,3]", "[0, 49408)");
        string rank1 = Path.Combine(_dir, "rank1.safetensors");
        new SafetensorsWriter().AddRaw("input_ids", SafetensorsDType.I64, [77], I64(new long[77])).Save(rank1);
        One(rank1, [], "rank1.safetensors", "'input_ids' is [77]", "[B,T]");
        string floats = Path.Combine(_dir, "floats.safetensors");
        new SafetensorsWriter().Add("input_ids", new float[77], 1, 77).Save(floats);
        One(floats, [], "'input_ids' is F32", "int64 or int32");
        One(rank1, ["--component", "unet"], "--component");
    }
}
