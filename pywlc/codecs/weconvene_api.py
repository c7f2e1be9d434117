"""WeConvene and its baseline behind the codec registry's interface (needs ``pip install pywlc[weconvene]``).

``encode(image, quality=1..6 | checkpoint=PATH, ...)`` uses the shipped weights of the quality (none ship yet:
the error names the missing file) or a trained checkpoint; ``decode(data, checkpoint=None, ...)`` picks the
model the stream names.  The coding itself is :mod:`pywlc.codecs.image`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from .budget import DEFAULT_BUDGET, DecodeBudget

__all__ = ["BASELINE", "WECONVENE", "LearnedImageCodec"]


def _needs_compressai() -> None:
    """ImportError naming the extra when CompressAI (WeConvene's dependency) is missing."""
    try:
        import compressai.models  # noqa: F401
    except ImportError as e:
        raise ImportError(f"WeConvene needs CompressAI: pip install pywlc[weconvene] ({e})") from e


@dataclass(frozen=True)
class LearnedImageCodec:
    arch: str  # "weconvene" or "baseline" (pywlc.zoo.ARCHS)

    def _model(self, quality: int | None, checkpoint: str | None, config: str, device: str):
        _needs_compressai()
        from ..zoo import LAMBDAS, load_checkpoint, load_pretrained

        if checkpoint:
            model = load_checkpoint(checkpoint, map_location=device)
            if quality is not None and model.quality and quality != model.quality:
                raise ValueError(f"--quality {quality}: the checkpoint was trained for quality {model.quality}")
            return model, quality if quality is not None else model.quality
        if quality is None or isinstance(quality, bool) or not 1 <= quality <= len(LAMBDAS):
            raise ValueError(f"--quality must be in [1, {len(LAMBDAS)}] for the shipped models, got {quality}")
        return load_pretrained(self.arch, int(quality), config).to(device), int(quality)

    def encode(self, image: Tensor, quality: int | None = None, *, checkpoint: str | None = None,
               config: str = "compact", device: str = "cpu", tile: int = 1024) -> bytes:
        _needs_compressai()
        from .image import encode_image

        model, q = self._model(quality, checkpoint, config, device)
        if not 0 <= q <= 255:
            raise ValueError(f"--quality must be in [0, 255], got {q}")
        return encode_image(model, image, q, tile=tile)

    def decode(self, data: bytes, *, checkpoint: str | None = None, config: str = "compact", device: str = "cpu",
               budget: DecodeBudget = DEFAULT_BUDGET, **_: Any) -> Tensor:
        _needs_compressai()
        from ..zoo import load_checkpoint, loader
        from .image import decode_image

        if checkpoint:
            return decode_image(data, load_checkpoint(checkpoint, map_location=device), budget=budget)
        base = loader(config)
        return decode_image(data, lambda codec, quality: base(codec, quality).to(device), budget=budget)

    def rd_settings(self) -> list[dict[str, Any]]:
        _needs_compressai()
        from ..zoo import LAMBDAS

        return [{"quality": q} for q in range(1, len(LAMBDAS) + 1)]


WECONVENE = LearnedImageCodec("weconvene")
BASELINE = LearnedImageCodec("baseline")
