"""RMSE of Spark DataFrame columns where the data lives (optional extra ``[spark]``).

``evaluate(df, y_true, y_pred, weight=None, by=None)`` selects the named
columns, and every partition folds its Arrow record batches (``mapInArrow``)
into one metric state, read by the same Arrow path as every other input
(``rmse_ext._inputs``: numbers in place, decimals as the nearest float64).
A partition emits only that small state (the JSON of ``get_state()``); the
driver merges the states in partition order, so the result is deterministic
for a given partitioning.  No row-level data reaches the driver.

Column types: numbers (byte, short, int, long, float, double, decimal,
boolean) give one element per row; an array column gives one sample per
row, following the Keras rules per row (semantics 2-3): a number against
an array broadcasts, arrays of one length pair element by element, a
per-row weight applies to every element of its row.  Nulls are missing
values, rejected with an error naming the column.

>>> spark = local_session()                                  # doctest: +SKIP
>>> df = spark.createDataFrame([(2.0, 1.0), (4.0, 3.0), (6.0, 2.0)], ["y", "yhat"])  # doctest: +SKIP
>>> evaluate(df, "y", "yhat")                                # doctest: +SKIP
2.449489742783178
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any, Iterator

import numpy as np

from ._arrow import Chunk, Leaf, read_batches
from ._inputs import arrow_values, reject_nulls
from .metric import RootMeanSquaredError

__all__ = ["evaluate", "partial_states", "merged", "local_session"]

NUMBER_TYPES = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType",
                "DoubleType", "DecimalType", "BooleanType")
RESULT_SCHEMA = "partition int, state string, error string"


# -- on the executors: one partition -> one state ---------------------------------------

def _rows_of(chunk: Chunk, name: str) -> Any:
    """A column of one batch: an ndarray (numbers; or a list column whose
    rows all have one length, as (rows, length)), or for a ragged list
    column its (offsets from 0, values)."""
    if isinstance(chunk, Leaf) or len(np.unique(np.diff(chunk.offsets))) <= 1:
        return arrow_values(chunk, name)
    reject_nulls(chunk.valid, name)
    reject_nulls(chunk.values.valid, name)
    return chunk.offsets - chunk.offsets[0], chunk.values.values[chunk.offsets[0]:]


def _per_row_lengths(columns: list[tuple[str, Any]], rows: int) -> np.ndarray:
    """Semantics 2.3 row by row: the length of each row's squared errors (a
    number or a length-1 array broadcasts against the others); ValueError
    naming the column and the first row that does not broadcast."""
    length = np.full(rows, -1, np.int64)          # -1: nothing but length 1 yet
    for name, column in columns:
        if isinstance(column, tuple):
            n = np.diff(column[0])
        elif column.ndim == 2:
            n = np.full(rows, column.shape[1], np.int64)
        else:
            continue
        real = n != 1
        clash = real & (length >= 0) & (length != n)
        if clash.any():
            row = int(np.flatnonzero(clash)[0])
            raise ValueError(f"column {name!r}: row {row} holds {int(n[row])} values "
                             f"where another column holds {int(length[row])}; they do "
                             f"not broadcast (semantics 2.3)")
        length = np.where(real, n, length)
    return np.where(length < 0, 1, length)


def _spelled_out(column: Any, length: np.ndarray) -> np.ndarray:
    """A column repeated element by element to each row's broadcast length."""
    if isinstance(column, tuple):
        offsets, values = column
        n = np.diff(offsets)
    elif column.ndim == 2:
        offsets = np.arange(len(length) + 1) * column.shape[1]
        values, n = column.reshape(-1), np.full(len(length), column.shape[1])
    else:
        return np.repeat(column, length)
    starts = np.repeat(offsets[:-1], length)
    step = np.where(np.repeat(n, length) == 1, 0, 1)
    within = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    spelled: np.ndarray = values[starts + within * step]
    return spelled


def _fold_batch(metric: RootMeanSquaredError, names: list[str],
                picked: dict[str, Chunk]) -> None:
    columns = [(name, _rows_of(picked[name], f"column {name!r}")) for name in names]
    rows = next(len(c[0]) - 1 if isinstance(c, tuple) else len(c) for _, c in columns)
    arrays = [c for _, c in columns]
    if all(isinstance(c, np.ndarray) and c.ndim == 1 for c in arrays):
        metric.update_state(*arrays)                # one element per row
        return
    if not any(isinstance(c, tuple) for c in arrays):
        # every row holds a number or an array of one length: a (rows, d) batch,
        # numbers as (rows, 1) so that they broadcast per row (semantics 2.3, 3.1)
        metric.update_state(*(c.reshape(rows, 1) if c.ndim == 1 else c for c in arrays))
        return
    length = _per_row_lengths(columns, rows)
    metric.update_state(*(_spelled_out(c, length) for c in arrays))


