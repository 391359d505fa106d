"""Build the compiled kernels of rmse_ext: one source, three builds.

rmse_ext._kernel         baseline instruction set (always built)
rmse_ext._kernel_avx2    the same source for x86 with AVX2 + FMA; optional,
                         chosen at import time only when the CPU has both.
rmse_ext._kernel_avx512  the same source for x86-64 with AVX-512 F + VL and
                         FMA; optional, chosen at import time only when the
                         CPU has them and the OS saves the ZMM/opmask state.

Flags: -O3 for gcc/clang, never -ffast-math (it would delete the compensation)
and never -march=native.  -ffp-contract=off keeps the compiler from fusing
a*b+c where the error-free transformations need the rounding they spell out.
"""
import os
import platform
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-pthread"]
UNIX_LINK = ["-pthread"]                       # the worker pool (src/_pool.pxi)
X87_FLAGS = ["-msse2", "-mfpmath=sse"]          # no double rounding on 32-bit x86
ISA_FLAGS = {
    "rmse_ext._kernel_avx2": ["-mavx2", "-mfma"],
    "rmse_ext._kernel_avx512": ["-mavx512f", "-mavx512vl", "-mfma"],
}
MSVC_FLAGS = ["/O2", "/fp:precise"]
OPTIONAL = set(ISA_FLAGS)
X86_64_ONLY = {"rmse_ext._kernel_avx512"}


def is_x86(bits64=False):
    machine = platform.machine().lower()
    archflags = os.environ.get("ARCHFLAGS", "")
    if sys.platform == "darwin" and "arm64" in archflags:
        return False
    if bits64:
        return machine in {"x86_64", "amd64"} and sys.maxsize > 2**32
    return machine in {"x86_64", "amd64", "i386", "i686", "x86"}


def can_build(name, unix):
    """Whether this build may include the extension ``name``."""
    if name not in OPTIONAL:
        return True
    return unix and is_x86(bits64=name in X86_64_ONLY)


class BuildExt(build_ext):
    """Per-compiler flags; the optional kernels are skipped where they cannot build."""

    def build_extensions(self):
        unix = self.compiler.compiler_type != "msvc"
        for ext in self.extensions:
            if unix:
                ext.extra_compile_args = list(UNIX_FLAGS)
                if platform.machine().lower() in {"i386", "i686", "x86"}:
                    ext.extra_compile_args += X87_FLAGS
                ext.extra_compile_args += ISA_FLAGS.get(ext.name, [])
                extra = os.environ.get("RMSE_EXT_EXTRA_CFLAGS", "")
                ext.extra_compile_args += extra.split()
                ext.extra_link_args = UNIX_LINK + os.environ.get("RMSE_EXT_EXTRA_LDFLAGS", "").split()
            else:
                ext.extra_compile_args = list(MSVC_FLAGS)
        self.extensions = [ext for ext in self.extensions if can_build(ext.name, unix)]
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # an optional kernel may fail on odd toolchains
            if ext.name not in OPTIONAL:
                raise
            print(f"warning: skipped optional {ext.name}: {exc}", file=sys.stderr)


def kernel(name, source):
    return Extension(
        name,
        [source],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_25_API_VERSION")],
        depends=["src/_glibc_compat.h"],     # included by the generated C itself
    )


setup(
    ext_modules=cythonize(
        [
            kernel("rmse_ext._kernel", "src/_kernel.pyx"),
            kernel("rmse_ext._kernel_avx2", "src/_kernel_avx2.pyx"),
            kernel("rmse_ext._kernel_avx512", "src/_kernel_avx512.pyx"),
        ],
        compiler_directives={"language_level": "3"},
    ),
    cmdclass={"build_ext": BuildExt},
)
