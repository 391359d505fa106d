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
from ._keys import AtKey, keys_to_json, read_keys, split_composite
from ._results import ResultTable
from ._missing import MissingValueError, fold_policy
from ._tabular import by_name, composite_keys
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
                  interval: Optional[dict[str, Any]] = None, position: int = 0
                  ) -> tuple[list[GroupedRootMeanSquaredError], dict[Any, np.ndarray]]:
    """``rmse_ext._tabular.grouped_columns`` for several (y_true, y_pred)
    pairs: every column read once (rmse_ext._columns), the keys read and
    factorised once, one grouped metric (float64) per pair; the key columns
    are the same for every pair.  ``position``: the frame's first row in the
    whole table (a partition's), where a bootstrap interval's draws begin,
    so that partitions draw what one pass over the whole table would."""
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
        metric.advance_bootstrap(position)
        metric.update_state(values[repr(t_label)], values[repr(p_label)], batch, w)
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


def answer(metrics: list[GroupedRootMeanSquaredError], keys: dict[Any, np.ndarray],
           names: list[Any], pairs: Optional[tuple[str, list[Any]]],
           ci: Optional[float]) -> ResultTable:
    """The result table of one metric per pair: the one schema, with the
    ``pairs`` label column (``(label, names)``) when there are several."""
    tables = [ResultTable.of(metric, keys if names else None, ci=ci) for metric in metrics]
    if pairs is None:
        return tables[0]
    return ResultTable(long_table([t.columns for t in tables], names, *pairs))


# -- dask and Spark frames: one state per partition and pair, merged by key value ----------

State = tuple[dict[Any, np.ndarray], list[dict[str, Any]]]


def partition_state(part: Any, pairs: list[tuple[Any, Any]], names: list[Any],
                    weight: Optional[Any], nan_policy: str, where: str,
                    interval: Optional[dict[str, Any]], position: int) -> State | Exception:
    """One partition's key columns and its pairs' whole grouped states
    (``get_state()``: the interval sums travel too); under 'raise' the error,
    and a key's error (said ``where``), are returned, so that the first
    partition's is raised (on Spark: as itself, not as a failed task)."""
    try:
        metrics, keys = grouped_pairs(part, pairs, names, weight, nan_policy, where,
                                      interval, position)
    except MissingValueError as error:
        return error
    except AtKey as error:
        return error.within(where)
    if not names:
        keys = {}
    elif len(names) > 1:         # the metrics' keys are local codes: ship the columns
        keys = dict(keys)
    return keys, [metric.get_state() for metric in metrics]


def merged_states(parts: list[State | Exception], names: list[Any], count: int
                  ) -> tuple[list[GroupedRootMeanSquaredError], dict[Any, np.ndarray]]:
    """Partition states merged in partition order, pair by pair, by key
    value (composite keys coded over every partition's keys together)."""
    errors = [part for part in parts if isinstance(part, Exception)]
    if errors:
        raise errors[0]
    kept = [part for part in parts if not isinstance(part, Exception)
            and part[1] and part[1][0]["keys"]]
    if not kept:
        raise ValueError("the frame has no rows: there is nothing to evaluate "
                         "(empty input is refused, as scikit-learn refuses it)")
    sorted_keys: list[np.ndarray] = []
    if len(names) > 1:
        columns = [np.concatenate([keys[name] for keys, _ in kept]) for name in names]
        codes, sorted_keys = composite_keys(columns, names, len(columns[0]))
        start = 0
        for keys, states in kept:
            stop = start + len(keys[names[0]])
            for state in states:
                state["keys"] = keys_to_json(state["kind"], codes[start:stop])
            start = stop
    for _, states in kept[1:]:
        for state in states:
            # a bootstrap's partitions drew from one stream at disjoint row offsets
            # (bootstrap_offsets): no draw is shared, so the merge may add them
            if isinstance(state.get("interval"), dict) and "position" in state["interval"]:
                state["interval"]["position"] = 0
    metrics = []
    for j in range(count):
        metric = GroupedRootMeanSquaredError.from_state(kept[0][1][j])
        metric.merge_state([GroupedRootMeanSquaredError.from_state(states[j])
                            for _, states in kept[1:]])
        metrics.append(metric)
    if len(names) == 1:
        return metrics, {names[0]: metrics[0].keys()}
    if names:
        return metrics, dict(zip(names, split_composite(metrics[0].keys(), sorted_keys)))
    return metrics, {}


