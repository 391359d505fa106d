"""GroupedRootMeanSquaredError: the same Keras rules, one state per key.

``update_state(y_true, y_pred, groups, sample_weight=None)`` applies the
rules of ``RootMeanSquaredError`` (semantics 2-4, through the same resolver:
same errors, state unchanged on bad input) and sends every element of a
sample -- the first axis of the squared errors; for 1-D data, each element --
to the group of that sample's key.  Keys are read by ``rmse_ext._keys``
(integers of any width, bools, strings, bytes, datetimes; NumPy, pandas,
pyarrow, polars); a missing key is an error.

>>> m = GroupedRootMeanSquaredError()
>>> m.update_state([2, 4, 6, 8], [1, 3, 2, 3], groups=["a", "b", "a", "b"])
>>> m.keys().tolist(), m.result().tolist()
(['a', 'b'], [2.915475845336914, 3.605551242828369])
>>> print(m.overall())
3.2787192
"""
from __future__ import annotations

from functools import lru_cache
from math import prod
from typing import Any, Iterable, NamedTuple, Optional, Union

import numpy as np

from . import _backend, _grouped_intervals, _missing, _outputs, _state
from ._backend import Policy, TMode, WMode
from ._inputs import FLOAT32, FLOAT64, as_operand, kernel_dtype
from ._keys import KeyBatch, check_kind, is_kind, keys_from_json, keys_to_json, read_keys
from ._plan import (
    exact_operands, kept_row_weights, lay_out,
    read_numbers, unbroadcast,
)
from ._rules import Layout, resolve
from ._settings import MetricSettings, resolve_dtype
from ._table import GroupTable, ROW_WORDS, row_counts, row_omitted, row_seen

STATE_FORMAT = "rmse_ext.grouped_state/1"
# batches below this many elements stay on one thread
PARALLEL_MIN_SIZE = 1 << 20


class GroupedPlan(NamedTuple):
    """One checked grouped update: the kernel Batch and how samples lie in it."""
    batch: Any              # a kernel Batch (no repeat, divisor or fixed count)
    inner: int              # elements of the batch per sample
    elements: int           # squared-error elements per sample
    divisor: int            # semantics 3.3: totals / divisor (row means)
    count_weights: Optional[np.ndarray]   # 3.3: the weights as given, one row per sample


def common_dtype(*arrays: Optional[np.ndarray]) -> np.dtype[Any]:
    """float32 when every operand reads as float32, else float64 (exact)."""
    names = ("y_true", "y_pred", "sample_weight")
    kinds = {kernel_dtype(a.dtype, n) for a, n in zip(arrays, names) if a is not None}
    return FLOAT32 if kinds == {FLOAT32} else FLOAT64


def operand(a: np.ndarray, dtype: np.dtype[Any], name: str) -> np.ndarray:
    return as_operand(np.asarray(a, dtype=dtype) if a.dtype != dtype else a, name)


def plan_grouped(layout: Layout, t: np.ndarray, p: np.ndarray, w: Optional[np.ndarray],
                 policy: int = Policy.PROPAGATE) -> GroupedPlan:
    """The kernel layout of a resolved, non-empty update, as the ungrouped
    planner lays one out (``lay_out``), except that every sample's elements
    stay together (no axis is folded into a repeat factor) and the operands
    share one dtype."""
    kernel = _backend.kernel
    shape = layout.shape
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    if w is not None:
        w = w.reshape(layout.w_shape)
    elements = layout.size // layout.samples
    if layout.keep is not None:
        return averaged_plan(layout, t, p, w, elements, policy)
    t, p, policy = exact_operands(t, p, shape, policy)     # semantics 5: exact integers
    dtype = common_dtype(t, p, w)
    t, p = operand(unbroadcast(t), dtype, "y_true"), operand(unbroadcast(p), dtype, "y_pred")
    if w is not None:
        w = operand(unbroadcast(w), dtype, "sample_weight")
    t, p, w, t_mode, w_mode, w_scalar, run = lay_out(t, p, w, shape)
    batch = kernel.Batch(t, p, w, t_mode, w_mode, w_scalar, run, policy=policy)
    return GroupedPlan(batch, elements, elements, 1, None)


