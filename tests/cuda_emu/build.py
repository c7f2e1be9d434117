"""Build pywlc's CUDA kernels as plain C++ against the CPU emulation in ``cuda_runtime.h`` (this folder).

``build()`` returns the path of a ``_C`` extension holding the real CPU kernels and the emulated ``*_cuda``
entry points of the DWT, warp, block-matching and MCTF families, cached under ``~/.cache/pywlc/cuda-emu-<hash>``.
Two source rewrites make a .cu file valid C++: ``kernel<<<grid, block, smem, stream>>>(args);`` becomes
``pywlc_emu::launch(grid, block, smem, [&] { kernel(args); });`` and ``extern __shared__ T name[];`` becomes a
pointer to the launch's dynamic shared-memory buffer.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FAMILIES = ("dwt", "warp", "motion", "mctf")
BINDINGS = ("csrc/bindings.cpp", "csrc/dwt/bind_dwt.cpp", "csrc/warp/bind_warp.cpp", "csrc/motion/bind_block_match.cpp",
            "csrc/mctf/bind_mctf.cpp")  # fmt: skip
FLAGS = ["-std=c++20", "-O1", "-fPIC", "-fopenmp", "-pthread", "-DPYWLC_WITH_CUDA", '-DPYWLC_VERSION="emu"',
         '-DPYWLC_CUDA_VERSION="emulated"', '-DPYWLC_CUDA_ARCHS="emulated"', "-w"]  # fmt: skip


def _matching(text: str, i: int, open_: str, close: str, step: int) -> int:
    """Index of the bracket matching ``text[i]`` scanning in direction ``step``."""
    depth = 0
    while True:
        c = text[i]
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
        i += step


def _split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for c in s:
        if c in "(<[{":
            depth += 1
        elif c in ")>]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += c
    parts.append(cur.strip())
    return parts


def rewrite(text: str) -> str:
    """A .cu source -> C++ for the emulator."""
    text = re.sub(
        r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+(?:\s+[\w:]+)*?)\s+(\w+)\[\];",
        r"\1* \2 = pywlc_emu::dynamic_smem<\1>();",
        text,
    )
    while (k := text.find("<<<")) >= 0:
        # The kernel expression before <<<: an identifier with optional (nested) template arguments.
        j = k - 1
        while text[j].isspace():
            j -= 1
        if text[j] == ">":
            j = _matching(text, j, ">", "<", -1) - 1
        start = j
        while start >= 0 and (text[start].isalnum() or text[start] in "_:"):
            start -= 1
        kernel = text[start + 1 : k].strip()
        end_cfg = text.index(">>>", k)
        cfg = _split_top(text[k + 3 : end_cfg])
        p0 = text.index("(", end_cfg)
        p1 = _matching(text, p0, "(", ")", 1)
        semi = text.index(";", p1)
        args = text[p0 + 1 : p1]
        grid, block = cfg[0], cfg[1]
        smem = cfg[2] if len(cfg) > 2 else "0"
        call = (
            f"pywlc_emu::launch(pywlc_emu::to_dim3({grid}), pywlc_emu::to_dim3({block}), "
            f"static_cast<size_t>({smem}), [&]() {{ {kernel}({args}); }})"
        )
        text = text[: start + 1] + call + text[semi:]
    return text


def _sources() -> tuple[list[Path], list[Path]]:
    cpp = [ROOT / b for b in BINDINGS]
    for fam in FAMILIES:
        cpp += sorted((ROOT / "csrc" / fam / "cpu").glob("*.cpp"))
    cu = [p for fam in FAMILIES for p in sorted((ROOT / "csrc" / fam / "cuda").glob("*.cu"))]
    return cpp, cu


def build() -> Path:
    cpp, cu = _sources()
    headers = sorted((ROOT / "csrc").rglob("*.h"))
    h = hashlib.sha256()
    for p in [*cpp, *cu, *headers, HERE / "cuda_runtime.h", Path(__file__)]:
        h.update(p.read_bytes())
    h.update(" ".join(FLAGS).encode() + sys.version.encode())
    out_dir = Path(os.environ.get("PYWLC_CACHE", Path.home() / ".cache" / "pywlc")) / f"cuda-emu-{h.hexdigest()[:16]}"
    so = out_dir / ("_C" + sysconfig.get_config_var("EXT_SUFFIX"))
    if so.exists():
        return so
    out_dir.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers may all ask at once: one builds, the others wait for it.
    with open(out_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not so.exists():
            _compile(cpp, cu, out_dir, so)
    return so


def _compile(cpp: list[Path], cu: list[Path], out_dir: Path, so: Path) -> None:
    import pybind11

    gen = out_dir / "src"
    gen.mkdir(exist_ok=True)
    units = list(cpp)
    for p in cu:
        # Keep the file's folder for its relative includes: write next to a mirror of csrc.
        target = gen / p.relative_to(ROOT).with_suffix(".emu.cpp")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rewrite(p.read_text()))
        units.append(target)
    includes = [
        f"-I{HERE}",
        f"-I{ROOT / 'csrc'}",
        f"-I{pybind11.get_include()}",
        f"-I{sysconfig.get_paths()['include']}",
    ]
    objs, procs = [], []
    for u in units:
        obj = out_dir / (hashlib.sha1(str(u).encode()).hexdigest()[:12] + ".o")
        # Generated units include "../<family>.h" relative to their original folder.
        extra = [f"-I{ROOT / u.relative_to(gen).parent}"] if gen in u.parents else []
        cmd = ["g++", *FLAGS, *includes, *extra, "-c", str(u), "-o", str(obj)]
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), u))
        objs.append(obj)
        if len(procs) >= 2:
            _wait(procs.pop(0))
    for p in procs:
        _wait(p)
    tmp = so.with_suffix(".tmp")
    subprocess.run(["g++", "-shared", "-fopenmp", "-pthread", *map(str, objs), "-o", str(tmp)], check=True)
    tmp.rename(so)


def _wait(item) -> None:
    proc, unit = item
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"emulated build of {unit} failed:\n{out[-6000:]}")


if __name__ == "__main__":
    print(build())
