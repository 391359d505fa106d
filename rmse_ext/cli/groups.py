"""``rmse-ext eval`` with groups: the key column read beside the values, in
the same row chunks, and the per-group table printed (aligned text, JSON or
CSV).

Keys come from ``--group-column NAME`` (a column of Y_TRUE's table) or from
``--groups FILE`` (its only column, or the ``--group-column`` one): a
``.npy`` (integers, bools, strings, bytes, datetimes; memory-mapped), an
``.npz`` member, a ``.csv``/``.tsv`` column (read as text: ``007`` and ``7``
are different keys) or a ``.parquet`` column (its own type: integers,
strings, dictionary columns).  Memory is bounded in the rows; the group
table itself (about 64 bytes per group) must fit.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator, Optional

import numpy as np

from ..io import InputError, split_spec
from ..io.common import import_pyarrow, pick_named
from ..io.csv import CsvTable


class KeyReader:
    """One key column, read in exactly the row chunks asked for."""

    def __init__(self, spec: str, column: Optional[str]) -> None:
        path, member = split_spec(spec)
        self.path = path
        self.rows: Optional[int] = None
        lower = path.lower()
        self.label = f"{spec} column {column!r}" if column is not None else spec
        self.pieces: Iterator[np.ndarray]
        if lower.endswith(".npy"):
            self.pieces = self.npy(path, column)
        elif lower.endswith(".npz"):
            self.pieces = self.npz(path, member, column)
        elif lower.endswith((".csv", ".tsv")):
            self.pieces = self.csv(path, column, "\t" if lower.endswith(".tsv") else ",")
        elif lower.endswith(".parquet"):
            self.pieces = self.parquet(path, column)
        else:
            raise InputError(spec, "keys are read from .npy, .npz, .csv, .tsv or .parquet files")
        self.held: list[np.ndarray] = []
        self.count = 0

    def read(self, k: int) -> np.ndarray:
        """The next ``k`` keys (fewer only at the end of the file)."""
        while self.count < k:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.held.append(piece)
            self.count += len(piece)
        joined = (np.concatenate(self.held) if len(self.held) > 1 else
                  self.held[0] if self.held else np.zeros(0, np.int64))
        out, rest = joined[:k], joined[k:]
        self.held, self.count = ([rest] if len(rest) else []), len(rest)
        return out

    # -- one generator of pieces per format ---------------------------------------------

    def one_column(self, a: np.ndarray, column: Optional[str]) -> np.ndarray:
        if a.ndim == 2 and column is not None:
            if not (column.isdigit() and int(column) < a.shape[1]):
                raise InputError(self.path, f"no column {column!r}: columns are 0 to "
                                            f"{a.shape[1] - 1}")
            return a[:, int(column)]
        if a.ndim == 2 and a.shape[1] == 1:
            return a[:, 0]
        if a.ndim != 1:
            raise InputError(self.path, f"keys must be one column; the array has shape "
                                        f"{a.shape}")
        return a

    def npy(self, path: str, column: Optional[str]) -> Iterator[np.ndarray]:
        try:
            keys = self.one_column(np.load(path, mmap_mode="r", allow_pickle=False), column)
        except (OSError, ValueError) as exc:
            raise InputError(path, f"not a readable .npy file of keys ({exc})") from None
        self.rows = len(keys)
        for start in range(0, len(keys), 1 << 20):
            yield np.array(keys[start:start + (1 << 20)])

    def npz(self, path: str, member: Optional[str], column: Optional[str]
            ) -> Iterator[np.ndarray]:
        name = member if member is not None else column
        try:
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.keys())
                if name is None and len(names) == 1:
                    name = names[0]
                if name not in names:
                    raise InputError(path, f"no array {name!r} of keys (there are: {names})")
                keys = self.one_column(archive[name], None if member is None else column)
        except (OSError, ValueError) as exc:
            raise InputError(path, f"not a readable .npz file of keys ({exc})") from None
        self.rows = len(keys)
        yield keys

    def csv(self, path: str, column: Optional[str], delimiter: str) -> Iterator[np.ndarray]:
        table = CsvTable(path, delimiter)
        j = 0 if table.empty else pick_named(path, table.names, column, "groups", "column")
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            keys: list[str] = []
            skip = table.has_header
            for row in reader:
                if not row:
                    continue
                if skip:
                    skip = False
                    continue
                if j >= len(row):
                    raise InputError(path, f"line {reader.line_num}: no field {j + 1}")
                keys.append(row[j].strip())
                if len(keys) >= 1 << 16:
                    yield np.array(keys, dtype=object)
                    keys = []
            yield np.array(keys, dtype=object)

    def parquet(self, path: str, column: Optional[str]) -> Iterator[np.ndarray]:
        pa = import_pyarrow(path, "parquet", needed=True)
        try:
            source = pa.parquet.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"not a readable Parquet file ({exc})") from None
        names = list(source.schema_arrow.names)
        name = names[pick_named(path, names, column, "groups", "column")]
        self.rows = source.metadata.num_rows
        for batch in source.iter_batches(batch_size=1 << 16, columns=[name]):
            yield batch.column(0).to_numpy(zero_copy_only=False)


def key_reader(args: Any) -> Optional[KeyReader]:
    """The key column the arguments name, or None (no grouping)."""
    if args.groups is not None:
        return KeyReader(args.groups, args.group_column)
    if args.group_column is not None:
        return KeyReader(args.y_true, args.group_column)
    return None


# -- output ------------------------------------------------------------------------------

def json_key(key: Any) -> Any:
    if isinstance(key, (bytes, np.bytes_)):
        return bytes(key).decode("utf-8", "backslashreplace")
    if isinstance(key, (np.datetime64, np.timedelta64)):
        return str(key)
    return key.item() if isinstance(key, np.generic) else key


def shortest(x: Any) -> float:
    """The shortest decimal that reads back as ``x`` in its own dtype."""
    return float(str(x))


CI_KEYS = ("ci_low", "ci_high")


def group_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per group: key, rmse, count, weight_sum, omitted, and with
    --ci the group's ci_low / ci_high ("NaN" where it has too few units)."""
    from .eval import json_number
    groups = summary["groups"]
    weighted = summary["weight_sum"] is not None
    rows = [{"key": json_key(k), "rmse": json_number(shortest(r)),
             "count": json_number(float(c)),
             "weight_sum": json_number(float(c)) if weighted else None, "omitted": int(o)}
            for k, r, c, o in zip(groups["keys"], groups["rmse"], groups["count"],
                                  groups["omitted"])]
    for name in CI_KEYS:
        if name in groups:
            for row, bound in zip(rows, groups[name].tolist()):
                row[name] = json_number(bound)
    return rows


