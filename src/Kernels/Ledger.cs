namespace PixelCost.Kernels;

/// <summary>How a launch's time was taken.</summary>
public enum LaunchTiming
{
    /// <summary>Wall clock around a synchronous launch (CPU, or a GPU in sync mode).</summary>
    Wall,
    /// <summary>GPU profiling markers on the stream, read at the next synchronisation.</summary>
    Stream,
    /// <summary>Enqueued; the time is filled in when the accelerator synchronises.</summary>
    Pending,
    /// <summary>Recorded by a dry run: the kernel did not run.</summary>
    NotRun,
}

/// <summary>One op launch as the accelerator saw it.</summary>
/// <param name="Op">Op name, e.g. "gemm", "noise.gaussian".</param>
/// <param name="Variant">Which implementation ran, e.g. "cpu.v2-packed".</param>
/// <param name="Shape">Shapes in a readable form, e.g. "[4096,4096]x[4096,4096]".</param>
/// <param name="Cost">The spec's cost for these shapes.</param>
/// <param name="Elapsed">Time of the launch (see <see cref="Timing"/>).</param>
public sealed record LedgerEntry(string Accelerator, string Op, string Variant, string Shape, Cost Cost, TimeSpan Elapsed)
{
    /// <summary>The ledger scope path the launch ran in, e.g. "unet/down_blocks.1/attentions.0" ("" at top level).</summary>
    public string Scope { get; init; } = "";

    public LaunchTiming Timing { get; init; } = LaunchTiming.Wall;
}

/// <summary>
/// Records every launch. The harness reads it; it never re-derives costs itself (DESIGN §1). Scopes
/// (<see cref="Scope"/>) name the module a launch belongs to, so costs and times roll up per block, component and image.
/// Thread-safe; scopes belong to the thread that issues launches (a model runs on one).
/// </summary>
public sealed class Ledger
{
    private readonly List<LedgerEntry> _entries = new();
    private readonly Lock _lock = new();
    private readonly AsyncLocal<string> _scope = new();

    /// <summary>When false, launches still run and are timed but are not kept (long benchmark loops).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The current scope path ("" at top level).</summary>
    public string CurrentScope => _scope.Value ?? "";

    /// <summary>Enters a scope: <c>using (ledger.Scope("down_blocks.1")) …</c>; nested scopes join with '/'.</summary>
    public IDisposable Scope(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('/')) throw new ArgumentException($"ledger scope name '{name}' must be non-empty and contain no '/'", nameof(name));
        string outer = CurrentScope;
        _scope.Value = outer.Length == 0 ? name : outer + "/" + name;
        return new ScopeExit(this, outer);
    }

    private sealed class ScopeExit(Ledger ledger, string outer) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            ledger._scope.Value = outer;
        }
    }

    /// <summary>Adds an entry under the current scope; returns its index (-1 when the ledger is disabled).</summary>
    public int Add(LedgerEntry entry)
    {
        if (!Enabled) return -1;
        if (entry.Scope.Length == 0 && CurrentScope.Length > 0) entry = entry with { Scope = CurrentScope };
        lock (_lock)
        {
            _entries.Add(entry);
            return _entries.Count - 1;
        }
    }

    /// <summary>Fills in the time of a pending entry (called by the accelerator when it synchronises).</summary>
    public void Resolve(int index, TimeSpan elapsed, LaunchTiming timing)
    {
        if (index < 0) return;
        lock (_lock)
        {
            if (index < _entries.Count) _entries[index] = _entries[index] with { Elapsed = elapsed, Timing = timing };
        }
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
    public IReadOnlyList<(string Op, int Launches, Cost Cost, TimeSpan Elapsed)> ByOp() =>
        Group(e => e.Op);

    /// <summary>
    /// Entries rolled up by scope path cut to <paramref name="depth"/> levels ("unet/down_blocks.1/attentions.0" at
    /// depth 2 is "unet/down_blocks.1"); entries outside any scope group under "".
    /// </summary>
    public IReadOnlyList<(string Scope, int Launches, Cost Cost, TimeSpan Elapsed)> ByScope(int depth = int.MaxValue) =>
        Group(e => Truncate(e.Scope, depth));

    private static string Truncate(string scope, int depth)
    {
        if (depth <= 0 || scope.Length == 0) return depth <= 0 ? "" : scope;
        int i = -1;
        for (int level = 0; level < depth; level++)
        {
            i = scope.IndexOf('/', i + 1);
            if (i < 0) return scope;
        }
        return scope[..i];
    }

    private IReadOnlyList<(string Key, int Launches, Cost Cost, TimeSpan Elapsed)> Group(Func<LedgerEntry, string> key)
    {
        lock (_lock)
        {
            return _entries.GroupBy(key)
                .Select(g => (g.Key, g.Count(), g.Aggregate(Cost.Zero, (c, e) => c + e.Cost),
                    TimeSpan.FromTicks(g.Sum(e => e.Elapsed.Ticks))))
                .OrderByDescending(t => t.Item3.Flops)
                .ToArray();
        }
    }
}