def bootstrap_offsets(lengths: list[int], interval: Optional[dict[str, Any]]) -> list[int]:
    """Each partition's first row in the whole frame, where its bootstrap
    draws begin (zeros without a bootstrap: nothing depends on it)."""
    if not interval or interval.get("interval") != "bootstrap":
        return [0] * len(lengths)
    offsets: list[int] = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
    return offsets


def on_dask(frame: Any, pairs: list[tuple[Any, Any]], names: list[Any], weight: Optional[Any],
            nan_policy: str, interval: Optional[dict[str, Any]]
            ) -> tuple[list[GroupedRootMeanSquaredError], dict[Any, np.ndarray]]:
    """Every pair on a dask DataFrame in one pass over its partitions."""
    from dask import compute, delayed
    from ._columns import resolved
    labels = [*(x for pair in pairs for x in pair), *([] if weight is None else [weight])]
    names = resolved(frame, names, "by")
    columns = list(dict.fromkeys(resolved(frame, labels) + names))
    blocks = frame[columns].to_delayed()
    lengths = ([int(n) for n in compute(*[delayed(len)(b) for b in blocks])]
               if interval and interval.get("interval") == "bootstrap" else [0] * len(blocks))
    state = delayed(partition_state, pure=True)
    parts = compute(*[state(block, pairs, names, weight, nan_policy,
                            f" of partition {number}", interval, offset)
                      for number, (block, offset)
                      in enumerate(zip(blocks, bootstrap_offsets(lengths, interval)))])
    return merged_states(list(parts), names, len(pairs))


def _spark_rows(batches: Any) -> Any:
    """mapInArrow's function of the row-count job: (partition, rows)."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    from pyspark import TaskContext
    context = TaskContext.get()
    rows = sum(batch.num_rows for batch in batches)
    yield pa.RecordBatch.from_pydict({"partition": [context.partitionId() if context else 0],
                                      "rows": [rows]},
                                     schema=pa.schema([("partition", pa.int32()),
                                                       ("rows", pa.int64())]))


def _spark_states(pairs: list[tuple[Any, Any]], names: list[Any], weight: Optional[Any],
                  nan_policy: str, interval: Optional[dict[str, Any]], offsets: dict[int, int],
                  batches: Any) -> Any:
    """mapInArrow's function: a partition's batches -> one row, its
    ``partition_state`` pickled."""
    import pickle

    import pyarrow as pa
    from pyspark import TaskContext
    context = TaskContext.get()
    number = context.partitionId() if context else 0
    batches = list(batches)
    if batches:
        state = partition_state(pa.Table.from_batches(batches), pairs, names, weight,
                                nan_policy, f" of partition {number}", interval,
                                offsets.get(number, 0))
        yield pa.RecordBatch.from_pydict({"partition": [number],
                                          "state": [pickle.dumps(state)]},
                                         schema=pa.schema([("partition", pa.int32()),
                                                           ("state", pa.binary())]))


def on_spark(df: Any, pairs: list[tuple[Any, Any]], names: list[Any], weight: Optional[Any],
             nan_policy: str, interval: Optional[dict[str, Any]]
             ) -> tuple[list[GroupedRootMeanSquaredError], dict[Any, np.ndarray]]:
    """Every pair on a Spark DataFrame in one pass over its partitions (a
    row-count pass first for a bootstrap interval); the states are pickled
    to the driver and merged in partition order."""
    import pickle
    from functools import partial
    labels = [*(x for pair in pairs for x in pair), *([] if weight is None else [weight])]
    missing = [label for label in [*labels, *names] if label not in df.columns]
    if missing:
        raise ValueError(f"the DataFrame has no column(s) {missing}; its columns are "
                         f"{df.columns}")
    selected = df.select(*dict.fromkeys([*labels, *names]))
    offsets: dict[int, int] = {}
    if interval and interval.get("interval") == "bootstrap":
        counts = sorted((row["partition"], row["rows"]) for row in selected.mapInArrow(
            _spark_rows, "partition int, rows long").collect())
        offsets = dict(zip([c[0] for c in counts],
                           bootstrap_offsets([c[1] for c in counts], interval)))
    rows = selected.mapInArrow(
        partial(_spark_states, pairs, names, weight, nan_policy, interval, offsets),
        "partition int, state binary").collect()
    parts = [pickle.loads(row["state"]) for row in sorted(rows, key=lambda r: r["partition"])]
    return merged_states(parts, names, len(pairs))
