"""Training of WL-SVC's three-frame post-filter on decoded train video: ``python -m pywlc.train video-postfilter``.

Data (``data/SPLITS.md``, train sequences only): the first ``frames`` frames of each train sequence (luma) and
synthetic camera motion over ``photos`` train photos (:func:`pywlc.train.video.synthetic_pan`, 16 frames each; with
``objects``, each also with a patch of another photo moving across it at 4-12 px/frame), each
coded once by WL-SVC itself (default model, GOP 16, no post-filter) at every step code of ``codes``; the decoded
luma and the original luma are cached (uint8).  Every step draws a batch of random crops: a decoded frame ``t``
with its neighbours ``t +- d`` (d = 1 mostly, 2 or 4 for the sub-frame-rate operating points), the original frame
``t``, and the code it was coded at; the loss is the MSE of the filtered middle frame (PSNR is what is reported).
The network starts from the image codec's post-filter (its three RGB channels become three frames), so step 0 is a
known filter.  Seeded per step, checkpointed and resumable; CPU seconds recorded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..codecs.wavelet import transform as T
from ..video.postfilter import TemporalPostFilter, neighbour_stack
from .loop import Run, add_config_arguments, config_from_args, cosine_lr

__all__ = ["VideoPostfilterConfig", "build_decoded_cache", "export", "register", "train_video_postfilter"]

# Without sub-stream decodes: the neighbour distance drawn per crop (full frame rate mostly, 1/2 and 1/4 too).
_DISTANCES = (1, 1, 1, 2, 4)


@dataclass
class VideoPostfilterConfig:
    data: str
    out: str
    steps: int = 6000
    batch: int = 16
    patch: int = 128
    lr: float = 5e-4
    lr_final: float = 5e-5
    hidden: int = 32
    layers: int = 4
    codes: str = "44,62,80,98"  # step codes the cache is coded at (qualities ~52, 39, 25, 11)
    frames: int = 64  # first frames of each train sequence
    photos: int = 12  # synthetic clips over train photos
    objects: bool = True  # also each clip with a moving object pasted on (local motion, occlusions)
    # Also the 1/2 and 1/4 frame-rate decodes of every stream (against every 2nd / 4th original frame: what those
    # sub-streams are measured against), neighbours then 1 apart; without them, neighbours 2 or 4 apart stand in.
    substreams: bool = True
    init: str | None = "wavelet-v1"  # image-codec weights whose post-filter starts the run (None: zero residual)
    seed: int = 0
    threads: int = 1
    resume: bool = False
    log_every: int = 25
    save_every: int = 100


def _codes(cfg: VideoPostfilterConfig) -> list[int]:
    try:
        codes = [int(c) for c in cfg.codes.split(",")]
    except ValueError:
        raise ValueError(f"codes must be comma-separated integers, got {cfg.codes!r}") from None
    if not codes or any(not T.STEP_CODE_MIN <= c <= T.STEP_CODE_MAX for c in codes):
        raise ValueError(f"codes must lie in [{T.STEP_CODE_MIN}, {T.STEP_CODE_MAX}], got {cfg.codes!r}")
    return codes


def _clips(cfg: VideoPostfilterConfig, cache: Path) -> list:
    """The train clips: sequences (luma, first ``frames``) and synthetic pans over train photos."""
    from ..video.io import Video, read_video
    from .splits import load_photos, photo_split
    from .video import synthetic_pan, video_split

    clips = []
    train, _ = video_split(cfg.data)
    for name in train:
        v = read_video(Path(cfg.data) / "video" / name, max_frames=cfg.frames)
        clips.append(Video(v.y, None, None, "mono", v.fps))
    photos, _ = photo_split(cfg.data)
    g = torch.Generator().manual_seed(cfg.seed)
    pics = load_photos(photos[: cfg.photos], 2, cache / "photos")
    for i, pic in enumerate(pics):
        h, w = min(288, pic.shape[-2] - 64), min(384, pic.shape[-1] - 64)
        pan = synthetic_pan(pic, 16, h, w, g)
        clips.append(Video(pan, None, None, "mono", 25))
        if cfg.objects:
            clips.append(Video(_with_moving_object(pan, pics[(i + 1) % len(pics)], g), None, None, "mono", 25))
    return clips


def _with_moving_object(frames: Tensor, source: Tensor, g: torch.Generator) -> Tensor:
    """``frames`` (uint8 ``[T, H, W]``) with an opaque patch of ``source`` (a third of the frame each way) moving
    across on its own straight path at 4-12 px/frame: local motion and occlusions, which the slow global pans lack
    (the filter must learn where its neighbours do not line up)."""
    t, h, w = frames.shape
    grey = (source.float().mean(0) if source.shape[0] == 3 else source[0].float()).round().to(torch.uint8)
    ph, pw = min(h // 3, grey.shape[0]), min(w // 3, grey.shape[1])
    top = int(torch.randint(grey.shape[0] - ph + 1, (1,), generator=g))
    left = int(torch.randint(grey.shape[1] - pw + 1, (1,), generator=g))
    patch = grey[top : top + ph, left : left + pw]
    speed = 4 + 8 * float(torch.rand((), generator=g))
    angle = 2 * torch.pi * float(torch.rand((), generator=g))
    vy, vx = speed * float(torch.sin(torch.tensor(angle))), speed * float(torch.cos(torch.tensor(angle)))
    y0, x0 = (h - ph) / 2 - vy * t / 2, (w - pw) / 2 - vx * t / 2  # the path crosses the middle of the clip
    out = frames.clone()
    for k in range(t):
        y, x = round(y0 + vy * k), round(x0 + vx * k)
        ys, xs = max(0, y), max(0, x)
        ye, xe = min(h, y + ph), min(w, x + pw)
        if ye > ys and xe > xs:
            out[k, ys:ye, xs:xe] = patch[ys - y : ye - y, xs - x : xe - x]
    return out


def _cache_path(cfg: VideoPostfilterConfig, cache: Path) -> Path:
    """The cache file of ``cfg``'s data (named by what decides its contents)."""
    key = f"{_codes(cfg)}-{cfg.frames}-{cfg.photos}-{cfg.seed}-{cfg.objects}-{cfg.substreams}"
    return cache / f"decoded-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pt"


