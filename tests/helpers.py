"""Shared test helpers: ulp distances and state snapshots."""
import numpy as np


def ulps(a, b):
    """Distance between two float64 values in units in the last place of b."""
    a, b = float(a), float(b)
    if a == b:
        return 0.0
    return abs(a - b) / np.spacing(abs(b)) if b != 0 else float("inf")


def snapshot(metric):
    """Everything the metric's state holds, bit for bit."""
    return tuple(np.float64(x).tobytes() if isinstance(x, float) else x
                 for x in metric._acc.get_raw())


def traced_peak(call, *args, **kwargs):
    """The peak of memory traced by tracemalloc while ``call(*args, **kwargs)`` runs."""
    import tracemalloc
    tracemalloc.start()
    try:
        call(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
