"""Per-group confidence intervals of GroupedRootMeanSquaredError
(docs/grouped.md, docs/intervals.md).

A grouped metric built with ``interval=`` keeps, beside each key's row of
the group table, the sums its method needs (``GroupTable.extra``, moved with
the rows), folded by the kernel's ``group_units_fold`` from the units the
ungrouped metric would fold (``rmse_ext._intervals.units_of``):

- ``GroupedNormal``: per key the six moment sums of ``NormalInterval``
  (12 words: the six sums, then their compensations); a key's interval is
  ``NormalInterval``'s, read from its sums.  The units are the batch's
  squared errors but under semantics 3.3 (row means), so the grouped fold
  sums them in its own pass (``route``: IN_FOLD); row means go through
  ``group_units_fold``.  The pooled stream has a ``NormalInterval`` of its
  own, folded as ``RootMeanSquaredError`` folds it, so the overall interval
  is that metric's, bit for bit -- and while the metric has seen one key
  only, that key's sums are the pooled update's (SINGLE_KEY), so its
  interval is the ungrouped metric's bit for bit too.
- ``GroupedBootstrap``: per key the sums of ``n_boot`` replicates
  (4 * n_boot words: replicate totals, their compensations, replicate
  weight sums, theirs), each unit's Poisson weights drawn on (seed, stream,
  index in the stream) as the ungrouped bootstrap draws them; the overall
  replicates are the keys' replicate sums added up.

>>> import numpy as np
>>> from rmse_ext import GroupedRootMeanSquaredError
>>> m = GroupedRootMeanSquaredError(dtype="float64", interval="normal")
>>> m.update_state(np.zeros(6), [1.0, 2.0, 1.0, 2.0, 3.0, 5.0], groups=[0, 0, 0, 0, 1, 1])
>>> low, high = m.confidence_interval(0.95)
>>> low.round(4).tolist(), high.round(4).tolist()
([0.8959, 1.149], [2.0488, 5.7166])
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Union

import numpy as np

from . import _backend
from ._intervals import (
    BootstrapInterval, NormalInterval, Units, check_method, check_same_draws, continue_stream,
    float_list, fold_update, parse_draws, units_of,
)
from ._missing import fold_policy
from ._plan import plan_update
from ._table import GroupTable, row_seen

# units * (words touched per unit) below this stay on one thread
PARALLEL_MIN_WORK = 1 << 21

# How an update's per-key "normal" sums are folded (``route``).
IN_FOLD = "in fold"          # by the grouped fold, unit by unit, in its pass
SINGLE_KEY = "single key"    # the only key so far: the pooled update's sums
UNITS = "units"              # group_units_fold (row means; the bootstrap)


class Prepared(NamedTuple):
    """One update's units, laid out before any state changes."""
    plan: Any           # the ungrouped Plan of the update
    units: Units
    inner: int          # units per sample
    omit: bool


