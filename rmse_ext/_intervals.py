"""Confidence intervals for the RMSE of a stream (docs/intervals.md).

Two interval states, built only when a metric asks for one:

- ``NormalInterval``: six compensated moment sums of the units x (squared
  errors) and weights w; the interval for the weighted mean of x is the
  normal one with the linearisation (sandwich) variance of the ratio
  sum(w*x)/sum(w), made unbiased for equal weights by the effective sample
  size n_eff = (sum w)**2 / sum(w**2); its ends are mapped through sqrt.
- ``BootstrapInterval``: a streaming Poisson bootstrap; every unit gets
  ``n_boot`` Poisson(1) replicate weights from a counter-based generator keyed
  on (seed, stream, index in the stream); the interval is the percentile one.

Units are what the main state counts: one per squared error, or one per row
mean under semantics 3.3.

>>> import numpy as np
>>> state = NormalInterval()
>>> state.fold(Units(np.zeros(4), np.array([1.0, 2.0, 1.0, 2.0]), None), omit=False)
>>> [round(v, 4) for v in state.interval(0.95)]
[0.8959, 2.0488]
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Callable, NamedTuple, Optional, Protocol

import numpy as np

from . import _backend, _parallel
from ._inputs import FLOAT64

METHODS = ("normal", "bootstrap")
UINT64_MAX = 2**64 - 1


class Units(NamedTuple):
    """The units of one update, laid out for the interval kernels: x =
    (p - t)**2 (t and p of one dtype and size, C order = stream order), or
    x = p when t is None; weights None, one ``w_scalar``, ``w`` per unit, or
    ``w`` per row of ``cols`` units (float64)."""

    t: Optional[np.ndarray]
    p: np.ndarray
    w: Optional[np.ndarray]
    cols: int = 0
    w_mode: int = _backend.WMode.NONE
    w_scalar: float = 0.0

    @property
    def size(self) -> int:
        return int(self.p.size)


def check_level(level: Any) -> float:
    """The confidence level as a float in (0, 1), else TypeError/ValueError."""
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a float in (0, 1); got {type(level).__name__}")
    value = float(level)
    if not 0.0 < value < 1.0:
        raise ValueError(f"level must be in (0, 1); got {value}")
    return value


def check_settings(method: Any, n_boot: Any, seed: Any, stream: Any = 0) -> None:
    """The interval arguments of a metric or function; TypeError/ValueError
    naming the argument."""
    if method not in METHODS:
        raise ValueError(f"interval method must be one of {METHODS}; got {method!r}")
    for name, value, low, high in (("n_boot", n_boot, 2, 1 << 20),
                                   ("seed", seed, 0, UINT64_MAX),
                                   ("stream", stream, 0, UINT64_MAX)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int; got {type(value).__name__}")
        if not low <= int(value) <= high:
            raise ValueError(f"{name} must be in [{low}, {high}]; got {value}")


def float_list(values: Any, key: str, size: int) -> list[float]:
    """``state['interval'][key]``: ``size`` float.hex() strings, as floats."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"state['interval'][{key!r}] must be a list of float.hex() strings")
    if len(values) != size:
        raise ValueError(f"state['interval'][{key!r}] must hold {size} floats")
    try:
        return [float.fromhex(v) for v in values]
    except ValueError:
        raise ValueError(f"state['interval'][{key!r}] holds a non-float.hex() string") from None


def _sum(raw: Any, k: int) -> float:
    """Moment sum k of a raw (hi, lo) * 6 tuple, as one float."""
    hi, lo = float(raw[2 * k]), float(raw[2 * k + 1])
    return hi + lo if math.isfinite(hi) else hi


