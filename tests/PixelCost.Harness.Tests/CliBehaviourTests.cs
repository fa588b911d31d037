using System.Diagnostics;
using System.Text.Json;
using PixelCost.Harness.Reporting;
using Xunit;
using static PixelCost.Harness.Tests.CliRun;

namespace PixelCost.Harness.Tests;

/// <summary>How the CLI behaves at its edges, on every command as Program.Main registers them: parse errors in plain
/// words, usage and unknown commands, Ctrl-C, colour, rates that do not apply, progress, option ranges.</summary>
public sealed class CliBehaviourTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pixelcost-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>pixelcost &lt;args&gt; in process, with every command Program.Main has.</summary>
    private static (int Code, string Out, string Err) Pixelcost(params string[] args) => Run(args, Program.Commands());

    private static void AssertPlainWords(string err)
    {
        Assert.DoesNotContain("System.", err);
        Assert.DoesNotContain("(Parameter", err);
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Cannot parse argument", err);
    }

    // ---- 2. parse errors in plain words, for every kind of option ----

    [Theory]
    [InlineData("pixels --width x", "--width must be a whole number, got 'x'")]                                // int
    [InlineData("pixels --width 99999999999", "--width must be a whole number from -2147483648 to 2147483647, got '99999999999'")]
    [InlineData("pixels --seed -1", "--seed must be a whole number from 0 to 18446744073709551615, got '-1'")] // ulong
    [InlineData("pixels --seed 1.5", "--seed must be a whole number ≥ 0, got '1.5'")]
    [InlineData("pixels --min-seconds abc", "--min-seconds must be a number, got 'abc'")]                      // double
    [InlineData("cost --guidance lots", "--guidance must be a number, got 'lots'")]                           // double?
    [InlineData("cost --width wide", "--width must be a whole number, got 'wide'")]                           // int?
    [InlineData("bench kernels --variant v2", "--variant must be a whole number, got 'v2'")]                 // int?
    [InlineData("bench kernels --min-time soon", "--min-time must be a number, got 'soon'")]
    [InlineData("pixels --width", "--width needs a value")]
    [InlineData("pixels --colour red", "unknown option '--colour' (see --help)")]
    [InlineData("pixels --widht 8", "unknown option '--widht' (see --help) — did you mean '--width'?")]
    [InlineData("bench kernels --filtr gemm", "did you mean '--filter'?")]
    [InlineData("pixels --json 3", "unexpected argument '3'")]                                                   // bool
    [InlineData("run unet --inputs a --output b", "--model is required")]
    [InlineData("run unet --output b", "--model is required; --inputs is required")]                           // all in one line
    public void ParseErrorsAreOneLineInPlainWords(string args, string message)
    {
        var r = Pixelcost(args.Split(' '));
        Assert.Equal(2, r.Code);
        AssertOneLineError(r, message);
        AssertPlainWords(r.Err);
    }

    [Fact]
    public void MissingArgumentNamesIt()
    {
        var r = Pixelcost("inspect");
        Assert.Equal(2, r.Code);
        AssertOneLineError(r, "inspect needs its <path> argument");
        AssertPlainWords(r.Err);
    }

    [Theory]
    [InlineData("pixels --simd 1024", "--simd must be auto, 256 or 512, got '1024'")]       // enum-like strings
    [InlineData("verify --simd wide", "--simd must be auto, 256 or 512, got 'wide'")]
    [InlineData("verify --accelerator tpu", "--accelerator 'tpu' is not known")]
    [InlineData("bench kernels --baseline mkl", "--baseline 'mkl' is not known")]
    [InlineData("bench unet --model sd99", "--model 'sd99' is neither a preset")]
    [InlineData("verify --ptx PTXDIR --arch sm_70", "--arch must be sm_80 or sm_90 (got 'sm_70')")]
    public void BadChoicesNameTheOptionAndTheValue(string args, string message)
    {
        var r = Pixelcost(args.Replace("PTXDIR", Path.Combine(_dir, "ptx")).Split(' '));
        Assert.Equal(1, r.Code);
        AssertOneLineError(r, message);
        AssertPlainWords(r.Err);
    }

    [Fact]
    public void BadPathsNameTheFileWithoutDotNetWording()
    {
        string missing = Path.Combine(_dir, "nothing-here.safetensors");
        var inspect = Pixelcost("inspect", missing);
        AssertOneLineError(inspect, missing);
        AssertPlainWords(inspect.Err);

        var empty = Pixelcost("pixels", "--out", "", "--width", "4", "--height", "4");
        AssertOneLineError(empty, "--out must name a folder");
        AssertPlainWords(empty.Err);

        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var notFolder = Pixelcost("verify", "--ptx", file);
        AssertOneLineError(notFolder, "--ptx", file, "is a file, not a folder");

        var noOutput = Pixelcost("run", "unet", "--model", _dir, "--inputs", missing, "--output", "");
        AssertOneLineError(noOutput, "--output must name a file");
        AssertPlainWords(noOutput.Err);

        var run = Pixelcost("run", "unet", "--model", _dir, "--inputs", missing, "--output", Path.Combine(_dir, "out.safetensors"));
        AssertOneLineError(run, missing);
        AssertPlainWords(run.Err);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*", SearchOption.AllDirectories));
    }

    [Fact]
    public void ArgumentExceptionMessagesLoseTheirParameterSuffix()
    {
        Assert.Equal("shape [3] does not fit", Cli.UserMessage(new ArgumentException("shape [3] does not fit", "path")));
        Assert.Equal("threads must be ≥ 1 Actual value was -2.",
            Cli.UserMessage(new ArgumentOutOfRangeException("threads", -2, "threads must be ≥ 1")));
        Assert.Equal("plain", Cli.UserMessage(new InvalidDataException("plain")));
    }

    // ---- 3. usage and unknown commands ----

    [Fact]
    public void BarePixelcostPrintsUsageWithEveryCommandAndExitsZero()
    {
        var r = Pixelcost();
        Assert.Equal(0, r.Code);
        Assert.Equal("", r.Err);
        foreach (var c in Program.Commands())
        {
            Assert.Contains(c.Name, r.Out);
            Assert.Contains(c.Description![..20], r.Out);
        }
        Assert.DoesNotContain("Required command", r.Out + r.Err);
    }

    [Fact]
    public void VersionAndHelpStillWork()
    {
        var version = Pixelcost("--version");
        Assert.Equal(0, version.Code);
        Assert.DoesNotContain("Usage:", version.Out);
        Assert.Matches(@"^\d+\.\d+", version.Out.Trim());
        var help = Pixelcost("pixels", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("--width", help.Out);
    }

    [Fact]
    public void UnknownOptionWithoutACommandIsOneLine()
    {
        var r = Pixelcost("--bogus");
        Assert.Equal(2, r.Code);
        AssertOneLineError(r, "unknown option '--bogus' (see --help)");
        Assert.DoesNotContain("Required command", r.Err);
    }

    [Fact]
    public void BareCommandGroupPrintsItsUsage()
    {
        var r = Pixelcost("bench");
        Assert.Equal(0, r.Code);
        Assert.Contains("kernels", r.Out);
        Assert.Contains("unet", r.Out);
        Assert.Equal("", r.Err);
    }

    [Theory]
    [InlineData(new[] { "pixles" }, "unknown command 'pixles'", "pixels")]
    [InlineData(new[] { "devics", "--json" }, "unknown command 'devics'", "devices")]
    [InlineData(new[] { "bench", "kernel" }, "unknown command 'bench kernel'", "kernels")]
    [InlineData(new[] { "xyzzy" }, "unknown command 'xyzzy'", null)]
    public void UnknownCommandSaysSoListsCommandsAndSuggests(string[] args, string message, string? suggestion)
    {
        var r = Pixelcost(args);
        Assert.Equal(2, r.Code);
        Assert.Equal("", r.Out);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal($"pixelcost: error: {message}", lines[0]);
        if (suggestion is null) Assert.DoesNotContain("did you mean", r.Err);
        else Assert.Contains($"did you mean '{suggestion}'?", r.Err);
        var group = args[0] == "bench" ? Program.Commands().Single(c => c.Name == "bench").Subcommands.ToArray() : Program.Commands();
        foreach (var c in group) Assert.Contains(lines, l => l.StartsWith(c.Name + " ", StringComparison.Ordinal));
        AssertPlainWords(r.Err);
    }

    [Theory]
    [InlineData("pixels", "pixles", 2)]
    [InlineData("devices", "devices", 0)]
    [InlineData("verify", "verfy", 1)]
    [InlineData("kitten", "sitting", 3)]
    public void EditDistance(string a, string b, int d) => Assert.Equal(d, Cli.Distance(a, b));

    // ---- 1. Ctrl-C ----

    /// <summary>The built CLI as a child process: <c>dotnet pixelcost.dll …</c> (the Harness project is referenced, so
    /// it sits beside the tests).</summary>
    private static Process Start(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "pixelcost.dll");
        Assert.True(File.Exists(dll), dll);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("NO_COLOR");
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task CtrlCStopsCleanlyWithExit130AndNoTemporaryFiles()
    {
        string outDir = Path.Combine(_dir, "out");
        using var p = Start(null, "pixels", "--width", "4096", "--height", "4096", "--min-seconds", "30", "--threads", "2", "--out", outDir);
        var stderr = p.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            // The header line comes once the images are allocated and the work starts (4 maps × 2 × 30 s of it).
            string? header = await p.StandardOutput.ReadLineAsync(limit.Token);
            Assert.StartsWith("pixelcost pixels", header);
            var stdoutRest = p.StandardOutput.ReadToEndAsync(limit.Token);
            await Task.Delay(1500, limit.Token);
            using (var kill = Process.Start("kill", ["-INT", p.Id.ToString()])) await kill.WaitForExitAsync(limit.Token);
            // Bounded: the work stops at its next safe point (a timing repeat), far sooner than the 240 s it had left.
            await p.WaitForExitAsync(limit.Token);
            await stdoutRest;
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
        Assert.Equal(130, p.ExitCode);
        Assert.Equal("pixelcost: interrupted", (await stderr).Trim());
        var left = Directory.Exists(outDir) ? Directory.GetFiles(outDir, "*", SearchOption.AllDirectories) : [];
        Assert.DoesNotContain(left, f => f.EndsWith(".tmp", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith('.'));
    }

    // ---- 4. colour only on a terminal ----

    [Fact]
    public async Task RedirectedOutputHasNoEscapeCodesEvenWithAColourTerm()
    {
        using var p = Start(new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["COLORTERM"] = "truecolor" },
            "devices", "--seconds", "0.02", "--threads", "1");
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            var errTask = p.StandardError.ReadToEndAsync(limit.Token);
            string output = await p.StandardOutput.ReadToEndAsync(limit.Token);
            await p.WaitForExitAsync(limit.Token);
            string err = await errTask;
            Assert.True(p.ExitCode == 0, err);
            Assert.Contains("Accelerators", output);
            Assert.DoesNotContain('\x1b', output);
            Assert.DoesNotContain('\x1b', err);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }

    [Theory]
    [InlineData(true, null, "xterm-256color", true)]
    [InlineData(false, null, "xterm-256color", false)]   // redirected
    [InlineData(true, "1", "xterm-256color", false)]     // NO_COLOR
    [InlineData(true, "", "xterm", true)]                // NO_COLOR set but empty: no effect (no-color.org)
    [InlineData(true, null, "dumb", false)]
    public void ColourRule(bool terminal, string? noColor, string? term, bool colour) =>
        Assert.Equal(colour, Terminal.ColorAllowed(terminal, noColor, term));

    [Fact]
    public void WritersThatAreNotTheConsoleGetNoColour()
    {
        Assert.False(Terminal.ColorAllowed(new StringWriter()));
        var r = Pixelcost("pixels", "--out", _dir, "--width", "8", "--height", "8", "--min-seconds", "0", "--threads", "1");
        Assert.True(r.Code == 0, r.Err);
        Assert.DoesNotContain('\x1b', r.Out + r.Err);
    }

    // ---- 5, 6, 7: variant names, rates that do not apply, --cell/--scale ----

    [Theory]
    [InlineData("256")]
    [InlineData("512")]
    public void PixelsVariantNamesUseTheSharedSuffix(string simd)
    {
        var r = Pixelcost("pixels", "--out", _dir, "--width", "8", "--height", "8", "--min-seconds", "0", "--threads", "1", "--json", "--simd", simd);
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        foreach (var image in doc.RootElement.GetProperty("images").EnumerateArray())
            foreach (var launch in image.GetProperty("launches").EnumerateArray())
            {
                string v = launch.GetProperty("variant").GetString()!;
                Assert.DoesNotContain("avx", v);
                // The checkerboard is a row copy with no SIMD width of its own (cpu.v1-rows-copy).
                bool hasWidePath = launch.GetProperty("op").GetString() != "pixels.checkerboard";
                Assert.Equal(simd == "512" && hasWidePath, v.EndsWith("-v512", StringComparison.Ordinal));
            }
    }

    [Fact]
    public void ZeroFlopRowsHaveNoRate()
    {
        var r = Pixelcost("pixels", "--out", _dir, "--width", "8", "--height", "8", "--min-seconds", "0", "--threads", "1", "--json");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var launches = doc.RootElement.GetProperty("images").EnumerateArray().SelectMany(i => i.GetProperty("launches").EnumerateArray()).ToList();
        // The checkerboard's spec has no FLOPs (it only writes): its FLOP rate does not apply.
        var checker = launches.Single(l => l.GetProperty("op").GetString() == "pixels.checkerboard");
        Assert.Equal(0, checker.GetProperty("matmul_flops").GetInt64() + checker.GetProperty("other_flops").GetInt64());
        Assert.Equal(JsonValueKind.Null, checker.GetProperty("gflop_per_second").ValueKind);
        Assert.True(checker.GetProperty("gb_per_second").GetDouble() > 0);
        var noise = launches.First(l => l.GetProperty("op").GetString() == "pixels.noise");
        Assert.True(noise.GetProperty("gflop_per_second").GetDouble() > 0);

        var table = Pixelcost("pixels", "--out", _dir, "--width", "8", "--height", "8", "--min-seconds", "0", "--threads", "1");
        var row = table.Out.Split('\n').Single(l => l.Contains("pixels.checkerboard"));
        var cells = row.Split('│', StringSplitOptions.TrimEntries);
        Assert.Equal("–", cells[8]);    // GFLOP/s, not 0.00
    }

    [Fact]
    public void RatesHelper()
    {
        Assert.Null(Rates.PerSecond(0, 1.5));
        Assert.Null(Rates.PerSecond(1e9, 0));
        Assert.Equal(2.0, Rates.PerSecond(3e9, 1.5));
        Assert.Equal(50.0, Rates.PercentOf(2.0, 4.0));
        Assert.Null(Rates.PercentOf(null, 4.0));
        Assert.Equal("–", Rates.Format(null));
        Assert.Equal("1.25", Rates.Format(1.25, "F2"));
    }

    [Theory]
    [InlineData("--cell", "65", "64", "32", "--cell must be between 1 and the image's smaller side 32", "got 65")]
    [InlineData("--scale", "33", "32", "40", "--scale must be between 1 and the image's smaller side 32", "got 33")]
    [InlineData("--cell", "0", "16", "16", "--cell must be between 1 and the image's smaller side 16", "got 0")]
    public void CellAndScaleMustFitTheImage(string option, string value, string w, string h, string message, string got)
    {
        var r = Pixelcost("pixels", "--out", _dir, "--width", w, "--height", h, option, value);
        Assert.Equal(1, r.Code);
        AssertOneLineError(r, message, got);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    // ---- 8. progress ----

    [Fact]
    public void ProgressLineDrawsOnlyWhereAllowed()
    {
        var w = new StringWriter();
        using (var p = new ProgressLine("pixels", w, TimeSpan.Zero))
        {
            p.Step("02_smooth_noise.png", 2, 4);
            Assert.StartsWith("\rpixels 2/4 02_smooth_noise.png · ", w.ToString());
        }
        // Cleared at the end: the last write blanks the line and returns the cursor.
        Assert.EndsWith("\r", w.ToString());
        Assert.DoesNotContain('\n', w.ToString());

        var redirected = new StringWriter();
        using (var p = ProgressLine.Start("verify", redirected, quiet: false)) p.Step("gemm", 1, 3);
        Assert.Equal("", redirected.ToString());
        var delayed = new StringWriter();
        using (var p = new ProgressLine("cost", delayed, TimeSpan.FromHours(1))) p.Step("tracing", 1, 3);
        Assert.Equal("", delayed.ToString());
    }

    [Fact]
    public void RedirectedRunsPrintNoProgress()
    {
        var r = Pixelcost("cost", "--model", "sd15", "--steps", "2");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal("", r.Err);
    }
}
