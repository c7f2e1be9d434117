"""Short seeded fuzz runs of every registered target (the >= 100k-input runs: benchmarks/fuzz.py)."""

from __future__ import annotations

import random

import pytest

from pywlc.testing import (
    fuzz,
    fuzz_targets,  # noqa: F401 - registers the targets
)

# Inputs per target in CI: a few seconds each on a 2-core CPU.
QUICK = {"container": 2000, "mctf_synthesize": 1000, "image": 40, "wavelet": 60, "wlsvc": 60, "wavelet-layers": 40}


@pytest.mark.parametrize("name", sorted(QUICK))
def test_quick_seeded_run(name):
    if name not in fuzz.TARGETS:
        pytest.skip(f"no {name} target in this checkout")
    res = fuzz.run_inprocess(name, QUICK[name], seed=2026)
    assert res["unexpected"] == {}, res
    assert sum(res["outcomes"].values()) == QUICK[name]
    # The mutants reach past the first check: some are refused, and (except the container's CRC-guarded
    # bytes) some decode.
    assert len(res["outcomes"]) >= 2 or name == "container", res


def test_every_target_registered():
    assert {"container", "image", "mctf_synthesize"} <= set(fuzz.TARGETS)
    assert set(QUICK) | {"_selftest"} >= set(fuzz.TARGETS)


def test_watchdog_records_crashes_and_hangs():
    # Seed 5: inputs ok, hang, refused, refused, crash (abort), refused -> three workers.
    kinds = [random.Random(f"5:{i}").randrange(4) for i in range(6)]
    assert kinds == [0, 3, 1, 1, 2, 1]
    res = fuzz.run("_selftest", 6, seed=5, timeout=2.0)
    assert res["inputs"] == 6 and res["workers"] == 3
    assert [c["input"] for c in res["crashes"]] == [4] and res["crashes"][0]["returncode"] < 0
    assert [h["input"] for h in res["hangs"]] == [1]
    assert res["outcomes"] == {"ok": 1, "ValueError": 3}


def test_mutator_is_seeded():
    corpus = [bytes(range(40)), b"PWLC" * 8]
    a = [fuzz.mutate(random.Random(f"1:{i}"), corpus) for i in range(50)]
    b = [fuzz.mutate(random.Random(f"1:{i}"), corpus) for i in range(50)]
    assert a == b and len(set(a)) > 40
