"""``rmse-ext eval``: the RMSE of predictions and targets stored in files,
streamed in row chunks through ``RootMeanSquaredError.update_state``."""
from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, Iterator, Optional

import numpy as np

from .. import GroupedRootMeanSquaredError, RootMeanSquaredError, _missing
from .._keys import AtKey
from .._rules import resolve
from .._results import RESULT_COLUMNS
from ..io import InputError, Table, open_table
from ._format import PROG, ChunkLoop
from .report import combined_report, grouped_report, print_report, ungrouped_report

#: target bytes per operand per chunk (as float64), i.e. 1M rows of scalars
CHUNK_BYTES = 8 << 20
ROLES = ("y_true", "y_pred", "sample_weight")

EVAL_EXAMPLES = """\
Files are rows along their first axis: every input needs the same number of
rows; within a row the Keras shape and weight rules apply (a (n, 1) y_pred
meets a (n,) y_true, (n,) weights weigh the rows of (n, d) errors).
Formats by extension: .npy (memory-mapped), .npz (file.npz:name), .csv/.tsv
(header optional), .parquet (needs pyarrow: pip install pyarrow,
or the [io] extra).

examples:
  rmse-ext eval y_true.npy y_pred.npy --dtype float32
  rmse-ext eval y.npy p.npy --weights w.npy --json --no-progress
  rmse-ext eval truth.csv preds.csv --column value --chunk-rows 100000
  rmse-ext eval val.csv --true-column y --pred-column yhat --weight-column w
  rmse-ext eval val.parquet --true-column y --pred-column yhat --group-column store
  rmse-ext eval y.npy p.npy --groups series.npy --json
  rmse-ext eval val.csv --true-column y --pred-column a --pred-column b --group-column store
  rmse-ext eval val.csv --true-column y1 --pred-column p1 --true-column y2 --pred-column p2

--pred-column may repeat: one result per prediction column (a 'prediction'
column names it), the targets, weights and keys read once.  With
--true-column repeated as often, the columns pair up as outputs (an 'output'
column names the --true-column).
"""


def add_eval_arguments(ev: argparse.ArgumentParser) -> None:
    """The arguments of ``rmse-ext eval``."""
    ev.add_argument("y_true", metavar="Y_TRUE", help="targets (or the one file "
                    "holding every column, with the column options)")
    ev.add_argument("y_pred", metavar="Y_PRED", nargs="?", help="predictions")
    ev.add_argument("--weights", metavar="W", help="sample weights file")
    ev.add_argument("--column", metavar="NAME",
                    help="the column (name or 0-based index) to read from every file")
    ev.add_argument("--true-column", metavar="A", action="append",
                    help="the column of Y_TRUE (repeated: one per output, paired with "
                         "--pred-column in order)")
    ev.add_argument("--pred-column", metavar="B", action="append",
                    help="the column of Y_PRED (of Y_TRUE when Y_PRED is not given); "
                         "repeated: several models, one result per column")
    ev.add_argument("--weight-column", metavar="C",
                    help="the column of W (of Y_TRUE when --weights is not given)")
    ev.add_argument("--chunk-rows", metavar="N", type=positive_int,
                    help="rows per chunk (default: about 8 MB of float64 per input)")
    ev.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                    help="the result's dtype (default float64: the full-precision "
                         "answer; float32 rounds it as tf.keras's default metric "
                         "dtype does)")
    ev.add_argument("--allow-empty", action="store_true",
                    help="accept inputs with no rows (the result is then 0.0); "
                         "without it they are an input error (exit 2)")
    ev.add_argument("--nan-policy", choices=("propagate", "omit", "raise"), default="raise",
                    help="NaN inputs: raise (default, scikit-learn: exit 2 naming the first "
                         "row), propagate (the result is NaN, as in Keras) or omit (leave those "
                         "elements out and count them; docs/missing-values.md); CSV empty "
                         "fields and Parquet nulls are missing values under every policy")
    ev.add_argument("--ci", metavar="LEVEL", type=ci_level,
                    help="also a confidence interval at LEVEL, e.g. 0.95 (docs/intervals.md)")
    ev.add_argument("--ci-method", choices=("normal", "bootstrap"), default="normal",
                    help="the interval's method (default normal; bootstrap: 200 "
                         "replicates, seed 0)")
    ev.add_argument("--group-column", metavar="K",
                    help="RMSE per key of this column (of Y_TRUE, or of --groups): one "
                         "row per group plus the overall row (docs/grouped.md)")
    ev.add_argument("--groups", metavar="KEYS",
                    help="the keys, one per row, from this file (.npy, .npz, .csv, "
                         ".parquet); its only column, or the --group-column one")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--csv", action="store_true", help="print a CSV table")
    ev.add_argument("--no-progress", action="store_true",
                    help="no progress bar (it is shown only when stderr is a terminal)")