def normalized(raw: Any) -> list[float]:
    """The (hi, lo) pairs of ``raw`` with hi = fl(hi + lo) and lo its exact
    error (TwoSum): one spelling per value, so a read-out of the pairs
    depends on the sums only, not on how a batch split left them (issue 18:
    the same bits in any split)."""
    out = []
    for k in range(len(raw) // 2):
        hi, lo = float(raw[2 * k]), float(raw[2 * k + 1])
        s = hi + lo
        if not math.isfinite(s):
            out += [hi if not math.isfinite(hi) else s, 0.0]
            continue
        z = s - hi
        out += [s, (hi - (s - z)) + (lo - z)]
    return out


def relative_se(raw: Any) -> tuple[float, float]:
    """``(mean, se / mean)``: the weighted mean of the units and its standard
    error relative to it, read from the six moment sums (hi, lo pairs).

    The spread sum w**2 (x - mean)**2 is formed scaled by the mean --
    S5 / mean**2 - 2 S4 / mean + S3 -- so no product in the read-out
    overflows or underflows while the sums themselves are finite; it is 0
    when it lies within the sums' own rounding bound (32 u per term:
    docs/intervals.md), so equal units give exactly 0.  A spread that
    cannot be known -- sum w**2 x**2 overflowed (units above ~1e154), or
    underflowed so far (units below ~1e-154) that the sums contradict each
    other -- is inf: the interval is then (0, inf), never an exception.
    NaN where there are no units, or too few (n_eff <= 1), or a NaN."""
    raw = normalized(raw)
    w, wx, w2 = _sum(raw, 0), _sum(raw, 1), _sum(raw, 3)
    if not (w > 0.0 and w2 > 0.0) or math.isnan(wx):
        return math.nan, math.nan
    mean = wx / w
    n_eff = w / w2 * w
    if not n_eff > 1.0 or math.isnan(mean):
        return mean, math.nan
    if mean == 0.0 or math.isinf(mean):      # no spread to speak of / an infinite RMSE
        return mean, 0.0
    terms = [raw[10] / mean / mean, raw[11] / mean / mean, -2.0 * (raw[8] / mean),
             -2.0 * (raw[9] / mean), raw[6], raw[7]]
    if not all(math.isfinite(t) for t in terms):
        return mean, math.inf
    spread = math.fsum(terms)
    bound = 32.0 * 2.0**-53 * (abs(terms[0]) + abs(terms[2]) + abs(terms[4]))
    if abs(spread) <= bound:
        spread = 0.0
    elif spread < 0.0:                       # the sums lost their squares
        return mean, math.inf
    variance = spread / w / w * n_eff / (n_eff - 1.0)
    return mean, math.sqrt(variance)


def normal_bounds(estimate: float, se: float, level: float) -> tuple[float, float]:
    """The normal interval for the RMSE ``estimate`` whose mean squared error
    has the relative standard error ``se``: ``estimate * sqrt(1 -+ z se)``
    (the lower end clipped at 0), so it always contains the estimate, and
    is exactly ``(estimate, estimate)`` when ``se`` is 0; (inf, inf) for an
    infinite estimate, (nan, nan) when either is NaN."""
    if math.isnan(estimate) or math.isnan(se):
        return math.nan, math.nan
    if math.isinf(estimate):
        return math.inf, math.inf
    half = NormalDist().inv_cdf(0.5 + level / 2.0) * se
    return estimate * math.sqrt(max(1.0 - half, 0.0)), estimate * math.sqrt(1.0 + half)


class NormalInterval:
    """The moment sums of the "normal" interval."""

    method = "normal"

    def __init__(self) -> None:
        self._moments = _backend.kernel.Moments()

    def fold(self, units: Units, omit: bool) -> None:
        """Fold spelled-out units."""
        self._moments.fold(units.t, units.p, units.w, units.cols, units.w_mode,
                           units.w_scalar, 0, units.size, omit)

    def fold_rows(self, batch: Any, rows: np.ndarray) -> None:
        """Fold the chunk rows of a kernel batch built with moments=True."""
        self._moments.fold_rows(batch, rows)

    def merge(self, other: NormalInterval) -> None:
        self._moments.merge(other._moments)

    def check_mergeable(self, other: Any) -> None:
        check_method(other, NormalInterval, "normal")

    def estimate_and_se(self) -> tuple[float, float]:
        """The weighted mean of the units and its standard error *relative to
        that mean* (scale-free: see relative_se)."""
        return relative_se(self._moments.get_raw())

    def interval(self, level: float, estimate: Optional[float] = None) -> tuple[float, float]:
        """``(low, high)`` around ``estimate`` (the metric's RMSE, float64;
        None: the root of the units' mean), which it always contains."""
        mean, se = self.estimate_and_se()
        if estimate is None:
            estimate = math.sqrt(mean) if mean >= 0.0 else math.nan
        return normal_bounds(estimate, se, level)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "normal",
                "moments": [float(v).hex() for v in self._moments.get_raw()]}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> NormalInterval:
        return cls.of_raw(float_list(state.get("moments"), "moments", 12))

    @classmethod
    def of_raw(cls, raw: Any) -> NormalInterval:
        """A state holding ``raw``: (hi, lo) of each of the six sums, flat."""
        out = cls()
        out._moments.set_raw([float(v) for v in raw])
        return out


