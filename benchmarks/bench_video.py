"""WL-SVC against x264 / x265 on the test sequences of SPLITS.md, in one run (issue 13).

* RD: WL-SVC (learned entropy model + post-filter), the same pipeline with the classical context model (the
  ablation: what the learned parts pay for), x264 and x265 (``-preset medium -tune psnr``, keyint = GOP, no scene
  cut; :mod:`pywlc.video.anchors`), Y-PSNR and YUV-PSNR (6:1:1) on the same YUV, BD-rate (VCEG-M33 cubic).
* Scalability: the 1/2 and 1/4 frame-rate and 1/2 resolution sub-streams cut from the same WL-SVC streams
  (:func:`pywlc.video.codec.extract`) against x264 coding the sub-sampled video directly (every 2nd / 4th frame;
  each plane downscaled by the CDF 9/7 LL band / 2).
* Speed: encode and decode frames per second of one stream per sequence, broken down by stage, and at 384x288
  (the first frames of the train sequence mire2: speed only) and 1280x720 (a synthetic pan over a test photo).

Writes ``benchmarks/results/video-<device>.json`` and ``.png``.  On 2 shared cores the full run takes about an
hour (``--frames 32`` halves it); say which in the README.

    python benchmarks/bench_video.py [--frames 64] [--qualities 20,32,44,56]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from pywlc.video import codec as C
from pywlc.video.evaluate import crop_even, plot, run_eval
from pywlc.video.io import Video, read_video, rgb_to_yuv

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _speed(video: Video, quality: float, gop: int) -> dict:
    enc_t: dict[str, float] = {}
    t0 = time.perf_counter()
    data = C.encode(video, quality, gop=gop, segment=max(gop, 64 // gop * gop), timings=enc_t)
    enc_s = time.perf_counter() - t0
    dec_t: dict[str, float] = {}
    t0 = time.perf_counter()
    C.decode(data, timings=dec_t)
    dec_s = time.perf_counter() - t0
    n = video.frames
    return {"size": f"{video.width}x{video.height}", "chroma": video.chroma, "frames": n, "quality": quality,
            "kbps": 8 * len(data) / 1000 / (n / float(video.fps)), "encode_fps": n / enc_s, "decode_fps": n / dec_s,
            "encode_seconds": enc_s, "decode_seconds": dec_s,
            "encode_stages": {k: round(v, 3) for k, v in enc_t.items()},
            "decode_stages": {k: round(v, 3) for k, v in dec_t.items()}}  # fmt: skip


def _pan_720p(frames: int) -> Video:
    """1280x720 4:2:0: a window panning 2 px/frame right and 1 px/frame down over a test photo (upscaled)."""
    from PIL import Image

    img = Image.open(DATA / "photos" / "plasma_Path.jpg").convert("RGB")
    img = img.resize((1280 + 2 * frames + 8, 720 + frames + 8), Image.LANCZOS)
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
    rgb = torch.stack([x[:, t : t + 720, 2 * t : 2 * t + 1280] for t in range(frames)])
    return rgb_to_yuv(rgb, chroma="420", fps=25)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=64, help="first N frames of each test sequence")
    p.add_argument("--qualities", default="20,32,44,56")
    p.add_argument("--gop", type=int, default=16)
    p.add_argument("--sequences", default="cube,kivy_city", help="test sequences of SPLITS.md")
    p.add_argument("--speed-frames", type=int, default=16)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video-cpu-2core.json")
    p.add_argument("--update-wlsvc", action="store_true",
                   help="rerun only WL-SVC's curves (and scalability, speed) with the current default model into an "
                        "existing --out; the anchors' and the ablation's points are kept, the old WL-SVC curve is kept "
                        "as 'wlsvc-previous'")  # fmt: skip
    p.add_argument("--no-speed", action="store_true", help="skip the speed rows")
    p.add_argument("--part", choices=["all", "learned", "ablation"], default="all",
                   help="learned: WL-SVC + anchors + scalability; ablation: the classical-model curve only (run the "
                        "parts as parallel processes and --merge them)")  # fmt: skip
    p.add_argument("--merge", nargs="+", type=Path, help="merge result files of separate runs (one per sequence, "
                   "run in parallel) into --out")  # fmt: skip
    args = p.parse_args(argv)
    if args.update_wlsvc:
        return _update(args)
    if args.merge:
        parts = [json.loads(f.read_text()) for f in args.merge]
        from pywlc.video.evaluate import bd_table

        res = parts[0]
        for extra in parts[1:]:
            for name, entry in extra["sequences"].items():
                if name in res["sequences"]:
                    mine = res["sequences"][name]
                    mine["curves"].update(entry["curves"])
                    for k, v in entry.items():
                        mine.setdefault(k, v)
                else:
                    res["sequences"][name] = entry
            if "speed" in extra:
                res.setdefault("speed", {}).update(extra["speed"])
        for entry in res["sequences"].values():
            curves = entry["curves"]
            anchors = [a for a in ("x264", "x265") if a in curves]
            tests = [t for t in ("wlsvc", "wlsvc-classical", "wlsvc-previous") if t in curves]
            entry["bd_rate_percent"] = bd_table(curves, anchors, tests)
            for ref in ("wlsvc-classical", "wlsvc-previous"):  # what the learned parts / the last change pay
                if "wlsvc" in curves and ref in curves:
                    entry["bd_rate_percent"].update(bd_table(curves, [ref], ["wlsvc"]))
        res["merged_from"] = [str(f) for f in args.merge]
        args.out.write_text(json.dumps(res, indent=1))
        plot(res, args.out.with_suffix(".png"))
        print(f"wrote {args.out}")
        return 0
    seqs = [str(DATA / "video" / s) for s in args.sequences.split(",") if s]
    qualities = [float(q) for q in args.qualities.split(",")]
    t0 = time.time()
    if args.sequences:
        learned, ablation = args.part in ("all", "learned"), args.part in ("all", "ablation")
        res = run_eval(seqs, out=str(args.out), qualities=qualities, anchors=["x264", "x265"] if learned else [],
                       frames=args.frames, gop=args.gop, ablation=ablation, scalability=learned,
                       learned=learned)  # fmt: skip
    else:  # speed rows only
        res = {"benchmark": "video", "gop": args.gop, "sequences": {}, "torch": torch.__version__}
    if not args.no_speed:
        res["speed"] = _speed_rows(args.speed_frames, args.gop)
    res["wall_seconds"] = round(time.time() - t0, 1)
    res["load_average_end"] = list(os.getloadavg())
    res["cpu"] = platform.processor() or platform.machine()
    try:
        res["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        res["git_commit"] = None
    res["model"] = C.load_video_model().name
    res["postfilter"] = _postfilter_name()
    args.out.write_text(json.dumps(res, indent=1))
    plot(res, args.out.with_suffix(".png"))
    print(f"wrote {args.out} ({res['wall_seconds']} s)")
    return 0


def _speed_rows(frames: int, gop: int) -> dict:
    """Encode / decode speed at quality 44: 384x288 grey (mire2) and 1280x720 4:2:0 (a synthetic pan)."""
    speed = {}
    mire = crop_even(read_video(DATA / "video" / "mire2", max_frames=frames))
    speed["384x288 (mire2, mono)"] = _speed(mire, 44, gop)
    print("speed 384x288:", json.dumps(speed["384x288 (mire2, mono)"]), flush=True)
    speed["1280x720 (synthetic pan, 4:2:0)"] = _speed(_pan_720p(frames), 44, gop)
    print("speed 720p:", json.dumps(speed["1280x720 (synthetic pan, 4:2:0)"]), flush=True)
    return speed


def _postfilter_name() -> str:
    """The decoder's post-filter: WL-SVC's shipped three-frame filter, or the image codec's."""
    from pywlc.video.model import VIDEO_POSTFILTERS

    return next(iter(VIDEO_POSTFILTERS), f"image ({C.IMAGE_MODEL})")