def overall_row(summary: dict[str, Any]) -> dict[str, Any]:
    from .eval import json_number
    row = {"rmse": json_number(shortest(summary["rmse"])),
           "count": json_number(summary["count"]),
           "weight_sum": json_number(summary["weight_sum"]),
           "elements": summary["elements"], "omitted": summary["omitted"]}
    row.update({name: json_number(summary[name]) for name in CI_KEYS if name in summary})
    return row


def print_groups(summary: dict[str, Any], style: str) -> None:
    """The per-group table and the overall row as ``style``: 'table',
    'json' or 'csv'."""
    rows, overall = group_rows(summary), overall_row(summary)
    ci = [name for name in CI_KEYS if name in summary]
    if style == "json":
        out = {"overall": overall, "groups": rows,
               "seconds": round(summary["seconds"], 6), "dtype": summary["dtype"]}
        if ci:
            out.update(ci_level=summary["ci_level"], ci_method=summary["ci_method"])
        print(json.dumps(out))
        return
    columns = ["rmse", "count", "weight_sum", *ci]
    if style == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["scope", "key", *columns])
        for scope, row in [("group", r) for r in rows] + [("overall", dict(overall, key=""))]:
            writer.writerow([scope, row["key"], *("" if row[c] is None else row[c]
                                                  for c in columns)])
        print(buffer.getvalue(), end="")
        return
    cells = [["key", *columns]]
    for row in rows + [dict(overall, key="overall")]:
        cells.append([str(row["key"]), *("-" if row[c] is None else str(row[c])
                                         for c in columns)])
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    for n, line in enumerate(cells):
        if n == len(cells) - 1:
            print("  ".join("-" * w for w in widths))
        print("  ".join([line[0].ljust(widths[0])] +
                        [c.rjust(w) for c, w in zip(line[1:], widths[1:])]))
