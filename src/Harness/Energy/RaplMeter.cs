using System.Globalization;
using System.Text.RegularExpressions;

namespace PixelCost.Harness.Energy;

/// <summary>One powercap zone: its sysfs folder and its <c>name</c> file (package-0, core, uncore, dram, psys).</summary>
public sealed record RaplZone(string Directory, string Name, ulong MaxEnergyRangeMicrojoules, bool IsPackage, bool IsSubZone)
{
    public string EnergyFile => Path.Combine(Directory, "energy_uj");
}

/// <summary>
/// CPU energy from Linux powercap RAPL (DESIGN §4): the sum of the package zones' <c>energy_uj</c> counters.
/// </summary>
/// <remarks>
/// Zone names come from the kernel's RAPL driver (drivers/powercap/intel_rapl_common.c): top-level zones are
/// <c>intel-rapl:N</c>, sub-zones <c>intel-rapl:N:M</c>. AMD Zen CPUs are served by the same driver under the same
/// <c>intel-rapl</c> names (there is no "amd-rapl" powercap type). We sum only top-level zones named <c>package-*</c>:
/// core/uncore sub-zones are already inside their package, <c>psys</c> (platform) encloses the packages, and
/// <c>intel-rapl-mmio:N</c> is a second interface to the same package counter — adding any of them would count joules
/// twice. DRAM energy (a sub-zone on servers, outside the package) is therefore not included; the meter's name says
/// "package".
/// </remarks>
public sealed partial class RaplMeter : IEnergyMeter
{
    public const string DefaultRoot = "/sys/class/powercap";

    private readonly Func<string, string> _read;

    private RaplMeter(string root, IReadOnlyList<RaplZone> zones, IReadOnlyList<RaplZone> packages, string? unavailable, Func<string, string> read)
    {
        Root = root;
        AllZones = zones;
        PackageZones = packages;
        Unavailable = unavailable;
        _read = read;
        Name = packages.Count > 0 ? "RAPL " + string.Join("+", packages.Select(z => z.Name)) : "RAPL";
    }

    public string Name { get; }
    public string? Unavailable { get; }
    public string Root { get; }

    /// <summary>Every zone found, sub-zones included (for reports).</summary>
    public IReadOnlyList<RaplZone> AllZones { get; }

    /// <summary>The zones whose counters are summed.</summary>
    public IReadOnlyList<RaplZone> PackageZones { get; }

    [GeneratedRegex(@"^intel-rapl:(\d+)(:(\d+))?$")]
    private static partial Regex ZoneDir();

    /// <summary>Finds the package zones under <paramref name="root"/> and checks each counter can be read now.</summary>
    /// <param name="read">Reads a sysfs file; injectable so tests can simulate what a fake tree cannot (EACCES as root).</param>
    public static RaplMeter Discover(string root = DefaultRoot, Func<string, string>? read = null)
    {
        read ??= File.ReadAllText;
        if (!Directory.Exists(root))
            return new RaplMeter(root, [], [], $"RAPL: {root} not present", read);

        var zones = new List<RaplZone>();
        string? firstProblem = null;
        IEnumerable<string> dirs;
        try { dirs = Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new RaplMeter(root, [], [], $"RAPL: cannot list {root}: {e.Message}", read);
        }
        foreach (string dir in dirs)
        {
            var m = ZoneDir().Match(Path.GetFileName(dir));
            if (!m.Success) continue; // intel-rapl (the control type itself), intel-rapl-mmio:N (duplicate), dtpm, …
            bool sub = m.Groups[2].Success;
            string nameFile = Path.Combine(dir, "name");
            string name;
            try { name = read(nameFile).Trim(); }
            catch (Exception e) when (IsReadFailure(e))
            {
                firstProblem ??= $"RAPL: cannot read {nameFile}: {e.Message}";
                continue;
            }
            bool package = !sub && name.StartsWith("package", StringComparison.Ordinal);
            ulong max = 0;
            if (package)
            {
                string maxFile = Path.Combine(dir, "max_energy_range_uj");
                try { max = ParseMicrojoules(read(maxFile), maxFile); }
                catch (Exception e) when (IsReadFailure(e))
                {
                    // Without the range a wrap cannot be undone; refuse rather than report a wrong number.
                    firstProblem ??= $"RAPL: cannot read {maxFile}: {e.Message}";
                    package = false;
                }
            }
            zones.Add(new RaplZone(dir, name, max, package, sub));
        }

        var packages = zones.Where(z => z.IsPackage).ToList();
        if (packages.Count == 0)
        {
            string why = firstProblem ?? (zones.Count == 0
                ? $"RAPL: no intel-rapl:N zones under {root}"
                : $"RAPL: no package zone under {root} (zones: {string.Join(", ", zones.Select(z => z.Name))})");
            return new RaplMeter(root, zones, [], why, read);
        }
        // The counter itself needs read permission (root only on kernels since 5.10, CVE-2020-8694).
        foreach (var z in packages)
        {
            try { ParseMicrojoules(read(z.EnergyFile), z.EnergyFile); }
            catch (Exception e) when (IsReadFailure(e))
            {
                return new RaplMeter(root, zones, packages, $"RAPL: cannot read {z.EnergyFile}: {e.Message}", read);
            }
        }
        return new RaplMeter(root, zones, packages, null, read);
    }

