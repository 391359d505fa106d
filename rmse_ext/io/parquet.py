"""``.parquet`` files and directories of them: pyarrow's batch reader."""
from __future__ import annotations

import os
from typing import Any, Iterator

import numpy as np

from .._inputs import record_batches
from .._keys import kind_of_arrow
from .common import (InputError, Rechunker, Table, check_keys, import_pyarrow, numpy_dtype,
                     pick_named)


def holds_parquet(path: str) -> bool:
    """Whether a directory holds a Parquet file (by suffix or magic bytes),
    looking where ``pyarrow.dataset`` looks (names starting with ``.`` or
    ``_`` are skipped)."""
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in files:
            if name.startswith((".", "_")):
                continue
            if name.lower().endswith((".parquet", ".pq")):
                return True
            try:
                with open(os.path.join(root, name), "rb") as f:
                    if f.read(4) == b"PAR1":
                        return True
            except OSError:
                continue
    return False


class ParquetTable(Table):
    """A Parquet file, or a directory of them (found by ``pyarrow.dataset``,
    read in its file order): numeric columns, read in record batches by
    pyarrow's batch reader ``ParquetFile.iter_batches``, one row group at a
    time."""

    kind = ".parquet"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.is_dir = os.path.isdir(path)
        pa = self.pa = import_pyarrow(path, "parquet", needed=True)
        if self.is_dir:
            import_pyarrow(path, "dataset", needed=True)
        try:
            if self.is_dir:
                self.source = pa.dataset.dataset(path, format="parquet")
                self.rows = self.source.count_rows()
                self.bytes_total = sum(os.path.getsize(f) for f in self.source.files)
            else:
                self.source = pa.parquet.ParquetFile(path)
                self.rows = self.source.metadata.num_rows
            self.schema = self.source.schema if self.is_dir else self.source.schema_arrow
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"not a readable Parquet file ({exc})") from None
        self.names = list(self.schema.names)
        self.key_names: set[str] = set()      # columns of keys, read in their own type
        self.done = 0

    def column(self, option: str | None, role: str, keys: bool = False) -> str:
        name = self.names[pick_named(self.path, self.names, option, role)]
        kind = self.schema.field(name).type
        if keys:            # any type the key codec reads, in its own type
            check_keys(self.path, f"column {name!r}", kind_of_arrow, kind)
            self.key_names.add(name)
            return str(name)
        types = self.pa.types
        if not (types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind)):
            raise InputError(self.path, f"column {name!r} holds {kind}, not numbers")
        return str(name)

    def describe(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        if key in self.key_names:
            return (), np.dtype(object)
        return (), numpy_dtype(self.schema.field(key).type)

    def name_of(self, key: str) -> str | None:
        return key

    def start(self, keys: list[str], chunk_rows: int) -> None:
        self.keys = keys
        columns = sorted(set(keys))
        self.chunks = Rechunker((self.to_arrays(b) for b in self.batches(columns, chunk_rows)),
                                keys)

    def batches(self, columns: list[str], chunk_rows: int) -> Iterator[Any]:
        """Record batches in file order, with read-ahead kept to one row group
        (pyarrow would otherwise buffer far ahead: memory growing with the file)."""
        parts = ([self.pa.parquet.ParquetFile(f) for f in self.source.files]
                 if self.is_dir else [self.source])
        for part in parts:
            for group in range(part.num_row_groups):
                yield from part.iter_batches(batch_size=chunk_rows, columns=columns,
                                             row_groups=[group])

    def to_arrays(self, batch: Any) -> dict[str, np.ndarray]:
        """One record batch's columns, read as every Arrow input is
        (``rmse_ext._inputs.record_batches``: numbers in place)."""
        for key in sorted(set(self.keys)):
            values = batch.column(key)
            # nan_policy="omit" reads a null value as NaN; a null key is always an error
            if values.null_count and (self.nulls != "nan" or key in self.key_names):
                nulls = values.is_null().to_numpy(zero_copy_only=False)
                first = self.done + int(np.flatnonzero(nulls)[0]) + 1
                raise InputError(self.path, f"column {key!r} has missing values (null), "
                                            f"the first in row {first} (rows counted from "
                                            f"1, in file order)")
        numbers = sorted(set(self.keys) - self.key_names)
        try:
            (out,) = (record_batches(batch.select(numbers), numbers, f"rows {self.done + 1}-",
                                     self.nulls) if numbers else [{}])
        except (TypeError, ValueError) as exc:
            raise InputError(self.path, str(exc)) from None
        for name in self.key_names & set(self.keys):
            out[name] = batch.column(name).to_numpy(zero_copy_only=False)
        self.done += batch.num_rows
        return out

    def read(self, k: int) -> dict[str, np.ndarray]:
        try:
            return self.chunks.read(k)
        except (self.pa.ArrowException, OSError) as exc:
            raise InputError(self.path, str(exc).split("\n")[0]) from None

    def bytes_done(self) -> int:
        return int(self.bytes_total * self.done / self.rows) if self.rows else 0

    def close(self) -> None:
        if not self.is_dir:
            self.source.close()
