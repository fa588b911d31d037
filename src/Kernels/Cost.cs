namespace PixelCost.Kernels;

/// <summary>
/// What one op launch costs by its definition (DESIGN §3). FLOPs follow the "2 per multiply-accumulate" convention of
/// PyTorch's FlopCounterMode for matmul-class work; everything else is counted one per executed add/mul/div/compare.
/// Bytes are the op's minimum traffic: each input read once, each output written once.
/// </summary>
public readonly record struct Cost(long MatmulFlops, long OtherFlops, long Transcendentals, long BytesRead, long BytesWritten)
{
    public static readonly Cost Zero = default;

    /// <summary>Matmul + other FLOPs (transcendentals are listed separately, not folded in).</summary>
    public long Flops => MatmulFlops + OtherFlops;

    /// <summary>Multiply-accumulates of the matmul class (= MatmulFlops / 2). Labelled MACs wherever shown.</summary>
    public long MatmulMacs => MatmulFlops / 2;

    public long Bytes => BytesRead + BytesWritten;

    public static Cost operator +(Cost a, Cost b) => new(
        a.MatmulFlops + b.MatmulFlops, a.OtherFlops + b.OtherFlops, a.Transcendentals + b.Transcendentals,
        a.BytesRead + b.BytesRead, a.BytesWritten + b.BytesWritten);

    public static Cost operator *(Cost a, long n) => new(
        a.MatmulFlops * n, a.OtherFlops * n, a.Transcendentals * n, a.BytesRead * n, a.BytesWritten * n);

    /// <summary>The same cost with only the arithmetic kept (what the counting scalar can see).</summary>
    public Cost ArithmeticOnly => new(MatmulFlops, OtherFlops, Transcendentals, 0, 0);

    public override string ToString() =>
        $"matmul {MatmulFlops:N0} FLOP, other {OtherFlops:N0} FLOP, transcendental {Transcendentals:N0}, read {BytesRead:N0} B, written {BytesWritten:N0} B";
}
