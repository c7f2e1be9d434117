"""Frame interpolation in the wavelet domain on the CPU (WaveletVFI, Kong et al., TIP 2023).

See :mod:`pywlc.vfi.model` for the network and :mod:`pywlc.train.vfi` for its training.
"""

from .model import RATIOS, VFIConfig, WaveletVFI

__all__ = ["RATIOS", "VFIConfig", "WaveletVFI"]
