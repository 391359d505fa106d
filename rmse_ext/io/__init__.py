"""Reading y_true / y_pred / weights (and grouping keys) from files, in row
chunks, in bounded memory.

A *table* is one input file; a *column* is one array in it, read in row chunks
along axis 0 (semantics 2 and 3 then apply inside each chunk; the metric treats a
chunked stream exactly as one update of the whole file).  A column of keys
(``column(option, "groups", keys=True)``) is read by the same readers in the
same chunks: CSV keys as text (``007`` and ``7`` are two keys), ``.npy`` /
``.npz`` / Parquet keys in their own type, checked by the key codec
(``rmse_ext._keys``), which the grouped metric then reads them with.

One module per format (``npy``, ``npz``, ``csv``, ``parquet``); what they
share is in ``common``.

- ``.npy``: read chunk by chunk into one reused buffer, so resident memory
  stays near one chunk; a file that shrinks while it is read is an input
  error.  Column ``j`` of a 2-D array is ``a[:, j]``.
- ``.npz``: one array per column, ``file.npz:name`` or the column options;
  streamed from the archive without loading the whole array.
- ``.csv`` / ``.tsv``: streamed (pyarrow's CSV reader when installed, else the
  standard library); a header line is used when its fields are not numbers.
- ``.parquet`` (a file, or a directory that holds Parquet files): pyarrow's
  batch reader (the ``[io]`` extra).

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "y.npy")
>>> np.save(path, np.arange(5.0))
>>> table = open_table(path)
>>> key = table.column(None, "y_true")
>>> table.start([key], chunk_rows=2)
>>> [len(table.read(2)[key]) for _ in range(4)]
[2, 2, 1, 0]
>>> table.close()
"""
from __future__ import annotations

import os

from .common import IO_EXTRA, InputError, Table
from .csv import CsvTable
from .npy import NpyTable
from .npz import NpzTable
from .parquet import ParquetTable, holds_parquet

__all__ = ["FORMATS", "IO_EXTRA", "InputError", "Table", "open_table", "split_spec"]

FORMATS = ".npy, .npz, .csv, .tsv or .parquet"


def split_spec(spec: str) -> tuple[str, str | None]:
    """``'a.npz:key'`` -> ``('a.npz', 'key')``; any other path -> ``(path, None)``."""
    head, sep, key = spec.rpartition(":")
    if sep and head.lower().endswith(".npz") and not os.path.exists(spec):
        return head, key
    return spec, None


def open_table(spec: str) -> Table:
    """The reader for one input file, chosen by its extension."""
    path, key = split_spec(spec)
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    lower = path.lower()
    if os.path.isdir(path):
        if not holds_parquet(path):
            raise InputError(path, "is a directory without Parquet files (a directory "
                                   "is read as a Parquet dataset; give files of other "
                                   "formats one by one)")
        return ParquetTable(path)
    if lower.endswith((".parquet", ".pq")):
        return ParquetTable(path)
    if not os.path.isfile(path):
        raise InputError(path, "not a regular file")
    if lower.endswith(".npy"):
        return NpyTable(path)
    if lower.endswith(".npz"):
        return NpzTable(path, key)
    if lower.endswith((".csv", ".tsv")):
        return CsvTable(path, "\t" if lower.endswith(".tsv") else ",")
    suffix = os.path.splitext(path)[1] or "(no extension)"
    raise InputError(path, f"unknown format {suffix}; expected {FORMATS}")
