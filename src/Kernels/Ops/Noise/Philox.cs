using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Ops.Noise;

/// <summary>
/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; Random123): a counter-based
/// generator. A 128-bit counter and a 64-bit key go through 10 rounds of two 32×32→64 multiplies and xors; the output
/// is 4 uint32. Because each block depends only on (counter, key), any element can be computed independently — the
/// output is the same for any thread count and on a GPU.
/// <para>
/// PixelCost mapping (all noise ops): key = (low 32 bits of the seed, high 32 bits); element i of a fill uses block
/// b = i / 4 with counter (low32(b), high32(b), low32(stream), high32(stream)) and lane i % 4 of that block.
/// </para>
/// </summary>
public static class Philox4x32
{
    public const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57; // round multipliers
    public const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85; // Weyl key increments (golden ratio, √3 − 1)
    public const int Rounds = 10;

    /// <summary>One Philox-4x32-10 block: counter (c0..c3), key (k0, k1) → 4 random uint32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int r = 0; r < Rounds; r++)
        {
            if (r > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The block of the PixelCost mapping: block index <paramref name="block"/> of stream <paramref name="stream"/> under <paramref name="seed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(ulong block, ulong stream, ulong seed) =>
        Block((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32));

    /// <summary>Lane <c>i % 4</c> of block <c>i / 4</c>: the i-th random uint32 of a stream.</summary>
    public static uint At(ulong i, ulong stream, ulong seed)
    {
        var (x0, x1, x2, x3) = Block(i >> 2, stream, seed);
        return (i & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 };
    }

    /// <summary>
    /// Eight blocks at once, one per 32-bit lane (structure of arrays: c0 holds the first counter word of all eight).
    /// AVX2 has only an even-lane 32×32→64 multiply (vpmuludq), so each mulhilo is two multiplies — the even lanes and
    /// the odd lanes shifted down — and two blends to put the high and low halves back into 8 lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block8(ref Vector256<uint> c0, ref Vector256<uint> c1, ref Vector256<uint> c2, ref Vector256<uint> c3,
        uint key0, uint key1)
    {
        var m0 = Vector256.Create((ulong)M0).AsUInt32();
        var m1 = Vector256.Create((ulong)M1).AsUInt32();
        var k0 = Vector256.Create(key0);
        var k1 = Vector256.Create(key1);
        var w0 = Vector256.Create(W0);
        var w1 = Vector256.Create(W1);
        for (int r = 0; r < Rounds; r++)
        {
            if (r > 0) { k0 += w0; k1 += w1; }
            MulHiLo(c0, m0, out var hi0, out var lo0);
            MulHiLo(c2, m1, out var hi1, out var lo1);
            var n0 = hi1 ^ c1 ^ k0;
            var n2 = hi0 ^ c3 ^ k1;
            c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MulHiLo(Vector256<uint> a, Vector256<uint> m, out Vector256<uint> hi, out Vector256<uint> lo)
    {
        // even lanes: products of a[0], a[2], …; odd lanes: a[1], a[3], … moved into the even slots.
        var even = Avx2.Multiply(a, m);
        var odd = Avx2.Multiply(Avx2.ShiftRightLogical(a.AsUInt64(), 32).AsUInt32(), m);
        lo = Avx2.Blend(even.AsUInt32(), Avx2.ShiftLeftLogical(odd, 32).AsUInt32(), 0b1010_1010);
        hi = Avx2.Blend(Avx2.ShiftRightLogical(even, 32).AsUInt32(), odd.AsUInt32(), 0b1010_1010);
    }

    /// <summary>True when <see cref="Block8"/> runs natively (AVX2).</summary>
    public static bool Block8Supported => Avx2.IsSupported;

    /// <summary>
    /// Generates the 32 uint32 of blocks <paramref name="firstBlock"/> … +7 in element order (block b's four lanes at
    /// 4(b − first) …): the SIMD equivalent of eight <see cref="Block(ulong, ulong, ulong)"/> calls.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Blocks8InOrder(ulong firstBlock, ulong stream, ulong seed, out Vector256<uint> o0, out Vector256<uint> o1,
        out Vector256<uint> o2, out Vector256<uint> o3)
    {
        // Callers keep the 8 blocks within one 2^32 range, so the high counter word is the same in every lane.
        var c0 = Vector256.Create((uint)firstBlock) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var c1 = Vector256.Create((uint)(firstBlock >> 32));
        var c2 = Vector256.Create((uint)stream);
        var c3 = Vector256.Create((uint)(stream >> 32));
        Block8(ref c0, ref c1, ref c2, ref c3, (uint)seed, (uint)(seed >> 32));
        Transpose8x4(c0, c1, c2, c3, out o0, out o1, out o2, out o3);
    }

    /// <summary>Structure of arrays (x0..x3 of blocks 0..7) → element order (b0.x0 b0.x1 b0.x2 b0.x3 b1.x0 …).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose8x4(Vector256<uint> x0, Vector256<uint> x1, Vector256<uint> x2, Vector256<uint> x3,
        out Vector256<uint> o0, out Vector256<uint> o1, out Vector256<uint> o2, out Vector256<uint> o3)
    {
        // Within each 128-bit half: unpack gives (x0 b, x1 b) pairs, then 64-bit unpack gives whole blocks.
        var t0 = Avx2.UnpackLow(x0, x1);   // b0.x0 b0.x1 b1.x0 b1.x1 | b4.x0 b4.x1 b5.x0 b5.x1
        var t1 = Avx2.UnpackHigh(x0, x1);  // b2 …, b3 … | b6 …, b7 …
        var t2 = Avx2.UnpackLow(x2, x3);
        var t3 = Avx2.UnpackHigh(x2, x3);
        var b04 = Avx2.UnpackLow(t0.AsUInt64(), t2.AsUInt64()).AsUInt32();  // b0 | b4
        var b15 = Avx2.UnpackHigh(t0.AsUInt64(), t2.AsUInt64()).AsUInt32(); // b1 | b5
        var b26 = Avx2.UnpackLow(t1.AsUInt64(), t3.AsUInt64()).AsUInt32();  // b2 | b6
        var b37 = Avx2.UnpackHigh(t1.AsUInt64(), t3.AsUInt64()).AsUInt32(); // b3 | b7
        o0 = Avx2.Permute2x128(b04, b15, 0x20); // b0 b1
        o1 = Avx2.Permute2x128(b26, b37, 0x20); // b2 b3
        o2 = Avx2.Permute2x128(b04, b15, 0x31); // b4 b5
        o3 = Avx2.Permute2x128(b26, b37, 0x31); // b6 b7
    }
}
