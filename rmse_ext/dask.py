"""Fold dask arrays into a RootMeanSquaredError (optional extra ``[dask]``).

``update_state(metric, y_true, y_pred, sample_weight=None)`` applies the
same Keras rules as ``metric.update_state`` on the equivalent NumPy arrays
(semantics 2 and 3), to the dask arrays' shapes, on the client.  The work runs
where the data is: every block of the squared errors becomes one partial
accumulator state on a worker (the operands' blocks are aligned first,
rechunking where their chunks differ), the partial states (six numbers
each) are merged in a tree, and the root is merged into ``metric``.  Only
those six-number states ever travel; nothing larger than a block is
gathered on the client.  The scheduler is dask's current one: a
``distributed.Client`` when one is active, else the local default.

>>> import dask.array as da, numpy as np
>>> import rmse_ext, rmse_ext.dask
>>> y_true = da.from_array(np.arange(6.0), chunks=2)
>>> m = rmse_ext.dask.update_state(rmse_ext.RootMeanSquaredError(), y_true, y_true + 2.0)
>>> print(m.result(), m.count)
2.0 6.0
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import dask.array as da
import numpy as np
from dask import compute as dask_compute
from dask.delayed import Delayed, delayed

from . import _backend, _missing, _state
from ._columns import library, read_columns, resolved
from ._inputs import FLOAT64, as_array, kernel_dtype
from ._keys import AtKey, check_kind, kind_of_dtype
from ._missing import check_policy
from ._plan import NAN_POLICIES, plan_update, rows_plan, unbroadcast, weighted_rows_plan
from ._results import ResultTable
from ._rules import Layout, resolve
from ._tabular import By, Part, as_part, by_columns, grouped_columns, merged_parts, refuse_empty
from .grouped import GroupedRootMeanSquaredError
from .metric import RootMeanSquaredError

Raw = tuple[float, float, float, float, int, int]

__all__ = ["update_state", "partial_states", "merged", "evaluate"]


# -- on the workers: one block -> one raw state; raw states -> one ------------------

def _block_state(*blocks: np.ndarray, nan_policy: str = "propagate") -> Raw:
    """The state of one block of y_true, y_pred (and weights): the in-memory
    planner on the block (its shapes resolve as the whole arrays' do)."""
    acc = _backend.kernel.Accumulator()
    plan_update(*blocks, nan_policy=nan_policy).apply(acc)
    raw: Raw = acc.get_raw()
    return raw


def _averaged_total_state(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> Raw:
    """Semantics 3.3 on one block: the compensated sum(w_row * row mean),
    nothing in the count (the weights are counted once each, by
    _weight_state, however often they broadcast)."""
    acc = _backend.kernel.Accumulator()
    rows_plan(t, p, w, t.size // max(w.size, 1)).apply(acc)
    raw: Raw = acc.get_raw()
    return raw


def _averaged_state(t: np.ndarray, p: np.ndarray, w: np.ndarray, tail: int) -> Raw:
    """Semantics 3.3 on one block whose weights are its own (none repeated
    across blocks), count included: nan_policy='omit' (rows averaged over
    their kept elements, the count from the weights of kept rows)."""
    acc = _backend.kernel.Accumulator()
    w_rows = w.reshape(w.shape[:w.ndim - tail])
    weighted_rows_plan(t, p, w_rows, w_rows, NAN_POLICIES["omit"]).apply(acc)
    raw: Raw = acc.get_raw()
    return raw


def _weight_state(w: np.ndarray) -> Raw:
    """count += sum(w) (semantics 3.3), compensated."""
    acc = _backend.kernel.Accumulator()
    weights = np.ascontiguousarray(w, dtype=FLOAT64).reshape(-1)
    acc.fold(_backend.kernel.Batch(weights[:0], weights[:0], weights[:0],
                                   w_mode=_backend.WMode.PER_ROW, count_weights=weights))
    raw: Raw = acc.get_raw()
    return raw


def _merge(*raws: Raw) -> Raw:
    """Merge raw states, compensations included."""
    acc = _backend.kernel.Accumulator()
    for each in raws:
        part = _backend.kernel.Accumulator()
        part.set_raw(*each)
        acc.merge(part)
    merged: Raw = acc.get_raw()
    return merged


# -- on the client: shapes, rules and the graph -----------------------------------------

def _as_dask(x: Any, name: str) -> da.Array:
    """``x`` as a dask array.  A NumPy operand's zero-stride axes
    (``np.broadcast_to`` views) stay lazy: only its distinct elements become
    a dask array (from_array copies its input), broadcast back by dask."""
    if isinstance(x, da.Array):
        a = x
    else:
        array = as_array(x, name)
        a = da.broadcast_to(da.asarray(unbroadcast(array)), array.shape)
    kernel_dtype(a.dtype, name)
    if any(math.isnan(n) for n in a.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (shape {a.shape}); call "
            f"{name}.compute_chunk_sizes() first"
        )
    return a


def _to_rank(a: da.Array, rank: int) -> da.Array:
    """Leading axes of size 1 up to ``rank`` (NumPy broadcasting's alignment)."""
    return a.reshape((1,) * (rank - a.ndim) + a.shape) if a.ndim < rank else a


def _common_chunks(arrays: list[da.Array], shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Per axis, the chunk boundaries of every operand that spans the axis
    (the common refinement: equal chunks stay as they are)."""
    chunks = []
    for axis, size in enumerate(shape):
        edges = {0, size}
        for a in arrays:
            if a.shape[axis] == size:
                edges.update(np.cumsum(a.chunks[axis]).tolist())
        chunks.append(tuple(np.diff(sorted(edges)).tolist()))
    return tuple(chunks)


def _aligned(a: da.Array, chunks: tuple[tuple[int, ...], ...], shape: tuple[int, ...]) -> da.Array:
    """``a`` rechunked to ``chunks`` on the axes it spans (a no-op when equal)."""
    return a.rechunk(tuple(c if a.shape[i] == n else (1,) for i, (c, n)
                           in enumerate(zip(chunks, shape))))


def _block_of(grid: np.ndarray, a: da.Array, index: tuple[int, ...],
              shape: tuple[int, ...]) -> Delayed:
    """The block of ``a`` that meets block ``index`` of ``shape``."""
    return grid[tuple(i if a.shape[axis] == shape[axis] else 0
                      for axis, i in enumerate(index))]


def _aligned_operands(layout: Layout, t: da.Array, p: da.Array, w: da.Array | None
                      ) -> tuple[list[da.Array], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The operands at the squared errors' rank, rechunked to common blocks
    (semantics 3.2 layouts), with that shape and those chunks."""
    shape = layout.shape
    operands = [_to_rank(a, len(shape)) for a in (t, p, w) if a is not None]
    chunks = _common_chunks(operands, shape)
    return [_aligned(a, chunks, shape) for a in operands], shape, chunks


def _blockwise(function: Any, operands: list[da.Array], shape: tuple[int, ...],
               chunks: tuple[tuple[int, ...], ...]) -> list[Delayed]:
    """``function`` of the operands' blocks, one call per block of ``shape``
    cut by ``chunks`` (operands of rank len(shape), already aligned)."""
    grids = [a.to_delayed() for a in operands]
    call = delayed(function, pure=True)
    return [call(*(_block_of(g, a, index, shape) for g, a in zip(grids, operands)))
            for index in np.ndindex(*(len(c) for c in chunks))]


def _operands(y_true: Any, y_pred: Any, sample_weight: Any
              ) -> tuple[Layout, da.Array, da.Array, da.Array | None]:
    """The layout (rmse_ext._rules.resolve on the dask arrays' shapes) and
    the operands reshaped to it."""
    t, p = _as_dask(y_true, "y_true"), _as_dask(y_pred, "y_pred")
    w = None if sample_weight is None else _as_dask(sample_weight, "sample_weight")
    layout = resolve(t.shape, p.shape, None if w is None else w.shape)
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    if w is not None:
        w = w.reshape(layout.w_shape)
    return layout, t, p, w


def partial_states(y_true: Any, y_pred: Any, sample_weight: Any = None, *,
                   nan_policy: str = "raise") -> list[Delayed]:
    """The first of the two stages (``merged`` is the second), as
    ``rmse_ext.spark.partial_states``: one partial state per block of the
    squared errors, not yet computed -- a ``dask.delayed`` object per block
    whose value is the raw state ``(total_hi, total_lo, weight_hi,
    weight_lo, elements, omitted)``.  The checks of ``update_state`` come
    first (the layout from rmse_ext._rules.resolve), and ``nan_policy`` is
    that of the scikit-learn family (docs/semantics.md 8.1): 'raise' (the
    default) looks for a NaN first and names its flat position, 'omit' counts
    it in each block's omitted, 'propagate'.  Empty inputs give an empty list."""
    policy = check_policy(nan_policy)
    layout, t, p, w = _operands(y_true, y_pred, sample_weight)
    if policy == "raise":
        _raise_on_nan(y_true=t, y_pred=p, sample_weight=w)
    return _partial_states(layout, t, p, w, _missing.fold_policy(policy))


def _partial_states(layout: Layout, t: da.Array, p: da.Array, w: da.Array | None,
                    nan_policy: str) -> list[Delayed]:
    """partial_states' graph for operands already checked (``nan_policy``:
    the fold policy, 'omit' or 'propagate')."""
    if layout.size == 0:                                              # semantics 4
        return []
    shape = layout.shape
    if layout.keep is None:
        return _blockwise(partial(_block_state, nan_policy=nan_policy),
                          *_aligned_operands(layout, t, p, w))
    # semantics 3.3: each block holds whole rows (the averaged trailing
    # axes); the rows' grid is that of (row means) * weights
    assert w is not None and layout.w_out_shape is not None
    out_shape, tail = layout.w_out_shape, shape[layout.keep:]
    rows_shape = out_shape + tail
    t_rows, p_rows = (da.broadcast_to(_to_rank(a, len(rows_shape)), rows_shape) for a in (t, p))
    w_rows = da.broadcast_to(_to_rank(w, len(out_shape)), out_shape)
    w_rows = w_rows.reshape(out_shape + (1,) * len(tail))
    chunks = _common_chunks([t_rows, p_rows, w_rows], rows_shape)
    chunks = chunks[:len(out_shape)] + tuple((n,) for n in tail)
    operands = [_aligned(a, chunks, rows_shape) for a in (t_rows, p_rows, w_rows)]
    if nan_policy == "omit":
        if w.shape != out_shape:
            raise ValueError(
                f"sample_weight of shape {w.shape} is averaged against squared errors of "
                f"shape {shape} (semantics 3.3) and repeated over rows of shape {out_shape}; "
                f"under nan_policy='omit' rmse_ext.dask needs one weight per averaged row "
                f"(fold these arrays in memory, or give the weights that shape)")
        return _blockwise(partial(_averaged_state, tail=len(tail)), operands, rows_shape,
                          chunks)
    totals = _blockwise(_averaged_total_state, operands, rows_shape, chunks)
    counts = [delayed(_weight_state, pure=True)(block)
              for block in w.to_delayed().ravel()]
    return totals + counts


def _merged_tree(states: list[Delayed], split_every: int = 8) -> Delayed:
    """The partial states merged in a tree, ``split_every`` at a time (one
    delayed raw state)."""
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}")
    merge = delayed(_merge, pure=True)
    level = list(states) or [merge()]
    while len(level) > 1:
        level = [merge(*level[i:i + split_every])
                 for i in range(0, len(level), split_every)]
    return level[0]


def merged(states: list[Delayed], split_every: int = 8) -> RootMeanSquaredError:
    """The second stage, as ``rmse_ext.spark.merged``: ``partial_states``'
    states merged in a tree (``split_every`` at a time, on the workers,
    computed on dask's current scheduler) into a float64
    ``RootMeanSquaredError``, whose ``result()``, ``count`` and ``omitted``
    are those of the whole input.

    >>> import dask.array as da
    >>> states = partial_states(da.arange(6.0, chunks=2), da.arange(6.0, chunks=2) + 2.0)
    >>> m = merged(states)
    >>> print(len(states), m.result(), m.count)
    3 2.0 6.0
    """
    return _metric_of(_merged_tree(states, split_every).compute(), "float64")


def _metric_of(raw: Raw, dtype: str, name: str = "root_mean_squared_error"
               ) -> RootMeanSquaredError:
    """A metric holding a merged raw state (through the state format)."""
    return RootMeanSquaredError.from_state(_state.to_dict(name, dtype, 1, raw))


def update_state(metric: Any, y_true: Any, y_pred: Any, *args: Any, groups: Any = None,
                 sample_weight: Any = None, split_every: int = 8) -> Any:
    """Fold dask (or NumPy) arrays into ``metric``, as ``metric.update_state``
    would fold the equivalent NumPy arrays, computing on dask's current
    scheduler; returns ``metric``.  Bad input raises TypeError/ValueError
    before anything is computed, and ``metric`` is unchanged.

    The arguments after ``metric`` are those of ``metric.update_state``, in
    its order: ``(y_true, y_pred, sample_weight=None)`` for a
    ``RootMeanSquaredError``; ``(y_true, y_pred, groups, sample_weight=None)``
    for a ``GroupedRootMeanSquaredError`` (one key per sample, folded in
    blocks of whole samples).  Keywords work for both; the older
    ``(metric, y_true, y_pred, sample_weight, groups=keys)`` still reads as
    before (a positional argument after y_pred is the weight when
    ``groups=`` is given by keyword)."""
    grouped = isinstance(metric, GroupedRootMeanSquaredError)
    names = ("groups", "sample_weight") if grouped and groups is None else ("sample_weight",)
    if len(args) > len(names):
        raise TypeError(f"update_state takes metric, y_true, y_pred and at most "
                        f"{' and '.join(names)} positionally; got {3 + len(args)} arguments")
    given = {"groups": groups, "sample_weight": sample_weight}
    for name, value in zip(names, args):
        if given[name] is not None:
            raise TypeError(f"update_state got {name} both by position and by keyword")
        given[name] = value
    groups, sample_weight = given["groups"], given["sample_weight"]
    if grouped:
        if groups is None:
            raise TypeError("a GroupedRootMeanSquaredError needs groups (one key per sample)")
        return _grouped_update(metric, y_true, y_pred, groups, sample_weight, split_every)
    if groups is not None:
        raise TypeError("groups= is for a GroupedRootMeanSquaredError; "
                        f"got a {type(metric).__name__}")
    if not isinstance(metric, RootMeanSquaredError):
        raise TypeError(
            f"metric must be a rmse_ext.RootMeanSquaredError; got {type(metric).__name__}"
        )
    if metric.multioutput is not None:
        raise ValueError(f"rmse_ext.dask folds one pooled output; this metric has "
                         f"multioutput={metric.multioutput!r} (fold each output's columns "
                         f"into a metric of its own)")
    if metric.nan_policy == "raise":
        _raise_on_nan(y_true=y_true, y_pred=y_pred, sample_weight=sample_weight)
    if metric.interval is not None:
        return _update_with_interval(metric, y_true, y_pred, sample_weight, split_every)
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}")
    states = _partial_states(*_operands(y_true, y_pred, sample_weight),
                             _missing.fold_policy(metric.nan_policy))
    if states:
        raw: Raw = _merged_tree(states, split_every).compute()
        metric.merge_state(_metric_of(raw, metric.dtype, metric.name))
    return metric


def _raise_on_nan(**operands: Any) -> None:
    """nan_policy='raise' on dask arrays (rmse_ext._missing's rule and
    message): one pass to find the first NaN of each operand, in order (its
    flat position), before anything is folded."""
    for name, x in operands.items():
        if x is None:
            continue
        a = _as_dask(x, name)
        if a.dtype.kind != "f" or a.size == 0:     # nothing to find (argmax refuses it)
            continue
        flat = da.isnan(a).ravel()
        found, first = dask_compute(flat.any(), flat.argmax())
        if found:
            per_row = max(a.size // max(a.shape[0] if a.ndim else 1, 1), 1)
            row, element = divmod(int(first), per_row)
            raise _missing.missing_error(_missing.Missing(name, int(first), row, element,
                                                          per_row))


# -- metrics with a confidence interval (docs/intervals.md) ---------------------------

def _block_stream(stream: int, position: int, block: int) -> int:
    """The bootstrap stream id of one block: SplitMix64's finaliser of the
    metric's stream, its position when the update began and the block's
    index, so no two blocks (of this or a later update) share draws."""
    z = (stream * 0xD1B54A32D192ED03 + position * 0x9E3779B97F4A7C15 + block + 1) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return z ^ (z >> 31)


def _check_interval_weights(layout: Layout) -> None:
    """Intervals on dask arrays: ValueError for averaged weights (3.3)."""
    if layout.keep is not None:
        raise ValueError(
            "confidence intervals on dask arrays need weights that broadcast to the "
            f"squared errors; sample_weight of shape {layout.w_shape} against "
            f"{layout.shape} would average them (semantics 3.3): compute the update on "
            "NumPy blocks instead")


def _interval_block(config: dict[str, Any], *blocks: np.ndarray) -> dict[str, Any]:
    """The whole state (main and interval) of one block."""
    metric = RootMeanSquaredError(**config)
    metric.update_state(*blocks)
    return metric.get_state()


def _interval_merge(*states: dict[str, Any]) -> dict[str, Any]:
    root = RootMeanSquaredError.from_state(states[0])
    root.merge_state([RootMeanSquaredError.from_state(s) for s in states[1:]])
    return root.get_state()


def _update_with_interval(metric: RootMeanSquaredError, y_true: Any, y_pred: Any,
                          sample_weight: Any, split_every: int) -> RootMeanSquaredError:
    """Each block folds into a metric of its own (for the bootstrap, with a
    stream id of its own, ``_block_stream``); the block states merge in a
    tree and the root into ``metric``, whose bootstrap position then moves
    past the update's units."""
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}")
    layout, t, p, w = _operands(y_true, y_pred, sample_weight)
    _check_interval_weights(layout)
    shape = layout.shape
    if layout.size == 0:
        return metric
    operands, shape, chunks = _aligned_operands(layout, t, p, w)
    grids = [a.to_delayed() for a in operands]
    config = {key: value for key, value in metric.get_config().items()
              if key in ("interval", "n_boot", "seed", "nan_policy")}
    config["dtype"] = metric.dtype
    stream, position = metric.get_config().get("stream", 0), metric.bootstrap_position
    block_state = delayed(_interval_block, pure=True)
    states = []
    for j, index in enumerate(np.ndindex(*(len(c) for c in chunks))):
        if config["interval"] == "bootstrap":
            config = dict(config, stream=_block_stream(stream, position, j))
        states.append(block_state(config, *(_block_of(g, a, index, shape)
                                            for g, a in zip(grids, operands))))
    merge = delayed(_interval_merge, pure=True)
    while len(states) > 1:
        states = [merge(*states[i:i + split_every]) for i in range(0, len(states), split_every)]
    root = RootMeanSquaredError.from_state(states[0].compute())
    metric.merge_state(root)
    metric.advance_bootstrap(layout.size)
    return metric


# -- grouped metrics (docs/grouped.md) ---------------------------------------------------

def _grouped_block(config: dict[str, Any], t: Any, p: Any, g: Any,
                   w: Any, start: int = 0) -> dict[str, Any]:
    """One block's grouped state: per-key raw arrays, or with an interval
    the whole state dict.  ``start``: the block's first sample, so a key
    error is said at its position in the whole array."""
    part = GroupedRootMeanSquaredError(**config)
    try:
        part.update_state(t, p, g, w)
    except AtKey as error:
        raise error.at(error.position + start) from None
    return part.get_raw() if part.interval is None else part.get_state()


def _grouped_merge(config: dict[str, Any], *parts: dict[str, Any]) -> dict[str, Any]:
    """Block states merged in order (key sets may differ)."""
    if "interval" in config:
        root = GroupedRootMeanSquaredError.from_state(parts[0])
        root.merge_state([GroupedRootMeanSquaredError.from_state(s) for s in parts[1:]])
        return root.get_state()
    root = GroupedRootMeanSquaredError(dtype=config["dtype"])
    for raw in parts:
        root.merge_raw(**raw)
    return root.get_raw()


def _grouped_update(metric: GroupedRootMeanSquaredError, y_true: Any, y_pred: Any,
                    groups: Any, sample_weight: Any, split_every: int
                    ) -> GroupedRootMeanSquaredError:
    """Blocks along the samples (each block holds whole samples, its keys
    beside them) -> per-block grouped states -> merged in a tree -> merged
    into ``metric``.  The rules run on the client first (same errors)."""
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}")
    layout, t, p, w = _operands(y_true, y_pred, sample_weight)
    g = groups if isinstance(groups, da.Array) else da.from_array(
        np.asarray(groups, dtype=object if isinstance(groups, (list, tuple)) else None))
    g = g.reshape(1) if g.ndim == 0 else g
    if g.ndim != 1 or g.shape[0] != layout.samples:
        raise ValueError(
            f"groups of shape {g.shape} must hold one key per sample: the squared "
            f"errors have {layout.samples} sample(s) (shape {layout.shape})")
    # the codec's kind checks on the dtype, before anything is computed
    check_kind(metric.key_kind, kind_of_dtype(g.dtype))
    if metric.nan_policy == "raise":
        _raise_on_nan(y_true=t, y_pred=p, sample_weight=w)
    if metric.interval is not None:
        _check_interval_weights(layout)
    if layout.size == 0:
        return metric
    n = layout.samples
    spans = [a is not None and a.ndim >= 1 and a.shape[0] == n and (
        a.ndim == len(layout.shape) or (a is w and layout.keep is not None))
        for a in (t, p, w)]
    edges = {0, n, *np.cumsum(g.chunks[0]).tolist()}
    for a, split in zip((t, p, w), spans):
        if split:
            edges.update(np.cumsum(a.chunks[0]).tolist())
    axis0 = tuple(np.diff(sorted(edges)).tolist())
    blocks = []
    for a, split in zip((t, p, w), spans):
        if a is None:
            blocks.append([None] * len(axis0))
        elif split:
            whole = a.rechunk((axis0,) + tuple((s,) for s in a.shape[1:]))
            blocks.append(list(whole.to_delayed().ravel()))
        else:
            one = a.rechunk(tuple((s,) for s in a.shape)).to_delayed().ravel()[0]
            blocks.append([one] * len(axis0))
    keys = list(g.rechunk((axis0,)).to_delayed().ravel())
    block = delayed(_grouped_block, pure=True)
    # 'raise' was checked on the client (whole-array positions)
    config = {key: value for key, value in metric.get_config().items()
              if key in ("interval", "n_boot", "seed")}
    config.update(dtype=metric.dtype, nan_policy=_missing.fold_policy(metric.nan_policy))
    stream, position = metric.get_config().get("stream", 0), metric.bootstrap_position
    states = []
    starts = np.cumsum((0,) + axis0[:-1]).tolist()
    for j, (tb, pb, kb, wb) in enumerate(zip(blocks[0], blocks[1], keys, blocks[2])):
        if config.get("interval") == "bootstrap":     # a stream of its own per block
            config = dict(config, stream=_block_stream(stream, position, j))
        states.append(block(config, tb, pb, kb, wb, starts[j]))
    merge = delayed(_grouped_merge, pure=True)
    while len(states) > 1:
        states = [merge(config, *states[i:i + split_every])
                  for i in range(0, len(states), split_every)]
    if metric.interval is None:
        metric.merge_raw(**states[0].compute())
        return metric
    metric.merge_state(GroupedRootMeanSquaredError.from_state(states[0].compute()))
    metric.advance_bootstrap(layout.size)
    return metric


def _frame_partial(part: Any, y_true: Any, y_pred: Any, by: list[Any],
                   weight: Any, nan_policy: str, number: int) -> Part | Exception:
    """One partition's key columns and per-key raw state; under 'raise' the
    error of a missing value, and a key's error (said at its position in
    the partition), are returned, so that the client raises the first
    partition's (which task fails first is not deterministic)."""
    try:
        return as_part(*grouped_columns(part, y_true, y_pred, by, weight, nan_policy,
                                        where=f" of partition {number}"))
    except _missing.MissingValueError as error:
        return error
    except AtKey as error:
        return error.within(f" of partition {number}")


def evaluate(frame: Any, y_true: Any, y_pred: Any, *, by: By = None,
             weight: Any = None, nan_policy: str = "raise") -> Any:
    """``rmse_ext.evaluate`` on a dask DataFrame: one grouped state per
    partition (on the workers, columns read by rmse_ext._columns), merged in
    partition order on the client; the result table as a pandas DataFrame
    (it is small).  Column labels are checked before anything is computed;
    a frame without rows is a ValueError, as in ``rmse_ext.evaluate``."""
    if library(frame) != "dask":
        raise TypeError(f"frame must be a dask DataFrame; got {type(frame).__name__}")
    names = by_columns(by)
    check_policy(nan_policy)
    names = resolved(frame, names, "by")
    columns = list(dict.fromkeys(
        resolved(frame, [y_true], "y_true") + resolved(frame, [y_pred], "y_pred")
        + names + ([] if weight is None else resolved(frame, [weight], "weight"))))
    # the column reader's checks on the frame's dtypes (its empty meta frame),
    # so that a column of the wrong type fails before any partition is read
    read_columns(frame._meta, {"y_true": y_true, "y_pred": y_pred,
                               **({} if weight is None else {"weight": weight})})
    partial = delayed(_frame_partial, pure=True)
    parts = dask_compute(*[partial(part, y_true, y_pred, names, weight, nan_policy, number)
                           for number, part in enumerate(frame[columns].to_delayed())])
    errors = [part for part in parts if isinstance(part, Exception)]
    if errors:
        raise errors[0]
    metric, keys = merged_parts(parts, names)
    refuse_empty(metric)
    return ResultTable.of(metric, keys if names else None).to_frame(frame)
