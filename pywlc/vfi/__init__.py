"""Frame interpolation in the wavelet domain on the CPU (WaveletVFI, Kong et al., TIP 2023).

``interpolate(frame0, frame1, t=0.5)`` gives the frame between two frames (any size, grey or RGB, batched);
``wlc interpolate IN OUT --factor 2|4`` does it for a whole video.  See :mod:`pywlc.vfi.model` for the network
and :mod:`pywlc.train.vfi` for its training.
"""

from .api import Interpolation, interpolate
from .model import RATIOS, VFIConfig, WaveletVFI
from .weights import WEIGHTS, load_model

__all__ = ["Interpolation", "RATIOS", "VFIConfig", "WEIGHTS", "WaveletVFI", "interpolate", "load_model"]
