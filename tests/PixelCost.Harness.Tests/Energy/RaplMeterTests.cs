using PixelCost.Harness.Energy;
using Xunit;

namespace PixelCost.Harness.Tests.Energy;

/// <summary>RAPL meter on a fake powercap tree in a temp folder, laid out like the kernel's.</summary>
public sealed class RaplMeterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("pixelcost-powercap-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Zone(string dir, string name, ulong energy, ulong max = 262143328850)
    {
        string d = Path.Combine(_root, dir);
        Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(d, "name"), name + "\n");
        File.WriteAllText(Path.Combine(d, "energy_uj"), energy + "\n");
        File.WriteAllText(Path.Combine(d, "max_energy_range_uj"), max + "\n");
        return d;
    }

    private static void SetEnergy(string zoneDir, ulong uj) => File.WriteAllText(Path.Combine(zoneDir, "energy_uj"), uj + "\n");

    /// <summary>A two-socket Intel-like tree: packages, their sub-zones, a psys zone and the MMIO duplicate.</summary>
    private (string P0, string P1, string Core, string Dram, string Psys, string Mmio) Tree()
    {
        Directory.CreateDirectory(Path.Combine(_root, "intel-rapl")); // the control type folder, not a zone
        return (Zone("intel-rapl:0", "package-0", 1_000_000),
                Zone("intel-rapl:1", "package-1", 5_000_000),
                Zone("intel-rapl:0:0", "core", 100),
                Zone("intel-rapl:0:1", "dram", 100),
                Zone("intel-rapl:2", "psys", 100),
                Zone("intel-rapl-mmio:0", "package-0", 100));
    }

    [Fact]
    public void NormalWindowSumsPackageZonesOnly()
    {
        var t = Tree();
        var m = RaplMeter.Discover(_root);
        Assert.Null(m.Unavailable);
        Assert.Equal(new[] { "package-0", "package-1" }, m.PackageZones.Select(z => z.Name));
        Assert.Equal("RAPL package-0+package-1", m.Name);
        Assert.Contains(m.AllZones, z => z.Name == "core" && z.IsSubZone && !z.IsPackage);
        Assert.DoesNotContain(m.AllZones, z => z.Directory.Contains("mmio"));

        var w = m.Start();
        SetEnergy(t.P0, 3_500_000);     // +2.5 J
        SetEnergy(t.P1, 5_250_000);     // +0.25 J
        SetEnergy(t.Core, 9_000_000);   // inside package-0: must not be added again
        SetEnergy(t.Dram, 9_000_000);
        SetEnergy(t.Psys, 9_000_000);
        SetEnergy(t.Mmio, 9_000_000);
        var r = w.Stop();
        Assert.Null(r.NotMeasuredReason);
        Assert.Equal(2.75, r.Joules!.Value, 9);
        Assert.Contains("measured", r.ToString());
    }

    [Fact]
    public void WrappedCounterAddsMaxEnergyRange()
    {
        string p = Zone("intel-rapl:0", "package-0", 999_000, max: 1_000_000);
        var w = RaplMeter.Discover(_root).Start();
        SetEnergy(p, 4_000); // 1000 µJ to the top, wrap, 4000 µJ more
        Assert.Equal(0.005, w.Stop().Joules!.Value, 12);
        Assert.Equal(5_000ul, RaplMeter.Delta(999_000, 4_000, 1_000_000));
        Assert.Equal(10ul, RaplMeter.Delta(5, 15, 1_000_000));
    }

    [Fact]
    public void CounterBeyondItsRangeIsNotMeasured()
    {
        string p = Zone("intel-rapl:0", "package-0", 2_000_000, max: 1_000_000);
        var w = RaplMeter.Discover(_root).Start();
        SetEnergy(p, 10);
        var r = w.Stop();
        Assert.Null(r.Joules);
        Assert.Contains("max_energy_range_uj", r.NotMeasuredReason);
    }

    [Fact]
    public void UnreadableCounterIsNotMeasuredNamingTheFile_DirectoryInPlaceOfFile()
    {
        // Tests run as root, and root reads a file whatever its mode, so chmod 000 cannot make EACCES here. A folder
        // where energy_uj should be fails to open just like an unreadable file (UnauthorizedAccessException).
        string p = Zone("intel-rapl:0", "package-0", 1);
        string energy = Path.Combine(p, "energy_uj");
        File.Delete(energy);
        Directory.CreateDirectory(energy);
        var m = RaplMeter.Discover(_root);
        Assert.NotNull(m.Unavailable);
        Assert.Contains("cannot read " + energy, m.Unavailable);
        var r = m.Start().Stop();
        Assert.Null(r.Joules);
        Assert.Contains(energy, r.NotMeasuredReason);

        var cpu = EnergyMeters.ForCpu(_root);
        Assert.Equal("none", cpu.Name);
        Assert.Contains(energy, cpu.Unavailable);
    }

    [Fact]
    public void UnreadableCounterIsNotMeasuredNamingTheFile_InjectedPermissionDenied()
    {
        // The real non-root case: the kernel makes energy_uj 0400 root (CVE-2020-8694). Simulated by the reader.
        Zone("intel-rapl:0", "package-0", 1);
        string energy = Path.Combine(_root, "intel-rapl:0", "energy_uj");
        string Read(string f) => f == energy ? throw new UnauthorizedAccessException($"Access to the path '{f}' is denied.") : File.ReadAllText(f);
        var m = RaplMeter.Discover(_root, Read);
        Assert.Equal($"RAPL: cannot read {energy}: Access to the path '{energy}' is denied.", m.Unavailable);
    }

    [Fact]
    public void CounterThatBecomesUnreadableMidWindowIsNotMeasured()
    {
        string p = Zone("intel-rapl:0", "package-0", 1);
        string energy = Path.Combine(p, "energy_uj");
        bool fail = false;
        string Read(string f) => fail && f == energy ? throw new IOException("Input/output error") : File.ReadAllText(f);
        var w = RaplMeter.Discover(_root, Read).Start();
        fail = true;
        var r = w.Stop();
        Assert.Null(r.Joules);
        Assert.Equal($"RAPL: cannot read {energy}: Input/output error", r.NotMeasuredReason);
    }

    [Fact]
    public void GarbageInCounterIsNotMeasured()
    {
        string p = Zone("intel-rapl:0", "package-0", 1);
        File.WriteAllText(Path.Combine(p, "energy_uj"), "lots\n");
        Assert.Contains("'lots' is not a count of microjoules", RaplMeter.Discover(_root).Unavailable);
    }

    [Fact]
    public void MissingRootSaysNotPresent()
    {
        string missing = Path.Combine(_root, "no-such-powercap");
        var m = RaplMeter.Discover(missing);
        Assert.Equal($"RAPL: {missing} not present", m.Unavailable);
        var cpu = EnergyMeters.ForCpu(missing);
        Assert.Equal("none", cpu.Name);
        Assert.Equal($"RAPL: {missing} not present", cpu.Unavailable);
        var r = cpu.Start().Stop();
        Assert.Null(r.Joules);
        Assert.Equal($"not measured: RAPL: {missing} not present", r.ToString());
    }

    [Fact]
    public void RootWithoutZonesOrWithoutPackageZoneSaysSo()
    {
        Assert.Equal($"RAPL: no intel-rapl:N zones under {_root}", RaplMeter.Discover(_root).Unavailable);
        Zone("intel-rapl:0:0", "core", 1); // a sub-zone whose package folder is missing
        Zone("intel-rapl:1", "psys", 1);
        Zone("intel-rapl-mmio:0", "package-0", 1);
        Assert.Equal($"RAPL: no package zone under {_root} (zones: core, psys)", RaplMeter.Discover(_root).Unavailable);
    }

    [Fact]
    public void MissingRangeFileMakesThePackageUnusable()
    {
        string p = Zone("intel-rapl:0", "package-0", 1);
        File.Delete(Path.Combine(p, "max_energy_range_uj"));
        Assert.Contains("cannot read " + Path.Combine(p, "max_energy_range_uj"), RaplMeter.Discover(_root).Unavailable);
    }

    [Fact]
    public void AllListsRaplAndNvmlEachMeasurableOrWithReason()
    {
        var all = EnergyMeters.All();
        Assert.Contains(all, m => m.Name.StartsWith("RAPL", StringComparison.Ordinal));
        var nvml = Assert.Single(all, m => m.Name.StartsWith("NVML", StringComparison.Ordinal));
        // Measures where a GPU and its driver are; elsewhere the reason names NVML (and the library when missing).
        if (nvml.Unavailable is not null) Assert.StartsWith("NVML", nvml.Unavailable, StringComparison.Ordinal);
        Assert.All(all, m => Assert.True(m.Unavailable is null || m.Unavailable.Length > 0));
    }
}
