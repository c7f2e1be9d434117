"""Motion estimation for motion-compensated temporal filtering: HVSBM (MC-EZBC's block matcher)."""

from .hvsbm import MODES, HvsbmResult, chroma_field, hvsbm

__all__ = ["MODES", "HvsbmResult", "chroma_field", "hvsbm"]
