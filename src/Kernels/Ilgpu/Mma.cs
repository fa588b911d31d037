using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime.Cuda;
using Half = ILGPU.Half;

namespace PixelCost.Kernels.Ilgpu;

/// <summary>
/// A fragment of the 16×16 fp16 A operand of mma.m16n8k16 (row-major A): four .f16x2 registers, low half = lower column.
/// With g = lane/4 and t = lane%4 (PTX ISA §9.7.14.5.8, "Matrix Fragments for mma.m16n8k16 with floating point type"):
/// R0 = A[g][2t..2t+1], R1 = A[g+8][2t..2t+1], R2 = A[g][2t+8..2t+9], R3 = A[g+8][2t+8..2t+9].
/// </summary>
public struct FragA
{
    public uint R0, R1, R2, R3;
}

/// <summary>
/// A fragment of the 16×8 fp16 B operand (column-major B, i.e. k-pairs packed): R0 = (B[2t][g], B[2t+1][g]),
/// R1 = (B[2t+8][g], B[2t+9][g]).
/// </summary>
public struct FragB
{
    public uint R0, R1;
}

/// <summary>
/// A fragment of the 16×8 fp32 accumulator C/D: C0 = D[g][2t], C1 = D[g][2t+1], C2 = D[g+8][2t], C3 = D[g+8][2t+1].
/// </summary>
public struct FragC
{
    public float C0, C1, C2, C3;
}

/// <summary>
/// The warp-level tensor-core primitive D = A·B + C (m16n8k16, fp16 inputs, fp32 accumulate) and its fp16 packing
/// helpers. On CUDA it is the single PTX instruction <c>mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32</c> (sm_80+);
/// elsewhere (ILGPU's CPU accelerator, 32-wide simulated warps) an emulation with the identical fragment layout fetches
/// the other lanes' registers by warp shuffles and computes in fp32, so every caller's fragment indexing is tested in CI
/// and only the one instruction differs on the GPU. Inline PTX must stay behind <see cref="CudaAsm.IsSupported"/>: on the
/// CPU accelerator it aborts the process.
/// </summary>
public static class Mma
{
    /// <summary>The ledger name of a tensor-core kernel class's variant: 0 (the default) and 1..n name
    /// <paramref name="variants"/>; any other number is an ArgumentOutOfRangeException naming the op.</summary>
    internal static string VariantName(string op, IReadOnlyList<string> variants, int variant) =>
        variant >= 0 && variant <= variants.Count ? variants[Math.Max(variant, 1) - 1]
        : throw new ArgumentOutOfRangeException(nameof(variant), variant,
            $"{op}: unknown tensor-core variant {variant} (0 = default, 1..{variants.Count} = {string.Join(", ", variants)})");

