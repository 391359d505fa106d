"""``rmse-ext eval`` with groups: the key column read beside the values, in
the same row chunks, and the per-group table printed (aligned text, JSON or
CSV).

The result names the key column as its file does (a CSV header, a Parquet or
``.npz`` name, a ``.npy`` column index); a file without names gives ``key``.

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
        self.name = "key"   # the key column's name in the result (set by the reader)
        #: a CSV header's name of the key column (line 1 might be data), warnings
        self.header_key: Optional[str] = None
        self.notes: list[str] = []
        self.held: list[np.ndarray] = []
        self.count = 0
        self.read(0)        # opens the file: its errors, rows and name come now

    def read(self, k: int) -> np.ndarray:
        """The next ``k`` keys (fewer only at the end of the file)."""
        while self.count < k or (k == 0 and not self.held):
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
            self.name = column
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
                self.name = str(name) if self.name == "key" else self.name
        except (OSError, ValueError) as exc:
            raise InputError(path, f"not a readable .npz file of keys ({exc})") from None
        self.rows = len(keys)
        yield keys

    def csv(self, path: str, column: Optional[str], delimiter: str) -> Iterator[np.ndarray]:
        table = CsvTable(path, delimiter)
        j = 0 if table.empty else pick_named(path, table.names, column, "groups", "column")
        if table.has_header:
            self.name = self.header_key = table.names[j]
        self.notes += table.notes
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
        name = self.name = names[pick_named(path, names, column, "groups", "column")]
        self.rows = source.metadata.num_rows
        for batch in source.iter_batches(batch_size=1 << 16, columns=[name]):
            yield batch.column(0).to_numpy(zero_copy_only=False)


def key_notes(keys: KeyReader, seen: np.ndarray) -> list[str]:
    """Warnings about the key file (a CSV header that may be data)."""
    notes = list(keys.notes)
    if keys.header_key is not None and keys.header_key in set(seen.tolist()):
        notes.append(f"line 1 is read as the header (its key column is named "
                     f"{keys.header_key!r}), but {keys.header_key!r} is also a key in "
                     f"the rows below it: if line 1 is data, add a header line")
    return notes


def key_reader(args: Any) -> Optional[KeyReader]:
    """The key column the arguments name, or None (no grouping)."""
    if args.groups is not None:
        return KeyReader(args.groups, args.group_column)
    if args.group_column is not None:
        return KeyReader(args.y_true, args.group_column)
    return None