    public IEnergyWindow Start()
    {
        if (Unavailable is not null) return new NotMeasuredWindow(Unavailable);
        var start = new ulong[PackageZones.Count];
        for (int i = 0; i < start.Length; i++)
        {
            if (!TryRead(PackageZones[i], out start[i], out string? why)) return new NotMeasuredWindow(why!);
        }
        return new Window(this, start);
    }

    private bool TryRead(RaplZone z, out ulong microjoules, out string? why)
    {
        try
        {
            microjoules = ParseMicrojoules(_read(z.EnergyFile), z.EnergyFile);
            why = null;
            return true;
        }
        catch (Exception e) when (IsReadFailure(e))
        {
            microjoules = 0;
            why = $"RAPL: cannot read {z.EnergyFile}: {e.Message}";
            return false;
        }
    }

    /// <summary>
    /// Energy between two counter values. The counter runs 0..max_energy_range_uj and wraps to 0, so an end below the
    /// start means it wrapped (once: at ~100 W a 32-bit-µJ-range counter wraps every ~40 s on old parts, the usual
    /// ~2⁶⁴/2³² µJ ranges far more rarely; windows here are seconds).
    /// </summary>
    public static ulong Delta(ulong start, ulong end, ulong maxRange) =>
        end >= start ? end - start : maxRange - start + end;

    private sealed class Window(RaplMeter meter, ulong[] start) : IEnergyWindow
    {
        public EnergyReading Stop()
        {
            double joules = 0;
            for (int i = 0; i < start.Length; i++)
            {
                var z = meter.PackageZones[i];
                if (!meter.TryRead(z, out ulong end, out string? why)) return new EnergyReading(null, why);
                if (end < start[i] && (z.MaxEnergyRangeMicrojoules == 0 || start[i] > z.MaxEnergyRangeMicrojoules))
                    return new EnergyReading(null, $"RAPL: {z.EnergyFile} went from {start[i]} to {end} µJ, beyond max_energy_range_uj {z.MaxEnergyRangeMicrojoules}");
                joules += Delta(start[i], end, z.MaxEnergyRangeMicrojoules) * 1e-6;
            }
            return new EnergyReading(joules, null);
        }
    }

    private static ulong ParseMicrojoules(string text, string file) =>
        ulong.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)
            ? v
            : throw new InvalidDataException($"'{text.Trim()}' is not a count of microjoules");

    private static bool IsReadFailure(Exception e) => e is IOException or UnauthorizedAccessException or InvalidDataException;
}

/// <summary>A window of a meter that cannot measure: always "not measured" with the reason.</summary>
internal sealed class NotMeasuredWindow(string reason) : IEnergyWindow
{
    public EnergyReading Stop() => new(null, reason);
}

/// <summary>The meter used where none can measure; its name is "none" and it carries the reason.</summary>
public sealed class NoEnergyMeter(string reason) : IEnergyMeter
{
    public string Name => "none";
    public string? Unavailable { get; } = reason;
    public IEnergyWindow Start() => new NotMeasuredWindow(Unavailable!);
}