    /// <summary>c += a·b for one 16×8×16 tile; every lane of the warp must call it (warp-synchronous).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void M16N8K16(ref FragC c, FragA a, FragB b)
    {
        if (CudaAsm.IsSupported)
        {
            Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
            Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, b0 = b.R0, b1 = b.R1;
            CudaAsm.EmitRef(
                "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};",
                ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
            c.C0 = d0.Value; c.C1 = d1.Value; c.C2 = d2.Value; c.C3 = d3.Value;
        }
        else
        {
            Emulate(ref c, a, b);
        }
    }

    /// <summary>
    /// The same product from shuffles: for k-pair p (k = 2p, 2p+1) lane (g,t) needs A[g][k], A[g+8][k] from lane
    /// 4g + p%4 (register R0/R1 for p &lt; 4, R2/R3 above) and B[k][2t], B[k][2t+1] from lanes 4·2t + p%4 and
    /// 4·(2t+1) + p%4 (R0 for p &lt; 4, R1 above). Products of fp16 values are exact in fp32; the sum is in k order.
    /// </summary>
    private static void Emulate(ref FragC c, FragA a, FragB b)
    {
        int lane = Warp.LaneIdx;
        int g = lane >> 2, t = lane & 3;
        float c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        for (int p = 0; p < 8; p++)
        {
            bool lowK = p < 4;
            int q = p & 3;
            uint aLo = Warp.Shuffle(lowK ? a.R0 : a.R2, 4 * g + q);
            uint aHi = Warp.Shuffle(lowK ? a.R1 : a.R3, 4 * g + q);
            uint bReg = lowK ? b.R0 : b.R1;
            uint bE = Warp.Shuffle(bReg, 8 * t + q);       // column 2t
            uint bO = Warp.Shuffle(bReg, 8 * t + 4 + q);   // column 2t+1
            float al0 = Lo(aLo), al1 = Hi(aLo), ah0 = Lo(aHi), ah1 = Hi(aHi);
            float be0 = Lo(bE), be1 = Hi(bE), bo0 = Lo(bO), bo1 = Hi(bO);
            c0 += al0 * be0 + al1 * be1;
            c1 += al0 * bo0 + al1 * bo1;
            c2 += ah0 * be0 + ah1 * be1;
            c3 += ah0 * bo0 + ah1 * bo1;
        }
        c.C0 = c0; c.C1 = c1; c.C2 = c2; c.C3 = c3;
    }

    // ---- Batched emulation for tile code. On the CPU accelerator every shuffle is a warp-wide rendezvous of 32 OS
    // threads, so a 64x32 warp tile (16 mmas x 32 shuffles per k16 step) would crawl. Tile code therefore stashes its
    // fragments in a per-warp scratch (slot r holds one register of all 32 lanes: scratch[32·r + lane]), meets once at
    // Warp.Barrier, and each lane reads the other lanes' registers from there with the same lane/register mapping as
    // Emulate. Two barriers per k16 step instead of 512 shuffles; the CUDA path never touches the scratch.

    /// <summary>Scratch slots per FragA (4) and FragB (2).</summary>
    public const int SlotsA = 4, SlotsB = 2;

    /// <summary>Stores this lane's A fragment in slots slot..slot+3 of the warp scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Stash(FragA a, ArrayView<uint> scratch, int slot)
    {
        int lane = Warp.LaneIdx;
        scratch[32 * slot + lane] = a.R0;
        scratch[32 * (slot + 1) + lane] = a.R1;
        scratch[32 * (slot + 2) + lane] = a.R2;
        scratch[32 * (slot + 3) + lane] = a.R3;
    }

    /// <summary>Stores this lane's B fragment in slots slot, slot+1 of the warp scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Stash(FragB b, ArrayView<uint> scratch, int slot)
    {
        int lane = Warp.LaneIdx;
        scratch[32 * slot + lane] = b.R0;
        scratch[32 * (slot + 1) + lane] = b.R1;
    }

    /// <summary>c += A·B from fragments stashed by all 32 lanes (call after a Warp.Barrier that follows the stashes).</summary>
    public static void EmulateStashed(ref FragC c, ArrayView<uint> scratch, int aSlot, int bSlot)
    {
        int lane = Warp.LaneIdx;
        int g = lane >> 2, t = lane & 3;
        float c0 = c.C0, c1 = c.C1, c2 = c.C2, c3 = c.C3;
        for (int p = 0; p < 8; p++)
        {
            int hiK = p >> 2, q = p & 3;
            uint aLo = scratch[32 * (aSlot + 2 * hiK) + 4 * g + q];
            uint aHi = scratch[32 * (aSlot + 2 * hiK + 1) + 4 * g + q];
            uint bE = scratch[32 * (bSlot + hiK) + 8 * t + q];
            uint bO = scratch[32 * (bSlot + hiK) + 8 * t + 4 + q];
            float al0 = Lo(aLo), al1 = Hi(aLo), ah0 = Lo(aHi), ah1 = Hi(aHi);
            float be0 = Lo(bE), be1 = Hi(bE), bo0 = Lo(bO), bo1 = Hi(bO);
            c0 += al0 * be0 + al1 * be1;
            c1 += al0 * bo0 + al1 * bo1;
            c2 += ah0 * be0 + ah1 * be1;
            c3 += ah0 * bo0 + ah1 * bo1;
        }
        c.C0 = c0; c.C1 = c1; c.C2 = c2; c.C3 = c3;
    }

    /// <summary>Dynamic shared memory (in uints) a launch must request for the emulation scratch of `warps` warps using
    /// `slots` slots each: none on CUDA (1 element: ILGPU wants a non-empty request), 32·slots per warp elsewhere.</summary>
    public static int ScratchUInts(ILGPU.Runtime.Accelerator acc, int warps, int slots) =>
        acc is CudaAccelerator ? 1 : warps * slots * 32;

    /// <summary>Two fp32 values rounded to fp16 (round to nearest even on CUDA's cvt.rn) and packed: lo in bits 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Pack(float lo, float hi) => Bits(lo) | (Bits(hi) << 16);

    /// <summary>Two fp16 values (ILGPU.Half, e.g. from an fp16 weight view) packed: lo in bits 0..15.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Pack(Half lo, Half hi) => Interop.FloatAsInt(lo) | ((uint)Interop.FloatAsInt(hi) << 16);

    /// <summary>fp32 → fp16 bit pattern. ILGPU.Half (not System.Half, which ILGPU kernels cannot compile).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits(float x) => Interop.FloatAsInt((Half)x);

    /// <summary>The low fp16 of a packed pair, widened exactly to fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Lo(uint pair) => Interop.IntAsFloat((ushort)(pair & 0xFFFFu));

    /// <summary>The high fp16 of a packed pair, widened exactly to fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Hi(uint pair) => Interop.IntAsFloat((ushort)(pair >> 16));
}
