#!/usr/bin/env python3
"""Writes src/Kernels/Ops/Attention/AttentionTiledKernels.g.cs: the tiled online-softmax attention kernel (fp32 SIMT),
one instance per head-dim capacity (128 * NC dims).

One 128-thread group per (batch*head, 16-query tile). Per 32-key tile: the 16x32 scores are accumulated over 32-dim
chunks of q and k staged in shared memory (thread t owns query row t/8 and keys t%8 + 8u, u < 4); each warp then runs
the online softmax of four query rows with one key per lane (shuffle max/sum); finally thread t adds P.V for head dims
t + 128c (c < NC) of all 16 query rows. Those 16*NC output accumulators stay in registers for the whole key loop:
ILGPU keeps only scalar locals in registers, so they are written out here, never hand-copied.

Run: python3 tools/codegen/attention_tiled.py   (from the repository root)
"""
import os

# (NC, RS): thread t owns head dims t % DT + DT*c (c < NC, DT = 128/RS) of query rows (t / DT)*RPT + r (r < RPT = 16/RS).
# RS = 2 for head dims <= 64 keeps all 128 threads busy in the P.V step (SD 1.5's 40, SD 2.x/SDXL's 64).
CONFIGS = [(1, 2), (1, 1), (2, 1), (4, 1)]   # head dims up to 64, 128, 256, 512
BQ, BKEYS = 16, 32
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "src", "Kernels", "Ops", "Attention", "AttentionTiledKernels.g.cs")


def kernel(nc, rs):
    dt, rpt = 128 // rs, BQ // rs
    cap = dt * nc
    L = []
    w = L.append
    w(f"    /// <summary>Tiled online-softmax attention for head dims ≤ {cap}. Grid (⌈Lq/16⌉, B·heads), 128 threads.</summary>")
    w("    [IlgpuKernel(KernelGrouping.Explicit)]")
    w(f"    internal static void TiledD{cap}(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttnArgs p)")
    w("    {")
    w(f"        var sQ = SharedMemory.Allocate<float>({BQ * 33});")
    w(f"        var sK = SharedMemory.Allocate<float>({BKEYS * 33});")
    w(f"        var sS = SharedMemory.Allocate<float>({BQ * 33});   // scores, then probabilities")
    w(f"        var sM = SharedMemory.Allocate<float>({BQ});")
    w(f"        var sL = SharedMemory.Allocate<float>({BQ});")
    w(f"        var sC = SharedMemory.Allocate<float>({BQ});")
    w("        int t = Group.IdxX, lane = t & 31, warp = t >> 5;")
    w(f"        int q0 = Grid.IdxX * {BQ}, z = Grid.IdxY, bi = z / p.Heads, h = z - bi * p.Heads;")
    w("        long qb = (long)bi * p.Lq * p.C + (long)h * p.D, kb = (long)bi * p.Lk * p.C + (long)h * p.D;")
    w(f"        if (t < {BQ}) {{ sM[t] = float.NegativeInfinity; sL[t] = 0f; }}")
    w("        int sr = t >> 3, sj = t & 7;   // score ownership: query row sr, keys sj + 8u")
    w(f"        int rb = {'0' if rs == 1 else f'(t / {dt}) * {rpt}'}, dl = {'t' if rs == 1 else f't % {dt}'};   // P.V ownership: rows rb + r, dims dl + {dt}c")
    for c in range(nc):
        w(f"        int d{c} = dl + {dt * c};")
    for c in range(nc):
        w("        float " + ", ".join(f"o{c}_{r} = 0f" for r in range(rpt)) + ";")
    w(f"        int kEnd = p.Causal != 0 ? XMath.Min(p.Lk, q0 + {BQ}) : p.Lk;")
    w(f"        for (int k0 = 0; k0 < kEnd; k0 += {BKEYS})")
    w("        {")
    w("            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;")
    w("            for (int e0 = 0; e0 < p.D; e0 += 32)")
    w("            {")
    w("                AttnTiles.LoadChunks(q, k, qb, kb, p, q0, k0, e0, sQ, sK, t);")
    w("                Group.Barrier();")
    w("                int dims = XMath.Min(32, p.D - e0);")
    w("                for (int e = 0; e < dims; e++)")
    w("                {")
    w("                    float qv = sQ[sr * 33 + e];")
    w(f"                    var ke = sK.SubView(sj * 33 + e, {BKEYS * 33} - sj * 33 - e);   // constant offsets below")
    for u in range(4):
        w(f"                    s{u} += qv * ke[{8 * 33 * u}];")
    w("                }")
    w("                Group.Barrier();")
    w("            }")
    for u in range(4):
        w(f"            sS[sr * 33 + sj + {8 * u}] = AttnTiles.Masked(s{u} * p.Scale, q0 + sr, k0 + sj + {8 * u}, p);")
    w("            Group.Barrier();")
    w(f"            for (int rr = 0; rr < {BQ // 4}; rr++) AttnTiles.OnlineSoftmaxRow(sS, sM, sL, sC, warp * {BQ // 4} + rr, lane);")
    w("            Group.Barrier();")
    for c in range(nc):
        w(f"            if (d{c} < p.D)")
        w("            {")
        w(f"                var cr = sC.SubView(rb, {BQ} - rb);")
        for r in range(rpt):
            w(f"                o{c}_{r} *= cr[{r}];")
        w(f"                int keys = XMath.Min({BKEYS}, p.Lk - k0);")
        w(f"                long vp = kb + (long)k0 * p.C + d{c};")
        w("                for (int j = 0; j < keys; j++)")
        w("                {")
        w("                    float vj = v[vp + (long)j * p.C];")
        w(f"                    var pj = sS.SubView(rb * 33 + j, {BQ * 33} - rb * 33 - j);   // probabilities of key j at constant offsets")
        for r in range(rpt):
            w(f"                    o{c}_{r} += pj[{r * 33}] * vj;")
        w("                }")
        w("            }")
    w("            Group.Barrier();")
    w("        }")
    for c in range(nc):
        w(f"        if (d{c} < p.D)")
        w("        {")
        for r in range(rpt):
            w(f"            if (q0 + rb + {r} < p.Lq) o[qb + (long)(q0 + rb + {r}) * p.C + d{c}] = o{c}_{r} / sL[rb + {r}];")
        w("        }")
    w("    }")
    return "\n".join(L)


def main():
    parts = [
        "// <auto-generated> by tools/codegen/attention_tiled.py — edit the generator, not this file. </auto-generated>",
        "using ILGPU;",
        "using PixelCost.Kernels.Ilgpu;",
        "using ILGPU.Algorithms;",
        "",
        "namespace PixelCost.Kernels;",
        "",
        "internal static partial class AttentionTiledKernels",
        "{",
        "\n\n".join(kernel(nc, rs) for nc, rs in CONFIGS),
        "}",
    ]
    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
