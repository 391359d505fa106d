"""Choose the compiled kernel once, at import.

``RMSE_EXT_KERNEL`` = ``auto`` (default) | ``baseline`` | ``avx2`` overrides the
choice; ``avx2`` on a CPU without AVX2+FMA falls back to ``baseline``.
"""
import importlib.machinery
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def compiled(name):
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


def _choose():
    wanted = os.environ.get("RMSE_EXT_KERNEL", "auto").strip().lower()
    if wanted not in {"auto", "baseline", "avx2"}:
        raise ImportError(
            f"RMSE_EXT_KERNEL={wanted!r}: expected 'auto', 'baseline' or 'avx2'"
        )
    if wanted != "baseline" and baseline.cpu_has_avx2_fma():
        try:
            return compiled("_kernel_avx2")
        except ImportError:  # a build without the optional AVX2 kernel
            return baseline
    return baseline


def available():
    """Every kernel module this machine can run, baseline first (for tests)."""
    mods = [baseline]
    if baseline.cpu_has_avx2_fma():
        try:
            mods.append(compiled("_kernel_avx2"))
        except ImportError:
            pass
    return mods


kernel = _choose()
# The modes and policies (the same values in every build).
TMode = baseline.TMode
WMode = baseline.WMode
Policy = baseline.Policy


def module_of(acc):
    """The kernel module an accumulator comes from (its Batch type is the
    one it folds)."""
    return sys.modules[type(acc).__module__]
