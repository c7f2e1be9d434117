"""Encode / decode time of the wavelet image codec at 768x512 next to the anchors, interleaved, on a quiet machine.

The full RD benchmark (``bench_image_codec.py``) also times the codecs, but on a long run that shares the two
cores with other jobs; this one is the short speed check of issue 9 ("encode and decode each <= 1 s at
768x512, entropy coding included"): a 768x512 centre crop of one SPLITS.md test photo (downscaled by 2),
every contender once per repetition in turn, medians with min / max.  Writes
``benchmarks/results/image-codec-speed-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from pywlc import anchors
from pywlc.codecs import wavelet
from pywlc.train.splits import downscaled

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--photo", default="photos/plasma_Path.jpg", help="a test photo of SPLITS.md")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "image-codec-speed-cpu-2core.json")
    args = p.parse_args(argv)
    x = downscaled(args.data / args.photo)
    top, left = (x.shape[1] - 512) // 2, (x.shape[2] - 768) // 2
    x = x[:, top : top + 512, left : left + 768].contiguous()
    model = wavelet.load_model()
    v1 = wavelet.load_model("wavelet-v1")  # earlier weights, for the cost of the lifting step and RDOQ
    v3 = wavelet.load_model("wavelet-v3")  # and of the mean nets (v4)
    v5 = wavelet.load_model("wavelet-v5")  # and of the approximation context (v6)
    ours = wavelet.encode(x, quality=30, model=model)
    bpp = len(ours) * 8 / (512 * 768)
    contenders = {
        "ours (quality 30)": (
            lambda: wavelet.encode(x, quality=30, model=model),
            lambda d: wavelet.decode(d, model=model),
        ),
        "ours wavelet-v1 (quality 30: no lifting, no RDOQ)": (
            lambda: wavelet.encode(x, quality=30, model=v1),
            lambda d: wavelet.decode(d, model=v1),
        ),
        "ours wavelet-v3 (quality 30: no mean nets)": (
            lambda: wavelet.encode(x, quality=30, model=v3),
            lambda d: wavelet.decode(d, model=v3),
        ),
        "ours wavelet-v5 (quality 30: no approximation context)": (
            lambda: wavelet.encode(x, quality=30, model=v5),
            lambda d: wavelet.decode(d, model=v5),
        ),
        "ours lossless": (
            lambda: wavelet.encode(x, lossless=True, model=model),
            lambda d: wavelet.decode(d, model=model),
        ),
        "ours wavelet-v5 lossless": (
            lambda: wavelet.encode(x, lossless=True, model=v5),
            lambda d: wavelet.decode(d, model=v5),
        ),
        "ours wavelet-v3 lossless": (
            lambda: wavelet.encode(x, lossless=True, model=v3),
            lambda d: wavelet.decode(d, model=v3),
        ),
        "jpeg2000 (same bpp)": (lambda: anchors.get("jpeg2000").encode(x, bpp), anchors.get("jpeg2000").decode),
        "jpeg (quality 90)": (lambda: anchors.get("jpeg").encode(x, 90), anchors.get("jpeg").decode),
        "webp (quality 80)": (lambda: anchors.get("webp").encode(x, 80), anchors.get("webp").decode),
        "jpeg2000 lossless": (
            lambda: anchors.get("jpeg2000-lossless").encode(x),
            anchors.get("jpeg2000-lossless").decode,
        ),
    }
    times: dict[str, dict[str, list[float]]] = {k: {"encode_ms": [], "decode_ms": []} for k in contenders}
    sizes = {}
    with torch.no_grad():
        for enc, dec in contenders.values():  # warm-up
            dec(enc())
        for _ in range(args.reps):
            for name, (enc, dec) in contenders.items():
                t0 = time.perf_counter()
                data = enc()
                t1 = time.perf_counter()
                dec(data)
                t2 = time.perf_counter()
                times[name]["encode_ms"].append(1e3 * (t1 - t0))
                times[name]["decode_ms"].append(1e3 * (t2 - t1))
                sizes[name] = len(data) * 8 / (512 * 768)
    result = {
        "what": "768x512 centre crop of a SPLITS.md test photo (downscaled by 2 with Lanczos), wall time per call",
        "photo": args.photo,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "reps": args.reps,
        "model": model.name,
        "loadavg_after": os.getloadavg(),
        "codecs": {
            k: {
                "bpp": sizes[k],
                **{m: {"median": statistics.median(v), "min": min(v), "max": max(v)} for m, v in t.items()},
            }
            for k, t in times.items()
        },
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for k, r in result["codecs"].items():
        print(
            f"{k:22s} {r['bpp']:.3f} bpp  encode {r['encode_ms']['median']:7.1f} ms "
            f"[{r['encode_ms']['min']:.0f}-{r['encode_ms']['max']:.0f}]  decode {r['decode_ms']['median']:7.1f} ms "
            f"[{r['decode_ms']['min']:.0f}-{r['decode_ms']['max']:.0f}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
