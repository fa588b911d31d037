using PixelCost.Kernels.Cpu;

namespace PixelCost.Kernels;

/// <summary>Strided → dense copy: rows of the innermost dimension (contiguous when its stride is 1) over the threads.</summary>
internal static unsafe class CopyCpu
{
    public static void Run(CpuAccelerator cpu, Tensor src, Tensor dst)
    {
        if (src.Length == 0) return;
        var (shape, strides) = CopySpec.Padded(src);
        int es = src.DType.SizeOf();
        byte* s = (byte*)src.Handle, d = (byte*)dst.Handle;
        int inner = shape[^1];
        long innerStride = strides[^1];
        long rows = src.Length / inner;
        cpu.ParallelFor(rows, Math.Max(1, 16384 / Math.Max(1, inner)), (r0, r1) =>
        {
            for (long r = r0; r < r1; r++)
            {
                long rem = r, off = 0;
                for (int i = CopySpec.MaxRank - 2; i >= 0; i--) { off += rem % shape[i] * strides[i]; rem /= shape[i]; }
                byte* from = s + off * es, to = d + r * inner * es;
                if (innerStride == 1) Buffer.MemoryCopy(from, to, (long)inner * es, (long)inner * es);
                else for (int j = 0; j < inner; j++) Buffer.MemoryCopy(from + j * innerStride * es, to + (long)j * es, es, es);
            }
        });
    }
}