class BootstrapInterval:
    """The replicate sums of the streaming Poisson bootstrap.

    ``stream`` identifies this partition of the data: units are keyed on
    (seed, stream, position), ``position`` counting every unit this stream
    was given.  Partitions merged into one state must use distinct streams.
    """

    method = "bootstrap"

    def __init__(self, n_boot: int = 200, seed: int = 0, stream: int = 0) -> None:
        self.n_boot, self.seed, self.stream = int(n_boot), int(seed), int(stream)
        self.position = 0
        self._sums = _backend.kernel.Bootstrap(self.n_boot, self.seed, self.stream)

    def fold(self, units: Units, omit: bool) -> None:
        if units.size:
            self._sums.fold(units.t, units.p, units.w, units.cols, units.w_mode,
                            units.w_scalar, self.position, omit)
            self.position += units.size

    def check_mergeable(self, other: Any) -> None:
        check_method(other, BootstrapInterval, "bootstrap")
        check_same_draws(self, other)

    def merge(self, other: BootstrapInterval) -> None:
        """Add ``other``'s replicate sums.  An empty metric of the same stream
        takes over its position (it continues that stream)."""
        self._sums.merge(other._sums)
        continue_stream(self, other)

    def replicates(self) -> np.ndarray:
        """The replicate RMSEs (NaN for a replicate that drew no unit)."""
        return np.asarray(self._sums.replicates())

    def interval(self, level: float, estimate: Optional[float] = None) -> tuple[float, float]:
        """The percentile interval of the replicates; with the metric's
        ``estimate`` it contains it (bootstrap_bounds)."""
        return bootstrap_bounds(self.replicates(), self._sums.get_raw()[:, 0], level, estimate)

    def to_dict(self) -> dict[str, Any]:
        raw = self._sums.get_raw()
        return {"method": "bootstrap", "n_boot": self.n_boot, "seed": self.seed,
                "stream": self.stream, "position": self.position,
                "sums": [float(v).hex() for v in raw.reshape(-1)]}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BootstrapInterval:
        n_boot, seed, stream, position = parse_draws(state)
        values = float_list(state.get("sums"), "sums", 4 * n_boot)
        return cls.of_raw(n_boot, seed, stream, position,
                          np.array(values, dtype=FLOAT64).reshape(-1, 4))

    @classmethod
    def of_raw(cls, n_boot: int, seed: int, stream: int, position: int,
               raw: np.ndarray) -> BootstrapInterval:
        """A state holding ``raw``, the (n_boot, 4) replicate sums (total hi,
        lo, weight hi, lo per replicate)."""
        out = cls(n_boot, seed, stream)
        out.position = position
        out._sums.set_raw(np.ascontiguousarray(raw, dtype=FLOAT64))
        return out


# a replicate this close to the estimate (relative) is the estimate: the
# replicate sums are exact to ~1024 u (blocks of 1024 float64 terms)
REPLICATE_TOLERANCE = 2.0**-40


