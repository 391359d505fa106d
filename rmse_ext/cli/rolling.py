"""``rmse-ext rolling``: the rolling RMSE of every row of a file, streamed.

Rows are read in chunks (the io/ readers, as ``eval``), each series keeps
its own window -- O(window) samples per open series, nothing proportional to
the file -- and the per-row values are written as they are made, to CSV or
Parquet (docs/windows.md).
"""
from __future__ import annotations

import argparse
import csv
import time
from typing import Any, Optional

import numpy as np

from .. import _backend, _missing
from .._keys import AtKey, KeyCoder, to_arrow
from ..io import InputError, open_table
from ..io.parquet import ParquetTable
from ..rolling import (COUNT, FLOAT_TIME, INT_TIME, OrderError, check_order,
                       default_min_samples, parse_window, read_samples, read_times)
from ._format import ChunkLoop, key_cells
from .eval import (Operand, at_row, check_rows, key_error, positive_int, raise_on_nan_row,
                   row_chunks, row_elements, start_tables)

ROLLING_EXAMPLES = """\
The window is a number of rows (--window 1000) or a duration (--window 1h,
15min, 7D, 30s) over --time-column (datetimes; numbers with a float window
such as --window 3600.0).  --group-column keeps one window per series.
Output columns: the group and time columns, then rmse, count (elements in
the window), weight_sum and omitted, one row per input row, in input order.

examples:
  rmse-ext rolling val.csv --true-column y --pred-column yhat --window 1000 --out r.csv
  rmse-ext rolling log.parquet --true-column y --pred-column yhat --window 1h \\
      --time-column ts --group-column sensor --out r.parquet
"""


def add_rolling_arguments(ro: argparse.ArgumentParser) -> None:
    ro.add_argument("y_true", metavar="FILE", help="targets (or the file holding every column)")
    ro.add_argument("y_pred", metavar="PRED_FILE", nargs="?", help="predictions")
    ro.add_argument("--window", required=True, metavar="N|DURATION",
                    help="rows (an integer) or a duration such as 1h, 15min, 7D")
    ro.add_argument("--time-column", metavar="T", help="the time column (of FILE)")
    ro.add_argument("--group-column", metavar="G", help="one window per key of this column")
    ro.add_argument("--true-column", metavar="A", help="the column of FILE")
    ro.add_argument("--pred-column", metavar="B",
                    help="the column of PRED_FILE (of FILE when PRED_FILE is not given)")
    ro.add_argument("--weight-column", metavar="C", help="the weight column of FILE")
    ro.add_argument("--min-samples", metavar="M", type=int,
                    help="fewer rows in a window give NaN (default: the window for a row "
                         "count, 1 for a duration)")
    ro.add_argument("--nan-policy", choices=("propagate", "omit", "raise"), default="raise",
                    help="NaN inputs: raise (default), omit or propagate")
    ro.add_argument("--chunk-rows", metavar="N", type=positive_int, help="rows per chunk")
    ro.add_argument("--out", required=True, metavar="OUT", help="OUT.csv or OUT.parquet")
    ro.add_argument("--no-progress", action="store_true", help="no progress bar")


