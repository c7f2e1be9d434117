"""DWT benchmark: pywlc vs the copy floor, pytorch_wavelets, ptwt (and pywt on the CPU), in one run.

    python benchmarks/bench_dwt.py [--device cpu|cuda] [--threads 1,2] [--quick] [--out benchmarks/results/NAME.json]

fp32, 3 levels, forward and inverse timed separately; the floor is the copy of the same tensor (``x.clone()``:
a memory-bound op reads and writes every sample once), beside it ``copy_into`` (``y.copy_(x)`` into a tensor
allocated once: the same traffic without the allocation, whose page faults can cost more than the copy itself;
the page faults per call are recorded for every contender).  The contenders are timed in turn within every
repetition (a shared machine's drifting load hits them alike) and reported as medians with their quartiles.
On the CPU every thread count runs in its own worker process (``OMP_NUM_THREADS`` is read once, at start-up),
and each row records the load average around it, the instruction set pywlc's kernels chose, and beside the
wall times the process's CPU time per call (with one thread, robust to preemption on a shared machine).  Contenders
slower than ``--slow-ms`` per call are timed in the first ``--slow-reps`` repetitions only.  Writes JSON (torch
version, device, git commit) and a PNG plot beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

import pywlc
from pywlc.benchmark import device_tag, dwt_contenders, save_result

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "cuda": {"4k_rgb": (1, 3, 2160, 3840), "train_16x256": (16, 3, 256, 256), "gop16_1080p": (16, 3, 1088, 1920)},
    "cpu": {"rgb_1024": (1, 3, 1024, 1024), "train_16x256": (16, 3, 256, 256), "4k_rgb": (1, 3, 2160, 3840)},
}
QUICK = {"cuda": {"train_16x256": (16, 3, 256, 256)}, "cpu": {"rgb_256": (1, 3, 256, 256)}}
WAVELETS = ("haar", "bior2.2", "bior4.4")
ANCHORS = ("ptwt", "pytorch_wavelets", "pywt")
TARGET_VS_COPY = 2.0  # issue 12: every wavelet's forward and inverse within 2x the copy


def _time_ms(fn: Callable[[], object], device: torch.device) -> tuple[float, float, int]:
    """Wall time and the process's CPU time of one call, ms, and the page faults it took (on the GPU: CUDA
    events, CPU time and faults 0)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end), 0.0, 0
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    wall, used = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
    return wall, used, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0


def _summary(times: list[float]) -> dict:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return {"median": statistics.median(times), "p25": q[0], "p75": q[2], "n": len(times)}


