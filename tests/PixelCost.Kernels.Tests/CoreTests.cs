using PixelCost.Kernels.Cpu;
using Xunit;

namespace PixelCost.Kernels.Tests;

public class CoreTests
{
    [Fact]
    public void LaunchRecordsOneLedgerEntryWithTheGivenCost()
    {
        using var cpu = new CpuAccelerator(2);
        var cost = new Cost(10, 3, 1, 40, 20);
        bool ran = false;
        cpu.Launch("test.op", "[2,3]", cost, new KernelLaunch("cpu.v1", () => ran = true));
        Assert.True(ran);
        var e = Assert.Single(cpu.Ledger.Entries);
        Assert.Equal(("test.op", "cpu.v1", "[2,3]", cost), (e.Op, e.Variant, e.Shape, e.Cost));
        Assert.True(e.Elapsed >= TimeSpan.Zero);
        Assert.Equal(cost * 1, cpu.Ledger.TotalCost());

        cpu.Ledger.Enabled = false;
        cpu.Launch("test.op", "[2,3]", cost, new KernelLaunch("cpu.v1", () => { }));
        Assert.Equal(1, cpu.Ledger.Count);
    }

    [Fact]
    public void CostAddsAndScalesPerField()
    {
        var a = new Cost(1, 2, 3, 4, 5);
        var b = new Cost(10, 20, 30, 40, 50);
        Assert.Equal(new Cost(11, 22, 33, 44, 55), a + b);
        Assert.Equal(new Cost(3, 6, 9, 12, 15), a * 3);
        Assert.Equal(3, a.Flops);      // matmul + other; transcendentals listed apart
        Assert.Equal(9, a.Bytes);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 1000)]
    [InlineData(8, 3)]
    public void ParallelForCoversEveryIndexOnce(int threads, long count)
    {
        using var cpu = new CpuAccelerator(threads);
        var hits = new int[count];
        cpu.ParallelFor(count, 1, (b, e) => { for (long i = b; i < e; i++) Interlocked.Increment(ref hits[i]); });
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void NegativeThreadCountIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CpuAccelerator(-1));
        Assert.Contains("threads", e.Message);
    }

    [Fact]
    public void TensorsAreAlignedZeroedAndReshapeSharesMemory()
    {
        using var cpu = new CpuAccelerator(1);
        using (var dirty = cpu.Allocate(2, 3, 5)) dirty.AsSpan().Fill(2f); // its block goes back to the pool…
        using var t = cpu.Zeros(2, 3, 5);                                    // …and is zeroed when asked
        Assert.Equal(1, cpu.Memory.PoolHits);
        Assert.Equal(30, t.Length);
        Assert.Equal(0, t.Handle % 64);
        Assert.All(t.ToArray(), v => Assert.Equal(0f, v));
        var view = t.Reshape(6, 5);
        view.AsSpan()[7] = 42f;
        Assert.Equal(42f, t.AsSpan()[7]);
        Assert.Equal("[6,5]", view.ShapeString);
        Assert.True(view.Overlaps(t));
        using var other = cpu.Allocate(4);
        Assert.False(other.Overlaps(t));
        var bad = Assert.Throws<ArgumentException>(() => t.Reshape(7, 5));
        Assert.Contains("[2,3,5]", bad.Message);
    }

    [Fact]
    public void VectorPathFollowsHardwareUnlessForced()
    {
        using var auto = new CpuAccelerator(1);
        Assert.Equal(Math.Max(256, CpuAccelerator.SimdWidthBits), auto.VectorBits);
        using var wide = new CpuAccelerator(1, 512);
        Assert.True(wide.UseVector512);
        Assert.Equal(!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported, wide.IsVectorPathEmulated);
        Assert.Contains("512-bit", wide.Name);
        Assert.Contains("SIMD width", Assert.Throws<ArgumentOutOfRangeException>(() => new CpuAccelerator(1, 384)).Message);
    }

    [Fact]
    public void LeadingZeroDimensionIsAShapeNotADType()
    {
        using var cpu = new CpuAccelerator(1);
        using var t = cpu.Allocate(0, 5);
        Assert.Equal("[0,5]", t.ShapeString);
        Assert.Equal(DType.F32, t.DType);
        using var u = cpu.Allocate(DType.U8, 2, 3);
        Assert.Equal((DType.U8, 6L), (u.DType, u.Bytes));
    }

    [Fact]
    public void ImpossibleShapesFailClearly()
    {
        using var cpu = new CpuAccelerator(1);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => cpu.Allocate(2, -1)).Message);
        Assert.Contains("too many elements", Assert.Throws<ArgumentException>(() => cpu.Allocate(int.MaxValue, int.MaxValue, int.MaxValue)).Message);
        var oom = Assert.Throws<OutOfMemoryException>(() => cpu.Allocate(1 << 20, 1 << 20, 64)); // 256 TiB
        Assert.Contains("[1048576,1048576,64]", oom.Message);
    }
}
