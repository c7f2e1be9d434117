"""MCTF lifting time on this machine, composed (warp + gathers) vs fused kernels (csrc/mctf).

Motion is excluded: a fixed block-wise random sub-pel field (with bidirectional / one-sided blocks) is returned
by the motion callable, so ``analyze`` + ``synthesize`` time is lifting plus the per-level geometry (connectivity),
which both paths share; ``lifting`` times one level's predict + update steps alone (analysis and synthesis).

    PYTHONPATH=. python scripts/bench_mctf_fused.py [--sizes 288x384,1080x1920] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from pywlc.mctf import MotionFields, _fused, analyze, synthesize
from pywlc.mctf import mctf as M


def fixed_motion(h: int, w: int, block: int = 16):
    """Block-constant random quarter-pel vectors (std ``$SCALE`` px, default 3) and per-block left / right / bi
    choices, like HVSBM's output; the same for every frame pair."""
    gen = torch.Generator().manual_seed(0)
    scale = float(os.environ.get("SCALE", 3))
    bh, bw = -(-h // block), -(-w // block)

    def up(t: torch.Tensor) -> torch.Tensor:
        return t.repeat_interleave(block, -2).repeat_interleave(block, -1)[..., :h, :w].contiguous()

    fl = up(torch.round(torch.randn(2, bh, bw, generator=gen) * scale * 4) / 4)
    fr = up(torch.round(torch.randn(2, bh, bw, generator=gen) * scale * 4) / 4)
    mode = up(torch.randint(0, 3, (bh, bw), generator=gen))  # 0: bi, 1: left, 2: right
    ul, ur = mode != 2, mode != 1

    def est(cur, left, right, *, level, temporal_distance):
        return MotionFields(fl, None if right is None else fr, ul, ur)

    return est


def median_time(fn, reps: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def lifting_level(x: torch.Tensor, fused: bool, alpha: float, beta: float):
    """One level's analysis + synthesis lifting steps (geometry precomputed)."""
    n, _, h, w = x.shape
    k = n // 2
    est = fixed_motion(h, w)
    f = est(None, None, True, level=1, temporal_distance=1)
    fl, fr = f.field_left.expand(k, 2, h, w), f.field_right.expand(k, 2, h, w)
    ul, ur = f.uses_left.expand(k, h, w), f.uses_right.expand(k, h, w)
    cut = torch.zeros(k, dtype=torch.bool)
    g = M._geometry(fl, fr, ul, ur, cut, 2 * torch.arange(k) + 2 < n)
    lvl = M.MctfLevel(1, n, fl, fr, ul, ur, cut, g.wl, g.wr, g.conn_l, g.conn_r)
    n_even = (n + 1) // 2
    if fused:
        c = _fused.kernels(x, False)
        s = _fused.side(g, fl, fr, x.device)

        def run():
            high, low = _fused.analysis_step(c, x, s, "bilinear", alpha, beta)
            _fused.synthesis_step(c, low, high, s, "bilinear", alpha, beta)

        return run

    def run():
        even, odd = x[0::2], x[1::2]
        high = alpha * (odd - M._predict(even, g, lvl, "bilinear", x.dtype))
        low = beta * (even + M._update(high, n_even, g) / alpha)
        ev = low / beta - M._update(high, n_even, g) / alpha
        od = high / alpha + M._predict(ev, g, lvl, "bilinear", x.dtype)
        out = torch.empty_like(x)
        out[0::2], out[1::2] = ev, od

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="288x384,1080x1920")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--levels", type=int, default=3)
    a = ap.parse_args()
    alpha, beta = M._FILTERS["5/3"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.frames} frames x 3 ch, float32, 5/3, "
          f"bilinear; medians of {a.reps}")  # fmt: skip
    for size in a.sizes.split(","):
        h, w = map(int, size.split("x"))
        x = torch.rand(a.frames, 3, h, w, generator=torch.Generator().manual_seed(1)) * 255
        row = {}
        for fused in (False, True):
            M.FUSED = fused
            est = fixed_motion(h, w)
            row[f"e2e_{fused}"] = median_time(
                lambda x=x, est=est: synthesize(analyze(x, levels=a.levels, motion=est)), a.reps
            )
            row[f"lift_{fused}"] = median_time(lifting_level(x, fused, alpha, beta), a.reps)
        M.FUSED = True
        print(f"{h}x{w}: level-1 lifting (ana+syn) composed {row['lift_False'] * 1e3:8.1f} ms, fused "
              f"{row['lift_True'] * 1e3:8.1f} ms ({row['lift_False'] / row['lift_True']:.1f}x); "
              f"analyze+synthesize {a.levels} levels composed {row['e2e_False'] * 1e3:8.1f} ms, fused "
              f"{row['e2e_True'] * 1e3:8.1f} ms ({row['e2e_False'] / row['e2e_True']:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
