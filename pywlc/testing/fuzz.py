"""A seeded fuzz harness for every decoder and for ``mctf.synthesize`` (issue 10, "Must show").

No atheris: it needs a clang-built CPython extension and does not install into the project's venv, so inputs come
from a seeded mutator instead (truncations, bit flips, byte / integer-field edits, range deletes, inserts and
duplicates, splices of two seeds), plus structure-aware mutations where a target defines them (payloads re-wrapped
with valid CRCs so they reach the entropy decoder; MCTF side information with wrong shapes, dtypes, values).
Input ``i`` of a run is a pure function of ``(seed, i)``, so every finding replays from two integers.

Targets live in one registry; adding a decoder is one line::

    register_decoder("wavelet", lambda: ([stream, ...], pywlc.codecs.wavelet.decode))

Outcomes per input: ``ok``, an expected error class (e.g. ``BitstreamError``), an *unexpected* exception (a bug:
counted by class, first message kept), a *crash* (the process died: signal or abort) or a *hang* (no answer
within ``timeout`` seconds).  :func:`run` executes inputs in a worker subprocess watched by the parent, which
records crashes and hangs with the replay index and restarts the worker after them; :func:`run_inprocess` is the
short CI variant (no crash or hang isolation).

Command line (the benchmark, ``benchmarks/fuzz.py``, drives the same entry point)::

    python -m pywlc.testing.fuzz TARGET --inputs 100000 --seed 0 --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TARGETS", "Target", "mutate", "register", "register_decoder", "run", "run_inprocess"]

MakeInput = Callable[[random.Random], Any]
Runner = Callable[[Any], object]


@dataclass(frozen=True)
class Target:
    """A fuzz target: ``setup() -> (make_input(rng), run(input))`` (built once per worker) and the exception
    classes that count as a correct refusal."""

    name: str
    setup: Callable[[], tuple[MakeInput, Runner]]
    expected: tuple[type[BaseException], ...]


TARGETS: dict[str, Target] = {}


def register(name: str, setup: Callable[[], tuple[MakeInput, Runner]], expected: tuple | None = None) -> Target:
    """Add a target (``expected`` defaults to ``(BitstreamError,)``)."""
    from ..errors import BitstreamError

    t = Target(name, setup, tuple(expected) if expected is not None else (BitstreamError,))
    TARGETS[name] = t
    return t


def register_decoder(
    name: str,
    setup: Callable[[], tuple[list[bytes], Callable[[bytes], object]]],
    expected: tuple | None = None,
    structured: Callable[[random.Random, bytes], bytes] | None = None,
    structured_share: float = 0.35,
) -> Target:
    """A bytes decoder: ``setup() -> (seed streams, decode)``; inputs are :func:`mutate`\\ d seeds, and with
    ``structured`` a share ``structured_share`` of them come from ``structured(rng, seed_stream)`` instead."""

    def make() -> tuple[MakeInput, Runner]:
        corpus, decode = setup()
        if not corpus:
            raise ValueError(f"fuzz target {name!r}: empty seed corpus")

        def make_input(rng: random.Random) -> bytes:
            if structured is not None and rng.random() < structured_share:
                return structured(rng, rng.choice(corpus))
            return mutate(rng, corpus)

        return make_input, decode

    return register(name, make, expected)


# ----------------------------------------------------------------------------------------------------
# The byte mutator

_INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                0xFFFFFFFF)  # fmt: skip


def _int_edit(rng: random.Random, b: bytearray) -> None:
    size = rng.choice((1, 2, 4, 8))
    if len(b) < size:
        return
    pos = rng.randrange(len(b) - size + 1)
    v = rng.choice((*_INTERESTING, len(b), rng.getrandbits(8 * size), rng.randrange(64)))
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[size]
    b[pos : pos + size] = struct.pack(rng.choice("<>") + fmt, v % (1 << (8 * size)))


def mutate(rng: random.Random, corpus: list[bytes]) -> bytes:
    """One mutant of a seed of ``corpus``: 1 to 4 random edits (bit flips, byte and integer-field overwrites,
    truncation, range delete / insert / duplicate, splice with another seed)."""
    b = bytearray(rng.choice(corpus))
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # random / interesting bytes
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(n)] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif op == 2:  # a length / count / size field
            _int_edit(rng, b)
        elif op == 3 and n:  # truncation
            del b[rng.randrange(n) :]
        elif op == 4 and n:  # delete a range
            i = rng.randrange(n)
            del b[i : i + rng.randint(1, max(1, n // 4))]
        elif op == 5:  # insert random bytes
            i = rng.randrange(n + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 6 and n:  # duplicate a range
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 64))
            k = rng.randrange(n + 1)
            b[k:k] = b[i:j]
        elif op == 7:  # splice: this seed's head, another's tail
            other = rng.choice(corpus)
            b = b[: rng.randrange(n + 1)] + other[rng.randrange(len(other) + 1) :]
        elif op == 8:  # append garbage
            b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    return bytes(b)


# ----------------------------------------------------------------------------------------------------
# Running


def _rng(seed: int, i: int) -> random.Random:
    return random.Random(f"{seed}:{i}")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from ``/proc`` (0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _classify(target: Target, run_input: Runner, x: Any) -> tuple[str, str | None]:
    try:
        run_input(x)
    except target.expected as e:
        return type(e).__name__, None
    except Exception as e:  # noqa: BLE001 - any other exception is a finding, recorded with its message
        return "unexpected:" + type(e).__name__, str(e)[:300]
    return "ok", None


def run_inprocess(name: str, inputs: int, seed: int = 0) -> dict:
    """Run ``inputs`` inputs of target ``name`` in this process (CI smoke run: no crash or hang isolation)."""
    target = TARGETS[name]
    make_input, run_input = target.setup()
    counts: Counter = Counter()
    examples: dict[str, str] = {}
    t0 = time.perf_counter()
    for i in range(inputs):
        outcome, msg = _classify(target, run_input, make_input(_rng(seed, i)))
        counts[outcome] += 1
        if msg is not None:
            examples.setdefault(outcome, f"input {i}: {msg}")
    return {"target": name, "inputs": inputs, "seed": seed, "outcomes": dict(counts), "unexpected": examples,
            "seconds": time.perf_counter() - t0}  # fmt: skip


def _worker(name: str, start: int, stop: int, seed: int) -> None:
    """Worker protocol on stdout: ``READY``, then ``S i`` before input ``i`` and ``O i outcome`` after it,
    ``E i message`` for an unexpected exception, finally ``DONE peak_rss_mb``."""
    target = TARGETS[name]
    make_input, run_input = target.setup()
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    for i in range(start, stop):
        x = make_input(_rng(seed, i))
        out.write(f"S {i}\n")
        out.flush()
        outcome, msg = _classify(target, run_input, x)
        out.write(f"O {i} {outcome}\n")
        if msg is not None:
            out.write(f"E {i} {msg!r}\n")
        if i % 1000 == 0:
            out.write(f"RSS {_peak_rss_mb():.1f}\n")
    out.write(f"DONE {_peak_rss_mb():.1f}\n")
    out.flush()


def run(
    name: str,
    inputs: int,
    seed: int = 0,
    timeout: float = 10.0,
    log: Callable[[dict], None] | None = None,
    max_seconds: float | None = None,
    start: int = 0,
) -> dict:
    """Fuzz target ``name`` with ``inputs`` inputs in watched worker subprocesses.

    A worker that dies is a crash; an input that burns ``timeout`` CPU seconds (or is silent for 120x that) is a
    hang; either is recorded
    with the input's index (replay: ``make_input(random.Random(f"{seed}:{i}"))``) and a new worker resumes at the
    next input.  Returns counts by outcome, unexpected exceptions (first message per class), crashes, hangs, peak
    resident memory of the workers and the wall time.  ``log(partial_result)`` is called every 5000 inputs;
    ``max_seconds`` stops early (the result says how many inputs ran).  ``start``: run inputs ``start`` to
    ``inputs - 1`` only (a shard of a larger run: shards of one seed together equal one run).
    """
    if name not in TARGETS:
        raise KeyError(f"unknown fuzz target {name!r}; registered: {sorted(TARGETS)}")
    counts: Counter = Counter()
    examples: dict[str, str] = {}
    crashes: list[dict] = []
    hangs: list[dict] = []
    peak = 0.0
    workers = 0
    slowest = 0.0
    t0 = time.perf_counter()

    def result() -> dict:
        return {
            "target": name,
            "inputs": sum(counts.values()) + len(crashes) + len(hangs),
            "seed": seed,
            "first_input": start,
            "timeout_s": timeout,
            "outcomes": dict(sorted(counts.items())),
            "unexpected": examples,
            "crashes": crashes,
            "hangs": hangs,
            "workers": workers,
            "peak_rss_mb": peak,
            "slowest_input_s": round(slowest, 3),
            "seconds": round(time.perf_counter() - t0, 1),
        }

    i = start
    while i < inputs and (max_seconds is None or time.perf_counter() - t0 < max_seconds):
        workers += 1
        cmd = [sys.executable, "-m", "pywlc.testing.fuzz", name, "--worker", "--start", str(i), "--inputs",
               str(inputs), "--seed", str(seed)]  # fmt: skip
        # stderr to a file (a pipe nobody reads would block a chatty worker); stdout read raw, lines split here,
        # so that select() sees every line (a buffered reader would hide lines already read into its buffer).
        err_file = tempfile.TemporaryFile()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
        assert p.stdout is not None
        fd = p.stdout.fileno()
        pending = b""
        current, started, cpu_started, ready, finished, last = None, 0.0, 0.0, False, False, ""
        t_spawn = time.perf_counter()
        while True:
            if b"\n" not in pending:
                r, _, _ = select.select([fd], [], [], min(timeout, 5.0))
                if not r:
                    # A hang is an input that burns `timeout` CPU seconds (an endless loop), or stays silent for
                    # 120x that (a deadlock); wall time alone flags slow inputs of a worker starved by nice 19
                    # (measured: 3.3 CPU seconds took 300 s of wall time beside a training job).
                    wall = time.perf_counter() - (started if current is not None else t_spawn)
                    cpu = _cpu_seconds(p.pid) - (cpu_started if current is not None else 0.0)
                    limit = timeout if ready else 600.0
                    if cpu > limit or wall > 120 * limit:
                        p.kill()
                        p.wait()
                        hangs.append({"input": current if current is not None else i, "cpu_s": round(cpu, 1),
                                      "wall_s": round(wall, 1)})  # fmt: skip
                        break
                    continue
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    pending += chunk
                    continue
                p.wait()  # EOF: the worker exited or died
                if not finished:
                    err_file.seek(0)
                    err = err_file.read()[-500:].decode("utf-8", "replace")
                    if not ready:  # the target's setup failed: no input ran, retrying would loop forever
                        raise RuntimeError(f"fuzz target {name!r}: worker setup failed (exit {p.returncode}): {err}")
                    crashes.append({"input": current if current is not None else i, "returncode": p.returncode,
                                    "stderr": err})  # fmt: skip
                break
            raw, pending = pending.split(b"\n", 1)
            line = raw.decode()
            kind, _, rest = line.partition(" ")
            if kind == "READY":
                ready = True
            elif kind == "S":
                current, started, cpu_started = int(rest), time.perf_counter(), _cpu_seconds(p.pid)
            elif kind == "O":
                idx, outcome = rest.split(" ", 1)
                last = outcome
                counts[outcome] += 1
                slowest = max(slowest, time.perf_counter() - started)
                i = int(idx) + 1
                current = None
                if log is not None and i % 5000 == 0:
                    log(result())
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    p.kill()
                    p.wait()
                    finished = True
                    break
            elif kind == "E":
                idx, msg = rest.split(" ", 1)
                examples.setdefault(last, f"input {idx}: {msg}")
            elif kind == "DONE":  # do not wait for the exit: a loaded machine may take long to tear torch down
                peak = max(peak, float(rest))
                finished = True
                p.kill()
                p.wait()
                break
            elif kind == "RSS":
                peak = max(peak, float(rest))
        p.stdout.close()
        err_file.close()
        if current is not None:
            i = current + 1  # resume after the input that crashed or hung
    return result()


def main(argv: list[str] | None = None) -> int:
    from . import fuzz_targets  # noqa: F401 - registers the built-in targets

    p = argparse.ArgumentParser(prog="python -m pywlc.testing.fuzz", description=__doc__.split("\n")[0])
    p.add_argument("target", choices=sorted(TARGETS))
    p.add_argument("--inputs", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0, help="CPU seconds per input before it counts as a hang")
    p.add_argument("--out", help="write the result JSON here (also every 5000 inputs)")
    p.add_argument("--max-seconds", type=float, help="stop after this long (the result counts what ran)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help="first input index (shards of one seeded run)")
    a = p.parse_args(argv)
    if a.worker:
        _worker(a.target, a.start, a.inputs, a.seed)
        return 0

    def write(res: dict) -> None:
        print(f"{a.target}: {res['inputs']} inputs, {res['outcomes']}", file=sys.stderr, flush=True)
        if a.out:
            with open(a.out, "w") as f:
                f.write(json.dumps(res, indent=2) + "\n")

    res = run(a.target, a.inputs, a.seed, a.timeout, log=write, max_seconds=a.max_seconds, start=a.start)
    write(res)
    print(json.dumps(res, indent=2))
    return 0 if not (res["crashes"] or res["hangs"]) else 1


if __name__ == "__main__":
    # Run the imported module's main, so that the targets register into the same TARGETS the worker reads.
    from pywlc.testing.fuzz import main as _main

    sys.exit(_main())