def _update(args: argparse.Namespace) -> int:
    from pywlc.video.evaluate import bd_table, scalability_rows, wlsvc_curve

    res = json.loads(args.out.read_text())
    t0 = time.time()
    for name, entry in res["sequences"].items():
        video = crop_even(read_video(DATA / "video" / name, max_frames=entry["frames"]))
        streams: dict = {}
        curves = entry["curves"]
        curves["wlsvc-previous"] = curves["wlsvc"]
        curves["wlsvc"] = wlsvc_curve(video, res["qualities"], res["gop"], streams=streams)
        anchors = [a for a in ("x264", "x265") if a in curves]
        entry["bd_rate_percent"] = bd_table(curves, anchors, ["wlsvc", "wlsvc-classical", "wlsvc-previous"])
        entry["bd_rate_percent"].update(bd_table(curves, ["wlsvc-classical", "wlsvc-previous"], ["wlsvc"]))
        print(name, json.dumps(entry["bd_rate_percent"]), flush=True)
        entry["scalability"] = scalability_rows(video, streams, res["gop"], anchors[0])
    if not args.no_speed:
        res["speed"] = _speed_rows(args.speed_frames, res["gop"])
    res["model"] = C.load_video_model().name
    res["postfilter"] = _postfilter_name()
    res["update_wall_seconds"] = round(time.time() - t0, 1)
    res["load_average_end"] = list(os.getloadavg())
    args.out.write_text(json.dumps(res, indent=1))
    plot(res, args.out.with_suffix(".png"))
    print(f"updated {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
