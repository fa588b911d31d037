using System.CommandLine;
using System.Text.Json;
using PixelCost.Harness.Reporting;
using Spectre.Console;

namespace PixelCost.Harness.Commands;

/// <summary>
/// <c>pixelcost compare</c>: the bench cases (<see cref="KernelBench"/>, same runner) on each accelerator, one row per
/// (op, case) with each accelerator's time, GFLOP/s, % of its own measured peak and joules, and cpu time ÷ cuda time.
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var ops = new Option<string?>("--ops") { Description = "Only bench rows whose \"op variant case\" contains this text (case-insensitive; * and ? glob), as bench kernels --filter." };
        var accelerators = new Option<string>("--accelerators")
        {
            Description = "Comma-separated accelerators (cpu, ilgpu-cpu, cuda, cuda:N) or all (cpu + every CUDA device).",
            DefaultValueFactory = _ => "all",
        };
        var minTime = new Option<double>("--min-time") { Description = "Seconds of timed work per row.", DefaultValueFactory = _ => 1.0 };
        var json = new Option<bool>("--json") { Description = "Write JSON only to stdout." };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads (default: one per logical processor).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("compare", "Run the bench kernels on each accelerator side by side: time, GFLOP/s, % of each device's measured peak, joules, and the cpu ÷ cuda time ratio.");
        foreach (var o in new Option[] { ops, accelerators, minTime, json, threads }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var cfg = pr.InvocationConfiguration;
            TextWriter stdout = cfg.Output, stderr = cfg.Error;
            return Run(pr.GetValue(ops), pr.GetValue(accelerators), pr.GetValue(minTime), pr.GetValue(json), pr.GetValue(threads), stdout, stderr);
        });
        return cmd;
    }

    /// <summary>One accelerator's cell of a row: its fastest variant there.</summary>
    internal sealed record CompareCell(string Accelerator, string Variant, double Seconds, double? Gflops, double? PercentOfPeak,
        double? Joules, string? EnergyNote);

    /// <summary>cpu ÷ cuda time: > 1 means the GPU is that many times faster.</summary>
    internal sealed record CompareRow(string Op, string Case, long Flops, IReadOnlyList<CompareCell> Accelerators, double? CpuOverGpu, string? GpuAccelerator);

    internal sealed record CompareReport(IReadOnlyList<BenchDevice> Devices, IReadOnlyList<string> Columns, IReadOnlyList<CompareRow> Rows,
        IReadOnlyList<string> Notes);

    internal static int Run(string? ops, string? accelerators, double minTime, bool json, int threads, TextWriter stdout, TextWriter stderr)
    {
        var specs = (accelerators ?? "all").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (specs.Length == 0) throw new CliException("--accelerators is empty; use " + Accelerators.Help);
        var rows = new List<BenchRow>();
        var devices = new List<BenchDevice>();
        var notes = new List<string>();
        int skipped = 0;
        using var progress = ProgressLine.Start("compare", stderr, json);
        foreach (var spec in specs)
        {
            // Notes (e.g. "no CUDA device (…)") and progress are kept and shown once the table is ready.
            var outNotes = new StringWriter();
            var errNotes = new StringWriter();
            var o = new KernelBenchOptions(ops, threads, null, json, null, minTime, null, spec);
            BenchReport report;
            int sk;
            try { (report, sk) = KernelBench.Collect(o, outNotes, errNotes, progress); }
            catch (CliException e) when (specs.Length > 1)
            {
                // e.g. a filter naming a cpu variant matches nothing on cuda: say so and go on with the others.
                notes.Add($"{spec}: {e.Message}");
                continue;
            }
            skipped += sk;
            rows.AddRange(report.Rows);
            devices.AddRange(report.Devices.Where(d => devices.All(x => x.Id != d.Id)));
            foreach (var line in (outNotes + errNotes.ToString()).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                if (!line.StartsWith("measuring ", StringComparison.Ordinal) && !line.StartsWith("cpu:", StringComparison.Ordinal) && !line.Contains(" …", StringComparison.Ordinal))
                    notes.Add(line);
        }
        if (rows.Count == 0)
        {
            foreach (var n in notes) stderr.WriteLine(n);
            stderr.WriteLine($"pixelcost: error: all {skipped} selected benchmark(s) were skipped");
            return 1;
        }
        var columns = rows.Select(r => r.Accelerator).Distinct().ToList();
        if (!columns.Any(c => c.StartsWith("cuda", StringComparison.Ordinal)) && !notes.Any(n => n.Contains("CUDA", StringComparison.Ordinal)))
            notes.Add($"no cuda column: --accelerators {accelerators} names no CUDA device");
        var table = new List<CompareRow>();
        foreach (var g in rows.GroupBy(r => (r.Op, r.Case)))
        {
            var cells = columns.Select(acc => g.Where(r => r.Accelerator == acc).OrderBy(r => r.Seconds).FirstOrDefault())
                .Where(r => r is not null)
                .Select(r => new CompareCell(r!.Accelerator, r.Variant, r.Seconds, r.Gflops, r.PercentOfPeak, r.Joules, r.EnergyNote)).ToList();
            var cpu = cells.FirstOrDefault(c => c.Accelerator == "cpu");
            var gpu = cells.Where(c => c.Accelerator.StartsWith("cuda", StringComparison.Ordinal)).OrderBy(c => c.Seconds).FirstOrDefault();
            table.Add(new CompareRow(g.Key.Op, g.Key.Case, g.First().Flops, cells,
                cpu is not null && gpu is not null ? cpu.Seconds / gpu.Seconds : null, gpu?.Accelerator));
        }
        progress.Clear();
        var result = new CompareReport(devices, columns, table, notes);
        if (json)
        {
            foreach (var n in notes) stderr.WriteLine(n);
            stdout.WriteLine(JsonSerializer.Serialize(result, VerifyCommand.JsonOptions));
            stdout.Flush();
            return 0;
        }
        foreach (var n in notes) stdout.WriteLine(n);
        WriteTable(result, stdout);
        return 0;
    }

    private static void WriteTable(CompareReport r, TextWriter stdout)
    {
        var console = Terminal.Console(stdout, 240);
        foreach (var d in r.Devices)
            console.WriteLine(d.MeasuredPeakGflops is { } pk
                ? $"{d.Name}: measured peak {pk:F1} GFLOP/s, measured bandwidth {d.BandwidthGbps:F1} GB/s"
                : $"{d.Name}: {d.Note}");
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("op");
        table.AddColumn("case");
        table.AddColumn(new TableColumn("GFLOP") { Alignment = Justify.Right });
        foreach (var c in r.Columns)
            foreach (var h in new[] { "variant", "ms", "GFLOP/s", "% peak", "J/launch" })
                table.AddColumn(new TableColumn($"{c} {h}") { Alignment = h == "variant" ? Justify.Left : Justify.Right });
        bool ratio = r.Rows.Any(x => x.CpuOverGpu is not null);
        if (ratio) table.AddColumn(new TableColumn("cpu ÷ gpu time") { Alignment = Justify.Right });
        foreach (var row in r.Rows)
        {
            var cells = new List<string> { Markup.Escape(row.Op), Markup.Escape(row.Case), (row.Flops / 1e9).ToString("F3") };
            foreach (var c in r.Columns)
            {
                var cell = row.Accelerators.FirstOrDefault(x => x.Accelerator == c);
                if (cell is null) { cells.AddRange(Enumerable.Repeat(Rates.NotApplicable, 5)); continue; }
                cells.Add(Markup.Escape(cell.Variant));
                cells.Add((cell.Seconds * 1e3).ToString("F3"));
                cells.Add(Rates.Format(cell.Gflops));
                cells.Add(Rates.Format(cell.PercentOfPeak));
                cells.Add(cell.Joules is { } j ? j < 1 ? $"{j * 1e3:F2} mJ" : $"{j:F2} J" : "–");
            }
            if (ratio) cells.Add(row.CpuOverGpu is { } x ? $"{x:F2}×" : "–");
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
        console.WriteLine("Per accelerator its fastest variant of the case; % peak is against that device's own measured peak; J/launch – where no meter reads (see `pixelcost devices`). cpu ÷ gpu time > 1: the GPU is faster.");
    }
}
