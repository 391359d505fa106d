"""``evaluate(frame, y_true, y_pred, *, by=None, weight=None,
nan_policy='raise')``: RMSE per group of a table, as a table of the
caller's library (docs/grouped.md; the contract: docs/semantics.md, "One
contract").

``frame`` is a pandas DataFrame, a polars DataFrame or LazyFrame, a pyarrow
Table (or RecordBatch), a dict of 1-D arrays, or a dask or Spark DataFrame
(computed by ``rmse_ext.dask`` / ``rmse_ext.spark``, answered as pandas).
``y_true``, ``y_pred`` and ``weight`` are column labels (str, or a pandas
frame's int labels); ``by`` is one label or a list of them (composite
keys).  This module only checks the arguments and picks the room: the
engines never import it.

The answer has the ``by`` columns, then ``rmse`` (float64), ``count``
(elements counted, int64), ``weight_sum`` (float64; equal to ``count`` when
unweighted) and ``omitted`` (int64), one row per group in sorted key order;
with ``by=None`` one row for the whole table.  Each row holds exactly what
``GroupedRootMeanSquaredError`` (dtype float64) gives for its group.  A
frame without rows is a ValueError (as in scikit-learn); a missing key is
a ValueError naming its column.

Missing values (nulls, NaN) in ``y_true``, ``y_pred`` and ``weight``
follow ``nan_policy`` (docs/missing-values.md), a null exactly like NaN:
'raise' (the default, as in scikit-learn) raises ValueError naming the
first column, in the order y_true, y_pred, weight, that holds a missing
value and its first (0-based) row -- for a dask or Spark frame the row
within its partition and the partition's number, the lowest partition
first; 'omit' leaves such an element out of its group (its error, weight
and count) and counts it in ``omitted``; 'propagate' makes its group's
RMSE NaN.

``ci=LEVEL`` (with ``ci_method='normal'`` or ``'bootstrap'``, ``n_boot``,
``seed``) adds ``ci_low`` and ``ci_high`` (float64): each group's confidence
interval for its RMSE, as ``GroupedRootMeanSquaredError.confidence_interval``
gives it (with ``by=None``: the whole table's); on dask and Spark frames too
(each partition's whole grouped state, interval sums included, merged in
partition order; a bootstrap's draws begin at each partition's first row,
so the intervals are the in-memory ones).

Several models (issue 20): ``y_pred`` a list of prediction columns gives
one row per (group, prediction), a ``prediction`` column after the keys
naming the column, the predictions in the order given; ``y_true`` and
``y_pred`` lists of equal length pair the columns as outputs (an ``output``
column naming the ``y_true`` column).  The targets, weights and keys are
read once; ``nan_policy`` applies to each pair on its own (rmse_ext._compare).

>>> table = {"store": ["b", "a", "b"], "y": [1.0, 2.0, 3.0], "yhat": [1.0, 2.5, 5.0]}
>>> out = evaluate(table, "y", "yhat", by="store")
>>> out["store"].tolist(), out["rmse"].tolist(), out["count"].tolist()
(['a', 'b'], [0.5, 1.4142135623730951], [1, 2])
>>> evaluate(table, "y", "yhat")["rmse"].tolist()
[1.1902380714238083]
>>> table["yhat"][2] = float("nan")
>>> out = evaluate(table, "y", "yhat", by="store", nan_policy="omit")
>>> out["rmse"].tolist(), out["count"].tolist(), out["omitted"].tolist()
([0.5, 0.0], [1, 1], [0, 1])
>>> table = {"y": [1.0, 2.0, 3.0], "a": [1.0, 2.0, 4.0], "b": [2.0, 2.0, float("nan")]}
>>> out = evaluate(table, "y", ["a", "b"], nan_policy="omit")
>>> out["prediction"].tolist(), out["rmse"].tolist(), out["omitted"].tolist()
(['a', 'b'], [0.5773502691896257, 0.7071067811865476], [0, 1])
"""
from __future__ import annotations

from typing import Any, Optional

from . import _compare, _intervals
from ._columns import library
from ._missing import check_policy
from ._tabular import By, by_columns
from .frames import evaluate_frame


def evaluate(frame: Any, y_true: Any, y_pred: Any, *, by: By = None,
             weight: Optional[Any] = None, nan_policy: str = "raise",
             ci: Optional[float] = None, ci_method: str = "normal", n_boot: int = 200,
             seed: int = 0) -> Any:
    """RMSE (and element count, weight sum, omitted count) per group of
    ``frame``'s rows, as a frame of the same library (pandas for dask and
    Spark); see the module docstring."""
    names = by_columns(by)
    check_policy(nan_policy)
    several = _compare.is_several(y_true, y_pred)
    pairs, label, labels = _compare.pairs_of(y_true, y_pred)
    if several and label in map(str, names):
        raise ValueError(f"by column {label!r} clashes with the result column {label!r}")
    interval = None
    if ci is not None:                      # docs/grouped.md: intervals per group
        _intervals.check_level(ci)
        _intervals.check_settings(ci_method, n_boot, seed)
        interval = {"interval": ci_method, "n_boot": n_boot, "seed": seed}
    engine = library(frame)
    if engine in ("dask", "pyspark") and (several or ci is not None):
        # every pair in one pass, whole grouped states per partition (rmse_ext._compare)
        on = _compare.on_dask if engine == "dask" else _compare.on_spark
        metrics, keys = on(frame, pairs, names, weight, nan_policy, interval)
        return _compare.answer(metrics, keys, names, (label, labels) if several else None,
                               ci).to_frame(frame)
    if engine == "dask":
        from .dask import evaluate as on_dask
        return on_dask(frame, y_true, y_pred, by=names, weight=weight, nan_policy=nan_policy)
    if engine == "pyspark":
        from .spark import evaluate as on_spark
        return on_spark(frame, y_true, y_pred, by=names, weight=weight, nan_policy=nan_policy)
    return evaluate_frame(frame, y_true, y_pred, by=names, weight=weight,
                          nan_policy=nan_policy, interval=interval, ci=ci)
