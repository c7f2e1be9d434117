"""Cost and accuracy of the exact (fixed-point) entropy path of WeConvene and its baseline, on the CPU.

``python benchmarks/bench_exact_entropy.py [--config compact] [--threads 2]``
``[--out benchmarks/results/exact_entropy-cpu-2core.json]``

Per model (random init, ``update(force=True)``), on the shipped sample image padded to 768x512:

* ``compress_s``/``decompress_s``: end to end (best of 3); both always take the exact path;
* ``entropy_float_s``/``entropy_exact_s``: the hyper synthesis plus every slice transform (means only decoded);
* ``max_abs_delta``: exact minus float hyper means/scales for the same ``z_hat``, and their magnitude.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pywlc.models import ChannelSlices, WeConvene, WeConveneBaseline

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "pywlc" / "data" / "seeding_by_Clements_Engelhardt.png"


def best_of(fn, n: int = 3) -> float:
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def entropy_path(m, z_hat: torch.Tensor, exact: bool) -> list[torch.Tensor]:
    """Hyper outputs and every slice's (mean, scale), decoding each slice as its mean."""
    outs = list(m._hyper(z_hat, exact))
    context: list[torch.Tensor] = []
    for group in (mod for mod in m.modules() if isinstance(mod, ChannelSlices)):

        def code(i, mu, sigma):
            outs.extend([mu, sigma])
            return mu

        context = [group._run(*outs[:2], context, code, exact=exact)]
    return outs


def measure(cls, config: str, x: torch.Tensor) -> dict:
    torch.manual_seed(0)
    m = cls.from_config(config).eval()
    m.update(force=True)
    enc = m.compress(x)
    row = {
        "model": cls.__name__,
        "compress_s": best_of(lambda: m.compress(x)),
        "decompress_s": best_of(lambda: m.decompress(enc["strings"], enc["shape"])),
        "bytes": [len(s[0]) for s in enc["strings"]],
    }
    h, w = m._z_size(x.shape[-2:])
    z_hat = torch.round(torch.randn(1, m.Z, h, w) * 3)
    with torch.no_grad():
        row["entropy_float_s"] = best_of(lambda: entropy_path(m, z_hat, False))
        row["entropy_exact_s"] = best_of(lambda: entropy_path(m, z_hat, True))
        # Accuracy of the fixed point: the hyper outputs (the slices' inputs drift apart with their decoded means).
        ref, got = m._hyper(z_hat, False), m._hyper(z_hat, True)
        row["max_abs_delta"] = max(float((a.double() - b).abs().max()) for a, b in zip(ref, got, strict=True))
        row["max_abs_output"] = max(float(a.abs().max()) for a in ref)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="compact")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    img = torch.from_numpy(np.array(Image.open(IMAGE).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    x = torch.nn.functional.pad(img, (0, 768 - img.shape[-1], 0, 512 - img.shape[-2]), mode="replicate")
    rows = [measure(cls, args.config, x) for cls in (WeConvene, WeConveneBaseline)]
    result = {
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": args.threads,
        "config": args.config,
        "image": [768, 512],
        "rows": rows,
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
