"""Motion-compensated temporal filtering: bidirectional 5/3 and Haar MCTF along HVSBM (or user) motion."""

from .mctf import MctfLevel, MctfResult, MotionFields, analyze, block_motion, connectivity, make_level, synthesize

__all__ = [
    "MctfLevel", "MctfResult", "MotionFields", "analyze", "block_motion", "connectivity", "make_level", "synthesize",
]