def ci_level(text: str) -> float:
    """argparse type: a confidence level in (0, 1)."""
    try:
        level = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < level < 1.0:
        raise argparse.ArgumentTypeError(f"a confidence level is in (0, 1); got {text}")
    return level


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


# -- eval ------------------------------------------------------------------------

class Operand:
    """One role (y_true, y_pred or sample_weight): a column of a table."""

    def __init__(self, role: str, table: Table, key: Any) -> None:
        self.role, self.table, self.key = role, table, key
        self.label = table.label(key)
        self.row_shape, self.dtype = table.describe(key)


class Pairs:
    """What ``rmse-ext eval`` reads: (y_true, y_pred) operand pairs -- one,
    one per --pred-column (``label`` 'prediction'), or one per paired
    --true-column/--pred-column (``label`` 'output') -- and the weights."""

    def __init__(self, pairs: list[tuple[Operand, Operand]], weight: Optional[Operand],
                 label: Optional[str], names: list[str]) -> None:
        self.pairs, self.weight, self.label, self.names = pairs, weight, label, names

    @property
    def operands(self) -> list[Operand]:
        """Every operand once (y_true first, then y_pred, then weights)."""
        ops = [t for t, _ in self.pairs] + [p for _, p in self.pairs]
        ops += [] if self.weight is None else [self.weight]
        return list({id(op): op for op in ops}.values())

    def roles(self, j: int) -> list[Operand]:
        """Pair ``j``'s operands in the metric's order."""
        t, p = self.pairs[j]
        return [t, p] + ([] if self.weight is None else [self.weight])


def resolve_operands(args: argparse.Namespace, parser: argparse.ArgumentParser
                     ) -> tuple[Pairs, Optional[Operand]]:
    """The files and columns each role reads, with every table opened once:
    the values' operand pairs, and the keys' (``--group-column`` of Y_TRUE
    or of ``--groups``), or None."""
    trues, preds = args.true_column or [None], args.pred_column or [None]
    if args.column is not None and (args.true_column or args.pred_column
                                    or args.weight_column is not None):
        parser.error("--column cannot be combined with --true-column, "
                     "--pred-column or --weight-column")
    if args.y_pred is None and args.pred_column is None:
        parser.error("give Y_PRED, or --true-column and --pred-column to read both "
                     "from Y_TRUE")
    if len(trues) > 1 and len(trues) != len(preds):
        parser.error(f"--true-column is given {len(trues)} times, so --pred-column must be "
                     f"too (one per output, paired in order); it is given {len(preds)} "
                     f"time(s)")
    tables: dict[str, Table] = {}
    made: dict[tuple[str, Any, str], Operand] = {}

    def operand(role: str, spec: str, option: Any) -> Operand:
        if spec not in tables:
            tables[spec] = open_table(spec)
        table = tables[spec]
        key = table.column(option if args.column is None else args.column, role)
        if (spec, key, role) not in made:
            made[(spec, key, role)] = Operand(role, table, key)
        return made[(spec, key, role)]

    true_ops = [operand("y_true", args.y_true, c) for c in trues]
    pred_ops = [operand("y_pred", args.y_pred or args.y_true, c) for c in preds]
    weight_spec = args.weights or (args.y_true if args.weight_column else None)
    weight = (None if weight_spec is None else
              operand("sample_weight", weight_spec, args.weight_column))
    if len(trues) > 1:
        label: Optional[str] = "output"
        names = [str(c) for c in trues]
        pairs = list(zip(true_ops, pred_ops))
    else:
        label = "prediction" if len(preds) > 1 else None
        names = [str(c) for c in preds]
        pairs = [(true_ops[0], p) for p in pred_ops]
    if len(set(names)) != len(names):
        parser.error(f"--{'true' if label == 'output' else 'pred'}-column names a column "
                     f"twice: {names}")
    values = Pairs(pairs, weight, label, names)
    spec = args.groups or (args.y_true if args.group_column is not None else None)
    if spec is None:
        return values, None
    if spec not in tables:
        tables[spec] = open_table(spec)
    keys = Operand("groups", tables[spec], tables[spec].column(args.group_column, "groups",
                                                               keys=True))
    if keys.key in [op.key for op in values.operands if op.table is keys.table]:
        raise InputError(keys.label, "is a column of values too; keys need a column of "
                                     "their own")
    return values, keys


