"""Frame interpolation benchmark (issue 14): pywlc.vfi (dynamic and forced dense, same weights) vs the baselines a
CPU user has, on the test sequences of ``data/SPLITS.md``, and the wall-clock time per 720p frame.

    python benchmarks/bench_vfi.py [--data ../shared/data] [--frames N] [--weights PT] [--quick] [--out JSON]

Quality: every test sequence (``cube`` 640x480 grey, ``kivy_city`` 720x405 RGB; all frames, or the first
``--frames``) loses every other frame -- the triplets ``(2k, 2k+1, 2k+2)`` -- and each method interpolates frame
``2k+1`` back from ``2k`` and ``2k+2``:

* ``average``: ``(I0 + I1) / 2``.
* ``dis_blend``: OpenCV DIS flow (preset medium, full resolution, both directions), Super SloMo's linear
  intermediate flows, backward warps with ``cv2.remap`` (bilinear) and the mean of the two warps.
* ``dis_blend_cubic``: the same with bicubic ``cv2.remap`` (sharper: bilinear resampling blurs at every
  sub-pixel shift), the warp the model uses since ``vfi-v3``.
* ``minterpolate``: ffmpeg ``minterpolate=fps=<2x>:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1`` run on the
  even frames (grey as ``gray``, RGB through ``gbrp`` / ``yuv444p``, no chroma subsampling); its odd output frames.
* ``ours_dynamic`` / ``ours_dense``: :func:`pywlc.vfi.interpolate` with ``ratio="dynamic"`` / ``"dense"``.

PSNR (peak 255, on the 8-bit frames, all channels) and SSIM (``pytorch_msssim.ssim``, data range 255) per frame,
mean over the sequence.  Speed: frames 0 and 2 of each test sequence (``cube`` as RGB) resized (bicubic) to
1280x720; median wall time of ``interpolate`` per frame (DIS included), dynamic, dense and dynamic through per-layer
``masked_conv2d`` interleaved in every repetition (the machine is shared); the per-stage breakdown
(:class:`pywlc.vfi.model.StageTimer`) and the multiply-accumulates of each stage (active pixels only for the masked
levels); the baselines' time on the same pair.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pywlc.benchmark import device_tag, save_result
from pywlc.vfi.model import StageTimer, conv_macs
from pywlc.vfi.motion import bidirectional_flow, dis_flow, intermediate_flows

ROOT = Path(__file__).resolve().parents[1]
SEQUENCES = ("cube", "kivy_city")
METHODS = ("average", "dis_blend", "dis_blend_cubic", "minterpolate", "ours_dynamic", "ours_dense")


def load_frames(folder: Path, limit: int | None) -> np.ndarray:
    """``uint8 ndarray[T, H, W, C]`` (C = 1 grey or 3 RGB)."""
    files = sorted(folder.glob("*.png"))[:limit]
    frames = []
    for p in files:
        with Image.open(p) as im:
            a = np.array(im.convert("L") if im.mode in ("L", "I;16", "I") else im.convert("RGB"))
        frames.append(a[..., None] if a.ndim == 2 else a)
    return np.stack(frames)


def to_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else min(100.0, 10 * math.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from pytorch_msssim import ssim as _ssim

    x, y = (to_tensor(v)[None].float() for v in (a, b))
    return float(_ssim(x, y, data_range=255.0))


def average(f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
    return ((f0.astype(np.uint16) + f1.astype(np.uint16) + 1) // 2).astype(np.uint8)


def dis_flows(f0: np.ndarray, f1: np.ndarray, t: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The classical method's intermediate flows ``(F_t0, F_t1)``, each ``float32 [2, H, W]`` (module doc)."""
    g0 = f0[..., 0] if f0.shape[2] == 1 else cv2.cvtColor(f0, cv2.COLOR_RGB2GRAY)
    g1 = f1[..., 0] if f1.shape[2] == 1 else cv2.cvtColor(f1, cv2.COLOR_RGB2GRAY)
    f01 = torch.from_numpy(dis_flow(g0, g1, "medium")).permute(2, 0, 1)[None]
    f10 = torch.from_numpy(dis_flow(g1, g0, "medium")).permute(2, 0, 1)[None]
    ft0, ft1 = intermediate_flows(f01, f10, torch.tensor([t]))
    return ft0[0].numpy(), ft1[0].numpy()


