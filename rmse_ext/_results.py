"""THE result table (docs/semantics.md, "One contract"): every table the
package answers with -- ``rmse_ext.evaluate`` on every frame kind, dask,
Spark, the CLI's table, CSV and JSON -- has these columns, in this order:

- the key columns, under their own names (none for the whole input);
- ``rmse`` (float64), ``count`` (elements counted, int64), ``weight_sum``
  (float64: the weights that applied, Keras's count; equal to ``count``
  when unweighted) and ``omitted`` (int64: elements nan_policy='omit' left
  out; always present, 0 under the other policies);
- ``ci_low`` and ``ci_high`` (float64) when an interval was asked for.

``ResultTable.of(metric, keys, ci=None)`` reads a metric;
``.to_frame(like)`` gives the table in ``like``'s library (pandas for
pandas, dask and Spark; polars for polars frames, lazy or not; a pyarrow
Table; a dict of NumPy arrays for a dict); ``.records()`` gives one dict
of Python values per row (the CLI's rows and JSON).

>>> from rmse_ext import GroupedRootMeanSquaredError
>>> m = GroupedRootMeanSquaredError(dtype="float64")
>>> m.update_state([0.0, 0.0, 0.0], [1.0, 2.0, 2.0], ["b", "a", "a"])
>>> ResultTable.of(m, {"store": m.keys()}).records()
[{'store': 'a', 'rmse': 2.0, 'count': 2, 'weight_sum': 2.0, 'omitted': 0}, \
{'store': 'b', 'rmse': 1.0, 'count': 1, 'weight_sum': 1.0, 'omitted': 0}]
>>> ResultTable.of(m).names
['rmse', 'count', 'weight_sum', 'omitted']
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["RESULT_COLUMNS", "ResultTable", "check_key_names"]

RESULT_COLUMNS = ("rmse", "count", "weight_sum", "omitted", "ci_low", "ci_high")


def check_key_names(names: list[Any]) -> None:
    """Key columns may not take a result column's name (ValueError)."""
    clash = [name for name in names if str(name) in RESULT_COLUMNS]
    if clash:
        raise ValueError(f"key column(s) {clash} clash with the result columns "
                         f"{RESULT_COLUMNS}: rename them first")


class ResultTable:
    """Named NumPy columns in the one schema (see the module docstring)."""

    __slots__ = ("columns",)

    def __init__(self, columns: dict[Any, np.ndarray]) -> None:
        self.columns = columns

    @classmethod
    def of(cls, metric: Any, keys: Optional[dict[Any, np.ndarray]] = None, *,
           ci: Optional[float] = None, count: Optional[int] = None) -> ResultTable:
        """The table of ``metric``: with ``keys`` (a
        ``GroupedRootMeanSquaredError`` and its key columns, one entry per
        group in its sorted order) one row per group; without (or ``{}``)
        one row for every element pooled -- a grouped metric's
        ``overall()``, or a ``RootMeanSquaredError``'s state, whose element
        count the caller gives as ``count`` (the plain metric keeps only its
        weight sum).  ``ci``: add the metric's ``ci``-level confidence
        interval per row."""
        if keys:
            out = dict(keys)
            out.update(rmse=np.asarray(metric.result(), np.float64),
                       count=np.asarray(metric.elements(), np.int64),
                       weight_sum=np.asarray(metric.counts(), np.float64),
                       omitted=np.asarray(metric.omitted(), np.int64))
            if ci is not None:
                low, high = metric.confidence_interval(ci)
                out.update(ci_low=np.asarray(low, np.float64),
                           ci_high=np.asarray(high, np.float64))
            return cls(out)
        if hasattr(metric, "overall"):           # a grouped metric, pooled
            rmse, weight_sum = metric.overall(), metric.overall_count()
            count, omitted = int(metric.elements().sum()), metric.overall_omitted()
            interval = None if ci is None else metric.overall_confidence_interval(ci)
        else:
            if count is None:
                raise TypeError("ResultTable.of(RootMeanSquaredError) needs count= "
                                "(the elements counted)")
            rmse, weight_sum, omitted = metric.result(), metric.count, metric.omitted
            interval = None if ci is None else metric.confidence_interval(ci)
        out = {"rmse": np.array([rmse], np.float64), "count": np.array([count], np.int64),
               "weight_sum": np.array([weight_sum], np.float64),
               "omitted": np.array([omitted], np.int64)}
        if interval is not None:
            out.update(ci_low=np.array([interval[0]], np.float64),
                       ci_high=np.array([interval[1]], np.float64))
        return cls(out)

    @property
    def names(self) -> list[Any]:
        return list(self.columns)

    def __len__(self) -> int:
        return len(self.columns["rmse"])

    def records(self) -> list[dict[Any, Any]]:
        """One dict per row, Python values (``tolist()``'s), in column order."""
        lists = {name: values.tolist() for name, values in self.columns.items()}
        return [dict(zip(lists, row)) for row in zip(*lists.values())]

    def to_frame(self, like: Any) -> Any:
        """The table in the library of ``like`` (see the module docstring)."""
        kind = type(like).__module__.split(".", 1)[0]
        if kind in ("pandas", "dask", "pyspark"):
            import pandas as pd  # type: ignore[import-untyped, unused-ignore]
            return pd.DataFrame(self.columns)
        if kind == "polars":
            import polars as pl
            return pl.DataFrame({str(name): values for name, values in self.columns.items()})
        if kind == "pyarrow":
            import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
            return pa.table({str(name): pa.array(values)
                             for name, values in self.columns.items()})
        return dict(self.columns)
