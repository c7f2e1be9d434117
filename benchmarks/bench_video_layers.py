"""WL-SVC quality layers: what one scalable stream costs against single-layer streams, in one run.

    python benchmarks/bench_video_layers.py [--frames 16] [--base 12] [--layers 26,40] [--out results.json]

For each test sequence of ``shared/data/SPLITS.md`` (first ``--frames`` frames, GOP 16): one stream with quality
layers (``pywlc.video.encode(quality=base, layers=...)``), cut to each number of layers K by
``pywlc.video.extract(layers=K)`` and decoded; and single-layer streams at the same qualities plus the points in
between (``--extra``).  Per layer: kbps from the bytes, Y- and YUV-PSNR, the bytes against the single-layer stream
at the same quality, and the rate at equal Y-PSNR against the single-layer curve (log-rate interpolated between its
neighbouring points) -- the price of scalability.  Writes JSON (machine, torch, commit) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import time
from pathlib import Path

import torch

from pywlc.video import codec as C
from pywlc.video.evaluate import crop_even
from pywlc.video.io import read_video
from pywlc.video.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def rate_at_psnr(curve: list[dict], target: float) -> float:
    """Rate of a single-layer curve (``[{"kbps", "psnr_y"}]``) at Y-PSNR ``target``, log-rate interpolated between
    its neighbouring points; NaN outside the curve."""
    pts = sorted((c["psnr_y"], c["kbps"]) for c in curve)
    for (p0, r0), (p1, r1) in zip(pts, pts[1:], strict=False):
        if p0 <= target <= p1 and p1 > p0:
            return math.exp(math.log(r0) + (target - p0) / (p1 - p0) * (math.log(r1) - math.log(r0)))
    return float("nan")


def _point(video, data: bytes, seconds: float) -> dict:
    out = C.decode(data)
    q = psnr(video, out)
    return {"kbps": 8 * len(data) / seconds / 1000, "bytes": len(data), "psnr_y": q["y"], "psnr_yuv": q["yuv"]}


def measure(name: str, frames: int, base: float, layers: list[float], extra: list[float]) -> dict:
    video = crop_even(read_video(DATA / "video" / name, max_frames=frames))
    seconds = video.frames / float(video.fps)
    t0 = time.perf_counter()
    data = C.encode(video, base, gop=16, layers=layers)
    encode_s = time.perf_counter() - t0
    single = {}
    for q in sorted({base, *layers, *extra}):
        single[q] = {"quality": q, **_point(video, C.encode(video, q, gop=16), seconds)}
        print(name, "single", q, json.dumps(single[q]), flush=True)
    curve = list(single.values())
    rows = []
    for k, q in enumerate([base, *layers], 1):
        row = {"layers": k, "quality": q, **_point(video, C.extract(data, layers=k), seconds)}
        row["bytes_vs_single_percent"] = 100 * (row["bytes"] / single[q]["bytes"] - 1)
        row["rate_at_equal_psnr_percent"] = 100 * (row["kbps"] / rate_at_psnr(curve, row["psnr_y"]) - 1)
        rows.append(row)
        print(name, "layered", json.dumps(row), flush=True)
    return {"size": f"{video.width}x{video.height}", "chroma": video.chroma, "frames": video.frames,
            "layered": rows, "single": curve, "layered_encode_s": encode_s}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--base", type=float, default=12.0, help="quality of the base layer")
    p.add_argument("--layers", default="26,40", help="qualities of the refinement layers")
    p.add_argument("--extra", default="19,33,47", help="more single-layer qualities for the equal-PSNR rate")
    p.add_argument("--sequences", default="cube,kivy_city")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video-layers-cpu-2core.json")
    a = p.parse_args(argv)
    layers = [float(q) for q in a.layers.split(",") if q]
    extra = [float(q) for q in a.extra.split(",") if q]
    t0 = time.time()
    res: dict = {"benchmark": "video-layers", "frames": a.frames, "gop": 16, "base": a.base, "layers": layers,
                 "torch": torch.__version__, "machine": platform.machine(), "threads": torch.get_num_threads(),
                 "sequences": {}}  # fmt: skip
    for name in a.sequences.split(","):
        res["sequences"][name] = measure(name, a.frames, a.base, layers, extra)
    res["wall_seconds"] = round(time.time() - t0, 1)
    res["load_average_end"] = list(os.getloadavg())
    try:
        res["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        res["git_commit"] = None
    a.out.write_text(json.dumps(res, indent=1))
    print(f"wrote {a.out} ({res['wall_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
