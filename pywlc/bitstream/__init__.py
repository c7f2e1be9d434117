"""Versioned container for pywlc bitstreams: header, layer table with CRCs and dependencies, extraction.

Everything public lives in :mod:`pywlc.bitstream.container` (byte layout, version policy and limits are
documented there) and is re-exported here.
"""

from . import container
from .container import *  # noqa: F403

__all__ = list(container.__all__)
