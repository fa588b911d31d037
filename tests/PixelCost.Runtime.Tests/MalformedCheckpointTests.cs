using System.Diagnostics;
using System.Text.Json;
using PixelCost.Harness;
using PixelCost.Runtime.Safetensors;
using Xunit;

namespace PixelCost.Runtime.Tests;

/// <summary>
/// The malformed-checkpoint suite: every file in Golden/malformed/ listed by its cases.json (written, with the
/// files, by tools/golden/make_malformed_safetensors.py) must fail to open with one line naming the file — and the
/// tensor when one is at fault — as an error the CLI shows without a stack trace, quickly and without allocating
/// what a corrupt header claims.
/// </summary>
public sealed class MalformedCheckpointTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Golden", "malformed");

    private sealed record Case(string File, string Expect, string? Tensor, string Why);

    private static List<Case> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("file").GetString()!, c.GetProperty("expect").GetString()!,
            c.GetProperty("tensor").ValueKind == JsonValueKind.String ? c.GetProperty("tensor").GetString() : null,
            c.GetProperty("why").GetString()!)).ToList();
    }

    public static TheoryData<string> CaseFiles()
    {
        var d = new TheoryData<string>();
        foreach (var c in Cases()) d.Add(c.File);
        return d;
    }

    [Fact]
    public void SuiteHasAtLeastTwentyDistinctCorruptions()
    {
        var cases = Cases();
        Assert.True(cases.Count >= 20, $"{cases.Count} cases");
        Assert.Equal(cases.Count, cases.Select(c => c.File).Distinct().Count());
        foreach (var c in cases) Assert.True(File.Exists(Path.Combine(Dir, c.File)), c.File);
    }

    [Theory]
    [MemberData(nameof(CaseFiles))]
    public void FailsWithOneLineNamingFileAndTensor(string file)
    {
        var c = Cases().Single(x => x.File == file);
        string path = Path.Combine(Dir, file);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        Exception? caught = null;
        try
        {
            using var ck = SafetensorsCheckpoint.Open(path);
            ck.ListTensors();   // sharded: opens every shard and checks every entry
        }
        catch (Exception e)
        {
            caught = e;
        }
        sw.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.NotNull(caught);
        Assert.True(Cli.IsUserError(caught), $"{c.Why}: {caught.GetType().Name} would be a stack trace: {caught}");
        Assert.True(caught is InvalidDataException or IOException, caught.GetType().Name);
        string msg = caught.Message;
        Assert.DoesNotContain('\n', msg);
        Assert.Contains(path, msg);
        Assert.Contains(c.Expect, msg);
        if (c.Tensor is not null) Assert.Contains($"tensor '{c.Tensor}'", msg);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"{file} took {sw.Elapsed}");
        Assert.True(allocated < 32L << 20, $"{file} allocated {allocated} bytes");
    }

    [Fact]
    public void ModelDetectionReportsTheSameErrors()
    {
        // The model-level entry point (inspect, loaders) must surface the reader's errors unchanged.
        string path = Path.Combine(Dir, "overlapping.safetensors");
        var e = Assert.Throws<InvalidDataException>(() => PixelCost.Runtime.Models.ModelDetection.Detect(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("tensor 'b'", e.Message);
    }
}
