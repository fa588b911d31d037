using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace PixelCost.Runtime.Safetensors;

/// <summary>
/// Widening of 16-bit float weights to fp32 on load (DESIGN §5). Both widenings are exact: every F16 and BF16 value,
/// NaNs and subnormals included, is representable in fp32.
/// </summary>
public static class FloatWidening
{
    /// <summary>F16 → F32 with <see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/> (vectorised there).</summary>
    public static void HalfToSingle(ReadOnlySpan<Half> src, Span<float> dst)
    {
        if (dst.Length != src.Length)
            throw new ArgumentException($"F16 → F32: source holds {src.Length} values, destination {dst.Length}");
        TensorPrimitives.ConvertToSingle(src, dst);
    }

    /// <summary>BF16 (raw 16-bit patterns) → F32, using the widest vector path the hardware runs natively.</summary>
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> src, Span<float> dst) =>
        BFloat16ToSingle(src, dst, Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 0);

    /// <summary>
    /// BF16 → F32 on a chosen path: 512, 256 or 0 (scalar). A bf16 is the top half of an fp32, so widening is a
    /// zero-extension to 32 bits and a shift left by 16 — exact, NaN payloads kept. Forcing 512 on hardware without
    /// AVX-512 still runs (.NET emulates Vector512), which is how tests check that path on any machine.
    /// </summary>
    internal static void BFloat16ToSingle(ReadOnlySpan<ushort> src, Span<float> dst, int vectorBits)
    {
        if (dst.Length != src.Length)
            throw new ArgumentException($"BF16 → F32: source holds {src.Length} values, destination {dst.Length}");
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(dst));
        int n = src.Length, i = 0;
        if (vectorBits == 512)
        {
            // 32 bf16 in, two vectors of 16 fp32 out
            for (; i <= n - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
                Vector512.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector512.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)(i + Vector512<uint>.Count));
            }
        }
        if (vectorBits >= 256)
        {
            for (; i <= n - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)(i + Vector256<uint>.Count));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref d, i) = (uint)Unsafe.Add(ref s, i) << 16;
    }

    /// <summary>The scalar definition the vector paths are tested against.</summary>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
}