def window_arg(text: str) -> Any:
    """--window: an int, a float span, or a duration string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text) if any(c.isdigit() for c in text) and \
            text.replace(".", "", 1).replace("e", "", 1).lstrip("+-").isdigit() else text
    except ValueError:
        return text


class Writer:
    """Output rows to CSV (streamed) or Parquet (one row group per chunk);
    bytes in the ``keys`` columns as hex in CSV; columns of ``types`` (Arrow
    types) cast to them in Parquet."""

    def __init__(self, path: str, keys: tuple[str, ...] = (),
                 types: Optional[dict[str, Any]] = None) -> None:
        lower = path.lower()
        if not lower.endswith((".csv", ".parquet", ".pq")):
            raise InputError(path, "--out must end in .csv or .parquet")
        self.path, self.parquet, self.keys = path, not lower.endswith(".csv"), keys
        self.types = types or {}
        self.writer: Any = None
        self.file: Any = None

    def write(self, columns: dict[str, Any]) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq
            # text and bytes through to_arrow: pyarrow ends NumPy strings at a NUL
            table = pa.table({k: to_arrow(a) if a.dtype.kind in "SUO" else
                              pa.array(a).cast(self.types[k]) if k in self.types else pa.array(a)
                              for k, a in ((k, np.asarray(v)) for k, v in columns.items())})
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table)
            return
        if self.file is None:
            self.file = open(self.path, "w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.file)
            self.writer.writerow(list(columns))
        cols = [np.asarray(v) for v in columns.values()]
        text: list[Any] = [c.astype(str) if c.dtype.kind in "fiumMU" else c for c in cols]
        for k, (name, c) in enumerate(zip(columns, cols)):
            if c.dtype.kind == "f":
                text[k] = [repr(float(x)) for x in c]
            elif name in self.keys and (c.dtype.kind == "S" or (
                    c.dtype.kind == "O" and c.size and isinstance(c[0], bytes))):
                text[k] = key_cells("bytes", c)       # hex, as rmse-ext eval writes bytes keys
            elif c.dtype.kind == "S":
                text[k] = [bytes(x).decode("utf-8", "backslashreplace") for x in c]
        self.writer.writerows(zip(*text))

    def close(self, columns: Optional[dict[str, Any]] = None) -> None:
        if self.writer is None and columns is not None:
            self.write(columns)                     # an empty input: the header only
        if self.parquet and self.writer is not None:
            self.writer.close()
        if self.file is not None:
            self.file.close()


def time_values(raw: np.ndarray, op: Operand, rows: int, spec: Any) -> np.ndarray:
    """A chunk of the time column (after ``rows`` rows) as datetimes or
    numbers (CSV text parsed); a time window's missing time (NaT) is an
    InputError at its row (and line)."""
    if raw.dtype.kind in "US" or raw.dtype == object:
        text = raw.astype(str)
        for kind in ("datetime64[ns]", "float64"):
            try:
                raw = np.asarray(text, dtype=kind)
                break
            except ValueError:
                continue
        else:
            raise InputError(op.label, "holds values that are neither datetimes nor numbers")
    if spec.kind != COUNT and raw.dtype.kind in "Mm" and np.isnat(raw).any():
        row = rows + int(np.argmax(np.isnat(raw))) + 1
        raise InputError(op.label, f"has a missing time (NaT) at {at_row(op, row)}; a time "
                                   f"window needs every row's time")
    return raw


def resolve_columns(args: argparse.Namespace, parser: argparse.ArgumentParser,
                    numeric_time: bool = False
                    ) -> tuple[list[Operand], Optional[Operand], Optional[Operand]]:
    """The value operands (y_true, y_pred[, weights]) and the group and time
    columns of FILE (read as keys: in their own type, text from CSV; the time
    of a float window as numbers -- the key reader refuses floats), each
    table opened once."""
    if args.y_pred is None and args.pred_column is None:
        parser.error("give PRED_FILE, or --true-column and --pred-column to read both from FILE")
    tables: dict[str, Any] = {}

    def operand(role: str, spec: str, option: Any, keys: bool = False) -> Operand:
        if spec not in tables:
            tables[spec] = open_table(spec)
        return Operand(role, tables[spec], tables[spec].column(option, role, keys=keys) if keys
                       else tables[spec].column(option, role))

    values = [operand("y_true", args.y_true, args.true_column),
              operand("y_pred", args.y_pred or args.y_true, args.pred_column)]
    if args.weight_column is not None:
        values.append(operand("sample_weight", args.y_true, args.weight_column))
    group = None if args.group_column is None else \
        operand("groups", args.y_true, args.group_column, keys=True)
    when = None if args.time_column is None else \
        operand("time", args.y_true, args.time_column, keys=not numeric_time)
    return values, group, when


def run_rolling(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Stream the file(s), one window per series; write the per-row values."""
    start = time.perf_counter()
    try:
        spec = parse_window(window_arg(args.window))
        least = default_min_samples(spec, args.min_samples)
    except (TypeError, ValueError) as exc:
        parser.error(f"--window/--min-samples: {exc}")
    if spec.kind != COUNT and args.time_column is None:
        parser.error(f"a duration window ({args.window}) needs --time-column")
    operands, group, when = resolve_columns(args, parser, spec.kind == FLOAT_TIME)
    every = operands + [op for op in (group, when) if op is not None]
    tables = list(dict.fromkeys(op.table for op in every))
    zoned = None
    if when is not None and isinstance(when.table, ParquetTable):
        zoned = when.table.schema.field(when.key).type          # a time zone is kept
    writer = Writer(args.out, keys=() if args.group_column is None else (args.group_column,),
                    types={args.time_column: zoned} if getattr(zoned, "tz", None) else None)
    windows: dict[Any, Any] = {}
    coder = KeyCoder([args.group_column], ["groups"])
    fold = _missing.fold_policy(args.nan_policy)     # 'raise': raise_on_nan_row scans
    names = [c for c in (args.group_column, args.time_column) if c is not None]
    rows = 0
    empty = {**{c: np.zeros(0) for c in names}, "rmse": np.zeros(0),
             "count": np.zeros(0, np.int64), "weight_sum": np.zeros(0),
             "omitted": np.zeros(0, np.int64)}
    with ChunkLoop(tables, then=lambda: writer.close(empty), start=start) as loop:
        check_rows(every)
        per_row = row_elements(operands)
        chunk_rows = start_tables(tables, every, args.chunk_rows)
        loop.show(not args.no_progress)
        for n, chunks in row_chunks(tables, chunk_rows):
            read = {id(op): chunks[tables.index(op.table)][op.key] for op in every}
            arrays = [read[id(op)] for op in operands]
            if args.nan_policy == "raise":
                raise_on_nan_row(operands, arrays, rows)
            key_chunk = None if group is None else read[id(group)]
            time_raw = None if when is None else read[id(when)]
            labels = " and ".join(op.label for op in every)
            try:
                out = roll_chunk(windows, coder, spec, least, fold, arrays,
                                 key_chunk, None if time_raw is None or when is None else
                                 time_values(time_raw, when, rows, spec), rows)
            except AtKey as exc:
                assert group is not None
                raise key_error(exc, group, rows) from None
            except OrderError as exc:
                assert when is not None
                raise InputError(when.label, f"must be non-decreasing within a series: the "
                                             f"time at {at_row(when, rows + exc.position + 1)}"
                                             f" is before the series' time before it") from None
            except (TypeError, ValueError) as exc:
                raise InputError(labels, f"rows {rows + 1}-{rows + n}: {exc}") from None
            columns: dict[str, Any] = {}
            if key_chunk is not None:
                columns[args.group_column] = key_chunk
            if time_raw is not None:
                columns[args.time_column] = time_raw
            columns.update(out)
            writer.write(columns)
            rows += n
            loop.done(rows * per_row)
    return {"rows": rows, "series": len(windows), "out": args.out,
            "seconds": time.perf_counter() - start}


