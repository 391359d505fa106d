"""Side-by-side timings in one process, read against the memory-bandwidth
limit.  ``python -m rmse_ext.cli.bench`` or ``rmse-ext bench``; ``--json``
for machine-readable output.

A large update is memory-bound: its floor is the bytes it must read at the
bandwidth ``np.dot`` reaches on the same arrays in the same run (one BLAS
thread for one of ours, as many BLAS threads as ours for ours).  Each large
case prints its floor and its time as a percentage of it (100 % = at the
limit), with a pass mark against the targets; ratios against NumPy's
one-liners follow as secondary columns.  Every figure is a median of
interleaved rounds measured here, now (the machine's load is printed too:
a busy machine gives noise, not numbers).  BLAS threads are controlled with
threadpoolctl when it is installed (else pinned to one, and the two-thread
``np.dot`` row is left out).
"""
from __future__ import annotations

import argparse
import json
import functools
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Callable

import numpy as np

from .. import GroupedRootMeanSquaredError, RootMeanSquaredError, __version__, _backend, _parallel
from ._format import THREADS, Column, Parser, aligned, columns, fmt_seconds

PINNED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# (case, bytes read per element, floor basis, target % of the limit)
LIMIT_TARGETS = {
    "float64 unweighted": 95.0,
    "float64 weighted": 95.0,
    "float32 unweighted": 90.0,
    f"float64 unweighted, num_threads={THREADS}": 90.0,
    f"float32 unweighted, num_threads={THREADS}": 90.0,
}
# issue 21: two threads never slower than one, and at least 90 % of the
# speed-up np.dot's own two BLAS threads reach on the same arrays in the run
NEVER_SLOWER = 1.0
SHARE_OF_DOT = 0.9
THREAD_CASES = ("float64 unweighted", "float32 unweighted", "float64 weighted")


class Blas:
    """Sets the BLAS thread count between timings (threadpoolctl, found
    once: a threadpool_limits() per call would time its library scan)."""

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:
            self.controller = None
        else:
            self.controller = ThreadpoolController().select(user_api="blas")

    @property
    def can_set(self) -> bool:
        return self.controller is not None

    def set(self, threads: int) -> None:
        if self.controller is not None:
            for lib in self.controller.lib_controllers:
                lib.set_num_threads(threads)


def has_threadpoolctl() -> bool:
    try:
        import threadpoolctl  # noqa: F401  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return False
    return True


def median_seconds(fn: Callable[[], Any], repeat: int, number: int = 1) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int,
                blas_for: Callable[[str], int] = lambda name: 1) -> dict[str, float]:
    """Median seconds of each case, the cases taking turns round by round
    (so a slow spell of the machine hits them all alike); BLAS runs
    ``blas_for(name)`` threads in each."""
    blas = Blas()
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for r in range(rounds + 1):   # round 0 warms up: pages, pools, caches
            for name, fn in cases.items():
                blas.set(blas_for(name))
                start = time.perf_counter()
                fn()
                if r:
                    times[name].append(time.perf_counter() - start)
    finally:
        blas.set(1)
    return {name: statistics.median(v) for name, v in times.items()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": _parallel.available_cpus(),
        "kernels": list(_backend.runnable()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rmse_ext": __version__,
        "kernel": _backend.kernel.__name__.rsplit(".", 1)[-1],
        "platform": platform.platform(),
        "load_before": load_average(),
    }


def arrays(n: int, dtype: Any, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype),
            rng.random(n).astype(dtype))