def bootstrap_bounds(reps: np.ndarray, totals: np.ndarray, level: float,
                     estimate: Optional[float] = None) -> tuple[float, float]:
    """The percentile interval of the replicate RMSEs ``reps`` (NaN: a
    replicate that drew no unit); (nan, nan) once a total is NaN.  With the
    metric's ``estimate``: (inf, inf) when it is infinite, replicates within
    REPLICATE_TOLERANCE of it read as it (equal units give exactly
    ``(estimate, estimate)``), and the interval is widened to contain it."""
    if estimate is not None and math.isinf(estimate):
        return math.inf, math.inf
    if np.isnan(reps).all() or np.isnan(totals).any():
        return math.nan, math.nan
    reps = reps[~np.isnan(reps)]
    if estimate is not None:
        reps = np.where(np.abs(reps - estimate) <= REPLICATE_TOLERANCE * estimate, estimate, reps)
    low, high = (float(v) for v in np.quantile(reps, [(1.0 - level) / 2.0, (1.0 + level) / 2.0]))
    if estimate is not None and not math.isnan(estimate):
        low, high = min(low, estimate), max(high, estimate)
    return low, high


class Draws(Protocol):
    """Who draws bootstrap weights: from which generator, up to where."""
    n_boot: int
    seed: int
    stream: int
    position: int


def parse_draws(state: dict[str, Any]) -> tuple[int, int, int, int]:
    """(n_boot, seed, stream, position) of a saved bootstrap state, checked."""
    for key in ("n_boot", "seed", "stream", "position"):
        if key not in state:
            raise ValueError(f"state['interval'] is missing the key {key!r}")
    check_settings("bootstrap", state["n_boot"], state["seed"], state["stream"])
    position = state["position"]
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise ValueError("state['interval']['position'] must be an int >= 0")
    return int(state["n_boot"]), int(state["seed"]), int(state["stream"]), position


def check_method(other: Any, kind: type, method: str) -> None:
    """ValueError unless ``other`` is interval state of ``kind`` (the one a
    metric built with ``interval=method`` holds)."""
    if not isinstance(other, kind):
        raise ValueError(f"cannot merge a metric with interval="
                         f"{getattr(other, 'method', None)!r} into one with "
                         f"interval={method!r}")


def check_same_draws(mine: Draws, other: Draws) -> None:
    """ValueError unless ``other``'s replicate sums can be added to
    ``mine``: the same n_boot and seed, and not both drawn from one stream."""
    if (other.n_boot, other.seed) != (mine.n_boot, mine.seed):
        raise ValueError(
            f"cannot merge a bootstrap with n_boot={other.n_boot}, seed={other.seed} "
            f"into one with n_boot={mine.n_boot}, seed={mine.seed}")
    if other.stream == mine.stream and other.position and mine.position:
        raise ValueError(
            f"both metrics drew bootstrap weights from stream {mine.stream}: give each "
            f"partition its own stream= id (docs/intervals.md)")


def continue_stream(mine: Draws, other: Draws) -> None:
    """After a merge: an empty state of ``other``'s stream continues it."""
    if other.stream == mine.stream and not mine.position:
        mine.position = other.position


IntervalState = NormalInterval | BootstrapInterval


def new_state(method: str, n_boot: int, seed: int, stream: int) -> IntervalState:
    if method == "normal":
        return NormalInterval()
    return BootstrapInterval(n_boot, seed, stream)


def state_from_dict(state: Any) -> IntervalState:
    """Parse ``state['interval']`` of a saved metric."""
    if not isinstance(state, dict):
        raise TypeError(f"state['interval'] must be a dict; got {type(state).__name__}")
    if state.get("method") == "normal":
        return NormalInterval.from_dict(state)
    if state.get("method") == "bootstrap":
        return BootstrapInterval.from_dict(state)
    raise ValueError(f"state['interval']['method'] must be one of {METHODS}; "
                     f"got {state.get('method')!r}")


# -- the units of one update ---------------------------------------------------------

