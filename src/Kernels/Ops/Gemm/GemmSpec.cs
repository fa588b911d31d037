namespace PixelCost.Kernels;

/// <summary>The problem sizes of one (possibly batched) GEMM, from the operand shapes.</summary>
/// <param name="Batch">Number of C matrices (1 when all operands are rank 2).</param>
/// <param name="ABatched">A is rank 3 (otherwise broadcast over the batch); likewise B and C.</param>
public readonly record struct GemmDims(int Batch, int M, int N, int K, bool ABatched, bool BBatched, bool CBatched);

/// <summary>
/// Shape rules and cost of <c>gemm</c>: C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b] (DESIGN §7: the only place that
/// knows them). Cost is what <see cref="GemmReference"/> executes:
///  - MatmulFlops = 2 · batch · M · N · K;
///  - OtherFlops per batch: alpha ≠ 1 → M·N multiplies; beta ≠ 0 → M·N multiplies + M·N adds
///    (beta = 0 reads nothing from C, as BLAS: NaNs in C are ignored);
///  - BytesRead = A + B (a broadcast operand is read once) + C when beta ≠ 0; BytesWritten = C.
/// </summary>
public static class GemmSpec
{
    public const string Op = "gemm";

    public static GemmDims Validate(ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape, ReadOnlySpan<int> cShape, bool transA, bool transB)
    {
        int[] a = aShape.ToArray(), b = bShape.ToArray(), c = cShape.ToArray();
        string Shapes() => $"{Op}: a {Tensor.FormatShape(a)}{(transA ? "ᵀ" : "")}, b {Tensor.FormatShape(b)}{(transB ? "ᵀ" : "")}, c {Tensor.FormatShape(c)}";
        foreach (var (name, s) in new[] { ("a", a), ("b", b), ("c", c) })
        {
            if (s.Length is not (2 or 3))
                throw new ArgumentException($"{Shapes()}: {name} must be rank 2 or 3 (got rank {s.Length})");
            foreach (int d in s)
                if (d <= 0) throw new ArgumentException($"{Shapes()}: {name} has a zero-size or negative dimension");
        }
        int m = transA ? a[^1] : a[^2], ka = transA ? a[^2] : a[^1];
        int kb = transB ? b[^1] : b[^2], n = transB ? b[^2] : b[^1];
        if (ka != kb) throw new ArgumentException($"{Shapes()}: inner dimensions differ (K = {ka} from a, {kb} from b)");
        if (c[^2] != m || c[^1] != n) throw new ArgumentException($"{Shapes()}: c must be [{m},{n}] (per batch)");
        bool aB = a.Length == 3, bB = b.Length == 3, cB = c.Length == 3;
        int batch = -1;
        string first = "";
        foreach (var (name, s, isB) in new[] { ("a", a, aB), ("b", b, bB), ("c", c, cB) })
        {
            if (!isB) continue;
            if (batch < 0) { batch = s[0]; first = name; }
            else if (s[0] != batch)
                throw new ArgumentException($"{Shapes()}: batch sizes differ ({first} has {batch}, {name} has {s[0]})");
        }
        if (batch < 0) batch = 1;
        // C is written, so it cannot be broadcast: a batched product needs a batched C.
        if ((aB || bB) && !cB)
            throw new ArgumentException($"{Shapes()}: a batched product needs c of rank 3 [batch,{m},{n}]");
        return new GemmDims(batch, m, n, ka, aB, bB, cB);
    }

    public static Cost Cost(GemmDims d, float alpha, float beta)
    {
        long mn = (long)d.M * d.N, batch = d.Batch;
        long other = 0;
        if (alpha != 1f) other += mn;
        if (beta != 0f) other += 2 * mn;
        long aBytes = 4L * d.M * d.K * (d.ABatched ? batch : 1), bBytes = 4L * d.K * d.N * (d.BBatched ? batch : 1);
        long cBytes = 4L * mn * batch;
        return new Cost(2L * batch * mn * d.K, other * batch, 0, aBytes + bBytes + (beta != 0f ? cBytes : 0), cBytes);
    }

    public static string ShapeString(Tensor a, Tensor b, Tensor c, bool transA, bool transB) =>
        $"{a.ShapeString}{(transA ? "ᵀ" : "")}x{b.ShapeString}{(transB ? "ᵀ" : "")}->{c.ShapeString}";
}
