#!/usr/bin/python3
"""A safetensors fixture with one tensor per dtype, for the reader's tests.

Run from the repository root: /usr/bin/python3 tools/golden/make_safetensors.py
Writes tests/PixelCost.Runtime.Tests/Golden/safetensors/dtypes.safetensors. For each tensor `<name>` of a narrow or
integer dtype, `<name>.as_f64` holds the same values widened by torch (`.to(torch.float64)`), so the test checks our
widening against torch's instead of against numbers we typed. Seed: torch.manual_seed(SEED).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SEED = 4321
OUT = os.path.join("tests", "PixelCost.Runtime.Tests", "Golden", "safetensors", "dtypes.safetensors")


def main():
    torch.manual_seed(SEED)
    base = torch.randn(3, 5, dtype=torch.float64) * 10
    t = {
        "f64": base,
        "f32": base.to(torch.float32),
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "i64": torch.randint(-2**40, 2**40, (4,), dtype=torch.int64),
        "i32": torch.randint(-100000, 100000, (2, 3), dtype=torch.int32),
        "u8": torch.randint(0, 256, (7,), dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
        # a layer-like name with dots, as checkpoints have
        "model.layers.0.weight": torch.randn(2, 2, 1, 1, dtype=torch.float32),
    }
    for name in ["f32", "f16", "bf16", "i64", "i32", "u8", "bool"]:
        t[name + ".as_f64"] = t[name].to(torch.float64)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    safetensors_io.save(OUT, t, {"format": "pt", "seed": SEED, "script": "tools/golden/make_safetensors.py",
                                 "torch": torch.__version__})
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