def check_rows(operands: list[Operand]) -> None:
    """Semantics 2/3 per row and equal row counts, before reading any data."""
    known = [(op.table.rows, op.label) for op in operands if op.table.rows is not None]
    for rows, label in known[1:]:
        if rows != known[0][0]:
            raise InputError(label, f"has {rows} rows, but {known[0][1]} has "
                                    f"{known[0][0]}")


def row_elements(operands: list[Operand]) -> int:
    """Squared-error elements per row; InputError when the per-row shapes do
    not follow the Keras rules (rmse_ext._rules.resolve on one-row shapes)."""
    shapes = [(1, *op.row_shape) for op in operands]
    labels = " and ".join(f"{op.label} (rows of shape {tuple(op.row_shape)})"
                          for op in operands)
    try:
        layout = resolve(shapes[0], shapes[1], shapes[2] if len(shapes) > 2 else None)
    except ValueError as exc:
        raise InputError(labels, f"{exc}") from None
    if len(layout.t_shape) != len(layout.p_shape):  # right-aligned broadcasting would cross rows
        raise InputError(labels, "rows must have the same rank after the Keras "
                                 "rank fix-up (semantics 2.2)")
    if layout.w_shape is not None and len(layout.w_shape) > len(layout.shape):
        raise InputError(labels, "the weights have more dimensions per row than "
                                 "the squared errors")
    return math.prod(layout.shape[1:])


