"""Video: Y4M / raw YUV / PNG-folder I/O (:mod:`.io`), quality metrics (:mod:`.metrics`), the ffmpeg anchors
(:mod:`.anchors`) and WL-SVC, the wavelet scalable video codec (HVSBM + MCTF + the learned subband coder)."""
