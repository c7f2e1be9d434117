"""MCTF report on real grey sequences: H-frame energy reduction with HVSBM, block matching, zero motion, DIS flow.

    python benchmarks/mctf_report.py [--frames 32] [--levels 3] [--threads 2] [--quick] [--out PATH]

For each sequence of ``../shared/data/video`` (``mire2`` 384x288, ``cube`` 640x480; the first ``--frames`` frames,
float32 0..255) runs :func:`pywlc.mctf.analyze` (5/3, bilinear prediction) with three motion models in the same run:

* ``hvsbm``: :func:`pywlc.motion.hvsbm` (lam 24, quarter-pel, search range 16 x temporal distance), and
  ``hvsbm_sr32`` with search range 32 x temporal distance (fast motion in ``cube`` exceeds 16 x 2 at level 2,
  where HVSBM then flags a scene cut and the H frame becomes a weighted copy);
* ``block``: :func:`pywlc.motion.block_match` (16x16 blocks, range 16 x temporal distance, quarter-pel; per-block
  left / right / bidirectional choice by prediction SAD) — the estimator MCTF uses on the GPU;
* ``zero``: no motion (plain temporal 5/3);
* ``dis``: OpenCV DIS optical flow (``cv2.DISOpticalFlow_create``, MEDIUM preset) through the ``motion`` callable,
  ``flow = DIS(cur, ref)`` so that ``cur(p) ~ ref(p + flow)`` (HVSBM's sign), every pixel bidirectional.

Per level: energy reduction in dB = 10 log10(var(odd input frames) / mean((H / alpha)^2)), the H frames
unnormalised and the input frames of that level divided by the L DC gain, over the whole frame, away from a
16-pixel border, and over the H frames that are not scene-cut copies (a flagged frame's H is the frame itself);
plus the analysis (motion included), motion-only and synthesis times on this CPU, and the reconstruction error.
JSON into ``benchmarks/results/mctf-cpu-<threads>core.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

import pywlc
from pywlc import mctf
from pywlc.mctf import MotionFields
from pywlc.motion import hvsbm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "video"
BORDER = 16


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def load_sequence(name: str, n: int) -> torch.Tensor:
    """``Tensor[n, 1, H, W]`` float32 0..255 from ``SHARED/name/NNNN.png``."""
    import cv2

    files = sorted((SHARED / name).glob("*.png"))[:n]
    if len(files) < n:
        raise SystemExit(f"{SHARED / name}: {len(files)} frames, {n} requested")
    planes = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in files]
    return torch.from_numpy(np.stack(planes).astype(np.float32))[:, None].contiguous()


class Timed:
    """A motion callable wrapper: accumulates the estimator's time and keeps each level's odd input frames (the
    grey frames ``analyze`` hands to the estimator: the level's input on the 0..255 scale)."""

    def __init__(self, est):
        self.est, self.seconds, self.odd = est, 0.0, {}

    def __call__(self, cur, left, right, *, level, temporal_distance):
        self.odd.setdefault(level, []).append(cur.double())
        t = time.perf_counter()
        out = self.est(cur, left, right, level=level, temporal_distance=temporal_distance)
        self.seconds += time.perf_counter() - t
        return out


def hvsbm_motion(threads: int, lam: float, search_range: int = 16):
    def est(cur, left, right, *, level, temporal_distance):
        r = hvsbm(cur, left, right, lam=lam, temporal_distance=temporal_distance, threads=threads,
                  search_range=search_range)  # fmt: skip
        return MotionFields(r.field_left, r.field_right, r.uses_left, r.uses_right, r.scene_cut)

    return est


def zero_motion(cur, left, right, *, level, temporal_distance):
    z = torch.zeros(2, *cur.shape)
    return MotionFields(z, None if right is None else z)


def dis_motion():
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def u8(x: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(x.clamp(0, 255).round().to(torch.uint8).numpy())

    def flow(cur, ref):
        # calc(I0, I1) returns f with I0(p) ~ I1(p + f): the vector sign MCTF expects (cur from ref).
        f = dis.calc(u8(cur), u8(ref), None)
        return torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1)))

    def est(cur, left, right, *, level, temporal_distance):
        return MotionFields(flow(cur, left), None if right is None else flow(cur, right))

    return est