def bench_case(shape, wavelet: str, levels: int, device: torch.device, reps: int, slow_ms: float, slow_reps: int):
    """One shape and wavelet: every contender's forward and inverse (and pywlc's forward+backward), interleaved."""
    x = torch.randn(*shape, device=device)
    xg = x.clone().requires_grad_()
    into = torch.empty_like(x)
    # The floor: a clone allocates its output as every contender does; copy_into writes a tensor allocated once
    # (no page faults: the memory-bound op alone).
    fns: dict[str, Callable[[], object]] = {"copy": lambda: x.clone(), "copy_into": lambda: into.copy_(x)}
    for name, (fwd, inv) in dwt_contenders(wavelet, levels, device).items():
        xx = x.cpu() if name == "pywt" else x
        coeffs = fwd(xx)
        fns[f"{name}_fwd"] = lambda f=fwd, t=xx: f(t)
        fns[f"{name}_inv"] = lambda i=inv, c=coeffs: i(c)
    fns["pywlc_fwd_bwd"] = lambda: pywlc.dwt(xg, wavelet, levels).sum().backward()
    first = {k: _time_ms(fn, device)[0] for k, fn in fns.items()}  # warm-up, and the slow contenders' cost
    for k, fn in fns.items():
        if first[k] < slow_ms:
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    faults: dict[str, list[int]] = {k: [] for k in fns}
    load = [os.getloadavg()[0]]
    for r in range(reps):
        for k, fn in fns.items():
            if first[k] < slow_ms or r < slow_reps:
                wall, used, flt = _time_ms(fn, device)
                times[k].append(wall)
                cpu[k].append(used)
                faults[k].append(flt)
    load.append(os.getloadavg()[0])
    row: dict = {"shape": list(shape), "wavelet": wavelet, "levels": levels, "loadavg_1min": load}
    for k, t in times.items():
        s = _summary(t)
        row[f"{k}_ms"] = s["median"]
        row[f"{k}_ms_iqr"] = [s["p25"], s["p75"]]
        row[f"{k}_reps"] = s["n"]
        # CPU time of the process during the call: with one thread, the op's own cost, which preemption by
        # other users' processes does not inflate (memory contention still does); with more, it adds the
        # threads' busy waiting.
        row[f"{k}_cpu_ms"] = statistics.median(cpu[k]) if device.type == "cpu" else None
        # Page faults per call (median): a fresh allocation faulted in page by page costs as much as the copy.
        row[f"{k}_faults"] = statistics.median(faults[k]) if device.type == "cpu" else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        pywlc.idwt(pywlc.dwt(x, wavelet, levels), wavelet, levels)
        row["pywlc_peak_extra_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    for op in ("fwd", "inv"):
        ours = row[f"pywlc_{op}_ms"]
        row[f"pywlc_{op}_vs_copy"] = ours / row["copy_ms"]
        row[f"pywlc_{op}_vs_copy_into"] = ours / row["copy_into_ms"]
        for name in ANCHORS:
            if f"{name}_{op}_ms" in row:
                row[f"speedup_{op}_vs_{name}"] = row[f"{name}_{op}_ms"] / ours
    row["meets_2x_copy"] = max(row["pywlc_fwd_vs_copy"], row["pywlc_inv_vs_copy"]) <= TARGET_VS_COPY
    row["meets_2x_copy_into"] = max(row["pywlc_fwd_vs_copy_into"], row["pywlc_inv_vs_copy_into"]) <= TARGET_VS_COPY
    if device.type == "cpu" and row["copy_cpu_ms"]:
        for op in ("fwd", "inv"):
            row[f"pywlc_{op}_cpu_vs_copy"] = row[f"pywlc_{op}_cpu_ms"] / row["copy_cpu_ms"]
    return row


def run_cases(shapes: dict, device: torch.device, args) -> list[dict]:
    rows = []
    simd = pywlc.build_info().get("simd") if device.type == "cpu" else None
    for tag, shape in shapes.items():
        for wavelet in WAVELETS:
            row = bench_case(shape, wavelet, args.levels, device, args.reps, args.slow_ms, args.slow_reps)
            row.update(case=tag, threads=torch.get_num_threads() if device.type == "cpu" else None, simd=simd)
            rows.append(row)
            anchors = ", ".join(f"{k[len('speedup_') :]} {v:.1f}x" for k, v in row.items() if k.startswith("speedup_"))
            print(
                f"[{row['threads']} thr, load {row['loadavg_1min'][0]:.1f}] {tag:13s} {wavelet:8s} copy "
                f"{row['copy_ms']:.3f} (into {row['copy_into_ms']:.3f}) ms | pywlc fwd {row['pywlc_fwd_ms']:.3f} "
                f"inv {row['pywlc_inv_ms']:.3f} ms "
                f"({row['pywlc_fwd_vs_copy']:.2f}x / {row['pywlc_inv_vs_copy']:.2f}x copy) | speed-up: {anchors}",
                file=sys.stderr,
                flush=True,
            )
    return rows


def run_worker(threads: int, args) -> list[dict]:
    """This script in a fresh process with ``threads`` OpenMP / torch threads; its rows (JSON on stdout)."""
    # glibc's malloc with fixed thresholds: blocks up to 32 MiB (its largest dynamic mmap threshold) come from
    # the heap, whose top is trimmed only beyond 64 MiB (room for every 1024^2 and batch tensor, none for a 4K
    # one: 4K outputs are mapped afresh for every call, as with the defaults).  With the dynamic defaults,
    # whichever contender ran after one whose frees trimmed the heap (pywt) grew it back page by page: pywlc's
    # 1x3x1024^2 forward, or the clone, paid 1,500-3,000 page faults a call in some repetitions (7 ms instead of
    # 1.4).  (Trimmed beyond 256 MiB instead, some 4K outputs came from the heap and others were mapped.)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
           "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}  # fmt: skip
    cmd = [sys.executable, __file__, "--worker", "--device", "cpu", "--levels", str(args.levels), "--reps",
           str(args.reps), "--slow-ms", str(args.slow_ms), "--slow-reps", str(args.slow_reps)]  # fmt: skip
    if args.quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def markdown_table(result: dict) -> str:
    """The README's table: per thread count and case, ms (median) for the copy, pywlc and each anchor."""
    rows = result["rows"]
    anchors = [n for n in ANCHORS if f"{n}_fwd_ms" in rows[0]]
    head = ["threads", "case", "wavelet", "copy / copy_into", "pywlc fwd / inv (x copy)", "x copy_into"]
    head += ["CPU time x copy"]
    head += [f"{n} fwd / inv" for n in anchors]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r.get("threads") or "-"), r["case"], r["wavelet"], f"{r['copy_ms']:.2f} / {r['copy_into_ms']:.2f}"]
        cells.append(
            f"{r['pywlc_fwd_ms']:.2f} / {r['pywlc_inv_ms']:.2f} "
            f"({r['pywlc_fwd_vs_copy']:.1f}x / {r['pywlc_inv_vs_copy']:.1f}x)"
        )
        cells.append(f"{r['pywlc_fwd_vs_copy_into']:.1f}x / {r['pywlc_inv_vs_copy_into']:.1f}x")
        cpu = [r.get(f"pywlc_{op}_cpu_vs_copy") for op in ("fwd", "inv")]
        cells.append(f"{cpu[0]:.1f}x / {cpu[1]:.1f}x" if None not in cpu else "-")
        cells += [f"{r[f'{n}_fwd_ms']:.1f} / {r[f'{n}_inv_ms']:.1f}" for n in anchors]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(rows)), 4.5))
    labels = [f"{r['wavelet']}\n{r['case']}\n{r.get('threads') or ''} thr" for r in rows]
    xs = range(len(rows))
    ax = axes[0]
    for k, op in enumerate(("fwd", "inv")):
        med = [r[f"pywlc_{op}_vs_copy"] for r in rows]
        lo = [m - r[f"pywlc_{op}_ms_iqr"][0] / r["copy_ms"] for m, r in zip(med, rows, strict=True)]
        hi = [r[f"pywlc_{op}_ms_iqr"][1] / r["copy_ms"] - m for m, r in zip(med, rows, strict=True)]
        ax.bar([i + 0.4 * k for i in xs], med, 0.4, yerr=[lo, hi], label=f"pywlc {op}", capsize=2)
    ax.axhline(TARGET_VS_COPY, color="k", ls="--", lw=1, label="2x copy (target)")
    ax.set_ylabel("time / copy time (median, quartile bars)")
    ax.set_xticks([i + 0.2 for i in xs])
    ax.set_xticklabels(labels, fontsize=6)
    ax.legend(fontsize=7)
    ax = axes[1]
    names = ["copy", "pywlc", *ANCHORS]
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        vals = [
            r["copy_ms"] if name == "copy" else r.get(f"{name}_fwd_ms", 0) + r.get(f"{name}_inv_ms", 0) for r in rows
        ]
        ax.bar([i + k * width for i in xs], vals, width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in xs])
    ax.set_xticklabels(labels, fontsize=6)
    ax.set_ylabel("forward + inverse, ms (log)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="one small shape, few repetitions (CI smoke)")
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--threads", default=None, help="CPU thread counts, each in its own process (default 1,2)")
    parser.add_argument("--slow-ms", type=float, default=300.0, help="contenders slower than this per call ...")
    parser.add_argument("--slow-reps", type=int, default=3, help="... are timed in this many repetitions")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    args.reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 15))
    shapes = (QUICK if args.quick else SHAPES)[device.type]
    if args.worker:
        print(json.dumps(run_cases(shapes, device, args)))
        return
    if device.type == "cpu" and not (args.quick and args.threads is None):
        threads = [int(t) for t in (args.threads or "1,2").split(",")]
        rows = [row for t in threads for row in run_worker(t, args)]
    else:  # CUDA, or a quick CPU smoke run: this process, its thread count
        rows = run_cases(shapes, device, args)
    if args.out is None and args.quick:
        return
    tag = f"cpu-{os.cpu_count()}core" if device.type == "cpu" else device_tag(device)
    out = args.out or ROOT / "benchmarks" / "results" / f"dwt-{tag}.json"
    result = save_result("dwt", device, args.reps, rows, out, ROOT)
    plot(rows, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}\n")
    print(markdown_table(result))


if __name__ == "__main__":
    main()
