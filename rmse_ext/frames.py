"""``evaluate(frame, y_true, y_pred, *, by=None, weight=None,
nan_policy='propagate')``: RMSE per group of a table, as a table of the
caller's library.

``frame`` is a pandas DataFrame, a polars DataFrame, a pyarrow Table (or
RecordBatch), a dict of 1-D arrays, or a dask or Spark DataFrame (computed
by ``rmse_ext.dask`` / ``rmse_ext.spark``, returned as pandas).  ``y_true``,
``y_pred`` and ``weight`` name columns; ``by`` names one column or a list of
them (composite keys).  The result has
the ``by`` columns, then ``rmse`` (float64), ``count`` (elements, int64) and
``weight_sum`` (float64; equal to ``count`` when unweighted), one row per
group in sorted key order; with ``by=None`` one row for the whole table.
Each row holds exactly what ``GroupedRootMeanSquaredError`` (dtype float64)
gives for its group; missing keys are an error (see rmse_ext._keys).

Missing values (nulls, NaN) in ``y_true``, ``y_pred`` and ``weight`` follow
``nan_policy`` (docs/missing-values.md): 'propagate' reads a null as NaN,
which makes its group's RMSE NaN; 'omit' leaves such a row out of its group
(its error, weight and count) and adds an ``omitted`` column (int64) after
``weight_sum``; 'raise' raises ValueError naming the first column, in the
order y_true, y_pred, weight, that holds a missing value, and its first
such row -- as the metrics' 'raise' names the first argument holding a NaN
(for a dask or Spark frame: the row within its partition, and the
partition's number, the lowest partition first).

``ci=LEVEL`` (with ``ci_method='normal'`` or ``'bootstrap'``, ``n_boot``,
``seed``) adds ``ci_low`` and ``ci_high`` (float64): each group's confidence
interval for its RMSE, as ``GroupedRootMeanSquaredError.confidence_interval``
gives it (with ``by=None``: ``RootMeanSquaredError``'s on the whole table).
Not yet for dask or Spark frames (ValueError).

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
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from ._keys import key_array, read_keys
from . import _backend, _intervals, _missing
from .grouped import GroupedRootMeanSquaredError

RESULT_COLUMNS = ("rmse", "count", "weight_sum", "omitted")
By = Union[None, str, Sequence[str]]


def _library(frame: Any) -> str:
    return type(frame).__module__.split(".", 1)[0]


def column_names(frame: Any) -> list[str]:
    if isinstance(frame, dict):
        return list(frame)
    if _library(frame) == "pyarrow":
        return list(frame.schema.names)
    return [str(c) for c in frame.columns]


def column(frame: Any, name: str) -> Any:
    """One column, in the frame's own library (a pandas/polars Series, a
    pyarrow ChunkedArray, or whatever the dict holds)."""
    names = column_names(frame)
    if name not in names:
        raise ValueError(f"the frame has no column {name!r}; its columns are {names}")
    if _library(frame) == "pyarrow":
        return frame.column(name)
    return frame[name]


def values(col: Any, name: str) -> np.ndarray:
    """A numeric column as a NumPy array (nulls read as NaN: they propagate,
    as NaN does in Keras)."""
    library = _library(col)
    if library == "pandas":
        if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":
            return np.asarray(col.to_numpy())
        return np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
    if library == "pyarrow":
        return np.asarray(col.to_numpy())
    if library == "polars":
        return np.asarray(col.to_numpy())
    return np.asarray(col)


def by_columns(by: By) -> list[str]:
    if by is None:
        return []
    names = [by] if isinstance(by, str) else list(by) if isinstance(by, (list, tuple)) else []
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"by must be a column name or a list of column names; got {by!r}")
    clash = [n for n in names if n in RESULT_COLUMNS]
    if clash:
        raise ValueError(f"by column(s) {clash} clash with the result columns {RESULT_COLUMNS}")
    if len(set(names)) != len(names):
        raise ValueError(f"by names a column twice: {names}")
    return names


def composite_keys(cols: list[Any], names: list[str], rows: int
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """One int64 code per row for several key columns (lexicographic in the
    columns' sorted keys), and each column's sorted distinct keys."""
    code = np.zeros(rows, dtype=np.int64)
    sorted_keys = []
    for col, name in zip(cols, names):
        batch = read_keys(col, rows, name)
        if batch.ints is not None:
            codes, first = _backend.kernel.factorize_records(batch.ints)
            distinct = key_array(batch.kind, batch.ints[first])
        else:
            assert batch.codes is not None and batch.uniques is not None
            codes, distinct = batch.codes, key_array(batch.kind, batch.uniques)
        order = np.argsort(distinct, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        if len(order) and code.size and int(code.max()) > (2**62) // len(order):
            raise ValueError(f"the by columns {names} have too many combinations of keys")
        code = code * max(len(order), 1) + rank[codes]
        sorted_keys.append(distinct[order])
    return code, sorted_keys


def split_composite(codes: np.ndarray, sorted_keys: list[np.ndarray]) -> list[np.ndarray]:
    """The key columns of composite codes (composite_keys' inverse)."""
    out = []
    for keys in reversed(sorted_keys):
        width = max(len(keys), 1)
        out.append(keys[codes % width])
        codes = codes // width
    return out[::-1]


def evaluate(frame: Any, y_true: str, y_pred: str, *, by: By = None,
             weight: Optional[str] = None, nan_policy: str = "propagate",
             ci: Optional[float] = None, ci_method: str = "normal", n_boot: int = 200,
             seed: int = 0) -> Any:
    """RMSE (and element count, weight sum) per group of ``frame``'s rows,
    as a frame of the same library (a pandas DataFrame for dask and Spark); see the
    module docstring."""
    names = by_columns(by)
    _missing.check_policy(nan_policy)
    interval = None
    if ci is not None:                      # docs/grouped.md: intervals per group
        _intervals.check_level(ci)
        _intervals.check_settings(ci_method, n_boot, seed)
        if _library(frame) in ("dask", "pyspark"):
            raise ValueError("ci= is available for pandas, polars and pyarrow frames and "
                             "dicts of arrays, not yet for dask or Spark DataFrames")
        interval = {"interval": ci_method, "n_boot": n_boot, "seed": seed}
    if _library(frame) == "dask":
        from .dask import evaluate_frame
        return evaluate_frame(frame, y_true, y_pred, by=names, weight=weight,
                              nan_policy=nan_policy)
    if _library(frame) == "pyspark":
        from .spark import evaluate_frame as evaluate_spark
        return evaluate_spark(frame, y_true, y_pred, by=names, weight=weight,
                              nan_policy=nan_policy)
    if not (isinstance(frame, dict) or _library(frame) in ("pandas", "polars", "pyarrow")):
        raise TypeError(
            f"frame must be a pandas, polars, dask or Spark DataFrame, a pyarrow Table or a "
            f"dict of arrays; got {type(frame).__name__}"
        )
    metric, keys = grouped_columns(frame, y_true, y_pred, names, weight, nan_policy,
                                   interval=interval)
    out = result_columns(metric, keys, omitted=nan_policy == "omit")
    if ci is not None:
        low, high = (metric.confidence_interval(ci) if names else
                     np.array([metric.overall_confidence_interval(ci)]).T)
        out.update(ci_low=low, ci_high=high)
    return build_frame(frame, out)


def raise_on_missing(columns: dict[str, np.ndarray], where: str = "") -> None:
    """nan_policy='raise' on a frame: ValueError naming the first column (in
    the order given) that holds a null or NaN, and its first such row."""
    for name, col in columns.items():
        first = _missing.first_nan_row(col)
        if first is not None:
            row = first[0]
            raise ValueError(f"column {name!r} has a missing value (null or NaN) at row "
                             f"{row}{where} (nan_policy='raise')")


def grouped_columns(frame: Any, y_true: str, y_pred: str, names: list[str],
                    weight: Optional[str], nan_policy: str = "propagate", where: str = "",
                    interval: Optional[dict[str, Any]] = None
                    ) -> tuple[GroupedRootMeanSquaredError, dict[str, np.ndarray]]:
    """The grouped metric (float64) of a frame's rows and its key columns
    (one entry per group, in the metric's sorted order; none for by=None:
    then every row has the key 0).  ``where`` ends a 'raise' message (e.g.
    which partition the frame is); ``interval``: the metric's interval
    settings."""
    t, p = values(column(frame, y_true), y_true), values(column(frame, y_pred), y_pred)
    w = None if weight is None else values(column(frame, weight), weight)
    if nan_policy == "raise":
        raise_on_missing({y_true: t, y_pred: p, **({} if w is None else {str(weight): w})},
                         where)
    key_cols = [column(frame, n) for n in names]
    metric = GroupedRootMeanSquaredError(
        dtype="float64", nan_policy="omit" if nan_policy == "omit" else "propagate",
        **(interval or {}))
    keys: dict[str, np.ndarray] = {}
    if not names:                       # one group: the whole frame
        metric.update_state(t, p, np.zeros(len(t) if t.ndim else 1, np.int8), w)
    elif len(names) == 1:
        metric.update_state(t, p, key_cols[0], w)
        keys[names[0]] = metric.keys()
    else:
        codes, sorted_keys = composite_keys(key_cols, names, len(t))
        metric.update_state(t, p, codes, w)
        keys = dict(zip(names, split_composite(metric.keys(), sorted_keys)))
    return metric, keys


Part = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


def as_part(metric: GroupedRootMeanSquaredError, keys: dict[str, np.ndarray]) -> Part:
    """A partial state to ship: the key columns and the raw arrays (without
    the metric's own keys, which for composite keys are local codes)."""
    raw = metric.get_raw()
    del raw["keys"]
    return keys, raw


def merged_parts(parts: Iterable[Part], names: list[str]
                 ) -> tuple[GroupedRootMeanSquaredError, dict[str, np.ndarray]]:
    """Partial grouped states merged by key *value*, in the order given:
    each part is (its key columns, its ``get_raw()`` arrays without
    ``keys``), one entry per group of that part.  Composite keys are coded
    over all parts' keys together, so parts whose own codes differ still
    meet.  Returns what ``grouped_columns`` does for the pooled rows."""
    parts = [part for part in parts if len(part[1]["total_hi"])]
    metric = GroupedRootMeanSquaredError(dtype="float64")
    if len(names) <= 1:
        for keys, raw in parts:
            metric.merge_raw(keys[names[0]] if names else
                             np.zeros(len(raw["total_hi"]), np.int8), **raw)
        return metric, ({names[0]: metric.keys()} if names else {})
    if not parts:
        return metric, {name: np.zeros(0, np.int64) for name in names}
    columns = [np.concatenate([keys[name] for keys, _ in parts]) for name in names]
    codes, sorted_keys = composite_keys(columns, names, len(columns[0]))
    start = 0
    for _, raw in parts:
        stop = start + len(raw["total_hi"])
        metric.merge_raw(codes[start:stop], **raw)
        start = stop
    return metric, dict(zip(names, split_composite(metric.keys(), sorted_keys)))


def result_columns(metric: GroupedRootMeanSquaredError, keys: dict[str, np.ndarray],
                   omitted: bool = False) -> dict[str, np.ndarray]:
    """The result table's columns: the keys, then rmse, count, weight_sum
    and, with ``omitted``, the omitted elements (one row of zeros for an
    empty frame evaluated as a whole)."""
    out = dict(keys)
    out.update(rmse=metric.result(), count=metric.elements(), weight_sum=metric.counts())
    if omitted:
        out["omitted"] = metric.omitted()
    if not keys and not len(out["rmse"]):
        out.update(rmse=np.zeros(1), count=np.zeros(1, np.int64), weight_sum=np.zeros(1))
        if omitted:
            out["omitted"] = np.zeros(1, np.int64)
    return out


def build_frame(like: Any, out: dict[str, Any]) -> Any:
    """A frame of ``like``'s library from NumPy columns."""
    library = _library(like)
    if library == "pandas":
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]
        return pd.DataFrame(out)
    if library == "polars":
        import polars as pl
        return pl.DataFrame(out)
    if library == "pyarrow":
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        return pa.table({k: pa.array(v) for k, v in out.items()})
    return out
