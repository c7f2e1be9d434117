"""Training of the wavelet image codec's learned parts on the CPU: ``python -m pywlc.train wavelet ...``.

Stages (each its own run; all reproducible from ``--seed``, checkpointed and resumable bit for bit):

* ``entropy``: the subband entropy model (:class:`~pywlc.codecs.wavelet.entropy_model.SubbandEntropyModel`).
  Every step draws a batch of random crops from the train photos (SPLITS.md; downscaled by 2), a quantiser
  step per crop (log-uniform over the codec's quality range) or -- with probability ``lossless_p`` -- the
  lossless path (RCT + int 5/3), quantises the fixed transform exactly as the codec does and minimises the
  ideal code length (bits per pixel) of the detail coefficients.  No quantisation proxy is needed: the
  quantised symbols do not depend on the model.
* ``lifting``: the closed-loop learned predict step (:class:`~pywlc.codecs.wavelet.lifting.LiftingPredictor`) on
  lossy crops at random steps, minimising ``sum log2(1 + u^2)`` over the residuals ``u`` in units of their band
  steps -- a rate-distortion proxy of the dead-zone quantiser: ``~u^2`` (the distortion of a residual that
  quantises to zero) for small ``u``, ``~2 log2 |u|`` (its code length) for large ones.
* ``postfilter``: the post-filter (:class:`~pywlc.codecs.wavelet.postfilter.PostFilter`) on the codec's own
  reconstructions (same quantiser, encoder-side reconstruction offsets) of random crops at random steps,
  minimising the MSE to the original (every crop weighs the same: a rate-independent PSNR gain).

The random stream of step ``t`` is seeded by ``(seed, t)``: a resumed run draws the same batches as an
uninterrupted one.  ``--threads`` fixes torch's intra-op threads (results do not depend on it beyond float
summation order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..codecs.wavelet import transform as T
from ..codecs.wavelet.entropy_model import SubbandEntropyModel
from ..codecs.wavelet.lifting import LiftingPredictor, closed_loop_quantize, closed_loop_synthesis
from ..codecs.wavelet.postfilter import PostFilter
from ..codecs.wavelet.pyramid import (
    dequantize_pyramid,
    from_pyramid,
    model_bits,
    optimal_deltas,
    quantize_pyramid,
)
from .loop import Run, cosine_lr
from .splits import load_photos, photo_split

__all__ = ["WaveletTrainConfig", "export_weights", "sample_batch", "train_wavelet"]


@dataclass
class WaveletTrainConfig:
    data: str
    out: str
    stage: str = "entropy"  # or "lifting", "postfilter"
    steps: int = 4000
    batch: int = 8
    patch: int = 256
    lr: float = 2e-3
    lr_final: float = 1e-4  # cosine decay to this
    hidden: int = 32
    layers: int = 4  # postfilter stage: conv layers
    lossless_p: float = 0.2
    grey_p: float = 0.1
    code_min: int = -8  # step codes drawn uniformly in [code_min, code_max] (T.step_of_code)
    code_max: int = 120
    seed: int = 0
    threads: int = 0
    resume: bool = False
    log_every: int = 25
    save_every: int = 200
    cache: str | None = None
    lifting: str | None = None  # entropy/postfilter stages: a lifting checkpoint (or shipped weights name) to code with
    lifting_p: float = 0.8  # entropy stage: share of lossy batches coded with the lifting step (the rest plain 9/7)
    init: str | None = None  # start from these weights (a checkpoint of the stage, or a shipped weights name)
    wide: bool = False  # entropy stage: the wide model (a residual 3x3 layer per pass net; entropy_model.py)
    mean_hidden: int = 0  # entropy stage: > 0 adds the mean nets of that width (entropy_model.py)
    # entropy stage: the nets also read the same level's approximation (approx.py; zero-initialised 1x1 layers, so
    # an --init without them starts as that model)
    approx: bool = False
    # entropy stage with --init: learning-rate factor of the parameters the init had (the new mean nets get lr
    # itself), so that fine-tuning for the lossless mean does not drift the lossy model
    init_lr_factor: float = 1.0
    # Each crop is downscaled by a factor drawn log-uniformly in [1, rescale_max] (Lanczos resampling of a larger
    # region): the photos are downscaled by 2 for training, but evaluation fits them to a long side of
    # 768 px (a further 1.7-6.9x), which leaves more detail per pixel -- train on that range too.  1: off.
    rescale_max: float = 1.0


def sample_batch(pics: list[Tensor], cfg: WaveletTrainConfig, step: int) -> dict:
    """The crops, step codes and path of training step ``step`` (deterministic in ``(cfg.seed, step)``)."""
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)

    def rint(hi: int) -> int:
        return int(torch.randint(hi, (1,), generator=g))

    crops = []
    for _ in range(cfg.batch):
        pic = pics[rint(len(pics))]
        size = cfg.patch
        if cfg.rescale_max > 1:  # drawn only when on: the batches of runs without it stay as they were
            u = float(torch.rand((), generator=g))
            size = min(round(cfg.patch * cfg.rescale_max**u), *pic.shape[1:])
        ph, pw = min(size, pic.shape[1]), min(size, pic.shape[2])
        top, left = rint(pic.shape[1] - ph + 1), rint(pic.shape[2] - pw + 1)
        c = pic[:, top : top + size, left : left + size]
        if size > cfg.patch:
            c = _lanczos(c, cfg.patch)
        if rint(2):
            c = c.flip(-1)
        if rint(4) == 0:
            c = c.transpose(-1, -2)
        crops.append(c)
    lossless = float(torch.rand((), generator=g)) < cfg.lossless_p
    grey = float(torch.rand((), generator=g)) < cfg.grey_p
    codes = torch.randint(cfg.code_min, cfg.code_max + 1, (cfg.batch,), generator=g)
    x = torch.stack(crops)
    if grey:  # BT.601 luma, rounded: a grey picture as the codec gets it
        x = (x.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True).round().byte()
    # Drawn last so that the batches of runs without lifting stay as they were.
    lifted = float(torch.rand((), generator=g)) < cfg.lifting_p
    return {"x": x, "codes": torch.zeros_like(codes) if lossless else codes, "lossless": lossless, "lifted": lifted}


def _lanczos(c: Tensor, size: int) -> Tensor:
    """``uint8 Tensor[3, h, w]`` -> ``[3, size, size]`` with Pillow's Lanczos, the filter that renders the photos for
    training and evaluation (torch's antialiased bilinear is far blurrier: ~20 % fewer bits at the same step)."""
    from PIL import Image

    im = Image.fromarray(c.permute(1, 2, 0).contiguous().numpy()).resize((size, size), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).contiguous()


def _lr(cfg: WaveletTrainConfig, step: int) -> float:
    return cosine_lr(step, cfg.steps, cfg.lr, cfg.lr_final)


def _lifted_qpyramid(p: T.Pyramid, codes: Tensor, lifting: LiftingPredictor):
    ll_q, levels, _ = closed_loop_quantize(p, T.step_of_code(codes), codes, lifting)
    return from_pyramid(T.Pyramid(ll_q, levels), lambda b, j, o: b)


def _entropy_loss(model: SubbandEntropyModel, b: dict, lifting: LiftingPredictor | None = None) -> tuple[Tensor, dict]:
    x = b["x"]
    p = T.forward(x, b["lossless"])
    if lifting is not None and not b["lossless"] and b["lifted"]:
        qp = _lifted_qpyramid(p, b["codes"], lifting)
    else:
        qp = quantize_pyramid(p, T.step_of_code(b["codes"]), b["lossless"])
    xi = T.XI_LOSSLESS if b["lossless"] else T.XI_LOSSY
    bits = model_bits(model, qp, b["codes"], b["lossless"], xi)
    bpp = bits.sum() / (x.shape[0] * x.shape[-1] * x.shape[-2])
    return bpp, {"bpp": float(bpp.detach()), "lossless": b["lossless"], "channels": x.shape[1]}


def _lifting_loss(model: LiftingPredictor, b: dict) -> tuple[Tensor, dict]:
    x = b["x"]
    p = T.forward(x, False)
    res: list = []
    closed_loop_quantize(p, T.step_of_code(b["codes"]), b["codes"], model, residuals=res)
    pixels = x.shape[0] * x.shape[-1] * x.shape[-2]
    proxy = sum((torch.log2(1 + u.square()) * m).sum() for u, m in res) / pixels
    with torch.no_grad():  # the same proxy of the plain 9/7 (P = 0: the residuals are the details themselves)
        _, norms = T.band_norms(p.levels)
        step = T.step_of_code(b["codes"]).view(-1, 1, 1, 1)
        plain = sum(float(torch.log2(1 + (band.double() * norms[j][o] / step).square()).sum())
                    for j, bands in enumerate(p.details) for o, band in enumerate(bands)) / pixels
    return proxy, {"proxy_bpp": float(proxy.detach()), "plain_bpp": plain}


def _postfilter_loss(model: PostFilter, b: dict, lifting: LiftingPredictor | None = None) -> tuple[Tensor, dict]:
    x = b["x"]
    xf = x.float()
    p = T.forward(x, False)
    step = T.step_of_code(b["codes"])
    with torch.no_grad():
        if lifting is not None:
            ll_q, levels, deltas = closed_loop_quantize(p, step, b["codes"], lifting)
            rec = closed_loop_synthesis(ll_q, levels, p.levels, step, b["codes"], deltas, lifting)
        else:
            qp = quantize_pyramid(p, step, False)
            rec = T.synthesis(dequantize_pyramid(qp, step, optimal_deltas(p, qp, step)), False)
        if x.shape[1] == 3:
            rec = T.ict_inverse(rec)
        rec = rec.clamp(0, 255)
    out = model(rec, b["codes"])
    mse_in = ((rec - xf) ** 2).flatten(1).mean(1)
    mse = ((out - xf) ** 2).flatten(1).mean(1)
    # Per-crop log-MSE ratio: every crop's dB gain weighs the same, whatever its rate.
    loss = (torch.log10(mse + 1e-3) - torch.log10(mse_in + 1e-3)).mean() * 10
    return loss, {"gain_db": -float(loss.detach())}


def train_wavelet(cfg: WaveletTrainConfig) -> Path:
    """Run (or resume) one stage; returns the path of the last checkpoint (``OUT/last.pt``)."""
    if cfg.stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {cfg.stage!r}")
    if cfg.stage == "lifting" and cfg.lossless_p:
        raise ValueError("the lifting stage trains the lossy path: lossless_p must be 0")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_paths, _ = photo_split(cfg.data)
    pics = load_photos(train_paths, 2, cfg.cache or out / "cache")
    torch.manual_seed(cfg.seed)
    model, init_names = _new_model(cfg)
    lifting = None if cfg.lifting is None else load_lifting(cfg.lifting)
    opt = torch.optim.Adam(_param_groups(model, cfg, init_names), lr=cfg.lr)
    run = Run(out, model, opt, cfg.resume)
    if cfg.stage == "lifting":
        loss_fn = _lifting_loss
    else:
        base = _entropy_loss if cfg.stage == "entropy" else _postfilter_loss

        def loss_fn(m, b):
            return base(m, b, lifting)
    window: list[float] = []
    for step in range(run.start, cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step) * group.get("lr_factor", 1.0)
        loss, info = loss_fn(model, sample_batch(pics, cfg, step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(float(loss.detach()))
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            run.row(done, loss=sum(window) / len(window), lr=_lr(cfg, step), **info)
            window.clear()
        if done % cfg.save_every == 0 or done == cfg.steps:
            run.save(done, cfg)
    run.close()
    return run.ckpt


STAGES = ("entropy", "lifting", "postfilter")
_NEW_PREFIXES = ("luma_wide.", "chroma_wide.", "luma_mean.", "chroma_mean.",  # layers an --init may lack
                 "luma_approx.", "chroma_approx.", "luma_mean_approx.", "chroma_mean_approx.")


def _param_groups(model: torch.nn.Module, cfg: WaveletTrainConfig, init_names: set[str] | None) -> list[dict]:
    """One group, or (``init_lr_factor`` != 1 with ``--init``) the init's parameters (``init_names``) at that
    factor and the layers the init lacks at the full rate."""
    if init_names is None or cfg.init_lr_factor == 1.0:
        return [{"params": list(model.parameters()), "lr_factor": 1.0}]
    named = list(model.named_parameters())
    new = [p for n, p in named if n not in init_names]
    old = [p for n, p in named if n in init_names]
    return [{"params": old, "lr_factor": cfg.init_lr_factor}, {"params": new, "lr_factor": 1.0}]


def _new_model(cfg: WaveletTrainConfig) -> tuple[torch.nn.Module, set[str] | None]:
    """The stage's network, fresh or from ``cfg.init`` (a checkpoint of the same stage or shipped weights), and the
    names of the parameters the init had (None without one)."""
    if cfg.stage == "entropy":
        model: torch.nn.Module = SubbandEntropyModel(cfg.hidden, cfg.wide, cfg.mean_hidden, cfg.approx)
    elif cfg.stage == "lifting":
        model = LiftingPredictor(cfg.hidden)
    else:
        model = PostFilter(cfg.hidden, cfg.layers, min_code=cfg.code_min)
    if cfg.init is None:
        return model, None
    state = _stage_state(cfg.init, cfg.stage)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A wide or mean model may start from a narrow one: its new layers (zero-initialised outputs) then are all
    # it lacks.
    if unexpected or any(not k.startswith(_NEW_PREFIXES) for k in missing):
        raise ValueError(f"--init {cfg.init}: not weights of this network (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    return model, set(state)


def _stage_state(source: str, stage: str) -> dict:
    """State dict of ``stage`` from a training checkpoint path or a shipped weights name."""
    from ..codecs.wavelet.model import WEIGHTS

    if source in WEIGHTS:
        from ..codecs.wavelet.model import load_model

        m = load_model(source)
        part = {"entropy": m.entropy, "lifting": m.lifting, "postfilter": m.postfilter}[stage]
        if part is None:
            raise ValueError(f"shipped weights {source!r} have no {stage} network")
        return part.state_dict()
    return _checkpoint(source, stage)["model"]  # a training checkpoint (shipped weights load pinned, above)


def _checkpoint(path: str | Path, stage: str) -> dict:
    """A training checkpoint of ``stage`` (``model``, ``config``, ``step``, ``cpu_seconds``)."""
    state = torch.load(path, weights_only=False)
    if state.get("config", {}).get("stage") != stage:
        raise ValueError(f"{path}: not a checkpoint of the {stage} stage")
    return state


def load_lifting(source: str) -> LiftingPredictor:
    """A frozen lifting predictor from a ``lifting`` checkpoint or shipped weights name."""
    st = _stage_state(source, "lifting")
    hidden = st["luma.0.weight"].shape[0]
    m = LiftingPredictor(hidden)
    m.load_state_dict(st)
    m.eval().requires_grad_(False)
    return m


def _init_chain(init: str | None, stage: str) -> dict[str, float]:
    """CPU seconds behind ``init`` per link of its chain (each checkpoint it was fine-tuned from, down to shipped
    weights with a record): keyed by the link, so that two stages fine-tuned from the same model count it once."""
    if not init:
        return {}
    if Path(init).exists():
        st = torch.load(init, weights_only=False)
        chain = _init_chain(st["config"].get("init"), stage)
        chain[str(Path(init).resolve())] = float(st["cpu_seconds"])
        return chain
    from ..codecs.wavelet.model import weights_file

    rec = json.loads(weights_file(init).with_suffix(".json").read_text())[stage]
    return {f"{init}:{stage}": float(rec["cpu_seconds"]) + float(rec.get("init_cpu_seconds", 0.0))}


def _shipped_stages(sources: dict[str, str | Path | None], record: dict) -> dict[str, torch.nn.Module]:
    """The stages of ``sources`` given as shipped weights names: their networks, with their training records copied
    into ``record`` (so a new entropy model can ship with an earlier model's post-filter and lifting step)."""
    from ..codecs.wavelet.model import WEIGHTS, load_model, weights_file

    out = {}
    for stage, src in sources.items():
        if src is None or str(src) not in WEIGHTS:
            continue
        net = getattr(load_model(str(src)), stage)
        if net is None:
            raise ValueError(f"shipped weights {src!r} have no {stage} network")
        out[stage] = net
        rec = json.loads(weights_file(str(src)).with_suffix(".json").read_text())[stage]
        record[stage] = {k: rec[k] for k in ("step", "cpu_seconds", "config")}
    return out


def export_weights(entropy_ckpt: str | Path, postfilter_ckpt: str | Path | None, out: str | Path,
                   lifting_ckpt: str | Path | None = None, entropy_lossless_ckpt: str | Path | None = None) -> str:
    """Write the shippable weights file (entropy model + post-filter state and the training record) and return its
    sha256 -- the value to pin in :data:`pywlc.codecs.wavelet.model.WEIGHTS`.

    ``postfilter_ckpt`` / ``lifting_ckpt``: a checkpoint of that stage, or a shipped weights name (its network and
    training record are reused).  ``entropy_lossless_ckpt``: an entropy checkpoint that codes the lossless streams
    (:attr:`~pywlc.codecs.wavelet.model.WaveletModel.entropy_lossless`).  The record (``OUT`` with ``.json``)
    keeps each stage's config, steps and CPU seconds; ``cpu_hours`` counts a model that two stages were fine-tuned
    from once.
    """
    import hashlib

    from ..codecs.wavelet.model import WaveletModel

    record: dict[str, dict] = {}

    def trained(name: str, stage: str, ckpt: str | Path, build) -> torch.nn.Module:
        """The network of a training checkpoint (``build(config)`` makes it), its record kept under ``name``."""
        st = _checkpoint(ckpt, stage)
        net = build(st["config"])
        net.load_state_dict(st["model"])
        record[name] = {k: st[k] for k in ("step", "cpu_seconds", "config")}
        return net

    ent = trained("entropy", "entropy", entropy_ckpt, SubbandEntropyModel.from_settings)
    ent_ll = None
    if entropy_lossless_ckpt is not None:
        ent_ll = trained("entropy_lossless", "entropy", entropy_lossless_ckpt, SubbandEntropyModel.from_settings)
    shipped = _shipped_stages({"postfilter": postfilter_ckpt, "lifting": lifting_ckpt}, record)
    pf = shipped.get("postfilter")
    if postfilter_ckpt is not None and "postfilter" not in shipped:
        pf = trained("postfilter", "postfilter", postfilter_ckpt,
                     lambda c: PostFilter(c["hidden"], c.get("layers", 4), min_code=c["code_min"]))
    lift = shipped.get("lifting")
    if lifting_ckpt is not None and "lifting" not in shipped:
        lift = trained("lifting", "lifting", lifting_ckpt, lambda c: LiftingPredictor(c["hidden"]))
    chains = {}  # fine-tuned stages: the CPU time of what they started from counts too
    for name, stage in record.items():
        chains[name] = _init_chain(stage["config"].get("init"), "entropy" if name == "entropy_lossless" else name)
        stage["init_cpu_seconds"] = sum(chains[name].values())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(WaveletModel(ent, pf, out.stem, lift, ent_ll).state(), out)
    for stage in record.values():
        stage["config"] = {k: v for k, v in stage["config"].items() if k not in ("data", "out", "cache")}
        for k in ("init", "lifting"):  # checkpoint paths of this machine -> their file names
            if stage["config"].get(k):
                src = Path(stage["config"][k])  # a checkpoint: its run folder too (every run writes last.pt)
                stage["config"][k] = f"{src.parent.name}/{src.name}" if src.exists() else src.name
    links = {k: v for chain in chains.values() for k, v in chain.items()}  # a shared ancestor once
    own = sum(s["cpu_seconds"] for s in record.values())
    record["cpu_hours"] = round((own + sum(links.values())) / 3600, 3)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return hashlib.sha256(out.read_bytes()).hexdigest()
