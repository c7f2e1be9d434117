"""Training of the frame interpolator (:mod:`pywlc.vfi`) on the CPU: ``python -m pywlc.train vfi ...``.

Data (train split of ``data/SPLITS.md`` only): triplets of the train video sequences (``mire2``,
``forensics_dog``; frames ``i, i+s, i+2s`` with ``s`` in {1, 2}, the middle one the target) and synthetic
motion over the train photos (a background under a random affine motion and a foreground patch of another
photo moving on its own, so that occlusions occur; the target time ``t`` is drawn from {1/4, 1/2, 3/4}).
Random crops, flips, time reversal and channel permutations; grey sequences are replicated to RGB.

Schedule (WaveletVFI Sec. 3.4): a static phase (every layer dense) then a dynamic phase (straight-through
Gumbel-softmax over the threshold ratios, soft masks, plus a computation term).  Loss: Charbonnier on the frame
plus an L1 wavelet-coefficient loss on every level's residual (both against the true frame).

The random stream of step ``k`` is seeded by ``(seed, k)``: a resumed run draws the same batches as an
uninterrupted one.  ``log.jsonl`` has one line per ``--log-every`` steps; ``last.pt`` holds the model, the
optimiser and the CPU seconds spent; ``vfi-export`` writes the shippable weights and their JSON record.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .._pinned import load_pinned
from ..vfi.model import VFIConfig, WaveletVFI
from ..vfi.motion import DIS_PRESETS, bidirectional_flow
from ..vfi.weights import WEIGHTS, weights_file
from .loop import Run, add_config_arguments, config_from_args, cosine_lr
from .splits import load_photos, photo_split

__all__ = ["VFITrainConfig", "export", "register", "train_vfi"]

TRAIN_SEQUENCES = ("mire2", "forensics_dog")


@dataclass
class VFITrainConfig:
    data: str
    out: str
    steps: int = 2400
    dynamic_from: float = 0.65  # fraction of the steps after which the dynamic phase starts
    batch: int = 12
    patch: int = 128
    lr: float = 1e-3
    lr_final: float = 5e-5
    synthetic_p: float = 0.4
    coeff_weight: float = 0.5
    # WaveletVFI's computation term, per unit of masked-level density.  Small: the Charbonnier loss is ~0.015 and
    # 0.1 dB is ~1.2 % of it (~0.0002): halving the density should not be bought with more than ~0.1 dB.
    compute_weight: float = 0.0005
    seed: int = 0
    threads: int = 1
    resume: bool = False
    log_every: int = 25
    save_every: int = 100
    stop_at: int = 0  # stop (checkpointed) after this step, to resume later; 0: run to ``steps``
    cache: str = ""  # folder of the downscaled-photo cache (default: OUT/cache)
    # Start from these weights (a checkpoint of this trainer or a shipped weights name): fine-tuning.  Its widths
    # are kept; ``dis_preset`` (OpenCV DIS: ultrafast | fast | medium) is this run's, and the exported weights'.
    init: str = ""
    dis_preset: str = "fast"
    # Synthetic triplets closer to a camera's (all 0 / off: the vfi-v1 recipe, whose random stream is unchanged):
    # the background holds still with probability ``static_p`` (only the foreground moves: the static-camera
    # scenes of the train and test video, where the blend is already exact and a residual can only hurt), each
    # frame gets its own Gaussian sensor noise of a sigma drawn from [0, ``noise_max``] 8-bit levels, and the
    # frames are rounded to 8 bits like every real frame (``quantize``).
    static_p: float = 0.0
    noise_max: float = 0.0
    quantize: bool = False
    # The last ``holdout`` frames of every train sequence are never drawn: the validation frames of
    # ``python -m pywlc.train vfi-val`` (weights are compared there, never on the test split).
    holdout: int = 0
    # The last ``holdout_photos`` train photos (SPLITS.md order) are never drawn either: ``vfi-val --synthetic``
    # moves them (the still tails above show little motion).
    holdout_photos: int = 0
    # The frame warps' interpolation (VFIConfig.warp_mode): bilinear | bicubic; "" (default): bilinear for a new
    # model, the ``init`` weights' own when fine-tuning (a fine-tune of vfi-v3 stays bicubic).
    warp_mode: str = ""
    context: int = 0  # width of the warped context pyramid (VFIConfig.context; 0: none)


def _read_sequence(folder: Path) -> Tensor:
    """``uint8 Tensor[T, 3, H, W]`` of a folder of PNG frames (grey replicated to three channels)."""
    frames = []
    for p in sorted(folder.glob("*.png")):
        with Image.open(p) as im:
            a = np.array(im.convert("RGB"))
        frames.append(torch.from_numpy(a).permute(2, 0, 1))
    if not frames:
        raise FileNotFoundError(f"no PNG frames in {folder}")
    return torch.stack(frames)


def _video_triplet(seqs: list[Tensor], g: torch.Generator, patch: int, holdout: int = 0
                   ) -> tuple[Tensor, Tensor, Tensor, float]:
    seq = seqs[int(torch.randint(len(seqs), (1,), generator=g))]
    seq = seq[: len(seq) - holdout]
    step = int(torch.randint(1, 3, (1,), generator=g))
    i = int(torch.randint(len(seq) - 2 * step, (1,), generator=g))
    _, _, h, w = seq.shape
    y, x = (int(torch.randint(s - patch + 1, (1,), generator=g)) for s in (h, w))
    trip = seq[i : i + 2 * step + 1 : step, :, y : y + patch, x : x + patch].float() / 255
    return trip[0], trip[2], trip[1], 0.5


def _synthetic_triplet(photos: list[Tensor], g: torch.Generator, patch: int, cfg: VFITrainConfig | None = None
                       ) -> tuple[Tensor, Tensor, Tensor, float]:
    """Background affine motion (or none, see ``VFITrainConfig.static_p``) + an elliptic foreground patch with its
    own translation; sensor noise and 8-bit rounding as ``cfg`` says."""

    def rnd(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g))

    bg = photos[int(torch.randint(len(photos), (1,), generator=g))].float()[None] / 255
    fg = photos[int(torch.randint(len(photos), (1,), generator=g))].float()[None] / 255
    t = [0.25, 0.5, 0.75][int(torch.randint(3, (1,), generator=g))]
    _, _, h, w = bg.shape
    span = patch  # margin from the photo's border (the crop and its motion stay inside)
    cx, cy = rnd(span, w - span), rnd(span, h - span)
    motion = [rnd(-14, 14), rnd(-14, 14), rnd(-0.04, 0.04), rnd(-0.03, 0.03)]  # dx, dy (px), log zoom, rotation
    fmove = [rnd(-20, 20), rnd(-20, 20)]
    fx, fy = rnd(span, fg.shape[3] - span), rnd(span, fg.shape[2] - span)
    radius = rnd(0.15, 0.35) * patch
    centre = (rnd(0.3, 0.7) * patch, rnd(0.3, 0.7) * patch)
    static_p, noise_max, quantize = (cfg.static_p, cfg.noise_max, cfg.quantize) if cfg else (0.0, 0.0, False)
    # Draws only for options that are on: a recipe without them keeps its random stream.
    if static_p > 0 and rnd(0, 1) < static_p:
        motion = [0.0, 0.0, 0.0, 0.0]
    sigma = rnd(0, noise_max) / 255 if noise_max > 0 else 0.0
    frames = []
    for tau in (0.0, t, 1.0):
        z, r = math.exp(motion[2] * tau), motion[3] * tau
        # patch pixel (u, v) -> photo pixel: centre + R(r) * z * (u - patch/2, v - patch/2) + tau * (dx, dy)
        u = torch.arange(patch, dtype=torch.float32) - patch / 2
        vv, uu = torch.meshgrid(u, u, indexing="ij")
        px = cx + z * (math.cos(r) * uu - math.sin(r) * vv) + tau * motion[0]
        py = cy + z * (math.sin(r) * uu + math.cos(r) * vv) + tau * motion[1]
        grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], -1)[None]
        frame = F.grid_sample(bg, grid, mode="bilinear", padding_mode="border", align_corners=True)[0]
        ox, oy = centre[0] + tau * fmove[0], centre[1] + tau * fmove[1]
        inside = (((uu + patch / 2 - ox) ** 2 + (vv + patch / 2 - oy) ** 2) < radius**2).float()
        gx = fx + uu + patch / 2 - ox
        gy = fy + vv + patch / 2 - oy
        fgrid = torch.stack([2 * gx / (fg.shape[3] - 1) - 1, 2 * gy / (fg.shape[2] - 1) - 1], -1)[None]
        obj = F.grid_sample(fg, fgrid, mode="bilinear", padding_mode="border", align_corners=True)[0]
        frame = inside * obj + (1 - inside) * frame
        if sigma > 0:
            frame = frame + sigma * torch.randn(frame.shape, generator=g)
        if quantize:
            frame = (frame.clamp(0, 1) * 255).round() / 255
        frames.append(frame)
    return frames[0], frames[2], frames[1], t


def sample_batch(seqs, photos, cfg: VFITrainConfig, g: torch.Generator):
    """``(i0, i1, gt Tensor[B, 3, P, P], t Tensor[B])`` for one step."""
    items = []
    for _ in range(cfg.batch):
        if float(torch.rand((), generator=g)) < cfg.synthetic_p:
            a, b, m, t = _synthetic_triplet(photos, g, cfg.patch, cfg)
        else:
            a, b, m, t = _video_triplet(seqs, g, cfg.patch, cfg.holdout)
        if float(torch.rand((), generator=g)) < 0.5:  # time reversal
            a, b, t = b, a, 1 - t
        stack = torch.stack([a, b, m])
        if float(torch.rand((), generator=g)) < 0.5:
            stack = stack.flip(3)
        if float(torch.rand((), generator=g)) < 0.5:
            stack = stack.flip(2)
        stack = stack[:, torch.randperm(3, generator=g)]
        items.append((stack, t))
    trip = torch.stack([s for s, _ in items])
    times = torch.tensor([t for _, t in items])
    return trip[:, 0].contiguous(), trip[:, 1].contiguous(), trip[:, 2].contiguous(), times


def _charbonnier(x: Tensor, y: Tensor, eps: float = 1e-3) -> Tensor:
    return torch.sqrt((x - y) ** 2 + eps * eps).mean()


def vfi_loss(model: WaveletVFI, i0, i1, gt, t, dynamic: bool, cfg: VFITrainConfig, tau: float):
    """``(loss, stats dict)`` of one batch (see the module doc)."""
    f01, f10 = bidirectional_flow(i0, i1, model.cfg.dis_scale, model.cfg.dis_preset)
    out, _, choice = model(i0, i1, f01, f10, t, "train-dynamic" if dynamic else "dense", gumbel_tau=tau)
    loss = _charbonnier(out.frame, gt)
    # wavelet-coefficient loss: each level's residual against the true coefficients minus the blend's
    target, cur, coeff = gt, None, 0.0
    from ..vfi.model import haar_split

    c = gt.shape[1]
    levels = []
    for _ in range(3):
        cur = haar_split(target)
        levels.append(cur)
        target = cur[:, :c]
    for k, (r, b) in enumerate(zip(out.residuals, out.base_pyramid, strict=True)):
        true = levels[2 - k]
        if k == 0:
            coeff = coeff + (b + r - true).abs().mean()
        else:
            coeff = coeff + (b[:, c:] + r - true[:, c:]).abs().mean()
    loss = loss + cfg.coeff_weight * coeff
    density = sum(out.densities) / len(out.densities)
    if dynamic:
        loss = loss + cfg.compute_weight * density.mean()
    with torch.no_grad():
        mse = F.mse_loss(out.frame.clamp(0, 1), gt)
    stats = {"psnr": float(-10 * torch.log10(mse + 1e-12)), "density": float(density.detach().mean()),
             "choice": [round(float(v), 3) for v in choice.detach().mean(0)]}
    return loss, stats


def train_vfi(cfg: VFITrainConfig) -> None:
    """Run (or resume) a training; writes ``OUT/last.pt`` and ``OUT/log.jsonl``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
        import cv2

        cv2.setNumThreads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(cfg.data)
    seqs = [_read_sequence(data / "video" / s) for s in TRAIN_SEQUENCES]
    train_photos, _ = photo_split(data)
    train_photos = train_photos[: len(train_photos) - cfg.holdout_photos]
    photos = load_photos(train_photos, 2, Path(cfg.cache) if cfg.cache else out / "cache")
    photos = [p for p in photos if min(p.shape[1:]) >= 2 * cfg.patch + 8]
    torch.manual_seed(cfg.seed)
    model = _new_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    run = Run(out, model, opt, cfg.resume)
    dyn_start = int(cfg.dynamic_from * cfg.steps)
    end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps
    for step in range(run.start, end):
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # Gumbel noise
        i0, i1, gt, t = sample_batch(seqs, photos, cfg, g)
        lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)
        for group in opt.param_groups:
            group["lr"] = lr
        dynamic = step >= dyn_start
        tau = max(0.5, 1.0 - (step - dyn_start) / max(1, cfg.steps - dyn_start)) if dynamic else 1.0
        model.train()
        loss, stats = vfi_loss(model, i0, i1, gt, t, dynamic, cfg, tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % cfg.log_every == 0 or step + 1 == end:
            run.row(step + 1, loss=round(float(loss.detach()), 5), lr=lr, dynamic=dynamic, **stats)
        if (step + 1) % cfg.save_every == 0 or step + 1 == end:
            run.save(step + 1, cfg, model_config=asdict(model.cfg))
    run.close()


def _init_state(init: str) -> dict:
    """``{"model", "model_config", "cpu_seconds"}`` of a checkpoint path, or of a shipped weights name (then also
    ``"record"``: its JSON training record)."""
    if init in WEIGHTS:
        _, state = load_pinned(WEIGHTS, init, weights_file, "frame-interpolation")
        rec = json.loads(weights_file(init).with_suffix(".json").read_text())
        return {**state, "record": rec, "cpu_seconds": float(rec["cpu_hours"]) * 3600}
    state = torch.load(init, weights_only=False)  # a training checkpoint of this trainer
    if "model_config" not in state:
        raise ValueError(f"--init {init}: not a checkpoint of the vfi trainer")
    return {**state, "cpu_seconds": float(state["cpu_seconds"]) + _init_cpu_seconds(state["config"])}


def _init_cpu_seconds(cfg: dict) -> float:
    """CPU seconds behind a run's ``init`` (0 for a run from scratch)."""
    return float(_init_state(cfg["init"])["cpu_seconds"]) if cfg.get("init") else 0.0


def _check_preset(preset: str) -> None:
    if preset not in DIS_PRESETS:
        raise ValueError(f"dis_preset must be one of {sorted(DIS_PRESETS)}, got {preset!r}")


def _new_model(cfg: VFITrainConfig) -> WaveletVFI:
    _check_preset(cfg.dis_preset)
    if cfg.warp_mode not in ("", "bilinear", "bicubic"):
        raise ValueError(f"warp_mode must be 'bilinear' or 'bicubic', got {cfg.warp_mode!r}")
    if not cfg.init:
        return WaveletVFI(VFIConfig(dis_preset=cfg.dis_preset, warp_mode=cfg.warp_mode or "bilinear",
                                    context=cfg.context))
    state = _init_state(cfg.init)
    mc = {**state["model_config"], "dis_preset": cfg.dis_preset}
    if cfg.warp_mode:
        mc["warp_mode"] = cfg.warp_mode
    model = WaveletVFI(VFIConfig(**mc))
    model.load_state_dict(state["model"])
    return model


def export(ckpt: str | Path, out: str | Path, dis_preset: str | None = None) -> str:
    """Write the model weights of ``ckpt`` (a training checkpoint, or shipped weights by name) to ``out`` (``.pt``)
    with a ``.json`` record; returns the sha256.

    ``dis_preset``: the exported model's DIS preset instead of the one it was trained with (the record says so).
    """
    state = _init_state(str(ckpt))
    shipped = "record" in state
    if shipped:  # re-export of shipped weights: their training record carries over
        prior = state["record"]
        cfg, steps, hours = dict(prior["train_config"]), prior["steps"], float(prior["cpu_hours"])
    else:
        cfg, steps = dict(state["config"]), state["step"]
        for machine_path in ("data", "out", "cache"):  # folders of the training machine
            cfg.pop(machine_path, None)
        hours = state["cpu_seconds"] / 3600  # a fine-tuned run's include those of the weights it started from
        if cfg.get("init") and Path(cfg["init"]).exists():
            cfg["init"] = Path(cfg["init"]).name  # a checkpoint path of this machine -> its file name
    model_config = dict(state["model_config"])
    note = None
    if dis_preset is not None and dis_preset != model_config.get("dis_preset"):
        _check_preset(dis_preset)
        note = f"trained with DIS preset {model_config.get('dis_preset')}, exported to run with {dis_preset}"
        model_config["dis_preset"] = dis_preset
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state["model"], "model_config": model_config}, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    record = {"sha256": digest, "steps": steps, "cpu_hours": round(hours, 3), "train_config": cfg,
              "model_config": model_config,
              "data": {"sequences": list(TRAIN_SEQUENCES), "photos": "train split of data/SPLITS.md, downscaled by 2"}}
    if shipped:
        record["exported_from"] = str(ckpt)
    if note:
        record["note"] = note
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return digest


def _run_train(args: argparse.Namespace) -> int:
    train_vfi(config_from_args(VFITrainConfig, args))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    print(export(args.checkpoint, args.out, args.dis_preset))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``vfi`` and ``vfi-export`` to ``python -m pywlc.train``."""
    p = sub.add_parser("vfi", help="train the frame interpolator (pywlc.vfi) on the CPU")
    p.add_argument("--data", required=True, help="the shared data folder (SPLITS.md, photos/, video/)")
    p.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl)")
    add_config_arguments(p, VFITrainConfig)
    p.set_defaults(run=_run_train)
    x = sub.add_parser("vfi-export", help="write the frame interpolator's shippable weights; prints the sha256")
    x.add_argument("--checkpoint", required=True, help="last.pt of a vfi training, or shipped weights by name")
    x.add_argument("--dis-preset", help="run the exported model with this DIS preset (default: as trained)")
    x.add_argument("--out", required=True, help="weights file, e.g. pywlc/vfi/weights/vfi-v1.pt")
    x.set_defaults(run=_run_export)
