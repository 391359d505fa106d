"""asv suites for rmse_ext, each with a NumPy baseline in the same suite so
``asv compare`` reads as a ratio, and the large updates as a percentage of the
memory-bandwidth limit (BandwidthLimit, ThreadSpeedup)."""
import numpy as np

from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError
from rmse_ext.cli.bench import LIMIT_TARGETS, THREAD_CASES, large_rows


def make_inputs(n, dtype, weighted, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n).astype(dtype)
    p = rng.normal(size=n).astype(dtype)
    w = rng.random(n).astype(dtype) if weighted else None
    return t, p, w


class Update:
    """One update_state on a batch, against the NumPy one-liner."""
    params = ([32, 1024, 100_000, 10_000_000], ["float32", "float64"], [False, True])
    param_names = ["n", "dtype", "weighted"]
    timeout = 120

    def setup(self, n, dtype, weighted):
        self.t, self.p, self.w = make_inputs(n, dtype, weighted)
        self.m = RootMeanSquaredError()

    def time_update(self, n, dtype, weighted):
        self.m.update_state(self.t, self.p, self.w)

    def time_numpy_baseline(self, n, dtype, weighted):
        if self.w is None:
            np.sqrt(np.mean((self.p - self.t) ** 2))
        else:
            np.sqrt(np.average((self.p - self.t) ** 2, weights=self.w))


class IntervalUpdate:
    """One update_state with a confidence interval (docs/intervals.md)
    against the plain update of the same batch: 'normal' targets <= 1.3x
    the plain time, 'bootstrap' (B = 200) >= 50M element-replicates/s."""
    params = ([100_000, 10_000_000], [None, "normal", "bootstrap"], [False, True])
    param_names = ["n", "interval", "weighted"]
    timeout = 300

    def setup(self, n, interval, weighted):
        if interval == "bootstrap" and n > 1_000_000:
            raise NotImplementedError("bootstrap runs on the small batch only")
        self.t, self.p, self.w = make_inputs(n, "float64", weighted)
        self.m = RootMeanSquaredError(interval=interval)

    def time_update(self, n, interval, weighted):
        self.m.update_state(self.t, self.p, self.w)


class Result:
    def setup(self):
        self.m = RootMeanSquaredError()
        self.m.update_state([2.0, 4.0, 6.0], [1.0, 3.0, 2.0])

    def time_result(self):
        self.m.result()


class SmallCalls:
    """Issue 21 part 3's small calls (targets: result() <= 0.2 us, __call__ and
    an 'omit' update of 32 float32 <= 0.6 us, grouped overall() <= 1 us),
    beside the NumPy loop body they compete with."""

    def setup(self):
        self.t, self.p, _ = make_inputs(32, np.float32, False)
        self.m = RootMeanSquaredError()
        self.omit = RootMeanSquaredError(nan_policy="omit")
        self.g = GroupedRootMeanSquaredError()
        self.g.update_state(np.zeros(100), np.ones(100), np.arange(100) % 10)

    def time_call_32_float32(self):
        self.m(self.t, self.p)

    def time_omit_update_32_float32(self):
        self.omit.update_state(self.t, self.p)

    def time_grouped_overall(self):
        self.g.overall()

    def time_numpy_loop_body(self):
        d = self.p - self.t
        float(np.dot(d, d))


class PeakMem:
    """Peak memory of one update on 10^7 float64 pairs (inputs included)."""
    params = [False, True]
    param_names = ["weighted"]

    def setup(self, weighted):
        self.t, self.p, self.w = make_inputs(10_000_000, "float64", weighted)
        self.m = RootMeanSquaredError()

    def peakmem_update(self, weighted):
        self.m.update_state(self.t, self.p, self.w)

    def peakmem_numpy_baseline(self, weighted):
        if self.w is None:
            np.sqrt(np.mean((self.p - self.t) ** 2))
        else:
            np.sqrt(np.average((self.p - self.t) ** 2, weights=self.w))


def lookup(rows, section, case, key):
    """One figure of rmse_ext.cli.bench.large_rows' output."""
    return next(r[key] for r in rows if r["section"] == section and r["case"].endswith(f" {case}"))


class LargeRows:
    """One interleaved measurement of every large case, shared by a suite."""
    timeout = 600
    n = 10_000_000

    def setup_cache(self):
        return large_rows(self.n, 21)[1]