def _partition_state(names: list[str], batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow's function: the partition's batches -> one row holding the
    partition id and the JSON state (or the error, raised on the driver)."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    from pyspark import TaskContext

    metric = RootMeanSquaredError(dtype="float64")
    state, error = None, None
    try:
        for batch in batches:
            for picked in read_batches(batch, names, "partition"):
                _fold_batch(metric, names, picked)
        state = json.dumps(metric.get_state())
    except (TypeError, ValueError) as exc:
        error = f"{type(exc).__name__}:{exc}"
    context = TaskContext.get()
    yield pa.RecordBatch.from_pydict({
        "partition": pa.array([context.partitionId() if context else 0], pa.int32()),
        "state": pa.array([state], pa.string()),
        "error": pa.array([error], pa.string()),
    })


# -- on the driver ------------------------------------------------------------------------

def _check_column(df: Any, column: Any, role: str) -> str:
    if not isinstance(column, str):
        raise TypeError(f"{role} must be a column name (str); got {type(column).__name__}")
    fields = {field.name: field for field in df.schema.fields}
    if column not in fields:
        raise ValueError(f"{role}: the DataFrame has no column {column!r} "
                         f"(columns: {list(fields)})")
    data_type = fields[column].dataType
    inner = getattr(data_type, "elementType", None)
    kind = type(inner if type(data_type).__name__ == "ArrayType" else data_type).__name__
    if kind not in NUMBER_TYPES or (inner is not None and hasattr(inner, "elementType")):
        raise TypeError(f"{role}: column {column!r} holds {data_type.simpleString()}, not "
                        f"numbers (or arrays of numbers)")
    return column


def partial_states(df: Any, y_true: str, y_pred: str, *,
                   weight: str | None = None) -> Any:
    """The lazy DataFrame of partial states: one row per partition of ``df``
    (``partition``, ``state``: the JSON of its metric's ``get_state()``,
    ``error``: a rejected column's message, else null).  Column names and
    types are checked here, before any job runs."""
    names = [_check_column(df, y_true, "y_true"), _check_column(df, y_pred, "y_pred")]
    if weight is not None:
        names.append(_check_column(df, weight, "weight"))
    return df.select(*names).mapInArrow(partial(_partition_state, names), RESULT_SCHEMA)


def merged(rows: list[Any]) -> RootMeanSquaredError:
    """Collected partial-state rows merged in partition order (a partition's
    error raised here, as the TypeError/ValueError it was)."""
    metric = RootMeanSquaredError(dtype="float64")
    for row in sorted(rows, key=lambda row: row["partition"]):
        if row["error"] is not None:
            kind, message = row["error"].split(":", 1)
            raise (TypeError if kind == "TypeError" else ValueError)(message)
        metric.merge_state(RootMeanSquaredError.from_state(json.loads(row["state"])))
    return metric


def evaluate(df: Any, y_true: str, y_pred: str, *, weight: str | None = None,
             by: Any = None) -> Any:
    """The RMSE of column ``y_pred`` against ``y_true`` of the Spark
    DataFrame ``df`` (with ``weight``: per-row weights), as a Python float,
    folded where the partitions are (see the module docstring).  Bad column
    names or types raise TypeError/ValueError before any job runs; nulls
    raise ValueError naming the column."""
    if by is not None:
        raise TypeError("by=: grouped Spark evaluation needs the grouped metric "
                        "(rmse_ext.GroupedRootMeanSquaredError), not in this build")
    states = partial_states(df, y_true, y_pred, weight=weight).collect()
    return float(merged(states).result())


def local_session(cores: int = 2) -> Any:
    """A ``local[cores]`` Spark session for trying things out (and for the
    tests and the bench): loopback only, no UI or progress bar, few shuffle
    partitions; the Python workers run this interpreter and import rmse_ext
    from where this process did.  On a cluster, use your own session."""
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    session = (SparkSession.builder.master(f"local[{cores}]").appName("rmse_ext")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(cores))
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session
