namespace PixelCost.Kernels;

/// <summary>One op launch as the accelerator saw it.</summary>
/// <param name="Op">Op name, e.g. "gemm", "noise.gaussian".</param>
/// <param name="Variant">Which implementation ran, e.g. "cpu.v2-packed".</param>
/// <param name="Shape">Shapes in a readable form, e.g. "[4096,4096]x[4096,4096]".</param>
/// <param name="Cost">The spec's cost for these shapes.</param>
/// <param name="Elapsed">Wall time of the launch (synchronised).</param>
public sealed record LedgerEntry(string Accelerator, string Op, string Variant, string Shape, Cost Cost, TimeSpan Elapsed);

/// <summary>
/// Records every launch. The harness reads it; it never re-derives costs itself (DESIGN §1). Thread-safe.
/// </summary>
public sealed class Ledger
{
    private readonly List<LedgerEntry> _entries = new();
    private readonly Lock _lock = new();

    /// <summary>When false, launches still run and are timed but are not kept (long benchmark loops).</summary>
    public bool Enabled { get; set; } = true;

    public void Add(LedgerEntry entry)
    {
        if (!Enabled) return;
        lock (_lock) _entries.Add(entry);
    }

    public IReadOnlyList<LedgerEntry> Entries
    {
        get { lock (_lock) return _entries.ToArray(); }
    }

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public void Clear()
    {
        lock (_lock) _entries.Clear();
    }

    /// <summary>Sum of the costs of all entries (or of those from index <paramref name="from"/> on).</summary>
    public Cost TotalCost(int from = 0)
    {
        lock (_lock)
        {
            var total = Cost.Zero;
            for (int i = from; i < _entries.Count; i++) total += _entries[i].Cost;
            return total;
        }
    }

    /// <summary>Entries grouped by op: launches, summed cost, summed time.</summary>
    public IReadOnlyList<(string Op, int Launches, Cost Cost, TimeSpan Elapsed)> ByOp()
    {
        lock (_lock)
        {
            return _entries.GroupBy(e => e.Op)
                .Select(g => (g.Key, g.Count(), g.Aggregate(Cost.Zero, (c, e) => c + e.Cost),
                    TimeSpan.FromTicks(g.Sum(e => e.Elapsed.Ticks))))
                .OrderByDescending(t => t.Item3.Flops)
                .ToArray();
        }
    }
}
