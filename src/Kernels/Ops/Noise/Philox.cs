using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Noise;

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
public static partial class Philox4x32
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
    /// AVX2 has only a 32×32→64 multiply of the low halves of 64-bit lanes (vpmuludq), so the eight blocks run as two
    /// independent sets of four, one block per 64-bit lane: even lanes as they are, odd lanes shifted down. The upper
    /// 32 bits of each 64-bit lane are then never cleaned: the multiply ignores them and xor keeps them out of the low
    /// half, so a round is just 2 multiplies, 2 shifts (high products) and 4 xors per set. Two sets in flight hide the
    /// multiply latency (one set alone is latency-bound: mul → shift → xor → mul each round).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block8(ref Vector256<uint> c0, ref Vector256<uint> c1, ref Vector256<uint> c2, ref Vector256<uint> c3,
        uint key0, uint key1)
    {
        var keys = new KeySchedule(key0 | (ulong)key1 << 32);
        Block8(ref c0, ref c1, ref c2, ref c3, ref keys);
    }

    /// <summary><see cref="Block8(ref Vector256{uint}, ref Vector256{uint}, ref Vector256{uint}, ref Vector256{uint}, uint, uint)"/>
    /// with the round keys computed once by the caller (they are the same for every block of a fill).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block8(ref Vector256<uint> c0, ref Vector256<uint> c1, ref Vector256<uint> c2, ref Vector256<uint> c3,
        ref KeySchedule keys)
    {
        var m0 = Vector256.Create((ulong)M0).AsUInt32();
        var m1 = Vector256.Create((ulong)M1).AsUInt32();
        // set A: even lanes (already in the low halves); set B: odd lanes.
        Vector256<ulong> a0 = c0.AsUInt64(), a1 = c1.AsUInt64(), a2 = c2.AsUInt64(), a3 = c3.AsUInt64();
        Vector256<ulong> b0 = a0 >>> 32, b1 = a1 >>> 32, b2 = a2 >>> 32, b3 = a3 >>> 32;
        // Fully unrolled: a rolled loop makes the JIT shuffle the rotating state through extra registers every round;
        // the round keys come from memory (free operands of vpxor) instead of two vector adds per round.
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[0], keys[1]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[2], keys[3]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[4], keys[5]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[6], keys[7]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[8], keys[9]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[10], keys[11]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[12], keys[13]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[14], keys[15]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[16], keys[17]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[18], keys[19]);
        c0 = Merge(a0, b0); c1 = Merge(a1, b1); c2 = Merge(a2, b2); c3 = Merge(a3, b3);
    }

    /// <summary>The 10 round keys (k0, k1) of a seed, each broadcast to four 64-bit lanes: [2r] = k0, [2r + 1] = k1 of round r.</summary>
    [InlineArray(2 * Rounds)]
    public struct KeySchedule
    {
        private Vector256<ulong> _element;

        public KeySchedule(ulong seed)
        {
            uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
            for (int r = 0; r < Rounds; r++, k0 += W0, k1 += W1)
            {
                this[2 * r] = Vector256.Create((ulong)k0);
                this[2 * r + 1] = Vector256.Create((ulong)k1);
            }
        }
    }

    /// <summary>One Philox round on two 4-block sets (64-bit lanes, only the low halves meaningful).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round2(ref Vector256<ulong> a0, ref Vector256<ulong> a1, ref Vector256<ulong> a2, ref Vector256<ulong> a3,
        ref Vector256<ulong> b0, ref Vector256<ulong> b1, ref Vector256<ulong> b2, ref Vector256<ulong> b3,
        Vector256<uint> m0, Vector256<uint> m1, Vector256<ulong> k0, Vector256<ulong> k1)
    {
        var pa0 = Avx2.Multiply(a0.AsUInt32(), m0);
        var pb0 = Avx2.Multiply(b0.AsUInt32(), m0);
        var pa1 = Avx2.Multiply(a2.AsUInt32(), m1);
        var pb1 = Avx2.Multiply(b2.AsUInt32(), m1);
        a0 = (pa1 >>> 32) ^ (a1 ^ k0); b0 = (pb1 >>> 32) ^ (b1 ^ k0);
        a2 = (pa0 >>> 32) ^ (a3 ^ k1); b2 = (pb0 >>> 32) ^ (b3 ^ k1);
        a1 = pa1; b1 = pb1; a3 = pa0; b3 = pb0;
    }

    /// <summary>Low halves of a into the even lanes, low halves of b into the odd lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Merge(Vector256<ulong> a, Vector256<ulong> b) =>
        Avx2.Blend(a.AsUInt32(), (b << 32).AsUInt32(), 0b1010_1010);

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
        var keys = new KeySchedule(seed);
        Blocks8InOrder(firstBlock, stream, ref keys, out o0, out o1, out o2, out o3);
    }

    /// <summary>
    /// As above with the caller's precomputed <see cref="KeySchedule"/>. The counters are built straight into the
    /// 64-bit-lane layout (set A = blocks 0–3, set B = blocks 4–7), so no lane split, merge or 8×4 transpose is needed:
    /// each set goes to element order with two blends, two unpacks and two lane permutes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Blocks8InOrder(ulong firstBlock, ulong stream, ref KeySchedule keys, out Vector256<uint> o0, out Vector256<uint> o1,
        out Vector256<uint> o2, out Vector256<uint> o3)
    {
        var m0 = Vector256.Create((ulong)M0).AsUInt32();
        var m1 = Vector256.Create((ulong)M1).AsUInt32();
        // Callers keep the 8 blocks within one 2^32 range, so the high counter word is the same in every lane (and
        // the low word's 64-bit add cannot carry into anything that is read).
        var a0 = Vector256.Create(firstBlock) + Vector256.Create(0ul, 1, 2, 3);
        var b0 = a0 + Vector256.Create(4ul);
        var a1 = Vector256.Create(firstBlock >> 32);
        var a2 = Vector256.Create((ulong)(uint)stream);
        var a3 = Vector256.Create(stream >> 32);
        var (b1, b2, b3) = (a1, a2, a3);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[0], keys[1]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[2], keys[3]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[4], keys[5]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[6], keys[7]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[8], keys[9]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[10], keys[11]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[12], keys[13]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[14], keys[15]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[16], keys[17]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[18], keys[19]);
        InOrder(a0, a1, a2, a3, out o0, out o1);
        InOrder(b0, b1, b2, b3, out o2, out o3);
    }

    /// <summary>
    /// Everything of a fill that is the same for all its blocks, for <see cref="Blocks8Fill"/>: the round keys and the
    /// parts of the first three rounds that depend only on the high block word, the stream and the key.
    /// </summary>
    public struct FillSchedule
    {
        public KeySchedule Keys;
        /// <summary>The high 32 bits of the block index this schedule was made for.</summary>
        public readonly uint High;
        // Broadcast words (low halves of the 64-bit lanes): see Blocks8Fill for where each enters.
        internal readonly Vector256<ulong> C1, C2, C3, C4;

        public FillSchedule(ulong seed, ulong stream, uint high)
        {
            Keys = new KeySchedule(seed);
            High = high;
            uint k0 = (uint)seed, k1 = (uint)(seed >> 32), s0 = (uint)stream, s1 = (uint)(stream >> 32);
            // Round 0: c1 = high, c2 = s0, c3 = s1 are the same in every block; only c0 varies.
            ulong u1 = (ulong)M1 * s0;
            uint r0a = (uint)(u1 >> 32) ^ high ^ k0, r0b = (uint)u1; // words 0 and 1 after round 0: uniform
            C1 = Vector256.Create((ulong)(s1 ^ k1));                  // word 2 after round 0 = hi(M0·c0) ^ C1
            // Round 1: its word-0 product M0·r0a is uniform too.
            ulong u2 = (ulong)M0 * (r0a);
            k0 += W0; k1 += W1;
            C2 = Vector256.Create((ulong)(r0b ^ k0));                 // word 0 after round 1 = hi(M1·w2) ^ C2
            C3 = Vector256.Create((ulong)((uint)(u2 >> 32) ^ k1));   // word 2 after round 1 = lo(M0·c0) ^ C3
            k0 += W0; k1 += W1;
            C4 = Vector256.Create((ulong)((uint)u2 ^ k1));           // round 2: word 3 (= lo(u2), uniform) ^ its key
        }
    }

    /// <summary>
    /// Blocks b, b+1 … b+7 in element order (as <see cref="Blocks8InOrder(ulong, ulong, ref KeySchedule, out Vector256{uint}, out Vector256{uint}, out Vector256{uint}, out Vector256{uint})"/>),
    /// the fill kernels' fast path. <paramref name="blocks"/> holds b + (0, 2, 1, 3) and <paramref name="schedule"/> was
    /// made for the high word of b (the caller keeps all eight blocks below the same 2^32 boundary). Bitwise the
    /// same as eight <see cref="Block(ulong, ulong, ulong)"/> with fewer vector operations, which is what bounds the fill
    /// (it issues ~4 vector µops per cycle; memory is not the limit):
    /// <list type="bullet">
    /// <item>Only counter word 0 differs between blocks, so round 0 multiplies one word, round 1 one (the other
    /// product is uniform, precomputed in <see cref="FillSchedule"/>) and round 2 xors one uniform word: 14 instead of
    /// 24 operations per four blocks over the first three rounds.</item>
    /// <item>Blocks sit in the 64-bit lanes in the order (0, 2, 1, 3) so that the final transpose to element order is
    /// four vshufps per four blocks, with no cross-lane permute.</item>
    /// </list>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Blocks8Fill(Vector256<ulong> blocks, ref FillSchedule schedule, out Vector256<uint> o0, out Vector256<uint> o1,
        out Vector256<uint> o2, out Vector256<uint> o3)
    {
        var m0 = Vector256.Create((ulong)M0).AsUInt32();
        var m1 = Vector256.Create((ulong)M1).AsUInt32();
        ref var keys = ref schedule.Keys;
        // Round 0: word 0 = uniform (in C2/C3 below), word 1 = uniform, word 2 = hi(M0·c0) ^ C1, word 3 = lo(M0·c0).
        var a3 = Avx2.Multiply(blocks.AsUInt32(), m0);
        var b3 = Avx2.Multiply((blocks + Vector256.Create(4ul)).AsUInt32(), m0);
        var a2 = (a3 >>> 32) ^ schedule.C1;
        var b2 = (b3 >>> 32) ^ schedule.C1;
        // Round 1: M0·word0 is uniform: word 0 = hi(M1·w2) ^ C2, word 1 = M1·w2, word 2 = w3 ^ C3, word 3 = uniform.
        var a1 = Avx2.Multiply(a2.AsUInt32(), m1);
        var b1 = Avx2.Multiply(b2.AsUInt32(), m1);
        var a0 = (a1 >>> 32) ^ schedule.C2;
        var b0 = (b1 >>> 32) ^ schedule.C2;
        a2 = a3 ^ schedule.C3;
        b2 = b3 ^ schedule.C3;
        // Round 2: word 3 is uniform, its key already xored in (C4).
        var pa0 = Avx2.Multiply(a0.AsUInt32(), m0);
        var pb0 = Avx2.Multiply(b0.AsUInt32(), m0);
        var pa1 = Avx2.Multiply(a2.AsUInt32(), m1);
        var pb1 = Avx2.Multiply(b2.AsUInt32(), m1);
        a0 = (pa1 >>> 32) ^ (a1 ^ keys[4]); b0 = (pb1 >>> 32) ^ (b1 ^ keys[4]);
        a2 = (pa0 >>> 32) ^ schedule.C4; b2 = (pb0 >>> 32) ^ schedule.C4;
        a1 = pa1; b1 = pb1; a3 = pa0; b3 = pb0;
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[6], keys[7]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[8], keys[9]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[10], keys[11]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[12], keys[13]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[14], keys[15]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[16], keys[17]);
        Round2(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, m0, m1, keys[18], keys[19]);
        InOrderShuffled(a0, a1, a2, a3, out o0, out o1);
        InOrderShuffled(b0, b1, b2, b3, out o2, out o3);
    }

    /// <summary>
    /// Four blocks in 64-bit lanes in the order (0, 2, 1, 3) → blocks 0, 1 and 2, 3 in element order. vshufps picks
    /// the low 32 bits of two lanes of each of two registers per 128-bit half: (w0, w1) then (w2, w3) pairs, then
    /// whole blocks. It moves bits only (no float arithmetic), so the integers pass through unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InOrderShuffled(Vector256<ulong> x0, Vector256<ulong> x1, Vector256<ulong> x2, Vector256<ulong> x3,
        out Vector256<uint> blocks01, out Vector256<uint> blocks23)
    {
        var s01 = Avx.Shuffle(x0.AsSingle(), x1.AsSingle(), 0x88); // per 128-bit half: x0 q0, x0 q1, x1 q0, x1 q1
        var s23 = Avx.Shuffle(x2.AsSingle(), x3.AsSingle(), 0x88);
        blocks01 = Avx.Shuffle(s01, s23, 0x88).AsUInt32();         // lanes q0 | q2 = blocks 0 | 1
        blocks23 = Avx.Shuffle(s01, s23, 0xDD).AsUInt32();         // lanes q1 | q3 = blocks 2 | 3
    }

    /// <summary>Four blocks in 64-bit lanes (word w of block j in the low half of lane j of xw) → blocks 0,1 and 2,3 in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InOrder(Vector256<ulong> x0, Vector256<ulong> x1, Vector256<ulong> x2, Vector256<ulong> x3,
        out Vector256<uint> blocks01, out Vector256<uint> blocks23)
    {
        var t01 = Avx2.Blend(x0.AsUInt32(), (x1 << 32).AsUInt32(), 0b1010_1010).AsUInt64(); // (x0, x1) of blocks 0 1 | 2 3
        var t23 = Avx2.Blend(x2.AsUInt32(), (x3 << 32).AsUInt32(), 0b1010_1010).AsUInt64(); // (x2, x3)
        var lo = Avx2.UnpackLow(t01, t23).AsUInt32();  // block 0 | block 2
        var hi = Avx2.UnpackHigh(t01, t23).AsUInt32(); // block 1 | block 3
        blocks01 = Avx2.Permute2x128(lo, hi, 0x20);
        blocks23 = Avx2.Permute2x128(lo, hi, 0x31);
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
