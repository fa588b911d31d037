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
}
