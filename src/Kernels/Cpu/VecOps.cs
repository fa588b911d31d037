using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelCost.Kernels.Cpu;

/// <summary>
/// The float-vector operations our SIMD math and streaming kernels need, as static abstracts so one generic kernel
/// serves both widths: <see cref="V256"/> (8 lanes) and <see cref="V512"/> (16 lanes). The type arguments are structs,
/// so the JIT compiles one specialised copy per width and inlines every call (no interface dispatch at run time).
/// Integer operations work on the float vector's bits (the exp range reduction builds 2^n in the exponent field).
/// </summary>
public unsafe interface IVec<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Splat(float c);
    static abstract TV Zero { get; }
    static abstract TV One { get; }
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Neg(TV a);
    static abstract TV Abs(TV a);
    /// <summary>a·b + c, fused.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>The hardware min/max: when either input is NaN the result is unspecified (not necessarily NaN).</summary>
    static abstract TV Min(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV And(TV a, TV b);
    static abstract TV Or(TV a, TV b);
    /// <summary>a &amp; ~b.</summary>
    static abstract TV AndNot(TV a, TV b);
    static abstract TV Select(TV mask, TV ifTrue, TV ifFalse);
    static abstract TV Equal(TV a, TV b);
    static abstract TV Less(TV a, TV b);
    static abstract TV Greater(TV a, TV b);
    static abstract TV GreaterOrEqual(TV a, TV b);
    static abstract float Sum(TV a);
    static abstract float First(TV a);
    /// <summary>The int32 lanes' bits as a vector.</summary>
    static abstract TV SplatInt(int c);
    static abstract TV AddInt(TV a, TV b);
    static abstract TV SubInt(TV a, TV b);
    static abstract TV ShiftLeftInt(TV a, int bits);
    static abstract TV ShiftRightArithmeticInt(TV a, int bits);
    static abstract TV ShiftRightLogicalInt(TV a, int bits);
    static abstract TV Xor(TV a, TV b);
    /// <summary>Round to nearest, ties to even.</summary>
    static abstract TV Round(TV a);
    /// <summary>int32 lanes (bits) → float.</summary>
    static abstract TV IntToFloat(TV a);
    /// <summary>float → int32 lanes (bits), truncating; callers pass integral values.</summary>
    static abstract TV FloatToInt(TV a);
    // ---- for the softmax / attention micro-kernels ----
    /// <summary>Store to an address aligned to the vector size, bypassing the caches.</summary>
    static abstract void StoreStream(TV v, float* p);
    /// <summary>*p in every lane (a broadcast load).</summary>
    static abstract TV Broadcast(float* p);
    /// <summary>c − a·b, fused.</summary>
    static abstract TV Fnma(TV a, TV b, TV c);
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
    /// <summary>Horizontal sum in a fixed order (halves, then pairs): the attention/softmax row sums.</summary>
    static abstract float HSum(TV v);
    static abstract float HMax(TV v);
    /// <summary>Orders the streaming stores before later stores (no-op where not needed).</summary>
    static abstract void StoreFence();
}

