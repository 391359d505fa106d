"""Choose the compiled kernel once, at import.

``RMSE_EXT_KERNEL`` = ``auto`` (default) | ``baseline`` | ``avx2`` overrides the
choice; ``avx2`` on a CPU without AVX2+FMA falls back to ``baseline``.
"""
import os

from . import _kernel as baseline


def _choose():
    wanted = os.environ.get("RMSE_EXT_KERNEL", "auto").strip().lower()
    if wanted not in {"auto", "baseline", "avx2"}:
        raise ImportError(
            f"RMSE_EXT_KERNEL={wanted!r}: expected 'auto', 'baseline' or 'avx2'"
        )
    if wanted != "baseline" and baseline.cpu_has_avx2_fma():
        try:
            from . import _kernel_avx2
        except ImportError:  # a build without the optional AVX2 kernel
            return baseline
        return _kernel_avx2
    return baseline


def available():
    """Every kernel module this machine can run, baseline first (for tests)."""
    mods = [baseline]
    if baseline.cpu_has_avx2_fma():
        try:
            from . import _kernel_avx2
        except ImportError:
            pass
        else:
            mods.append(_kernel_avx2)
    return mods


kernel = _choose()
T_FULL = int(baseline.TMode.T_FULL)
T_ROW = int(baseline.TMode.T_ROW)
W_NONE = int(baseline.WMode.W_NONE)
W_SCALAR = int(baseline.WMode.W_SCALAR)
W_FULL = int(baseline.WMode.W_FULL)
W_ROW = int(baseline.WMode.W_ROW)
W_COL = int(baseline.WMode.W_COL)