def _same_dtype(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if t.dtype == p.dtype:
        return t, p
    return (np.ascontiguousarray(t, dtype=FLOAT64), np.ascontiguousarray(p, dtype=FLOAT64))


def _float64(w: Optional[np.ndarray]) -> Optional[np.ndarray]:
    return None if w is None else np.ascontiguousarray(w, dtype=FLOAT64)


def units_of(plan: Any, y_true: Any, y_pred: Any, sample_weight: Any) -> Units:
    """The units of an update that ``plan`` (from ``plan_update``) lays out:
    read in place for the common layouts (y_true full, weights none, one,
    full or per row), else spelled out from the inputs in stream order.
    Under the exact-integer policies the plan's operands are the exact
    difference's two terms (rmse_ext._plan.exact_operands), so p - t is the
    exact difference rounded once, as for float inputs."""
    if not plan.size:
        return Units(None, np.empty(0), None)
    if (not plan.averaged and plan.t_mode == _backend.TMode.FULL_T and plan.repeat == 1
            and plan.w_mode in (_backend.WMode.NONE, _backend.WMode.SCALAR,
                                _backend.WMode.FULL, _backend.WMode.PER_ROW)):
        t, p = _same_dtype(plan.t, plan.p)
        return Units(t, p, _float64(plan.w), plan.run, plan.w_mode, plan.w_scalar)
    return full_units(y_true, y_pred, sample_weight, plan.omits)


def full_units(y_true: Any, y_pred: Any, sample_weight: Any, omit: bool = False) -> Units:
    """The units spelled out in stream order, on the layout the resolver
    gives (rmse_ext._rules): every operand broadcast to the squared errors'
    shape, or under semantics 3.3 the row means with their weights -- one
    unit per row under every policy; with ``omit`` a row's mean is over its
    kept elements (NaN, so omitted, when none is kept), as the main fold
    averages it.  Only called after ``plan_update`` accepted the inputs."""
    from ._inputs import as_array, as_operand
    from ._plan import exact_operands
    from ._rules import resolve
    t, p = as_array(y_true, "y_true"), as_array(y_pred, "y_pred")     # integers unrounded
    w = None if sample_weight is None else as_operand(sample_weight, "sample_weight")
    layout = resolve(t.shape, p.shape, None if w is None else w.shape)
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    shape = layout.shape
    if w is not None:
        w = w.reshape(layout.w_shape)
    if w is not None and layout.keep is not None and layout.w_out_shape is not None:
        tail = shape[layout.keep:]
        rows = layout.w_out_shape + tail
        t_rows, p_rows, _ = exact_operands(np.broadcast_to(t, rows), np.broadcast_to(p, rows),
                                           rows, _backend.Policy.PROPAGATE)
        t_rows, p_rows = np.asarray(t_rows, FLOAT64), np.asarray(p_rows, FLOAT64)
        squares = ((p_rows - t_rows) ** 2).reshape(layout.w_out_shape + (-1,))
        if omit:
            missing = (np.isnan(t_rows) | np.isnan(p_rows)).reshape(squares.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                x = np.where(missing, 0.0, squares).sum(axis=-1) / (~missing).sum(axis=-1)
        else:
            x = squares.mean(axis=-1)
        return Units(None, np.ascontiguousarray(x, dtype=FLOAT64),
                     _float64(np.broadcast_to(w, layout.w_out_shape)), 0, _backend.WMode.FULL)
    t, p, _ = exact_operands(np.broadcast_to(t, shape), np.broadcast_to(p, shape), shape,
                             _backend.Policy.PROPAGATE)
    t, p = _same_dtype(as_operand(t, "y_true"), as_operand(p, "y_pred"))
    if w is None:
        return Units(t, p, None)
    return Units(t, p, _float64(np.broadcast_to(w, shape)), 0, _backend.WMode.FULL)


def fold_update(acc: Any, plan: Any, state: IntervalState, omit: bool, num_threads: int,
                units: Callable[[], Units]) -> None:
    """Apply ``plan`` to the accumulator and fold the update's units (made
    by ``units()`` when needed) into the interval state.  The "normal"
    interval of an update whose units are its squared errors (every layout
    but semantics 3.3's row means) rides the main fold: the kernel sums the
    moments in the same pass over the operands, on the same threads, and
    the main state gets bitwise what ``plan.apply`` gives."""
    if isinstance(state, NormalInterval) and not plan.averaged:
        if plan.p is not None:
            batch = plan.batch_for(acc, moments=True)
            rows = _parallel.chunk_rows(batch, num_threads)
            acc.fold_partials(batch, rows)
            state.fold_rows(batch, rows)
        return
    plan.apply(acc, num_threads)
    state.fold(units(), omit)
