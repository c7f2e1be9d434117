"""Subcommand families that live in their own modules (``wlc video``, ``python -m pywlc.train vfi`` ...)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable

__all__ = ["register_all"]


def register_all(modules: Iterable[str], sub: argparse._SubParsersAction) -> None:
    """Call ``register(sub)`` of each module; a module that is not in this tree is skipped (an import error inside
    one that is, is raised)."""
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name == module:
                continue
            raise
        mod.register(sub)