class BandwidthLimit(LargeRows):
    """Large updates as a percentage of the memory-bandwidth limit: the
    bytes a case reads at the bandwidth np.dot reaches on the same arrays in
    the same run (with as many BLAS threads as ours), all cases interleaved
    in one measurement (rmse_ext.cli.bench.large_rows).  100 = at the limit;
    the targets are in rmse_ext.cli.bench.LIMIT_TARGETS and thread_row."""
    params = [list(LIMIT_TARGETS)]
    param_names = ["case"]
    unit = "% of the limit"

    def track_percent_of_limit(self, rows, case):
        return lookup(rows, "limit", case, "percent_of_limit")

    def track_floor_ms(self, rows, case):
        return 1e3 * lookup(rows, "limit", case, "floor")

    track_floor_ms.unit = "ms"


class ThreadSpeedup(LargeRows):
    """num_threads=2 against 1 on 10^7 pairs (interleaved medians)."""
    params = [list(THREAD_CASES)]
    param_names = ["case"]
    unit = "x"

    def track_speedup(self, rows, case):
        return lookup(rows, "threads", case, "speedup")


GROUPED_KEYS = ["1e3 random", "1e6 random", "1e3 sorted", "1e4 strings"]


def grouped_keys(keys, n, rng):
    """The grouping keys of a GroupedUpdate case."""
    if keys == "1e4 strings":
        names = np.array([f"series-{i:05d}" for i in range(10_000)], dtype=object)
        return names[rng.integers(0, 10_000, size=n)]
    out = rng.integers(0, 1_000_000 if keys.startswith("1e6") else 1000, size=n)
    if keys.endswith("sorted"):
        out.sort()
    return out


class GroupedUpdate:
    """GroupedRootMeanSquaredError.update_state on 10^7 float64 rows, next to
    the numpy.bincount recipe (uncompensated, integer keys only), pandas and
    polars (docs/grouped.md).  A baseline whose package is missing, or that
    cannot take the case's keys, is skipped (NotImplementedError in setup)."""
    params = (GROUPED_KEYS, ["rmse_ext", "bincount", "pandas", "polars"])
    param_names = ["keys", "tool"]
    timeout = 300

    def setup(self, keys, tool):
        if tool == "bincount" and keys.endswith("strings"):
            raise NotImplementedError("bincount takes integer keys")
        if tool in ("pandas", "polars"):
            try:
                __import__(tool)
            except ImportError:
                raise NotImplementedError(f"{tool} is not installed") from None
        n = 10_000_000
        self.t, self.p, _ = make_inputs(n, "float64", False)
        self.keys = grouped_keys(keys, n, np.random.default_rng(1))
        if tool == "rmse_ext":
            from rmse_ext import GroupedRootMeanSquaredError
            self.m = GroupedRootMeanSquaredError()

    def time_update(self, keys, tool):
        if tool == "rmse_ext":
            self.m.update_state(self.t, self.p, self.keys)
        elif tool == "bincount":
            np.sqrt(np.bincount(self.keys, (self.p - self.t) ** 2) / np.bincount(self.keys))
        elif tool == "pandas":
            import pandas as pd
            pd.Series((self.p - self.t) ** 2).groupby(self.keys).mean() ** 0.5
        else:
            import polars as pl
            pl.DataFrame({"k": self.keys, "t": self.t, "p": self.p}).group_by("k").agg(
                ((pl.col("p") - pl.col("t")) ** 2).mean().sqrt())


class PolarsStringKeys:
    """rmse_ext.evaluate on a polars frame of 10^6 rows with 50 string keys,
    next to polars' own group_by().agg() (issue 21 part 5: the keys are
    factorised by Arrow on polars' string views; a sort-based
    rank('dense') took 12x polars, now ~1.1x)."""
    params = ["rmse_ext.evaluate", "polars"]
    param_names = ["tool"]
    timeout = 300

    def setup(self, tool):
        try:
            import polars as pl
        except ImportError:
            raise NotImplementedError("polars is not installed") from None
        rng = np.random.default_rng(0)
        n = 1_000_000
        names = np.array([f"store_{i:03d}" for i in range(50)])
        self.frame = pl.DataFrame({"store": names[rng.integers(0, 50, n)],
                                   "y": rng.normal(size=n), "yhat": rng.normal(size=n)})

    def time_evaluate(self, tool):
        if tool == "polars":
            import polars as pl
            self.frame.group_by("store").agg(
                ((pl.col("y") - pl.col("yhat")) ** 2).mean().sqrt())
        else:
            import rmse_ext
            rmse_ext.evaluate(self.frame, "y", "yhat", by="store")


class MultiOutput:
    """multioutput='raw_values' on a (10^6, 8) float64 batch against the
    pooled update of the same batch (issue 20 target: <= 1.5x its time)."""
    params = ([None, "raw_values"],)
    param_names = ["multioutput"]
    timeout = 120

    def setup(self, multioutput):
        rng = np.random.default_rng(0)
        self.t, self.p = rng.normal(size=(10**6, 8)), rng.normal(size=(10**6, 8))
        self.multioutput = multioutput

    def time_update(self, multioutput):
        RootMeanSquaredError(multioutput=multioutput).update_state(self.t, self.p)


