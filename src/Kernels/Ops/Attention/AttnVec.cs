using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Ops;

/// <summary>
/// The vector operations the softmax / attention kernels (and <see cref="VecExp"/>) are written against, so one generic
/// kernel source serves both paths: <see cref="AttnV256"/> (AVX2 + FMA intrinsics, exactly the instructions the kernels
/// used before they were generic) and <see cref="AttnV512"/> (the cross-platform Vector512 API: AVX-512 instructions where
/// the hardware has them, a software emulation elsewhere, which is how the tests check it on AVX2 machines).
/// Every member is a static abstract on a struct, so the JIT specialises each kernel per path and inlines these.
/// </summary>
internal unsafe interface IVecF<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TV Splat(float x);
    static abstract TV Load(float* p);
    static abstract void Store(float* p, TV v);
    /// <summary>Store to an address aligned to the vector size, bypassing the caches.</summary>
    static abstract void StoreStream(float* p, TV v);
    static abstract TV Broadcast(float* p);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    /// <summary>a·b + c, fused.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>c − a·b, fused.</summary>
    static abstract TV Fnma(TV a, TV b, TV c);
    /// <summary>max for non-NaN inputs (which operand a NaN yields is not specified).</summary>
    static abstract TV Max(TV a, TV b);
    /// <summary>min(hi, max(lo, x)), NaN lanes of x kept NaN.</summary>
    static abstract TV Clamp(TV x, TV lo, TV hi);
    /// <summary>p's bits plus t's bits shifted left by 23, as int32 lanes (adds an integer held in t's low mantissa bits
    /// to p's exponent).</summary>
    static abstract TV AddToExponent(TV p, TV t);
    /// <summary>0 where x &lt; lim, else e.</summary>
    static abstract TV ZeroWhereLess(TV x, TV lim, TV e);
    /// <summary>v in lanes [0, n), 0 in the others (0 ≤ n ≤ Count).</summary>
    static abstract TV KeepFirst(TV v, int n);
    /// <summary>v in lanes [0, n), −∞ in the others.</summary>
    static abstract TV KeepFirstElseNegInf(TV v, int n);
    static abstract float HSum(TV v);
    static abstract float HMax(TV v);
    /// <summary>Orders the streaming stores before later stores (no-op where not needed).</summary>
    static abstract void StoreFence();
}

/// <summary>256-bit path: AVX2 + FMA intrinsics (callers check <see cref="VecExp.IsSupported"/>).</summary>
internal readonly unsafe struct AttnV256 : IVecF<Vector256<float>>
{
    // A constant vector (not a static readonly field: no class-initialisation check in the kernels' loops).
    private static Vector256<int> Iota
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
    }

    public static int Count => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Avx.LoadVector256(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> v) => Avx.Store(p, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreStream(float* p, Vector256<float> v) => Avx.StoreAlignedNonTemporal(p, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float* p) => Avx.BroadcastScalarToVector256(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => Avx.Add(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => Avx.Subtract(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => Avx.Multiply(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Fnma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => System.Runtime.Intrinsics.X86.Fma.MultiplyAddNegated(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Avx.Max(a, b);
    // vmaxps/vminps return their second operand when either is NaN, so with x second NaN survives both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) => Avx.Min(hi, Avx.Max(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddToExponent(Vector256<float> p, Vector256<float> t) =>
        Avx2.Add(p.AsInt32(), Avx2.ShiftLeftLogical(t.AsInt32(), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ZeroWhereLess(Vector256<float> x, Vector256<float> lim, Vector256<float> e) => Avx.AndNot(Avx.CompareLessThan(x, lim), e);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> KeepFirst(Vector256<float> v, int n) => Avx.And(Avx2.CompareGreaterThan(Vector256.Create(n), Iota).AsSingle(), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> KeepFirstElseNegInf(Vector256<float> v, int n) =>
        Avx.BlendVariable(Vector256.Create(float.NegativeInfinity), v, Avx2.CompareGreaterThan(Vector256.Create(n), Iota).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector256<float> v)
    {
        var s = Sse.Add(v.GetLower(), v.GetUpper());
        s = Sse.Add(s, Sse.MoveHighToLow(s, s));
        s = Sse.AddScalar(s, Sse.Shuffle(s, s, 0b01));
        return s.ToScalar();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HMax(Vector256<float> v)
    {
        var s = Sse.Max(v.GetLower(), v.GetUpper());
        s = Sse.Max(s, Sse.MoveHighToLow(s, s));
        s = Sse.MaxScalar(s, Sse.Shuffle(s, s, 0b01));
        return s.ToScalar();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFence() => Sse.StoreFence();
}

/// <summary>
/// 512-bit path, cross-platform Vector512 API only (no Avx512F.* calls), so it runs — emulated — on any machine.
/// Where x86 semantics were relied on in <see cref="AttnV256"/> this states the behaviour explicitly instead:
/// MaxNative/MinNative (one vmaxps/vminps on AVX-512) with NaN restored by a select, since the NaN operand rule of the
/// native instructions is not part of the cross-platform contract.
/// </summary>
internal readonly unsafe struct AttnV512 : IVecF<Vector512<float>>
{
    private static Vector512<int> Iota
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    }

    public static int Count => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> v) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreStream(float* p, Vector512<float> v) => v.StoreAlignedNonTemporal(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float* p) => Vector512.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Fnma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(-a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Clamp(Vector512<float> x, Vector512<float> lo, Vector512<float> hi) =>
        Vector512.ConditionalSelect(Vector512.IsNaN(x), x, Vector512.MinNative(Vector512.MaxNative(x, lo), hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddToExponent(Vector512<float> p, Vector512<float> t) =>
        (p.AsInt32() + Vector512.ShiftLeft(t.AsInt32(), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ZeroWhereLess(Vector512<float> x, Vector512<float> lim, Vector512<float> e) =>
        Vector512.AndNot(e, Vector512.LessThan(x, lim));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> KeepFirst(Vector512<float> v, int n) => v & Vector512.GreaterThan(Vector512.Create(n), Iota).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> KeepFirstElseNegInf(Vector512<float> v, int n) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Create(n), Iota).AsSingle(), v, Vector512.Create(float.NegativeInfinity));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector512<float> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HMax(Vector512<float> v)
    {
        var m = Vector256.MaxNative(v.GetLower(), v.GetUpper());
        var m4 = Vector128.MaxNative(m.GetLower(), m.GetUpper());
        return MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
    }
    // Non-temporal stores are weakly ordered only on x86; elsewhere the runtime's StoreAlignedNonTemporal is an ordinary store.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFence() { if (Sse.IsSupported) Sse.StoreFence(); }
}
