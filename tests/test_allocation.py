"""Huge requested shapes raise pywlc's AllocationError saying what was asked (issue 10, finding 6).

Stride-0 views cost nothing until an op materialises them; torch then failed with ``DefaultCPUAllocator: can't
allocate memory``.  The ops check the logical size against the device's memory first.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import pywlc
from pywlc._alloc import allocation, check_bytes, device_memory
from pywlc.errors import AllocationError

BIG = 1 << 17  # 131072^2 float32 = 64 GiB: more than any CI machine's memory


def huge(*lead: int) -> torch.Tensor:
    if device_memory(torch.device("cpu")) >= 4 * BIG * BIG:
        pytest.skip("this machine has more memory than the huge shape")
    return torch.zeros(1).expand(*lead, BIG, BIG)


@pytest.mark.parametrize(
    "call",
    [
        lambda: pywlc.dwt(huge(1, 1), "haar", 1),
        lambda: pywlc.idwt(huge(1, 1), "bior4.4", 1),
        lambda: pywlc.wavedec2(huge(1, 1), "haar", 1),
        lambda: pywlc.warp(huge(1, 1), torch.zeros(1).expand(1, 2, BIG, BIG)),
        lambda: pywlc.warp_blocks(huge(1, 1), torch.zeros(1).expand(1, 2, BIG // 16, BIG // 16), 16),
        lambda: pywlc.mctf.analyze(huge(2, 1), levels=1, motion="zero"),
    ],
    ids=["dwt", "idwt", "wavedec2", "warp", "warp_blocks", "mctf.analyze"],
)
def test_huge_views_say_what_was_asked(call):
    asked = rf"Tensor\[.*{BIG}, {BIG}\] torch.float32 .*stride-0.* needs (64|128).0 GiB"
    with pytest.raises(AllocationError, match=asked):
        call()


def test_mctf_synthesize_huge_side_information():
    x = torch.rand(4, 1, 8, 8)
    r = pywlc.mctf.analyze(x, levels=1, motion="zero")
    big = dataclasses.replace(
        r, low=torch.zeros(1).expand(2, 1, BIG, BIG), high=[torch.zeros(1).expand(2, 1, BIG, BIG)]
    )
    if device_memory(torch.device("cpu")) >= 4 * BIG * BIG:
        pytest.skip("this machine has more memory than the huge shape")
    with pytest.raises(AllocationError, match="synthesize"):
        pywlc.mctf.synthesize(big)


def test_allocation_context():
    msg = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 4096 bytes. Error code 12"
    with pytest.raises(AllocationError, match=r"pywlc.op: an allocation of 4096 bytes"):
        with allocation("pywlc.op"):
            raise RuntimeError(msg)
    with pytest.raises(RuntimeError, match="unrelated"), allocation("pywlc.op"):
        raise RuntimeError("unrelated")
    with pytest.raises(AllocationError, match="the thing needs"):
        check_bytes(1 << 62, torch.device("cpu"), "pywlc.op", "the thing")
    assert issubclass(AllocationError, MemoryError)
