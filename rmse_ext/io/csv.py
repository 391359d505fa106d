"""``.csv`` / ``.tsv`` files: streamed by pyarrow's CSV reader when it is
installed, else by the standard library's.

Both readers take the same spellings of a number (``NUMBER``, documented in
docs/cli.md): C's decimal floating-point syntax in ASCII -- an optional
sign, digits with an optional decimal point, an optional exponent; ``inf``,
``infinity``, ``nan`` and ``nan(chars)`` in any case -- with spaces or tabs
around it.  Not numbers: ``1_000``, digits of other scripts, hexadecimal,
empty cells.  The first bad cell is reported with its line number by both.

>>> [bool(NUMBER.fullmatch(x)) for x in ["-1.5e3", " .5", "NaN(7)", "1_000", "١"]]
[True, True, True, False, False]
"""
from __future__ import annotations

import csv
import io
import math
import re
from array import array
from typing import Any, Iterator

import numpy as np

from .._inputs import record_batches
from .common import InputError, Rechunker, Table, import_pyarrow, pick_named


STDLIB_CHUNK_ROWS = 1 << 16

#: a number, as both readers read it (pyarrow's float parser takes exactly these)
NUMBER = re.compile(r"[ \t]*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
                    r"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)[ \t]*")


def is_number(field: str) -> bool:
    return NUMBER.fullmatch(field) is not None


def parse_number(field: str) -> float:
    """The value of a cell; ValueError unless it is a NUMBER."""
    if NUMBER.fullmatch(field) is None:
        raise ValueError(field)
    try:
        return float(field)
    except ValueError:  # nan(chars), which float() does not read
        return math.nan


