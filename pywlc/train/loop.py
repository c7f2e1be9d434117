"""What every CPU trainer of pywlc shares: the cosine learning rate, resumable checkpoints that carry the CPU seconds
spent so far (the weights' records report CPU-hours), and the ``log.jsonl`` rows."""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterable
from dataclasses import MISSING, asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import torch

__all__ = ["Run", "add_config_arguments", "config_from_args", "cosine_lr"]

_C = TypeVar("_C")


def add_config_arguments(parser: argparse.ArgumentParser, config: type, skip: Iterable[str] = ()) -> None:
    """One ``--field-name`` option per field of the dataclass ``config`` with a default, so that a trainer's command
    line cannot drift from its config: typed by the default, ``--x`` / ``--no-x`` for booleans, a string for fields
    that default to None.  ``data``, ``out`` (each trainer says what they hold) and the fields in ``skip`` (given
    their own help or choices by the caller) are left out; ``resume`` is the usual ``store_true`` flag."""
    skip = {"data", "out", *skip}
    for f in fields(config):
        if f.name in skip or f.default is MISSING:
            continue
        name = "--" + f.name.replace("_", "-")
        if f.name == "resume":
            parser.add_argument(name, action="store_true", help="continue from OUT/last.pt")
        elif isinstance(f.default, bool):
            parser.add_argument(name, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            parser.add_argument(name, type=str if f.default is None else type(f.default), default=f.default)


def config_from_args(config: type[_C], args: argparse.Namespace, **overrides: Any) -> _C:
    """The ``config`` dataclass from parsed ``args`` (its fields by name; ``overrides`` win)."""
    kw = {f.name: getattr(args, f.name) for f in fields(config) if hasattr(args, f.name)}
    return config(**{**kw, **overrides})


def cosine_lr(step: int, steps: int, lr: float, lr_final: float) -> float:
    """Cosine decay from ``lr`` at step 0 to ``lr_final`` at ``steps``."""
    t = min(1.0, step / max(1, steps))
    return lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * t))


class Run:
    """``OUT/last.pt`` and ``OUT/log.jsonl`` of one training run.

    On construction, ``resume=True`` loads ``model`` / ``opt`` from an existing checkpoint (:attr:`start` is then
    its step).  :meth:`row` appends a log line with wall and CPU seconds; :meth:`save` writes the checkpoint
    atomically (a crash never leaves a half-written ``last.pt``).
    """

    def __init__(self, out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, resume: bool) -> None:
        self.ckpt = out / "last.pt"
        self.model, self.opt = model, opt
        self.start, self._cpu_before = 0, 0.0
        if resume and self.ckpt.is_file():
            state = torch.load(self.ckpt, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            self.start, self._cpu_before = state["step"], state.get("cpu_seconds", 0.0)
        self._log = (out / "log.jsonl").open("a")
        self._t0, self._c0 = time.time(), time.process_time()

    def cpu_seconds(self) -> float:
        return self._cpu_before + time.process_time() - self._c0

    def row(self, step: int, **values: Any) -> None:
        rec = {"step": step, **values, "wall_s": round(time.time() - self._t0, 1),
               "cpu_s": round(self.cpu_seconds(), 1)}
        self._log.write(json.dumps(rec) + "\n")
        self._log.flush()

    def save(self, step: int, config: Any, **extra: Any) -> None:
        tmp = self.ckpt.with_name(self.ckpt.name + ".tmp")
        torch.save({"model": self.model.state_dict(), "opt": self.opt.state_dict(), "step": step,
                    "cpu_seconds": self.cpu_seconds(), "config": asdict(config), **extra}, tmp)  # fmt: skip
        tmp.replace(self.ckpt)

    def close(self) -> None:
        self._log.close()