def prepare(t: np.ndarray, p: np.ndarray, w: Optional[np.ndarray], nan_policy: str,
            samples: int) -> Prepared:
    """The units of an update the grouped metric has accepted (the
    ungrouped metric's, in stream order, ``inner`` per sample)."""
    omit = fold_policy(nan_policy) == "omit"
    plan = plan_update(t, p, w, nan_policy=nan_policy)
    units = units_of(plan, t, p, w)
    return Prepared(plan, units, units.size // samples, omit)


def cleaned(extra: np.ndarray, half: int) -> np.ndarray:
    """Extra rows with each compensation dropped where its sum is inf or NaN."""
    if not extra.size:
        return extra.copy()
    blocks = extra.reshape(extra.shape[0], -1, 2, half).copy()
    sums, comps = blocks[:, :, 0], blocks[:, :, 1]
    comps[~np.isfinite(sums)] = 0.0
    return blocks.reshape(extra.shape)


def _hex(values: np.ndarray) -> list[str]:
    return [float(v).hex() for v in values.reshape(-1).tolist()]


class GroupedNormal:
    """Per-key moment sums, and the pooled stream's ``NormalInterval``."""

    method = "normal"
    half = 6

    def __init__(self) -> None:
        self.pooled = NormalInterval()

    @property
    def words(self) -> int:
        return 2 * self.half

    def fold(self, table: GroupTable, update: Prepared, keys: np.ndarray, base: int,
             num_threads: int, route: Optional[str] = UNITS) -> None:
        part = NormalInterval()
        fold_update(_backend.kernel.Accumulator(), update.plan, part, update.omit,
                    num_threads, lambda: update.units)
        self.pooled.merge(part)            # bitwise folding into it (from zero sums)
        if route == SINGLE_KEY:
            raw = np.array(part._moments.get_raw()).reshape(self.half, 2).T.reshape(1, -1)
            _backend.kernel.group_merge_pairs(table.extra, np.array([int(keys[0]) - base]),
                                              raw, self.half)
        elif route == UNITS:
            _fold_units(table, update, keys, base,
                        _threads(num_threads, table, update, self.words))

    def state_of(self, row: np.ndarray) -> NormalInterval:
        """One key's interval state (row: cleaned)."""
        return NormalInterval.of_raw(row.reshape(2, self.half).T.reshape(-1))

    def overall(self, extra: np.ndarray, level: float,
                estimate: Optional[float] = None) -> tuple[float, float]:
        return self.pooled.interval(level, estimate)

    def check_mergeable(self, other: Any) -> None:
        self.pooled.check_mergeable(getattr(other, "pooled", other))

    def snapshot(self) -> GroupedNormal:
        copy = GroupedNormal()
        copy.pooled = NormalInterval.from_dict(self.pooled.to_dict())
        return copy

    def merge(self, other: GroupedNormal) -> None:
        self.pooled.merge(other.pooled)

    def to_dict(self, extra: np.ndarray) -> dict[str, Any]:
        return {"method": "normal", "moments": _hex(extra), "overall": self.pooled.to_dict()}

    @classmethod
    def from_dict(cls, state: dict[str, Any], keys: int) -> tuple[GroupedNormal, np.ndarray]:
        out = cls()
        overall = state.get("overall")
        if not isinstance(overall, dict):
            raise TypeError("state['interval']['overall'] must be a dict")
        out.pooled = NormalInterval.from_dict(overall)
        values = float_list(state.get("moments"), "moments", keys * out.words)
        return out, np.array(values).reshape(keys, out.words)


class GroupedBootstrap:
    """Per-key replicate sums of the streaming Poisson bootstrap; which
    stream they draw from, and how far."""

    method = "bootstrap"

    def __init__(self, n_boot: int = 200, seed: int = 0, stream: int = 0) -> None:
        self.n_boot, self.seed, self.stream = int(n_boot), int(seed), int(stream)
        self.position = 0

    @property
    def half(self) -> int:
        return self.n_boot

    @property
    def words(self) -> int:
        return 4 * self.n_boot

    def fold(self, table: GroupTable, update: Prepared, keys: np.ndarray, base: int,
             num_threads: int, route: Optional[str] = UNITS) -> None:
        if update.units.size:
            threads = _threads(num_threads, table, update, self.words)
            _fold_units(table, update, keys, base, threads, self.n_boot, self.seed,
                        self.stream, self.position)
            self.position += update.units.size

    def state_of(self, row: np.ndarray) -> BootstrapInterval:
        """One key's interval state (row: cleaned)."""
        return BootstrapInterval.of_raw(self.n_boot, self.seed, self.stream, 0,
                                        row.reshape(4, self.n_boot).T)

    def overall(self, extra: np.ndarray, level: float,
                estimate: Optional[float] = None) -> tuple[float, float]:
        pooled = np.zeros((1, self.words))
        _backend.kernel.group_merge_pairs(pooled, np.zeros(extra.shape[0], dtype=np.int64),
                                          np.ascontiguousarray(extra), self.half)
        return self.state_of(cleaned(pooled, self.half)[0]).interval(level, estimate)

    def check_mergeable(self, other: Any) -> None:
        check_method(other, GroupedBootstrap, "bootstrap")
        check_same_draws(self, other)

    def snapshot(self) -> GroupedBootstrap:
        copy = GroupedBootstrap(self.n_boot, self.seed, self.stream)
        copy.position = self.position
        return copy

    def merge(self, other: GroupedBootstrap) -> None:
        continue_stream(self, other)

    def to_dict(self, extra: np.ndarray) -> dict[str, Any]:
        return {"method": "bootstrap", "n_boot": self.n_boot, "seed": self.seed,
                "stream": self.stream, "position": self.position, "sums": _hex(extra)}

    @classmethod
    def from_dict(cls, state: dict[str, Any], keys: int) -> tuple[GroupedBootstrap, np.ndarray]:
        n_boot, seed, stream, position = parse_draws(state)
        out = cls(n_boot, seed, stream)
        out.position = position
        values = float_list(state.get("sums"), "sums", keys * out.words)
        return out, np.array(values).reshape(keys, out.words)


GroupedInterval = Union[GroupedNormal, GroupedBootstrap]


def new_grouped(method: Optional[str], n_boot: int, seed: int,
                stream: int) -> Optional[GroupedInterval]:
    if method is None:
        return None
    return GroupedNormal() if method == "normal" else GroupedBootstrap(n_boot, seed, stream)


def grouped_from_dict(state: Any, keys: int) -> tuple[GroupedInterval, np.ndarray]:
    """``state['interval']`` of a saved grouped metric with ``keys`` keys:
    the interval and its extra rows in sorted key order."""
    if not isinstance(state, dict):
        raise TypeError(f"state['interval'] must be a dict; got {type(state).__name__}")
    if state.get("method") == "normal":
        return GroupedNormal.from_dict(state, keys)
    if state.get("method") == "bootstrap":
        return GroupedBootstrap.from_dict(state, keys)
    raise ValueError(f"state['interval']['method'] must be 'normal' or 'bootstrap'; "
                     f"got {state.get('method')!r}")


def route(interval: GroupedInterval, table: GroupTable, keys: np.ndarray, base: int,
          units_are_elements: bool) -> str:
    """How an update's per-key sums are folded (IN_FOLD, SINGLE_KEY or
    UNITS), decided before the table changes: ``keys`` the kernel keys,
    ``units_are_elements`` whether the units are the batch's squared errors
    (every layout but semantics 3.3's row means)."""
    if not isinstance(interval, GroupedNormal):
        return UNITS
    lo, hi = _backend.kernel.int_range(keys)
    if lo == hi:
        seen = np.flatnonzero(row_seen(table.rows))
        if seen.size == 0 or (seen.size == 1 and seen[0] == lo - base):
            return SINGLE_KEY
    return IN_FOLD if units_are_elements else UNITS


def key_intervals(interval: GroupedInterval, extra: np.ndarray, level: float,
                  estimates: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per extra row: each key's interval, as the ungrouped
    metric computes it from the same sums around the key's RMSE
    (``estimates``, float64; NaN where a key has too few units for one)."""
    rows = cleaned(extra, interval.half)
    keys = [None] * len(rows) if estimates is None else np.asarray(estimates).tolist()
    bounds = np.array([interval.state_of(row).interval(level, est)
                       for row, est in zip(rows, keys)], dtype=np.float64).reshape(-1, 2)
    return bounds[:, 0].copy(), bounds[:, 1].copy()


def _threads(num_threads: int, table: GroupTable, update: Prepared, words: int) -> int:
    work = update.units.size * words
    return max(1, min(num_threads, table.size, work // PARALLEL_MIN_WORK))


def _fold_units(table: GroupTable, update: Prepared, keys: np.ndarray, base: int,
                threads: int, n_boot: int = 0, seed: int = 0, stream: int = 0,
                first: int = 0) -> None:
    u = update.units
    _backend.kernel.group_units_fold(table.extra, table.size, u.t, u.p, u.w, u.cols, u.w_mode,
                                     u.w_scalar, update.omit, keys, update.inner, base,
                                     threads, n_boot, seed, stream, first)
