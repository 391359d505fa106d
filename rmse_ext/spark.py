"""RMSE of Spark DataFrame columns where the data lives (optional extra ``[spark]``).

``evaluate(df, y_true, y_pred, *, by=None, weight=None, nan_policy='raise')``
answers as ``rmse_ext.evaluate`` does (it is what ``rmse_ext.evaluate``
calls for a Spark DataFrame): the result table of docs/semantics.md ("One
contract") as a pandas DataFrame -- the ``by`` columns, ``rmse``,
``count``, ``weight_sum``, ``omitted`` -- one row per group, or one row for
the whole frame with ``by=None``.

It selects the named columns, and every partition folds its Arrow record
batches (``mapInArrow``) into one ``GroupedRootMeanSquaredError``, read by
the same Arrow path as every other input (``rmse_ext._inputs``: numbers in
place, decimals as the nearest float64), and emits one row per group it
holds: the key values (in the columns' Spark types) and the group's raw
sums.  The driver merges them in partition order by key *value* (composite
keys are coded over every partition's keys together), so the result is
deterministic for a given partitioning.  No row-level data reaches the
driver.  ``partial_states`` / ``merged`` are the same two stages without
groups (as in ``rmse_ext.dask``: lazy partial states, then a float64
``RootMeanSquaredError``).

Column types: numbers (byte, short, int, long, float, double, decimal,
boolean) give one element per row; an array column gives one sample per
row, following the Keras rules per row (semantics 2-3): a number against
an array broadcasts, arrays of one length pair element by element, a
per-row weight applies to every element of its row.  Nulls are missing
values exactly like NaN, handled by ``nan_policy`` as ``rmse_ext.evaluate``
handles a frame's (docs/missing-values.md): 'raise' (the default: the
first missing value named by column, partition and row within it), 'omit'
(each partition's omitted count travels in its state) or 'propagate'.  A
null key is a ValueError naming its column, as in ``rmse_ext._keys``; a
frame without rows is a ValueError.

>>> spark = local_session()                                  # doctest: +SKIP
>>> df = spark.createDataFrame([(2.0, 1.0), (4.0, 3.0), (6.0, 2.0)], ["y", "yhat"])  # doctest: +SKIP
>>> evaluate(df, "y", "yhat")["rmse"].tolist()               # doctest: +SKIP
[2.449489742783178]
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any, Iterator

import numpy as np

from ._arrow import Chunk, Leaf, not_numbers, read_batches
from ._columns import column_names, find_column
from ._inputs import arrow_values, read_nulls
from ._keys import KeyCoder, kind_of_arrow, to_arrow
from ._keys import missing_error as missing_key_error
from ._missing import (Missing, MissingValueError, Ragged, check_policy, first_missing,
                       fold_policy, missing_error)
from ._results import ResultTable
from ._tabular import RAW_FIELDS, Part, as_part, by_columns, merged_parts, refuse_empty
from .grouped import GroupedRootMeanSquaredError
from .metric import RootMeanSquaredError

__all__ = ["evaluate", "partial_states", "merged", "grouped_partial_states",
           "merged_grouped", "collect_arrow", "local_session"]

NUMBER_TYPES = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType",
                "DoubleType", "DecimalType", "BooleanType")
RESULT_SCHEMA = "partition int, state string, omitted long, error string"


# -- on the executors: one partition -> one state ---------------------------------------

def _rows_of(chunk: Chunk, name: str) -> Any:
    """A column of one batch: an ndarray (numbers; or a list column whose
    rows all have one length, as (rows, length)), or for a ragged list
    column (or one with null rows) its (offsets from 0, values).  Nulls are
    read as NaN, as ``rmse_ext.evaluate`` reads a frame's: a null element
    as one NaN, a null array row as a one-element row holding NaN (it
    broadcasts against the row's other columns: the whole row is missing)."""
    if isinstance(chunk, Leaf) or (
            chunk.valid is None and len(np.unique(np.diff(chunk.offsets))) <= 1):
        return arrow_values(chunk, name, "nan")
    first = int(chunk.offsets[0])
    offsets = chunk.offsets - first
    values = read_nulls(chunk.values.values, chunk.values.valid, name, "nan")[first:]
    if chunk.valid is None:
        return offsets, values
    return _null_rows_as_nan(offsets, values, chunk.valid)


def _null_rows_as_nan(offsets: np.ndarray, values: np.ndarray, valid: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Ragged rows (offsets, values) with each null row replaced by [NaN]."""
    lengths = np.where(valid, np.diff(offsets), 1)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    out = np.full(int(starts[-1]), np.nan,
                  dtype=values.dtype if values.dtype.kind == "f" else np.float64)
    kept = np.repeat(valid, lengths)
    source = np.repeat(offsets[:-1], lengths) + np.arange(len(out)) \
        - np.repeat(starts[:-1], lengths)
    out[kept] = values[source[kept]]
    return starts, out


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


def _batch_operands(columns: list[Any]) -> tuple[list[np.ndarray], np.ndarray | None]:
    """One batch's operands for ``update_state`` from its columns as
    ``_rows_of`` reads them (in y_true, y_pred, weight order): one sample
    per row, or, for ragged array rows spelled out element by element, one
    per element (then also each row's number of elements, for repeating
    the row's key)."""
    arrays = [c for _, c in columns]
    rows = next(len(c[0]) - 1 if isinstance(c, tuple) else len(c) for c in arrays)
    if all(isinstance(c, np.ndarray) and c.ndim == 1 for c in arrays):
        return arrays, None                         # one element per row
    if not any(isinstance(c, tuple) for c in arrays):
        # every row holds a number or an array of one length: a (rows, d) batch,
        # numbers as (rows, 1) so that they broadcast per row (semantics 2.3, 3.1)
        return [c.reshape(rows, 1) if c.ndim == 1 else c for c in arrays], None
    length = _per_row_lengths(columns, rows)
    return [_spelled_out(c, length) for c in arrays], length


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}:{exc}"


def _raise_error(text: str) -> None:
    """A partition's error, raised on the driver as the TypeError/ValueError
    (MissingValueError: a refused missing value) it was."""
    kind, message = text.split(":", 1)
    raise {"TypeError": TypeError, "MissingValueError": MissingValueError}.get(
        kind, ValueError)(message)


def _partition_id() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context else 0


class _FirstMissing:
    """nan_policy='raise' over a partition's batches (rmse_ext._missing's
    rule, per partition): the first value column, in y_true, y_pred, weight
    order, holding a null or NaN, and its first row, counted from 0 over the
    partition (and the element within an array row)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.found: dict[str, Missing] = {}
        self.rows = 0                           # rows of the batches scanned

    def scan(self, columns: list[tuple[str, Any]]) -> bool:
        """Look at one more batch (its columns as ``_rows_of`` reads them,
        nulls as NaN); True once a missing value has been seen."""
        for name, column in columns:
            if name not in self.found:
                hit = first_missing({name: Ragged(*column) if isinstance(column, tuple)
                                     else column}, row_offset=self.rows)
                if hit is not None:
                    self.found[name] = hit
        column = columns[0][1]
        self.rows += len(column[0]) - 1 if isinstance(column, tuple) else len(column)
        return bool(self.found)

    @property
    def settled(self) -> bool:
        """The first column holds a missing value: no later batch changes the error."""
        return self.names[0] in self.found

    def error(self) -> ValueError:
        found = next(self.found[name] for name in self.names if name in self.found)
        return missing_error(found, column=True, where=f" of partition {_partition_id()}",
                             element=True)


def _batches(names: list[str], batches: Iterator[Any], nan_policy: str
             ) -> Iterator[tuple[Any, list[np.ndarray], np.ndarray | None]]:
    """A partition's record batches as (batch, ``update_state`` operands,
    per-row element counts or None; see ``_batch_operands``), nulls read
    as NaN.  Under 'raise' each batch is scanned first: from the first
    missing value on nothing more is yielded, later batches are only
    scanned (an earlier column may hold one further on), and the error is
    raised at the end."""
    scanner = _FirstMissing(names) if nan_policy == "raise" else None
    for batch in batches:
        for picked in read_batches(batch, names, "partition"):
            columns = [(name, _rows_of(picked[name], f"column {name!r}")) for name in names]
            if scanner is None or not scanner.scan(columns):
                yield (batch, *_batch_operands(columns))
        if scanner is not None and scanner.settled:
            break
    if scanner is not None and scanner.found:
        raise scanner.error()


def _partition_state(names: list[str], nan_policy: str, batches: Iterator[Any]
                     ) -> Iterator[Any]:
    """mapInArrow's function: the partition's batches -> one row holding the
    partition id, the JSON state and its omitted count (or the error,
    raised on the driver)."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    metric = RootMeanSquaredError(dtype="float64", nan_policy=fold_policy(nan_policy))
    state, omitted, error = None, None, None
    try:
        for _, operands, _ in _batches(names, batches, nan_policy):
            metric.update_state(*operands)
        state, omitted = json.dumps(metric.get_state()), metric.omitted
    except (TypeError, ValueError) as exc:
        error = _error_text(exc)
    yield pa.RecordBatch.from_pydict({
        "partition": pa.array([_partition_id()], pa.int32()),
        "state": pa.array([state], pa.string()),
        "omitted": pa.array([omitted], pa.int64()),
        "error": pa.array([error], pa.string()),
    })


def _batch_keys(batch: Any, by: list[str], length: np.ndarray | None) -> list[Any]:
    """The batch's key columns (pyarrow arrays; repeated per element for
    spelled-out ragged rows).  A null key is a ValueError naming its column."""
    keys = []
    for name in by:
        col = batch.column(name)
        if col.null_count:
            nulls = col.is_null().to_numpy(zero_copy_only=False)
            raise missing_key_error(f"by column {name!r}", int(np.argmax(nulls)))
        keys.append(col if length is None else col.take(np.repeat(np.arange(len(length)),
                                                                    length)))
    return keys


def _grouped_partition(names: list[str], by: list[str], nan_policy: str,
                       batches: Iterator[Any]) -> Iterator[Any]:
    """mapInArrow's function for ``by=``: the partition's batches -> one row
    per group of the partition (partition id, the key columns as
    ``key_0``, ``key_1``, ..., the raw sums and counts, omitted included),
    or one error row.  All batches fold into one grouped metric: one key
    column directly, composite keys through codes stable across the
    batches."""
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

    metric = GroupedRootMeanSquaredError(dtype="float64", nan_policy=fold_policy(nan_policy))
    coder = KeyCoder(by, [f"by column {name!r}" for name in by])
    part: Part | None = None
    types: list[Any] = []                       # the key columns' Arrow types

    def typed(batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            types[:] = [batch.schema.field(name).type for name in by]
            yield batch

    folded, error = False, None
    try:
        for batch, (t, p, *w), length in _batches(names, typed(batches), nan_policy):
            keys = _batch_keys(batch, by, length)
            rows = len(t) if np.ndim(t) else 1
            if len(by) == 1:
                groups = keys[0]
            elif by:
                groups = coder.codes(keys, rows)
            else:                               # by=[]: the partition is one group
                groups = np.zeros(rows, np.int8)
            metric.update_state(t, p, groups, w[0] if w else None)
            folded = True
        if folded:
            codes = metric.keys()
            part = as_part(metric, {by[0]: codes} if len(by) == 1 else coder.columns(codes))
    except (TypeError, ValueError) as exc:
        error = _error_text(exc)
    if part is None and error is None:
        return                                      # no rows: no groups
    size = 1 if part is None else len(part[1]["total_hi"])
    columns = {"partition": pa.array([_partition_id()] * size, pa.int32())}
    for i, name in enumerate(by):
        columns[f"key_{i}"] = pa.nulls(size, types[i]) if part is None else \
            to_arrow(part[0][name], types[i])
    for column, kind in RAW_FIELDS:
        arrow = pa.float64() if kind == "double" else pa.int64()
        columns[column] = pa.nulls(size, arrow) if part is None else \
            pa.array(part[1][column], arrow)
    columns["error"] = pa.array([error] * size, pa.string())
    yield pa.RecordBatch.from_pydict(columns)


# -- on the driver ------------------------------------------------------------------------

def _check_column(df: Any, column: Any, role: str) -> str:
    """The name of column ``column`` (found by rmse_ext._columns), which must
    hold numbers or arrays of numbers (TypeError naming it)."""
    if not isinstance(column, str):
        raise TypeError(f"{role} must be a column name (str); got {type(column).__name__}")
    position = find_column(df, column, role)
    name: str = column_names(df)[position]
    data_type = df.schema.fields[position].dataType
    inner = getattr(data_type, "elementType", None)
    kind = type(inner if type(data_type).__name__ == "ArrayType" else data_type).__name__
    if kind not in NUMBER_TYPES or (inner is not None and hasattr(inner, "elementType")):
        raise not_numbers(f"column {name!r}",
                          f"{data_type.simpleString()} values (arrays of numbers are read too)")
    return name


def _value_columns(df: Any, y_true: str, y_pred: str, weight: str | None) -> list[str]:
    """The checked names of the value columns (y_true, y_pred[, weight])."""
    names = [_check_column(df, y_true, "y_true"), _check_column(df, y_pred, "y_pred")]
    if weight is not None:
        names.append(_check_column(df, weight, "weight"))
    return names


def partial_states(df: Any, y_true: str, y_pred: str, *, weight: str | None = None,
                   nan_policy: str = "raise") -> Any:
    """The first of the two stages (``merged`` is the second), as
    ``rmse_ext.dask.partial_states``: one partial state per partition of
    ``df``, not yet computed -- a lazy DataFrame with one row per partition
    (``partition``, ``state``: the JSON of its metric's ``get_state()``,
    ``omitted``: the elements nan_policy='omit' left out, as in the state,
    ``error``: a rejected column's message, else null).  Column names,
    types and ``nan_policy`` are checked here, before any job runs."""
    names = _value_columns(df, y_true, y_pred, weight)
    fold = partial(_partition_state, names, check_policy(nan_policy))
    return df.select(*names).mapInArrow(fold, RESULT_SCHEMA)


def merged(rows: Any) -> RootMeanSquaredError:
    """The second stage, as ``rmse_ext.dask.merged``: ``partial_states``'
    rows -- collected, or the lazy DataFrame itself (collected here) --
    merged in partition order into a float64 ``RootMeanSquaredError``,
    whose ``result()``, ``count`` and ``omitted`` are those of the whole
    frame (a partition's error raised here, as the TypeError/ValueError it
    was)."""
    if hasattr(rows, "collect"):
        rows = rows.collect()
    metric = RootMeanSquaredError(dtype="float64")
    for row in sorted(rows, key=lambda row: row["partition"]):
        if row["error"] is not None:
            _raise_error(row["error"])
        metric.merge_state(RootMeanSquaredError.from_state(json.loads(row["state"])))
    return metric


def _by_names(by: Any) -> list[str]:
    """``by`` as a list of names: one name or a list, as ``rmse_ext.evaluate``
    takes them; None or [] for the whole frame as one group."""
    return by_columns(by)


def _checked_by(df: Any, by: Any) -> list[str]:
    """The ``by`` column names, each a column of key type."""
    names = _by_names(by)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"by must name columns by str; got {name!r}")
        data_type = df.schema.fields[find_column(df, name, "by")].dataType
        try:
            kind_of_arrow(_arrow_type(data_type), f"by column {name!r}")
        except (TypeError, ValueError, AssertionError) as exc:
            raise TypeError(f"by: column {name!r} holds {data_type.simpleString()}, not keys "
                            f"(strings, integers, booleans, dates, timestamps or binary)"
                            ) from exc
    return names


def _arrow_type(data_type: Any) -> Any:
    """The Arrow type a Spark column reaches the partitions in (its kind of
    key is the codec's to say: rmse_ext._keys.kind_of_arrow)."""
    from pyspark.sql.pandas.types import to_arrow_type

    try:
        return to_arrow_type(data_type, timezone="UTC")
    except TypeError:                                # pyspark 3.5: no timezone argument
        return to_arrow_type(data_type)


def grouped_partial_states(df: Any, y_true: str, y_pred: str, *, by: Any,
                           weight: str | None = None, nan_policy: str = "raise") -> Any:
    """The lazy DataFrame of grouped partial states: one row per group of
    each partition of ``df`` (``partition``, the key columns ``key_0``,
    ``key_1``, ... of the ``by`` columns' types, the raw sums ``total_hi``,
    ``total_lo``, ``weight_hi``, ``weight_lo``, element counts
    ``unweighted``, ``weighted`` and ``omitted`` (left out by
    nan_policy='omit'), and ``error``: a rejected column's message in a
    partition's only row, else null).  Columns and ``nan_policy`` are
    checked here, before any job runs."""
    from pyspark.sql import types as T

    names = _value_columns(df, y_true, y_pred, weight)
    policy = check_policy(nan_policy)
    keys = _checked_by(df, by)
    fields = {field.name: field for field in df.schema.fields}
    schema = T.StructType(
        [T.StructField("partition", T.IntegerType())]
        + [T.StructField(f"key_{i}", fields[name].dataType) for i, name in enumerate(keys)]
        + [T.StructField(column, T.DoubleType() if kind == "double" else T.LongType())
           for column, kind in RAW_FIELDS]
        + [T.StructField("error", T.StringType())])
    selected = df.select(*dict.fromkeys(names + keys))
    return selected.mapInArrow(partial(_grouped_partition, names, keys, policy), schema)


def collect_arrow(states: Any) -> Any:
    """A small DataFrame collected as a pyarrow Table (pyspark >= 4.0's
    ``toArrow``; its private predecessor on 3.5)."""
    if hasattr(states, "toArrow"):
        return states.toArrow()
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    return pa.Table.from_batches(states._collect_as_arrow(), schema=None)


def merged_grouped(table: Any, by: Any) -> tuple[GroupedRootMeanSquaredError,
                                                 dict[str, np.ndarray]]:
    """Collected grouped partial states (a pyarrow Table of
    ``grouped_partial_states``' rows) merged by key value, partition after
    partition: the float64 grouped metric and its key columns, one entry per
    group in the metric's sorted order (for one ``by`` column, its
    ``keys()``).  A partition's error is raised here."""
    names = _by_names(by)
    partition = np.asarray(table.column("partition").to_numpy(zero_copy_only=False))
    order = np.argsort(partition, kind="stable")
    errors = table.column("error").to_pylist()
    for i in order.tolist():
        if errors[i] is not None:
            _raise_error(errors[i])
    keys = [np.asarray(table.column(f"key_{i}").to_numpy(zero_copy_only=False))[order]
            for i in range(len(names))]
    raws = {column: np.asarray(table.column(column).to_numpy(zero_copy_only=False))[order]
            for column, _ in RAW_FIELDS}
    edges = [0, *(np.flatnonzero(np.diff(partition[order])) + 1).tolist(), len(order)]
    parts = [({name: k[a:b] for name, k in zip(names, keys)},
              {column: r[a:b] for column, r in raws.items()})
             for a, b in zip(edges[:-1], edges[1:])]
    return merged_parts(parts, names)


def evaluate(df: Any, y_true: str, y_pred: str, *, by: Any = None,
             weight: str | None = None, nan_policy: str = "raise") -> Any:
    """``rmse_ext.evaluate`` on a Spark DataFrame, folded where the
    partitions are (see the module docstring): the result table as a pandas
    DataFrame -- the ``by`` columns, ``rmse``, ``count``, ``weight_sum``,
    ``omitted``, one row per group in sorted key order (``by=None``: one row
    for the whole frame).  ``nan_policy`` is ``rmse_ext.evaluate``'s
    (docs/missing-values.md), nulls read as NaN: 'raise' (the default:
    ValueError naming the column, the partition and the row within it),
    'omit' or 'propagate'.  Bad column names or types, or a bad
    ``nan_policy``, raise TypeError/ValueError before any job runs; a null
    key raises ValueError naming its column; a frame without rows is a
    ValueError."""
    table = collect_arrow(grouped_partial_states(df, y_true, y_pred, by=by, weight=weight,
                                                 nan_policy=nan_policy))
    names = _by_names(by)
    metric, keys = merged_grouped(table, names)
    refuse_empty(metric, "the DataFrame")
    return ResultTable.of(metric, keys if names else None).to_frame(df)


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
