"""Model registry and checkpoints.

``weconvene(quality, pretrained=False, config="compact")`` and ``baseline(...)`` build models; with
``pretrained=True`` they load ``pywlc/zoo/weights/<name>-q<k>.pt`` shipped in the package, verified against
:data:`SHA256`.  No trained weights are shipped yet (they are trained on a GPU machine with ``python -m
pywlc.train image``): asking for them raises :class:`WeightsNotFoundError` naming the file.

Checkpoint format (written by :func:`save_checkpoint`, read by :func:`load_checkpoint`; ``torch.load`` with
``weights_only=True``, so only tensors and plain containers)::

    {"format": "pywlc-checkpoint", "version": 1, "arch": "weconvene" | "baseline",
     "config": {N, M, Z, slices, depth, slice_hidden}, "config_name": str, "quality": int (0: none),
     "lmbda": float, "state_dict": {...}, ...training state (step, optimisers, RNG) when written by the trainer}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from compressai.models import CompressionModel

from ..bitstream import CodecId
from ..models import CONFIGS, WeConvene, WeConveneBaseline

__all__ = [
    "ARCHS",
    "LAMBDAS",
    "SHA256",
    "WEIGHTS_DIR",
    "WeightsNotFoundError",
    "arch_of",
    "baseline",
    "build",
    "load_checkpoint",
    "load_pretrained",
    "loader",
    "read_checkpoint",
    "save_checkpoint",
    "weconvene",
]

# Rate points of the paper's training recipe (shared/specs/weconvene.md): quality k uses LAMBDAS[k - 1].
LAMBDAS: tuple[float, ...] = (0.0025, 0.0035, 0.0067, 0.013, 0.025, 0.05)
ARCHS: dict[str, type[CompressionModel]] = {"weconvene": WeConvene, "baseline": WeConveneBaseline}
CODEC_OF_ARCH: dict[str, CodecId] = {"weconvene": CodecId.WECONVENE, "baseline": CodecId.WECONVENE_BASELINE}
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "pywlc-checkpoint"
VERSION = 1

# sha256 of every shipped weight file, "<arch>-<config>-q<k>.pt" -> hex digest.  Empty until trained weights are
# released; a file present in weights/ but missing here is refused rather than loaded unverified.
SHA256: dict[str, str] = {}


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights were asked for that this installation does not ship."""


def _check_quality(quality: int) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= len(LAMBDAS):
        raise ValueError(f"quality must be an int in [1, {len(LAMBDAS)}], got {quality!r}")
    return quality


