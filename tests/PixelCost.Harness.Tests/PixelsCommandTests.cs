using PixelCost.Harness.Commands;
using Xunit;

namespace PixelCost.Harness.Tests;

public class PixelsCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"pixelcost-test-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); else if (File.Exists(_dir)) File.Delete(_dir); } catch { }
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = PixelsCommand.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private void AssertOneErrorLine((int Code, string Out, string Err) r, params string[] mustContain)
    {
        Assert.NotEqual(0, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 1, "no error line");
        Assert.StartsWith("pixelcost: error: ", lines[0]);
        foreach (var s in mustContain) Assert.Contains(s, r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
        Assert.Equal("", r.Out);
        // No work started: nothing written in the output folder.
        Assert.False(Directory.Exists(_dir) && Directory.EnumerateFileSystemEntries(_dir).Any(), "files were written");
    }

    [Theory]
    [InlineData("--width", "0")]
    [InlineData("--width", "-5")]
    [InlineData("--height", "0")]
    [InlineData("--height", "-1")]
    [InlineData("--threads", "0")]
    [InlineData("--threads", "-2")]
    [InlineData("--scale", "0")]
    [InlineData("--cell", "-1")]
    public void NonPositiveValuesFailWithTheOptionNamed(string option, string value)
    {
        var r = Run("--out", _dir, option, value);
        Assert.Equal(1, r.Code);
        AssertOneErrorLine(r, option, value);
    }

    [Fact]
    public void TooLargeImageIsRefusedBeforeAllocating()
    {
        var r = Run("--out", _dir, "--width", "100000", "--height", "100000");
        AssertOneErrorLine(r, "--width 100000", "--height 100000", "too large", "120,000,000,000 bytes");
    }

    [Theory]
    [InlineData("--width", "300000000", "1")]
    [InlineData("--height", "1", "300000000")]
    public void SideBeyondTheOpLimitIsRefused(string option, string w, string h)
    {
        var r = Run("--out", _dir, "--width", w, "--height", h);
        AssertOneErrorLine(r, option, "300000000 is too large");
    }

    [SkippableFact]
    public void ImageLargerThanMemoryIsRefused()
    {
        // 26000² pixels fit one buffer (2.03 G values) and need ~12.2 GB at peak (18 B per pixel): refused where less
        // than that is available; on bigger machines the buffer limit is reached first and this cannot be provoked.
        long avail = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Skip.If(avail * 0.8 >= 26000L * 26000 * 18, "machine has enough memory for the largest image one buffer holds");
        var r = Run("--out", _dir, "--width", "26000", "--height", "26000");
        AssertOneErrorLine(r, "--width 20000", "bytes of memory are available");
    }

    [Theory]
    [InlineData("--width", "abc")]
    [InlineData("--height", "1.5")]
    [InlineData("--seed", "-1")]
    [InlineData("--threads", "many")]
    public void NonNumbersFailAtParse(string option, string value)
    {
        var r = Run("--out", _dir, option, value);
        Assert.Equal(2, r.Code);
        AssertOneErrorLine(r, value);
    }

    [Fact]
    public void UnknownOptionFails()
    {
        var r = Run("--out", _dir, "--colour", "red");
        Assert.Equal(2, r.Code);
        AssertOneErrorLine(r, "--colour");
    }

    [Fact]
    public void OutputThatIsAFileFails()
    {
        File.WriteAllText(_dir, "not a folder");
        var r = Run("--out", _dir, "--width", "4", "--height", "4");
        Assert.Equal(1, r.Code);
        Assert.StartsWith("pixelcost: error: --out", r.Err);
        Assert.Contains(_dir, r.Err);
        Assert.Equal("not a folder", File.ReadAllText(_dir));
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void UnwritableOutputFolderFails()
    {
        Directory.CreateDirectory(_dir);
        string locked = Path.Combine(_dir, "locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            // root ignores permissions: then the probe succeeds and this test has nothing to check.
            bool writable;
            try { File.WriteAllText(Path.Combine(locked, "x"), ""); File.Delete(Path.Combine(locked, "x")); writable = true; }
            catch (UnauthorizedAccessException) { writable = false; }
            Skip.If(writable, "running as a user who can write into a read-only folder (root)");
            var r = Run("--out", Path.Combine(locked, "sub"), "--width", "4", "--height", "4");
            Assert.Equal(1, r.Code);
            Assert.StartsWith("pixelcost: error: --out", r.Err);
            Assert.Contains("cannot write", r.Err);
            Assert.DoesNotContain("   at ", r.Err);
            Assert.Empty(Directory.EnumerateFileSystemEntries(locked));
        }
        finally { File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
    }

    [SkippableFact]
    public void OutputUnderProcFails()
    {
        // Not even root can create folders in /proc: an unwritable --out on any Linux runner.
        Skip.IfNot(OperatingSystem.IsLinux() && Directory.Exists("/proc/self"), "needs Linux /proc");
        var r = Run("--out", "/proc/pixelcost-test-out", "--width", "4", "--height", "4");
        Assert.Equal(1, r.Code);
        Assert.StartsWith("pixelcost: error: --out '/proc/pixelcost-test-out': cannot write there", r.Err);
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void UnknownSimdWidthFails()
    {
        var r = Run("--out", _dir, "--simd", "384");
        Assert.Equal(1, r.Code);
        AssertOneErrorLine(r, "--simd", "384");
    }

    [Fact]
    public void The512BitPathWritesTheSameImagesAsThe256BitPath()
    {
        // Every pixel map is bitwise equal to its scalar reference on each path, so the files must match byte for byte.
        string d256 = Path.Combine(_dir, "s256"), d512 = Path.Combine(_dir, "s512");
        foreach (var (d, simd) in new[] { (d256, "256"), (d512, "512") })
        {
            var r = Run("--out", d, "--width", "37", "--height", "11", "--threads", "2", "--json", "--min-seconds", "0", "--simd", simd);
            Assert.True(r.Code == 0, r.Err);
        }
        foreach (var f in Directory.GetFiles(d256))
            Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(Path.Combine(d512, Path.GetFileName(f))));
        Assert.Equal(4, Directory.GetFiles(d512).Length);
    }

    [Fact]
    public void SmallRunWritesFourImagesAndJson()
    {
        var r = Run("--out", _dir, "--width", "17", "--height", "9", "--threads", "2", "--json", "--min-seconds", "0");
        Assert.True(r.Code == 0, r.Err);
        using var doc = System.Text.Json.JsonDocument.Parse(r.Out); // stdout is JSON and nothing else
        var images = doc.RootElement.GetProperty("images");
        Assert.Equal(4, images.GetArrayLength());
        string[] files = ["01_random_noise.png", "02_smooth_noise.png", "03_gradient.png", "04_checkerboard.png"];
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(files[i], images[i].GetProperty("file").GetString());
            Assert.True(File.Exists(Path.Combine(_dir, files[i])));
        }
        // The figures are the ledger's spec costs: noise over 17·9·3 values costs one multiply each.
        var noise = images[0].GetProperty("launches")[0];
        Assert.Equal("pixels.noise", noise.GetProperty("op").GetString());
        Assert.Equal(17 * 9 * 3, noise.GetProperty("other_flops").GetInt64());
        Assert.Equal(17 * 9 * 3 * 4, noise.GetProperty("bytes_written").GetInt64());
    }
}
