using ILGPU;
using ILGPU.Runtime;

namespace PixelCost.Kernels;

/// <summary>
/// ILGPU linear, y = x·wᵀ + bias, on the gemm kernels (<see cref="GemmIlgpu"/>) with B = w read transposed through its
/// strides and the bias added per column in the kernel's store (no extra pass):
///  v1-simt / v2-simt-128 / v3-naive: the gemm variant of the same number.
/// </summary>
internal sealed class LinearIlgpu
{
    private readonly GemmIlgpu _gemm;

    public LinearIlgpu(Accelerator acc) : this(new GemmIlgpu(acc)) { }

    /// <summary>Shares the gemm kernels already loaded for this accelerator.</summary>
    internal LinearIlgpu(GemmIlgpu gemm) => _gemm = gemm;

    public static IReadOnlyList<string> Variants => GemmIlgpu.Variants;

    public static string VariantName(int variant, Accelerator acc)
    {
        if (variant < 0 || variant > Variants.Count)
            throw new ArgumentOutOfRangeException(nameof(variant), variant, $"{LinearSpec.Op}: no ILGPU variant {variant} (0 = default, 1..{Variants.Count}: {string.Join(", ", Variants)})");
        return GemmIlgpu.VariantName(variant, acc);
    }

    /// <summary>The variant <see cref="Run"/> runs for these sizes (what the ledger should record).</summary>
    public static string VariantName(int variant, Accelerator acc, LinearDims d)
    {
        VariantName(variant, acc);
        return GemmIlgpu.VariantName(variant, acc, 1, d.Rows, d.N);
    }

    /// <summary>The gemm bound (a K-term fp32 dot product, see <see cref="GemmIlgpu.Tolerance"/>) plus one rounding of the bias add.</summary>
    public static (double Atol, double Rtol) Tolerance(int variant) => (GemmIlgpu.Tolerance(variant).Atol, 1.2e-7);

    /// <summary>
    /// y = x·wᵀ + bias as <see cref="Ops.Linear"/>: x [d.Rows, d.K] (leading dims flattened), w [d.N, d.K], bias [d.N]
    /// (ignored, may be empty, when !d.HasBias), y [d.Rows, d.N]. Enqueues on <paramref name="stream"/> only.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        LinearDims d, int variant)
    {
        var p = new SimtArgs
        {
            M = d.Rows, N = d.N, K = d.K,
            SaM = d.K, SaK = 1,          // A(r, k) = x[r·K + k]
            SbK = 1, SbN = d.K,          // B(k, n) = w[n·K + k]: wᵀ
            Ldc = d.N, Inner = 1,
            Alpha = 1f, Beta = 0f, BiasMode = d.HasBias ? 2 : 0,
        };
        _gemm.RunStrided(stream, x, w, y, d.HasBias ? bias : ArrayView<float>.Empty, p, 1, variant);
    }
}
