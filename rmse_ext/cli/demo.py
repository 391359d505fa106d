"""The embedded demonstration: ``python -m rmse_ext`` (or ``rmse-ext demo``).

First Keras's documented examples, each with the data it is computed on:
the metric's result beside the exact rational value
(``rmse_ext.reference.ExactRMSE``).  Then a synthetic evaluation stream
(float32 predictions near float32 targets, the shape of a regression model's
validation loop) streamed through the metric, beside a reference
(``fsum_rmse``: error-free parts summed by ``math.fsum``, within one ulp of
exact), beside a simulation of tf.keras's float32 arithmetic
(``Float32RMSE``: float32 inputs, sums and count, in NumPy), and beside the
time a float64 NumPy loop needs for the same stream.  Every number printed is computed by this run.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .. import RootMeanSquaredError, __version__, _backend
from .. import reference
from ._format import fmt_seconds

#: Keras's documented examples (docs/semantics.md, section 7)
EXAMPLES: list[tuple[list[int], list[int], list[int] | None]] = [
            ([2, 4, 6], [1, 3, 2], None),
            ([2, 4, 6, 8], [1, 3, 2, 3], [0, 1, 0, 1])]


Stream = list[tuple[np.ndarray, np.ndarray]]


def synthetic_stream(batches: int = 20000, batch_shape: tuple[int, ...] = (64, 4),
                     seed: int = 0) -> Stream:
    """(y_true, y_pred) float32 batches: targets of size ~100 and errors of
    size ~1e-2, with a few batches of larger errors."""
    rng = np.random.default_rng(seed)
    stream = []
    for i in range(batches):
        y_true = rng.normal(100.0, 10.0, batch_shape).astype(np.float32)
        scale = 0.5 if i % 5000 == 4999 else 0.01
        y_pred = (y_true + rng.normal(0.0, scale, batch_shape)).astype(np.float32)
        stream.append((y_true, y_pred))
    return stream


MIN_COMPARED = 1e-3   # seconds: shorter stream timings get no ratio


def best_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best of ``repeat`` wall-clock timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_stream(stream: Stream) -> float:
    """What a careful NumPy user writes: float64 sums per batch."""
    total = 0.0
    count = 0
    for y_true, y_pred in stream:
        diff = y_pred.astype(np.float64) - y_true
        total += float(np.dot(diff, diff)) if diff.ndim == 1 else float(np.sum(diff * diff))
        count += diff.size
    return float(np.sqrt(total / count))


def metric_stream(stream: Stream) -> RootMeanSquaredError:
    m = RootMeanSquaredError(dtype="float64")
    for y_true, y_pred in stream:
        m.update_state(y_true, y_pred)
    return m


def keras_float32_stream(stream: Stream) -> float:
    m: Any = reference.Float32RMSE()
    for y_true, y_pred in stream:
        m.update_state(y_true, y_pred)
    return float(m.result())


def ulp_distance(a: float, b: float) -> float:
    return abs(a - b) / float(np.spacing(abs(b))) if b else abs(a)


def main(batches: int = 20000, out: Callable[[str], object] = print) -> int:
    kernel = _backend.kernel.__name__.rsplit(".", 1)[-1]
    out(f"rmse_ext {__version__} (kernel: {kernel})")
    out("")
    out("Keras's documented examples: RootMeanSquaredError() (float32 result) and the")
    out("exact rational value (rmse_ext.reference.ExactRMSE), both computed now")
    for y_true, y_pred, weights in EXAMPLES:
        m, exact_metric = RootMeanSquaredError(), reference.ExactRMSE()
        m.update_state(y_true, y_pred, sample_weight=weights)
        exact_metric.update_state(y_true, y_pred, sample_weight=weights)
        data = f"y_true={y_true}  y_pred={y_pred}"
        if weights is not None:
            data += f"  sample_weight={weights}"
        out(f"  {data}")
        out(f"    rmse_ext {m.result()!s}   exact {exact_metric.result()!r}")
    out("")

    stream = synthetic_stream(batches)
    n = sum(p.size for _, p in stream)
    shape = stream[0][1].shape
    out(f"Synthetic evaluation stream: {len(stream)} batches of {shape} float32 "
        f"= {n:,} predictions")
    streamed = metric_stream(stream)
    ours = float(streamed.result())
    exact: float = reference.fsum_rmse(stream)
    keras32 = keras_float32_stream(stream)
    out(f"  rmse_ext, streamed (float64 result)        {ours!r}")
    out(f"  reference: error-free parts, math.fsum     {exact!r}   -> "
        f"{ulp_distance(ours, exact):.0f} ulp apart")
    out(f"  tf.keras's float32 arithmetic, simulated   {keras32!r}   -> relative error "
        f"{abs(keras32 - exact) / exact:.1e}")
    out("    (float32 inputs, sums and count, in NumPy: rmse_ext.reference.Float32RMSE)")
    t_ours = best_time(lambda: metric_stream(stream))
    t_numpy = best_time(lambda: numpy_stream(stream))
    timing = (f"  time for the whole stream (best of 5)      rmse_ext {fmt_seconds(t_ours)}, "
              f"NumPy float64 loop {fmt_seconds(t_numpy)}")
    if t_ours >= MIN_COMPARED:
        timing += f" ({t_numpy / t_ours:.1f}x)"
    else:   # a ratio of two timer-resolution figures says nothing
        timing += " (too short a run to compare: try more --batches)"
    out(timing)
    if ulp_distance(ours, exact) > 2:
        raise SystemExit("rmse_ext disagrees with the exact reference")
    return 0