def large_rows(n: int, rounds: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The large cases against the bandwidth floor, the thread speed-ups and
    the NumPy one-liners, all from one interleaved run."""
    t, p, w = arrays(n, np.float64)
    t32, p32, _ = arrays(n, np.float32)
    one = RootMeanSquaredError()
    many = RootMeanSquaredError(num_threads=THREADS)
    two_blas = Blas().can_set and _parallel.available_cpus() >= THREADS
    dot2 = f"np.dot, {THREADS} BLAS threads"

    # ours first, np.dot next, the slow one-liners last: a pool's workers
    # (ours or OpenBLAS's) spin after a job, and the one-liners let them
    # fall asleep before the next round starts
    cases: dict[str, Callable[[], Any]] = {
        "float64 unweighted": lambda: one.update_state(t, p),
        "float64 weighted": lambda: one.update_state(t, p, w),
        "float32 unweighted": lambda: one.update_state(t32, p32),
        f"float64 unweighted, num_threads={THREADS}": lambda: many.update_state(t, p),
        f"float32 unweighted, num_threads={THREADS}": lambda: many.update_state(t32, p32),
        f"float64 weighted, num_threads={THREADS}": lambda: many.update_state(t, p, w),
        "np.dot, 1 BLAS thread": lambda: np.dot(t, p),
    }
    if two_blas:
        cases[dot2] = lambda: np.dot(t, p)
    cases.update({
        "sqrt(mean((p-t)**2))": lambda: np.sqrt(np.mean((p - t) ** 2)),
        "np.average((p-t)**2, weights=w)": lambda: np.average((p - t) ** 2, weights=w),
        "sqrt(mean((p-t)**2)) in float32": lambda: np.sqrt(np.mean((p32 - t32) ** 2)),
    })
    med = interleaved(cases, rounds, lambda name: THREADS if name == dot2 else 1)
    bandwidth = {1: 16 * n / med["np.dot, 1 BLAS thread"]}
    if two_blas:
        bandwidth[THREADS] = 16 * n / med[dot2]
    info = {"n": n, "rounds": rounds,
            "np_dot_seconds": {k: 16 * n / v for k, v in bandwidth.items()},
            "bandwidth_GB_per_s": {k: v / 1e9 for k, v in bandwidth.items()}}
    rows = []
    for case, target in LIMIT_TARGETS.items():
        threads = THREADS if "num_threads" in case else 1
        if threads not in bandwidth:
            continue
        per_element = (24 if "weighted" in case and "un" not in case
                       else 8 if "float32" in case else 16)
        floor = per_element * n / bandwidth[threads]
        ours = med[case]
        rows.append({"section": "limit", "case": f"{n:.0e} {case}",
                     "bytes": per_element * n, "floor": floor, "rmse_ext": ours,
                     "percent_of_limit": 100 * floor / ours, "target": f">= {target:.0f} %",
                     "ok": 100 * floor / ours >= target,
                     "basis": f"np.dot, {threads} BLAS thread{'s' * (threads > 1)}"})
    dot_speedup = med["np.dot, 1 BLAS thread"] / med[dot2] if two_blas else None
    for case in THREAD_CASES:
        rows.append(thread_row("threads", f"{n:.0e} {case}", med[case],
                               med[f"{case}, num_threads={THREADS}"], dot_speedup))
    if two_blas:
        d1, d2 = med["np.dot, 1 BLAS thread"], med[dot2]
        rows.append({"section": "threads", "case": f"{n:.0e} np.dot (reference)",
                     "rmse_ext": d2, "baseline": d1, "speedup": d1 / d2,
                     "target": "-", "ok": None})
    info["dot_speedup"] = dot_speedup
    for case, theirs in (("float64 unweighted", "sqrt(mean((p-t)**2))"),
                         ("float64 weighted", "np.average((p-t)**2, weights=w)"),
                         ("float32 unweighted", "sqrt(mean((p-t)**2)) in float32")):
        rows.append({"section": "numpy", "case": f"{n:.0e} {case} vs {theirs}",
                     "rmse_ext": med[case], "baseline": med[theirs],
                     "speedup": med[theirs] / med[case]})
    return info, rows


def thread_row(section: str, case: str, single: float, multi: float,
               dot_speedup: float | None) -> dict[str, Any]:
    """A num_threads=2 row: never slower than one thread, and (where the
    run has np.dot's two-thread speed-up) at least SHARE_OF_DOT of it."""
    speedup = single / multi
    ok = speedup >= NEVER_SLOWER
    target = f">= {NEVER_SLOWER:g}x"
    if dot_speedup is not None:
        ok = ok and speedup >= SHARE_OF_DOT * dot_speedup
        target += f", >= {SHARE_OF_DOT * dot_speedup:.2f}x"
    return {"section": section, "case": case, "rmse_ext": multi, "baseline": single,
            "speedup": speedup, "target": target, "ok": ok}


def interval_rows(n: int, repeat: int, dot_speedup: float | None = None) -> list[dict[str, Any]]:
    """Issue 14's rows: the "normal" interval next to the plain update,
    nan_policy='omit' on data without NaN next to 'propagate', and the
    bootstrap's throughput in element-replicates per second."""
    t, p, w = arrays(n, np.float64)
    plain, normal = RootMeanSquaredError(), RootMeanSquaredError(interval="normal")
    omit = RootMeanSquaredError(nan_policy="omit")
    normal2 = RootMeanSquaredError(interval="normal", num_threads=THREADS)
    med = interleaved({"normal": lambda: normal.update_state(t, p),
                       "normal, 2 threads": lambda: normal2.update_state(t, p),
                       "plain": lambda: plain.update_state(t, p),
                       "omit": lambda: omit.update_state(t, p),
                       "normal weighted": lambda: normal.update_state(t, p, w),
                       "plain weighted": lambda: plain.update_state(t, p, w)}, repeat)
    rows: list[dict[str, Any]] = []
    for weighted in ("", " weighted"):
        ratio = med["plain" + weighted] / med["normal" + weighted]
        rows.append({"section": "intervals",
                     "case": f"{n:.0e} float64{weighted} interval='normal' vs plain update",
                     "rmse_ext": med["normal" + weighted], "baseline": med["plain" + weighted],
                     "speedup": ratio, "target": "<= 1.3x plain", "ok": ratio >= 1 / 1.3})
    rows.append(thread_row("intervals", f"{n:.0e} float64 interval='normal', "
                           f"num_threads={THREADS} vs 1 thread", med["normal"],
                           med["normal, 2 threads"], dot_speedup))
    ratio = med["plain"] / med["omit"]
    rows.append({"section": "intervals",
                 "case": f"{n:.0e} float64 nan_policy='omit' (no NaN) vs 'propagate'",
                 "rmse_ext": med["omit"], "baseline": med["plain"], "speedup": ratio,
                 "target": "<= 1.15x propagate", "ok": ratio >= 1 / 1.15})
    m = min(n, 200_000)
    boot = RootMeanSquaredError(interval="bootstrap", n_boot=200)
    seconds = median_seconds(lambda: boot.update_state(t[:m], p[:m]), max(3, repeat // 3))
    rate = m * 200 / seconds
    rows.append({"section": "intervals",
                 "case": f"bootstrap B=200, {m:.0e} float64, 1 thread ({rate / 1e6:.0f}M "
                         f"element-replicates/s)",
                 "rmse_ext": seconds, "baseline": m * 200 / 50e6, "speedup": rate / 50e6,
                 "target": ">= 50M/s", "ok": rate >= 50e6})
    return rows


def small_rows(repeat: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for dtype in (np.float32, np.float64):
        t, p, _ = arrays(32, dtype)
        m = RootMeanSquaredError()

        def numpy_loop(state: list[float] = [0.0, 0]) -> None:
            d = p - t
            state[0] += float(np.dot(d, d))
            state[1] += d.size

        ours = median_seconds(lambda: m.update_state(t, p), repeat, 2000)
        rows.append({"section": "small",
                     "case": f"update_state, batch of 32 {np.dtype(dtype).name} "
                             f"vs NumPy loop body",
                     "rmse_ext": ours, "baseline": median_seconds(numpy_loop, repeat, 2000),
                     "target": "<= 1 us", "ok": ours <= 1e-6})
    t, p, _ = arrays(32, np.float32)
    d = p - t
    loop_body = median_seconds(lambda: float(np.dot(p - t, p - t)), repeat, 2000)
    for case, metric, call in (
            ("__call__", RootMeanSquaredError(), "call"),
            ("update_state under nan_policy='omit'",
             RootMeanSquaredError(nan_policy="omit"), "update")):
        fn = metric if call == "call" else metric.update_state
        ours = median_seconds(lambda: fn(t, p), repeat, 2000)
        rows.append({"section": "small",
                     "case": f"{case}, batch of 32 float32 vs NumPy loop body",
                     "rmse_ext": ours, "baseline": loop_body,
                     "target": "<= 0.6 us", "ok": ours <= 0.6e-6})
    m = RootMeanSquaredError()
    m.update_state([1.0, 2.0], [2.0, 4.0])
    ours = median_seconds(m.result, repeat, 5000)
    rows.append({"section": "small", "case": "result() vs np.sqrt(total / count)",
                 "rmse_ext": ours,
                 "baseline": median_seconds(lambda: np.sqrt(np.float64(5.0) / 2.0), repeat, 5000),
                 "target": "<= 0.2 us", "ok": ours <= 0.2e-6})
    g = GroupedRootMeanSquaredError()
    g.update_state(np.zeros(100), np.ones(100), np.arange(100) % 10)
    ours = median_seconds(g.overall, repeat, 5000)
    rows.append({"section": "small", "case": "grouped overall() (10 keys) vs np.sqrt(d @ d / n)",
                 "rmse_ext": ours,
                 "baseline": median_seconds(lambda: np.sqrt(float(d @ d) / 32), repeat, 5000),
                 "target": "<= 1 us", "ok": ours <= 1e-6})
    for row in rows:
        row["speedup"] = row["baseline"] / row["rmse_ext"]
    return rows


def memory_rows(n: int) -> list[dict[str, Any]]:
    """Peak traced bytes of one update beyond its inputs, in bytes."""
    rows = []
    t, p, w = arrays(n, np.float64)
    for weighted in (False, True):
        m = RootMeanSquaredError()
        args = (t, p, w) if weighted else (t, p)
        m.update_state(*args)
        tracemalloc.start()
        m.update_state(*args)
        ours = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        if weighted:
            np.average((p - t) ** 2, weights=w)
        else:
            np.sqrt(np.mean((p - t) ** 2))
        theirs = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"section": "memory",
                     "case": f"peak traced memory, {n:.0e} float64 "
                             f"{'weighted' if weighted else 'unweighted'}",
                     "rmse_ext_bytes": ours, "baseline_bytes": theirs,
                     "target": "<= 65536 B", "ok": ours <= 65536})
    return rows


def foreign_rows(n: int, repeat: int) -> list[dict[str, Any]]:
    """tf.keras and torchmetrics, only when installed."""
    rows = []
    t, p, _ = arrays(n, np.float32)
    ours = median_seconds(lambda: RootMeanSquaredError().update_state(t, p), repeat)
    try:
        import torch
        import torchmetrics  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        tt, pt = torch.from_numpy(t), torch.from_numpy(p)
        tm = torchmetrics.MeanSquaredError(squared=False)
        theirs = median_seconds(lambda: tm.update(pt, tt), repeat)
        rows.append({"section": "numpy",
                     "case": f"{n:.0e} float32 vs torchmetrics.MeanSquaredError(squared=False)",
                     "rmse_ext": ours, "baseline": theirs, "speedup": theirs / ours})
    try:
        import tensorflow as tf  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        pass
    else:
        km = tf.keras.metrics.RootMeanSquaredError()
        theirs = median_seconds(lambda: km.update_state(t, p), repeat)
        rows.append({"section": "numpy",
                     "case": f"{n:.0e} float32 vs tf.keras.metrics.RootMeanSquaredError",
                     "rmse_ext": ours, "baseline": theirs, "speedup": theirs / ours})
    return rows


# (case label, baseline) -> (target text, the least ratio = baseline time / ours)
GROUPED_TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("1e3 random", "ungrouped"): ("<= 4x ungrouped", 0.25),
    ("1e3 random", "bincount"): (">= 2.5x", 2.5),
    ("1e3 random", "pandas"): (">= 7x", 7.0),
    ("1e3 random", "polars"): (">= 7x", 7.0),
    ("1e6 random", "bincount"): (">= 1x", 1.0),
    ("1e6 random", "pandas"): (">= 8x", 8.0),
    ("1e6 random", "polars"): (">= 8x", 8.0),
    ("sorted", "ungrouped"): ("<= 1.5x ungrouped", 1 / 1.5),
    ("1e4 string", "pandas"): (">= 3x", 3.0),
}


def grouped_rows(n: int, rounds: int, dot_speedup: float | None = None) -> list[dict[str, Any]]:
    """GroupedRootMeanSquaredError (docs/grouped.md), one thread, next to
    the ungrouped update, the numpy.bincount recipe (uncompensated), pandas
    ``groupby().mean() ** 0.5`` and polars ``group_by().agg()`` (one thread:
    POLARS_MAX_THREADS=1 is set before polars loads) where installed."""
    from .. import GroupedRootMeanSquaredError
    pd, pl = frame_libraries()
    rng = np.random.default_rng(1)
    t, p, _ = arrays(n, np.float64)
    plain = RootMeanSquaredError()
    names = np.array([f"series-{i:05d}" for i in range(10_000)], dtype=object)
    layouts = [(rng.integers(0, 1000, size=n), "1e3 random int keys"),
               (rng.integers(0, 1_000_000, size=n), "1e6 random int keys"),
               (np.sort(rng.integers(0, 1000, size=n)), "1e3 int keys, sorted (runs)"),
               (names[rng.integers(0, 10_000, size=n)], "1e4 string keys (object array)")]
    rows: list[dict[str, Any]] = []
    for keys, label in layouts:
        metric = GroupedRootMeanSquaredError()
        cases: dict[str, Callable[[], Any]] = {
            "ours": lambda: metric.update_state(t, p, keys),
            "ungrouped": lambda: plain.update_state(t, p)}
        if label.startswith("1e3 random"):
            metric2 = GroupedRootMeanSquaredError(num_threads=THREADS)
            cases["2 threads"] = lambda: metric2.update_state(t, p, keys)
        if keys.dtype.kind in "iu":
            size = int(keys.max()) + 1
            def bincount() -> Any:
                with np.errstate(invalid="ignore"):     # 0 / 0 for keys that never occur
                    return np.sqrt(np.bincount(keys, (p - t) ** 2, minlength=size)
                                   / np.bincount(keys, minlength=size))
            cases["bincount"] = bincount
        if pd is not None:
            cases["pandas"] = lambda: pd.Series((p - t) ** 2).groupby(keys).mean() ** 0.5
        if pl is not None:
            frame = pl.DataFrame({"k": keys, "t": t, "p": p})
            cases["polars"] = lambda: frame.group_by("k").agg(
                ((pl.col("p") - pl.col("t")) ** 2).mean().sqrt())
        med = interleaved(cases, rounds)
        if "2 threads" in med:
            rows.append(thread_row("grouped", f"{n:.0e} float64, {label}, "
                                   f"num_threads={THREADS} vs 1 thread", med["ours"],
                                   med["2 threads"], dot_speedup))
        rows += ratio_rows("grouped", f"{n:.0e} float64, {label}",
                           {k: v for k, v in med.items() if k != "2 threads"}, GROUPED_TARGETS)
    keys = layouts[0][0]                   # issue 21 part 5: the per-key "normal" interval
    plain_g, normal_g = GroupedRootMeanSquaredError(), GroupedRootMeanSquaredError(
        interval="normal")
    med = interleaved({"normal": lambda: normal_g.update_state(t, p, keys),
                       "plain": lambda: plain_g.update_state(t, p, keys)}, rounds)
    ratio = med["plain"] / med["normal"]
    rows.append({"section": "grouped",
                 "case": f"{n:.0e} float64, 1e3 random int keys, interval='normal' vs plain",
                 "rmse_ext": med["normal"], "baseline": med["plain"], "speedup": ratio,
                 "target": "<= 1.5x plain", "ok": ratio >= 1 / 1.5})
    return rows


def compare_rows(n: int, rounds: int) -> list[dict[str, Any]]:
    """Issue 20: multioutput='raw_values' on an (n/8, 8) float64 batch
    against the pooled update (target <= 1.5x its time), and one
    ``evaluate`` of three prediction columns on n/2 rows by 10^4 string keys
    against three single-model calls (target <= 0.6x their time).  The
    frame is pandas where installed, else a dict of arrays (pandas is optional)."""
    from .. import evaluate
    pd, _ = frame_libraries()
    rng = np.random.default_rng(2)
    t, p = rng.normal(size=(n // 8, 8)), rng.normal(size=(n // 8, 8))
    cases: dict[str, Callable[[], Any]] = {
        "raw_values": lambda: RootMeanSquaredError(multioutput="raw_values").update_state(t, p),
        "pooled": lambda: RootMeanSquaredError().update_state(t, p)}
    med = interleaved(cases, rounds)
    rows = [{"section": "compare", "case": f"multioutput='raw_values', ({n // 8:.0e}, 8) float64 "
             f"vs the pooled update", "rmse_ext": med["raw_values"], "baseline": med["pooled"],
             "speedup": med["pooled"] / med["raw_values"], "target": "<= 1.5x pooled",
             "ok": med["raw_values"] <= 1.5 * med["pooled"]}]
    del t, p
    m = n // 2
    names = np.array([f"store-{i:05d}" for i in range(10_000)], dtype=object)
    y = rng.normal(size=m)
    columns = {"key": names[rng.integers(0, 10_000, m)], "y": y,
               **{c: y + rng.normal(size=m) for c in "abc"}}
    frame: Any = columns if pd is None else pd.DataFrame(columns)
    cases = {"one": lambda: evaluate(frame, "y", ["a", "b", "c"], by="key"),
             "three": lambda: [evaluate(frame, "y", c, by="key") for c in "abc"]}
    med = interleaved(cases, min(rounds, 3))
    rows.append({"section": "compare", "case": f"evaluate, 3 prediction columns, {m:.0e} rows "
                 f"x 1e4 string keys vs 3 calls", "rmse_ext": med["one"],
                 "baseline": med["three"], "speedup": med["three"] / med["one"],
                 "target": "<= 0.6x 3 calls", "ok": med["one"] <= 0.6 * med["three"]})
    return rows


def ratio_rows(section: str, case: str, med: dict[str, float],
               targets: dict[tuple[str, str], tuple[str, float]]) -> list[dict[str, Any]]:
    """One row per baseline of ``med`` (median seconds, ``'ours'`` among
    them): the ratio baseline / ours, against the target whose case label
    occurs in ``case``."""
    rows = []
    for name in med:
        if name == "ours":
            continue
        target, least = next((v for (a, b), v in targets.items()
                              if a in case and b == name), ("-", None))
        ratio = med[name] / med["ours"]
        rows.append({"section": section, "case": f"{case} vs {name}",
                     "rmse_ext": med["ours"], "baseline": med[name], "speedup": ratio,
                     "target": target, "ok": None if least is None else ratio >= least})
    return rows


def frame_libraries() -> tuple[Any, Any]:
    """pandas and polars, None where not installed (polars on one thread:
    POLARS_MAX_THREADS=1 is set before it loads)."""
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    try:
        import pandas as pd
    except ImportError:
        pd = None
    try:
        import polars as pl
    except ImportError:
        pl = None
    return pd, pl


TABLES: list[tuple[str, str, list[Column]]] = [
    ("limit", "Large updates against the memory-bandwidth limit (floor = bytes read / "
              "np.dot's bandwidth; 100 % = at the limit)",
     columns("case", "reads", "floor", "rmse_ext", "% of limit", "target", "")),
    ("threads", f"Threads: num_threads={THREADS} against 1",
     columns("case", "1 thread", f"{THREADS} threads", "speed-up", "target", "")),
    ("intervals", "Intervals (ratio = the baseline's time / ours)",
     columns("long case", "rmse_ext", "baseline", "ratio", "target", "")),
    ("small", "Small calls (baseline: the NumPy equivalent)",
     columns("long case", "rmse_ext", "baseline", "ratio", "target", "")),
    ("memory", "Memory beyond the inputs (tracemalloc peak of one update)",
     columns("long case", "bytes", "NumPy bytes", "target", "")),
    ("grouped", "Grouped (docs/grouped.md), one thread (ratio = the baseline's time / ours)",
     columns("long case", "rmse_ext", "baseline", "ratio", "target", "")),
    ("compare", "Models and outputs (issue 20; ratio = the baseline's time / ours)",
     columns("long case", "rmse_ext", "baseline", "ratio", "target", "")),
    ("rolling", "Rolling (docs/windows.md), one thread (ratio = the baseline's time / ours; "
                "streaming rows: baseline the plain metric)",
     columns("long case", "rmse_ext", "baseline", "ratio", "target", "")),
    ("numpy", "Secondary: against NumPy one-liners (ratio = their time / ours)",
     columns("long case", "rmse_ext", "baseline", "ratio")),
]


def header(info: dict[str, Any]) -> str:
    """The lines printed before anything is timed (the load average now)."""
    return "\n".join([
        "rmse_ext benchmark: medians of interleaved rounds in one process",
        "machine: {cpu}, {cores} CPUs usable, kernels {kernels}, Python {python}, "
        "NumPy {numpy}, rmse_ext {rmse_ext} ({kernel})".format(
            **{**info, "kernels": "+".join(info["kernels"])}),
        f"load average before: {info.get('load_before')} (1, 5, 15 min; "
        f"above ~0.5 the numbers are noise)"])


def dot_line(big: dict[str, Any]) -> str:
    return "np.dot on the float64 pairs: " + ", ".join(
        f"{k} BLAS thread{'s' * (k > 1)} {fmt_seconds(big['np_dot_seconds'][k])} "
        f"= {big['bandwidth_GB_per_s'][k]:.1f} GB/s" for k in sorted(big["np_dot_seconds"]))


def tables(rows: list[dict[str, Any]]) -> str:
    """The tables of the sections ``rows`` hold, in TABLES order."""
    lines: list[str] = []
    for section, title, cols in TABLES:
        mine = [r for r in rows if r["section"] == section]
        if not mine:
            continue
        widths = [w for _, w, _ in cols]
        lines += ["", title, aligned([head for head, _, _ in cols], widths)]
        lines += [aligned([cell(r) for _, _, cell in cols], widths) for r in mine]
    return "\n".join(lines)


def format_table(info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The whole report at once (what main() prints section by section)."""
    return "\n".join([header(info), dot_line(info["large"]), tables(rows),
                      f"\nload average after: {info.get('load_after')}"])


def size_argument(text: str) -> int:
    """``--size``: a positive whole number, written 10000000, 10_000_000 or 1e7."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not (value.is_integer() and 1 <= value <= 2**62):
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number such as 1000000 or 1e6; got {text!r}")
    return int(value)


# (case label, baseline) -> (target text, the least ratio = baseline time / ours)
ROLLING_TARGETS: dict[tuple[str, str], tuple[str, float]] = {
    ("window 1000", "polars"): (">= 1.5x", 1.5), ("window 1000", "pandas"): (">= 5x", 5.0),
    ("per series", "polars"): (">= 1.5x", 1.5), ("per series", "pandas"): (">= 5x", 5.0),
    ("1h window", "polars"): (">= 1.5x", 1.5), ("1h window", "pandas"): (">= 5x", 5.0),
}


def rolling_rows(n: int, rounds: int) -> list[dict[str, Any]]:
    """Issue 19 (docs/windows.md): rmse_ext.rolling_root_mean_squared_error
    next to polars' and pandas' rolling means (one thread; they subtract, so
    they are not exact), and the streaming class's per-call cost; river's
    rolling RMSE where installed (a few 10**4 samples: it is per sample in
    Python)."""
    from .. import RollingRootMeanSquaredError, rolling_root_mean_squared_error
    pd, pl = frame_libraries()
    rng = np.random.default_rng(19)
    t, p, _ = arrays(n, np.float64)
    series = min(10_000, max(n // 1000, 1))       # 10**4 at the 10**7 rows
    keys = rng.integers(0, series, size=n)
    ts = np.datetime64("2026-01-01T00:00:00", "ns") + np.arange(n).astype("timedelta64[s]")
    layouts = [
        ("window 1000", lambda: rolling_root_mean_squared_error(
            t, p, window=1000, nan_policy="propagate"),
         lambda f: f.select(((pl.col("p") - pl.col("t")) ** 2).rolling_mean(1000).sqrt()),
         lambda s, f: np.sqrt(s.rolling(1000).mean())),
        (f"per series ({series:.0e} interleaved, window 100)",
         lambda: rolling_root_mean_squared_error(t, p, window=100, groups=keys,
                                                 nan_policy="propagate"),
         lambda f: f.select(((pl.col("p") - pl.col("t")) ** 2).rolling_mean(100).sqrt()
                            .over("k")),
         lambda s, f: np.sqrt(s.groupby(keys).rolling(100).mean())),
        ("1h window over 1 s rows", lambda: rolling_root_mean_squared_error(
            t, p, window="1h", time=ts, nan_policy="propagate"),
         lambda f: f.select(((pl.col("p") - pl.col("t")) ** 2).rolling_mean_by("ts", "1h")
                            .sqrt()),
         lambda s, f: np.sqrt(s.set_axis(ts).rolling("1h").mean())),
    ]
    frame = None if pl is None else pl.DataFrame({"t": t, "p": p, "k": keys, "ts": ts})
    squares = None if pd is None else pd.Series((p - t) ** 2)
    rows: list[dict[str, Any]] = []
    for label, ours, polars_case, pandas_case in layouts:
        cases: dict[str, Callable[[], Any]] = {"ours": ours}
        if frame is not None:
            cases["polars"] = functools.partial(polars_case, frame)
        if squares is not None:
            cases["pandas"] = functools.partial(pandas_case, squares, None)
        if label == "window 1000":    # the floor, in the same rounds: NumPy's t + p reads
            cases["floor"] = functools.partial(np.add, t, p)   # both and writes a new array
        med = interleaved(cases, rounds)
        floor = med.pop("floor", None)
        rows += ratio_rows("rolling", f"{n:.0e} float64, {label}", med, ROLLING_TARGETS)
        if floor is not None:
            rows.append({"section": "rolling",
                         "case": f"{n:.0e} float64, {label}: floor (NumPy's t + p)",
                         "rmse_ext": med["ours"], "baseline": floor,
                         "speedup": floor / med["ours"], "target": "-", "ok": None})
    m = RollingRootMeanSquaredError(1000, dtype="float64")
    plain = RootMeanSquaredError(dtype="float64")
    bt, bp = np.zeros(32), rng.normal(size=32)
    for _ in range(40):
        m.update_state(bt, bp)
    update = median_seconds(lambda: m.update_state(bt, bp), rounds, 2000)
    update_plain = median_seconds(lambda: plain.update_state(bt, bp), rounds, 2000)
    result = median_seconds(m.result, rounds, 20000)
    result_plain = median_seconds(plain.result, rounds, 20000)
    rows.append({"section": "rolling", "case": "update_state, 32 samples, window 1000",
                 "rmse_ext": update, "baseline": update_plain, "speedup": update_plain / update,
                 "target": "<= 1 us", "ok": update <= 1e-6})
    rows.append({"section": "rolling", "case": "result(), window 1000", "rmse_ext": result,
                 "baseline": result_plain, "speedup": result_plain / result,
                 "target": "<= 0.2 us", "ok": result <= 0.2e-6})
    try:
        from river import metrics, utils  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return rows
    k = min(n, 20_000)
    def river_case() -> Any:
        try:                          # river 0.26 takes the class (an instance is deprecated)
            metric = utils.Rolling(metrics.RMSE, window_size=1000)
        except TypeError:
            metric = utils.Rolling(metrics.RMSE(), window_size=1000)
        for a, b in zip(t[:k].tolist(), p[:k].tolist()):
            metric.update(a, b)
            metric.get()
    med = interleaved({"ours": lambda: rolling_root_mean_squared_error(
        t[:k], p[:k], window=1000, nan_policy="propagate"), "river": river_case}, 3)
    rows.append({"section": "rolling", "case": f"{k:.0e} float64, window 1000 vs river",
                 "rmse_ext": med["ours"], "baseline": med["river"],
                 "speedup": med["river"] / med["ours"], "target": "-", "ok": None})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="rmse-ext bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--size", type=size_argument, default=10_000_000,
                        help="elements in the large-array cases (default 1e7)")
    parser.add_argument("--repeat", type=int, default=21,
                        help="interleaved rounds per median (default 21)")
    parser.add_argument("--grouped", action="store_true",
                        help="only the grouped cases (docs/grouped.md)")
    parser.add_argument("--compare", action="store_true",
                        help="only the issue-20 cases: multioutput and several models")
    parser.add_argument("--rolling", action="store_true",
                        help="only the rolling cases (docs/windows.md)")
    parser.add_argument("--spark", action="store_true",
                        help="only rmse_ext.spark against Spark's RegressionEvaluator "
                             "(local[2], a cached DataFrame of --size rows, at most 5 rounds)")
    args = parser.parse_args(argv)
    blas = str(_parallel.available_cpus()) if has_threadpoolctl() else "1"
    if any(os.environ.get(var) != blas for var in PINNED):
        env = dict(os.environ, **{var: blas for var in PINNED})
        cmd = [sys.executable, "-m", "rmse_ext.cli.bench",
               *(sys.argv[1:] if argv is None else argv)]
        return subprocess.run(cmd, env=env).returncode
    info = machine()
    if args.spark:
        from .spark_bench import spark_rows, spark_table
        rows = spark_rows(args.size, min(args.repeat, 5))
        info["load_after"] = load_average()
        print(json.dumps({"machine": info, "rows": rows}, indent=2) if args.json
              else spark_table(info, rows))
        return 0

    def show(text: str) -> None:
        """Each section as soon as it is measured (--json: all at the end)."""
        if text and not args.json:
            print(text, flush=True)

    show(header(info))
    only = args.grouped or args.compare or args.rolling
    info["large"], rows = large_rows(args.size, max(3, args.repeat // 4) if only
                                     else args.repeat)
    dot_speedup = info["large"].get("dot_speedup")
    if only:
        rows = [r for r in rows if r["section"] == "limit"]
    show(dot_line(info["large"]) + tables([r for r in rows if r["section"] != "numpy"]))
    stages: list[Callable[[], list[dict[str, Any]]]] = []
    if not only:
        stages += [lambda: interval_rows(args.size, args.repeat, dot_speedup),
                   lambda: small_rows(args.repeat),
                   lambda: memory_rows(args.size),
                   lambda: foreign_rows(args.size, args.repeat)]
    if args.grouped or not only:
        stages.append(lambda: grouped_rows(args.size, args.repeat, dot_speedup))
    if args.compare or not only:
        stages.append(lambda: compare_rows(args.size, args.repeat))
    if args.rolling or not only:
        stages.append(lambda: rolling_rows(args.size, min(args.repeat, 5)))
    for stage in stages:
        more = stage()
        rows += more
        show(tables([r for r in more if r["section"] != "numpy"]))
    show(tables([r for r in rows if r["section"] == "numpy"]))
    info["load_after"] = load_average()
    show(f"\nload average after: {info['load_after']}")
    if args.json:
        print(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":     # through rmse-ext's main: its exit codes and one-line errors
    from . import main as cli_main
    sys.exit(cli_main(["bench", *sys.argv[1:]]))
