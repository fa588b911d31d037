#!/usr/bin/env python3
"""Copies the structure of the tiny golden models into tests/PixelCost.Runtime.Tests/Golden/models/.

The models in ../shared/golden (diffusers 0.27.2, torch 1.13; see its README) are 3-10 MB each. Architecture
detection and `pixelcost inspect` only read names, dtypes, shapes and offsets, so the tests need only each file's
header: this script stores the exact header bytes of every weights file as <file>.header.json, plus config.json.
Tests rebuild each file as header + a sparse, zero-filled data section of the size the header declares
(tests/Shared/GoldenModels.cs), byte-identical to the original in everything but the weight values.

Run from the repository root: python3 tools/golden/extract_model_headers.py [path/to/shared/golden]
"""
import os
import shutil
import struct
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "golden")
OUT = os.path.join("tests", "PixelCost.Runtime.Tests", "Golden", "models")
MODELS = {
    "unet_sd1_tiny": ["diffusion_pytorch_model.safetensors", "ldm_checkpoint.safetensors"],
    "unet_sd2_tiny": ["diffusion_pytorch_model.safetensors", "ldm_checkpoint.safetensors"],
    "unet_sdxl_tiny": ["diffusion_pytorch_model.safetensors", "ldm_checkpoint.safetensors"],
    "vae_tiny": ["diffusion_pytorch_model.safetensors", "ldm_checkpoint.safetensors"],
    "clip_text_tiny": ["model.safetensors"],
}

for model, files in MODELS.items():
    os.makedirs(os.path.join(OUT, model), exist_ok=True)
    shutil.copyfile(os.path.join(SRC, model, "config.json"), os.path.join(OUT, model, "config.json"))
    for f in files:
        with open(os.path.join(SRC, model, f), "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = fh.read(n)
        with open(os.path.join(OUT, model, f + ".header.json"), "wb") as out:
            out.write(header)
        print(f"{model}/{f}: {n} header bytes")