def header_note(first: list[str], numbers: list[str]) -> str:
    """The warning for a header line that holds numbers (it may be data)."""
    text = [x.strip() for x in first if not is_number(x)]
    return (f"line 1 is read as the header, because not all its fields are numbers "
            f"({', '.join(map(repr, text[:3]))}); but {', '.join(map(repr, numbers[:3]))} "
            f"are numbers: if line 1 is data, add a header line (its first row is "
            f"otherwise lost)")


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
            numbers = [x.strip() for x in first if is_number(x)]
            if numbers:     # a text key column in a file without a header?
                self.notes.append(header_note(first, numbers))
        else:
            self.names = [str(i) for i in range(len(first))]
        self.empty = not first
        self.text: set[int] = set()       # the key columns (read as text)
        self.raw: io.BufferedReader | None = None
        self.pa_file: Any = None
        self.pa = None if self.empty else import_pyarrow(path, "csv", needed=False)
        if self.pa is None:  # the standard library reads ~1M rows/s: small chunks
            self.chunk_rows_hint = STDLIB_CHUNK_ROWS

    def column(self, option: str | None, role: str, keys: bool = False) -> int:
        if self.empty:
            if option is not None:
                raise InputError(self.path, f"no column {option!r} (the file is empty)")
            return 0
        j = pick_named(self.path, self.names, option, role)
        if keys:            # keys are text: "007" and "7" are two keys
            self.text.add(j)
        return j

    def name_of(self, key: int) -> str | None:
        return self.names[key] if self.has_header else None

    def arrays(self, columns: list[Any]) -> dict[int, np.ndarray]:
        """One batch: numbers as float64 arrays, key columns as arrays of str."""
        return {j: np.array(v, dtype=object) if j in self.text else np.frombuffer(v, np.float64)
                for j, v in zip(self.keys, columns)}

    def label(self, key: int) -> str:
        return f"{self.path} column {self.names[key]!r}" if self.names else self.path

    def start(self, keys: list[int], chunk_rows: int) -> None:
        self.keys = keys
        batches = (iter(()) if self.empty else
                   self.arrow_batches(self.pa) if self.pa is not None else
                   self.stdlib_batches(chunk_rows))
        self.chunks = Rechunker(batches, keys)

    def read(self, k: int) -> dict[int, np.ndarray]:
        return self.chunks.read(k)

    def stdlib_batches(self, chunk_rows: int, scan_only: bool = False
                       ) -> Iterator[dict[int, np.ndarray]]:
        raw = open(self.path, "rb")
        if not scan_only:
            self.raw = raw
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=self.delimiter)
        width = len(self.names)
        columns = self.new_columns()
        skip_header = self.has_header
        done = 0        # data rows read: positions are "row R (line L)", both from 1
        try:
            for row in reader:
                if not row:
                    continue
                if skip_header:
                    skip_header = False
                    continue
                done += 1
                if len(row) != width:
                    raise InputError(self.path, f"row {done} (line {reader.line_num}): "
                                                f"expected {width} fields, found {len(row)}")
                for values, j in zip(columns, self.keys):
                    if j in self.text:
                        values.append(row[j].strip())
                        continue
                    try:
                        values.append(parse_number(row[j]) if row[j].strip() or self.nulls != "nan"
                                      else math.nan)
                    except ValueError:
                        raise InputError(
                            self.path, f"row {done} (line {reader.line_num}), column "
                                       f"{self.names[j]!r}: not a number: {row[j]!r}"
                        ) from None
                if len(columns[0]) >= chunk_rows:
                    yield self.arrays(columns)
                    columns = self.new_columns()
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(self.path, f"row {done + 1} (line {reader.line_num}): {exc}"
                             ) from None
        finally:
            if scan_only:
                raw.close()
        yield self.arrays(columns)

    def new_columns(self) -> list[Any]:
        return [[] if j in self.text else array("d") for j in self.keys]

    def arrow_batches(self, pa: Any) -> Iterator[dict[int, np.ndarray]]:
        internal = [f"c{i}" for i in range(len(self.names))]
        wanted = sorted(set(self.keys))
        numbers = [internal[j] for j in wanted if j not in self.text]
        read = pa.csv.ReadOptions(column_names=internal,
                                  skip_rows=1 if self.has_header else 0)
        parse = pa.csv.ParseOptions(delimiter=self.delimiter)
        convert = pa.csv.ConvertOptions(
            include_columns=[internal[j] for j in wanted],
            column_types={internal[j]: pa.string() if j in self.text else pa.float64()
                          for j in wanted},
            null_values=[""] if self.nulls == "nan" else [], strings_can_be_null=False,
            quoted_strings_can_be_null=False)
        self.pa_file = pa.input_stream(self.path)
        try:
            reader = pa.csv.open_csv(self.pa_file, read_options=read,
                                     parse_options=parse, convert_options=convert)
            for raw in reader:
                batch = next(record_batches(raw.select(numbers), numbers, self.path,
                                            self.nulls)) if numbers else {}
                for j in self.text & set(wanted):
                    batch[internal[j]] = np.array(
                        [x.strip() for x in raw.column(internal[j]).to_pylist()], dtype=object)
                yield {j: batch[internal[j]] for j in self.keys}
        except (pa.ArrowInvalid, ValueError) as exc:   # ValueError: a failed batch
            located = self.first_bad_line()
            raise located or InputError(self.path, self.arrow_message(str(exc))) from None

    def first_bad_line(self) -> InputError | None:
        """The error the standard-library reader finds, with its line number
        (pyarrow's messages have none): the file is scanned again, once, only
        after pyarrow has rejected it."""
        try:
            for _ in self.stdlib_batches(1 << 16, scan_only=True):
                pass
        except InputError as exc:
            return exc
        return None

    def arrow_message(self, message: str) -> str:
        """pyarrow's message with its column numbers shown as our names."""
        found = re.search(r"In CSV column #(\d+): CSV conversion error to \w+: "
                          r"invalid value (.*)", message)
        if found and int(found[1]) < len(self.names):
            return f"column {self.names[int(found[1])]!r}: not a number: {found[2]}"
        return message.split("\n")[0]

    def line_of(self, row: int) -> int | None:
        """The line (from 1) of data row ``row`` (from 1): the file is read
        again up to it, only for an error message."""
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            done = -1 if self.has_header else 0
            for fields in reader:
                done += bool(fields)
                if done == row and fields:
                    return reader.line_num
        return None

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
