"""Minimal safetensors writer (the `safetensors` package is not installed on the build machine).

Format: 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...},
then the raw little-endian tensor data; offsets are relative to the start of the data section. The header is
padded with spaces so the data section starts on an 8-byte boundary (allowed by the format).
"""
import json
import struct
import sys

import torch

_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if sys.byteorder != "little":
        raise RuntimeError("this writer assumes a little-endian host")
    if t.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the same 2-byte pattern as int16.
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save(path: str, tensors: dict, metadata: dict) -> None:
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name in tensors:  # insertion order = data order
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
