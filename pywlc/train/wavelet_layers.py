"""Training of the scalable wavelet codec's refinement model on the CPU: ``python -m pywlc.train wavelet-layers``.

The refinement entropy model (:class:`~pywlc.codecs.wavelet.refine_model.RefineEntropyModel`) starts from the
shipped single-layer weights (``--base``) and minimises the ideal code length of a fine quantisation given a
coarse one: every step draws crops of the train photos (SPLITS.md, downscaled by 2, as the single-layer trainer
does), a fine step code per crop (uniform in ``[code_min, code_max]``) and a code gap (uniform in
``[gap_min, gap_max]``), quantises the fixed 9/7 pyramid at both steps exactly as the codec does (the fine indices
nested into the coarse bins) and minimises the refinement bits per pixel.  The random stream of step ``t`` is
seeded by ``(seed, t)``; runs checkpoint to ``OUT/last.pt`` and resume bit for bit.
``python -m pywlc.train wavelet-layers-export --ckpt OUT/last.pt --out weights/NAME.pt`` writes the shippable file
and prints its sha256 (the value to pin in :data:`pywlc.codecs.wavelet.layered_model.LAYERED_WEIGHTS`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..codecs.wavelet import transform as T
from ..codecs.wavelet.model import load_model
from ..codecs.wavelet.pyramid import QPyramid, quantize_pyramid
from ..codecs.wavelet.refine_model import RefineEntropyModel, nest, refine_bits
from .loop import Run, add_config_arguments, config_from_args, cosine_lr
from .splits import load_photos, photo_split
from .wavelet import WaveletTrainConfig, sample_batch

__all__ = ["LayersTrainConfig", "export_layers_weights", "register", "train_layers"]


@dataclass
class LayersTrainConfig:
    data: str
    out: str
    steps: int = 1500
    batch: int = 8
    patch: int = 256
    lr: float = 1e-3
    lr_final: float = 5e-5  # cosine decay to this
    code_min: int = -8  # fine step codes (T.step_of_code)
    code_max: int = 112
    gap_min: int = 8  # coarse code - fine code
    gap_max: int = 64
    base: str = "wavelet-v1"
    seed: int = 0
    threads: int = 0
    resume: bool = False
    log_every: int = 25
    save_every: int = 100
    cache: str | None = None


def nested_pair(x: Tensor, fine_code: Tensor, gap: Tensor) -> tuple[QPyramid, QPyramid]:
    """The fine and coarse quantised pyramids of uint8 crops ``x: Tensor[N, C, H, W]`` (fine nested as the codec
    nests it)."""
    p = T.forward(x, False)
    coarse = quantize_pyramid(p, T.step_of_code(fine_code + gap), False)
    fine = quantize_pyramid(p, T.step_of_code(fine_code), False)
    ratio = torch.exp2(gap.double() / 16).view(-1, 1, 1, 1, 1)
    fine.levels = [nest(f, c, ratio) for f, c in zip(fine.levels, coarse.levels, strict=True)]
    return fine, coarse


def _batch(pics: list[Tensor], cfg: LayersTrainConfig, step: int) -> dict:
    wcfg = WaveletTrainConfig(data=cfg.data, out=cfg.out, batch=cfg.batch, patch=cfg.patch, lossless_p=0.0,
                              code_min=cfg.code_min, code_max=cfg.code_max, seed=cfg.seed)
    b = sample_batch(pics, wcfg, step)
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step + 7_777_777)
    gap = torch.randint(cfg.gap_min, cfg.gap_max + 1, (cfg.batch,), generator=g)
    gap = torch.minimum(gap, T.STEP_CODE_MAX - b["codes"]).clamp(min=1)
    return {"x": b["x"], "codes": b["codes"], "gap": gap}


def _lr(cfg: LayersTrainConfig, step: int) -> float:
    return cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)


def train_layers(cfg: LayersTrainConfig) -> Path:
    """Run (or resume) the training; returns the path of the last checkpoint (``OUT/last.pt``)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if not 1 <= cfg.gap_min <= cfg.gap_max:
        raise ValueError(f"need 1 <= gap_min <= gap_max, got {cfg.gap_min}, {cfg.gap_max}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_paths, _ = photo_split(cfg.data)
    pics = load_photos(train_paths, 2, cfg.cache or out / "cache")
    torch.manual_seed(cfg.seed)
    model = RefineEntropyModel.from_base(load_model(cfg.base).entropy)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    run = Run(out, model, opt, cfg.resume)
    window: list[float] = []
    for step in range(run.start, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        b = _batch(pics, cfg, step)
        with torch.no_grad():
            fine, coarse = nested_pair(b["x"], b["codes"], b["gap"])
        bits = refine_bits(model, fine, coarse, b["codes"], b["gap"])
        loss = bits.sum() / (b["x"].shape[0] * b["x"].shape[-1] * b["x"].shape[-2])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(float(loss.detach()))
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            run.row(done, bpp=sum(window) / len(window), lr=_lr(cfg, step))
            window.clear()
        if done % cfg.save_every == 0 or done == cfg.steps:
            run.save(done, cfg)
    run.close()
    return run.ckpt


def export_layers_weights(ckpt: str | Path, out: str | Path) -> str:
    """Write the shippable refinement weights (+ ``.json`` training record) and return the file's sha256."""
    state = torch.load(ckpt, weights_only=False)
    cfg = {k: v for k, v in state["config"].items() if k not in ("data", "out", "cache")}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = RefineEntropyModel(32)
    model.load_state_dict(state["model"])
    torch.save({"refine": model.state_dict(), "hidden": model.hidden, "base": cfg["base"]}, out)
    record = {"step": state["step"], "cpu_seconds": state["cpu_seconds"], "config": cfg,
              "cpu_hours": round(state["cpu_seconds"] / 3600, 3)}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def _run_train(args: argparse.Namespace) -> int:
    train_layers(config_from_args(LayersTrainConfig, args))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    print(export_layers_weights(args.ckpt, args.out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``wavelet-layers`` and ``wavelet-layers-export`` to ``python -m pywlc.train``."""
    w = sub.add_parser("wavelet-layers", help="train the scalable wavelet codec's refinement entropy model (CPU)")
    w.add_argument("--data", required=True, help="the shared data folder (holds SPLITS.md, photos/, photos_more/)")
    w.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl)")
    add_config_arguments(w, LayersTrainConfig, skip=("cache",))
    w.add_argument("--cache", help="cache folder of the downscaled photos (default: OUT/cache)")
    w.set_defaults(run=_run_train)
    x = sub.add_parser("wavelet-layers-export", help="write the shippable refinement weights; prints sha256")
    x.add_argument("--ckpt", required=True, help="last.pt of a wavelet-layers run")
    x.add_argument("--out", required=True, help="e.g. pywlc/codecs/wavelet/weights/wavelet-layers-v1.pt")
    x.set_defaults(run=_run_export)
