"""Timing harness shared by ``benchmarks/`` and the demo: medians with warm-up, CUDA events on the GPU,
and the DWT contenders (pywlc and the anchors that are installed) behind one interface."""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "median_ms",
    "median_ms_interleaved",
    "dwt_contenders",
    "device_name",
    "device_tag",
    "moving_texture_pair",
    "save_result",
]


def median_ms(fn: Callable[[], Any], device: torch.device | str = "cpu", reps: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds (CUDA events and a synchronise on the GPU)."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        for _ in range(reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end))
    else:
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def median_ms_interleaved(
    fns: dict[str, Callable[[], Any]], device: torch.device | str = "cpu", reps: int = 20, warmup: int = 3
) -> dict[str, float]:
    """Median wall time in milliseconds of each ``fns[name]()``, the contenders timed in turn within every
    repetition: load that drifts during the run (a shared machine) hits them all alike, so their ratios hold
    where separately timed medians would not."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            times[name].append(median_ms(fn, device, 1, 0))
    return {name: statistics.median(t) for name, t in times.items()}


def moving_texture_pair(h: int, w: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cur, ref)`` grey ``Tensor[H, W]`` float32 on the 0..255 scale: a smooth random texture and the same
    texture moved by (+3.25, -2.5) px (the motion-search benchmarks' frame pair)."""
    import torch.nn.functional as F

    base = torch.rand((1, 1, h + 32, w + 32), generator=g) * 255
    base = F.avg_pool2d(base, 5, 1, 2)
    ref = base[0, 0, 8 : 8 + h, 8 : 8 + w]
    cur = F.interpolate(base, scale_factor=4, mode="bicubic", align_corners=False)[0, 0]
    cur = cur[4 * 8 - 10 : 4 * (8 + h) - 10 : 4, 4 * 8 + 13 : 4 * (8 + w) + 13 : 4]
    return cur.contiguous(), ref.contiguous()


def device_name(device: torch.device) -> str:
    """What the results ran on: the GPU's name, or the CPU and its thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def device_tag(device: torch.device) -> str:
    """File-name tag of a device: ``h100``, ``h200``, ``cpu-2core``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device).lower().replace("nvidia ", "").split()[0]
    return f"cpu-{torch.get_num_threads()}core"


def _git_commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def save_result(benchmark: str, device: torch.device, reps: int, rows: list[dict], out: Path, root: Path) -> dict:
    """Write a benchmark's rows as JSON with what they ran on (device, torch, build, git commit of ``root``)."""
    import pywlc

    result = {
        "benchmark": benchmark,
        "device": device_name(device),
        "torch": torch.__version__,
        "pywlc": pywlc.build_info(),
        "git_commit": _git_commit(root),
        "reps": reps,
        "rows": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


def dwt_contenders(wavelet: str, levels: int, device: torch.device | str) -> dict[str, tuple[Callable, Callable]]:
    """``name -> (forward(x) -> coeffs, inverse(coeffs) -> x)`` for pywlc and each installed anchor.

    Anchors run in boundary mode ``zero`` (as in ``shared/specs/anchors.md``); pywlc runs ``symmetric``,
    its non-expansive JPEG 2000 mode.  pywt runs on the CPU only.
    """
    import pywlc

    device = torch.device(device)
    out: dict[str, tuple[Callable, Callable]] = {
        "pywlc": (
            lambda x: pywlc.dwt(x, wavelet, levels),
            lambda y: pywlc.idwt(y, wavelet, levels),
        )
    }
    try:
        import ptwt

        out["ptwt"] = (
            lambda x: ptwt.wavedec2(x, wavelet, level=levels, mode="zero"),
            lambda c: ptwt.waverec2(c, wavelet),
        )
    except ImportError:
        pass
    try:
        with warnings.catch_warnings():  # it imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            from pytorch_wavelets import DWTForward, DWTInverse

        fwd = DWTForward(J=levels, wave=wavelet, mode="zero").to(device)
        inv = DWTInverse(wave=wavelet, mode="zero").to(device)
        out["pytorch_wavelets"] = (fwd, inv)
    except ImportError:
        pass
    if device.type == "cpu":
        try:
            import pywt

            out["pywt"] = (
                lambda x: pywt.wavedec2(x.numpy(), wavelet, mode="zero", level=levels),
                lambda c: pywt.waverec2(c, wavelet, mode="zero"),
            )
        except ImportError:
            pass
    return out