class CompareModels:
    """rmse_ext.evaluate with three prediction columns on 5*10^6 rows by
    10^4 string keys, against three single-model calls (issue 20 target:
    one call <= 0.6x the three)."""
    params = (["one call", "three calls"],)
    param_names = ["how"]
    timeout = 600

    def setup_cache(self):
        import pandas as pd
        rng = np.random.default_rng(2)
        n = 5 * 10**6
        names = np.array([f"store-{i:05d}" for i in range(10_000)], dtype=object)
        y = rng.normal(size=n)
        return pd.DataFrame({"key": names[rng.integers(0, 10_000, n)], "y": y,
                             **{c: y + rng.normal(size=n) for c in "abc"}})

    def time_evaluate(self, frame, how):
        from rmse_ext import evaluate
        if how == "one call":
            evaluate(frame, "y", ["a", "b", "c"], by="key")
        else:
            for c in "abc":
                evaluate(frame, "y", c, by="key")


class GroupedIntervalUpdate:
    """GroupedRootMeanSquaredError.update_state with and without
    interval='normal' on 10^7 float64 rows (issue 21 part 5: the per-key
    interval targets <= 1.5x the grouped plain update)."""
    params = (["1e3 random", "1e3 sorted"], [None, "normal"], [False, True])
    param_names = ["keys", "interval", "weighted"]
    timeout = 300

    def setup(self, keys, interval, weighted):
        from rmse_ext import GroupedRootMeanSquaredError
        n = 10_000_000
        self.t, self.p, self.w = make_inputs(n, "float64", weighted)
        self.keys = grouped_keys(keys, n, np.random.default_rng(1))
        self.m = GroupedRootMeanSquaredError(interval=interval)

    def time_update(self, keys, interval, weighted):
        self.m.update_state(self.t, self.p, self.keys, self.w)


ROLLING_CASES = ["window 1000", "1e4 series window 100", "1h window"]


class Rolling:
    """rmse_ext.rolling_root_mean_squared_error on 10^7 float64 rows next to
    polars' and pandas' rolling means (which subtract; docs/windows.md).
    pandas per series is skipped here (minutes per run)."""
    params = (ROLLING_CASES, ["rmse_ext", "polars", "pandas"])
    param_names = ["case", "tool"]
    timeout = 300

    def setup(self, case, tool):
        if tool != "rmse_ext":
            try:
                __import__(tool)
            except ImportError:
                raise NotImplementedError(f"{tool} is not installed") from None
        if tool == "pandas" and "series" in case:
            raise NotImplementedError("pandas groupby().rolling() takes minutes here")
        n = 10_000_000
        self.t, self.p, _ = make_inputs(n, "float64", False)
        self.keys = np.random.default_rng(19).integers(0, 10_000, size=n)
        self.ts = np.datetime64("2026-01-01", "ns") + np.arange(n).astype("timedelta64[s]")
        if tool == "polars":
            import polars as pl
            self.frame = pl.DataFrame({"t": self.t, "p": self.p, "k": self.keys, "ts": self.ts})
        if tool == "pandas":
            import pandas as pd
            self.squares = pd.Series((self.p - self.t) ** 2)

    def time_rolling(self, case, tool):
        if tool == "rmse_ext":
            from rmse_ext import rolling_root_mean_squared_error as f
            kw = ({"window": 1000} if case == "window 1000" else
                  {"window": 100, "groups": self.keys} if "series" in case else
                  {"window": "1h", "time": self.ts})
            f(self.t, self.p, nan_policy="propagate", **kw)
        elif tool == "polars":
            import polars as pl
            e = (pl.col("p") - pl.col("t")) ** 2
            expr = (e.rolling_mean(1000) if case == "window 1000" else
                    e.rolling_mean(100).over("k") if "series" in case else
                    e.rolling_mean_by("ts", "1h"))
            self.frame.select(expr.sqrt())
        elif case == "window 1000":
            np.sqrt(self.squares.rolling(1000).mean())
        else:
            np.sqrt(self.squares.set_axis(self.ts).rolling("1h").mean())


class RollingStreaming:
    """RollingRootMeanSquaredError: update_state of 32 samples (target
    <= 1 us) and result() (<= 0.2 us), window 1000."""

    def setup(self):
        from rmse_ext import RollingRootMeanSquaredError
        self.m = RollingRootMeanSquaredError(1000, dtype="float64")
        self.t, self.p = np.zeros(32), np.random.default_rng(0).normal(size=32)
        for _ in range(40):
            self.m.update_state(self.t, self.p)

    def time_update_32(self):
        self.m.update_state(self.t, self.p)

    def time_result(self):
        self.m.result()
