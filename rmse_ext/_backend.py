"""Choose the compiled kernel once, at import.

Three builds of one source: ``baseline``, ``avx2`` (AVX2 + FMA) and
``avx512`` (AVX-512 F + VL + FMA).  The fastest one the CPU and the OS can
run is chosen; ``RMSE_EXT_KERNEL`` = ``auto`` (default) | ``baseline`` |
``avx2`` | ``avx512`` forces one, falling back to the best runnable build
below it (never one the CPU would fault on).  All builds share the baseline
kernel's worker pool.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Collection

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ("baseline", "avx2", "avx512")          # slowest to fastest
MODULES = {"baseline": "_kernel", "avx2": "_kernel_avx2", "avx512": "_kernel_avx512"}
CHOICES = ("auto", *ORDER)


def compiled(name: str) -> ModuleType:
    """The compiled module ``rmse_ext.<name>``.  Importing from an unbuilt
    source checkout (python run from the repository root after a plain
    ``pip install .``) falls back to the installed build of the same module;
    failing that, the ImportError says how to build it."""
    try:
        return importlib.import_module(f"rmse_ext.{name}")
    except ImportError:
        pass
    for entry in sys.path:
        folder = os.path.join(entry or os.getcwd(), "rmse_ext")
        if not os.path.isdir(folder) or os.path.samefile(folder, HERE):
            continue
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, name + suffix)
            if os.path.exists(path):
                spec = importlib.util.spec_from_file_location(f"rmse_ext.{name}", path)
                assert spec is not None and spec.loader is not None
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                return module
    raise ImportError(
        f"rmse_ext.{name} is not built in {HERE}, which looks like a source "
        f"checkout: build it in place with `pip install -e .`, or run Python "
        f"from another directory to use an installed rmse_ext"
    )


baseline = compiled("_kernel")


def runnable() -> tuple[str, ...]:
    """The builds this CPU and OS can run (CPUID + XGETBV), slowest first."""
    return tuple(baseline.cpu_kernels())


def select(wanted: str, usable: Collection[str]) -> list[str]:
    """The builds to try for ``RMSE_EXT_KERNEL=wanted``, best first: the
    wanted one (the fastest for ``auto``) and every usable one below it."""
    if wanted not in CHOICES:
        raise ImportError(
            f"RMSE_EXT_KERNEL={wanted!r}: expected one of {', '.join(CHOICES)}"
        )
    top = len(ORDER) if wanted == "auto" else ORDER.index(wanted) + 1
    return [name for name in reversed(ORDER[:top]) if name in usable]


def load(build: str) -> ModuleType:
    """The kernel module of ``build``, sharing the baseline kernel's pool."""
    module = compiled(MODULES[build])
    if module is not baseline:
        module.share_pool_of(baseline.pool_capsule())
    return register(module)


def choose() -> ModuleType:
    """The kernel module this process uses (see the module docstring)."""
    wanted = os.environ.get("RMSE_EXT_KERNEL", "auto").strip().lower()
    for build in select(wanted, runnable()):
        try:
            return load(build)
        except ImportError:  # a build without that optional kernel
            continue
    return baseline


def available() -> list[ModuleType]:
    """Every kernel module this machine can run, baseline first (for tests)."""
    mods = []
    for build in runnable():
        try:
            mods.append(load(build))
        except ImportError:
            pass
    return mods


def build_name(module: ModuleType) -> str:
    """``'baseline'``, ``'avx2'`` or ``'avx512'`` for a kernel module."""
    short = module.__name__.rsplit(".", 1)[-1]
    return next(build for build, name in MODULES.items() if name == short)


def module_of(obj: Any) -> ModuleType:
    """The kernel module an accumulator or a Batch comes from (an
    accumulator folds the Batch type of its own module).  The builds are
    one C file compiled three times, so their types share their names
    (``rmse_ext._kernel.Batch``): each type is looked up itself."""
    return BUILD_OF_TYPE[type(obj)]


BUILD_OF_TYPE: dict[type, ModuleType] = {}


def register(module: ModuleType) -> ModuleType:
    """Remember which build each of ``module``'s types belongs to."""
    for value in vars(module).values():
        if isinstance(value, type):
            BUILD_OF_TYPE.setdefault(value, module)
    return module


register(baseline)
kernel = choose()
# The modes and policies (the same values in every build).
TMode = baseline.TMode
WMode = baseline.WMode
Policy = baseline.Policy
