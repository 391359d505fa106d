"""Tabular data folded into grouped states: what ``rmse_ext.frames`` (in
memory), ``rmse_ext.dask`` (one state per partition) and ``rmse_ext.spark``
(one state per partition, on the executors) share, so that no engine
imports ``frames`` and every door reads, keys and merges rows the same way.

- ``by_columns(by)``: the ``by`` argument as a list of labels;
- ``composite_keys`` / ``split_composite``: several key columns as one
  int64 code per row and back (one key column too: then a null key is named
  by its column);
- ``grouped_columns(frame, ...)``: a frame's rows -> the float64 grouped
  metric and its key columns (columns read by rmse_ext._columns);
- ``Part``, ``as_part``, ``merged_parts``: partial states merged by key
  *value*; ``RAW_FIELDS`` the raw arrays a part carries.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from ._columns import column, find_column, label_text, raise_on_missing, read_columns
from . import _keys
from ._keys import concat_keys, read_keys, split_composite
from ._missing import fold_policy
from ._results import check_key_names
from .grouped import GroupedRootMeanSquaredError

By = Union[None, str, int, Sequence[Any]]

#: the raw per-key arrays of a partial state (``GroupedRootMeanSquaredError.get_raw()``
#: without its keys), with their kinds
RAW_FIELDS = (("total_hi", "double"), ("total_lo", "double"), ("weight_hi", "double"),
              ("weight_lo", "double"), ("unweighted", "long"), ("weighted", "long"),
              ("omitted", "long"))


def _is_label(x: Any) -> bool:
    return isinstance(x, (str, int, np.integer)) and not isinstance(x, (bool, np.bool_))


def by_columns(by: By) -> list[Any]:
    """``by`` as a list of column labels: None or [] -> [] (the whole
    frame), one label (str or int) -> [it], a list or tuple of labels."""
    if by is None:
        return []
    names = [by] if _is_label(by) else list(by) if isinstance(by, (list, tuple)) else None
    if names is None or not all(_is_label(n) for n in names):
        raise TypeError(f"by must be a column label or a list of column labels; got {by!r}")
    check_key_names(names)
    if len(set(names)) != len(names):
        raise ValueError(f"by names a column twice: {names}")
    return names


def by_name(label: Any) -> str:
    """How key errors name a ``by`` column."""
    return f"by column {label_text(label)}"


def composite_keys(cols: list[Any], names: list[Any], rows: int
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The key codec's composite codes (rmse_ext._keys.composite_keys) of a
    frame's key columns; a missing key is a ValueError naming its column."""
    return _keys.composite_keys(cols, [by_name(n) for n in names], rows)


def grouped_columns(frame: Any, y_true: Any, y_pred: Any, names: list[Any],
                    weight: Optional[Any], nan_policy: str = "raise", where: str = "",
                    interval: Optional[dict[str, Any]] = None
                    ) -> tuple[GroupedRootMeanSquaredError, dict[Any, np.ndarray]]:
    """The grouped metric (float64) of a frame's rows and its key columns
    (one entry per group, in the metric's sorted order; none for by=[]: then
    every row has the key 0).  ``where`` ends a 'raise' message (e.g. which
    partition the frame is); ``interval``: the metric's interval settings."""
    labels = {"y_true": y_true, "y_pred": y_pred}
    if weight is not None:
        labels["weight"] = weight
    values = read_columns(frame, labels)
    if nan_policy == "raise":
        raise_on_missing({labels[role]: a for role, a in values.items()}, where)
    t, p, w = values["y_true"], values["y_pred"], values.get("weight")
    rows = len(t) if t.ndim else 1
    metric = GroupedRootMeanSquaredError(dtype="float64", nan_policy=fold_policy(nan_policy),
                                         **(interval or {}))
    if not names:                       # one group: the whole frame
        metric.update_state(t, p, np.zeros(rows, np.int8), w)
        return metric, {}
    key_cols = [column(frame, find_column(frame, name, "by")) for name in names]
    if len(names) == 1:                 # the keys themselves, read once, named by column
        metric.update_state(t, p, read_keys(key_cols[0], rows, by_name(names[0])), w)
        return metric, {names[0]: metric.keys()}
    codes, sorted_keys = composite_keys(key_cols, names, rows)
    metric.update_state(t, p, codes, w)
    return metric, dict(zip(names, split_composite(metric.keys(), sorted_keys)))


Part = tuple[dict[Any, np.ndarray], dict[str, np.ndarray]]


def as_part(metric: GroupedRootMeanSquaredError, keys: dict[Any, np.ndarray]) -> Part:
    """A partial state to ship: the key columns and the raw arrays (without
    the metric's own keys, which for composite keys are local codes)."""
    raw = metric.get_raw()
    del raw["keys"]
    return keys, raw


def merged_parts(parts: Iterable[Part], names: list[Any]
                 ) -> tuple[GroupedRootMeanSquaredError, dict[Any, np.ndarray]]:
    """Partial grouped states merged by key *value*, in the order given:
    each part is (its key columns, its ``get_raw()`` arrays without
    ``keys``), one entry per group of that part.  Keys are coded over all
    parts' keys together, so parts whose own codes differ still meet.
    Returns what ``grouped_columns`` does for the pooled rows."""
    parts = [part for part in parts if len(part[1]["total_hi"])]
    metric = GroupedRootMeanSquaredError(dtype="float64")
    if len(names) <= 1:                 # one key column: merged by its values
        for keys, raw in parts:
            metric.merge_raw(keys[names[0]] if names else
                             np.zeros(len(raw["total_hi"]), np.int8), **raw)
        return metric, ({names[0]: metric.keys()} if names else {})
    if not parts:
        return metric, {name: np.zeros(0, np.int64) for name in names}
    columns = [concat_keys([keys[name] for keys, _ in parts]) for name in names]
    codes, sorted_keys = composite_keys(columns, names, len(columns[0]))
    start = 0
    for _, raw in parts:
        stop = start + len(raw["total_hi"])
        metric.merge_raw(codes[start:stop], **raw)
        start = stop
    return metric, dict(zip(names, split_composite(metric.keys(), sorted_keys)))


def refuse_empty(metric: GroupedRootMeanSquaredError, what: str = "the frame") -> None:
    """The scikit-learn family refuses empty input (docs/semantics.md, "One
    contract"): ValueError when no row reached ``metric``."""
    if not len(metric.keys()):
        raise ValueError(f"{what} has no rows: there is nothing to evaluate "
                         f"(empty input is refused, as scikit-learn refuses it)")
