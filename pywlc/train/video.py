"""Training of WL-SVC's subband entropy model on MCTF subbands: ``python -m pywlc.train video ...``.

WL-SVC codes the L frames and the H frames of every temporal level with the image codec's learned subband coder.
H frames (motion-compensated residuals) are sparser and noisier than pictures, so the video model is the image
model (:data:`pywlc.codecs.wavelet.model.WEIGHTS`, ``wavelet-v1``) fine-tuned on MCTF subbands, conditioned on the
temporal class through the model's third conditioning plane (:func:`temporal_class`: 0 for L frames -- pictures,
as in the image codec -- and ``-level / 8`` for the H frames of a level; dyadic, so exact in fixed point).

Data (``data/SPLITS.md``, train sequences only): the train video sequences (``mire2``, ``forensics_dog``; colour
as YCbCr 4:2:0 planes) and synthetic camera motion over train photos (a window panning and zooming slowly across
the downscaled photo, 16 frames each), analysed once with the codec's own HVSBM + MCTF (``levels`` temporal levels)
into a cache of subband frames.  Every step draws one temporal class, a batch of random crops of that class's
frames and a step code per crop, quantises as the codec does and minimises the ideal code length (bits per sample)
-- the quantised symbols do not depend on the model, so no quantisation proxy is needed.  Seeded per step,
checkpointed and resumable; CPU seconds recorded.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codecs.wavelet import transform as T
from ..codecs.wavelet.model import load_model
from ..codecs.wavelet.pyramid import model_bits, quantize_pyramid
from ..video.codec import IMAGE_MODEL
from ..video.subband import temporal_class
from .loop import Run, add_config_arguments, config_from_args, cosine_lr

__all__ = ["VideoTrainConfig", "register", "synthetic_pan", "temporal_class", "train_video", "video_split"]


@dataclass
class VideoTrainConfig:
    data: str
    out: str
    steps: int = 1200
    batch: int = 8
    patch: int = 128
    lr: float = 3e-4
    lr_final: float = 3e-5
    code_min: int = 8
    code_max: int = 112
    levels: int = 4
    photos: int = 12
    seed: int = 0
    threads: int = 1
    resume: bool = False
    log_every: int = 25
    save_every: int = 100


def video_split(data: str | Path) -> tuple[list[str], list[str]]:
    """``(train, test)`` sequence names from the video table of ``data/SPLITS.md``."""
    text = (Path(data) / "SPLITS.md").read_text()
    train, test = [], []
    for m in re.finditer(r"^\|\s*([A-Za-z0-9_]+)\s*\|[^\n]*\|\s*(train|test)\s*\|\s*$", text, re.M):
        (train if m.group(2) == "train" else test).append(m.group(1))
    if not train:
        raise ValueError(f"no train video sequences in {Path(data) / 'SPLITS.md'}")
    return train, test


def synthetic_pan(photo: Tensor, frames: int, h: int, w: int, g: torch.Generator) -> Tensor:
    """uint8 ``[frames, H, W]`` grey: a window panning (up to ~3 px/frame) and zooming (<= 1 %/frame) over ``photo``."""
    grey = photo.float().mean(0) if photo.shape[0] == 3 else photo[0].float()
    ph, pw = grey.shape
    vx, vy = (torch.rand(2, generator=g) * 6 - 3).tolist()
    zoom = float(torch.rand(1, generator=g) * 0.02 - 0.01)
    cx, cy = pw / 2, ph / 2
    out = []
    for t in range(frames):
        s = (1 + zoom) ** t
        ys = (torch.arange(h) - h / 2) / s + cy + vy * t
        xs = (torch.arange(w) - w / 2) / s + cx + vx * t
        gy, gx = torch.meshgrid(ys / (ph - 1) * 2 - 1, xs / (pw - 1) * 2 - 1, indexing="ij")
        grid = torch.stack([gx, gy], -1)[None]
        f = F.grid_sample(grey[None, None], grid, mode="bicubic", padding_mode="border", align_corners=True)
        out.append(f[0, 0].round().clamp(0, 255).to(torch.uint8))
    return torch.stack(out)


def build_cache(cfg: VideoTrainConfig, cache: Path) -> list[tuple[float, Tensor]]:
    """Subband frames ``(class, float16 Tensor[1, H, W])`` of the train sequences and the synthetic clips (cached)."""
    path = cache / f"subbands-l{cfg.levels}-p{cfg.photos}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    from ..video import codec as C
    from ..video.io import Video, read_video
    from .splits import load_photos, photo_split

    cache.mkdir(parents=True, exist_ok=True)
    clips: list[Video] = []
    train, _ = video_split(cfg.data)
    for name in train:
        clips.append(read_video(Path(cfg.data) / "video" / name))
    photos, _ = photo_split(cfg.data)
    g = torch.Generator().manual_seed(cfg.seed)
    pics = load_photos(photos[: cfg.photos], 2, cache / "photos")
    for pic in pics:
        h, w = min(288, pic.shape[-2] - 64), min(384, pic.shape[-1] - 64)
        clips.append(Video(synthetic_pan(pic, 16, h, w, g), None, None, "mono", 25))
    items: list[tuple[float, Tensor]] = []
    opts = C.EncodeOptions()
    for clip in clips:
        for s in range(0, clip.frames - 1, 32):
            e = min(s + 32, clip.frames)
            levels = C._temporal_levels(e - s, cfg.levels)
            if levels == 0:
                continue
            a = C.analyse(clip, s, e, cfg.levels, opts)
            for groups in a.groups:  # planes
                for gi, x in enumerate(groups):
                    items += [(temporal_class(gi, a.levels), f.half().clone()) for f in x]
    torch.save(items, path)
    return items


def _batch(items: list[tuple[float, Tensor]], by_class: dict[float, list[int]], cfg: VideoTrainConfig,
           step: int) -> tuple[Tensor, Tensor, float]:
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    classes = sorted(by_class)
    cls = classes[int(torch.randint(len(classes), (1,), generator=g))]
    idx = by_class[cls]
    crops = []
    for _ in range(cfg.batch):
        x = items[idx[int(torch.randint(len(idx), (1,), generator=g))]][1]
        h, w = x.shape[-2:]
        ph, pw = min(cfg.patch, h), min(cfg.patch, w)
        y0 = int(torch.randint(h - ph + 1, (1,), generator=g))
        x0 = int(torch.randint(w - pw + 1, (1,), generator=g))
        crops.append(x[:, y0 : y0 + ph, x0 : x0 + pw].float())
    hmin = min(c.shape[-2] for c in crops)
    wmin = min(c.shape[-1] for c in crops)
    xb = torch.stack([c[:, :hmin, :wmin] for c in crops])
    codes = torch.randint(cfg.code_min, cfg.code_max + 1, (cfg.batch,), generator=g)
    return xb, codes, cls


def train_video(cfg: VideoTrainConfig) -> Path:
    """Fine-tune the subband entropy model on MCTF subbands; returns ``OUT/last.pt``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    items = build_cache(cfg, out / "cache")
    by_class: dict[float, list[int]] = {}
    for i, (c, _) in enumerate(items):
        by_class.setdefault(c, []).append(i)
    torch.manual_seed(cfg.seed)
    base = load_model(IMAGE_MODEL)
    model = type(base.entropy)(base.entropy.hidden)
    model.load_state_dict(base.entropy.state_dict())
    params = list(model.luma.parameters())  # WL-SVC codes every plane with the luma networks
    opt = torch.optim.Adam(params, lr=cfg.lr)
    run = Run(out, model, opt, cfg.resume)
    window: list[float] = []
    for step in range(run.start, cfg.steps):
        lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)
        for group in opt.param_groups:
            group["lr"] = lr
        x, codes, cls = _batch(items, by_class, cfg, step)
        p = T.analysis(x, T.levels_for(*x.shape[-2:]), False)
        qp = quantize_pyramid(p, T.step_of_code(codes), False)
        bits = model_bits(model, qp, codes, cls, T.XI_LOSSY)  # cls rides on the "lossless" plane (module doc)
        loss = bits.sum() / x.numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        window.append(float(loss.detach()))
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            run.row(done, bits_per_sample=sum(window) / len(window), lr=lr)
            window.clear()
        if done % cfg.save_every == 0 or done == cfg.steps:
            run.save(done, cfg)
    run.close()
    return run.ckpt