def build_decoded_cache(cfg: VideoPostfilterConfig, cache: Path) -> list[tuple[int, Tensor, Tensor]]:
    """``(step code, decoded uint8 Tensor[T, H, W], original uint8 Tensor[T, H, W])`` per clip and code (cached)."""
    codes = _codes(cfg)
    path = _cache_path(cfg, cache)
    if path.is_file():
        return torch.load(path, weights_only=True)
    from ..video import codec as C

    c0 = time.process_time()
    cache.mkdir(parents=True, exist_ok=True)
    items = []
    for clip in _clips(cfg, cache):
        for code in codes:
            quality = (7.0 - code / 16) * 12.5  # the inverse of transform.step_code_for_quality
            data, rec = C.encode(clip, quality, gop=16, segment=64, return_reconstruction=True, postfilter=False)
            items.append((code, rec.y.clone(), clip.y.clone()))
            for k in (2, 4) if cfg.substreams else ():
                sub = C.decode(C.extract(data, fps_divisor=k), postfilter=False).y
                ref = clip.y[::k]
                n = min(len(sub), len(ref))
                items.append((code, sub[:n].clone(), ref[:n].clone()))
    torch.save(items, path)
    path.with_suffix(".json").write_text(json.dumps({"cpu_seconds": time.process_time() - c0}) + "\n")
    return items


def _cache_cpu_seconds(cfg: VideoPostfilterConfig, cache: Path) -> float:
    """CPU seconds ``cfg``'s decoded cache took to build (its side record; 0 when missing)."""
    rec = _cache_path(cfg, cache).with_suffix(".json")
    return float(json.loads(rec.read_text())["cpu_seconds"]) if rec.is_file() else 0.0


