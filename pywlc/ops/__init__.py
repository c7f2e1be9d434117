"""pywlc's ops: each a torch custom op (``torch.ops.pywlc.*``) with autograd, a fake kernel and a
pure-torch reference in ``pywlc.ops._reference_<op>``."""

from .dwt import dwt, idwt
from .masked_conv import ActiveSet, MaskedConv2d, active_tiles, masked_conv2d
from .warp import Warp, WarpBlocks, warp, warp_blocks
from .wavelet_mask import wavelet_mask
from .wavelets import WAVELETS, get_scheme, max_level, subband_sizes

__all__ = [
    "dwt",
    "idwt",
    "warp",
    "warp_blocks",
    "Warp",
    "WarpBlocks",
    "wavelet_mask",
    "masked_conv2d",
    "MaskedConv2d",
    "active_tiles",
    "ActiveSet",
    "WAVELETS",
    "get_scheme",
    "max_level",
    "subband_sizes",
]