def export(ckpt: str | Path, out: str | Path) -> str:
    """Shippable WL-SVC weights (entropy model; no post-filter) + a JSON record; returns the file's sha256."""
    import hashlib

    from ..codecs.wavelet.entropy_model import SubbandEntropyModel
    from ..codecs.wavelet.model import WaveletModel

    state = torch.load(ckpt, weights_only=False)
    ent = SubbandEntropyModel(load_model(IMAGE_MODEL).entropy.hidden)
    ent.load_state_dict(state["model"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(WaveletModel(ent, None, out.stem).state(), out)
    cfg = {k: v for k, v in state["config"].items() if k not in ("data", "out")}
    base = json.loads((Path(load_model.__code__.co_filename).with_name("weights") / "wavelet-v1.json").read_text())
    record = {"init": "wavelet-v1", "init_cpu_hours": base.get("cpu_hours"), "step": state["step"],
              "cpu_seconds": state["cpu_seconds"], "cpu_hours": round(state["cpu_seconds"] / 3600, 3), "config": cfg}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def register(sub: argparse._SubParsersAction) -> None:
    """``python -m pywlc.train video`` and ``video-export``."""
    v = sub.add_parser("video", help="fine-tune WL-SVC's subband entropy model on MCTF subbands (CPU-sized)")
    v.add_argument("--data", required=True, help="the shared data folder (SPLITS.md, video/, photos/)")
    v.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl, cache/)")
    add_config_arguments(v, VideoTrainConfig)
    v.set_defaults(run=lambda a: train_video(config_from_args(VideoTrainConfig, a)) and 0)
    x = sub.add_parser("video-export", help="write WL-SVC's shippable weights; prints sha256")
    x.add_argument("--ckpt", required=True)
    x.add_argument("--out", required=True, help="e.g. pywlc/video/weights/wlsvc-v1.pt")
    x.set_defaults(run=lambda a: print(export(a.ckpt, a.out)) or 0)
