"""MCTF lifting time on this machine, composed (warp + gathers) vs fused kernels (csrc/mctf).

Motion is excluded: a fixed block-wise random sub-pel field (with bidirectional / one-sided blocks) is returned
by the motion callable, so ``analyze`` + ``synthesize`` time is lifting plus the per-level geometry (connectivity),
which both paths share; ``lifting`` times one level's predict + update steps alone (analysis and synthesis).

    PYTHONPATH=. python benchmarks/bench_mctf_fused.py [--sizes 288x384,1080x1920] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from pywlc._extension import use_kernels
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


def paired_medians(fns: dict, reps: int) -> dict:
    """(median, min) seconds of each callable, the reps interleaved (the machine's load drifts), after a warm-up."""
    for fn in fns.values():
        fn()
    ts: dict = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            ts[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(v), min(v)) for name, v in ts.items()}


def switched(fn, fused: bool):
    def run():
        with use_kernels(fused, "mctf_predict", "mctf_update"):  # off: the composed path (warp kernels, gathers)
            fn()

    return run


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
          f"bilinear; median / min of {a.reps} interleaved reps")  # fmt: skip
    for size in a.sizes.split(","):
        h, w = map(int, size.split("x"))
        x = torch.rand(a.frames, 3, h, w, generator=torch.Generator().manual_seed(1)) * 255
        est = fixed_motion(h, w)

        def e2e(x=x, est=est):
            synthesize(analyze(x, levels=a.levels, motion=est))

        fns = {f"e2e_{f}": switched(e2e, f) for f in (False, True)}
        fns.update({f"lift_{f}": lifting_level(x, f, alpha, beta) for f in (False, True)})
        row = paired_medians(fns, a.reps)
        labels = {"lift": "level-1 lifting, analysis + synthesis", "e2e": f"analyze + synthesize, {a.levels} levels"}
        for what, label in labels.items():
            (cm, cn), (fm, fn) = row[f"{what}_False"], row[f"{what}_True"]
            print(f"{h}x{w} {label}: composed {cm * 1e3:.1f} ms (min {cn * 1e3:.1f}), fused {fm * 1e3:.1f} ms "
                  f"(min {fn * 1e3:.1f}): {cm / fm:.2f}x median, {cn / fn:.2f}x min")  # fmt: skip


if __name__ == "__main__":
    main()
