"""Resource budgets that a decoder checks against a stream's header *before* decoding (issue 10, finding 2).

A few hundred bytes of valid stream can claim a 4096 x 4096 picture coded as one tile; decoding it runs the full
model on 16.7 Mpixel at once (+6.9 GB, minutes on a small CPU): a decompression bomb.  Bounding the output
(``max_pixels``) is not enough: the work and the peak memory of a learned decoder grow with the *tile*, and
the work per stream byte is what an attacker amplifies.  Each decoder therefore computes, from the header
alone, the picture size, the largest unit it will run through the model and an estimate of its peak memory,
and calls :func:`check_budget` before it allocates or runs anything.

The defaults suit a server that decodes untrusted uploads; a caller decoding its own streams raises the
limits (``DecodeBudget(max_tile=4096, max_pixels_per_byte=None)`` or :meth:`DecodeBudget.trusted`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BitstreamError

__all__ = ["DEFAULT_BUDGET", "DecodeBudget", "check_budget"]


@dataclass(frozen=True)
class DecodeBudget:
    """Limits a decoder enforces before decoding; ``None`` switches a limit off.

    Attributes:
        max_pixels: output pixels (width x height x frames); 64 Mpixel by default (192 MB of RGB output).
        max_tile: longest edge, in pixels, of the unit the decoder runs through its model at once (a tile);
            1024 by default, the encoders' default tile.
        max_pixels_per_byte: output pixels per byte of stream (amplification).  The default 4096 is 0.002 bpp,
            far below what learned codecs spend on natural pictures (~0.1 bpp at their lowest rate); streams of
            nearly flat pictures may need ``None`` (opt in, for trusted input).
        max_memory: the decoder's estimate of its peak working memory in bytes; 2 GiB by default.
    """

    max_pixels: int | None = 1 << 26
    max_tile: int | None = 1024
    max_pixels_per_byte: float | None = 4096.0
    max_memory: int | None = 2 << 30

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_tile", "max_pixels_per_byte", "max_memory"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not v > 0):
                raise ValueError(f"DecodeBudget.{name} must be a positive number or None, got {v!r}")

    @classmethod
    def trusted(cls, max_memory: int | None = None) -> DecodeBudget:
        """No limits except ``max_memory`` (default none): for streams the caller produced itself."""
        return cls(max_pixels=None, max_tile=None, max_pixels_per_byte=None, max_memory=max_memory)


DEFAULT_BUDGET = DecodeBudget()


def check_budget(
    budget: DecodeBudget,
    *,
    width: int,
    height: int,
    stream_bytes: int,
    frames: int = 1,
    tile: int | None = None,
    memory: int | None = None,
    passes: int = 1,
) -> None:
    """Raise :class:`~pywlc.errors.BitstreamError` if decoding what the header describes exceeds ``budget``.

    Args:
        width, height, frames: the decoded output the header claims.
        stream_bytes: the size of the whole stream.
        tile: longest edge of the unit run through the model at once (None: the decoder has no such unit).
        memory: the decoder's estimate of its peak working memory in bytes (None: not estimated).
        passes: how many times the learned model runs over every pixel (quality layers decoded): the decoding
            work the ``max_pixels_per_byte`` rule bounds is ``pixels * passes``.
    """
    if not isinstance(budget, DecodeBudget):
        raise TypeError(f"budget must be a DecodeBudget, got {type(budget).__name__}")
    pixels = width * height * frames
    what = f"{width}x{height}" + (f"x{frames} frames" if frames != 1 else "")
    hint = "; pass a larger DecodeBudget to decode it anyway (trusted input only)"
    if budget.max_pixels is not None and pixels > budget.max_pixels:
        raise BitstreamError(f"picture {what} exceeds the decode budget of {budget.max_pixels} pixels{hint}")
    if budget.max_tile is not None and tile is not None and tile > budget.max_tile:
        raise BitstreamError(f"tile size {tile} exceeds the decode budget's max_tile {budget.max_tile}{hint}")
    work = pixels * passes
    if budget.max_pixels_per_byte is not None and work > budget.max_pixels_per_byte * max(stream_bytes, 1):
        layers = f" in {passes} quality layers" if passes > 1 else ""
        raise BitstreamError(
            f"{stream_bytes} bytes claim a {what} picture{layers} ({work / max(stream_bytes, 1):.0f} pixels per "
            f"byte, budget {budget.max_pixels_per_byte:.0f}): a decompression bomb or a nearly empty picture{hint}"
        )
    if budget.max_memory is not None and memory is not None and memory > budget.max_memory:
        raise BitstreamError(
            f"decoding {what} needs about {memory / 2**20:.0f} MiB, over the decode budget's "
            f"{budget.max_memory / 2**20:.0f} MiB{hint}"
        )
