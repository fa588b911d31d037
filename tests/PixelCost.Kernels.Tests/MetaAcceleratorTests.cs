using System.Reflection;
using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Meta;
using Xunit;

namespace PixelCost.Kernels.Tests;

/// <summary>The shape-only accelerator: meta tensors (shape, no memory) pass every Ops check, launches record the Spec's
/// cost without running, live and peak bytes are exact, and nothing can be copied in or out.</summary>
public class MetaAcceleratorTests
{
    [Fact]
    public void OpsOnMetaTensors_RecordExactlyTheSpecsCost()
    {
        using var meta = new MetaAccelerator();
        using var x = meta.Allocate(2, 64, 8, 8);
        using var w = meta.Allocate(32, 64, 3, 3);
        using var bias = meta.Allocate(32);
        using var y = meta.Allocate(2, 32, 8, 8);
        Ops.Conv2d(meta, x, w, bias, y, padding: 1);
        Ops.GroupNorm(meta, y, 8, bias, bias, y, 1e-6f, fuseSilu: true);
        using var a = meta.Allocate(3, 40, 16);
        using var b = meta.Allocate(24, 16);
        using var c = meta.Allocate(3, 40, 24);
        Ops.Gemm(meta, a, b, c, transB: true, alpha: 0.5f);
        using var q = meta.Allocate(2, 64, 32);
        using var o = meta.Allocate(2, 64, 32);
        Ops.Attention(meta, q, q, q, o, heads: 4);
        Ops.Softmax(meta, o, o);
        using var t = Ops.Contiguous(meta, x.Reshape(2, 64, 64).Transpose(1, 2));

        var e = meta.Ledger.Entries;
        Assert.Equal(["conv2d", "group_norm_silu", "gemm", "attention", "softmax", "copy"], e.Select(x => x.Op).ToArray());
        Assert.All(e, x => Assert.Equal((MetaAccelerator.Variant, LaunchTiming.NotRun, TimeSpan.Zero), (x.Variant, x.Timing, x.Elapsed)));
        Assert.Equal(Conv2dSpec.Cost(new Conv2dDims(2, 64, 8, 8, 32, 3, 3, 1, 1, 8, 8, true)), e[0].Cost);
        Assert.Equal(GroupNormSpec.Cost([2, 32, 8, 8], 8, true, true, true), e[1].Cost);
        Assert.Equal(GemmSpec.Cost(new GemmDims(3, 40, 24, 16, true, false, true), 0.5f, 0f), e[2].Cost);
        Assert.Equal(AttentionSpec.Cost(2, 64, 64, 4, 8, false), e[3].Cost);
        Assert.Equal(SoftmaxSpec.Cost([2, 64, 32]), e[4].Cost);
        Assert.Equal(new Cost(0, 0, 0, 2 * 64 * 64 * 4, 2 * 64 * 64 * 4), e[5].Cost);
        Assert.Equal([2, 64, 64], t.Shape.ToArray());
        Assert.True(t.IsMeta);

        // The same launches on the CPU record the same ops, shapes and costs.
        using var cpu = new CpuAccelerator(1);
        using var xc = cpu.Zeros(2, 64, 8, 8);
        using var wc = cpu.Zeros(32, 64, 3, 3);
        using var bc = cpu.Zeros(32);
        using var yc = cpu.Zeros(2, 32, 8, 8);
        Ops.Conv2d(cpu, xc, wc, bc, yc, padding: 1);
        Assert.Equal((e[0].Op, e[0].Shape, e[0].Cost), (cpu.Ledger.Entries[0].Op, cpu.Ledger.Entries[0].Shape, cpu.Ledger.Entries[0].Cost));
    }

