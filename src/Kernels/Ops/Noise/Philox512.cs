using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PixelCost.Kernels.Noise;

// The Vector512 path of Philox: 16 blocks per pass, written with the cross-platform Vector512 API only (so it runs,
// emulated in software, on AVX2 machines, which is how the tests check it).
public static partial class Philox4x32
{
    /// <summary>
    /// The 10 round keys of a seed broadcast to eight 64-bit lanes: [2r] = k0, [2r + 1] = k1 of round r (the Vector512
    /// twin of <see cref="KeySchedule"/>).
    /// </summary>
    [InlineArray(2 * Rounds)]
    public struct KeySchedule512
    {
        private Vector512<ulong> _element;

        public KeySchedule512(ulong seed)
        {
            uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
            for (int r = 0; r < Rounds; r++, k0 += W0, k1 += W1)
            {
                this[2 * r] = Vector512.Create((ulong)k0);
                this[2 * r + 1] = Vector512.Create((ulong)k1);
            }
        }
    }

    /// <summary>
    /// Sixteen blocks at once, structure of arrays (c0 holds the first counter word of all sixteen): the Vector512
    /// twin of <see cref="Block8(ref Vector256{uint}, ref Vector256{uint}, ref Vector256{uint}, ref Vector256{uint}, ref KeySchedule)"/>.
    /// As there, the blocks run as two sets of eight, one block per 64-bit lane (even 32-bit lanes, then odd lanes
    /// shifted down).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block16(ref Vector512<uint> c0, ref Vector512<uint> c1, ref Vector512<uint> c2, ref Vector512<uint> c3,
        ref KeySchedule512 keys)
    {
        Vector512<ulong> a0 = c0.AsUInt64(), a1 = c1.AsUInt64(), a2 = c2.AsUInt64(), a3 = c3.AsUInt64();
        Vector512<ulong> b0 = a0 >>> 32, b1 = a1 >>> 32, b2 = a2 >>> 32, b3 = a3 >>> 32;
        Rounds16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref keys);
        var lo = Vector512.Create(0xFFFF_FFFFul);
        c0 = ((a0 & lo) | (b0 << 32)).AsUInt32();
        c1 = ((a1 & lo) | (b1 << 32)).AsUInt32();
        c2 = ((a2 & lo) | (b2 << 32)).AsUInt32();
        c3 = ((a3 & lo) | (b3 << 32)).AsUInt32();
    }

    /// <summary>
    /// Blocks <paramref name="firstBlock"/> … +15 in element order (block b's four words at 4(b − first) …), 16 words
    /// per output vector: the Vector512 twin of <see cref="Blocks8InOrder(ulong, ulong, ref KeySchedule, out Vector256{uint}, out Vector256{uint}, out Vector256{uint}, out Vector256{uint})"/>.
    /// Callers keep the 16 blocks within one 2^32 range (the high counter word is the same in every lane).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Blocks16InOrder(ulong firstBlock, ulong stream, ref KeySchedule512 keys, out Vector512<uint> o0,
        out Vector512<uint> o1, out Vector512<uint> o2, out Vector512<uint> o3)
    {
        // Set A = blocks 0–7, set B = blocks 8–15, one per 64-bit lane, built straight into that layout.
        var a0 = Vector512.Create(firstBlock) + Vector512.Create(0ul, 1, 2, 3, 4, 5, 6, 7);
        var b0 = a0 + Vector512.Create(8ul);
        var a1 = Vector512.Create(firstBlock >> 32);
        var a2 = Vector512.Create((ulong)(uint)stream);
        var a3 = Vector512.Create(stream >> 32);
        var (b1, b2, b3) = (a1, a2, a3);
        Rounds16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, ref keys);
        var lo = Vector512.Create(0xFFFF_FFFFul);
        InOrder16((a0 & lo) | (a1 << 32), (a2 & lo) | (a3 << 32), out o0, out o1);
        InOrder16((b0 & lo) | (b1 << 32), (b2 & lo) | (b3 << 32), out o2, out o3);
    }

    /// <summary>
    /// Eight blocks as word pairs (lane j of <paramref name="w01"/> = words 0, 1 of block j; of <paramref name="w23"/> =
    /// words 2, 3) → blocks 0–3 and 4–7 in element order. Cross-platform Vector512 has no two-source unpack, so each
    /// output is two one-source lane shuffles (vpermq) and a select of the odd lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void InOrder16(Vector512<ulong> w01, Vector512<ulong> w23, out Vector512<uint> blocks0to3, out Vector512<uint> blocks4to7)
    {
        var odd = Vector512.Create(0ul, ulong.MaxValue, 0, ulong.MaxValue, 0, ulong.MaxValue, 0, ulong.MaxValue);
        var first = Vector512.Create(0ul, 0, 1, 1, 2, 2, 3, 3);
        var second = Vector512.Create(4ul, 4, 5, 5, 6, 6, 7, 7);
        blocks0to3 = Vector512.ConditionalSelect(odd, Vector512.Shuffle(w23, first), Vector512.Shuffle(w01, first)).AsUInt32();
        blocks4to7 = Vector512.ConditionalSelect(odd, Vector512.Shuffle(w23, second), Vector512.Shuffle(w01, second)).AsUInt32();
    }

    /// <summary>
    /// The ten rounds on two 8-block sets (64-bit lanes; only the low 32 bits of each lane are meaningful between
    /// rounds). The 32×32→64 multiply: cross-platform Vector512 has no "multiply the even 32-bit lanes" (x86
    /// vpmuludq, Avx512F.Multiply(uint)), so the operand is zero-extended in its 64-bit lane (and with 2³²−1) and
    /// multiplied as Vector512&lt;ulong&gt;: exact, since both factors are below 2³². On AVX-512 hardware this is
    /// vpandq + vpmullq (AVX512DQ; without DQ the JIT expands a 64-bit multiply into vpmuludq pieces). vpmullq is
    /// slower than vpmuludq (3 µops, 15 cycles on Intel; 1 µop on Zen 4): the price of staying cross-platform. Not
    /// measured on AVX-512 hardware (none here).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rounds16(ref Vector512<ulong> a0, ref Vector512<ulong> a1, ref Vector512<ulong> a2, ref Vector512<ulong> a3,
        ref Vector512<ulong> b0, ref Vector512<ulong> b1, ref Vector512<ulong> b2, ref Vector512<ulong> b3, ref KeySchedule512 keys)
    {
        // Unrolled like the AVX2 version: a rolled loop rotates the state through extra registers every round.
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[0], keys[1]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[2], keys[3]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[4], keys[5]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[6], keys[7]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[8], keys[9]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[10], keys[11]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[12], keys[13]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[14], keys[15]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[16], keys[17]);
        Round16(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, keys[18], keys[19]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round16(ref Vector512<ulong> a0, ref Vector512<ulong> a1, ref Vector512<ulong> a2, ref Vector512<ulong> a3,
        ref Vector512<ulong> b0, ref Vector512<ulong> b1, ref Vector512<ulong> b2, ref Vector512<ulong> b3,
        Vector512<ulong> k0, Vector512<ulong> k1)
    {
        var m0 = Vector512.Create((ulong)M0);
        var m1 = Vector512.Create((ulong)M1);
        var lo = Vector512.Create(0xFFFF_FFFFul);
        var pa0 = (a0 & lo) * m0;
        var pb0 = (b0 & lo) * m0;
        var pa1 = (a2 & lo) * m1;
        var pb1 = (b2 & lo) * m1;
        a0 = (pa1 >>> 32) ^ (a1 ^ k0); b0 = (pb1 >>> 32) ^ (b1 ^ k0);
        a2 = (pa0 >>> 32) ^ (a3 ^ k1); b2 = (pb0 >>> 32) ^ (b3 ^ k1);
        a1 = pa1; b1 = pb1; a3 = pa0; b3 = pb0;
    }
}
