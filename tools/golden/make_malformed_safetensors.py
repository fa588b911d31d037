#!/usr/bin/env python3
"""Writes the malformed-checkpoint suite: tests/PixelCost.Runtime.Tests/Golden/malformed/.

Standard library only (no torch, no safetensors package). Each case is one corruption of the safetensors format
(8-byte little-endian header length, JSON header, data section), of a sharded index, or a pickle/zip checkpoint.
cases.json lists every case with the text its error message must contain and the tensor it must name (null when no
single tensor is at fault). Deterministic: rerunning reproduces the files byte for byte.

Run from the repository root: python3 tools/golden/make_malformed_safetensors.py
"""
import json
import os
import struct
import zipfile

OUT = os.path.join("tests", "PixelCost.Runtime.Tests", "Golden", "malformed")
cases = []


def raw(name, header_bytes, data=b"", header_len=None):
    """A file: 8-byte LE length (the true one unless given), header bytes, data."""
    n = len(header_bytes) if header_len is None else header_len
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", n) + header_bytes + data)


def st(name, header, data=b"", **kw):
    raw(name, header.encode("utf-8") if isinstance(header, str) else header, data, **kw)


def case(name, expect, tensor=None, why=""):
    cases.append({"file": name, "expect": expect, "tensor": tensor, "why": why})


