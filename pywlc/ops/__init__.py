"""pywlc's ops: each a torch custom op (``torch.ops.pywlc.*``) with autograd, a fake kernel and a
pure-torch reference in :mod:`pywlc.ops._reference`."""

from .dwt import dwt, idwt
from .warp import Warp, WarpBlocks, warp, warp_blocks
from .wavelets import WAVELETS, get_scheme, max_level, subband_sizes

__all__ = [
    "dwt",
    "idwt",
    "warp",
    "warp_blocks",
    "Warp",
    "WarpBlocks",
    "WAVELETS",
    "get_scheme",
    "max_level",
    "subband_sizes",
]