def default_chunk_rows(operands: list[Operand]) -> int:
    """About CHUNK_BYTES of float64 per input, or fewer rows where a reader
    is slow (so the progress bar moves)."""
    widest = max(math.prod(op.row_shape) for op in operands)
    rows = max(1, CHUNK_BYTES // (8 * max(widest, 1)))
    hints = [op.table.chunk_rows_hint for op in operands if op.table.chunk_rows_hint]
    return min([rows, *hints])


def start_tables(tables: list[Table], every: list[Operand], chunk_rows: Optional[int]) -> int:
    """Start reading every table, each on the columns ``every`` reads of it
    (one column in two roles is read once: issue 18, defect 7), nulls as NaN
    under every policy (semantics 8.2: a null is a missing value exactly like
    NaN; 'raise' then names its row); the rows per chunk (``chunk_rows`` or
    the default)."""
    chunk_rows = chunk_rows or default_chunk_rows(every)
    for table in tables:
        table.nulls = "nan"
        table.start(list(dict.fromkeys(op.key for op in every if op.table is table)),
                    chunk_rows)
    return chunk_rows


def raise_on_nan_row(operands: list[Any], arrays: list[np.ndarray], rows: int) -> None:
    """--nan-policy raise: InputError naming the file (and column) of the
    first row of the input holding a NaN (the chunk's ``arrays`` follow
    ``rows`` rows; on a tie the first of y_true, y_pred, weight), its
    1-based row and line (``at_row``), the element within a multi-output
    row, and how to skip: the one scanner and wording of rmse_ext._missing."""
    found = _missing.first_missing(dict(enumerate(arrays)), row_offset=rows + 1, by_row=True)
    if found is not None:
        op = operands[found.name]
        where = at_row(op, found.row)[len(f"row {found.row}"):]       # its line, if any
        raise InputError(op.label, _missing.missing_message(
            found, column=True, subject="", where=where, skip="--nan-policy omit",
            element=True))


def evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Stream every chunk through ``RootMeanSquaredError.update_state``."""
    start = time.perf_counter()
    if args.json and args.csv:
        parser.error("--json and --csv cannot be combined")
    pairs, keys = resolve_operands(args, parser)
    operands = pairs.operands
    every = operands + ([keys] if keys is not None else [])
    tables = list(dict.fromkeys(op.table for op in every))
    key_name = None if keys is None else keys.table.name_of(keys.key) or "key"
    if key_name in (*RESULT_COLUMNS, "scope", pairs.label or "scope"):
        raise InputError(keys.label if keys else "", f"the key column is named {key_name!r}, "
                                                     f"like a column of the result; rename it")
    rows = 0
    with ChunkLoop(tables, start=start) as loop:
        check_rows(every)
        per_rows = [row_elements(pairs.roles(j)) for j in range(len(pairs.pairs))]
        per_row = sum(per_rows)
        chunk_rows = start_tables(tables, every, args.chunk_rows)
        # 'raise' is the CLI's own scan of each chunk (raise_on_nan_row, positions
        # the CLI's way): the metrics then fold as the policy says, without a second scan
        metrics: list[Any] = [
            (GroupedRootMeanSquaredError if keys is not None else RootMeanSquaredError)(
                dtype=args.dtype, nan_policy=_missing.fold_policy(args.nan_policy),
                interval=None if args.ci is None else args.ci_method)
            for _ in pairs.pairs]
        loop.show(not args.no_progress)
        for n, chunks in row_chunks(tables, chunk_rows):
            arrays = [chunks[tables.index(op.table)][op.key] for op in operands]
            if args.nan_policy == "raise":
                raise_on_nan_row(operands, arrays, rows)
            for j, metric in enumerate(metrics):
                got = [chunks[tables.index(op.table)][op.key] for op in pairs.roles(j)]
                try:
                    if keys is None:
                        metric.update_state(*got)
                    else:
                        metric.update_state(got[0], got[1],
                                            chunks[tables.index(keys.table)][keys.key],
                                            got[2] if len(got) == 3 else None)
                except AtKey as exc:
                    assert keys is not None
                    raise key_error(exc, keys, rows) from None
                except (TypeError, ValueError) as exc:
                    labels = [op.label for op in pairs.roles(j)] + (
                        [keys.label] if keys is not None else [])
                    raise InputError(" and ".join(labels),
                                     f"rows {rows + 1}-{rows + n}: {exc}") from None
            rows += n
            loop.done(rows * per_row)
    if rows * per_row == 0 and not args.allow_empty:
        what = "no rows" if rows == 0 else f"{rows} rows of 0 elements each"
        raise InputError(" and ".join(t.path for t in tables),
                         f"{what} to evaluate (--allow-empty accepts an empty input)")
    notes = {t.path: list(t.notes) for t in tables}
    if keys is not None and key_name in set(metrics[0].keys().tolist()) and \
            getattr(keys.table, "has_header", False):
        notes[keys.table.path].append(
            f"line 1 is read as the header (its key column is named {key_name!r}), but "
            f"{key_name!r} is also a key in the rows below it: if line 1 is data, add a "
            f"header line")
    for path, lines in notes.items():
        for line in lines:
            print(f"{PROG}: warning: {path}: {line}", file=sys.stderr)
    ci = args.ci
    reports = [ungrouped_report(metric, rows * elements, ci) if key_name is None else
               grouped_report(metric, key_name, ci)
               for metric, elements in zip(metrics, per_rows)]
    report = (reports[0] if pairs.label is None else
              combined_report(reports, pairs.label, pairs.names))
    report["extra"] = {"ci_level": ci, "ci_method": args.ci_method} if ci is not None else {}
    report["extra"]["seconds"] = round(time.perf_counter() - start, 6)
    return report


def at_row(op: Operand, row: int) -> str:
    """Where data row ``row`` (1-based, of the whole input) of ``op`` is, as
    the CLI says it: "row 4", and its line for a text file, "row 4 (line 6)"
    (docs/semantics.md 8.5)."""
    line = op.table.line_of(row)
    return f"row {row}" + ("" if line is None else f" (line {line})")


def key_error(exc: AtKey, keys: Operand, rows: int) -> InputError:
    """A key codec error at a key of the chunk starting after ``rows`` rows,
    naming the key file (and column) and the key's data row."""
    return InputError(keys.label, exc.said(at_row(keys, rows + exc.position + 1), ""))


def row_chunks(tables: list[Table], chunk_rows: int
               ) -> Iterator[tuple[int, list[dict[Any, np.ndarray]]]]:
    """``(n, chunks)``: the next ``n`` rows of every (started) table, in
    turn, until they end -- together, or an InputError naming the short one
    (also ``rmse-ext rolling``'s reader)."""
    rows = 0
    while True:
        chunks = [table.read(chunk_rows) for table in tables]
        sizes = {len(next(iter(c.values()))) for c in chunks}
        if len(sizes) > 1:
            raise unequal_lengths(tables, chunks, rows)
        n = sizes.pop()
        if n == 0:
            return
        yield n, chunks
        rows += n


def unequal_lengths(tables: list[Table], chunks: list[dict[Any, np.ndarray]],
                    rows: int) -> InputError:
    lengths = [rows + len(next(iter(c.values()))) for c in chunks]
    short = lengths.index(min(lengths))
    long = lengths.index(max(lengths))
    rows_long = tables[long].rows
    more = f"has {rows_long}" if rows_long is not None else "has more"
    header = (" (line 1 is read as its header: a first line that is not all numbers is one)"
              if getattr(tables[short], "has_header", False) else "")
    return InputError(tables[short].path, f"ends after {lengths[short]} rows{header}, but "
                                          f"{tables[long].path} {more}")


def print_result(report: dict[str, Any], as_json: bool, as_csv: bool = False) -> None:
    """The report as plain text, JSON or CSV (rmse_ext.cli.report)."""
    print_report(report, "json" if as_json else "csv" if as_csv else "text", report["extra"])
