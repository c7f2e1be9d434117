"""Build pywlc: CMake compiles pywlc._C (pybind11, no libtorch); CUDA when nvcc is found.

Environment: PYWLC_CUDA=0/1 (default: auto), PYWLC_CUDA_ARCHS="80-real;90" (default sm_80..sm_90),
PYWLC_BUILD_JOBS (default: all cores), CMAKE_BUILD_TYPE (default Release).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "pywlc" / "_version.py").read_text()).group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_temp = Path(self.build_temp) / ext.name
        build_temp.mkdir(parents=True, exist_ok=True)
        cuda = {"0": "OFF", "1": "ON"}.get(os.environ.get("PYWLC_CUDA", ""), "AUTO")
        args = [
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={out_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('CMAKE_BUILD_TYPE', 'Release')}",
            f"-DPYWLC_VERSION={VERSION}",
            f"-DPYWLC_CUDA={cuda}",
        ]
        if os.environ.get("PYWLC_CUDA_ARCHS"):
            args.append(f"-DPYWLC_CUDA_ARCHS={os.environ['PYWLC_CUDA_ARCHS']}")
        try:
            import ninja  # noqa: F401

            args.append("-GNinja")
        except ImportError:
            pass
        jobs = os.environ.get("PYWLC_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_temp), *args], check=True)
        subprocess.run(["cmake", "--build", str(build_temp), "-j", jobs], check=True)


setup(
    version=VERSION,
    ext_modules=[CMakeExtension("pywlc._C")],
    cmdclass={"build_ext": CMakeBuild},
)