def blend(f0: np.ndarray, f1: np.ndarray, flows: tuple[np.ndarray, np.ndarray], t: float = 0.5,
          interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Both frames backward-warped by :func:`dis_flows` (``cv2.remap`` with ``interp``), t-weighted mean."""
    h, w = f0.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    outs = []
    for img, fl in ((f0, flows[0]), (f1, flows[1])):
        warped = cv2.remap(img, gx + fl[0], gy + fl[1], interp, borderMode=cv2.BORDER_REPLICATE)
        outs.append(warped.reshape(img.shape).astype(np.float32))
    return np.clip((1 - t) * outs[0] + t * outs[1] + 0.5, 0, 255).astype(np.uint8)


def dis_blend(f0: np.ndarray, f1: np.ndarray, t: float = 0.5, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The classical dense-flow interpolation (see the module doc); ``interp``: ``cv2.remap``'s interpolation."""
    return blend(f0, f1, dis_flows(f0, f1, t), t, interp)


def minterpolate(frames: np.ndarray) -> tuple[np.ndarray, float]:
    """ffmpeg's motion-compensated interpolation of ``frames`` (``[T, H, W, C]``) to twice the rate: ``(frames
    [2T - 1, H, W, C], seconds)``; the even outputs are checked to be the inputs."""
    grey = frames.shape[3] == 1
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        dst.mkdir()
        # minterpolate holds back its last two outputs (look-ahead): the last frame is repeated twice more.
        for i, f in enumerate([*frames, frames[-1], frames[-1]]):
            Image.fromarray(f[..., 0] if grey else f).save(src / f"{i:05d}.png", compress_level=1)
        fmt = "gray" if grey else "gbrp"
        vf = f"format={fmt},minterpolate=fps=50:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1"
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-framerate", "25", "-i", str(src / "%05d.png"),
               "-vf", vf, "-threads", "2", str(dst / "%05d.png")]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - t0
        out = load_frames(dst, None)
    out = out[: 2 * len(frames) - 1]
    for k in range(0, len(out), 2):
        if psnr(out[k], frames[k // 2]) < 45:  # a conversion's rounding at most, never a shifted frame
            raise RuntimeError(f"minterpolate's output frame {k} is not input frame {k // 2}: misaligned")
    return out, seconds


def ours(model, f0: np.ndarray, f1: np.ndarray, ratio: str):
    from pywlc.vfi import interpolate

    res = interpolate(to_tensor(f0), to_tensor(f1), 0.5, ratio=ratio, model=model, details=True)
    return res.frame.permute(1, 2, 0).numpy(), float(res.ratio[0]), [float(d[0]) for d in res.densities]


def quality(model, data: Path, frames: int | None) -> list[dict]:
    rows = []
    for seq in SEQUENCES:
        video = load_frames(data / "video" / seq, frames)
        n = len(video) - (1 - len(video) % 2)  # an odd count: the last kept frame is an input
        kept = video[0:n:2]
        mi, mi_seconds = minterpolate(kept) if shutil.which("ffmpeg") else (None, None)
        scores = {m: {"psnr": [], "ssim": []} for m in METHODS}
        ratios, dens = [], []
        for k in range(0, n - 2, 2):
            f0, gt, f1 = video[k], video[k + 1], video[k + 2]
            flows = dis_flows(f0, f1)  # one DIS for both blends
            preds = {"average": average(f0, f1), "dis_blend": blend(f0, f1, flows),
                     "dis_blend_cubic": blend(f0, f1, flows, interp=cv2.INTER_CUBIC)}
            if mi is not None:
                preds["minterpolate"] = mi[k + 1]
            preds["ours_dynamic"], r, d = ours(model, f0, f1, "dynamic")
            preds["ours_dense"], _, _ = ours(model, f0, f1, "dense")
            ratios.append(r)
            dens.append(d)
            for m, p in preds.items():
                scores[m]["psnr"].append(psnr(p, gt))
                scores[m]["ssim"].append(ssim(p, gt))
        row = {"sequence": seq, "size": [int(video.shape[2]), int(video.shape[1])], "channels": int(video.shape[3]),
               "frames_used": int(n), "interpolated": len(ratios),
               "ratio_counts": {str(v): ratios.count(v) for v in sorted(set(ratios))},
               "mean_density": [statistics.mean(d[i] for d in dens) for i in range(2)] if dens else [],
               "minterpolate_seconds": mi_seconds}
        for m, s in scores.items():
            if s["psnr"]:
                row[f"{m}_psnr"] = statistics.mean(s["psnr"])
                row[f"{m}_ssim"] = statistics.mean(s["ssim"])
                row[f"{m}_psnr_per_frame"] = [round(v, 3) for v in s["psnr"]]
        print(seq, {m: round(row[f"{m}_psnr"], 3) for m in METHODS if f"{m}_psnr" in row}, row["ratio_counts"])
        rows.append(row)
    return rows


def macs(model, h: int, w: int, densities: list[float]) -> dict[str, float]:
    """GMAC per frame of each learned stage at ``h x w`` (padded), masked levels at their active fraction."""
    syn = model.synthesis
    g = {"motion": conv_macs(model.motion) * (h // 4) * (w // 4),
         "synthesis.coarse": conv_macs(syn.coarse) * (h // 8) * (w // 8),
         "synthesis.mid": conv_macs(syn.mid) * (h // 4) * (w // 4) * densities[0],
         "synthesis.fine": conv_macs(syn.fine) * (h // 2) * (w // 2) * densities[1]}
    if model.context is not None:  # both frames' strided encoder convolutions at 1/2, 1/4, 1/8
        g["context"] = sum(2 * conv_macs(conv) * (h >> (k + 1)) * (w >> (k + 1))
                           for k, conv in enumerate(model.context.convs))
    return {k: v / 1e9 for k, v in g.items()}


def speed(model, data: Path, seq: str, size: tuple[int, int], reps: int) -> list[dict]:
    from pywlc.vfi import interpolate

    w, h = size
    src = load_frames(data / "video" / seq, 3)
    src = np.repeat(src, 3, axis=3) if src.shape[3] == 1 else src
    f0, f1 = (np.array(Image.fromarray(src[i]).resize((w, h), Image.Resampling.BICUBIC)) for i in (0, 2))
    x0, x1 = to_tensor(f0)[None], to_tensor(f1)[None]
    # "dynamic_masked_conv2d": the same masks run through pywlc.ops.masked_conv2d layer by layer (for reference)
    runs = {"dynamic": [], "dense": [], "dynamic_masked_conv2d": []}
    stages = {m: [] for m in runs}
    info = {}
    for rep in range(reps + 1):  # the first is a warm-up
        for mode in runs:
            timer = StageTimer()
            model.timer = timer
            model.synthesis.sparse_algo = "masked_conv2d" if mode == "dynamic_masked_conv2d" else "stack"
            t0 = time.perf_counter()
            res = interpolate(x0, x1, 0.5, ratio=mode[:7] if mode != "dense" else mode, model=model, details=True)
            dt = time.perf_counter() - t0
            model.timer = None
            model.synthesis.sparse_algo = "stack"
            if rep:
                runs[mode].append(dt)
                stages[mode].append(timer.times)
            info[mode] = ([float(d[0]) for d in res.densities], float(res.ratio[0]), res.frame)
    # DIS on its own (inside interpolate's total)
    ph, pw = -(-h // 16) * 16, -(-w // 16) * 16
    y0 = F.pad(x0.float() / 255, (0, pw - w, 0, ph - h), mode="replicate")
    y1 = F.pad(x1.float() / 255, (0, pw - w, 0, ph - h), mode="replicate")
    dis = []
    for _ in range(reps):
        t0 = time.perf_counter()
        bidirectional_flow(y0, y1, model.cfg.dis_scale, model.cfg.dis_preset)
        dis.append(time.perf_counter() - t0)
    base = {}
    for name, fn in (("average", lambda: average(f0, f1)), ("dis_blend", lambda: dis_blend(f0, f1)),
                     ("dis_blend_cubic", lambda: dis_blend(f0, f1, interp=cv2.INTER_CUBIC))):
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        base[f"{name}_ms"] = 1e3 * statistics.median(ts)
    if shutil.which("ffmpeg"):  # 9 frames in, 8 interpolated: ffmpeg's whole run (decode + encode too) / 8
        clip = np.stack([f0, f1] * 4 + [f0])
        _, secs = minterpolate(clip)
        base["minterpolate_ms_per_frame"] = 1e3 * secs / 8
    rows = []
    for mode in runs:
        dens, ratio, frame = info[mode]
        stage_ms = {k: 1e3 * statistics.median(s[k] for s in stages[mode]) for k in stages[mode][0]}
        stage_ms["dis_flow"] = 1e3 * statistics.median(dis)
        g = macs(model, ph, pw, dens)
        rows.append({"case": f"720p_{seq}_{mode}", "content": seq, "size": [w, h], "mode": mode, "ratio": ratio,
                     "densities": dens,
                     "ms_per_frame": 1e3 * statistics.median(runs[mode]), "ms_runs": [1e3 * v for v in runs[mode]],
                     "stage_ms": stage_ms, "gmac": g, "gmac_total": sum(g.values())})
    dyn, den, mc = rows
    frame_d, frame_s = info["dynamic"][2], info["dense"][2]
    dyn["psnr_vs_dense_on_this_pair"] = psnr(frame_d[0].permute(1, 2, 0).numpy(), frame_s[0].permute(1, 2, 0).numpy())
    dyn["speedup_vs_dense"] = 1 - dyn["ms_per_frame"] / den["ms_per_frame"]
    mc["speedup_vs_dense"] = 1 - mc["ms_per_frame"] / den["ms_per_frame"]
    rows.append({"case": f"720p_{seq}_baselines", "content": seq, "size": [w, h], **base})
    print({r["case"]: round(r.get("ms_per_frame", 0), 1) for r in rows}, "saving", round(dyn["speedup_vs_dense"], 3))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--frames", type=int, default=None, help="first N frames of each sequence (default: all)")
    p.add_argument("--weights", help="a checkpoint (last.pt / exported .pt) instead of the shipped weights")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="smoke run: 5 frames, 320x176 timing, 1 repetition")
    p.add_argument("--device", default="cpu", choices=["cpu"])
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if args.weights:
        from pywlc.vfi.weights import model_from_state

        model = model_from_state(torch.load(args.weights, weights_only=False))
    else:
        from pywlc.vfi import load_model

        model = load_model()
    data = Path(args.data)
    frames, size, reps = (5, (320, 176), 1) if args.quick else (args.frames, (1280, 720), args.reps)
    started = time.time()
    rows = quality(model, data, frames)
    for seq in SEQUENCES:
        rows += speed(model, data, seq, size, reps)
    for r in rows:
        r["weights"] = args.weights or "shipped"
    tag = device_tag(torch.device("cpu"))
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"vfi-{tag}.json"
    res = save_result("vfi", torch.device("cpu"), reps, rows, out, ROOT)
    res["wall_seconds"] = round(time.time() - started, 1)
    out.write_text(__import__("json").dumps(res, indent=1))


if __name__ == "__main__":
    main()