/// <summary>Vector256: lowered to AVX2/FMA here (the path that runs on this machine).</summary>
public readonly unsafe struct V256 : IVec<Vector256<float>>
{
    public static int Count => 8;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float c) => Vector256.Create(c);
    public static Vector256<float> Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256<float>.Zero; }
    public static Vector256<float> One { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256<float>.One; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Neg(Vector256<float> a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    // vminps/vmaxps (NaN in either input gives the second operand), as round 1 had it; MinNative elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Avx.IsSupported ? Avx.Min(a, b) : Vector256.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Avx.IsSupported ? Avx.Max(a, b) : Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> And(Vector256<float> a, Vector256<float> b) => a & b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> AndNot(Vector256<float> a, Vector256<float> b) => Vector256.AndNot(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> m, Vector256<float> t, Vector256<float> f) => Vector256.ConditionalSelect(m, t, f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equal(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Less(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Greater(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GreaterOrEqual(Vector256<float> a, Vector256<float> b) => Vector256.GreaterThanOrEqual(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> a) => Vector256.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float First(Vector256<float> a) => a.ToScalar();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> SplatInt(int c) => Vector256.Create(c).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddInt(Vector256<float> a, Vector256<float> b) => (a.AsInt32() + b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SubInt(Vector256<float> a, Vector256<float> b) => (a.AsInt32() - b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ShiftLeftInt(Vector256<float> a, int bits) => (a.AsInt32() << bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ShiftRightArithmeticInt(Vector256<float> a, int bits) => (a.AsInt32() >> bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ShiftRightLogicalInt(Vector256<float> a, int bits) => Vector256.ShiftRightLogical(a.AsInt32(), bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Xor(Vector256<float> a, Vector256<float> b) => a ^ b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> a) => Vector256.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> IntToFloat(Vector256<float> a) => Vector256.ConvertToSingle(a.AsInt32());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> FloatToInt(Vector256<float> a) => Vector256.ConvertToInt32(a).AsSingle();
    // A constant vector (not a static readonly field: no class-initialisation check in the kernels' loops).
    private static Vector256<int> Iota
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStream(Vector256<float> v, float* p) { if (Avx.IsSupported) Avx.StoreAlignedNonTemporal(p, v); else v.StoreAlignedNonTemporal(p); }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float* p) => Avx.IsSupported ? Avx.BroadcastScalarToVector256(p) : Vector256.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fnma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAddNegated(a, b, c) : Vector256.FusedMultiplyAdd(-a, b, c);
    // vmaxps/vminps return their second operand when either is NaN, so with x second NaN survives both.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) => Avx.IsSupported
        ? Avx.Min(hi, Avx.Max(lo, x))
        : Vector256.ConditionalSelect(Vector256.IsNaN(x), x, Vector256.MinNative(Vector256.MaxNative(x, lo), hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddToExponent(Vector256<float> p, Vector256<float> t) =>
        (p.AsInt32() + Vector256.ShiftLeft(t.AsInt32(), 23)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ZeroWhereLess(Vector256<float> x, Vector256<float> lim, Vector256<float> e) =>
        Vector256.AndNot(e, Vector256.LessThan(x, lim));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> KeepFirst(Vector256<float> v, int n) => v & Vector256.GreaterThan(Vector256.Create(n), Iota).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> KeepFirstElseNegInf(Vector256<float> v, int n) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Create(n), Iota).AsSingle(), v, Vector256.Create(float.NegativeInfinity));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum(Vector256<float> v)
    {
        if (Sse.IsSupported)
        {
            var h = Sse.Add(v.GetLower(), v.GetUpper());
            h = Sse.Add(h, Sse.MoveHighToLow(h, h));
            h = Sse.AddScalar(h, Sse.Shuffle(h, h, 0b01));
            return h.ToScalar();
        }
        var s = v.GetLower() + v.GetUpper();
        return (s[0] + s[2]) + (s[1] + s[3]);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HMax(Vector256<float> v)
    {
        if (Sse.IsSupported)
        {
            var s = Sse.Max(v.GetLower(), v.GetUpper());
            s = Sse.Max(s, Sse.MoveHighToLow(s, s));
            s = Sse.MaxScalar(s, Sse.Shuffle(s, s, 0b01));
            return s.ToScalar();
        }
        var m = Vector128.MaxNative(v.GetLower(), v.GetUpper());
        return MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreFence() { if (Sse.IsSupported) Sse.StoreFence(); }
}

/// <summary>
/// Vector512 through the cross-platform API only (no Avx512F.*): AVX-512 instructions where the hardware has them,
/// software emulation elsewhere — which is how the tests check this path on AVX2 machines.
/// </summary>
public readonly unsafe struct V512 : IVec<Vector512<float>>
{
    public static int Count => 16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float c) => Vector512.Create(c);
    public static Vector512<float> Zero { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<float>.Zero; }
    public static Vector512<float> One { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512<float>.One; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Neg(Vector512<float> a) => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Abs(Vector512<float> a) => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    // MinNative/MaxNative: vminps/vmaxps on AVX-512 (no IEEE NaN fix-up); callers never rely on the NaN case.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.MinNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> And(Vector512<float> a, Vector512<float> b) => a & b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> AndNot(Vector512<float> a, Vector512<float> b) => Vector512.AndNot(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> m, Vector512<float> t, Vector512<float> f) => Vector512.ConditionalSelect(m, t, f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Equal(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Less(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Greater(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GreaterOrEqual(Vector512<float> a, Vector512<float> b) => Vector512.GreaterThanOrEqual(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> a) => Vector512.Sum(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float First(Vector512<float> a) => a.ToScalar();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> SplatInt(int c) => Vector512.Create(c).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddInt(Vector512<float> a, Vector512<float> b) => (a.AsInt32() + b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SubInt(Vector512<float> a, Vector512<float> b) => (a.AsInt32() - b.AsInt32()).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ShiftLeftInt(Vector512<float> a, int bits) => (a.AsInt32() << bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ShiftRightArithmeticInt(Vector512<float> a, int bits) => (a.AsInt32() >> bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ShiftRightLogicalInt(Vector512<float> a, int bits) => Vector512.ShiftRightLogical(a.AsInt32(), bits).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Xor(Vector512<float> a, Vector512<float> b) => a ^ b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> a) => Vector512.Round(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> IntToFloat(Vector512<float> a) => Vector512.ConvertToSingle(a.AsInt32());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> FloatToInt(Vector512<float> a) => Vector512.ConvertToInt32(a).AsSingle();
    private static Vector512<int> Iota
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] get => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreStream(Vector512<float> v, float* p) => v.StoreAlignedNonTemporal(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float* p) => Vector512.Create(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fnma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(-a, b, c);
    // MaxNative/MinNative (one vmaxps/vminps on AVX-512) with NaN restored by a select: the NaN operand rule of the
    // native instructions is not part of the cross-platform contract.
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float HSum(Vector512<float> v) => Vector512.Sum(v);
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