def energy_rows(res: mctf.MctfResult, timed: Timed) -> list[dict]:
    rows = []
    for li, (h, lvl) in enumerate(zip(res.high, res.motion, strict=True)):
        odd = torch.stack(timed.odd[li + 1])  # Tensor[K, H, W] on the 0..255 scale
        hh = h[:, 0].double() / (res.alpha * res.beta**li)  # unnormalised H on the same scale
        b = BORDER
        inner = (..., slice(b, -b), slice(b, -b))
        keep = ~lvl.scene_cut  # H frames that are not weighted copies
        conn = 0.5 * (lvl.connected_left.float().mean() + lvl.connected_right.float().mean()).item()
        rows.append(
            {
                "level": li + 1,
                "h_frames": int(h.shape[0]),
                "db": 10 * math.log10(odd.var().item() / hh.pow(2).mean().item()),
                "db_interior": 10 * math.log10(odd[inner].var().item() / hh[inner].pow(2).mean().item()),
                "db_without_scene_cut_frames": 10 * math.log10(odd[keep].var().item() / hh[keep].pow(2).mean().item())
                if bool(keep.any())
                else None,
                "scene_cuts": int(lvl.scene_cut.sum()),
                "connected_fraction": conn,
            }
        )
    return rows


def run_sequence(name: str, n: int, levels: int, threads: int, lam: float) -> dict:
    x = load_sequence(name, n)
    models = {
        "hvsbm": hvsbm_motion(threads, lam),
        "hvsbm_sr32": hvsbm_motion(threads, lam, 32),
        "block": mctf.block_motion(),
        "zero": zero_motion,
        "dis": dis_motion(),
    }
    out = {"frames": n, "size": [int(x.shape[2]), int(x.shape[3])], "levels": levels, "motion": {}}
    for model, est in models.items():
        timed = Timed(est)
        t0 = time.perf_counter()
        res = mctf.analyze(x, levels=levels, filter="5/3", motion=timed)
        t_an = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec = mctf.synthesize(res)
        t_syn = time.perf_counter() - t0
        err = (rec - x).abs().max().item() / 255.0
        rows = energy_rows(res, timed)
        out["motion"][model] = {
            "levels": rows,
            "analyze_s": t_an,
            "motion_s": timed.seconds,
            "lifting_s": t_an - timed.seconds,
            "synthesize_s": t_syn,
            "max_relative_reconstruction_error": err,
        }
        print(f"{name:6s} {model:6s} " + " ".join(f"L{r['level']}: {r['db']:6.2f} dB ({r['db_interior']:6.2f})"
                                                   for r in rows)
              + f"  analyze {t_an:6.2f}s (motion {timed.seconds:6.2f}s) synth {t_syn:5.2f}s err {err:.1e}",
              flush=True)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lam", type=float, default=24.0)
    ap.add_argument("--quick", action="store_true", help="8 frames, 1 level, no file unless --out")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.frames, args.levels = 8, 1
    import cv2

    report = {
        "benchmark": "mctf",
        "filter": "5/3",
        "interp": "bilinear",
        "torch": torch.__version__,
        "pywlc": pywlc.__version__,
        "opencv": cv2.__version__,
        "device": f"{platform.processor() or platform.machine()}, {args.threads} threads",
        "git_commit": git_commit(),
        "lam": args.lam,
        "border": BORDER,
        "metric": "10*log10(var(odd input frames) / mean((H/alpha)^2)) per level; db_interior: away from the border",
        "sequences": {},
    }
    for name in ("mire2", "cube"):
        report["sequences"][name] = run_sequence(name, args.frames, args.levels, args.threads, args.lam)
    out = args.out or (None if args.quick else ROOT / "benchmarks" / "results" / f"mctf-cpu-{args.threads}core.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
