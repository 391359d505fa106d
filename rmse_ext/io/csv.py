"""``.csv`` / ``.tsv`` files: streamed by pyarrow's CSV reader when it is
installed, else by the standard library's."""
from __future__ import annotations

import csv
import io
import re
from array import array
from typing import Any, Iterator

import numpy as np

from .._inputs import record_batches
from .common import InputError, Rechunker, Table, import_pyarrow, pick_named


def is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


class CsvTable(Table):
    """A delimited text file of numbers, streamed row by row (standard
    library) or block by block (pyarrow).  A first line whose fields are not
    all numbers is the header."""

    kind = ".csv"

    def __init__(self, path: str, delimiter: str) -> None:
        super().__init__(path)
        self.delimiter = delimiter
        with open(path, newline="", encoding="utf-8-sig") as f:
            try:
                first = next((row for row in csv.reader(f, delimiter=delimiter) if row), [])
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InputError(path, f"not a readable text file ({exc})") from None
        self.has_header = bool(first) and not all(is_number(x) for x in first)
        if self.has_header:
            self.names = [x.strip() for x in first]
        else:
            self.names = [str(i) for i in range(len(first))]
        self.empty = not first
        self.raw: io.BufferedReader | None = None
        self.pa_file: Any = None

    def column(self, option: str | None, role: str) -> int:
        if self.empty:
            if option is not None:
                raise InputError(self.path, f"no column {option!r} (the file is empty)")
            return 0
        return pick_named(self.path, self.names, option, role)

    def label(self, key: int) -> str:
        return f"{self.path} column {self.names[key]!r}" if self.names else self.path

    def start(self, keys: list[int], chunk_rows: int) -> None:
        self.keys = keys
        pa = None if self.empty else import_pyarrow(self.path, "csv", needed=False)
        batches = (iter(()) if self.empty else
                   self.arrow_batches(pa) if pa is not None else
                   self.stdlib_batches(chunk_rows))
        self.chunks = Rechunker(batches, keys)

    def read(self, k: int) -> dict[int, np.ndarray]:
        return self.chunks.read(k)

    def stdlib_batches(self, chunk_rows: int) -> Iterator[dict[int, np.ndarray]]:
        self.raw = open(self.path, "rb")
        text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=self.delimiter)
        width = len(self.names)
        columns = [array("d") for _ in self.keys]
        skip_header = self.has_header
        try:
            for row in reader:
                if not row:
                    continue
                if skip_header:
                    skip_header = False
                    continue
                if len(row) != width:
                    raise InputError(self.path, f"line {reader.line_num}: expected "
                                                f"{width} fields, found {len(row)}")
                for values, j in zip(columns, self.keys):
                    try:
                        values.append(float(row[j]))
                    except ValueError:
                        raise InputError(
                            self.path, f"line {reader.line_num}, column "
                                       f"{self.names[j]!r}: not a number: {row[j]!r}"
                        ) from None
                if len(columns[0]) >= chunk_rows:
                    yield {j: np.frombuffer(v, np.float64) for j, v in zip(self.keys, columns)}
                    columns = [array("d") for _ in self.keys]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(self.path, f"line {reader.line_num}: {exc}") from None
        yield {j: np.frombuffer(v, np.float64) for j, v in zip(self.keys, columns)}

    def arrow_batches(self, pa: Any) -> Iterator[dict[int, np.ndarray]]:
        internal = [f"c{i}" for i in range(len(self.names))]
        wanted = sorted(set(self.keys))
        read = pa.csv.ReadOptions(column_names=internal,
                                  skip_rows=1 if self.has_header else 0)
        parse = pa.csv.ParseOptions(delimiter=self.delimiter)
        convert = pa.csv.ConvertOptions(
            include_columns=[internal[j] for j in wanted],
            column_types={internal[j]: pa.float64() for j in wanted},
            null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False)
        self.pa_file = pa.input_stream(self.path)
        try:
            reader = pa.csv.open_csv(self.pa_file, read_options=read,
                                     parse_options=parse, convert_options=convert)
            for batch in record_batches(reader, [internal[j] for j in wanted], self.path):
                yield {j: batch[internal[j]] for j in self.keys}
        except (pa.ArrowInvalid, ValueError) as exc:   # ValueError: a failed batch
            raise InputError(self.path, self.arrow_message(str(exc))) from None

    def arrow_message(self, message: str) -> str:
        """pyarrow's message with its column numbers shown as our names."""
        found = re.search(r"In CSV column #(\d+): CSV conversion error to \w+: "
                          r"invalid value (.*)", message)
        if found and int(found[1]) < len(self.names):
            return f"column {self.names[int(found[1])]!r}: not a number: {found[2]}"
        return message.split("\n")[0]

    def bytes_done(self) -> int:
        handle = self.raw if self.raw is not None else self.pa_file
        try:
            return handle.tell() if handle is not None else 0
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        for handle in (self.raw, self.pa_file):
            if handle is not None:
                handle.close()