def _batch(items: list[tuple[int, Tensor, Tensor]], cfg: VideoPostfilterConfig, step: int):
    """``(stacks [B, 3, p, p], targets [B, 1, p, p], codes [B])`` of step ``step`` (deterministic)."""
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)

    def rint(hi: int) -> int:
        return int(torch.randint(hi, (1,), generator=g))

    stacks, targets, codes = [], [], []
    p = cfg.patch
    for _ in range(cfg.batch):
        if cfg.substreams:  # items come as (full, 1/2, 1/4 frame rate) triples: half the crops at full rate
            code, dec, orig = items[3 * rint(len(items) // 3) + (0, 0, 1, 2)[rint(4)]]
        else:
            code, dec, orig = items[rint(len(items))]
        t = rint(dec.shape[0])
        d = 1 if cfg.substreams else _DISTANCES[rint(len(_DISTANCES))]
        h, w = dec.shape[-2:]
        y0, x0 = rint(max(1, h - p + 1)), rint(max(1, w - p + 1))
        win = (slice(y0, y0 + p), slice(x0, x0 + p))
        s = neighbour_stack(dec[:, win[0], win[1]], torch.tensor([t]), d)[0].float()
        o = orig[t, win[0], win[1]][None].float()
        if rint(2):
            s, o = s.flip(-1), o.flip(-1)
        stacks.append(F.pad(s, (0, p - s.shape[-1], 0, p - s.shape[-2]), mode="replicate"))
        targets.append(F.pad(o[None], (0, p - o.shape[-1], 0, p - o.shape[-2]), mode="replicate")[0])
        codes.append(code)
    return torch.stack(stacks), torch.stack(targets), torch.tensor(codes)


def _new_model(cfg: VideoPostfilterConfig) -> TemporalPostFilter:
    model = TemporalPostFilter(cfg.hidden, cfg.layers)
    if cfg.init is not None:
        from ..codecs.wavelet.model import load_model

        pf = load_model(cfg.init).postfilter
        if pf is None or (pf.hidden, pf.layers) != (cfg.hidden, cfg.layers):
            raise ValueError(f"--init {cfg.init}: no post-filter of hidden={cfg.hidden}, layers={cfg.layers}")
        model.net.load_state_dict(pf.state_dict())
    return model


def train_video_postfilter(cfg: VideoPostfilterConfig) -> Path:
    """Run (or resume) the training; returns ``OUT/last.pt``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    items = build_decoded_cache(cfg, out / "cache")
    cache_cpu = _cache_cpu_seconds(cfg, out / "cache")
    torch.manual_seed(cfg.seed)
    model = _new_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    run = Run(out, model, opt, cfg.resume)
    window: list[tuple[float, float]] = []
    for step in range(run.start, cfg.steps):
        lr = cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)
        for group in opt.param_groups:
            group["lr"] = lr
        stacks, target, codes = _batch(items, cfg, step)
        mse = F.mse_loss(model.correct(stacks, codes), target)
        opt.zero_grad(set_to_none=True)
        mse.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            base = F.mse_loss(stacks[:, 1:2], target)
        window.append((float(mse.detach()), float(base)))
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            m, b = (sum(v) / len(window) for v in zip(*window, strict=True))
            run.row(done, mse=m, mse_unfiltered=b, gain_db=10 * float(torch.log10(torch.tensor(b / m))), lr=lr)
            window.clear()
        if done % cfg.save_every == 0 or done == cfg.steps:
            run.save(done, cfg, cache_cpu_seconds=cache_cpu)
    run.close()
    return run.ckpt


def export(ckpt: str | Path, out: str | Path) -> str:
    """Shippable post-filter weights (:class:`TemporalPostFilter` state) + a JSON record; returns the sha256."""
    state = torch.load(ckpt, weights_only=False)
    cfg = state["config"]
    model = TemporalPostFilter(int(cfg["hidden"]), int(cfg["layers"]))
    model.load_state_dict(state["model"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state(), out)
    total = state["cpu_seconds"] + state.get("cache_cpu_seconds", 0.0)  # training + coding the train clips
    record = {"step": state["step"], "cpu_seconds": state["cpu_seconds"],
              "cache_cpu_seconds": state.get("cache_cpu_seconds", 0.0), "cpu_hours": round(total / 3600, 3),
              "config": {k: v for k, v in cfg.items() if k not in ("data", "out")}}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return hashlib.sha256(out.read_bytes()).hexdigest()


def register(sub: argparse._SubParsersAction) -> None:
    """``python -m pywlc.train video-postfilter`` and ``video-postfilter-export``."""
    v = sub.add_parser("video-postfilter", help="train WL-SVC's three-frame post-filter on decoded train video")
    v.add_argument("--data", required=True, help="the shared data folder (SPLITS.md, video/, photos/)")
    v.add_argument("--out", required=True, help="checkpoint folder (last.pt, log.jsonl, cache/)")
    add_config_arguments(v, VideoPostfilterConfig, skip=("init", "objects", "substreams"))
    v.add_argument("--objects", action=argparse.BooleanOptionalAction, default=VideoPostfilterConfig.objects,
                   help="--no-objects: synthetic pans only (no clips with a moving object)")
    v.add_argument("--substreams", action=argparse.BooleanOptionalAction, default=VideoPostfilterConfig.substreams,
                   help="--no-substreams: full-frame-rate decodes only (neighbours 2 or 4 apart stand in for the "
                        "sub-streams)")
    v.add_argument("--init", default=VideoPostfilterConfig.init,
                   help="image-codec weights whose post-filter starts the run ('none': a zero residual)")

    def run(a: argparse.Namespace) -> int:
        init = None if a.init in (None, "none") else a.init
        train_video_postfilter(config_from_args(VideoPostfilterConfig, a, init=init))
        return 0

    v.set_defaults(run=run)
    x = sub.add_parser("video-postfilter-export", help="write WL-SVC's shippable post-filter; prints sha256")
    x.add_argument("--ckpt", required=True)
    x.add_argument("--out", required=True, help="e.g. pywlc/video/weights/wlsvc-pf-v1.pt")
    x.set_defaults(run=lambda a: print(export(a.ckpt, a.out)) or 0)
