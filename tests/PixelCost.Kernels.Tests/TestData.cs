using PixelCost.Kernels.Cpu;
using PixelCost.Kernels.Reference;

namespace PixelCost.Kernels.Tests;

/// <summary>Random inputs and conversions shared by the norm and elementwise tests (fixed seeds: failures reproduce).</summary>
internal static class TestData
{
    public static float[] Normal(int n, int seed, double mean = 0, double std = 1)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    public static F64[] D(float[] a) => Array.ConvertAll(a, v => new F64(v));
    public static F32[] S(float[] a) => Array.ConvertAll(a, v => new F32(v));
    public static Counted[] C(float[] a) => Array.ConvertAll(a, v => new Counted(v));
    public static float[] F(F64[] a) => Array.ConvertAll(a, v => (float)v.V);
    public static float[] F(F32[] a) => Array.ConvertAll(a, v => v.V);

    public static Tensor T(this CpuAccelerator acc, float[] data, params int[] shape) => acc.FromArray(data, shape);
}
