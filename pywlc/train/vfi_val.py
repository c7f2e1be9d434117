"""Validation of frame-interpolator weights on the held-out tails of the train sequences:
``python -m pywlc.train vfi-val --data D --weights A B ... [--holdout 13]``.

A run trained with ``--holdout K`` never draws the last ``K`` frames of ``mire2`` and ``forensics_dog``; here
every other one of them is dropped and interpolated back (triplets ``(2k, 2k+1, 2k+2)`` inside the tail) by each
weights, dynamic and forced dense, beside the plain DIS blends (bilinear and bicubic warps) the model starts
from; ``--synthetic N`` adds moving triplets of the held-out train photos.  Choices between weights (data recipe,
ratio set, computation weight) are made on these numbers; the test split is only for the final benchmark
(``benchmarks/bench_vfi.py``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
from pathlib import Path

import torch

from ..ops import warp
from ..vfi.api import interpolate
from ..vfi.motion import bidirectional_flow, intermediate_flows
from ..vfi.weights import WEIGHTS, load_model, model_from_state

__all__ = ["validate"]


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return 100.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _model(spec: str, dis_preset: str | None):
    if spec in WEIGHTS:
        model = load_model(spec)
    else:
        state = torch.load(spec, weights_only=False)
        if "model_config" not in state:
            raise ValueError(f"--weights {spec}: neither shipped weights ({sorted(WEIGHTS)}) nor a vfi checkpoint")
        model = model_from_state(state)
    if dis_preset is not None:
        model = copy.copy(model)  # the cached shipped model keeps its own preset
        model.cfg = dataclasses.replace(model.cfg, dis_preset=dis_preset)
    return model


def _dis_blends(f0: torch.Tensor, f1: torch.Tensor, preset: str, t: float = 0.5) -> dict[str, torch.Tensor]:
    """The model's starting point without its networks, bilinear (``dis_blend``) and bicubic (``dis_blend_cubic``):
    DIS flows (computed once), linear intermediate flows, the t-weighted mean of the warps."""
    x0, x1 = (f[None].float() / 255 for f in (f0, f1))
    a, b = bidirectional_flow(x0, x1, 1, preset)
    ft0, ft1 = intermediate_flows(a, b, torch.tensor([t]))
    out = {}
    for mode, key in (("bilinear", "dis_blend"), ("bicubic", "dis_blend_cubic")):
        x = (1 - t) * warp(x0, ft0, mode=mode) + t * warp(x1, ft1, mode=mode)
        out[key] = (x[0].clamp(0, 1) * 255).round()
    return out


def _synthetic_triplets(data: str | Path, photos: int, count: int, patch: int = 256, seed: int = 12345):
    """``count`` fixed triplets ``(i0, i1, gt uint8 Tensor[3, P, P], t)`` of the trainer's synthetic motion (moving
    background, a foreground disc, 8-bit frames) over the last ``photos`` train photos (``--holdout-photos``)."""
    from .splits import load_photos, photo_split
    from .vfi import VFITrainConfig, _synthetic_triplet

    held = photo_split(data)[0][-photos:]
    pics = [p for p in load_photos(held, 2) if min(p.shape[1:]) >= 2 * patch + 8]
    if not pics:
        raise ValueError(f"none of the last {photos} train photos is large enough for {patch}-pixel triplets")
    cfg = VFITrainConfig(data=str(data), out="", quantize=True)
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        a, b, m, t = _synthetic_triplet(pics, g, patch, cfg)
        out.append(tuple((x * 255).round().to(torch.uint8) for x in (a, b, m)) + (t,))
    return out


def _score(models: dict, triplets, preset: str) -> dict[str, float]:
    """Mean PSNR of every method over ``(f0, f1, gt uint8 Tensor[C, H, W], t)`` triplets."""
    rows: dict[str, list[float]] = {}
    for f0, f1, gt, t in triplets:
        for key, pred in _dis_blends(f0, f1, preset, t).items():
            rows.setdefault(key, []).append(_psnr(pred, gt))
        for w, model in models.items():
            for mode in ("dynamic", "dense"):
                out = interpolate(f0, f1, t, ratio=mode, model=model, details=True)
                rows.setdefault(f"{w}:{mode}", []).append(_psnr(out.frame, gt))
                if mode == "dynamic":
                    dens = float(sum(d.mean() for d in out.densities) / max(1, len(out.densities)))
                    rows.setdefault(f"{w}:density", []).append(dens)
    return {m: round(sum(v) / len(v), 3) for m, v in rows.items()}


def validate(data: str | Path, weights: list[str], holdout: int = 13, dis_preset: str | None = None,
             synthetic: int = 0, holdout_photos: int = 4) -> dict:
    """``{"sequences": {name: {method: mean PSNR dB}}, "mean": {method: ...}}`` over the held-out triplets; with
    ``synthetic`` > 0 also ``"synthetic"``: the same over that many moving triplets of the last ``holdout_photos``
    train photos (weights trained with ``--holdout-photos`` that many never saw them)."""
    from .vfi import TRAIN_SEQUENCES, _read_sequence

    if holdout < 3:
        raise ValueError(f"holdout must be >= 3 frames, got {holdout}")
    if synthetic < 0 or (synthetic and holdout_photos < 1):
        raise ValueError(f"synthetic must be >= 0 and holdout_photos >= 1, got {synthetic}, {holdout_photos}")
    models = {w: _model(w, dis_preset) for w in weights}
    preset = dis_preset or "medium"  # the DIS baseline of bench_vfi.py
    result: dict = {"holdout": holdout, "sequences": {}}
    for name in TRAIN_SEQUENCES:
        seq = _read_sequence(Path(data) / "video" / name)[-holdout:]
        triplets = [(seq[2 * k], seq[2 * k + 2], seq[2 * k + 1], 0.5) for k in range((len(seq) - 1) // 2)]
        result["sequences"][name] = _score(models, triplets, preset)
    keys = next(iter(result["sequences"].values())).keys()
    result["mean"] = {m: round(sum(s[m] for s in result["sequences"].values()) / len(result["sequences"]), 3)
                      for m in keys}
    if synthetic:
        result["synthetic"] = _score(models, _synthetic_triplets(data, holdout_photos, synthetic), preset)
        result["synthetic"]["triplets"] = synthetic
    return result


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    print(json.dumps(validate(args.data, args.weights, args.holdout, args.dis_preset, args.synthetic,
                              args.holdout_photos), indent=1))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``vfi-val`` to ``python -m pywlc.train``."""
    p = sub.add_parser("vfi-val", help="PSNR of frame-interpolator weights on the held-out tails of the train video")
    p.add_argument("--data", required=True, help="the shared data folder")
    p.add_argument("--weights", nargs="+", required=True, help="shipped weights names or vfi checkpoints")
    p.add_argument("--holdout", type=int, default=13, help="held-out tail frames per train sequence (default 13)")
    p.add_argument("--dis-preset", help="run every model with this DIS preset (default: each model's own)")
    p.add_argument("--synthetic", type=int, default=0,
                   help="also score this many synthetic moving triplets of the held-out train photos (default 0)")
    p.add_argument("--holdout-photos", type=int, default=4,
                   help="the last N train photos the synthetic triplets move (train with --holdout-photos N)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=_run)
