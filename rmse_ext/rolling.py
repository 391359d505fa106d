"""Exact rolling and time-windowed RMSE (issue 19, docs/windows.md).

A window is the last ``window`` samples (an int) or the samples whose time
lies in ``(t - window, t]`` (a duration).  A *sample* is one index of the
leading axis of the squared errors after the rank fix-up (semantics 2.2);
all its elements count, with the Keras weight rules of semantics 3 applied
per batch by the one resolver (rmse_ext._rules).  The kernel
(src/_rolling.pxi) never subtracts what leaves a window, so a value holds
nothing of samples that have left: a burst of 1e150 errors, a NaN or an inf
is forgotten once it is out.

>>> m = RollingRootMeanSquaredError(2, dtype="float64")
>>> m.update_state([0, 0, 0], [1, 2, 3])
>>> print(m.result())                    # the last two samples: sqrt((4 + 9) / 2)
2.5495097567963922
>>> rolling_root_mean_squared_error([0, 0, 0], [1, 2, 3], window=2).tolist()
[nan, 1.5811388300841898, 2.5495097567963922]
"""
from __future__ import annotations

import datetime
import math
import re
from typing import Any, NamedTuple, Optional

import numpy as np

from . import _backend, _missing, _plan
from ._inputs import FLOAT64
from ._rules import resolve
from ._settings import MetricSettings

COUNT, INT_TIME, FLOAT_TIME = 0, 1, 2     # src/_rolling.pxi's window kinds
EXACT_INT_LIMIT = 2**53
STATE_FORMAT = "rmse_ext.rolling_state/1"
POLICY_CODES = {"propagate": 0, "omit": 1, "raise": 2}      # RollingWindow.push_fast

# -- the window --------------------------------------------------------------------------

NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "sec": 10**9,
      "min": 60 * 10**9, "t": 60 * 10**9, "h": 3600 * 10**9, "hr": 3600 * 10**9,
      "d": 86400 * 10**9, "day": 86400 * 10**9, "days": 86400 * 10**9,
      "w": 7 * 86400 * 10**9}
DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)?\s*([a-zA-Zµ]+)")


class WindowSpec(NamedTuple):
    """A parsed window: its kind, sample count or span, and a canonical
    spelling (what get_config / get_state carry)."""
    kind: int
    size: int = 0
    span_i: int = 0
    span_f: float = 0.0
    text: Any = None


def parse_duration(text: str) -> int:
    """A pandas-style duration string ("15min", "1h", "7D", "1h30min",
    "250ms") in nanoseconds; ValueError for anything else (months and years
    are not fixed durations)."""
    pos, total, parts = 0, 0, 0
    stripped = text.strip()
    while pos < len(stripped):
        match = DURATION_PART.match(stripped, pos)
        unit = match.group(2).lower() if match else ""
        if not match or unit not in NS:
            raise ValueError(
                f"window {text!r} is not a duration: expected e.g. '15min', '1h', '7D', "
                f"'30s', '250ms' (units ns, us, ms, s, min, h, D, W)")
        number = match.group(1) or "1"
        total += round(float(number) * NS[unit]) if "." in number else int(number) * NS[unit]
        parts += 1
        pos = match.end()
    if not parts:
        raise ValueError(f"window {text!r} is not a duration")
    return total


INT64_MAX = 2**63 - 1


