"""Training of the learned image codecs (WeConvene and its baseline) with the paper's recipe.

Recipe (``shared/specs/weconvene.md``): random ``patch x patch`` crops, loss ``λ · 255² · MSE + bpp``, Adam 1e-4
for the network and a separate Adam 1e-3 for the entropy bottleneck's quantiles (CompressAI's aux loss), gradient
norm clipped at 1.0, learning rate ×0.1 for the last ``1 - lr_drop`` of the steps.

Data: the photos of ``--data`` sorted by file name; the last ``holdout`` (5) are the test set.  Every photo is
first downscaled by 2 with an antialiasing (Lanczos) filter, as the spec prescribes for JPEG originals (it
removes most JPEG artefacts and noise), and cached as PNG under ``cache`` (keyed by path, size and mtime).

Distributed: under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in DistributedDataParallel (NCCL on
GPUs, Gloo on CPUs); ``batch`` is the global batch, split evenly over the ranks; rank 0 writes the checkpoints
and logs.  The aux loss is added to the RD loss and both go through one backward: in training mode the RD loss
does not reach the quantiles (the bottleneck adds noise instead of subtracting medians) and the aux loss stops
gradients into the density model (``stop_gradient=True``), so the two optimisers see disjoint gradients, exactly
as with two backward passes, and DDP sees every parameter once per step.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch import Tensor

from ..zoo import LAMBDAS, build, read_checkpoint, save_checkpoint

__all__ = ["TrainConfig", "prepare_data", "rd_loss", "train"]

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm")


@dataclass
class TrainConfig:
    """Arguments of :func:`train` (the CLI's options, one to one)."""

    data: str
    out: str
    model: str = "weconvene"
    config: str | dict = "compact"
    lmbda: float = 0.0067
    steps: int = 1000
    batch: int = 8
    patch: int = 256
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_drop: float = 0.9
    clip: float = 1.0
    holdout: int = 5
    scale: int = 2
    cache: str | None = None
    seed: int = 0
    amp: bool = False
    resume: bool = False
    device: str | None = None
    log_every: int = 50
    save_every: int = 1000
    eval_every: int = 0
    extra: dict = field(default_factory=dict)


def _cache_name(path: Path, scale: int) -> str:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{scale}".encode()
    return f"{path.stem}-{hashlib.sha1(key).hexdigest()[:12]}-d{scale}.png"


def prepare_data(data: Path, cache: Path, holdout: int = 5, scale: int = 2) -> tuple[list[Path], list[Path]]:
    """Downscale (cached) every photo of ``data``; returns ``(train, test)`` cached paths, test = last ``holdout``.

    Raises:
        FileNotFoundError: no folder; ValueError: too few photos for the split.
    """
    if not data.is_dir():
        raise FileNotFoundError(f"training data folder not found: {data}")
    photos = sorted(p for p in data.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
    if len(photos) <= holdout:
        raise ValueError(f"{data} holds {len(photos)} photos: need more than the {holdout} held out for testing")
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for p in photos:
        dst = cache / _cache_name(p, scale)
        if not dst.is_file():
            with Image.open(p) as im:
                im = im.convert("RGB")
                small = im.resize((max(1, im.width // scale), max(1, im.height // scale)), Image.Resampling.LANCZOS)
            tmp = dst.with_name(dst.name + ".tmp.png")
            small.save(tmp)
            tmp.replace(dst)
        out.append(dst)
    return out[: len(out) - holdout], out[len(out) - holdout :]


def _load(path: Path) -> Tensor:
    with Image.open(path) as im:
        return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()


class RandomCrops:
    """Random crops (and horizontal flips) from pictures held in memory, drawn from one ``torch.Generator``."""

    def __init__(self, pictures: Sequence[Tensor], patch: int, seed: int) -> None:
        self.pictures = [p for p in pictures if min(p.shape[-2:]) >= patch]
        if not self.pictures:
            raise ValueError(f"no training picture is at least {patch}x{patch} after downscaling")
        self.patch = patch
        self.gen = torch.Generator().manual_seed(seed)

    def _int(self, hi: int) -> int:
        return int(torch.randint(hi, (1,), generator=self.gen))

    def batch(self, n: int) -> Tensor:
        """``Tensor[n, 3, patch, patch]`` float in [0, 1]."""
        out = []
        for _ in range(n):
            pic = self.pictures[self._int(len(self.pictures))]
            top, left = self._int(pic.shape[1] - self.patch + 1), self._int(pic.shape[2] - self.patch + 1)
            crop = pic[:, top : top + self.patch, left : left + self.patch]
            out.append(crop.flip(-1) if self._int(2) else crop)
        return torch.stack(out).float() / 255.0


def rd_loss(out: Mapping[str, Any], x: Tensor, lmbda: float) -> dict[str, Tensor]:
    """``λ · 255² · MSE + bpp`` of a model's output on ``x: Tensor[N, 3, H, W]`` (bpp from the likelihoods)."""
    n, _, h, w = x.shape
    bpp = sum(torch.log2(lik.float()).sum() for lik in out["likelihoods"].values()) / (-n * h * w)
    mse = torch.mean((out["x_hat"].float() - x) ** 2)
    return {"loss": lmbda * 255**2 * mse + bpp, "mse": mse, "bpp": bpp}


def _quality(lmbda: float) -> int:
    for k, lam in enumerate(LAMBDAS, start=1):
        if math.isclose(lam, lmbda, rel_tol=1e-6):
            return k
    return 0


@torch.no_grad()
def evaluate(model: torch.nn.Module, pictures: Sequence[Tensor], lmbda: float, device: torch.device) -> dict:
    """Mean loss, bpp (from the likelihoods) and PSNR of eval-mode forward passes over whole pictures."""
    was = model.training
    model.eval()
    rows = []
    for pic in pictures:
        x = pic[None].float().to(device) / 255.0
        out = model(x)
        out["x_hat"] = out["x_hat"].clamp(0, 1)
        r = rd_loss(out, x, lmbda)
        rows.append({k: float(v) for k, v in r.items()})
    model.train(was)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    mean["psnr"] = float(np.mean([10 * math.log10(1 / max(r["mse"], 1e-12)) for r in rows]))
    return mean


def train(cfg: TrainConfig) -> Path:
    """Train (or resume) and return the path of the final checkpoint (``<out>/last.pt``)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cfg.device:
        device = torch.device(cfg.device)
    else:
        device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda" and world > 1:
        device = torch.device(f"cuda:{local}")
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(cfg, world, rank, device)
    finally:
        if world > 1:
            dist.destroy_process_group()


def _log(out: Path, rank: int, record: dict) -> None:
    if rank != 0:
        return
    print(json.dumps(record), flush=True)
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _train(cfg: TrainConfig, world: int, rank: int, device: torch.device) -> Path:
    if cfg.batch % world:
        raise ValueError(f"batch {cfg.batch} is not divisible by the {world} ranks")
    if cfg.steps < 1 or cfg.patch < 16:
        raise ValueError("steps must be >= 1 and patch >= 16")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    cache = Path(cfg.cache) if cfg.cache else out / "data-cache"
    if rank == 0:
        train_paths, test_paths = prepare_data(Path(cfg.data), cache, cfg.holdout, cfg.scale)
    if world > 1:
        dist.barrier()  # rank 0 filled the cache
    if rank != 0:
        train_paths, test_paths = prepare_data(Path(cfg.data), cache, cfg.holdout, cfg.scale)
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    model = build(cfg.model, cfg.config).to(device).train()
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(main_params, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    crops = RandomCrops([_load(p) for p in train_paths], cfg.patch, cfg.seed * 1000 + rank)
    step = 0
    if cfg.resume:
        if not last.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint to resume from at {last}")
        ckpt = read_checkpoint(last, map_location="cpu")
        if ckpt["arch"] != cfg.model or "step" not in ckpt:
            raise ValueError(f"{last} is not a training checkpoint of a {cfg.model} model")
        model.load_state_dict(ckpt["state_dict"])
        opt.load_state_dict(ckpt["optimizer"])
        aux_opt.load_state_dict(ckpt["aux_optimizer"])
        step = int(ckpt["step"])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        if device.type == "cuda" and rng.get("cuda"):
            torch.cuda.set_rng_state_all(rng["cuda"])
        if world == 1:
            crops.gen.set_state(rng["crops"])
        else:  # the per-rank crop streams are not all saved: reseed them from the step
            crops.gen.manual_seed(cfg.seed * 1000 + rank + 7919 * step)
        _log(out, rank, {"event": "resume", "step": step, "checkpoint": str(last)})
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    test_pictures = [_load(p) for p in test_paths]
    quality = _quality(cfg.lmbda)

    def save() -> None:
        if rank != 0:
            return
        rng = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
            "crops": crops.gen.get_state(),
        }
        extra = {
            "step": step,
            "optimizer": opt.state_dict(),
            "aux_optimizer": aux_opt.state_dict(),
            "rng": rng,
            "train_config": json.loads(json.dumps(asdict(cfg))),
        }
        save_checkpoint(last, model, config=cfg.config, quality=quality, lmbda=cfg.lmbda, extra=extra)

    per_rank = cfg.batch // world
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp)
    t0 = time.perf_counter()
    while step < cfg.steps:
        lr = cfg.lr * (0.1 if step >= cfg.lr_drop * cfg.steps else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        x = crops.batch(per_rank).to(device, non_blocking=True)
        opt.zero_grad(set_to_none=True)
        aux_opt.zero_grad(set_to_none=True)
        with amp:
            result = net(x)
        losses = rd_loss(result, x, cfg.lmbda)
        aux = model.aux_loss()
        (losses["loss"] + aux).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(main_params, cfg.clip)
        opt.step()
        aux_opt.step()
        step += 1
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"step {step}: loss is {float(losses['loss'].detach())}; lower --lr or drop --amp")
        if step % cfg.log_every == 0 or step == cfg.steps:
            logged = {k: float(v.detach()) for k, v in losses.items()}
            mse = logged["mse"]
            _log(
                out,
                rank,
                {
                    "step": step,
                    "loss": logged["loss"],
                    "bpp": logged["bpp"],
                    "mse": mse,
                    "psnr": 10 * math.log10(1 / max(mse, 1e-12)),
                    "aux": float(aux.detach()),
                    "grad_norm": float(grad_norm),
                    "lr": lr,
                    "s_per_step": (time.perf_counter() - t0) / cfg.log_every,
                },
            )
            t0 = time.perf_counter()
        if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps and rank == 0:
            _log(out, rank, {"step": step, "test": evaluate(model, test_pictures, cfg.lmbda, device)})
        if step % cfg.save_every == 0 or step == cfg.steps:
            save()
    if rank == 0:
        _log(out, rank, {"step": step, "test": evaluate(model, test_pictures, cfg.lmbda, device), "final": True})
    return last
