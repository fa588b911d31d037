#!/usr/bin/env python3
"""Golden data for the norm / activation / glue ops, from PyTorch (CPU, fp32), seed 1234.

Run: /usr/bin/python3 tools/golden/norms_elementwise.py > tests/PixelCost.Kernels.Tests/Golden/norms_elementwise.json
The timestep embedding is written here from diffusers' documented formula
(exponent = -ln(max_period)·arange(half)/(half - shift); emb = t[:, None]·exp(exponent); cat[sin, cos]; flip; pad).
"""
import json
import math
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
out = {}


def put(name, **tensors):
    out[name] = {k: {"shape": list(v.shape), "data": [float(f) for f in v.reshape(-1).tolist()]} for k, v in tensors.items()}


x = torch.randn(2, 6, 3, 5) * 2 + 0.5
g = torch.randn(6) * 0.5 + 1
b = torch.randn(6) * 0.5
put("group_norm_g3_eps1e-5", x=x, gamma=g, beta=b, y=F.group_norm(x, 3, g, b, eps=1e-5))
put("group_norm_silu_g2_eps1e-6", x=x, gamma=g, beta=b, y=F.silu(F.group_norm(x, 2, g, b, eps=1e-6)))

xl = torch.randn(3, 17) * 3 - 1
gl = torch.randn(17) * 0.5 + 1
bl = torch.randn(17) * 0.5
put("layer_norm_eps1e-5", x=xl, gamma=gl, beta=bl, y=F.layer_norm(xl, (17,), gl, bl, eps=1e-5))

xa = torch.randn(37) * 4
put("silu", x=xa, y=F.silu(xa))
put("gelu_erf", x=xa, y=F.gelu(xa))
put("gelu_tanh", x=xa, y=F.gelu(xa, approximate="tanh"))
put("quick_gelu", x=xa, y=xa * torch.sigmoid(1.702 * xa))

xg = torch.randn(3, 2 * 11) * 3
hidden, gate = xg.chunk(2, dim=-1)
put("geglu", x=xg, y=hidden * F.gelu(gate))


def timestep_embedding(t, dim, flip, shift, max_period=10000):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


t = torch.tensor([999.0, 501.0, 1.0])
put("timestep_320_flip_shift0", t=t, y=timestep_embedding(t, 320, True, 0))
put("timestep_7_noflip_shift1", t=t, y=timestep_embedding(t, 7, False, 1))

print(json.dumps(out))
