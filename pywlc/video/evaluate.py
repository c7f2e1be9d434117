"""RD evaluation of WL-SVC against x264 / x265 in one run (``wlc video eval``, ``benchmarks/bench_video.py``).

Per sequence (the first ``frames`` frames; 4:2:0 of odd size cropped to even for every contender, since H.264 /
HEVC need even sizes): WL-SVC at each quality (its decoder-identical reconstruction; one point per sequence is also
decoded from the stream and compared bitwise), the anchors at constant QPs (:mod:`pywlc.video.anchors`), Y-PSNR and
YUV-PSNR (6:1:1) by :func:`pywlc.video.metrics.psnr`, BD-rate (VCEG-M33 cubic, :mod:`pywlc.cli.bdrate`) of WL-SVC
against each anchor on Y-PSNR and YUV-PSNR, encode and decode wall-clock seconds.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from . import codec as C
from .io import Video, read_video
from .metrics import psnr

__all__ = ["crop_even", "run_eval", "wlsvc_curve"]

ANCHOR_QPS = (22, 27, 32, 37, 42)


def crop_even(video: Video) -> Video:
    """4:2:0 of odd size -> the even-sized top-left part (what H.264 / HEVC can code); others unchanged."""
    if video.chroma != "420" or (video.height % 2 == 0 and video.width % 2 == 0):
        return video
    h, w = video.height // 2 * 2, video.width // 2 * 2
    return Video(video.y[:, :h, :w].contiguous(), video.u[:, : h // 2, : w // 2].contiguous(),
                 video.v[:, : h // 2, : w // 2].contiguous(), "420", video.fps)  # fmt: skip


def _point(ref: Video, dist: Video, nbytes: int, seconds: float, **extra) -> dict:
    p = psnr(ref, dist)
    kbps = 8.0 * nbytes / 1000.0 / (ref.frames / float(ref.fps))
    return {"kbps": kbps, "bytes": nbytes, "psnr_y": p["y"], "psnr_yuv": p["yuv"], "seconds": seconds, **extra}


def wlsvc_curve(video: Video, qualities: Sequence[float], gop: int, *, verify_one: bool = True,
                model: object = None, label: str = "wlsvc", log: Callable[[str], None] = print,
                streams: dict | None = None) -> list[dict]:
    """WL-SVC's RD points on ``video``: per quality the stream size, PSNRs of the reconstruction and timings
    (``model``: as :func:`pywlc.video.codec.encode`; ``streams``, if given, receives ``quality -> bytes``)."""
    pts = []
    for i, q in enumerate(qualities):
        t0 = time.perf_counter()
        enc_t: dict[str, float] = {}
        data, rec = C.encode(video, q, gop=gop, segment=max(gop, 64 // gop * gop), model=model,
                             return_reconstruction=True, timings=enc_t)  # fmt: skip
        enc_s = time.perf_counter() - t0
        if streams is not None:
            streams[q] = data
        extra = {"quality": q, "encode_seconds": enc_s, "encode_stages": enc_t}
        if verify_one and i == len(qualities) // 2:
            t0 = time.perf_counter()
            dec_t: dict[str, float] = {}
            out = C.decode(data, model=model, timings=dec_t)
            extra["decode_seconds"] = time.perf_counter() - t0
            extra["decode_stages"] = dec_t
            extra["decoder_bitwise_equal"] = bool(all(torch.equal(a, b) for a, b in
                                                      zip(out.planes(), rec.planes(), strict=True)))  # fmt: skip
            if not extra["decoder_bitwise_equal"]:
                raise RuntimeError(f"{label}: the decoder's frames differ from the encoder's reconstruction")
            info = C.stream_info(data)
            extra["motion_bytes"] = sum(b for s in info.segments for lab, b in s.layers if lab.startswith("mv"))
        pts.append(_point(video, rec, len(data), enc_s, **extra))
        log(f"  {label} q={q:g}: {pts[-1]['kbps']:.1f} kbps, Y {pts[-1]['psnr_y']:.2f} dB, "
            f"YUV {pts[-1]['psnr_yuv']:.2f} dB, encode {enc_s:.1f} s")  # fmt: skip
    return pts


def anchor_curve(video: Video, codec: str, gop: int, qps: Sequence[int] = ANCHOR_QPS,
                 log: Callable[[str], None] = print) -> list[dict]:
    from .anchors import encode_anchor_curve

    pts = []
    for r in encode_anchor_curve(video, codec, qps, gop):
        pts.append(_point(r.reference, r.decoded, r.bytes, r.seconds, qp=r.qp, cropped=r.cropped))
        log(f"  {codec} qp={r.qp}: {pts[-1]['kbps']:.1f} kbps, Y {pts[-1]['psnr_y']:.2f} dB, "
            f"YUV {pts[-1]['psnr_yuv']:.2f} dB")  # fmt: skip
    return pts


def reference_at(video: Video, fps_divisor: int, resolution: int) -> Video:
    """What a sub-stream is compared with: every ``fps_divisor``-th frame (the frames the L frames track), each
    plane downscaled by the CDF 9/7 analysis low-pass (the LL band / 2 per level: what the spatial layers hold)."""
    from ..codecs.wavelet import transform as T

    planes = [p[::fps_divisor] for p in video.planes()]
    levels = resolution.bit_length() - 1
    if levels:
        planes = [(T.analysis(p.float()[:, None], levels, False).ll[:, 0] / 2**levels).round().clamp(0, 255)
                  .to(torch.uint8) for p in planes]  # fmt: skip
    fps = video.fps / fps_divisor
    if video.chroma == "mono":
        return Video(planes[0], None, None, "mono", fps)
    return Video(planes[0], planes[1], planes[2], video.chroma, fps)


def scalability_rows(video: Video, streams: dict, gop: int, anchor: str, log: Callable[[str], None] = print) -> dict:
    """RD of the sub-streams (half / quarter frame rate, half resolution) cut from the full streams, against
    ``anchor`` coding the same sub-sampled video directly (GOP scaled with the frame rate)."""
    out = {}
    for label, fd, res in (("fps_1_2", 2, 1), ("fps_1_4", 4, 1), ("res_1_2", 1, 2)):
        ref = crop_even(reference_at(video, fd, res))
        pts = []
        for q, data in streams.items():
            sub = C.extract(data, fps_divisor=fd, resolution=res)
            t0 = time.perf_counter()
            dec = C.decode(sub)
            seconds = time.perf_counter() - t0
            if (dec.height, dec.width) != (ref.height, ref.width):  # the anchor's even crop
                dec = crop_even(dec) if dec.chroma == "420" else dec
            pts.append(_point(ref, dec, len(sub), seconds, quality=q))
        sub_gop = max(1, gop // fd)
        anc = anchor_curve(ref, anchor, sub_gop, log=lambda s: None)
        entry = {"wlsvc": pts, anchor: anc, "reference": ("every frame" if fd == 1 else f"every {fd}-th frame") + (
            ", CDF 9/7 LL band / 2 per level" if res > 1 else ""), "anchor_gop": sub_gop}
        entry["bd_rate_percent"] = bd_table({"wlsvc": pts, anchor: anc}, [anchor], ["wlsvc"])
        log(f"  {label}: BD-rate vs {anchor}: {json.dumps(entry['bd_rate_percent'])}")
        out[label] = entry
    return out


def bd_table(curves: dict[str, list[dict]], anchors: Sequence[str], tests: Sequence[str]) -> dict:
    from ..cli.bdrate import bd_rate

    out: dict = {}
    for t in tests:
        for a in anchors:
            for metric in ("psnr_y", "psnr_yuv"):
                key = f"{t}_vs_{a}_{metric}"
                try:
                    out[key] = bd_rate([p["kbps"] for p in curves[a]], [p[metric] for p in curves[a]],
                                       [p["kbps"] for p in curves[t]], [p[metric] for p in curves[t]])  # fmt: skip
                except (ValueError, KeyError) as e:
                    out[key] = None
                    out[key + "_why"] = str(e)
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seqs = results["sequences"]
    if not seqs:
        return
    fig, axes = plt.subplots(1, len(seqs), figsize=(5.5 * len(seqs), 4.2), squeeze=False)
    for ax, (name, s) in zip(axes[0], seqs.items(), strict=True):
        for codec, pts in s["curves"].items():
            pts = sorted(pts, key=lambda p: p["kbps"])
            ax.plot([p["kbps"] for p in pts], [p["psnr_y"] for p in pts], "o-", label=codec, ms=3)
        ax.set_xscale("log")
        ax.set_xlabel("kbps")
        ax.set_ylabel("Y-PSNR (dB)")
        ax.set_title(f"{name} ({s['frames']} frames {s['size']})")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_eval(sequences: Sequence[str], *, out: str, qualities: Sequence[float], anchors: Sequence[str],
             frames: int = 64, gop: int = 16, plot_path: str | None = None, quiet: bool = False,
             ablation: bool = False, scalability: bool = False, learned: bool = True) -> dict:
    """Evaluate and write ``out`` (JSON) and its RD plot; returns the results dict."""
    from .anchors import encoder_available, ffmpeg_available

    log = (lambda s: None) if quiet else (lambda s: print(s, flush=True))  # noqa: E731
    for a in anchors:
        if a not in ("x264", "x265"):
            raise ValueError(f"anchors must be x264 and/or x265, got {a!r}")
        if not ffmpeg_available() or not encoder_available(a):
            raise ValueError(f"anchor {a}: ffmpeg with lib{a} is not installed (apt-get install ffmpeg)")
    results: dict = {"benchmark": "video", "frames": frames, "gop": gop, "qualities": list(qualities),
                     "anchor_qps": list(ANCHOR_QPS), "torch": torch.__version__, "machine": platform.machine(),
                     "threads": torch.get_num_threads(), "sequences": {}}  # fmt: skip
    for path in sequences:
        name = Path(path).name.split(".")[0]
        video = crop_even(read_video(path, max_frames=frames))
        log(f"{name}: {video}")
        streams: dict = {}
        curves: dict[str, list[dict]] = {}
        if learned:  # False: only the ablation and / or anchors (runs split over processes, merged afterwards)
            curves["wlsvc"] = wlsvc_curve(video, qualities, gop, log=log, streams=streams)
        if ablation:
            curves["wlsvc-classical"] = wlsvc_curve(video, qualities, gop, model="classical",
                                                    label="wlsvc-classical", log=log)  # fmt: skip
        for a in anchors:
            curves[a] = anchor_curve(video, a, gop, log=log)
        tests = [*(["wlsvc"] if learned else []), *(["wlsvc-classical"] if ablation else [])]
        entry = {"frames": video.frames, "size": f"{video.width}x{video.height}", "chroma": video.chroma,
                 "fps": str(video.fps), "curves": curves, "bd_rate_percent": bd_table(curves, list(anchors), tests)}
        if ablation and learned:
            entry["bd_rate_percent"].update(bd_table(curves, ["wlsvc-classical"], ["wlsvc"]))
        log(f"  BD-rate: {json.dumps(entry['bd_rate_percent'])}")
        if scalability and anchors and learned:
            entry["scalability"] = scalability_rows(video, streams, gop, anchors[0], log=log)
        results["sequences"][name] = entry
    from ..cli.evaluate import write_results

    outp = Path(out)
    outp.parent.mkdir(parents=True, exist_ok=True)
    write_results(results, outp)
    plot(results, Path(plot_path) if plot_path else outp.with_suffix(".png"))
    return results
