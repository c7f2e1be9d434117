"""pywlc: wavelet-domain learned compression for PyTorch.

Fast, exact, differentiable lifting wavelet transforms and warping, HVSBM motion estimation, MCTF, the
versioned bitstream container; and, imported on demand (they pull in CompressAI), the learned codecs'
models (``pywlc.models``), the image codec (``pywlc.codecs``), the model registry (``pywlc.zoo``), the
trainer (``python -m pywlc.train``) and the ``wlc`` command line (``pywlc.cli``).
``pywlc.build_info()`` says what was compiled.
"""

from . import bitstream, mctf, motion, ops
from ._extension import build_info, has_cuda_ops
from ._version import __version__
from .errors import BitstreamError
from .ops.dwt import (
    DWT2d,
    DWT3d,
    IDWT2d,
    IDWT3d,
    dwt,
    idwt,
    wavedec,
    wavedec2,
    wavedec3,
    waverec,
    waverec2,
    waverec3,
)
from .ops.warp import Warp, WarpBlocks, warp, warp_blocks

__all__ = [
    "__version__",
    "build_info",
    "has_cuda_ops",
    "BitstreamError",
    "ops",
    "bitstream",
    "motion",
    "mctf",
    "dwt",
    "idwt",
    "wavedec",
    "waverec",
    "wavedec2",
    "waverec2",
    "wavedec3",
    "waverec3",
    "DWT2d",
    "IDWT2d",
    "DWT3d",
    "IDWT3d",
    "warp",
    "warp_blocks",
    "Warp",
    "WarpBlocks",
]
