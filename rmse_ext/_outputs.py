"""Per-output streaming results: the ``multioutput=`` argument of the
metric classes (issue 20; docs/semantics.md, "Per-output results").

The outputs are the last axis of the squared errors after the Keras rank
fix-up (semantics 2.2); squared errors of rank 0 or 1 are one output (as
scikit-learn reads a 1-D target).  Each output is folded under the Keras
rules applied to its own slice -- the weights as they apply to that
slice's elements (3.2), or the rows averaged over the other trailing axes
(3.3) -- into its own accumulator; under ``nan_policy='omit'`` each output
omits only its own missing elements.  The result is one RMSE per output
(``'raw_values'``), or their average (``'uniform_average'``) or weighted
average (an array of output weights), as scikit-learn 1.9 averages them.

>>> check_multioutput("raw_values"), check_multioutput(None)
('raw_values', None)
>>> check_multioutput([1, 3]).tolist()
[1.0, 3.0]
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _backend
from ._backend import TMode, WMode
from ._inputs import FLOAT64, Chunks
from ._plan import full_plan, plan_layout, weighted_rows_plan
from ._rules import resolve

MultiOutput = Union[None, str, np.ndarray]
NAMES = ("raw_values", "uniform_average")


def check_multioutput(value: Any) -> MultiOutput:
    """``None``, ``'raw_values'``, ``'uniform_average'`` or a 1-D array of
    finite output weights (float64); TypeError/ValueError naming
    ``multioutput`` otherwise."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in NAMES:
            raise ValueError(f"multioutput must be None, 'raw_values', 'uniform_average' or "
                             f"an array of output weights; got {value!r}")
        return value
    try:
        weights = np.array(value, dtype=FLOAT64)
    except (TypeError, ValueError):
        raise TypeError(f"multioutput must be None, 'raw_values', 'uniform_average' or an "
                        f"array of output weights; got {type(value).__name__}") from None
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(f"multioutput weights must be a non-empty 1-D array; got shape "
                         f"{weights.shape}")
    if not np.isfinite(weights).all():
        raise ValueError("multioutput weights must be finite")
    return weights


def config_value(multioutput: MultiOutput) -> Any:
    """``multioutput`` as a JSON value (weights as a list of floats)."""
    return multioutput.tolist() if isinstance(multioutput, np.ndarray) else multioutput


def same(a: MultiOutput, b: MultiOutput) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and bool((a == b).all()))
    return a == b


def outputs_of(shape: tuple[int, ...]) -> int:
    """The number of outputs of squared errors of ``shape``."""
    return shape[-1] if len(shape) >= 2 else 1


def new_accumulators(multioutput: MultiOutput) -> Optional[list[Any]]:
    """The per-output accumulators before any update: one per output weight,
    else None (the first update says how many outputs there are)."""
    if isinstance(multioutput, np.ndarray):
        return [_backend.kernel.Accumulator() for _ in range(multioutput.size)]
    return None


def combine(values: np.ndarray, multioutput: MultiOutput, dtype: np.dtype[Any]) -> Any:
    """The result from the per-output RMSEs (float64), as ``dtype``."""
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return values.astype(dtype)
    if values.size == 0:
        return dtype.type(0.0)
    weights = multioutput if isinstance(multioutput, np.ndarray) else None
    return dtype.type(np.average(values, weights=weights))


def plan_outputs(t: Any, p: Any, w: Any, policy: int, outputs: Optional[int]
                 ) -> tuple[int, Any]:
    """Validate one update for per-output folding: ``(outputs, fold)``,
    ``fold(accs)`` folding it into the per-output accumulators (it cannot
    fail).  ValueError when the batch has another number of outputs than
    ``outputs`` (the metric's, None before its first update)."""
    for x in (t, p, w):
        if isinstance(x, Chunks):
            raise AssertionError("concatenate chunked operands first")
    layout = resolve(t.shape, p.shape, None if w is None else w.shape)
    d = outputs_of(layout.shape)
    if outputs is not None and d != outputs and layout.size:
        raise ValueError(
            f"this metric has {outputs} output(s) (multioutput=); a batch whose squared "
            f"errors have shape {layout.shape} has {d}")
    if layout.size == 0:                                          # semantics 4
        return d, lambda accs: None
    if len(layout.shape) < 2:                                     # one output: the pooled fold
        plan = plan_layout(layout, t, p, w, policy)
        return d, lambda accs: plan.apply(accs[0])
    if layout.keep is None:
        plan = plan_layout(layout, t, p, w, policy)
        if kernel_reads(plan, d):
            return d, lambda accs: _backend.module_of(accs[0]).fold_outputs(
                plan.batch_for(accs[0]), d, accs)
    plans = slice_plans(layout, t, p, w, policy, d)
    return d, lambda accs: [plan.apply(acc) for plan, acc in zip(plans, accs)]


