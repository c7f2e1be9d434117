"""Motion estimation for motion-compensated temporal filtering: HVSBM (MC-EZBC's block matcher, CPU) and
fixed-grid block matching (CPU and CUDA, identical results)."""

from .block_match import BlockMatch, block_field, block_match
from .hvsbm import MODES, HvsbmResult, chroma_field, hvsbm

__all__ = ["MODES", "BlockMatch", "HvsbmResult", "block_field", "block_match", "chroma_field", "hvsbm"]
