"""Video: Y4M / raw YUV / PNG-folder I/O (:mod:`.io`), quality metrics (:mod:`.metrics`), the ffmpeg anchors
(:mod:`.anchors`) and WL-SVC, the wavelet scalable video codec (HVSBM + MCTF + the learned subband coder)."""

from .codec import EncodeOptions, StreamInfo, decode, encode, extract, load_video_model, stream_info
from .io import Video, read_video, write_y4m

__all__ = [
    "EncodeOptions", "StreamInfo", "Video", "decode", "encode", "extract", "load_video_model", "read_video",
    "stream_info", "write_y4m",
]
