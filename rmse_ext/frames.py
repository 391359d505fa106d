"""In-memory frames -> the result table: a pandas DataFrame, a polars
DataFrame or LazyFrame (only the needed columns are collected), a pyarrow
Table or RecordBatch, or a dict of 1-D arrays (``rmse_ext.evaluate`` picks
this room for them; dask and Spark frames have engines of their own).

Columns are read by rmse_ext._columns, rows folded by rmse_ext._tabular,
the answer is rmse_ext._results' table in the frame's own library.

>>> table = {"store": ["b", "a", "b"], "y": [1.0, 2.0, 3.0], "yhat": [1.0, 2.5, 5.0]}
>>> evaluate_frame(table, "y", "yhat", by=["store"])["rmse"].tolist()
[0.5, 1.4142135623730951]
"""
from __future__ import annotations

from typing import Any, Optional

from . import _compare
from ._columns import library, narrowed, resolved
from ._results import ResultTable
from ._tabular import grouped_columns, refuse_empty

KINDS = ("pandas", "polars", "pyarrow")


def evaluate_frame(frame: Any, y_true: Any, y_pred: Any, *, by: list[Any],
                   weight: Optional[Any] = None, nan_policy: str = "raise",
                   interval: Optional[dict[str, Any]] = None,
                   ci: Optional[float] = None) -> Any:
    """``rmse_ext.evaluate`` on an in-memory frame (``by`` already a list of
    labels, ``nan_policy`` and the interval settings checked)."""
    if not (isinstance(frame, dict) or library(frame) in KINDS):
        raise TypeError(
            f"frame must be a pandas, polars (eager or lazy), dask or Spark DataFrame, a "
            f"pyarrow Table or a dict of arrays; got {type(frame).__name__}")
    if _compare.is_several(y_true, y_pred):
        return compare_frame(frame, y_true, y_pred, by=by, weight=weight,
                             nan_policy=nan_policy, interval=interval, ci=ci)
    wanted = [y_true, y_pred, *([] if weight is None else [weight]), *by]
    data = narrowed(frame, wanted)
    by = resolved(data, by, "by")
    metric, keys = grouped_columns(data, y_true, y_pred, by, weight, nan_policy,
                                   interval=interval)
    refuse_empty(metric)
    return ResultTable.of(metric, keys if by else None, ci=ci).to_frame(frame)


def compare_frame(frame: Any, y_true: Any, y_pred: Any, *, by: list[Any],
                  weight: Optional[Any] = None, nan_policy: str = "raise",
                  interval: Optional[dict[str, Any]] = None,
                  ci: Optional[float] = None) -> Any:
    """``evaluate_frame`` for lists of columns (rmse_ext._compare): one row
    per (group, prediction) -- or (group, output) -- in one pass."""
    pairs, label, names = _compare.pairs_of(y_true, y_pred)
    wanted = [*(x for pair in pairs for x in pair), *([] if weight is None else [weight]), *by]
    data = narrowed(frame, wanted)
    by = resolved(data, by, "by")
    metrics, keys = _compare.grouped_pairs(data, pairs, by, weight, nan_policy,
                                           interval=interval)
    refuse_empty(metrics[0])
    tables = [ResultTable.of(metric, keys if by else None, ci=ci).columns for metric in metrics]
    return ResultTable(_compare.long_table(tables, by, label, names)).to_frame(frame)
