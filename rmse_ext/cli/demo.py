"""The embedded demonstration: ``python -m rmse_ext`` (or ``rmse-ext demo``).

It builds a synthetic evaluation stream (float32 predictions near float32
targets, the shape of a regression model's validation loop), streams it
through the metric, and sets the result beside an exact reference, beside what
tf.keras's float32 arithmetic would have reported, and beside the time NumPy
needs for the same streaming sum.
"""
import time

import numpy as np

from .. import RootMeanSquaredError, __version__, _backend
from ..reference import Float32RMSE, fsum_rmse


def synthetic_stream(batches=20000, batch_shape=(64, 4), seed=0):
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


def best_time(fn, repeat=5):
    """Best of ``repeat`` wall-clock timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_stream(stream):
    """What a careful NumPy user writes: float64 sums per batch."""
    total = 0.0
    count = 0
    for y_true, y_pred in stream:
        diff = y_pred.astype(np.float64) - y_true
        total += float(np.dot(diff, diff)) if diff.ndim == 1 else float(np.sum(diff * diff))
        count += diff.size
    return np.sqrt(total / count)


def metric_stream(stream):
    m = RootMeanSquaredError(dtype="float64")
    for y_true, y_pred in stream:
        m.update_state(y_true, y_pred)
    return m


def keras_float32_stream(stream):
    m = Float32RMSE()
    for y_true, y_pred in stream:
        m.update_state(y_true, y_pred)
    return m.result()


def ulp_distance(a, b):
    return abs(float(a) - float(b)) / float(np.spacing(abs(float(b)))) if b else abs(a)


def main(batches=20000, out=print):
    kernel = _backend.kernel.__name__.rsplit(".", 1)[-1]
    out(f"rmse_ext {__version__} (kernel: {kernel})")
    out("")
    m = RootMeanSquaredError()
    m.update_state([2, 4, 6], [1, 3, 2])
    out("Seed example  y_true=[2, 4, 6]  y_pred=[1, 3, 2]")
    out(f"  RootMeanSquaredError().result() = {m.result()!s}   (Keras: 2.4494898)")
    m.reset_state()
    m.update_state([2, 4, 6, 8], [1, 3, 2, 3], sample_weight=[0, 1, 0, 1])
    out(f"  with sample_weight=[0, 1, 0, 1] = {m.result()!s}   (Keras: 3.6055512)")
    out("")

    stream = synthetic_stream(batches)
    n = sum(p.size for _, p in stream)
    shape = stream[0][1].shape
    out(f"Synthetic evaluation stream: {len(stream)} batches of {shape} float32 "
        f"= {n:,} predictions")
    streamed = metric_stream(stream)
    ours = float(streamed.result())
    exact = fsum_rmse(stream)
    keras32 = float(keras_float32_stream(stream))
    out(f"  rmse_ext (streamed)         {ours!r}")
    out(f"  exact reference (fsum)      {exact!r}   -> {ulp_distance(ours, exact):.0f} ulp apart")
    out(f"  float32 accumulation, Keras {keras32!r}   -> relative error "
        f"{abs(keras32 - exact) / exact:.1e}")
    t_ours = best_time(lambda: metric_stream(stream))
    t_numpy = best_time(lambda: numpy_stream(stream))
    out(f"  time for the whole stream   rmse_ext {t_ours * 1e3:.1f} ms, NumPy float64 "
        f"loop {t_numpy * 1e3:.1f} ms ({t_numpy / t_ours:.1f}x)")
    if ulp_distance(ours, exact) > 2:
        raise SystemExit("rmse_ext disagrees with the exact reference")
    return 0
