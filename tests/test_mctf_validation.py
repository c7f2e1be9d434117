"""mctf.synthesize refuses inconsistent side information before any kernel call (issue 10, finding 1).

The issue's reproductions (4 frames, levels=1, motion="zero") crashed the process (SIGSEGV / SIGBUS) or read out
of bounds; they run in a subprocess so that a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import pywlc.mctf as M
from pywlc.mctf._validate import MAX_VECTOR

ROOT = Path(__file__).resolve().parents[1]

# The issue's cases: (name, level fields replaced) with K = 2 H frames of H x W.
_CASES = """
cases = {
    "field_left half size": dict(field_left=torch.zeros(k, 2, h // 2, w // 2)),
    "field_left K=1": dict(field_left=torch.zeros(1, 2, h, w)),
    "scene_cut empty": dict(scene_cut=torch.zeros(0, dtype=torch.bool)),
    "uses_left (1,1,1)": dict(uses_left=torch.ones(1, 1, 1, dtype=torch.bool)),
    "uses_right (1,1,1)": dict(uses_right=torch.ones(1, 1, 1, dtype=torch.bool)),
    "field_right 4x4": dict(field_right=torch.zeros(k, 2, 4, 4)),
    "field_left double size": dict(field_left=torch.zeros(k, 2, 2 * h, 2 * w)),
}
"""


def _result(size: int = 32, frames: int = 4, levels: int = 1, **kw) -> tuple[torch.Tensor, M.MctfResult]:
    torch.manual_seed(0)
    x = torch.rand(frames, 1, size, size, dtype=torch.float64 if kw.get("float64") else torch.float32) * 255
    return x, M.analyze(x, levels=levels, motion="zero")


def _with(r: M.MctfResult, li: int = 0, **fields) -> M.MctfResult:
    motion = list(r.motion)
    motion[li] = dataclasses.replace(motion[li], **fields)
    return dataclasses.replace(r, motion=motion)


@pytest.mark.parametrize("size", [32, 512])
def test_issue_cases_refused_without_crash(size: int) -> None:
    script = (
        textwrap.dedent(
            f"""
        import dataclasses, torch, pywlc.mctf as M
        torch.manual_seed(0)
        x = torch.rand(4, 1, {size}, {size}) * 255
        r = M.analyze(x, levels=1, motion="zero")
        lvl = r.motion[0]
        k, h, w = 2, {size}, {size}
        """
        )
        + textwrap.dedent(_CASES)
        + textwrap.dedent(
            """
        for name, rep in cases.items():
            r2 = dataclasses.replace(r, motion=[dataclasses.replace(lvl, **rep)])
            try:
                y = M.synthesize(r2)
                print(f"{name}: RETURNED max error {(y - x).abs().max().item():.3g}", flush=True)
            except ValueError as e:
                print(f"{name}: ValueError {e}", flush=True)
        """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0, f"exit {p.returncode} (negative: killed by signal); got:\n{p.stdout}{p.stderr[-2000:]}"
    assert len(lines) == 7 and all(": ValueError" in line for line in lines), p.stdout


@pytest.mark.parametrize(
    "fields, match",
    [
        (lambda k, h, w: dict(field_left=torch.full((k, 2, h, w), float("nan"))), "finite"),
        (lambda k, h, w: dict(field_right=torch.full((k, 2, h, w), float("inf"))), "finite"),
        (lambda k, h, w: dict(field_left=torch.full((k, 2, h, w), 2 * MAX_VECTOR)), "finite"),
        (lambda k, h, w: dict(field_left=torch.zeros(k, 2, h, w, dtype=torch.int32)), "float"),
        (lambda k, h, w: dict(uses_left=torch.ones(k, h, w, dtype=torch.uint8)), "bool"),
        (lambda k, h, w: dict(scene_cut=[False] * k), "Tensor"),
        (lambda k, h, w: dict(num_frames=6), "num_frames"),
        (lambda k, h, w: dict(weight_left=torch.zeros(k, h, w + 1)), "weight_left"),
        (lambda k, h, w: dict(connected_right=torch.zeros(k, h, w)), "bool"),
        (lambda k, h, w: dict(field_left=torch.zeros(k, 2, h, w, device="meta")), "on cpu"),
    ],
)
def test_bad_level_fields(fields, match: str) -> None:
    _, r = _result()
    with pytest.raises((ValueError, TypeError), match=match):
        M.synthesize(_with(r, **fields(2, 32, 32)))


def test_bad_result_fields() -> None:
    x, r = _result(frames=5, levels=2)
    bad = [
        dict(low=r.low[:1]),
        dict(low=r.low.double()),
        dict(low=r.low.to(torch.int32)),
        dict(high=[r.high[0][:1], r.high[1]]),
        dict(high=[r.high[0]]),
        dict(high=[r.high[0], r.high[1][..., :-1]]),
        dict(num_frames=4),
        dict(alpha=0.0),
        dict(beta=float("nan")),
        dict(interp="nearest"),
        dict(filter="db4"),
        dict(integer=1),
    ]
    for rep in bad:
        with pytest.raises((ValueError, TypeError)):
            M.synthesize(dataclasses.replace(r, **rep))
    # The second level's side information is checked against that level's frame count (3 -> K = 1).
    with pytest.raises(ValueError, match=r"motion\[1\].field_left"):
        M.synthesize(_with(r, 1, field_left=torch.zeros(2, 2, 32, 32)))
    # Valid results still round-trip, also with float64 fields and non-contiguous tensors.
    lvl = r.motion[0]
    ok = _with(r, 0, field_left=lvl.field_left.double(), uses_left=lvl.uses_left.transpose(1, 2).contiguous().mT)
    torch.testing.assert_close(M.synthesize(ok), x, rtol=0, atol=1e-3)


def test_integer_result_checked() -> None:
    x = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.int32)
    r = M.analyze(x, levels=1, motion="zero", integer=True)
    assert torch.equal(M.synthesize(r), x)
    with pytest.raises(ValueError, match="scene_cut"):
        M.synthesize(_with(r, scene_cut=torch.zeros(0, dtype=torch.bool)))
