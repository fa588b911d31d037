#!/usr/bin/python3
"""Golden data for PixelCost's ops, computed by PyTorch.

Run from the repository root with Debian's torch (1.13, CPU):

    /usr/bin/python3 tools/golden/make_ops.py

Writes tests/PixelCost.Kernels.Tests/Golden/ops/<case>.safetensors, one file per case. Inputs are drawn in float32
(so our fp32 kernels see exactly the same numbers) and stored as F32; the op is computed by torch in float64 from
those values and the outputs are stored as F64, so the reference carries no fp32 rounding of its own. Every file's
__metadata__ holds the op, the case, its parameters, the seed and this script's name.

Seed: torch.manual_seed(SEED) is called before each case, so a case's inputs do not depend on which cases precede it.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SEED = 1234
SCRIPT = "tools/golden/make_ops.py"
OUT = os.path.join("tests", "PixelCost.Kernels.Tests", "Golden", "ops")

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def rnd(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale).contiguous()


def d(t):
    return t.to(torch.float64)


# --- GEMM / Linear ---------------------------------------------------------------------------------------------

@case
def gemm_nn():
    a, b = rnd(17, 33), rnd(33, 19)
    return "gemm", {"a": a, "b": b}, {"c": d(a) @ d(b)}, {"transA": False, "transB": False, "alpha": 1.0, "beta": 0.0}


@case
def gemm_nt():
    a, b = rnd(13, 40), rnd(21, 40)
    return "gemm", {"a": a, "b": b}, {"c": d(a) @ d(b).T}, {"transA": False, "transB": True, "alpha": 1.0, "beta": 0.0}


@case
def gemm_tn_alpha_beta():
    # a stored [K, M] (transA); c_in is the C that beta scales.
    a, b, c0 = rnd(29, 11), rnd(29, 9), rnd(11, 9)
    alpha, beta = 0.5, 2.0
    c = alpha * (d(a).T @ d(b)) + beta * d(c0)
    return "gemm", {"a": a, "b": b, "c_in": c0}, {"c": c}, {"transA": True, "transB": False, "alpha": alpha, "beta": beta}


@case
def gemm_batched():
    a, b = rnd(3, 9, 16), rnd(3, 16, 11)
    return "gemm", {"a": a, "b": b}, {"c": torch.matmul(d(a), d(b))}, {"transA": False, "transB": False, "alpha": 1.0, "beta": 0.0}


@case
def gemm_batched_broadcast_b():
    # rank-2 b broadcast over the batch of a
    a, b = rnd(2, 7, 20), rnd(20, 5)
    return "gemm", {"a": a, "b": b}, {"c": torch.matmul(d(a), d(b))}, {"transA": False, "transB": False, "alpha": 1.0, "beta": 0.0}


@case
def linear_bias():
    x, w, bias = rnd(2, 7, 24), rnd(37, 24, scale=0.2), rnd(37)
    return "linear", {"x": x, "w": w, "bias": bias}, {"y": F.linear(d(x), d(w), d(bias))}, {}


@case
def linear_nobias():
    x, w = rnd(5, 33), rnd(16, 33, scale=0.2)
    return "linear", {"x": x, "w": w}, {"y": F.linear(d(x), d(w))}, {}


# --- Conv2d ----------------------------------------------------------------------------------------------------

def _conv(n, cin, cout, h, wd, k, stride, padding, bias=True):
    x, w = rnd(n, cin, h, wd), rnd(cout, cin, k, k, scale=1.0 / math.sqrt(cin * k * k))
    ins = {"x": x, "w": w}
    b = None
    if bias:
        b = rnd(cout)
        ins["bias"] = b
    y = F.conv2d(d(x), d(w), None if b is None else d(b), stride=stride, padding=padding)
    return "conv2d", ins, {"y": y}, {"stride": stride, "padding": padding, "kernel": k}


@case
def conv2d_k1_s1_p0():
    return _conv(1, 5, 7, 9, 11, 1, 1, 0)


@case
def conv2d_k3_s1_p1():
    return _conv(2, 5, 7, 9, 11, 3, 1, 1)


@case
def conv2d_k3_s2_p1():
    return _conv(1, 5, 7, 9, 11, 3, 2, 1)


@case
def conv2d_k3_s1_p0_nobias():
    return _conv(1, 3, 4, 9, 11, 3, 1, 0, bias=False)


@case
def conv2d_k1_s2_p0():
    return _conv(1, 6, 3, 8, 7, 1, 2, 0)


# --- Norms -----------------------------------------------------------------------------------------------------

def _group_norm(groups, eps, fuse_silu=False, n=2, c=32, h=5, w=6):
    # offset mean and non-unit variance so the normalisation actually does something
    x = rnd(n, c, h, w, scale=3.0) + 1.5
    gamma, beta = 1.0 + rnd(c, scale=0.3), rnd(c, scale=0.5)
    y = F.group_norm(d(x), groups, d(gamma), d(beta), eps=eps)
    if fuse_silu:
        y = F.silu(y)
    return "group_norm", {"x": x, "gamma": gamma, "beta": beta}, {"y": y}, {"groups": groups, "eps": eps, "fuse_silu": fuse_silu}


@case
def group_norm_g32_eps1e5():
    return _group_norm(32, 1e-5)


@case
def group_norm_g4_eps1e6():
    return _group_norm(4, 1e-6)


@case
def group_norm_g1_eps1e5():
    return _group_norm(1, 1e-5)


@case
def group_norm_g32_eps1e6_silu():
    return _group_norm(32, 1e-6, fuse_silu=True)


@case
def group_norm_g4_c12_odd_spatial():
    return _group_norm(4, 1e-5, n=1, c=12, h=3, w=7)


@case
def layer_norm_affine():
    x = rnd(2, 9, 48, scale=2.0) - 0.7
    gamma, beta = 1.0 + rnd(48, scale=0.3), rnd(48, scale=0.5)
    y = F.layer_norm(d(x), (48,), d(gamma), d(beta), eps=1e-5)
    return "layer_norm", {"x": x, "gamma": gamma, "beta": beta}, {"y": y}, {"eps": 1e-5}


@case
def layer_norm_plain_eps1e6():
    x = rnd(7, 33, scale=0.5) + 3.0
    y = F.layer_norm(d(x), (33,), eps=1e-6)
    return "layer_norm", {"x": x}, {"y": y}, {"eps": 1e-6}


# --- Softmax / attention ---------------------------------------------------------------------------------------

@case
def softmax_rows():
    x = rnd(3, 5, 37, scale=3.0)
    return "softmax", {"x": x}, {"y": torch.softmax(d(x), dim=-1)}, {}


@case
def softmax_large_logits():
    # logits of ±100s: overflows exp() unless the row max is subtracted first
    x = rnd(4, 130, scale=60.0) + 200.0
    return "softmax", {"x": x}, {"y": torch.softmax(d(x), dim=-1)}, {}


def _attention(b, lq, lk, heads, dh, causal=False, scale=None):
    q, k, v = rnd(b, lq, heads * dh), rnd(b, lk, heads * dh), rnd(b, lk, heads * dh)
    s = 1.0 / math.sqrt(dh) if scale is None else scale
    # [B, L, H·D] -> [B, H, L, D]
    qh = d(q).view(b, lq, heads, dh).permute(0, 2, 1, 3)
    kh = d(k).view(b, lk, heads, dh).permute(0, 2, 1, 3)
    vh = d(v).view(b, lk, heads, dh).permute(0, 2, 1, 3)
    scores = torch.matmul(qh, kh.transpose(-1, -2)) * s
    if causal:
        mask = torch.triu(torch.ones(lq, lk, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    o = torch.matmul(p, vh).permute(0, 2, 1, 3).reshape(b, lq, heads * dh)
    params = {"heads": heads, "causal": causal, "scale": "default" if scale is None else scale, "head_dim": dh}
    return "attention", {"q": q, "k": k, "v": v}, {"o": o}, params


@case
def attention_self():
    return _attention(2, 13, 13, 2, 8)


@case
def attention_cross():
    return _attention(1, 17, 7, 3, 5)


@case
def attention_causal():
    return _attention(2, 11, 11, 3, 5, causal=True)


@case
def attention_self_scale():
    return _attention(1, 9, 9, 1, 12, scale=0.3)


@case
def attention_long_keys():
    # more keys than a typical tile (64) so a tiled/online softmax crosses tile boundaries
    return _attention(1, 5, 150, 2, 4)


# --- Elementwise -----------------------------------------------------------------------------------------------

@case
def silu():
    x = rnd(3, 67, scale=4.0)
    return "silu", {"x": x}, {"y": F.silu(d(x))}, {}


@case
def gelu_erf():
    x = rnd(3, 67, scale=4.0)
    return "gelu", {"x": x}, {"y": F.gelu(d(x), approximate="none")}, {"approximation": "erf"}


@case
def gelu_tanh():
    x = rnd(3, 67, scale=4.0)
    return "gelu", {"x": x}, {"y": F.gelu(d(x), approximate="tanh")}, {"approximation": "tanh"}


@case
def quick_gelu():
    x = rnd(3, 67, scale=4.0)
    xd = d(x)
    return "quick_gelu", {"x": x}, {"y": xd * torch.sigmoid(1.702 * xd)}, {}


@case
def geglu():
    x = rnd(2, 5, 38, scale=2.0)
    h, gate = d(x).chunk(2, dim=-1)
    return "geglu", {"x": x}, {"y": h * F.gelu(gate)}, {}


@case
def add():
    a, b = rnd(2, 3, 5, 7), rnd(2, 3, 5, 7)
    return "add", {"a": a, "b": b}, {"y": d(a) + d(b)}, {}


@case
def add_channel_bias():
    x, b = rnd(2, 3, 5, 7), rnd(2, 3)
    return "add_channel_bias", {"x": x, "b": b}, {"y": d(x) + d(b)[:, :, None, None]}, {}


@case
def scale():
    x = rnd(4, 33)
    s = 0.18215
    # s as the fp32 value the kernel receives, widened
    sd = float(torch.tensor(s, dtype=torch.float32).item())
    return "scale", {"x": x}, {"y": d(x) * sd}, {"s": s}


@case
def concat_channels():
    a, b = rnd(2, 3, 4, 5), rnd(2, 5, 4, 5)
    return "concat", {"a": a, "b": b}, {"y": torch.cat([d(a), d(b)], dim=1)}, {}


@case
def upsample_nearest_2x():
    x = rnd(2, 3, 5, 7)
    return "upsample_nearest_2x", {"x": x}, {"y": F.interpolate(d(x), scale_factor=2, mode="nearest")}, {}


# --- Timestep embedding (diffusers' get_timestep_embedding, from its definition) ---------------------------------

def get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift, max_period=10000.0):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float64) / (half - downscale_freq_shift)
    emb = t[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


@case
def timestep_embedding_sd():
    # SD 1.x settings: dim 320, flip_sin_to_cos True, shift 0
    t = torch.tensor([0.0, 1.0, 261.0, 999.0], dtype=torch.float32)
    y = get_timestep_embedding(d(t), 320, True, 0.0)
    return "timestep_embedding", {"t": t}, {"y": y}, {"dim": 320, "flip_sin_to_cos": True, "downscale_freq_shift": 0.0, "max_period": 10000.0}


@case
def timestep_embedding_odd():
    t = torch.tensor([3.0, 47.5, 500.0], dtype=torch.float32)
    y = get_timestep_embedding(d(t), 33, False, 1.0)
    return "timestep_embedding", {"t": t}, {"y": y}, {"dim": 33, "flip_sin_to_cos": False, "downscale_freq_shift": 1.0, "max_period": 10000.0}


def fmt(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def main():
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for fn in CASES:
        torch.manual_seed(SEED)
        op, ins, outs, params = fn()
        for name, t in ins.items():
            assert t.dtype == torch.float32, name
        tensors = dict(ins)
        for name, t in outs.items():
            assert t.dtype == torch.float64, name
            tensors[name] = t
        meta = {"op": op, "case": fn.__name__, "seed": SEED, "script": SCRIPT, "torch": torch.__version__,
                "inputs": ",".join(ins), "outputs": ",".join(outs)}
        meta.update({k: fmt(v) for k, v in params.items()})
        path = os.path.join(OUT, fn.__name__ + ".safetensors")
        safetensors_io.save(path, tensors, meta)
        total += os.path.getsize(path)
        print(f"{path}: {op} {', '.join(f'{k}{list(v.shape)}' for k, v in tensors.items())}")
    print(f"{len(CASES)} files, {total} bytes")


if __name__ == "__main__":
    main()