def parse_window(window: Any) -> WindowSpec:
    """``window`` as a WindowSpec: an int counts samples; a timedelta, a
    numpy.timedelta64 or a duration string is a time span (int64
    nanoseconds); a float a span of a numeric time axis.  TypeError /
    ValueError naming ``window``."""
    if isinstance(window, (bool, np.bool_)):
        raise TypeError("window must be an int, a duration or a float; got a bool")
    if isinstance(window, (int, np.integer)) and not isinstance(window, np.timedelta64):
        if window < 1:
            raise ValueError(f"window must be at least 1 sample; got {window}")
        return WindowSpec(COUNT, size=int(window), text=int(window))
    if isinstance(window, (float, np.floating)):
        if not (math.isfinite(window) and window > 0):
            raise ValueError(f"window must be a positive, finite span; got {window}")
        return WindowSpec(FLOAT_TIME, span_f=float(window), text=float(window))
    if isinstance(window, str):
        ns = parse_duration(window)
    elif isinstance(window, np.timedelta64):
        if np.isnat(window) or np.datetime_data(window.dtype)[0] in ("generic", "Y", "M"):
            raise ValueError(f"window {window!r} is not a fixed duration")
        unit, steps = np.datetime_data(window.dtype)
        unit = "min" if unit == "m" else unit.lower()       # NumPy's minute is "m"
        if unit in NS:                              # exact: astype would wrap past int64
            ns = int(window.astype(np.int64)) * steps * NS[unit]
        else:                                       # finer than ns: no overflow
            ns = int(window.astype("timedelta64[ns]").astype(np.int64))
    elif isinstance(window, datetime.timedelta):
        value = getattr(window, "value", None)      # a pandas Timedelta: ns exactly
        ns = int(value) if isinstance(value, (int, np.integer)) else (
            window // datetime.timedelta(microseconds=1)) * 1000
    else:
        raise TypeError(
            f"window must be an int (samples), a duration (datetime.timedelta, "
            f"numpy.timedelta64, a string such as '1h') or a float; got "
            f"{type(window).__name__}")
    if ns <= 0:
        raise ValueError(f"window must be a positive duration; got {window!r}")
    if ns > INT64_MAX:
        raise ValueError(f"window {window!r} is longer than int64 nanoseconds can hold "
                         f"(about 292 years, {INT64_MAX} ns)")
    return WindowSpec(INT_TIME, span_i=ns, text=f"{ns}ns")


def default_min_samples(spec: WindowSpec, min_samples: Any) -> int:
    """pandas' min_periods: the window for a sample count, 1 for a span."""
    if min_samples is None:
        return spec.size if spec.kind == COUNT else 1
    if isinstance(min_samples, (bool, np.bool_)) or not isinstance(min_samples, (int, np.integer)):
        raise TypeError(f"min_samples must be an int or None; got {type(min_samples).__name__}")
    if min_samples < 0:
        raise ValueError(f"min_samples must be >= 0; got {min_samples}")
    return int(min_samples)


# -- times ---------------------------------------------------------------------------------

def read_times(time: Any, samples: int, spec: WindowSpec, name: str = "time") -> Any:
    """One time per sample for a time window: int64 nanoseconds
    (datetime64, timedelta64, pandas Timestamps, datetime objects) for a
    duration, float64 for a float span; None for a sample-count window.
    ValueError naming ``name`` for a missing time, a wrong length or kind."""
    if spec.kind == COUNT:
        return None
    if time is None:
        raise ValueError(f"a time window ({spec.text!r}) needs {name}=, one time per sample")
    a = _time_array(time, name)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1 or a.shape[0] != samples:
        raise ValueError(f"{name} has shape {a.shape} but the batch has {samples} sample(s): "
                         f"one time per sample")
    if spec.kind == INT_TIME:
        if a.dtype.kind not in "mM":
            raise TypeError(f"{name} must hold datetimes or timedeltas for a duration window; "
                            f"got {a.dtype} (a float window spans numeric times)")
        unit = "M8[ns]" if a.dtype.kind == "M" else "m8[ns]"
        ticks = np.ascontiguousarray(a.astype(unit, copy=False).view(np.int64))
        missing = _backend.kernel.time_faults(ticks)[0]
        if missing >= 0:
            raise ValueError(f"{name} has a missing time (NaT) at position {missing}")
        return ticks
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers for a numeric (float) window; got {a.dtype}")
    f = np.ascontiguousarray(a, dtype=FLOAT64)
    missing = _backend.kernel.time_faults(f)[0]
    if missing >= 0:
        raise ValueError(f"{name} has a missing or infinite time at position {missing}")
    return f


def _time_array(time: Any, name: str) -> np.ndarray:
    library = type(time).__module__.split(".", 1)[0]
    if library == "pandas":
        tz = getattr(getattr(time, "dt", time), "tz", None)
        if tz is not None:                      # instants: compare them in UTC
            time = (time.dt if hasattr(time, "dt") else time).tz_convert("UTC")
            time = getattr(time, "dt", time).tz_localize(None) if hasattr(time, "dt") \
                else time.tz_localize(None)
        time = time.to_numpy()                  # objects (datetime.date) read below
    elif library == "pyarrow":
        return np.asarray(time.to_numpy(zero_copy_only=False))    # date32, slices: copied
    elif library == "polars":
        return np.asarray(time.to_numpy())
    a = np.asarray(time)
    if a.dtype == object:
        # instants with a zone in UTC (NumPy would warn, having no zones)
        time = np.array([x.astimezone(datetime.timezone.utc).replace(tzinfo=None)
                         if isinstance(x, datetime.datetime) and x.tzinfo is not None else x
                         for x in a.reshape(-1).tolist()], dtype=object).reshape(a.shape)
        try:
            a = np.asarray(time, dtype="datetime64[ns]")
        except (TypeError, ValueError):
            try:
                a = np.asarray(time, dtype="timedelta64[ns]")
            except (TypeError, ValueError):
                raise TypeError(f"{name} could not be read as times") from None
    return a


class OrderError(ValueError):
    """check_order's ValueError; ``position``: where the time goes back (an
    index of ``times``, or its entry of ``positions``), for a door that says
    positions its own way (the CLI: a row and line)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position

    def __reduce__(self) -> Any:
        return type(self), (str(self), self.position)


def check_order(times: Any, last: Any = None, positions: Any = None,
                name: str = "time", where: str = "position") -> None:
    """OrderError (a ValueError) naming the first position whose time is
    before the one before it (``last``: the newest time already in the
    window; ``positions``: the samples' positions in the caller's input)."""
    if times is None or not len(times):
        return
    if last is not None and times[0] < last:
        raise OrderError(f"{name} must be non-decreasing: {name}[0] is before the newest "
                         f"time already in the window",
                         0 if positions is None else int(positions[0]))
    i = _backend.kernel.time_faults(times)[1]
    if i >= 0:
        at = i if positions is None else int(positions[i])
        what = where
        raise OrderError(f"{name} must be non-decreasing (within a series): it decreases "
                         f"at {what} {at}", at)


# -- one batch as samples -------------------------------------------------------------------

class Samples(NamedTuple):
    """A batch's samples, read: either flat float64 operands of ``run``
    elements per sample (t, p, w; ``exact``: p - t is an integer
    difference's two exact terms, rmse_ext._plan.exact_difference), or
    ready items (sums, counts)."""
    n: int
    run: int
    t: Optional[np.ndarray] = None
    p: Optional[np.ndarray] = None
    w: Optional[np.ndarray] = None
    sums: Optional[np.ndarray] = None
    counts: Optional[np.ndarray] = None
    exact: bool = False


def _exact_as_float(a: np.ndarray) -> bool:
    """Whether float64 holds every value of ``a`` exactly."""
    if a.dtype.kind in "fb":
        return a.dtype.itemsize <= 8
    if a.dtype.kind in "iu" and a.size:
        return bool(int(a.max()) <= EXACT_INT_LIMIT and int(a.min()) >= -EXACT_INT_LIMIT)
    return a.dtype.kind in "iu"


def read_samples(y_true: Any, y_pred: Any, sample_weight: Any, nan_policy: str) -> Samples:
    """One batch read and laid out as samples (semantics 2 and 3 through the
    resolver; 'raise' checked).  Raises before anything changes."""
    t, p, w = _missing.read_operands(nan_policy, _plan.read_numbers, y_true, y_pred,
                                     sample_weight)
    layout = resolve(t.shape, p.shape, None if w is None else w.shape)
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    if w is not None:
        w = w.reshape(layout.w_shape)
    shape = layout.shape
    if (layout.keep is None and (w is None or _exact_as_float(w))
            and all(x.dtype.kind in "iu" or _exact_as_float(x) for x in (t, p))):
        n = layout.samples
        run = layout.size // n if n else 0
        exact = _plan.needs_exact_difference(t, p)      # integers past 2**53 (semantics 5)
        if exact:
            p, t = _plan.exact_difference(t, p, shape)
        ft, fp, fw = [None if x is None else
                      np.ascontiguousarray(np.broadcast_to(x, shape), dtype=FLOAT64).reshape(-1)
                      for x in (t, p, w)]
        return Samples(n, run, t=ft, p=fp, w=fw, exact=exact)
    return _items(layout, t, p, w, nan_policy)


def _items(layout: Any, t: np.ndarray, p: np.ndarray, w: Optional[np.ndarray],
           nan_policy: str) -> Samples:
    """Samples the flat reader cannot take -- semantics 3.3 (row means
    times weights), weights float64 cannot hold -- each folded on its own
    by the metric's planner into an item."""
    policy = "omit" if nan_policy == "omit" else "propagate"
    module = _backend.kernel
    shape = layout.shape
    if layout.keep is not None:
        assert w is not None and layout.w_out_shape is not None
        rows_shape = layout.w_out_shape + shape[layout.keep:]
        t_rows, p_rows = np.broadcast_to(t, rows_shape), np.broadcast_to(p, rows_shape)
        w_rows = np.broadcast_to(w, layout.w_out_shape)
        n = rows_shape[0] if layout.size else 0

        def plan(i: int) -> Any:
            return _plan.weighted_rows_plan(t_rows[i], p_rows[i], w_rows[i], w_rows[i],
                                            _plan.NAN_POLICIES[policy])
        run = math.prod(rows_shape[1:])
    else:
        full = [None if x is None else np.broadcast_to(x, shape) for x in (t, p, w)]
        n = layout.samples
        run = layout.size // n if n else 0
        if not shape:
            full = [None if x is None else x.reshape(1) for x in full]

        def plan(i: int) -> Any:
            tf, pf, wf = (None if x is None else x[i:i + 1] for x in full)
            return _plan.plan_update(tf, pf, wf, nan_policy=policy)
    sums = np.zeros((n, 4), dtype=FLOAT64)
    counts = np.zeros((n, 2), dtype=np.int64)
    for i in range(n):
        acc = module.Accumulator()
        plan(i).apply(acc)
        thi, tlo, whi, wlo, elements, omitted = acc.get_raw()
        weighted = w is not None
        sums[i] = (thi, tlo, whi if weighted else float(elements), wlo if weighted else 0.0)
        counts[i] = (run - omitted, omitted)
    return Samples(n, run, sums=sums, counts=counts)


# -- the streaming class --------------------------------------------------------------------

class RollingRootMeanSquaredError(MetricSettings):
    """The RMSE of the samples in a sliding window, streaming.

    ``window``: an int (the last ``window`` samples), or a duration
    (``datetime.timedelta``, ``numpy.timedelta64``, a string such as
    ``"15min"``, ``"1h"``, ``"7D"``; a float for numeric times): the samples
    whose ``time`` lies in ``(t - window, t]``, ``t`` the newest sample's time;
    ``update_state(..., time=...)`` then takes one non-decreasing time per
    sample.  ``result()`` is 0 while the window is empty (as Keras).
    Nothing that has left the window is carried (no subtraction): see
    docs/windows.md.

    >>> m = RollingRootMeanSquaredError("1h", dtype="float64")
    >>> t0 = np.datetime64("2026-01-01T00:00")
    >>> m.update_state([0.0], [3.0], time=[t0])
    >>> m.update_state([0.0], [1.0], time=[t0 + np.timedelta64(90, "m")])   # the 3 has left
    >>> print(m.result())
    1.0
    """

    def __init__(self, window: Any, *, name: str = "rolling_root_mean_squared_error",
                 dtype: Any = None, nan_policy: str = "propagate") -> None:
        super().__init__(name, dtype, 1, nan_policy)
        self._spec = parse_window(window)
        self._win = self._new_window()

    def _new_window(self) -> Any:
        s = self._spec
        return _backend.kernel.RollingWindow(s.kind, s.size, s.span_i, s.span_f)

    @property
    def window(self) -> Any:
        """The window: samples (int), nanoseconds as ``'<n>ns'``, or a float span."""
        return self._spec.text

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                     time: Any = None) -> None:
        """Push one batch's samples (semantics 2 and 3 per batch), with their
        times for a time window.  On bad input TypeError/ValueError, and the
        window is as it was."""
        code = POLICY_CODES[self._nan_policy]
        if self._win.push_fast(y_true, y_pred, sample_weight, time, code):
            return
        s = read_samples(y_true, y_pred, sample_weight, self._nan_policy)
        times = read_times(time, s.n, self._spec)
        check_order(times, self._win.last_time())
        self._push(s, times)

    def _push(self, s: Samples, times: Any) -> None:
        ti = times if self._spec.kind == INT_TIME else None
        tf = times if self._spec.kind == FLOAT_TIME else None
        if s.sums is not None:
            self._win.push_items(s.sums, s.counts, ti, tf)
        else:
            self._win.push(s.t, s.p, s.w, s.n, s.run, self._nan_policy == "omit", ti, tf,
                           s.exact)

    def result(self) -> np.floating[Any]:
        """The RMSE over the window, a NumPy scalar of ``dtype``: 0 empty,
        NaN when every element in it was omitted."""
        value: np.floating[Any] = self._win.value_as(self._result_dtype)
        return value

    def reset_state(self) -> None:
        """Empty the window."""
        self._win.clear()

    def reset_states(self) -> None:
        self.reset_state()

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                 time: Any = None) -> np.floating[Any]:
        self.update_state(y_true, y_pred, sample_weight, time=time)
        return self.result()

    @property
    def count(self) -> int:
        """Elements in the window (kept ones under 'omit')."""
        return int(self._win.elements)

    @property
    def weight_sum(self) -> float:
        """The sum of the weights in the window (elements unweighted)."""
        return float(self._win.weight_sum())

    @property
    def samples(self) -> int:
        """Samples in the window."""
        return int(self._win.samples)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["window"] = self._spec.text
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RollingRootMeanSquaredError:
        config = dict(config)
        return cls(config.pop("window"), **config)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(window={self._spec.text!r}, name={self._name!r}, "
                f"dtype={self.dtype!r}) result={self._win.value()!r}")

    # -- state ------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The whole window as a JSON-serialisable dict (floats as
        ``float.hex()``); ``from_state`` / ``set_state`` continue bitwise.

        >>> import json
        >>> m = RollingRootMeanSquaredError(3); m.update_state([0, 0], [1, 2])
        >>> again = RollingRootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
        >>> print(again.result(), again.samples)
        1.5811388 2
        """
        front, sums, counts, ti, tf = self._win.get_raw()
        state: dict[str, Any] = {
            "format": STATE_FORMAT, "name": self._name, "dtype": self._dtype.name,
            "nan_policy": self._nan_policy, "window": self._spec.text, "front": int(front),
            "sums": [[float(x).hex() for x in row] for row in sums.tolist()],
            "counts": counts.tolist(),
        }
        if self._spec.kind == INT_TIME:
            state["time"] = ti.tolist()
        elif self._spec.kind == FLOAT_TIME:
            state["time"] = [float(x).hex() for x in tf.tolist()]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a ``get_state()`` dict bitwise; a bad dict raises
        TypeError/ValueError naming the key and changes nothing."""
        fresh = type(self).from_state(state)
        self.__dict__.update({k: v for k, v in fresh.__dict__.items()})

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RollingRootMeanSquaredError:
        """A new metric restored bitwise from a ``get_state()`` dict."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict; got {type(state).__name__}")
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"state['format'] must be {STATE_FORMAT!r}; "
                             f"got {state.get('format')!r}")
        missing = [k for k in ("name", "dtype", "nan_policy", "window", "front", "sums",
                               "counts") if k not in state]
        if missing:
            raise ValueError(f"state lacks the key(s) {missing}")
        window = state["window"]
        metric = cls(window, name=state["name"], dtype=state["dtype"],
                     nan_policy=state["nan_policy"])
        try:
            sums = np.array([[float.fromhex(x) for x in row] for row in state["sums"]],
                            dtype=FLOAT64).reshape(-1, 4)
        except (TypeError, ValueError, AttributeError):
            raise ValueError("state['sums'] must be rows of four float.hex() strings") from None
        counts = np.array(state["counts"], dtype=np.int64).reshape(-1, 2)
        n = len(sums)
        front = state["front"]
        if len(counts) != n or not isinstance(front, int) or not 0 <= front <= n:
            raise ValueError("state['counts'] and state['front'] do not match state['sums']")
        ti = np.zeros(n, dtype=np.int64)
        tf = np.zeros(n, dtype=FLOAT64)
        kind = metric._spec.kind
        if kind != COUNT:
            times = state.get("time")
            if not isinstance(times, list) or len(times) != n:
                raise ValueError("state['time'] must hold one time per sample")
            if kind == INT_TIME:
                ti = np.array(times, dtype=np.int64)
            else:
                tf = np.array([float.fromhex(x) for x in times], dtype=FLOAT64)
        metric._win.set_raw(front, np.ascontiguousarray(sums), np.ascontiguousarray(counts),
                            ti, tf)
        return metric

    def __getstate__(self) -> dict[str, Any]:
        extra = {k: v for k, v in self.__dict__.items() if k not in _OWN}
        return {"state": self.get_state(), "attributes": extra}

    def __setstate__(self, data: dict[str, Any]) -> None:
        fresh = type(self).from_state(data["state"])
        self.__dict__.update(fresh.__dict__)
        self.__dict__.update(data["attributes"])


_OWN = frozenset({"_name", "_dtype", "_num_threads", "_nan_policy", "_interval_args",
                  "_spec", "_win"})


# -- the per-sample function ----------------------------------------------------------------

def series_codes(groups: Any, n: int, name: str = "groups") -> tuple[np.ndarray, int]:
    """One int64 series code per sample (rmse_ext._keys, the one key
    codec) and the number of codes."""
    from ._keys import read_keys
    batch = read_keys(groups, n, name)
    if batch.codes is not None:
        codes = np.ascontiguousarray(batch.codes, dtype=np.int64)
        return codes, (int(codes.max()) + 1 if n else 0)
    ints = np.asarray(batch.ints).astype(np.int64, copy=False)
    if not n:
        return np.zeros(0, np.int64), 0
    low, high = int(ints.min()), int(ints.max())
    if high - low < 4 * n + 1024:                 # dense keys: their offsets are codes
        return np.ascontiguousarray(ints - low), high - low + 1
    _, codes = np.unique(ints, return_inverse=True)
    codes = np.ascontiguousarray(codes.reshape(-1), dtype=np.int64)
    return codes, int(codes.max()) + 1


def rolling_root_mean_squared_error(y_true: Any, y_pred: Any, *, window: Any,
                                    sample_weight: Any = None, time: Any = None,
                                    groups: Any = None, min_samples: Optional[int] = None,
                                    nan_policy: str = "raise") -> np.ndarray:
    """The RMSE of the window ending at each sample: a float64 array, one
    value per sample, per series when ``groups`` (one key per sample) is
    given -- windows never cross series.  Fewer than ``min_samples``
    samples in a window (default: the window for an int window, 1 for a
    time window; under 'omit' samples with a kept element) give NaN.

    >>> rolling_root_mean_squared_error([0, 0, 0, 0], [1, 2, 3, 4], window=2,
    ...                                 groups=["a", "b", "a", "b"], min_samples=1).tolist()
    [1.0, 2.0, 2.23606797749979, 3.1622776601683795]
    """
    return rolling_columns(y_true, y_pred, window=window, sample_weight=sample_weight,
                           time=time, groups=groups, min_samples=min_samples,
                           nan_policy=nan_policy)["rmse"]


def rolling_columns(y_true: Any, y_pred: Any, *, window: Any, sample_weight: Any = None,
                    time: Any = None, groups: Any = None, min_samples: Optional[int] = None,
                    nan_policy: str = "raise", codes: Any = None,
                    detail: bool = False) -> dict[str, np.ndarray]:
    """rolling_root_mean_squared_error's work: ``{'rmse'}`` and, with
    ``detail``, ``count`` (elements in the window), ``weight_sum`` and
    ``omitted``.
    ``codes``: series codes already made (int64 array, number of codes)."""
    policy = _missing.check_policy(nan_policy)
    spec = parse_window(window)
    least = default_min_samples(spec, min_samples)
    s = read_samples(y_true, y_pred, sample_weight, policy)
    times = read_times(time, s.n, spec)
    if codes is None and groups is not None:
        codes = series_codes(groups, s.n)
    order = starts = None
    if codes is not None:
        order, starts = _backend.kernel.series_order(codes[0], codes[1])
        _check_series_order(times, order, starts)
    else:
        check_order(times)
    out = {"rmse": np.empty(s.n, dtype=FLOAT64)}
    if detail:
        out["count"] = np.empty(s.n, dtype=np.int64)
        out["weight_sum"] = np.empty(s.n, dtype=FLOAT64)
        out["omitted"] = np.empty(s.n, dtype=np.int64)
    ti = times if spec.kind == INT_TIME else None
    tf = times if spec.kind == FLOAT_TIME else None
    if s.sums is None:
        _backend.kernel.rolling_values(
            s.t, s.p, s.w, s.run, policy == "omit", spec.kind, spec.size, spec.span_i,
            spec.span_f, ti, tf, order, starts, least, out["rmse"], out.get("count"),
            out.get("weight_sum"), out.get("omitted"), s.exact)
    else:
        _items_values(s, spec, ti, tf, order, starts, least, out)
    return out


def _check_series_order(times: Any, order: np.ndarray, starts: np.ndarray) -> None:
    """check_order within each series (times in series order, ``order``
    mapping back to the input's positions): a decrease across a series
    boundary is allowed."""
    if times is None or len(order) < 2:
        return
    t = times[order]
    down = t[1:] < t[:-1]
    bounds = starts[1:-1]
    down[bounds[(bounds > 0) & (bounds < len(order))] - 1] = False
    if down.any():
        i = int(np.argmax(down)) + 1
        raise ValueError(f"time must be non-decreasing within a series: it decreases at "
                         f"position {int(order[i])}")


def _items_values(s: Samples, spec: WindowSpec, ti: Any, tf: Any, order: Any, starts: Any,
                  least: int, out: dict[str, np.ndarray]) -> None:
    """The per-sample values of ready items, series by series."""
    assert s.sums is not None and s.counts is not None
    if order is None:
        order, starts = np.arange(s.n, dtype=np.int64), np.array([0, s.n], dtype=np.int64)
    for g in range(len(starts) - 1):
        win = _backend.kernel.RollingWindow(spec.kind, spec.size, spec.span_i, spec.span_f)
        for i in order[starts[g]:starts[g + 1]]:
            win.push_items(s.sums[i:i + 1], s.counts[i:i + 1],
                           None if ti is None else ti[i:i + 1],
                           None if tf is None else tf[i:i + 1])
            valid = win.valid
            out["rmse"][i] = win.value() if valid >= least else np.nan
            if "count" in out:
                out["count"][i] = win.elements
                out["weight_sum"][i] = win.weight_sum()
                out["omitted"][i] = win.omitted


# -- frames ---------------------------------------------------------------------------------

def rolling(frame: Any, y_true: Any, y_pred: Any, *, window: Any, on: Any = None,
            by: Any = None, weight: Any = None, min_samples: Optional[int] = None,
            nan_policy: str = "raise") -> Any:
    """The rolling RMSE of every row of a pandas or polars DataFrame (lazy
    too), a pyarrow Table or a dict of arrays: a frame of the same library,
    row-aligned with the input (pandas: the same index), with the ``by`` and
    ``on`` columns, then ``rmse``, ``count`` (elements in the window),
    ``weight_sum`` and ``omitted`` (the one result schema).  ``on`` names the
    time column (a duration or float window); ``by`` one or several series
    columns (the rows of a series need not be contiguous; times
    non-decreasing within a series).  Columns are read by rmse_ext._columns,
    keys by rmse_ext._keys.

    >>> out = rolling({"y": [0.0, 0.0, 0.0], "yhat": [1.0, 2.0, 3.0], "k": ["a", "b", "a"]},
    ...               "y", "yhat", window=2, by="k", min_samples=1)
    >>> out["rmse"].tolist(), out["count"].tolist()
    ([1.0, 2.0, 2.23606797749979], [1, 1, 2])
    """
    from . import _columns, _tabular
    from ._keys import read_keys
    from ._results import ResultTable, check_key_names
    policy = _missing.check_policy(nan_policy)
    if not (isinstance(frame, dict) or _columns.library(frame) in ("pandas", "polars",
                                                                   "pyarrow")):
        raise TypeError(f"frame must be a pandas or polars DataFrame, a pyarrow Table or a "
                        f"dict of arrays; got {type(frame).__name__}")
    names = _tabular.by_columns(by)
    extra = [] if on is None else [on]
    check_key_names(extra)
    wanted = [y_true, y_pred, *([] if weight is None else [weight]), *names, *extra]
    data = _columns.narrowed(frame, wanted)
    names = _columns.resolved(data, names, "by")
    labels = {"y_true": y_true, "y_pred": y_pred, **({} if weight is None else {"weight": weight})}
    values = _columns.read_columns(data, labels)
    if policy == "raise":
        _columns.raise_on_missing({labels[role]: a for role, a in values.items()})
    rows = len(values["y_true"])
    key_cols = [_columns.column(data, _columns.find_column(data, n, "by")) for n in names]
    time_col = None if on is None else _columns.column(data, _columns.find_column(data, on, "on"))
    key_batches = [read_keys(col, rows, _tabular.by_name(name))
                   for col, name in zip(key_cols, names)]     # read once: codes and output
    codes = None
    if len(names) == 1:
        codes = series_codes(key_batches[0], rows)
    elif names:
        composite, _ = _tabular.composite_keys(key_batches, names, rows)
        codes = series_codes(composite, rows)
    try:
        out = rolling_columns(values["y_true"], values["y_pred"], window=window,
                              sample_weight=values.get("weight"), time=time_col,
                              min_samples=min_samples, nan_policy=policy, codes=codes,
                              detail=True)
    except ValueError as exc:
        if on is not None and str(exc).startswith("time"):
            raise ValueError(f"column {on!r}: {exc}") from None
        raise
    table: dict[Any, Any] = {name: _key_rows(batch) if rows else _plain(col)   # 0 rows: no kind
                             for name, batch, col in zip(names, key_batches, key_cols)}
    if on is not None:
        table[on] = _plain(time_col)
    table.update(out)
    result = ResultTable(table).to_frame(frame)
    kind = _columns.library(frame)
    if kind == "pandas":
        result.index = frame.index
    # the on column as given (its dtype and zone kept); with no rows the key
    # columns too (no key gives them a kind)
    given = dict(zip(names, key_cols)) if not rows else {}
    if time_col is not None:
        given[on] = time_col
    for name, col in ({} if isinstance(frame, dict) else given).items():
        if kind == "pandas":
            result[name] = col                  # the same index: no realignment
        elif kind == "polars":
            result = result.with_columns(col.alias(str(name)))
        else:
            result = result.set_column(result.schema.get_field_index(str(name)), str(name), col)
    return result


def _key_rows(batch: Any) -> np.ndarray:
    """A key column, row by row, as the key codec's read-out (semantics
    8.7: exact -- "a" and "a\\x00" stay two keys, ints past 2**63 stay ints;
    np.asarray of a list made them one string, or floats)."""
    from ._keys import key_array
    if batch.ints is not None:
        return key_array(batch.kind, batch.ints)
    rows: np.ndarray = key_array(batch.kind, batch.uniques)[batch.codes]
    return rows


def _plain(col: Any) -> np.ndarray:
    """A time column (or an empty key column) as a NumPy array (for the
    result table)."""
    if type(col).__module__.split(".", 1)[0] == "pyarrow":
        return np.asarray(col.to_numpy(zero_copy_only=False))   # not a view: dates, nulls
    return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)