    [Fact]
    public void Memory_TracksLiveAndPeakBytesExactly()
    {
        using var meta = new MetaAccelerator();
        var a = meta.Allocate(10);                       // 40 B
        var b = meta.Allocate(DType.F16, 3, 5);          // 30 B
        Assert.Equal((70L, 70L, 2L), (meta.Memory.InUse, meta.Memory.Peak, meta.Memory.Allocations));
        var view = a.Reshape(2, 5);
        view.Dispose();                                  // a view frees nothing
        Assert.Equal(70, meta.Memory.InUse);
        a.Dispose();
        a.Dispose();                                     // twice is once
        Assert.Equal((30L, 70L), (meta.Memory.InUse, meta.Memory.Peak));
        var c = meta.Allocate(DType.U8, 100);            // 130 B live: a new peak
        Assert.Equal((130L, 130L), (meta.Memory.InUse, meta.Memory.Peak));
        c.Dispose();
        meta.ResetPeak();
        Assert.Equal((30L, 30L), (meta.Memory.InUse, meta.Memory.Peak));
        using var d = meta.Allocate(DType.I64, 2, 2);    // 32 B
        Assert.Equal((62L, 62L), (meta.Memory.InUse, meta.Memory.Peak));
        b.Dispose();
        Assert.Equal((32L, 62L, 0L), (meta.Memory.InUse, meta.Memory.Peak, meta.Memory.Cached));
        using var empty = meta.Allocate(0, 4);
        Assert.False(empty.IsDisposed);
    }

    [Fact]
    public void MetaTensors_AreLiveUntilDisposed_ButHaveNoMemory()
    {
        using var meta = new MetaAccelerator();
        var t = meta.Allocate(4, 4);
        var view = t.Slice(1, 1, 2);
        Assert.True(t.IsMeta);
        Assert.False(t.IsDisposed);
        Assert.False(view.IsDisposed);
        Assert.False(t.IsHostAccessible);
        Assert.Contains("no memory", Assert.Throws<InvalidOperationException>(() => t.Handle).Message);
        Assert.Contains("meta tensor", Assert.Throws<InvalidOperationException>(() => meta.Upload(t, new float[16])).Message);
        Assert.Contains("meta tensor", Assert.Throws<InvalidOperationException>(() => t.ToArray()).Message);
        Ops.Silu(meta, t, t);
        t.Dispose();
        Assert.True(t.IsDisposed);
        Assert.True(view.IsDisposed);                    // the view sees its owner's buffer released
        Assert.Throws<ObjectDisposedException>(() => Ops.Silu(meta, t, t));
        Assert.Throws<ObjectDisposedException>(() => t.Handle);

        // Residency: a meta tensor is not a CPU tensor.
        using var cpu = new CpuAccelerator(1);
        using var m = meta.Allocate(8);
        using var c = cpu.Zeros(8);
        Assert.Contains("lives on meta", Assert.Throws<ArgumentException>(() => Ops.Add(cpu, m, c, c)).Message);
    }

    [Fact]
    public void KernelTable_EveryLaunchIsEmpty_AndOnlyVariantZeroExists()
    {
        using var meta = new MetaAccelerator();
        foreach (var method in typeof(IOpKernels).GetMethods())
        {
            var args = method.GetParameters().Select(p => p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null).ToArray();
            var launch = (KernelLaunch)method.Invoke(meta.Kernels, args)!;
            Assert.Equal(MetaAccelerator.Variant, launch.Variant);
            launch.Run();                                // does nothing, touches nothing (its tensors are null here)
            if (method.GetParameters().LastOrDefault() is { Name: "variant", ParameterType: var pt } && pt == typeof(int))
            {
                args[^1] = 1;
                var e = Assert.Throws<TargetInvocationException>(() => method.Invoke(meta.Kernels, args));
                Assert.IsType<ArgumentOutOfRangeException>(e.InnerException);
            }
        }
        Assert.True(meta.DryRun);
        Assert.Throws<NotSupportedException>(() => meta.DryRun = false);
        Assert.Equal(AcceleratorKind.Meta, meta.Kind);
    }

    [Fact]
    public void Transpose_IsAStridedViewThatCopyMakesDense()
    {
        using var cpu = new CpuAccelerator(1);
        using var x = cpu.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var tv = x.Transpose(1, 2);
        Assert.Equal([2, 4, 3], tv.Shape.ToArray());
        Assert.Equal([12L, 1, 4], tv.Strides.ToArray());
        Assert.False(tv.IsContiguous);
        using var t = Ops.Contiguous(cpu, tv);
        var got = t.ToArray();
        for (int b = 0; b < 2; b++) for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++)
            Assert.Equal(b * 12 + j * 4 + i, got[b * 12 + i * 3 + j]);
        Assert.Equal(x.Shape.ToArray(), x.Transpose(-1, 1).Transpose(1, 2).Shape.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, 3));
    }
}
