using ILGPU;
using ILGPU.Runtime;
using PixelCost.Kernels.Ilgpu;

namespace PixelCost.Kernels;

/// <summary>Strided → dense copy on ILGPU: one thread per element (grid-stride), the source offset from the padded
/// 6-d index. Element sizes 1, 2, 4 and 8 bytes are copied as byte, short, int and long.</summary>
internal sealed class CopyIlgpu
{
    public const string Variant = "ilgpu.v1-strided";

    /// <summary>Source geometry padded to <see cref="CopySpec.MaxRank"/> dims (kernel parameters are structs of scalars).</summary>
    public struct Geometry
    {
        public int S0, S1, S2, S3, S4, S5;
        public long T0, T1, T2, T3, T4, T5;
    }

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<byte>, ArrayView<byte>, Geometry, long> _k1;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<short>, ArrayView<short>, Geometry, long> _k2;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<int>, ArrayView<int>, Geometry, long> _k4;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<long>, ArrayView<long>, Geometry, long> _k8;
    private readonly int _groups;

    public CopyIlgpu(Accelerator acc)
    {
        _k1 = acc.LoadKernel<ArrayView<byte>, ArrayView<byte>, Geometry, long>(Kernel);
        _k2 = acc.LoadKernel<ArrayView<short>, ArrayView<short>, Geometry, long>(Kernel);
        _k4 = acc.LoadKernel<ArrayView<int>, ArrayView<int>, Geometry, long>(Kernel);
        _k8 = acc.LoadKernel<ArrayView<long>, ArrayView<long>, Geometry, long>(Kernel);
        _groups = acc.NumMultiprocessors * 8;
    }

    [IlgpuKernel(KernelGrouping.Explicit)]
    internal static void Kernel<T>(ArrayView<T> src, ArrayView<T> dst, Geometry g, long n) where T : unmanaged
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            long r = i, off = 0;
            off += r % g.S5 * g.T5; r /= g.S5;
            off += r % g.S4 * g.T4; r /= g.S4;
            off += r % g.S3 * g.T3; r /= g.S3;
            off += r % g.S2 * g.T2; r /= g.S2;
            off += r % g.S1 * g.T1; r /= g.S1;
            off += r * g.T0;
            dst[i] = src[off];
        }
    }

    /// <summary>dst[r, j] = row[j] for every r of dst [rows, n]: the row broadcast as a stride-0 source (how a
    /// tensor-core linear layer starts from its bias and accumulates onto it with beta = 1).</summary>
    public void BroadcastRows(AcceleratorStream stream, ArrayView<float> row, ArrayView<float> dst, int rows, int n)
    {
        long total = (long)rows * n;
        if (total == 0) return;
        var g = new Geometry { S0 = 1, S1 = 1, S2 = 1, S3 = 1, S4 = rows, S5 = n, T5 = 1 };
        _k4(stream, new KernelConfig((int)Math.Min(_groups, (total + 255) / 256), 256), row.Cast<int>(), dst.Cast<int>(), g, total);
    }

    public void Run(AcceleratorStream stream, Tensor src, Tensor dst)
    {
        long n = src.Length;
        if (n == 0) return;
        var (shape, strides) = CopySpec.Padded(src);
        var g = new Geometry
        {
            S0 = shape[0], S1 = shape[1], S2 = shape[2], S3 = shape[3], S4 = shape[4], S5 = shape[5],
            T0 = strides[0], T1 = strides[1], T2 = strides[2], T3 = strides[3], T4 = strides[4], T5 = strides[5],
        };
        // The source view spans from its first element to its last; strides index into it.
        long span = 1;
        for (int i = 0; i < shape.Length; i++) span += (long)(shape[i] - 1) * strides[i];
        ArrayView<byte> whole = ((IlgpuBlock)src.Buffer.Block).Buffer.View;
        var srcBlock = whole.SubView(src.ByteOffset, span * src.DType.SizeOf());
        var dstView = dst.View<byte>();
        var cfg = new KernelConfig((int)Math.Min(_groups, (n + 255) / 256), 256);
        switch (src.DType.SizeOf())
        {
            case 1: _k1(stream, cfg, srcBlock, dstView, g, n); break;
            case 2: _k2(stream, cfg, srcBlock.Cast<short>(), dstView.Cast<short>(), g, n); break;
            case 4: _k4(stream, cfg, srcBlock.Cast<int>(), dstView.Cast<int>(), g, n); break;
            default: _k8(stream, cfg, srcBlock.Cast<long>(), dstView.Cast<long>(), g, n); break;
        }
    }
}
