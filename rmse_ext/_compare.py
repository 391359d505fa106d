"""Several models or several outputs in one ``rmse_ext.evaluate`` call
(issue 20): ``y_pred`` a list of prediction columns (one result per model,
a ``prediction`` column naming it), or ``y_true`` and ``y_pred`` lists of
equal length (paired outputs, an ``output`` column naming the ``y_true``
column).  The targets, the weights and the keys are read -- and the keys
factorised -- once; each pair then folds into its own grouped metric, so
``nan_policy='omit'`` is per pair: a missing value in model B's column
leaves model A's figures alone.  The table has one row per (group...,
name), the names in the order given.

>>> pairs_of("y", ["a", "b"])
([('y', 'a'), ('y', 'b')], 'prediction', ['a', 'b'])
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ._columns import column, find_column, raise_on_missing, read_columns
from ._keys import read_keys
from ._tabular import by_name, composite_keys, fold_policy, split_composite
from .grouped import GroupedRootMeanSquaredError

LABELS = ("prediction", "output")


def is_several(y_true: Any, y_pred: Any) -> bool:
    """Whether ``evaluate`` was given lists of columns."""
    return isinstance(y_true, (list, tuple)) or isinstance(y_pred, (list, tuple))


def pairs_of(y_true: Any, y_pred: Any) -> tuple[list[tuple[Any, Any]], str, list[Any]]:
    """``(pairs, label, names)``: the (y_true, y_pred) column pairs, the
    label column's name and its values; ValueError for empty lists, lists
    of unequal lengths (outputs) and a column named twice."""
    trues = list(y_true) if isinstance(y_true, (list, tuple)) else [y_true]
    preds = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
    if not trues or not preds:
        raise ValueError("y_true and y_pred name at least one column each")
    if len(trues) > 1:
        if len(trues) != len(preds):
            raise ValueError(
                f"y_true and y_pred lists pair outputs and must have equal lengths; got "
                f"{len(trues)} y_true and {len(preds)} y_pred columns")
        pairs, label, names = list(zip(trues, preds)), "output", trues
    else:
        pairs, label, names = [(trues[0], p) for p in preds], "prediction", preds
    if len(set(map(repr, names))) != len(names):
        raise ValueError(f"the {label} columns name a column twice: {names}")
    return pairs, label, names


def distinct(names: Sequence[Any]) -> list[Any]:
    return list({repr(n): n for n in names}.values())


def grouped_pairs(frame: Any, pairs: list[tuple[Any, Any]], names: list[Any],
                  weight: Optional[Any], nan_policy: str = "raise", where: str = "",
                  interval: Optional[dict[str, Any]] = None
                  ) -> tuple[list[GroupedRootMeanSquaredError], dict[Any, np.ndarray]]:
    """``rmse_ext._tabular.grouped_columns`` for several (y_true, y_pred)
    pairs: every column read once (rmse_ext._columns), the keys read and
    factorised once, one grouped metric (float64) per pair; the key columns
    are the same for every pair."""
    wanted = distinct([t for t, _ in pairs] + [p for _, p in pairs])
    labels = {repr(label): label for label in wanted}
    if weight is not None:
        labels["weight"] = weight
    values = read_columns(frame, labels)
    if nan_policy == "raise":
        raise_on_missing({labels[role]: a for role, a in values.items()}, where)
    w = values.pop("weight", None)
    first = values[repr(pairs[0][0])]
    rows = len(first) if first.ndim else 1
    keys: dict[Any, np.ndarray] = {}
    if not names:                       # one group: the whole frame
        batch = read_keys(np.zeros(rows, np.int8), rows)
    else:
        key_cols = [column(frame, find_column(frame, name, "by")) for name in names]
        if len(names) == 1:
            batch = read_keys(key_cols[0], rows, by_name(names[0]))
        else:
            codes, sorted_keys = composite_keys(key_cols, names, rows)
            batch = read_keys(codes, rows)
    metrics = []
    for t_label, p_label in pairs:
        metric = GroupedRootMeanSquaredError(dtype="float64", nan_policy=fold_policy(nan_policy),
                                             **(interval or {}))
        metric._update_read(values[repr(t_label)], values[repr(p_label)], batch, w)
        metrics.append(metric)
    if len(names) == 1:
        keys = {names[0]: metrics[0].keys()}
    elif names:
        keys = dict(zip(names, split_composite(metrics[0].keys(), sorted_keys)))
    return metrics, keys


def long_table(parts: list[dict[str, np.ndarray]], key_names: list[str], label: str,
               names: list[Any]) -> dict[str, Any]:
    """The per-pair result columns (each with the same key rows) as one
    table: the keys, ``label``, then the rest; row (group i, name j) at
    i * len(names) + j."""
    out: dict[str, Any] = {}
    width = len(next(iter(parts[0].values()))) if parts[0] else 0
    for name in key_names:
        out[name] = np.repeat(np.asarray(parts[0][name]), len(names))
    out[label] = np.tile(np.asarray(names), width)
    for column in parts[0]:
        if column not in key_names:
            out[column] = np.stack([np.asarray(part[column]) for part in parts],
                                   axis=-1).reshape(-1)
    return out


def one_by_one(evaluate: Any, frame: Any, pairs: list[tuple[Any, Any]], label: str,
               names: list[Any], **options: Any) -> Any:
    """Several pairs on a dask or Spark frame: one ``evaluate`` per pair
    (the engine reads the frame once per pair), the tables joined as in
    memory (pandas)."""
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    from ._tabular import by_columns
    tables = [evaluate(frame, t, p, **options) for t, p in pairs]
    keys = by_columns(options.get("by"))
    parts = [{c: table[c].to_numpy() for c in table.columns} for table in tables]
    return pd.DataFrame(long_table(parts, keys, label, names))
