"""Reading y_true / y_pred / weights from files, in row chunks, in bounded memory.

A *table* is one input file; a *column* is one array in it, read in row chunks
along axis 0 (spec 2 and 3 then apply inside each chunk; the metric treats a
chunked stream exactly as one update of the whole file).

- ``.npy``: memory-mapped; each chunk is a view of the mapping, and the pages
  already read are dropped from this process after each chunk
  (``madvise(MADV_DONTNEED)``), so resident memory stays near one chunk.
  Column ``j`` of a 2-D array is ``a[:, j]``.
- ``.npz``: one array per column, ``file.npz:name`` or the column options;
  streamed from the archive without loading the whole array.
- ``.csv`` / ``.tsv``: streamed (pyarrow's CSV reader when installed, else the
  standard library); a header line is used when its fields are not numbers.
- ``.parquet``: pyarrow's dataset batch reader (the ``[io]`` extra).

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

import csv
import io
import mmap
import os
import re
import zipfile
from array import array
from typing import Any, BinaryIO, Iterator, Literal

import numpy as np

from ._inputs import kernel_dtype

IO_EXTRA = "pip install 'rmse_ext[io]'"
FORMATS = ".npy, .npz, .csv, .tsv or .parquet"


class InputError(Exception):
    """A problem with an input file: ``str()`` is ``"<file>: <what is wrong>"``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {' '.join(str(message).split())}")
        self.path = path


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
    if os.path.isdir(path) or lower.endswith((".parquet", ".pq")):
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


def check_numeric(path: str, label: str, dtype: np.dtype) -> None:
    """InputError unless the metric can read ``dtype`` (bool, int, float)."""
    try:
        kernel_dtype(dtype, label)
    except TypeError as exc:
        raise InputError(path, str(exc)) from None


class Table:
    """One input file.  ``column(option, role)`` picks a column (raising
    InputError), ``describe(key)`` gives its per-row shape and dtype,
    ``start(keys, chunk_rows)`` begins reading and each ``read(k)`` returns
    ``{key: array}`` with ``k`` rows (fewer only at the end, 0 when done)."""

    kind = "file"
    #: rows in the file, when the format knows it before reading
    rows: int | None = None

    def __init__(self, path: str) -> None:
        self.path = path
        self.bytes_total = os.path.getsize(path) if os.path.isfile(path) else 0

    def column(self, option: str | None, role: str) -> Any:
        raise NotImplementedError

    def describe(self, key: Any) -> tuple[tuple[int, ...], np.dtype]:
        return (), np.dtype(np.float64)

    def label(self, key: Any) -> str:
        return self.path if key is None else f"{self.path} column {key!r}"

    def start(self, keys: list[Any], chunk_rows: int) -> None:
        raise NotImplementedError

    def read(self, k: int) -> dict[Any, np.ndarray]:
        raise NotImplementedError

    def bytes_done(self) -> int:
        return 0

    def close(self) -> None:
        pass


def pick_named(path: str, names: list[str], option: str | None, role: str,
               what: str = "column") -> int:
    """Index of the column ``option`` names (a name, else a 0-based index);
    with no option, the only column there is."""
    shown = ", ".join(repr(n) for n in names) or "none"
    if option is None:
        if len(names) == 1:
            return 0
        raise InputError(
            path, f"has {len(names)} {what}s ({shown}); choose the {role} one "
                  f"with --column or --{role.split('_')[-1]}-column")
    if option in names:
        return names.index(option)
    if option.isdigit() and int(option) < len(names):
        return int(option)
    raise InputError(path, f"no {what} {option!r} (there are: {shown})")


# -- .npy: memory-mapped ------------------------------------------------------

