"""Side-by-side timings in one process: rmse_ext against NumPy (and tf.keras /
torchmetrics when they happen to be installed).  ``python -m rmse_ext.cli.bench``
or ``rmse-ext bench``; ``--json`` for machine-readable output.

Every figure is a median of repeated runs measured here, now; each ratio
compares two medians taken in the same process.  BLAS threads are pinned to
one (the script re-runs itself with OPENBLAS_NUM_THREADS=1 and friends).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from .. import RootMeanSquaredError, __version__, _backend

PINNED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def median_seconds(fn, repeat, number=1):
    """Median over ``repeat`` runs of the mean time of ``number`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine():
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rmse_ext": __version__,
        "kernel": _backend.kernel.__name__.rsplit(".", 1)[-1],
        "platform": platform.platform(),
    }


def arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype),
            rng.random(n).astype(dtype))


def row(name, ours, theirs, target, better="lower"):
    """One comparison: ``ours``/``theirs`` in seconds (or bytes)."""
    ratio = theirs / ours if ours else float("inf")
    return {"case": name, "rmse_ext": ours, "baseline": theirs,
            "speedup": ratio, "target": target}


def big_array_rows(n, repeat):
    rows = []
    t, p, w = arrays(n, np.float64)
    m = RootMeanSquaredError()
    ours = median_seconds(lambda: m.update_state(t, p), repeat)
    dot = median_seconds(lambda: np.dot(t, p), repeat)
    rows.append(row(f"{n:.0e} float64 unweighted vs np.dot(t, p) (bandwidth floor)",
                    ours, dot, "rmse_ext <= 1.2x np.dot time (speedup >= 0.83)"))
    rows.append(row(f"{n:.0e} float64 unweighted vs sqrt(mean((p-t)**2))",
                    ours, median_seconds(lambda: np.sqrt(np.mean((p - t) ** 2)), repeat),
                    "-"))
    ours_w = median_seconds(lambda: m.update_state(t, p, w), repeat)
    rows.append(row(f"{n:.0e} float64 weighted vs np.average((p-t)**2, weights=w)",
                    ours_w,
                    median_seconds(lambda: np.average((p - t) ** 2, weights=w), repeat),
                    ">= 5x"))
    t32, p32, _ = arrays(n, np.float32)
    rows.append(row(f"{n:.0e} float32 unweighted vs sqrt(mean((p-t)**2)) in float32",
                    median_seconds(lambda: m.update_state(t32, p32), repeat),
                    median_seconds(lambda: np.sqrt(np.mean((p32 - t32) ** 2)), repeat),
                    ">= 4x"))
    if "num_threads" in RootMeanSquaredError.__init__.__code__.co_varnames:
        m2 = RootMeanSquaredError(num_threads=2)
        rows.append(row(f"{n:.0e} float64 unweighted, num_threads=2 vs 1",
                        median_seconds(lambda: m2.update_state(t, p), repeat), ours,
                        ">= 1.4x"))
    return rows


def interval_rows(n, repeat):
    """The interval methods (docs/intervals.md): "normal" next to the plain
    update, and the bootstrap's throughput in element-replicates per second."""
    rows = []
    t, p, w = arrays(n, np.float64)
    plain, normal = RootMeanSquaredError(), RootMeanSquaredError(interval="normal")
    ours = median_seconds(lambda: normal.update_state(t, p), repeat)
    rows.append(row(f"{n:.0e} float64 interval='normal' vs plain update",
                    ours, median_seconds(lambda: plain.update_state(t, p), repeat),
                    "<= 1.3x the plain time (ratio >= 0.77)"))
    ours_w = median_seconds(lambda: normal.update_state(t, p, w), repeat)
    rows.append(row(f"{n:.0e} float64 weighted interval='normal' vs plain update",
                    ours_w, median_seconds(lambda: plain.update_state(t, p, w), repeat), "-"))
    m = min(n, 200_000)
    boot = RootMeanSquaredError(interval="bootstrap", n_boot=200)
    seconds = median_seconds(lambda: boot.update_state(t[:m], p[:m]), max(3, repeat // 3))
    rate = m * 200 / seconds
    rows.append({"case": f"bootstrap B=200, {m:.0e} float64: element-replicates/s, 1 thread",
                 "rmse_ext": seconds, "baseline": m * 200 / 50e6, "speedup": rate / 50e6,
                 "target": f">= 50M/s (measured {rate / 1e6:.0f}M/s)"})
    return rows


def small_batch_rows(repeat):
    rows = []
    for dtype in (np.float32, np.float64):
        t, p, _ = arrays(32, dtype)
        m = RootMeanSquaredError()

        def numpy_loop(state=[0.0, 0]):
            d = p - t
            state[0] += float(np.dot(d, d))
            state[1] += d.size

        rows.append(row(f"update_state, batch of 32 {np.dtype(dtype).name} vs NumPy loop body",
                        median_seconds(lambda: m.update_state(t, p), repeat, 2000),
                        median_seconds(numpy_loop, repeat, 2000),
                        "rmse_ext <= 1 us"))
    m = RootMeanSquaredError()
    m.update_state([1.0, 2.0], [2.0, 4.0])
    rows.append(row("result() vs np.sqrt(total / count)",
                    median_seconds(m.result, repeat, 5000),
                    median_seconds(lambda: np.sqrt(np.float64(5.0) / 2.0), repeat, 5000),
                    "rmse_ext <= 0.5 us"))
    return rows


def memory_rows(n):
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
        rows.append({"case": f"peak traced memory, {n:.0e} float64 "
                             f"{'weighted' if weighted else 'unweighted'} (bytes)",
                     "rmse_ext": ours, "baseline": theirs,
                     "speedup": theirs / max(ours, 1), "target": "rmse_ext <= 65536"})
    return rows


def foreign_rows(n, repeat):
    """tf.keras and torchmetrics, only when installed."""
    rows = []
    t, p, _ = arrays(n, np.float32)
    ours = median_seconds(lambda: RootMeanSquaredError().update_state(t, p), repeat)
    try:
        import torch
        import torchmetrics
    except ImportError:
        pass
    else:
        tt, pt = torch.from_numpy(t), torch.from_numpy(p)
        tm = torchmetrics.MeanSquaredError(squared=False)
        rows.append(row(f"{n:.0e} float32 vs torchmetrics.MeanSquaredError(squared=False)",
                        ours, median_seconds(lambda: tm.update(pt, tt), repeat), "-"))
    try:
        import tensorflow as tf
    except ImportError:
        pass
    else:
        km = tf.keras.metrics.RootMeanSquaredError()
        rows.append(row(f"{n:.0e} float32 vs tf.keras.metrics.RootMeanSquaredError",
                        ours, median_seconds(lambda: km.update_state(t, p), repeat), "-"))
    return rows


def memory_floors(rows, n):
    """Time to stream each case's input once at the bandwidth np.dot reached
    in this run (it reads 16 bytes per element): the roofline's floor."""
    dot = next(r["baseline"] for r in rows if "np.dot" in r["case"])
    bandwidth = 16 * n / dot
    return {"bandwidth_GB_per_s": bandwidth / 1e9,
            "float64 unweighted (16 B/element)": 16 * n / bandwidth,
            "float64 weighted (24 B/element)": 24 * n / bandwidth,
            "float32 unweighted (8 B/element)": 8 * n / bandwidth}


def format_table(info, rows):
    lines = [
        "rmse_ext benchmark: medians in one process, single BLAS thread",
        "machine: {cpu}, {cores} cores, Python {python}, NumPy {numpy}, "
        "rmse_ext {rmse_ext} ({kernel})".format(**info),
        "",
        f"{'case':<72} {'rmse_ext':>11} {'baseline':>11} {'ratio':>7}  target",
    ]
    for r in rows:
        if "bytes" in r["case"]:
            ours, theirs = f"{r['rmse_ext'] / 1024:.1f} KiB", f"{r['baseline'] / 2**20:.1f} MiB"
        else:
            ours, theirs = fmt_seconds(r["rmse_ext"]), fmt_seconds(r["baseline"])
        lines.append(f"{r['case']:<72} {ours:>11} {theirs:>11} {r['speedup']:>6.2f}x  {r['target']}")
    lines.append("")
    lines.append("ratio = baseline / rmse_ext (above 1: rmse_ext is faster or smaller)")
    floors = info.get("memory_floor")
    if floors:
        lines.append(f"memory floor at np.dot's {floors['bandwidth_GB_per_s']:.1f} GB/s: "
                     + ", ".join(f"{k} {fmt_seconds(v)}" for k, v in floors.items()
                                 if k != "bandwidth_GB_per_s"))
    return "\n".join(lines)


def fmt_seconds(s):
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    return f"{s * 1e3:.2f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rmse-ext bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--size", type=int, default=10_000_000,
                        help="elements in the large-array cases (default 1e7)")
    parser.add_argument("--repeat", type=int, default=11, help="runs per median (default 11)")
    args = parser.parse_args(argv)
    if any(os.environ.get(var) != "1" for var in PINNED):
        env = dict(os.environ, **{var: "1" for var in PINNED})
        cmd = [sys.executable, "-m", "rmse_ext.cli.bench", *(sys.argv[1:] if argv is None else argv)]
        return subprocess.run(cmd, env=env).returncode
    info = machine()
    rows = (big_array_rows(args.size, args.repeat) + interval_rows(args.size, args.repeat)
            + small_batch_rows(args.repeat)
            + memory_rows(args.size) + foreign_rows(args.size, args.repeat))
    info["memory_floor"] = memory_floors(rows, args.size)
    if args.json:
        print(json.dumps({"machine": info, "rows": rows}, indent=2))
    else:
        print(format_table(info, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
