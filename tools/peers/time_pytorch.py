#!/usr/bin/python3
"""Times PyTorch + diffusers on the graphs `pixelcost bench unet --model sd15 --vae` times: the yardstick for our CPU path.

What it runs (fp32, CPU, batch 1, torch.no_grad):
  - diffusers' UNet2DConditionModel with the SD 1.5 config (random weights from the constructor's own init):
    sample [1,4,64,64] (a 512² image), timestep 999, encoder_hidden_states [1,77,768];
  - diffusers' AutoencoderKL with the SD 1.5 VAE config, decode() of a [1,4,64,64] latent → [1,3,512,512]
    (post_quant_conv + decoder, as ours).
One warm-up call, then --rounds timed calls each; prints JSON (seconds per round and the median) on stdout.

Needs Debian's python3-torch (torch 1.13) and diffusers 0.27.2's *source* on PYTHONPATH or via --diffusers-src
(`git archive v0.27.2 src/diffusers` of github.com/huggingface/diffusers). It installs nothing and downloads nothing.
Debian 12 packages neither huggingface_hub nor safetensors: diffusers imports them at import time only for hub downloads
(constants, a decorator, exception classes) and checkpoint files, none of which a model built from a config in memory
uses, so a stand-in module is registered for each one that is missing (see _stub_missing).
Other imports diffusers needs come from Debian: python3-packaging, python3-regex, python3-requests, python3-filelock,
python3-importlib-metadata, python3-numpy, python3-pil, python3-tqdm.

Run with /usr/bin/python3 (Debian's interpreter, where python3-torch lives):
  /usr/bin/python3 tools/peers/time_pytorch.py --diffusers-src /tmp/diffusers-0.27.2/src --threads 2 --rounds 3
"""
import argparse
import importlib.abc
import importlib.machinery
import json
import os
import platform
import statistics
import sys
import time
import types

# SD 1.5's unet/config.json and vae/config.json (runwayml/stable-diffusion-v1-5), the fields that shape the graph.
SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)
SD15_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, sample_size=512, layers_per_block=2, norm_num_groups=32,
    act_fn="silu", block_out_channels=(128, 256, 512, 512), scaling_factor=0.18215,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
)


def _stub_missing(top):
    """Registers a stand-in package `top` (and any submodule of it) when the real one is missing; True if it did.

    STUB, not the library: diffusers 0.27.2 imports hub constants, the `validate_hf_hub_args` decorator and some
    exception classes from huggingface_hub, and `safetensors`/`safetensors.torch` for checkpoint files, at import
    time; we only build models from configs in memory, so nothing here is ever called for real. Constants are strings, the decorator returns its function unchanged, exceptions are Exception
    subclasses, anything else raises if called (so an accidental hub access fails loudly instead of silently)."""
    try:
        __import__(top)
        return False
    except ImportError:
        pass

    class _Unavailable:
        def __init__(self, name):
            self._name = name

        def __call__(self, *a, **k):
            raise RuntimeError(f"{self._name} is a stub in tools/peers/time_pytorch.py (no hub access here)")

    class _Module(types.ModuleType):
        __path__ = []  # a package, so `huggingface_hub.utils` etc. resolve through the finder below

        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            if name.startswith(("HF_", "HUGGINGFACE_")):
                value = os.path.join(os.path.expanduser("~"), ".cache", "huggingface")  # never used: offline
            elif name == "validate_hf_hub_args":
                value = lambda fn: fn  # noqa: E731  (the real one checks argument names, then calls fn)
            elif name.endswith(("Error", "Enabled")):
                value = type(name, (Exception,), {})
            elif name.startswith("is_") and name.endswith("_available"):
                value = lambda: False  # noqa: E731
            elif name == "REGEX_COMMIT_HASH":
                import re
                value = re.compile(r"^[0-9a-f]{40}$")
            else:
                value = _Unavailable(f"{self.__name__}.{name}")
            setattr(self, name, value)
            return value

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == top or fullname.startswith(top + "."):
                return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
            return None

        def create_module(self, spec):
            m = _Module(spec.name)
            m.__version__ = "0.0-stub"
            return m

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Finder())
    return True


def timed(fn, rounds):
    fn()  # warm-up: allocator, oneDNN primitive creation
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--diffusers-src", default=os.environ.get("DIFFUSERS_SRC"),
                    help="folder holding the `diffusers` package (…/src of a v0.27.2 checkout); default: $DIFFUSERS_SRC or PYTHONPATH")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--component", choices=["unet", "vae", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.threads < 1 or a.rounds < 1:
        sys.exit("time_pytorch.py: error: --threads and --rounds must be ≥ 1")
    if a.diffusers_src:
        if not os.path.isfile(os.path.join(a.diffusers_src, "diffusers", "__init__.py")):
            sys.exit(f"time_pytorch.py: error: --diffusers-src {a.diffusers_src}: no diffusers/__init__.py there")
        sys.path.insert(0, a.diffusers_src)
    try:
        import torch
    except ImportError:
        sys.exit("time_pytorch.py: error: no torch module; run with Debian's /usr/bin/python3 after `apt-get install python3-torch`")
    stubbed = [m for m in ("huggingface_hub", "safetensors") if _stub_missing(m)]
    try:
        import diffusers
        from diffusers import AutoencoderKL, UNet2DConditionModel
    except (ImportError, RuntimeError) as e:  # diffusers' lazy importer wraps an ImportError in a RuntimeError
        sys.exit(f"time_pytorch.py: error: cannot import diffusers ({e}); pass --diffusers-src (the src/ folder of diffusers v0.27.2)")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    result = dict(
        torch=torch.__version__, diffusers=diffusers.__version__, stubbed_modules=stubbed,
        threads=torch.get_num_threads(), rounds=a.rounds, python=platform.python_version(),
        cpu_capability=torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None,
        mkldnn=torch.backends.mkldnn.is_available(), dtype="float32", batch=1, width=512, height=512,
    )
    with torch.no_grad():
        if a.component in ("unet", "both"):
            unet = UNet2DConditionModel(**SD15_UNET).eval()
            sample = torch.randn(1, 4, 64, 64)
            t = torch.tensor([999])
            ctx = torch.randn(1, 77, 768)
            secs = timed(lambda: unet(sample, t, encoder_hidden_states=ctx).sample, a.rounds)
            proc = type(next(iter(unet.attn_processors.values()))).__name__
            result["unet"] = dict(seconds=statistics.median(secs), rounds=secs,
                                  parameters=sum(p.numel() for p in unet.parameters()), attention_processor=proc)
            del unet
        if a.component in ("vae", "both"):
            vae = AutoencoderKL(**SD15_VAE).eval()
            latent = torch.randn(1, 4, 64, 64)
            secs = timed(lambda: vae.decode(latent).sample, a.rounds)
            result["vae_decoder"] = dict(seconds=statistics.median(secs), rounds=secs,
                                         parameters=sum(p.numel() for p in vae.decoder.parameters()) +
                                         sum(p.numel() for p in vae.post_quant_conv.parameters()))
            del vae
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
