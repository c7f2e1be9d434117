"""Scalable wavelet coding benchmark: embedded quality layers vs the single-layer codec, simulcast and JPEG 2000.

    python benchmarks/bench_scalable.py [--quick] [--fit 768] [--layers 15,35,55,75] [--out results.json]

One run on the **test** photos of ``shared/data/SPLITS.md`` (14 files), each downscaled once with Pillow's
Lanczos filter so that the long side is at most ``--fit`` px (as ``bench_image_codec --fit`` does):

* **Layers**: one layered stream per picture (``encode_layers``); for each layer k the prefix stream
  ``extract_layers(s, layers=k)`` is decoded and checked bitwise against ``decode_layers(s, layers=k)``; its RD
  point is (bytes of the prefix stream incl. header, RGB PSNR).  Each layer is also compared with the single-layer
  codec's stream at the same quality (same indices; layer 1 is the same picture, upper layers gain a little from
  the coarse bins: ``psnr_gain``).
* **Scalability cost**: BD-rate (``bjontegaard``, pchip, PSNR) of the layered curve against the single-layer
  curve at the same qualities -- per image (median, mean) and on the mean curves; and **simulcast**: the K
  independent single-layer streams a server would store instead (bytes added up), against the layered stream.
* **JPEG 2000's own scalability**: OpenJPEG (Pillow, irreversible 9/7 + ICT) with K quality layers whose rate
  targets are our layer prefixes' rates, decoded at each layer prefix (Pillow's ``layers``); the rate of a prefix
  is its target (OpenJPEG's allocation; the full stream's actual size is recorded beside it).  BD-rate of our
  layer curve against theirs.  **Resolutions**: our 1/2 and 1/4 decodes (``resolution=2, 4``) against JPEG 2000's
  ``reduce = 1, 2``, PSNR against two downscaled references: the 9/7 approximation band of the original
  (``pywlc.ops.dwt.wavedec2(..., "bior4.4")`` on RGB, divided by 2 per level: what both codecs reconstruct) and
  area averaging (OpenCV ``INTER_AREA``).  Rates of reduced decodes: the full-resolution layer rate (same stream
  for both codecs) and, for ours, the extracted sub-stream's bytes per reduced pixel.

Timings are not the point here (the machine is shared); everything runs on one thread.  Writes
``benchmarks/results/scalable-cpu-2core.json`` and the RD plot beside it as ``.png``.

``--fuzz N`` instead fuzzes the layered decoder and extractor (target ``wavelet-layers`` of
:mod:`pywlc.testing.fuzz`, seeded, in this process): byte mutations of layered streams, and streams re-wrapped
with valid CRCs around mutated payloads or metadata; a correct outcome is a decoded picture (possibly with
dropped layers) or ``BitstreamError``.  Writes ``benchmarks/results/scalable-fuzz-cpu-2core.json``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image, ImageFile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_image_codec import bd_rate, load_picture, psnr, test_files  # noqa: E402

from pywlc.benchmark import _git_commit, device_name  # noqa: E402
from pywlc.codecs import wavelet as W  # noqa: E402
from pywlc.codecs.wavelet import layered as L  # noqa: E402
from pywlc.codecs.wavelet.layered_model import LAYERED_WEIGHTS, LayeredModel, load_layered_model  # noqa: E402
from pywlc.ops.dwt import wavedec2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESOLUTIONS = (2, 4)


def reference_ll(x: torch.Tensor, r: int) -> torch.Tensor:
    """The 9/7 approximation band of ``x`` (uint8 ``[C, H, W]``) after log2(r) levels, / r, as float ``[C, h, w]``."""
    ll, _ = wavedec2(x[None].double(), "bior4.4", int(math.log2(r)))
    return (ll[0] / r).clamp(0, 255)


def reference_area(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    a = x.permute(1, 2, 0).numpy()
    out = cv2.resize(a, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(out.reshape(shape[0], shape[1], -1)).permute(2, 0, 1).double()


def j2k_layers(x: torch.Tensor, bpps: list[float]) -> bytes:
    """OpenJPEG, irreversible 9/7 + ICT, one quality layer per cumulative rate target (bits per pixel)."""
    ratios = [8.0 * x.shape[0] / b for b in bpps]
    buf = io.BytesIO()
    Image.fromarray(x.permute(1, 2, 0).numpy()).save(buf, "JPEG2000", no_jp2=True, irreversible=True, mct=1,
                                                      quality_mode="rates", quality_layers=ratios)
    return buf.getvalue()


def j2k_decode(data: bytes, layers: int, reduce: int) -> torch.Tensor:
    im = Image.open(io.BytesIO(data))
    im.layers = layers
    im.reduce = reduce
    if not reduce:  # Pillow passes ``layers`` to OpenJPEG only when it rewrites the tile for a reduce: do it here
        t = im.tile[0]
        im.tile = [ImageFile._Tile(t[0], t[1], t[2], (t[3][0], 0, layers, *t[3][3:]))]
    im.load()
    return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)


def measure(name: str, x: torch.Tensor, qualities: list[float], model: LayeredModel) -> dict[str, Any]:
    pixels = x.shape[-1] * x.shape[-2]
    t0 = time.perf_counter()
    s = L.encode_layers(x, qualities, model=model)
    enc_s = time.perf_counter() - t0
    layers, single = [], []
    for k, q in enumerate(qualities, 1):
        sub = L.extract_layers(s, layers=k)
        t0 = time.perf_counter()
        a = L.decode_layers(s, layers=k, model=model).image
        dec_s = time.perf_counter() - t0
        b = L.decode_layers(sub, model=model).image
        one = W.encode(x, quality=q, model=model.base)
        y1 = W.decode(one, model=model.base)
        layers.append({"layer": k, "quality": q, "bytes": len(sub), "bpp": 8 * len(sub) / pixels, "psnr": psnr(a, x),
                       "extract_equal": bool(torch.equal(a, b)), "psnr_gain": psnr(a, x) - psnr(y1, x),
                       "decode_s": dec_s})
        single.append({"quality": q, "bytes": len(one), "bpp": 8 * len(one) / pixels, "psnr": psnr(y1, x)})
    j2k = j2k_layers(x, [p["bpp"] for p in layers])
    jpts = [{"layer": k, "bpp": p["bpp"], "psnr": psnr(j2k_decode(j2k, k, 0), x)} for k, p in enumerate(layers, 1)]
    res: dict[str, Any] = {}
    for r in RESOLUTIONS:
        rows = []
        for k in range(1, len(qualities) + 1):
            ours = L.decode_layers(s, layers=k, resolution=r, model=model).image
            sub = L.extract_layers(s, layers=k, resolution=r)
            theirs = j2k_decode(j2k, k, int(math.log2(r)))
            ref_ll, ref_area = reference_ll(x, r), reference_area(x, tuple(ours.shape[-2:]))
            if theirs.shape != ours.shape or ref_ll.shape != ours.shape:
                raise RuntimeError(f"{name}: 1/{r} sizes differ: ours {tuple(ours.shape)}, JPEG 2000 "
                                   f"{tuple(theirs.shape)}, reference {tuple(ref_ll.shape)}")
            rows.append({"layer": k, "bpp_full": layers[k - 1]["bpp"],
                         "bpp_substream": 8 * len(sub) / (ours.shape[-1] * ours.shape[-2]),
                         "ours_psnr_ll": psnr(ours, ref_ll), "j2k_psnr_ll": psnr(theirs, ref_ll),
                         "ours_psnr_area": psnr(ours, ref_area), "j2k_psnr_area": psnr(theirs, ref_area)})
        res[f"1/{r}"] = rows
    return {"image": name, "size": list(x.shape), "encode_s": enc_s, "layered_bytes": len(s),
            "simulcast_bytes": sum(p["bytes"] for p in single), "layers": layers, "single": single,
            "jpeg2000": {"bytes": len(j2k), "bpp_top": 8 * len(j2k) / pixels, "points": jpts}, "resolutions": res}


def _bd(curves_a: list[tuple[list[float], list[float]]], curves_t: list[tuple[list[float], list[float]]]) -> dict:
    per = [bd_rate(ra, qa, rt, qt) for (ra, qa), (rt, qt) in zip(curves_a, curves_t, strict=True)]
    ok = [v["bd_rate"] for v in per if "bd_rate" in v]
    mean_a = [list(map(statistics.fmean, zip(*(c[i] for c in curves_a), strict=True))) for i in (0, 1)]
    mean_t = [list(map(statistics.fmean, zip(*(c[i] for c in curves_t), strict=True))) for i in (0, 1)]
    return {"per_image_median": statistics.median(ok) if ok else None, "per_image_mean": statistics.fmean(ok) if ok
            else None, "n": len(ok), "failed": len(per) - len(ok), "mean_curve": bd_rate(*mean_a, *mean_t),
            "per_image": per}


def summarise(images: list[dict[str, Any]]) -> dict[str, Any]:
    lay = [([p["bpp"] for p in im["layers"]], [p["psnr"] for p in im["layers"]]) for im in images]
    one = [([p["bpp"] for p in im["single"]], [p["psnr"] for p in im["single"]]) for im in images]
    sim = [([sum(p["bpp"] for p in im["single"][: i + 1]) for i in range(len(im["single"]))],
            [p["psnr"] for p in im["single"]]) for im in images]
    j2k = [([p["bpp"] for p in im["jpeg2000"]["points"]], [p["psnr"] for p in im["jpeg2000"]["points"]])
           for im in images]
    out: dict[str, Any] = {
        "layered_vs_single_layer": _bd(one, lay),
        "layered_vs_simulcast_curve": _bd(sim, lay),
        "layered_vs_jpeg2000_layers": _bd(j2k, lay),
        "simulcast_saving": {
            "total_layered_bytes": sum(im["layered_bytes"] for im in images),
            "total_simulcast_bytes": sum(im["simulcast_bytes"] for im in images),
        },
        "top_layer_overhead_vs_single": statistics.fmean(
            im["layers"][-1]["bytes"] / im["single"][-1]["bytes"] - 1 for im in images),
        "per_layer_overhead_vs_single": [statistics.fmean(
            im["layers"][k]["bytes"] / im["single"][k]["bytes"] - 1 for im in images)
            for k in range(len(images[0]["layers"]))],
        "all_extract_equal": all(p["extract_equal"] for im in images for p in im["layers"]),
        "mean_psnr_gain_vs_single_per_layer": [statistics.fmean(im["layers"][k]["psnr_gain"] for im in images)
                                               for k in range(len(images[0]["layers"]))],
    }
    s = out["simulcast_saving"]
    s["saving"] = 1 - s["total_layered_bytes"] / s["total_simulcast_bytes"]
    for r in RESOLUTIONS:
        key = f"1/{r}"
        row: dict[str, Any] = {}
        for ref in ("ll", "area"):
            ours = [([p["bpp_full"] for p in im["resolutions"][key]], [p[f"ours_psnr_{ref}"]
                     for p in im["resolutions"][key]]) for im in images]
            theirs = [([p["bpp_full"] for p in im["resolutions"][key]], [p[f"j2k_psnr_{ref}"]
                       for p in im["resolutions"][key]]) for im in images]
            row[f"ours_vs_jpeg2000_{ref}"] = _bd(theirs, ours)
            row[f"mean_psnr_ours_{ref}"] = [statistics.fmean(c[1][k] for c in ours) for k in range(len(ours[0][1]))]
            row[f"mean_psnr_j2k_{ref}"] = [statistics.fmean(c[1][k] for c in theirs)
                                           for k in range(len(theirs[0][1]))]
        out[f"resolution_{key}"] = row
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ims = result["images"]
    k = len(ims[0]["layers"])

    def mean(f) -> list[float]:
        return [statistics.fmean(f(im, i) for im in ims) for i in range(k)]

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    ax.plot(mean(lambda im, i: im["layers"][i]["bpp"]), mean(lambda im, i: im["layers"][i]["psnr"]), "o-",
            label="ours, layered (one stream, prefixes)")
    ax.plot(mean(lambda im, i: im["single"][i]["bpp"]), mean(lambda im, i: im["single"][i]["psnr"]), "s--",
            label="ours, single-layer streams")
    ax.plot(mean(lambda im, i: sum(p["bpp"] for p in im["single"][: i + 1])),
            mean(lambda im, i: im["single"][i]["psnr"]), "x:", label="simulcast (single-layer bytes added up)")
    ax.plot(mean(lambda im, i: im["jpeg2000"]["points"][i]["bpp"]),
            mean(lambda im, i: im["jpeg2000"]["points"][i]["psnr"]), "^-", label="JPEG 2000, quality layers")
    ax.set(xlabel="bits per pixel", ylabel="RGB PSNR (dB)", title="full resolution, mean of the test photos")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for ax, r in zip(axes[1:], RESOLUTIONS, strict=True):
        key = f"1/{r}"
        bpp = mean(lambda im, i, key=key: im["resolutions"][key][i]["bpp_full"])
        for who, style, label in (("ours", "o-", "ours"), ("j2k", "^-", "JPEG 2000 (reduce)")):
            ax.plot(bpp, mean(lambda im, i, key=key, who=who: im["resolutions"][key][i][f"{who}_psnr_ll"]), style,
                    label=f"{label}, vs 9/7 LL")
            ax.plot(bpp, mean(lambda im, i, key=key, who=who: im["resolutions"][key][i][f"{who}_psnr_area"]),
                    style.replace("-", ":"), label=f"{label}, vs area average")
        ax.set(xlabel="full-resolution layer rate (bpp)", ylabel="PSNR (dB)", title=f"decoded at {key} resolution")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def fuzz(inputs: int, out: Path) -> dict[str, Any]:
    """Run the ``wavelet-layers`` fuzz target for ``inputs`` seeded inputs; write and return the result."""
    import json

    from pywlc.testing import fuzz_targets  # noqa: F401 - registers "wavelet-layers"
    from pywlc.testing.fuzz import run_inprocess

    result = run_inprocess("wavelet-layers", inputs, seed=0)
    result.update({"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                   "device": device_name(torch.device("cpu")), "torch": torch.__version__,
                   "git_commit": _git_commit(ROOT),
                   "note": "outcome 'ok': decoded (dropped layers allowed); BitstreamError: refused; anything else "
                           "would be listed under 'unexpected'. In-process run: a crash would have ended it."})
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--fit", type=int, default=768, help="downscale so that the long side is at most FIT px")
    p.add_argument("--layers", default="15,35,55,75", help="qualities of the K layers")
    p.add_argument("--images", type=int, default=None, help="only the first N test photos")
    p.add_argument("--quick", action="store_true", help="2 photos at --fit 256 (a smoke run)")
    p.add_argument("--untrained", action="store_true", help="refinement by the single-layer weights (ablation)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/scalable[-fuzz]-cpu-2core.json")
    p.add_argument("--fuzz", type=int, default=0, help="instead: fuzz the layered decoder/extractor with N inputs")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    results = ROOT / "benchmarks" / "results"
    if args.fuzz:
        r = fuzz(args.fuzz, Path(args.out or results / "scalable-fuzz-cpu-2core.json"))
        print(f"wavelet-layers fuzz: {r['inputs']} inputs, outcomes {r['outcomes']}, unexpected {r['unexpected']}")
        return 0 if not r["unexpected"] else 1
    args.out = args.out or str(results / "scalable-cpu-2core.json")
    data = Path(args.data)
    if not (data / "SPLITS.md").is_file():
        print(f"bench_scalable: no {data / 'SPLITS.md'}: pass --data", file=sys.stderr)
        return 2
    if args.quick:
        args.fit, args.images = min(args.fit, 256), args.images or 2
    qualities = [float(q) for q in args.layers.split(",")]
    if args.untrained or not LAYERED_WEIGHTS:
        model = LayeredModel.from_base(W.load_model())
    else:
        model = load_layered_model()
    files = test_files(data)[: args.images]
    commit = _git_commit(ROOT)
    started = time.time()
    images = []
    with torch.no_grad():
        for f in files:
            x = load_picture(f, fit=args.fit)
            images.append(measure(f.name, x, qualities, model))
            last = images[-1]
            print(f"{f.name}: {tuple(x.shape[-2:])}, layered {last['layered_bytes']} B, simulcast "
                  f"{last['simulcast_bytes']} B, top-layer overhead "
                  f"{last['layers'][-1]['bytes'] / last['single'][-1]['bytes'] - 1:+.2%}", flush=True)
    result = {
        "benchmark": "scalable",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": device_name(torch.device("cpu")),
        "threads": 1,
        "torch": torch.__version__,
        "git_commit": commit,
        "command": " ".join(["benchmarks/bench_scalable.py", *(argv if argv is not None else sys.argv[1:])]),
        "pictures": f"test photos of shared/data/SPLITS.md, downscaled with Pillow's Lanczos filter so that the long "
                    f"side is at most {args.fit} px",
        "model": model.name,
        "qualities": qualities,
        "summary": summarise(images),
        "images": images,
        "notes": [
            "JPEG 2000 prefix rates are OpenJPEG's rate targets (our layer prefixes' rates); its full stream's actual "
            "size is jpeg2000.bpp_top",
            "reduced-resolution PSNR against the 9/7 approximation band of the original (divided by 2 per level) and "
            "against OpenCV INTER_AREA averaging",
            "the machine was shared with other engineers' jobs; timings are indicative only",
        ],
        "wall_s": time.time() - started,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    import json

    out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result, out.with_suffix(".png"))
    s = result["summary"]
    print(f"{out}: layered vs single-layer BD-rate {s['layered_vs_single_layer']['mean_curve']}, per-image median "
          f"{s['layered_vs_single_layer']['per_image_median']}; simulcast saving {s['simulcast_saving']['saving']:.1%};"
          f" vs JPEG 2000 layers {s['layered_vs_jpeg2000_layers']['mean_curve']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