def averaged_plan(layout: Layout, t: np.ndarray, p: np.ndarray, w: Optional[np.ndarray],
                  elements: int, policy: int = Policy.PROPAGATE) -> GroupedPlan:
    """Semantics 3.3 per group: each sample's rows averaged, times their
    weights; the count grows by the sample's weights as given.  Weights that
    do not run along the sample axis cannot be shared out among groups."""
    assert w is not None and layout.keep is not None and layout.w_out_shape is not None
    samples = layout.samples
    if w.shape[0] != samples:
        raise ValueError(
            f"sample_weight of shape {w.shape} is averaged against squared errors "
            f"of shape {layout.shape} (semantics 3.3) but does not run along their "
            f"{samples} samples, so its count cannot be split among groups: give "
            f"one weight row per sample"
        )
    tail = layout.shape[layout.keep:]
    rows_shape = layout.w_out_shape + tail
    t_rows, p_rows = (np.broadcast_to(a, rows_shape) for a in (t, p))
    kept = (kept_row_weights(t_rows, p_rows, np.broadcast_to(w, layout.w_out_shape), w)
            if policy == Policy.OMIT else None)
    if kept is not None:              # something missing: rows averaged over what is kept
        t_rows, p_rows, policy = exact_operands(t_rows, p_rows, rows_shape, policy)
        t_rows, p_rows = (operand(a, FLOAT64, name) for a, name in
                          ((t_rows, "y_true"), (p_rows, "y_pred")))
        batch = _backend.kernel.Batch(t_rows, p_rows, kept[0].reshape(-1), TMode.FULL_T,
                                      WMode.FULL, policy=policy)
        return GroupedPlan(batch, p_rows.size // samples, elements, 1,
                           kept[1].reshape(samples, -1))
    t_rows, p_rows, policy = exact_operands(t_rows, p_rows, rows_shape, policy)
    t_rows, p_rows = (operand(a, FLOAT64, name) for a, name in
                      ((t_rows, "y_true"), (p_rows, "y_pred")))
    w_rows = operand(np.broadcast_to(w, layout.w_out_shape), FLOAT64, "sample_weight")
    counts = operand(w, FLOAT64, "sample_weight").reshape(samples, -1)
    batch = _backend.kernel.Batch(t_rows, p_rows, w_rows.reshape(-1), TMode.FULL_T,
                                  WMode.PER_ROW, 0.0, prod(tail), policy=policy)
    return GroupedPlan(batch, p_rows.size // samples, elements, prod(tail), counts)


@lru_cache(maxsize=8)
def every_row(size: int) -> np.ndarray:
    """``arange(size)`` as int64 slots (read-only, shared)."""
    rows = np.arange(size, dtype=np.int64)
    rows.flags.writeable = False
    return rows


def fold_plan(table: GroupTable, plan: GroupedPlan, keys: np.ndarray, base: int,
              num_threads: int, moments: bool = False, ascending: bool = False) -> None:
    """Fold a plan into the table's rows (the kernel keys already admitted);
    with ``moments`` each element's "normal" interval unit into its key's
    extra row too, in the same pass (not for semantics 3.3's row means);
    ``ascending``: the keys are known never to decrease (runs found by
    bisection, the same runs)."""
    if plan.count_weights is not None:
        assert not moments
        fold_averaged(table, plan, keys, base)
        return
    batch = _backend.kernel.GroupedBatch(plan.batch, keys, plan.inner, base,
                                         table.extra if moments else None, ascending)
    threads = min(num_threads, table.size, plan.batch.size // (PARALLEL_MIN_SIZE // 2) or 1)
    if not ascending:
        # Threads split the rows and each reads every key (same bits for any
        # count); unsorted keys make that scan cost more than the split saves:
        # 1e7 float64, 1e3 random keys, 2 threads 4.5x slower than 1 (Zen 4,
        # load 1), so only keys in runs are split (sorted 1e3: 1.5x faster).
        threads = 1
    if threads <= 1:
        batch.fold(table.rows)
    else:   # the pool's threads split the rows, never the elements: the same bits
        batch.fold_threaded(table.rows, table.size, threads)


def fold_averaged(table: GroupTable, plan: GroupedPlan, keys: np.ndarray, base: int) -> None:
    """Semantics 3.3: sum(w_row * rowsum) per group, divided by the row
    length; the weights as given into the count; the elements counted."""
    kernel = _backend.kernel
    part = np.zeros_like(table.rows)
    kernel.GroupedBatch(plan.batch, keys, plan.inner, base).fold(part)
    assert plan.count_weights is not None
    given = plan.count_weights.reshape(-1)
    zeros = np.zeros_like(given)
    weights = np.zeros_like(table.rows)
    kernel.GroupedBatch(kernel.Batch(zeros, zeros, given, TMode.FULL_T, WMode.FULL),
                        keys, given.size // len(keys), base).fold(weights)
    slots = np.flatnonzero(row_seen(part))
    # the rows read may outnumber the squared errors (weights wider than a
    # kept axis of 1): count each sample's own elements (omitted ones stay
    # counted as read)
    read = row_counts(part)[slots, 1]
    row_counts(part)[slots, 1] = read // plan.inner * plan.elements + \
        read % plan.inner * plan.elements // plan.inner
    kernel.group_divide(part, slots, float(plan.divisor))
    part[slots, 2:4] = weights[slots, 2:4]
    kernel.group_merge(table.rows, slots, np.ascontiguousarray(part[slots]))


class GroupedRootMeanSquaredError(MetricSettings):
    """Streaming RMSE per group, with tf.keras's rules and the exact overall.

    ``update_state(y_true, y_pred, groups, sample_weight=None)``: ``groups``
    holds one key per sample.  Read-outs are in sorted key order: ``keys()``,
    ``result()`` (per-group RMSE, of ``dtype``), ``counts()`` (per-group
    weight sums; element counts when unweighted), ``elements()`` (per-group
    element counts, int64) and ``overall()`` (every element pooled exactly:
    ``RootMeanSquaredError`` on the same stream).

    >>> m = GroupedRootMeanSquaredError(dtype="float64")
    >>> m.update_state([0, 0, 0], [1, 2, 2], groups=[7, 9, 9])
    >>> m.to_dict()
    {7: 1.0, 9: 2.0}
    >>> m.counts().tolist(), float(m.overall()) == (9 / 3) ** 0.5
    ([1.0, 2.0], True)

    ``multioutput`` as on ``RootMeanSquaredError`` (docs/semantics.md,
    "Per-output results"): per group, one RMSE per output (``result()`` of
    shape (groups, outputs) for ``'raw_values'``) or their average.

    >>> m = GroupedRootMeanSquaredError(dtype="float64", multioutput="raw_values")
    >>> m.update_state([[0, 0], [0, 0]], [[1, 2], [3, 4]], groups=["a", "b"])
    >>> m.result().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """

    def __init__(self, name: str = "grouped_root_mean_squared_error", dtype: Any = None,
                 num_threads: Optional[int] = 1, *, nan_policy: str = "propagate",
                 interval: Optional[str] = None, n_boot: int = 200, seed: int = 0,
                 stream: int = 0, multioutput: Any = None) -> None:
        super().__init__(name, dtype, num_threads, nan_policy)
        self._set_interval_args(interval, n_boot, seed, stream)
        self._set_multioutput(multioutput)
        self._interval = _grouped_intervals.new_grouped(*self._interval_args)
        self._table = self._new_table()
        # multioutput: one grouped metric per output (None before the first update)
        self._parts: Optional[list[GroupedRootMeanSquaredError]] = self._new_parts()

    def _new_parts(self, outputs: Optional[int] = None
                   ) -> Optional[list[GroupedRootMeanSquaredError]]:
        if isinstance(self._multioutput, np.ndarray) and outputs is None:
            outputs = self._multioutput.size
        if self._multioutput is None or outputs is None:
            return None
        return [GroupedRootMeanSquaredError(self._name, self._dtype, self._num_threads,
                                            nan_policy=self._nan_policy)
                for _ in range(outputs)]

    def _new_table(self) -> GroupTable:
        return GroupTable(0 if self._interval is None else self._interval.words)

    # -- updates ---------------------------------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, groups: Any,
                     sample_weight: Any = None) -> None:
        """Fold one batch, each sample into its key's group.  Bad input
        raises TypeError/ValueError and changes nothing (no key is added).
        Under nan_policy='omit' an element whose y_true, y_pred or weight
        is missing leaves its group's sums and is counted in ``omitted()``."""
        t, p, w = _missing.read_operands(self._nan_policy, read_numbers, y_true, y_pred,
                                         sample_weight)
        layout = resolve(t.shape, p.shape, None if w is None else w.shape)
        self._update_read(t, p, read_keys(groups, layout.samples), w, layout)

    def _update_read(self, t: np.ndarray, p: np.ndarray, keys: KeyBatch,
                     w: Optional[np.ndarray], layout: Optional[Layout] = None) -> None:
        """``update_state`` of operands and keys already read (``read_numbers``,
        ``read_keys``): several metrics over the same rows -- one per model
        in ``rmse_ext.evaluate`` -- share one read of the keys."""
        if layout is None:
            layout = resolve(t.shape, p.shape, None if w is None else w.shape)
        self._table.check(keys)
        if self._multioutput is not None:
            self._fold_outputs(layout, t, p, w, keys)
            return
        if layout.size == 0:                                       # semantics 4
            return
        policy = _missing.kernel_policy(self._nan_policy)
        plan = plan_grouped(layout, t, p, w, policy)
        units = None if self._interval is None else _grouped_intervals.prepare(
            t, p, w, self._nan_policy, layout.samples)
        self._fold(plan, keys, units)

    def _fold_outputs(self, layout: Layout, t: np.ndarray, p: np.ndarray,
                      w: Optional[np.ndarray], keys: KeyBatch) -> None:
        """multioutput: each output's slice into its own grouped metric,
        the keys read once; everything checked before the first fold."""
        if layout.keep is not None:
            raise ValueError("multioutput= on the grouped metric takes weights that "
                             "broadcast (semantics 3.2), not averaged ones (3.3)")
        d = _outputs.outputs_of(layout.shape)
        known = None if self._parts is None else len(self._parts)
        if known is not None and d != known and layout.size:
            raise ValueError(
                f"this metric has {known} output(s) (multioutput=); a batch whose squared "
                f"errors have shape {layout.shape} has {d}")
        if self._parts is not None:
            self._parts[0]._table.check(keys)
        if layout.size == 0:                                       # semantics 4
            return
        policy = _missing.kernel_policy(self._nan_policy)
        if len(layout.shape) < 2:
            plans = [plan_grouped(layout, t, p, w, policy)]
        else:
            full = [np.broadcast_to(a.reshape(s), layout.shape) for a, s in
                    ((t, layout.t_shape), (p, layout.p_shape))]
            w_full = None if w is None else np.broadcast_to(w.reshape(layout.w_shape),
                                                             layout.shape)
            slices: list[list[Any]] = [[np.ascontiguousarray(a[..., j]) for a in full] +
                      [None if w_full is None else np.ascontiguousarray(w_full[..., j])]
                      for j in range(d)]
            plans = [plan_grouped(resolve(ts.shape, ps.shape, None if ws is None else ws.shape),
                                  ts, ps, ws, policy) for ts, ps, ws in slices]
        if self._parts is None:
            self._parts = self._new_parts(d)
        assert self._parts is not None
        for part, plan in zip(self._parts, plans):
            part._fold(plan, keys)
        self._table.kind = self._parts[0]._table.kind

    def _fold(self, plan: GroupedPlan, keys: KeyBatch,
              units: Optional[_grouped_intervals.Prepared] = None) -> None:
        kernel_keys, base, ascending = self._table.admit_sorted(keys)
        route = None if self._interval is None else _grouped_intervals.route(
            self._interval, self._table, kernel_keys, base, plan.count_weights is None)
        fold_plan(self._table, plan, kernel_keys, base, self._num_threads,
                  moments=route is _grouped_intervals.IN_FOLD, ascending=ascending)
        if self._interval is not None:
            assert units is not None
            self._interval.fold(self._table, units, kernel_keys, base, self._num_threads, route)

    def __call__(self, y_true: Any, y_pred: Any, groups: Any,
                 sample_weight: Any = None) -> np.ndarray:
        """``update_state(...)``, then the running ``result()``."""
        self.update_state(y_true, y_pred, groups, sample_weight)
        return self.result()

    def reset_state(self) -> None:
        """Back to the empty state (no keys)."""
        self._interval = _grouped_intervals.new_grouped(*self._interval_args)
        self._table = self._new_table()
        self._parts = self._new_parts()

    def reset_states(self) -> None:
        self.reset_state()

    # -- read-outs (sorted key order) ---------------------------------------------------

    def keys(self) -> np.ndarray:
        """The keys seen so far, sorted."""
        if self._parts is not None:
            return self._parts[0].keys()
        return self._table.present()[1]

    @property
    def key_kind(self) -> Optional[str]:
        """The kind of key the metric holds ('int', 'bool', 'str', 'bytes',
        'datetime64[unit]' or 'timedelta64[unit]'; docs/semantics.md 8.7),
        None before its first key: the engines check new keys against it
        before any work is sent out."""
        return self._table.kind

    def _per_output(self, read: Any, combine: bool = False) -> Any:
        """multioutput: ``read(part)`` of every output's metric as the last
        axis; ``combine``: as multioutput asks (the average for
        'uniform_average' and output weights)."""
        parts = self._parts or []
        if not parts:
            values = np.zeros((len(self.keys()), 0))
        else:
            values = np.stack([np.asarray(read(part)) for part in parts], axis=-1)
        if not combine or (isinstance(self._multioutput, str)
                           and self._multioutput == "raw_values"):
            return values.astype(self._result_dtype) if combine else values
        if values.shape[-1] == 0:
            return np.zeros(values.shape[:-1], self._result_dtype)
        weights = self._multioutput if isinstance(self._multioutput, np.ndarray) else None
        return np.average(values, axis=-1, weights=weights).astype(self._result_dtype)

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        slots = self._table.present()[0]
        result, count = np.empty(len(slots)), np.empty(len(slots))
        _backend.kernel.group_read(self._table.rows, slots, result, count)
        return result, count

    def result(self) -> np.ndarray:
        """Per-group ``sqrt(total / count)`` of ``dtype``: 0 where the count
        is 0, but NaN where it is 0 because every element was omitted."""
        if self._multioutput is not None:
            per_output: np.ndarray = self._per_output(
                lambda part: part.result().astype(np.float64), True)
            return per_output
        result, count = self._read()
        out: np.ndarray = _missing.nan_if_all_omitted(result, count, self.omitted())
        return out.astype(self._result_dtype)

    def counts(self) -> np.ndarray:
        """Per-group weight sums (element counts when unweighted), float64
        (multioutput: one column per output)."""
        if self._multioutput is not None:
            counts: np.ndarray = self._per_output(lambda part: part.counts())
            return counts
        return self._read()[1]

    def elements(self) -> np.ndarray:
        """Per-group numbers of squared-error elements, int64 (omitted ones
        not included; multioutput: one column per output)."""
        if self._multioutput is not None:
            elements: np.ndarray = self._per_output(lambda part: part.elements())
            return elements
        counts: np.ndarray = row_counts(self._table.rows)[self._table.present()[0]]
        return np.asarray(counts.sum(axis=1), dtype=np.int64)

    def omitted(self) -> np.ndarray:
        """Per-group numbers of elements nan_policy='omit' left out, int64
        (multioutput: one column per output)."""
        if self._multioutput is not None:
            omitted: np.ndarray = self._per_output(lambda part: part.omitted())
            return omitted
        return np.array(row_omitted(self._table.rows)[self._table.present()[0]])

    def overall(self) -> np.floating[Any]:
        """The RMSE of every element pooled exactly (not a mean of the
        groups' RMSEs), as a scalar of ``dtype`` (multioutput: per output,
        then as asked)."""
        if self._multioutput is not None:
            overall: np.floating[Any] = self._per_output(
                lambda part: part.overall().astype(np.float64), True)
            return overall
        acc = _backend.kernel.Accumulator()
        acc.set_raw(*self._pooled_raw())
        value: np.floating[Any] = _missing.result_of(acc, self._result_dtype)
        return value

    def overall_count(self) -> float:
        """The pooled weight sum (the element count when unweighted), float64."""
        acc = _backend.kernel.Accumulator()
        acc.set_raw(*self._pooled_raw())
        count: float = acc.count()
        return count

    def overall_omitted(self) -> int:
        """Elements nan_policy='omit' left out, over every group (exact)."""
        omitted: int = self._pooled_raw()[5]
        return omitted

    def _pooled_raw(self) -> tuple[float, float, float, float, int, int]:
        """Every key's row pooled in sorted key order.  A dense table pools
        all its rows in use: rows are in key order already, and a row
        without an element holds zeros, which add nothing (exactly), so no
        scan for the present rows (overall() costs about one kernel call)."""
        table = self._table
        slots = every_row(table.size) if table.dense else table.present()[0]
        raw: tuple[float, float, float, float, int, int] = _backend.kernel.group_pooled(
            table.rows, slots)
        return raw

    def to_dict(self) -> dict[Any, float]:
        """``{key: rmse}`` in sorted key order (Python keys and floats;
        lists of floats for multioutput='raw_values')."""
        return dict(zip(self.keys().tolist(), self.result().tolist()))

    # -- confidence intervals (docs/grouped.md, docs/intervals.md) -------------------------

    def _extra_rows(self) -> np.ndarray:
        """The interval sums of every key, in sorted key order."""
        extra: np.ndarray = self._table.extra[self._table.present()[0]]
        return extra

    def confidence_interval(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``: float64 arrays in sorted key order, each key's
        ``level`` interval for its RMSE, as ``RootMeanSquaredError`` gives it
        on that key's elements; NaN where a key has too few units for one.
        ValueError when the metric was built with ``interval=None``.

        >>> m = GroupedRootMeanSquaredError(interval="normal")
        >>> m.update_state([0.0] * 5, [1.0, -1.0, 2.0, -2.0, 3.0], groups=[1, 1, 1, 1, 2])
        >>> low, high = m.confidence_interval()
        >>> low.round(3).tolist(), high.round(3).tolist()
        ([0.896, nan], [2.049, nan])
        """
        level = self._interval_level(level)
        assert self._interval is not None
        return _grouped_intervals.key_intervals(self._interval, self._extra_rows(), level,
                                                self._read()[0])

    def overall_confidence_interval(self, level: float = 0.95) -> tuple[float, float]:
        """``(low, high)`` for the RMSE of every element pooled: what
        ``RootMeanSquaredError`` with the same interval settings gives on the
        same stream (Python floats)."""
        level = self._interval_level(level)
        assert self._interval is not None
        acc = _backend.kernel.Accumulator()
        acc.set_raw(*self._pooled_raw())
        return self._interval.overall(self._extra_rows(), level, acc.value())

    def __repr__(self) -> str:
        policy = "" if self._nan_policy == "propagate" else f", nan_policy={self._nan_policy!r}"
        return (f"{type(self).__name__}(name={self._name!r}, dtype={self.dtype!r}{policy}) "
                f"groups={len(self.keys())} overall={self.overall().tolist()!r}")

    # -- config and state ----------------------------------------------------------------

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GroupedRootMeanSquaredError:
        return cls(**config)

    def get_raw(self) -> dict[str, np.ndarray]:
        """The state as arrays, one entry per key in sorted key order:
        ``keys``, ``total_hi``, ``total_lo``, ``weight_hi``, ``weight_lo``
        (float64) and ``unweighted``, ``weighted``, ``omitted`` (int64
        element counts of unweighted and weighted updates, and of elements
        nan_policy='omit' left out).  ``merge_raw(**raw)`` adds such arrays
        into a metric (how engines such as Spark combine partitions).
        """
        slots, keys = self._table.present()
        rows = self._table.rows[slots]
        counts = row_counts(rows)
        return {"keys": keys, "total_hi": rows[:, 0].copy(), "total_lo": rows[:, 1].copy(),
                "weight_hi": rows[:, 2].copy(), "weight_lo": rows[:, 3].copy(),
                "unweighted": counts[:, 0].copy(), "weighted": counts[:, 1].copy(),
                "omitted": row_omitted(rows).copy()}

    def merge_raw(self, keys: Any, total_hi: Any, total_lo: Any, weight_hi: Any,
                  weight_lo: Any, unweighted: Any, weighted: Any, omitted: Any = None) -> None:
        """Add per-key raw sums (``get_raw()``'s arrays; keys distinct, key
        sets may differ from this metric's) into the state, compensated.
        ``omitted`` may be left out (none omitted).  Raw arrays carry no
        interval sums: a metric with an interval takes other states by
        ``merge_state`` only (ValueError)."""
        if self._interval is not None:
            raise ValueError("merge_raw cannot add to a metric with an interval (the raw "
                             "arrays have no interval sums): use merge_state")
        self._merge_rows(keys, raw_rows(total_hi, total_lo, weight_hi, weight_lo, unweighted,
                                        weighted, omitted))

    def _merge_rows(self, keys: Any, rows: np.ndarray, extra: Optional[np.ndarray] = None
                    ) -> None:
        half = 0 if self._interval is None else self._interval.half
        self._table.merge_rows(read_keys(keys, rows.shape[0], "keys"), rows, extra, half)

    def merge_state(self, *others: Union[GroupedRootMeanSquaredError,
                                         Iterable[GroupedRootMeanSquaredError]]) -> None:
        """Fold other grouped metrics' states into this one (key sets may
        differ).  Metrics of another class, dtype or kind of key raise
        before anything changes."""
        metrics = self._mergeable(others, GroupedRootMeanSquaredError)
        if self._multioutput is not None:
            self._merge_parts(metrics)
            return
        for metric in metrics:
            try:
                check_kind(self._table.kind, metric._table.kind, "the metric merged")
            except TypeError as exc:
                raise TypeError(f"cannot merge a metric with {metric._table.kind} keys into "
                                f"one with {self._table.kind} keys ({exc})") from None
            if self._interval is None and metric._interval is not None:
                raise ValueError("cannot merge a metric with an interval into one with "
                                 "interval=None")
            if self._interval is not None:
                self._interval.check_mergeable(metric._interval)
        # copies before any change (a metric may be merged into itself)
        parts = [(metric.get_raw(), metric._extra_rows(),
                  None if metric._interval is None else metric._interval.snapshot())
                 for metric in metrics]
        for raw, extra, interval in parts:
            keys = raw.pop("keys")
            self._merge_rows(keys, raw_rows(**raw), None if self._interval is None else extra)
            if self._interval is not None:
                self._interval.merge(interval)  # type: ignore[arg-type]

    def _merge_parts(self, metrics: list[GroupedRootMeanSquaredError]) -> None:
        """multioutput: output by output (same number of outputs, same kind
        of key, checked before anything changes)."""
        known = [m._parts for m in [self, *metrics] if m._parts is not None]
        if len({len(parts) for parts in known}) > 1:
            raise ValueError(f"cannot merge metrics with different numbers of outputs: "
                             f"{sorted({len(parts) for parts in known})}")
        if not known:
            return
        copies = [[GroupedRootMeanSquaredError.from_state(part.get_state()) for part in parts]
                  for parts in known[1 if self._parts is not None else 0:]]
        if self._parts is None:
            self._parts, copies = copies[0], copies[1:]
        for parts in copies:      # a kind check failing here fails on the first output
            for mine, other in zip(self._parts, parts):
                mine.merge_state(other)
        self._table.kind = self._parts[0]._table.kind

    def get_state(self) -> dict[str, Any]:
        """The whole state as a JSON-serialisable dict (floats as
        ``float.hex()`` strings, keys included); ``set_state``/``from_state``
        restore it bitwise."""
        raw = self.get_raw()
        state: dict[str, Any] = {
            "format": STATE_FORMAT, "name": self._name, "dtype": self._dtype.name,
            "num_threads": self._num_threads, "kind": self._table.kind,
            "keys": keys_to_json(self._table.kind, raw["keys"]),
        }
        for column in ("total_hi", "total_lo", "weight_hi", "weight_lo"):
            state[column] = [float(x).hex() for x in raw[column].tolist()]
        for column in ("unweighted", "weighted"):
            state[column] = raw[column].tolist()
        if raw["omitted"].any():                 # as the ungrouped state: only when set
            state["omitted"] = raw["omitted"].tolist()
        if self._nan_policy != "propagate":
            state["nan_policy"] = self._nan_policy
        if self._interval is not None:
            state["interval"] = self._interval.to_dict(self._extra_rows())
        if self._multioutput is not None:
            state["multioutput"] = _outputs.config_value(self._multioutput)
            state["outputs"] = (None if self._parts is None
                                else [part.get_state() for part in self._parts])
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore name, dtype and the running state, bitwise, from a
        ``get_state()`` dict.  A bad dict raises and changes nothing."""
        name, dtype, num_threads, nan_policy, table, interval = parse_state(state)
        multioutput, parts = parse_outputs(state)
        self._name, self._num_threads = name, num_threads
        self._set_dtype(resolve_dtype(dtype))
        self._nan_policy, self._table = nan_policy, table
        self._set_interval(interval)
        self._multioutput, self._parts = multioutput, parts

    def _set_interval(self, interval: Optional[_grouped_intervals.GroupedInterval]) -> None:
        self._interval = interval
        if isinstance(interval, _grouped_intervals.GroupedBootstrap):
            self._interval_args = ("bootstrap", interval.n_boot, interval.seed, interval.stream)
        else:
            self._interval_args = (None if interval is None else "normal", 200, 0, 0)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GroupedRootMeanSquaredError:
        name, dtype, num_threads, nan_policy, table, interval = parse_state(state)
        multioutput, parts = parse_outputs(state)
        metric = cls(name=name, dtype=dtype, num_threads=num_threads, nan_policy=nan_policy)
        metric._table = table
        metric._set_interval(interval)
        metric._multioutput, metric._parts = multioutput, parts
        return metric

    # -- pickle, copy.copy, copy.deepcopy: as RootMeanSquaredError --------------------

    def __getstate__(self) -> dict[str, Any]:
        """The state dict, plus any attributes a subclass added (the same
        pickle as ``RootMeanSquaredError``'s: a subclass whose ``__init__``
        takes other arguments pickles and copies too).  Pickles written as
        ``_state.restore(cls, state)`` by earlier versions still load."""
        own = _own_attributes()
        extra = {k: v for k, v in self.__dict__.items() if k not in own}
        return {"state": self.get_state(), "attributes": extra}

    def __setstate__(self, data: dict[str, Any]) -> None:
        """Rebuild from ``__getstate__``'s dict, bitwise, with a table of its
        own (a copy never shares it)."""
        self.__dict__.update(data["attributes"])
        self.set_state(data["state"])


@lru_cache(maxsize=1)
def _own_attributes() -> frozenset[str]:
    """The attributes GroupedRootMeanSquaredError itself keeps (the state
    dict carries them): those of a new one."""
    return frozenset(vars(GroupedRootMeanSquaredError()))


# -- raw arrays and the state dict ----------------------------------------------------

def raw_rows(total_hi: Any, total_lo: Any, weight_hi: Any, weight_lo: Any,
             unweighted: Any, weighted: Any, omitted: Any = None) -> np.ndarray:
    """The kernel's rows from per-key raw arrays (checked: one length, real
    floats, non-negative integer counts; no ``omitted``: none)."""
    floats = [np.asarray(a, dtype=np.float64).reshape(-1)
              for a in (total_hi, total_lo, weight_hi, weight_lo)]
    counts = [np.asarray(a) for a in (unweighted, weighted)]
    if omitted is not None:
        counts.append(np.asarray(omitted))
    for name, c in zip(("unweighted", "weighted", "omitted"), counts):
        if c.dtype.kind not in "iu" and c.size:
            raise TypeError(f"{name} must hold integer element counts; got dtype {c.dtype}")
        if c.size and int(c.min()) < 0:
            raise ValueError(f"{name} must hold non-negative element counts")
    lengths = {a.size for a in floats} | {c.size for c in counts}
    if len(lengths) != 1:
        raise ValueError(f"the raw arrays must have one length each; got lengths {sorted(lengths)}")
    rows = np.zeros((lengths.pop(), ROW_WORDS))
    for j, a in enumerate(floats):
        rows[:, j] = a
    row_counts(rows)[:] = np.stack([c.reshape(-1).astype(np.int64) for c in counts[:2]], axis=1)
    if omitted is not None:
        row_omitted(rows)[:] = counts[2].reshape(-1).astype(np.int64)
    return rows


def count_column(state: dict[str, Any], key: str) -> np.ndarray:
    """A state's column of per-key element counts as int64, each entry
    checked as the ungrouped state checks its count (``_state.int_in``:
    an int, not a bool, float or str; within the kernel's int64 words)."""
    values = state[key]
    if not isinstance(values, list):
        raise TypeError(f"state[{key!r}] must be a list; got {type(values).__name__}")
    for i, value in enumerate(values):
        _state.int_in(value, f"state[{key!r}][{i}]", 0, _state.INT64_MAX)
    return np.array(values, dtype=np.int64)


def parse_state(state: Any) -> tuple[str, str, int, str, GroupTable,
                                     Optional[_grouped_intervals.GroupedInterval]]:
    """Validate a grouped state dict; (name, dtype, num_threads, nan_policy,
    table, interval)."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict; got {type(state).__name__}")
    columns = ("total_hi", "total_lo", "weight_hi", "weight_lo", "unweighted", "weighted")
    missing = [k for k in ("format", "name", "dtype", "num_threads", "kind", "keys", *columns)
               if k not in state]
    if missing:
        raise ValueError(f"state is missing the key(s) {missing} (format {STATE_FORMAT!r})")
    if state["format"] != STATE_FORMAT:
        raise ValueError(f"state['format'] is {state['format']!r}; this rmse_ext reads "
                         f"{STATE_FORMAT!r}")
    plain = {k: state[k] for k in ("format", "name", "dtype", "num_threads", "nan_policy")
             if k in state}
    plain.update(format=_state.FORMAT, total_hi="0x0p+0", total_lo="0x0p+0",
                 weight_hi="0x0p+0", weight_lo="0x0p+0", elements=0)
    parsed = _state.parse(plain)          # name, dtype and num_threads, checked once
    kind = state["kind"]
    if kind is not None and not is_kind(kind):
        raise ValueError(f"state['kind'] = {kind!r} is not a kind of key")
    if not all(isinstance(state[k], list) for k in ("keys", *columns)):
        raise TypeError("state['keys'] and the state's columns must be lists")
    try:
        floats = [[float.fromhex(x) for x in state[k]] for k in columns[:4]]
    except (TypeError, ValueError):
        raise ValueError("the state's float columns must hold float.hex() strings") from None
    unweighted, weighted = (count_column(state, k) for k in columns[4:])
    omitted = count_column(state, "omitted") if "omitted" in state else None
    rows = raw_rows(floats[0], floats[1], floats[2], floats[3], unweighted, weighted, omitted)
    interval, extra = None, None
    if "interval" in state:
        interval, extra = _grouped_intervals.grouped_from_dict(state["interval"], rows.shape[0])
    table = GroupTable(0 if interval is None else interval.words)
    if len(state["keys"]) != rows.shape[0]:
        raise ValueError(f"state['keys'] has {len(state['keys'])} keys for "
                         f"{rows.shape[0]} rows")
    if rows.shape[0]:
        keys = keys_from_json(kind, state["keys"])
        batch = read_keys(keys, rows.shape[0], "state['keys']")
        if batch.kind != kind:
            raise ValueError(f"state['keys'] hold {batch.kind} keys, not {kind}")
        slots = np.asarray(table.admit(batch)[0], dtype=np.int64) - table.base
        if len(np.unique(slots)) != len(slots):
            raise ValueError("state['keys'] repeats a key")
        table.rows[slots] = rows
        if extra is not None:
            table.extra[slots] = extra
    table.kind = kind
    return (parsed["name"], parsed["dtype"], parsed["num_threads"], parsed["nan_policy"], table,
            interval)


def parse_outputs(state: dict[str, Any]
                  ) -> tuple[Any, Optional[list[GroupedRootMeanSquaredError]]]:
    """``(multioutput, per-output metrics)`` of a grouped state dict."""
    if "multioutput" not in state:
        return None, None
    try:
        multioutput = _outputs.check_multioutput(state["multioutput"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"state['multioutput']: {exc}") from None
    outputs = state.get("outputs")
    if outputs is None:
        if isinstance(multioutput, np.ndarray):
            outputs = [GroupedRootMeanSquaredError(nan_policy=state.get(
                "nan_policy", "propagate")).get_state()] * multioutput.size
        else:
            return multioutput, None
    if not isinstance(outputs, list) or not outputs:
        raise ValueError("state['outputs'] must be a non-empty list of grouped states")
    if isinstance(multioutput, np.ndarray) and len(outputs) != multioutput.size:
        raise ValueError(f"state['outputs'] has {len(outputs)} outputs; multioutput has "
                         f"{multioutput.size} weights")
    parts = [GroupedRootMeanSquaredError.from_state(part) for part in outputs]
    if len({tuple(map(repr, part.keys().tolist())) for part in parts}) > 1:
        raise ValueError("state['outputs'] hold different keys")
    return multioutput, parts