def roll_chunk(windows: dict[Any, Any], coder: KeyCoder, spec: Any, least: int,
               nan_policy: str, arrays: list[np.ndarray], keys: Optional[np.ndarray],
               time_chunk: Optional[np.ndarray], offset: int = 0) -> dict[str, np.ndarray]:
    """One chunk of rows through the windows of their series (made on first
    sight): rmse, count, weight_sum per row.  A series is a key as the key
    codec reads it (``coder``, kept from chunk to chunk: a key whose type
    widens between chunks stays one series); ``windows`` by its code."""
    s = read_samples(arrays[0], arrays[1], arrays[2] if len(arrays) > 2 else None, nan_policy)
    if s.sums is not None or s.exact:
        raise ValueError("rows whose weights are averaged (semantics 3.3) or integers past "
                         "2**53 are not supported by rmse-ext rolling yet")
    tvals = read_times(time_chunk, s.n, spec)
    module = _backend.kernel
    if keys is None:
        series: Any
        series, codes = [None], np.zeros(s.n, np.int64)
    else:
        stable = coder.codes([keys], s.n)          # dense: 0 .. series seen so far
        used = np.bincount(stable) > 0
        series = np.flatnonzero(used).tolist()
        codes = np.ascontiguousarray((np.cumsum(used) - 1)[stable], dtype=np.int64)
    order, starts = module.series_order(codes, len(series))
    for g, key in enumerate(series):               # times checked before any window moves
        idx = order[starts[g]:starts[g + 1]]
        if tvals is not None and len(idx):
            win = windows.get(key)
            check_order(tvals[idx], None if win is None else win.last_time(), positions=idx)
    out = {"rmse": np.empty(s.n), "count": np.empty(s.n, np.int64),
           "weight_sum": np.empty(s.n), "omitted": np.empty(s.n, np.int64)}
    ti = tvals if spec.kind == INT_TIME else None
    tf = tvals if spec.kind == FLOAT_TIME else None
    for g, key in enumerate(series):
        if starts[g] == starts[g + 1]:
            continue
        win = windows.get(key)
        if win is None:
            win = windows[key] = module.RollingWindow(spec.kind, spec.size, spec.span_i,
                                                      spec.span_f)
        win.roll(s.t, s.p, s.w, s.run, nan_policy == "omit", order, starts[g], starts[g + 1],
                 ti, tf, least, out["rmse"], out["count"], out["weight_sum"], out["omitted"])
    return out


def main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    summary = run_rolling(args, parser)
    print(f"{summary['rows']} rows, {summary['series']} series -> {summary['out']} "
          f"({summary['seconds']:.2f} s)")
    return 0