def kernel_reads(plan: Any, d: int) -> bool:
    """Whether the per-output kernel (src/_outputs.pxi) reads ``plan`` as
    it is: y_true full, weights none, one, full or one per row of whole
    outputs, no repeat factor."""
    return (plan.p is not None and plan.t_mode == TMode.FULL_T and plan.repeat == 1
            and plan.divisor == 1 and plan.count_weights is None
            and (plan.w_mode in (WMode.NONE, WMode.SCALAR, WMode.FULL)
                 or (plan.w_mode == WMode.PER_ROW and plan.run % d == 0)))


def slice_plans(layout: Any, t: np.ndarray, p: np.ndarray, w: Optional[np.ndarray],
                policy: int, d: int) -> list[Any]:
    """Every other layout: one plan per output slice (a copy of it), the
    rules applied as they apply to that slice's elements."""
    t, p = t.reshape(layout.t_shape), p.reshape(layout.p_shape)
    if layout.keep is None:
        t_full, p_full = np.broadcast_to(t, layout.shape), np.broadcast_to(p, layout.shape)
        w_full = None if w is None else np.broadcast_to(w.reshape(layout.w_shape), layout.shape)
        return [full_plan(np.ascontiguousarray(t_full[..., j]),
                          np.ascontiguousarray(p_full[..., j]),
                          None if w_full is None else np.ascontiguousarray(w_full[..., j]),
                          policy) for j in range(d)]
    assert w is not None and layout.w_out_shape is not None
    assert layout.keep < len(layout.shape)        # the output axis is averaged in 3.3
    w = w.reshape(layout.w_shape)
    rows_shape = layout.w_out_shape + layout.shape[layout.keep:]
    t_rows, p_rows = np.broadcast_to(t, rows_shape), np.broadcast_to(p, rows_shape)
    w_rows = np.broadcast_to(w, layout.w_out_shape)
    return [weighted_rows_plan(t_rows[..., j], p_rows[..., j], w_rows, w, policy)
            for j in range(d)]


# -- state that travels (merge, get_state, pickle) ---------------------------------------

def merge_into(mine: Optional[list[Any]], others: list[Optional[list[Any]]]
               ) -> Optional[list[Any]]:
    """The per-output accumulators ``mine`` with ``others``' folded in (new
    accumulators, so a metric merged twice is read first); ValueError when
    two of them have different numbers of outputs, before anything changes."""
    known = [accs for accs in [mine, *others] if accs is not None]
    if not known:
        return mine
    sizes = {len(accs) for accs in known}
    if len(sizes) > 1:
        raise ValueError(f"cannot merge metrics with different numbers of outputs: "
                         f"{sorted(sizes)}")
    merged = [_backend.kernel.Accumulator() for _ in range(sizes.pop())]
    for accs in known:
        for target, acc in zip(merged, accs):
            target.set_raw(*_add_raw(target.get_raw(), acc))
    return merged


def _add_raw(raw: tuple[Any, ...], acc: Any) -> tuple[Any, ...]:
    """``raw`` plus ``acc``'s state, through the kernel's compensated merge
    (another ISA build's accumulator crosses by its raw tuple)."""
    mine = _backend.kernel.Accumulator()
    mine.set_raw(*raw)
    other = _backend.kernel.Accumulator()
    other.set_raw(*acc.get_raw())
    mine.merge(other)
    merged: tuple[Any, ...] = mine.get_raw()
    return merged


def to_state(accs: Optional[list[Any]]) -> Optional[list[list[Any]]]:
    """The per-output states as JSON values: per output
    ``[total_hi, total_lo, weight_hi, weight_lo, elements, omitted]``, the
    floats as ``float.hex()`` strings; None before the first update."""
    if accs is None:
        return None
    return [[float(v).hex() for v in raw[:4]] + [int(raw[4]), int(raw[5])]
            for raw in (acc.get_raw() for acc in accs)]


def from_state(state: dict[str, Any]) -> tuple[MultiOutput, Optional[list[Any]]]:
    """``(multioutput, accumulators)`` of a ``get_state()`` dict (None, None
    for a metric without multioutput); TypeError/ValueError naming the key."""
    if "multioutput" not in state:
        return None, None
    try:
        multioutput = check_multioutput(state["multioutput"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"state['multioutput']: {exc}") from None
    rows = state.get("outputs")
    if rows is None:
        return multioutput, new_accumulators(multioutput)
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 6
                                             for r in rows):
        raise ValueError("state['outputs'] must be a list of [total_hi, total_lo, weight_hi, "
                         "weight_lo, elements, omitted] lists")
    if isinstance(multioutput, np.ndarray) and len(rows) != multioutput.size:
        raise ValueError(f"state['outputs'] has {len(rows)} outputs; multioutput has "
                         f"{multioutput.size} weights")
    accs = []
    for j, row in enumerate(rows):
        try:
            floats = [float.fromhex(v) for v in row[:4]]
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"state['outputs'][{j}]: the first four values must be "
                             f"float.hex() strings") from None
        counts = row[4:]
        if not all(type(c) is int and 0 <= c < 2**128 for c in counts):
            raise ValueError(f"state['outputs'][{j}]: elements and omitted must be ints in "
                             f"[0, 2**128)")
        acc = _backend.kernel.Accumulator()
        acc.set_raw(*floats, *counts)
        accs.append(acc)
    return multioutput, accs
