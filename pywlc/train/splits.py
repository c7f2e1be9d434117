"""The project's train/test split of ``shared/data`` (``data/SPLITS.md``): which photos train, which test.

Photos are read, converted to RGB and downscaled by 2 with an antialiasing (Lanczos) filter, as SPLITS.md asks
for the JPEG originals, and kept in memory (optionally cached as one ``.pt`` file keyed by the file list).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

__all__ = ["PHOTO_DIRS", "downscaled", "load_photos", "photo_split"]

PHOTO_DIRS = ("photos", "photos_more")
_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_split(data: str | Path) -> tuple[list[Path], list[Path]]:
    """``(train, test)`` photo paths of a ``shared/data`` folder, from its ``SPLITS.md`` (sorted).

    Raises:
        FileNotFoundError: no SPLITS.md or a listed test file is missing.
    """
    data = Path(data)
    splits = data / "SPLITS.md"
    if not splits.is_file():
        raise FileNotFoundError(f"{splits} not found: pass the shared data folder (it holds SPLITS.md)")
    text = splits.read_text()
    photos_part = text.split("## Video")[0]
    test = sorted({data / m for m in re.findall(r"^- ((?:photos|photos_more)/\S+)$", photos_part, re.M)})
    for t in test:
        if not t.is_file():
            raise FileNotFoundError(f"test photo listed in SPLITS.md not found: {t}")
    every = sorted(p for d in PHOTO_DIRS if (data / d).is_dir() for p in (data / d).iterdir()
                   if p.suffix.lower() in _SUFFIXES)
    test_set = set(test)
    return [p for p in every if p not in test_set], test


def downscaled(path: str | Path, scale: int = 2) -> Tensor:
    """``uint8 Tensor[3, H // scale, W // scale]``: the photo in RGB, Lanczos-downscaled by ``scale``."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        if scale > 1:
            im = im.resize((max(1, im.width // scale), max(1, im.height // scale)), Image.Resampling.LANCZOS)
        return torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous()


def load_photos(paths: list[Path], scale: int = 2, cache: str | Path | None = None) -> list[Tensor]:
    """:func:`downscaled` of every path, cached in ``cache`` (a folder) as one file keyed by the list."""
    key = hashlib.sha1("|".join(f"{p.resolve()}:{p.stat().st_size}" for p in paths).encode() + bytes([scale]))
    target = None if cache is None else Path(cache) / f"photos-{key.hexdigest()[:16]}.pt"
    if target is not None and target.is_file():
        return torch.load(target)
    pics = [downscaled(p, scale) for p in paths]
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name of this process's own: two trainings started together on one cache each write theirs
        # and the last rename wins (with one shared name, the first rename left the second without its file).
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        torch.save(pics, tmp)
        tmp.replace(target)
    return pics