def tensor(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def hdr(d):
    return json.dumps(d, separators=(",", ":"))


def good_file(name, tensors):
    """A valid file: tensors = [(name, n_floats)], F32 zeros."""
    h, off = {}, 0
    for t, n in tensors:
        h[t] = tensor("F32", (n,), (off, off + 4 * n))
        off += 4 * n
    st(name, hdr(h), bytes(off))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    w8 = bytes(8)

    # --- the length field and the header as a whole
    with open(os.path.join(OUT, "truncated_length.safetensors"), "wb") as f:
        f.write(b"\x10\x00\x00")
    case("truncated_length.safetensors", "truncated", why="3 bytes: not even the 8-byte header length")
    st("header_beyond_file.safetensors", '{"w":', header_len=1000)
    case("header_beyond_file.safetensors", "exceeds", why="header length 1000, 5 header bytes present")
    st("header_length_2pow63.safetensors", "{}", header_len=1 << 63)
    case("header_length_2pow63.safetensors", "9223372036854775808", why="must not allocate 2^63 bytes")
    st("header_length_zero.safetensors", "", w8, header_len=0)
    case("header_length_zero.safetensors", "too short", why="empty header (length 0)")
    st("invalid_json.safetensors", '{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]', w8)
    case("invalid_json.safetensors", "not valid JSON", why="unterminated object")
    st("json_array.safetensors", "[1, 2, 3]")
    case("json_array.safetensors", "not an object", why="header is a JSON array")
    st("json_nested_too_deep.safetensors", "[" * 5000 + "]" * 5000)
    case("json_nested_too_deep.safetensors", "not valid JSON", why="5000-deep nesting: depth limit, bounded time")
    st("header_not_utf8.safetensors", b'{"w\xff\xfe":' + hdr(tensor()).encode() + b"}", w8)
    case("header_not_utf8.safetensors", "UTF-8", why="bytes 0xFF 0xFE in a tensor name")
    st("metadata_not_strings.safetensors", hdr({"__metadata__": {"format": "pt", "step": 7}, "w": tensor()}), w8)
    case("metadata_not_strings.safetensors", "__metadata__", why="metadata value is a number")
    st("metadata_not_object.safetensors", hdr({"__metadata__": ["pt"], "w": tensor()}), w8)
    case("metadata_not_object.safetensors", "__metadata__", why="metadata is an array")

    # --- one tensor's entry
    st("unknown_dtype.safetensors", hdr({"w": tensor("F7")}), w8)
    case("unknown_dtype.safetensors", "F7", "w", "dtype F7")
    st("dtype_not_string.safetensors", hdr({"w": {"dtype": 32, "shape": [2], "data_offsets": [0, 8]}}), w8)
    case("dtype_not_string.safetensors", "dtype", "w", "dtype is a number")
    st("negative_dim.safetensors", hdr({"w": tensor(shape=(-2,))}), w8)
    case("negative_dim.safetensors", "dimension", "w", "shape [-2]")
    st("shape_not_array.safetensors", hdr({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}), w8)
    case("shape_not_array.safetensors", "shape", "w", "shape is a string")
    st("shape_overflow.safetensors", hdr({"w": tensor("F64", (2147483647,) * 3)}), w8)
    case("shape_overflow.safetensors", "64 bits", "w", "element count overflows 64 bits")
    st("size_mismatch.safetensors", hdr({"w": tensor(shape=(3,))}), w8)
    case("size_mismatch.safetensors", "mismatch", "w", "[3] F32 needs 12 bytes, offsets hold 8")
    st("entry_not_object.safetensors", hdr({"w": [0, 8]}), w8)
    case("entry_not_object.safetensors", "not an object", "w", "tensor entry is an array")
    st("missing_offsets.safetensors", hdr({"w": {"dtype": "F32", "shape": [2]}}), w8)
    case("missing_offsets.safetensors", "data_offsets", "w", "no data_offsets")
    st("offsets_out_of_range.safetensors", hdr({"w": tensor(offsets=(0, 64))}), w8)
    case("offsets_out_of_range.safetensors", "beyond", "w", "end 64 past an 8-byte data section")
    st("offsets_reversed.safetensors", hdr({"w": tensor(offsets=(8, 0))}), w8)
    case("offsets_reversed.safetensors", "begin after", "w", "[8, 0]")
    st("offsets_negative.safetensors", hdr({"w": tensor(offsets=(-8, 0))}), w8)
    case("offsets_negative.safetensors", "non-negative", "w", "[-8, 0]")
    st("offsets_fractional.safetensors", '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8]}}', w8)
    case("offsets_fractional.safetensors", "non-negative integers", "w", "[0.5, 8]")
    st("overlapping.safetensors", hdr({"a": tensor(offsets=(0, 8)), "b": tensor(offsets=(4, 12))}), bytes(12))
    case("overlapping.safetensors", "overlap", "b", "b's bytes [4,12) overlap a's [0,8)")
    st("duplicate_names.safetensors",
       '{"a":' + hdr(tensor("F32", (1,), (0, 4))) + ',"a":' + hdr(tensor("F32", (1,), (4, 8))) + "}", w8)
    case("duplicate_names.safetensors", "twice", "a", "tensor a listed twice")
    st("data_truncated.safetensors", hdr({"a": tensor(offsets=(0, 8)), "b": tensor("F32", (3,), (8, 20))}), bytes(16))
    case("data_truncated.safetensors", "beyond", "b", "data section cut 4 bytes short")

    # --- not safetensors at all
    pickle = b"\x80\x02}q\x00(X\x06\x00\x00\x00weightq\x01K\x01u."   # protocol 2: {'weight': 1}
    with open(os.path.join(OUT, "pytorch_model.bin"), "wb") as f:
        f.write(pickle)
    case("pytorch_model.bin", "never unpickles", why="a pickle")
    with open(os.path.join(OUT, "pickle_named_safetensors.safetensors"), "wb") as f:
        f.write(pickle)
    case("pickle_named_safetensors.safetensors", "pickle", why="a pickle with a .safetensors name: caught by its magic")
    with zipfile.ZipFile(os.path.join(OUT, "model.ckpt"), "w", compression=zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo("archive/data.pkl", date_time=(2020, 1, 1, 0, 0, 0))
        z.writestr(info, pickle)
    case("model.ckpt", "never unpickles", why="torch.save's zip format")

    # --- sharded checkpoints
    good_file("shard_a.safetensors", [("a.weight", 2)])
    good_file("shard_b.safetensors", [("b.weight", 3)])

    def index(name, obj, text=None):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write(text if text is not None else json.dumps(obj, indent=1))

    index("missing_shard.safetensors.index.json",
          {"metadata": {"total_size": 20}, "weight_map": {"a.weight": "shard_a.safetensors", "b.weight": "shard_gone.safetensors"}})
    case("missing_shard.safetensors.index.json", "does not exist", "b.weight", "names a shard that is not there")
    index("no_weight_map.safetensors.index.json", {"metadata": {"total_size": 20}})
    case("no_weight_map.safetensors.index.json", "weight_map", why="no weight_map")
    index("tensor_not_in_shard.safetensors.index.json",
          {"weight_map": {"a.weight": "shard_a.safetensors", "c.weight": "shard_b.safetensors"}})
    case("tensor_not_in_shard.safetensors.index.json", "does not contain", "c.weight", "c.weight is not in shard_b")
    index("index_invalid_json.safetensors.index.json", None, '{"weight_map": {"a.weight": ')
    case("index_invalid_json.safetensors.index.json", "not valid JSON", why="cut short")
    index("shard_outside_folder.safetensors.index.json", {"weight_map": {"a.weight": "../shard_a.safetensors"}})
    case("shard_outside_folder.safetensors.index.json", "not a file name beside the index", "a.weight", "shard path with ..")
    index("shard_malformed.safetensors.index.json",
          {"weight_map": {"a.weight": "shard_a.safetensors", "w": "size_mismatch.safetensors"}})
    case("shard_malformed.safetensors.index.json", "mismatch", "w", "the shard itself is malformed")
    index("weight_map_not_strings.safetensors.index.json", {"weight_map": {"a.weight": 1}})
    case("weight_map_not_strings.safetensors.index.json", "not a shard file name", "a.weight", "shard is a number")

    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"script": "tools/golden/make_malformed_safetensors.py", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