def load_header(path: str) -> np.memmap:
    """np.load's validated view of a .npy file (header checked, nothing read)."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "Python objects" in str(exc):
            raise InputError(path, "holds Python objects (dtype object); expected "
                                   "numbers") from None
        raise InputError(path, f"not a valid .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise InputError(path, f"not a valid .npy file ({exc or 'truncated'})") from None
    if not isinstance(mapped, np.memmap):
        raise InputError(path, "is an .npz archive, not an .npy file")
    return mapped


def rows_of(path: str, shape: tuple[int, ...]) -> int:
    if not shape:
        raise InputError(path, "holds a single number (shape ()); expected rows "
                               "along a first axis")
    return shape[0]


class NpyTable(Table):
    """A memory-mapped .npy array, read in row chunks with the pages behind
    each finished chunk released."""

    kind = ".npy"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        header = load_header(path)
        self.shape, self.dtype = header.shape, header.dtype
        self.offset = header.offset
        self.order: Literal["C", "F"] = (
            "F" if header.ndim > 1 and not header.flags.c_contiguous else "C")
        del header
        check_numeric(path, "the array", self.dtype)
        self.rows = self.total_rows = rows_of(path, self.shape)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        self.bytes_total = self.rows * self.row_bytes
        self.file: BinaryIO | None = None
        self.map: mmap.mmap | None = None
        self.array: np.ndarray | None = None

    def column(self, option: str | None, role: str) -> int | None:
        if option is None:
            return None
        if len(self.shape) != 2:
            raise InputError(self.path, f"column {option!r}: columns of a .npy are "
                                        f"indices into a 2-D array; this one has "
                                        f"shape {self.shape}")
        if not (option.isdigit() and int(option) < self.shape[1]):
            raise InputError(self.path, f"no column {option!r}: columns are 0 to "
                                        f"{self.shape[1] - 1}")
        return int(option)

    def describe(self, key: int | None) -> tuple[tuple[int, ...], np.dtype]:
        return (self.shape[1:] if key is None else ()), self.dtype

    def label(self, key: int | None) -> str:
        return self.path if key is None else f"{self.path} column {key}"

    def start(self, keys: list[int | None], chunk_rows: int) -> None:
        self.keys, self.next_row = keys, 0
        self.file = file = open(self.path, "rb")
        self.map = mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(mapped, "madvise"):
            mapped.madvise(mmap.MADV_SEQUENTIAL)
        self.array = np.ndarray(self.shape, self.dtype, buffer=mapped,
                                offset=self.offset, order=self.order)

    def release(self, stop_row: int) -> None:
        """Drop the mapped pages before ``stop_row`` from this process's
        resident set (they stay in the page cache)."""
        if self.map is None or not hasattr(self.map, "madvise"):
            return
        if self.order == "C":
            end = self.offset + stop_row * self.row_bytes
            end -= end % mmap.PAGESIZE
        else:  # a column-major chunk touches every column: drop them all
            end = len(self.map)
        if end > 0:
            self.map.madvise(mmap.MADV_DONTNEED, 0, end)

    def read(self, k: int) -> dict[int | None, np.ndarray]:
        start = self.next_row
        if start:
            self.release(start)
        stop = min(start + k, self.total_rows)
        self.next_row = stop
        assert self.array is not None, "start() first"
        rows = self.array[start:stop]
        return {key: rows if key is None else rows[:, key] for key in self.keys}

    def bytes_done(self) -> int:
        return self.next_row * self.row_bytes

    def close(self) -> None:
        self.array = None
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:  # a chunk view still alive: the GC closes it
                pass
        if self.file is not None:
            self.file.close()


# -- .npz: arrays streamed from the archive --------------------------------------

class NpzMember:
    """One array of an .npz archive, read in row chunks without loading it."""

    def __init__(self, table: NpzTable, name: str) -> None:
        path = table.path
        self.label = f"{path}:{name}"
        self.stream = table.zip.open(name + ".npy")
        try:
            version = np.lib.format.read_magic(self.stream)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            self.shape, fortran, self.dtype = read_header(self.stream)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as exc:
            raise InputError(self.label, f"not a valid array ({exc})") from None
        check_numeric(self.label, "the array", self.dtype)
        self.rows = rows_of(self.label, self.shape)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        self.whole = None
        if fortran and len(self.shape) > 1:  # rows are not contiguous: load it
            self.whole = np.load(table.path)[name]
        self.done = 0

    def read(self, k: int) -> np.ndarray:
        k = min(k, self.rows - self.done)
        if self.whole is not None:
            out = self.whole[self.done:self.done + k]
        else:
            data = self.stream.read(k * self.row_bytes)
            if len(data) != k * self.row_bytes:
                raise InputError(self.label, "archive member is shorter than its "
                                             "header says")
            out = np.frombuffer(data, self.dtype).reshape((k,) + self.shape[1:])
        self.done += k
        return out


class NpzTable(Table):
    """An .npz archive; its columns are the arrays' names."""

    kind = ".npz"

    def __init__(self, path: str, key: str | None) -> None:
        super().__init__(path)
        self.key = key
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(path, f"not a valid .npz archive ({exc})") from None
        self.names = [n[:-4] for n in self.zip.namelist() if n.endswith(".npy")]
        self.members: dict[str, NpzMember] = {}

    def column(self, option: str | None, role: str) -> str:
        name = self.names[pick_named(self.path, self.names, option or self.key, role,
                                     "array")]
        if name not in self.members:
            self.members[name] = NpzMember(self, name)
        return name

    @property
    def rows(self) -> int | None:  # type: ignore[override]
        counts = {m.rows for m in self.members.values()}
        if len(counts) > 1:
            raise InputError(self.path, "its arrays have different numbers of rows: "
                             + ", ".join(f"{n} {m.rows}" for n, m in self.members.items()))
        return counts.pop() if counts else None

    def describe(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        member = self.members[key]
        return member.shape[1:], member.dtype

    def label(self, key: str) -> str:
        return f"{self.path}:{key}"

    def start(self, keys: list[str], chunk_rows: int) -> None:
        self.keys = keys

    def read(self, k: int) -> dict[str, np.ndarray]:
        return {key: self.members[key].read(k) for key in self.keys}

    def bytes_done(self) -> int:
        members = list(self.members.values())
        total = sum(m.rows * m.row_bytes for m in members) or 1
        return int(self.bytes_total * sum(m.done * m.row_bytes for m in members) / total)

    def close(self) -> None:
        self.zip.close()


# -- batches of varying length -> chunks of k rows ----------------------------------

class Rechunker:
    """Turns an iterator of ``{key: array}`` batches of any lengths into reads
    of exactly ``k`` rows (fewer only at the end)."""

    def __init__(self, batches: Iterator[dict[Any, np.ndarray]], keys: list[Any]) -> None:
        self.batches, self.keys = batches, keys
        self.pending: list[dict[Any, np.ndarray]] = []
        self.held = 0

    def read(self, k: int) -> dict[Any, np.ndarray]:
        while self.held < k:
            batch = next(self.batches, None)
            if batch is None:
                break
            n = len(batch[self.keys[0]])
            if n:
                self.pending.append(batch)
                self.held += n
        take = min(k, self.held)
        out: dict[Any, list[np.ndarray]] = {key: [] for key in self.keys}
        need = take
        while need:
            batch = self.pending[0]
            n = len(batch[self.keys[0]])
            if n <= need:
                self.pending.pop(0)
                for key in self.keys:
                    out[key].append(batch[key])
                need -= n
            else:
                for key in self.keys:
                    out[key].append(batch[key][:need])
                    batch[key] = batch[key][need:]
                need = 0
        self.held -= take
        return {key: (parts[0] if len(parts) == 1 else
                      np.concatenate(parts) if parts else np.empty(0))
                for key, parts in out.items()}


def import_pyarrow(path: str, submodule: str, needed: bool) -> Any:
    """pyarrow with ``pyarrow.<submodule>`` loaded, or None when it is missing
    and not ``needed``; InputError naming the extra to install when it is."""
    try:
        import importlib

        import pyarrow  # type: ignore[import-untyped,unused-ignore]
        importlib.import_module(f"pyarrow.{submodule}")
    except ImportError:
        if needed:
            raise InputError(path, f"reading .parquet files needs pyarrow: "
                                   f"{IO_EXTRA}") from None
        return None
    return pyarrow


def numpy_dtype(arrow_type: Any) -> np.dtype:
    """The NumPy dtype of a numeric pyarrow type (``to_pandas_dtype`` would
    need pandas with older pyarrow)."""
    import pyarrow.types as pat
    if pat.is_boolean(arrow_type):
        return np.dtype(np.bool_)
    kind = "f" if pat.is_floating(arrow_type) else "i" if pat.is_signed_integer(arrow_type) else "u"
    return np.dtype(f"{kind}{arrow_type.bit_width // 8}")


def arrow_to_numpy(values: Any) -> np.ndarray:
    """A null-free numeric pyarrow Array as a NumPy array, read from its data
    buffer (zero-copy; booleans unpacked), without pyarrow's pandas import.

    >>> import pyarrow as pa
    >>> arrow_to_numpy(pa.array([1.5, 2.5, 3.5]).slice(1))
    array([2.5, 3.5])
    >>> arrow_to_numpy(pa.array([True, False, True]).slice(1))
    array([False,  True])
    """
    dtype = numpy_dtype(values.type)
    n, start = len(values), values.offset
    if n == 0:
        return np.empty(0, dtype)
    data = values.buffers()[1]
    if dtype == np.bool_:
        bits = np.unpackbits(np.frombuffer(data, np.uint8), count=start + n,
                             bitorder="little")
        return bits[start:].view(np.bool_)
    return np.frombuffer(data, dtype, count=n, offset=start * dtype.itemsize)


# -- .csv: streamed ---------------------------------------------------------------

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
            for batch in reader:
                yield {j: arrow_to_numpy(batch.column(internal[j])) for j in self.keys}
        except pa.ArrowInvalid as exc:
            raise InputError(self.path, self.arrow_message(str(exc))) from None

    def arrow_message(self, message: str) -> str:
        """pyarrow's message with its column numbers shown as our names."""
        found = re.match(r"In CSV column #(\d+): CSV conversion error to \w+: "
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


# -- .parquet: pyarrow's batch reader ---------------------------------------------

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
        self.done = 0

    def column(self, option: str | None, role: str) -> str:
        name = self.names[pick_named(self.path, self.names, option, role)]
        kind = self.schema.field(name).type
        types = self.pa.types
        if not (types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind)):
            raise InputError(self.path, f"column {name!r} holds {kind}, not numbers")
        return name

    def describe(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        return (), numpy_dtype(self.schema.field(key).type)

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
        out = {}
        for key in self.keys:
            values = batch.column(key)
            if values.null_count:
                raise InputError(self.path, f"column {key!r} has missing values (null) "
                                            f"near row {self.done + 1}")
            out[key] = arrow_to_numpy(values)
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