def _config(config: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if isinstance(config, str):
        if config not in CONFIGS:
            raise ValueError(f"config must be one of {sorted(CONFIGS)} or a dict of model arguments, got {config!r}")
        return config, dict(CONFIGS[config])
    return "custom", dict(config)


def arch_of(model: CompressionModel) -> str:
    """The registry name of a model instance (``"weconvene"`` or ``"baseline"``)."""
    for name, cls in ARCHS.items():
        if type(model) is cls:
            return name
    raise TypeError(f"not a registry model: {type(model).__name__}")


def build(arch: str, config: str | Mapping[str, Any] = "compact") -> CompressionModel:
    """An untrained model: ``arch`` in :data:`ARCHS`, ``config`` a name in ``pywlc.models.CONFIGS`` or kwargs."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
    _, kwargs = _config(config)
    kwargs["slice_hidden"] = tuple(kwargs.get("slice_hidden", (224, 128)))
    return ARCHS[arch](**kwargs)


def weights_path(arch: str, quality: int, config: str = "compact") -> Path:
    """Where the shipped weights of ``arch``/``config`` at ``quality`` live (whether or not they exist)."""
    return WEIGHTS_DIR / f"{arch}-{config}-q{_check_quality(quality)}.pt"


def load_pretrained(arch: str, quality: int, config: str = "compact") -> CompressionModel:
    """The shipped, sha256-verified weights of ``arch``/``config`` at ``quality`` (:class:`WeightsNotFoundError`)."""
    path = weights_path(arch, quality, config)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"no pretrained weights shipped for {arch} ({config}, quality {quality}): {path} does not exist; "
            "train them with `python -m pywlc.train image` and load the checkpoint with "
            "pywlc.zoo.load_checkpoint(path) (or `wlc ... --checkpoint PATH`)"
        )
    expected = SHA256.get(path.name)
    if expected is None:
        raise WeightsNotFoundError(f"{path} is not a released weight file (no sha256 in pywlc.zoo.SHA256)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise OSError(f"{path}: sha256 {digest} does not match the released {expected}; the file is corrupt")
    return load_checkpoint(path)


def _model(arch: str, quality: int, pretrained: bool, config: str | Mapping[str, Any]) -> CompressionModel:
    _check_quality(quality)
    if pretrained:
        if not isinstance(config, str):
            raise ValueError("pretrained weights exist only for named configs")
        return load_pretrained(arch, quality, config)
    model = build(arch, config).eval()
    model.update(force=True)
    return model


def weconvene(quality: int, pretrained: bool = False, config: str | Mapping[str, Any] = "compact") -> WeConvene:
    """WeConvene at ``quality`` 1..6 (λ = ``LAMBDAS[quality - 1]``), eval mode, entropy tables updated."""
    return _model("weconvene", quality, pretrained, config)


def baseline(quality: int, pretrained: bool = False, config: str | Mapping[str, Any] = "compact") -> WeConveneBaseline:
    """The wavelet-free ablation baseline at ``quality`` 1..6, eval mode, entropy tables updated."""
    return _model("baseline", quality, pretrained, config)


def loader(config: str = "compact") -> Any:
    """``loader(codec_id, quality) -> model`` with pretrained weights, for :func:`pywlc.codecs.decode_image`."""

    def load(codec_id: int, quality: int) -> CompressionModel:
        for arch, cid in CODEC_OF_ARCH.items():
            if cid == codec_id:
                return _model(arch, quality, True, config)
        raise ValueError(f"no registry model for codec id {codec_id}")

    return load


def save_checkpoint(
    path: str | Path,
    model: CompressionModel,
    *,
    config: str | Mapping[str, Any],
    quality: int = 0,
    lmbda: float = 0.0,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint :func:`load_checkpoint` reads (atomically: a temporary file renamed over ``path``)."""
    name, kwargs = _config(config)
    kwargs["slice_hidden"] = list(kwargs.get("slice_hidden", (224, 128)))
    state = {
        "format": FORMAT,
        "version": VERSION,
        "arch": arch_of(model),
        "config": kwargs,
        "config_name": name,
        "quality": int(quality),
        "lmbda": float(lmbda),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **dict(extra or {}),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's dict, validated (``FileNotFoundError``, ``ValueError`` for a file that is not one)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors for foreign files
        raise ValueError(f"{path} is not a readable checkpoint: {type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pywlc checkpoint")
    if ckpt.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {ckpt.get('version')} is not supported (this pywlc: {VERSION})")
    if ckpt.get("arch") not in ARCHS:
        raise ValueError(f"{path}: unknown arch {ckpt.get('arch')!r}")
    return ckpt


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> CompressionModel:
    """A model from a checkpoint file (ours or the trainer's), in eval mode with its entropy tables updated.

    The checkpoint's ``quality`` and ``lmbda`` are attached as ``model.quality`` / ``model.lmbda``.
    """
    ckpt = read_checkpoint(path, map_location)
    model = build(ckpt["arch"], ckpt["config"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the {ckpt['arch']} {ckpt['config']} model: {e}") from None
    model.update(force=True)
    model.eval()
    model.quality = int(ckpt.get("quality", 0))
    model.lmbda = float(ckpt.get("lmbda", 0.0))
    return model.to(map_location)
