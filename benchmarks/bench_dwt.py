"""DWT benchmark: pywlc vs the copy floor, pytorch_wavelets, ptwt (and pywt on the CPU), in one run.

    python benchmarks/bench_dwt.py [--device cpu|cuda] [--quick] [--out benchmarks/results/NAME.json]

fp32, 3 levels, forward and inverse timed separately (median, warm-up first; CUDA events on the GPU),
plus pywlc forward+backward.  Ratios are against the copy time of the same tensor (``x.clone()``, the
floor for a memory-bound op) and pywlc's time against each anchor.  Writes JSON (torch version, device
name, git commit) and a PNG plot beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import pywlc
from pywlc.benchmark import device_tag, dwt_contenders, median_ms, save_result

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {
    "cuda": {"4k_rgb": (1, 3, 2160, 3840), "train_16x256": (16, 3, 256, 256), "gop16_1080p": (16, 3, 1088, 1920)},
    "cpu": {"rgb_1024": (1, 3, 1024, 1024)},
}
QUICK = {"cuda": {"train_16x256": (16, 3, 256, 256)}, "cpu": {"rgb_256": (1, 3, 256, 256)}}
WAVELETS = ("haar", "bior2.2", "bior4.4")


def bench_case(shape, wavelet: str, levels: int, device: torch.device, reps: int) -> dict:
    x = torch.randn(*shape, device=device)
    row: dict = {"shape": list(shape), "wavelet": wavelet, "levels": levels}
    row["copy_ms"] = median_ms(lambda: x.clone(), device, reps)
    for name, (fwd, inv) in dwt_contenders(wavelet, levels, device).items():
        xx = x.cpu() if name == "pywt" else x
        coeffs = fwd(xx)
        row[f"{name}_fwd_ms"] = median_ms(lambda f=fwd, t=xx: f(t), device, reps)
        row[f"{name}_inv_ms"] = median_ms(lambda i=inv, c=coeffs: i(c), device, reps)
    xg = x.clone().requires_grad_()
    row["pywlc_fwd_bwd_ms"] = median_ms(lambda: pywlc.dwt(xg, wavelet, levels).sum().backward(), device, reps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        pywlc.idwt(pywlc.dwt(x, wavelet, levels), wavelet, levels)
        row["pywlc_peak_extra_mb"] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    for op in ("fwd", "inv"):
        ours = row[f"pywlc_{op}_ms"]
        row[f"pywlc_{op}_vs_copy"] = ours / row["copy_ms"]
        for name in ("ptwt", "pytorch_wavelets", "pywt"):
            if f"{name}_{op}_ms" in row:
                row[f"speedup_{op}_vs_{name}"] = row[f"{name}_{op}_ms"] / ours
    return row


def markdown_table(result: dict) -> str:
    """The README's table: per case, ms for pywlc and each anchor, and fwd+inv speed-ups."""
    rows = result["rows"]
    anchors = [n for n in ("ptwt", "pytorch_wavelets", "pywt") if f"{n}_fwd_ms" in rows[0]]
    head = ["case", "wavelet", "copy", "pywlc fwd / inv", *(f"{n} fwd / inv" for n in anchors)]
    head.append("fwd+inv speed-up vs " + " / ".join(anchors))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        total = {n: r[f"{n}_fwd_ms"] + r[f"{n}_inv_ms"] for n in ["pywlc", *anchors]}
        cells = [r["case"], r["wavelet"], f"{r['copy_ms']:.3f}"]
        cells += [f"{r[f'{n}_fwd_ms']:.3f} / {r[f'{n}_inv_ms']:.3f}" for n in ["pywlc", *anchors]]
        cells.append(" / ".join(f"{total[n] / total['pywlc']:.1f}x" for n in anchors))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = ["copy", "pywlc", "ptwt", "pytorch_wavelets", "pywt"]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows)), 4))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        vals = [
            r["copy_ms"] if name == "copy" else r.get(f"{name}_fwd_ms", 0) + r.get(f"{name}_inv_ms", 0) for r in rows
        ]
        ax.bar([i + k * width for i in range(len(rows))], vals, width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([f"{r['wavelet']}\n{'x'.join(map(str, r['shape']))}" for r in rows], fontsize=7)
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
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else (30 if device.type == "cuda" else 10))
    shapes = (QUICK if args.quick else SHAPES)[device.type]
    rows = []
    for tag, shape in shapes.items():
        for wavelet in WAVELETS:
            row = bench_case(shape, wavelet, args.levels, device, reps)
            row["case"] = tag
            rows.append(row)
            anchors = ", ".join(f"{k[len('speedup_') :]} {v:.1f}x" for k, v in row.items() if k.startswith("speedup_"))
            print(
                f"{tag:13s} {wavelet:8s} copy {row['copy_ms']:.3f} ms | pywlc fwd {row['pywlc_fwd_ms']:.3f} "
                f"inv {row['pywlc_inv_ms']:.3f} ms ({row['pywlc_fwd_vs_copy']:.1f}x / "
                f"{row['pywlc_inv_vs_copy']:.1f}x copy) | speed-up: {anchors}",
                flush=True,
            )
    if args.out is None and args.quick:
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"dwt-{device_tag(device)}.json"
    result = save_result("dwt", device, reps, rows, out, ROOT)
    plot(rows, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}\n")
    print(markdown_table(result))


if __name__ == "__main__":
    main()
