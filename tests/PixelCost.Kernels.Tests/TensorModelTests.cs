using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Ilgpu;
using Xunit;

namespace PixelCost.Kernels.Tests;

/// <summary>The tensor and launch model shared by every accelerator: buffers and views, residency, the pool, ledger
/// scopes and stream-ordered timing.</summary>
public class TensorModelTests
{
    private static float[] Iota(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    [Fact]
    public void SlicesChunksAndSplitsAreViewsOfOneBuffer()
    {
        using var cpu = new CpuAccelerator(1);
        using var t = cpu.FromArray(Iota(2 * 3 * 4), 2, 3, 4);
        var halves = t.Chunk(2, 0);
        Assert.True(halves[1].IsContiguous);                         // a batch slice stays dense
        Assert.Equal(Iota(24)[12..], halves[1].ToArray());
        Assert.Same(t.Buffer, halves[1].Buffer);

        var cols = t.Split([1, 3], dim: 2);                          // an inner slice is strided
        Assert.False(cols[1].IsContiguous);
        Assert.Equal("[2,3,3]", cols[1].ShapeString);
        Assert.Equal([12, 4, 1], cols[1].Strides.ToArray());
        Assert.Contains("strided", Assert.Throws<InvalidOperationException>(() => cols[1].ToArray()).Message);
        Assert.Contains("strided", Assert.Throws<ArgumentException>(() => cols[1].Reshape(18)).Message);

        using var dense = Ops.Contiguous(cpu, cols[1]);
        var expect = new List<float>();
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 1; c < 4; c++) expect.Add(a * 12 + b * 4 + c);
        Assert.Equal(expect.ToArray(), dense.ToArray());
        Assert.Equal(("copy", 2 * 18L * 4), (cpu.Ledger.Entries[^1].Op, cpu.Ledger.Entries[^1].Cost.Bytes));

        Assert.Contains("add up", Assert.Throws<ArgumentException>(() => t.Split([1, 1], 2)).Message);
        Assert.Contains("equal parts", Assert.Throws<ArgumentException>(() => t.Chunk(2, 1)).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(1, 2, 2)).Message);
    }

    [Fact]
    public void OpsRejectStridedViewsDisposedTensorsAndForeignDevices()
    {
        using var cpu = new CpuAccelerator(1);
        using var other = new CpuAccelerator(1);
        using var x = cpu.Zeros(2, 8);
        var strided = x.Slice(1, 0, 4);
        using var y = cpu.Zeros(2, 4);
        var e = Assert.Throws<ArgumentException>(() => Ops.Silu(cpu, strided, y));
        Assert.Contains("silu", e.Message); Assert.Contains("'x'", e.Message); Assert.Contains("strided", e.Message);

        using var foreign = other.Zeros(2, 8);
        e = Assert.Throws<ArgumentException>(() => Ops.Add(cpu, x, foreign, x));
        Assert.Contains("add", e.Message); Assert.Contains("'b'", e.Message);
        Assert.Contains("lives on", e.Message); Assert.Contains("launch is on", e.Message);

        var dead = cpu.Zeros(4);
        var view = dead.Reshape(2, 2);
        dead.Dispose();
        Assert.True(view.IsDisposed);
        Assert.Contains("freed", Assert.Throws<ObjectDisposedException>(() => Ops.Silu(cpu, view, view)).Message);
    }

    [Fact]
    public void PoolReusesBlocksBySizeClassAndCountsPeak()
    {
        Assert.Equal(256, BufferPool.SizeClass(1));
        Assert.Equal(1024, BufferPool.SizeClass(1000));
        Assert.Equal(1280, BufferPool.SizeClass(1025));              // four classes per power of two: ≤ 25% slack
        Assert.Equal(1L << 30, BufferPool.SizeClass((1L << 30) - 5));
        Assert.Equal(5L << 20, BufferPool.SizeClass((4L << 20) + 1));        // above 4 MiB: whole MiB
        Assert.Equal(100L << 20, BufferPool.SizeClass((99L << 20) + 7));
        for (long b = 1; b < 1L << 34; b = b * 3 + 1) Assert.InRange(BufferPool.SizeClass(b), b, Math.Max(256, b + b / 4 + 1));

        using var cpu = new CpuAccelerator(1);
        nint first;
        using (var a = cpu.Allocate(1000)) first = a.Handle;        // 4000 B → class 4096
        Assert.Equal((0L, 4096L), (cpu.Memory.InUse, cpu.Memory.Cached));
        using var b2 = cpu.Allocate(1010);                            // 4040 B: same class, same block
        Assert.Equal(first, b2.Handle);
        Assert.Equal(1, cpu.Memory.PoolHits);
        using var c = cpu.Allocate(2000);
        Assert.Equal(4096 + 8192, cpu.Memory.Peak);
        cpu.TrimPool();
        Assert.Equal(0, cpu.Memory.Cached);
    }

    [Fact]
    public void LedgerScopesNestAndRollUp()
    {
        using var cpu = new CpuAccelerator(1);
        using var x = cpu.Zeros(64);
        using (cpu.Ledger.Scope("unet"))
        {
            using (cpu.Ledger.Scope("down_blocks.0")) { Ops.Silu(cpu, x, x); Ops.Silu(cpu, x, x); }
            using (cpu.Ledger.Scope("mid_block")) Ops.Scale(cpu, x, 2f, x);
        }
        Ops.Silu(cpu, x, x);
        var e = cpu.Ledger.Entries;
        Assert.Equal(["unet/down_blocks.0", "unet/down_blocks.0", "unet/mid_block", ""], e.Select(x => x.Scope));
        var top = cpu.Ledger.ByScope(1).ToDictionary(s => s.Scope);
        Assert.Equal(3, top["unet"].Launches);
        Assert.Equal(e[0].Cost + e[1].Cost + e[2].Cost, top["unet"].Cost);
        Assert.Equal(2, cpu.Ledger.ByScope().Single(s => s.Scope == "unet/down_blocks.0").Launches);
        Assert.Throws<ArgumentException>(() => cpu.Ledger.Scope("a/b"));
    }

    [Fact]
    public void IlgpuCpuTensorsRoundTripAndStreamTimesResolveAtSynchronize()
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        Assert.Equal(AcceleratorKind.IlgpuCpu, acc.Kind);
        Assert.StartsWith("ilgpu-cpu", acc.Name);
        Assert.Contains("not a performance figure", acc.Name);
        using var t = acc.FromArray(Iota(24), 2, 3, 4);
        Assert.True(t.IsHostAccessible);                              // ILGPU's CPU accelerator is host memory
        Assert.Equal(Iota(24), t.ToArray());

        acc.SyncEachLaunch = false;
        var inner = t.Slice(2, 1, 2);
        using var d = acc.Allocate(2, 3, 2);
        Ops.Copy(acc, inner, d);
        Assert.Equal(LaunchTiming.Pending, acc.Ledger.Entries[^1].Timing);
        acc.Synchronize();
        Assert.Equal(LaunchTiming.Stream, acc.Ledger.Entries[^1].Timing);
        Assert.Equal("ilgpu.v1-strided", acc.Ledger.Entries[^1].Variant);
        var expect = new List<float>();
        for (int a = 0; a < 2; a++) for (int b = 0; b < 3; b++) for (int c = 1; c < 3; c++) expect.Add(a * 12 + b * 4 + c);
        Assert.Equal(expect.ToArray(), d.ToArray());

        using var cpu = new CpuAccelerator(1);
        using var h = cpu.Zeros(2, 3, 2);
        var e = Assert.Throws<ArgumentException>(() => Ops.Copy(acc, inner, h));
        Assert.Contains("cpu (", e.Message); Assert.Contains("ilgpu-cpu", e.Message);
    }

    [Theory]
    [InlineData(DType.U8)]
    [InlineData(DType.F16)]
    [InlineData(DType.I64)]
    public void IlgpuCopyHandlesEveryElementSize(DType dtype)
    {
        using var acc = IlgpuAccelerator.CreateCpu();
        int es = dtype.SizeOf();
        var bytes = Enumerable.Range(0, 5 * 6 * es).Select(i => (byte)(i * 7 + 3)).ToArray();
        using var t = acc.Allocate(dtype, 5, 6);
        acc.Upload<byte>(t, bytes);
        using var d = acc.Allocate(dtype, 5, 2);
        Ops.Copy(acc, t.Slice(1, 3, 2), d);
        var got = new byte[5 * 2 * es];
        acc.Download<byte>(d, got);
        for (int r = 0; r < 5; r++)
            Assert.Equal(bytes.AsSpan((r * 6 + 3) * es, 2 * es).ToArray(), got.AsSpan(r * 2 * es, 2 * es).ToArray());
    }
}
