"""Arrow columns through the C data interface (PyCapsules), read with ctypes.

Any object with ``__arrow_c_array__`` (one array) or ``__arrow_c_stream__``
(a stream of arrays) -- pyarrow, polars, nanoarrow, DuckDB results -- hands
over C structs describing its buffers; this module reads those structs
directly, so the path needs neither pyarrow nor polars.  Numeric buffers
become NumPy views of the Arrow memory (no copy); the view keeps the Arrow
array alive and releases it when the last view goes.

What comes out is a ``Column``: the values of each chunk (``Leaf``), or for
list columns the row offsets and the values (``Lists``), with the validity
(null) masks.  Turning columns into kernel operands is ``rmse_ext._inputs``'s
job.

>>> import pyarrow as pa
>>> leaf = read_column(pa.array([1.5, 2.5, 3.5]).slice(1), "y").chunks[0]
>>> leaf.values, leaf.valid
(array([2.5, 3.5]), None)
"""
from __future__ import annotations

import ctypes
from fractions import Fraction
from typing import Any, Iterator, NamedTuple, Union

import numpy as np

__all__ = ["Leaf", "Lists", "Column", "is_arrow", "read_column", "read_batches"]


# -- the C structs (https://arrow.apache.org/docs/format/CDataInterface.html) --

class ArrowSchema(ctypes.Structure):
    pass


ArrowSchema._fields_ = [
    ("format", ctypes.c_char_p), ("name", ctypes.c_char_p),
    ("metadata", ctypes.c_void_p), ("flags", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowSchema))),
    ("dictionary", ctypes.POINTER(ArrowSchema)),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]


class ArrowArray(ctypes.Structure):
    pass


ArrowArray._fields_ = [
    ("length", ctypes.c_int64), ("null_count", ctypes.c_int64),
    ("offset", ctypes.c_int64), ("n_buffers", ctypes.c_int64),
    ("n_children", ctypes.c_int64),
    ("buffers", ctypes.POINTER(ctypes.c_void_p)),
    ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
    ("dictionary", ctypes.POINTER(ArrowArray)),
    ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p),
]


class ArrowArrayStream(ctypes.Structure):
    _fields_ = [
        ("get_schema", ctypes.c_void_p), ("get_next", ctypes.c_void_p),
        ("get_last_error", ctypes.c_void_p), ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


RELEASE_SCHEMA = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowSchema))
RELEASE_ARRAY = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))
GET_SCHEMA = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream),
                              ctypes.POINTER(ArrowSchema))
GET_NEXT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ArrowArrayStream),
                            ctypes.POINTER(ArrowArray))
GET_LAST_ERROR = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.POINTER(ArrowArrayStream))

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def _struct_in(capsule: Any, name: bytes, struct: Any) -> Any:
    """The C struct a PyCapsule named ``name`` points to."""
    return struct.from_address(_capsule_pointer(capsule, name))


# -- keeping Arrow memory alive while NumPy views it -------------------------------

class _Owned:
    """An ArrowArray moved out of a stream: released when this goes."""

    def __init__(self, stream: Any) -> None:
        self.array = ArrowArray()
        self.stream = stream      # the stream outlives the arrays it gave

    def __del__(self) -> None:
        if self.array.release:
            RELEASE_ARRAY(self.array.release)(ctypes.byref(self.array))


class _View:
    """``__array_interface__`` of Arrow memory, holding its owner: the NumPy
    array built from it keeps this object (and so the Arrow array) alive."""

    def __init__(self, owner: Any, address: int, dtype: np.dtype[Any], n: int) -> None:
        self.owner = owner
        self.__array_interface__ = {
            "version": 3, "shape": (n,), "typestr": dtype.str, "data": (address, True),
        }


# -- what a column is -------------------------------------------------------------

class Leaf(NamedTuple):
    """One chunk of numbers: ``values`` (1-D, or 2-D for a fixed-size list
    column) and ``valid`` (a bool mask per value/row, or None: no nulls)."""
    values: np.ndarray
    valid: np.ndarray | None


class Lists(NamedTuple):
    """One chunk of a variable-length list column: row ``i`` is
    ``values[offsets[i]:offsets[i + 1]]``."""
    offsets: np.ndarray
    values: Leaf
    valid: np.ndarray | None


Chunk = Union[Leaf, Lists]


class Column(NamedTuple):
    name: str            # the argument or column it came from (for messages)
    arrow_type: str      # the Arrow format string, e.g. 'g' (float64)
    chunks: list[Chunk]


PRIMITIVES = {
    "c": "i1", "C": "u1", "s": "<i2", "S": "<u2", "i": "<i4", "I": "<u4",
    "l": "<i8", "L": "<u8", "e": "<f2", "f": "<f4", "g": "<f8",
}
TYPE_NAMES = {
    "n": "null", "u": "string", "U": "large string", "vu": "string view",
    "z": "binary", "Z": "large binary", "vz": "binary view", "+s": "struct",
    "+m": "map", "tdD": "date32", "tdm": "date64",
}


def not_numbers(name: str, what: str) -> TypeError:
    """The one refusal of values that are not real numbers, at every door
    (arguments, Arrow columns, frame columns): it names ``name``."""
    return TypeError(f"{name} must hold real numbers (bool, int, float or decimal); "
                     f"got {what}")


def type_name(fmt: str) -> str:
    for prefix, name in (("tt", "time"), ("ts", "timestamp"), ("tD", "duration"),
                         ("tiM", "interval"), ("w:", "fixed-size binary"),
                         ("+u", "union"), ("+vl", "list view"), ("+r", "run-end encoded")):
        if fmt.startswith(prefix):
            return name
    return TYPE_NAMES.get(fmt, f"Arrow type {fmt!r}")


def is_arrow(x: Any) -> bool:
    """Whether ``x`` speaks the Arrow PyCapsule interface."""
    return hasattr(x, "__arrow_c_array__") or hasattr(x, "__arrow_c_stream__")


def _buffer(array: Any, i: int) -> int:
    return int(array.buffers[i] or 0)


def _view(owner: Any, address: int, dtype: np.dtype[Any], start: int, n: int) -> np.ndarray:
    if n == 0 or not address:
        return np.empty(0, dtype)
    return np.asarray(_View(owner, address + start * dtype.itemsize, dtype, n))


def _bits(owner: Any, address: int, start: int, n: int) -> np.ndarray:
    """Bits ``start .. start+n`` of an Arrow bitmap as bools (a copy)."""
    raw = _view(owner, address, np.dtype(np.uint8), 0, (start + n + 7) // 8)
    return np.unpackbits(raw, count=start + n, bitorder="little")[start:].view(np.bool_)


def _validity(owner: Any, array: Any, start: int, n: int) -> np.ndarray | None:
    address = _buffer(array, 0) if array.n_buffers else 0
    if array.null_count == 0 or not address or n == 0:
        return None
    valid = _bits(owner, address, start, n)
    return None if valid.all() else valid


def decimal_to_float64(words: np.ndarray, scale: int) -> np.ndarray:
    """Little-endian two's-complement integers (rows of uint64 ``words``)
    times 10**-scale, each rounded once to the nearest float64 -- exactly
    what ``float(decimal.Decimal(...))`` gives."""
    n, width = words.shape
    low = words[:, 0].view(np.int64)
    fits = (words[:, 1:] == np.where(low < 0, np.uint64(2**64 - 1), np.uint64(0))[:, None]).all()
    if fits and ((low >= -2**53) & (low <= 2**53)).all() and -22 <= scale <= 22:
        # both factors are exact doubles: one correctly rounded operation
        exact = low.astype(np.float64)
        return exact / 10.0**scale if scale >= 0 else exact * 10.0**-scale
    out = np.empty(n)
    for i, row in enumerate(words):
        value = int.from_bytes(row.tobytes(), "little", signed=True)
        out[i] = float(Fraction(value, 10**scale) if scale >= 0 else value * 10**-scale)
    return out


def _decoded(owner: Any, schema: Any, array: Any, name: str) -> Leaf:
    """A dictionary-encoded chunk: its dictionary's values taken by its
    indices (a copy).  The numbers are the values, never the indices; a
    null index, or an index to a null value, is a null."""
    fmt = schema.format.decode()
    if fmt not in PRIMITIVES or fmt in ("e", "f", "g"):
        raise TypeError(f"{name}: an Arrow dictionary with {type_name(fmt)} indices")
    start, n = array.offset, array.length
    valid = _validity(owner, array, start, n)
    indices = _view(owner, _buffer(array, 1), np.dtype(PRIMITIVES[fmt]), start, n)
    words = _leaf(owner, schema.dictionary.contents, array.dictionary.contents, name)
    if valid is not None:
        indices = np.where(valid, indices, 0)      # a null's index may be anything
    if not len(words.values):                      # every row is null
        return Leaf(np.zeros((n,) + words.values.shape[1:], words.values.dtype), valid)
    values = words.values[indices]
    if words.valid is not None:
        taken = words.valid[indices]
        valid = taken if valid is None else (
            valid.reshape(valid.shape + (1,) * (taken.ndim - valid.ndim)) & taken)
    return Leaf(values, None if valid is None or valid.all() else valid)


def _leaf(owner: Any, schema: Any, array: Any, name: str) -> Leaf:
    """A primitive or fixed-size-list chunk starting at ``array.offset``
    (a dictionary-encoded one decoded)."""
    if schema.dictionary:
        return _decoded(owner, schema, array, name)
    fmt = schema.format.decode()
    start, n = array.offset, array.length
    valid = _validity(owner, array, start, n)
    if fmt in PRIMITIVES:
        dtype = np.dtype(PRIMITIVES[fmt])
        return Leaf(_view(owner, _buffer(array, 1), dtype, start, n), valid)
    if fmt == "b":
        values = _bits(owner, _buffer(array, 1), start, n) if n else np.empty(0, np.bool_)
        return Leaf(values, valid)
    if fmt.startswith("d:"):
        precision_scale = fmt[2:].split(",")
        scale = int(precision_scale[1])
        bits = int(precision_scale[2]) if len(precision_scale) > 2 else 128
        dtype = np.dtype(f"<i{bits // 8}") if bits <= 64 else np.dtype("<u8")
        words = bits // 64 if bits > 64 else 1
        raw = _view(owner, _buffer(array, 1), dtype, start * words, n * words)
        if bits <= 64:
            raw = raw.astype(np.int64).view(np.uint64)
        return Leaf(decimal_to_float64(raw.reshape(n, words), scale), valid)
    if fmt.startswith("+w:"):
        width = int(fmt[3:])
        child = _leaf(owner, schema.children[0].contents, array.children[0].contents,
                      name)
        values = child.values[start * width:(start + n) * width]
        if values.ndim != 1:
            raise TypeError(f"{name}: nested fixed-size lists are not read")
        if child.valid is not None and not child.valid[start * width:(start + n) * width].all():
            valid = child.valid[start * width:(start + n) * width].reshape(n, width) & (
                True if valid is None else valid[:, None])
        return Leaf(values.reshape(n, width), valid)
    raise not_numbers(name, f"{type_name(fmt)} values")


def _chunk(owner: Any, schema: Any, array: Any, name: str) -> Chunk:
    fmt = schema.format.decode()
    if fmt not in ("+l", "+L"):
        return _leaf(owner, schema, array, name)
    start, n = array.offset, array.length
    offsets = _view(owner, _buffer(array, 1), np.dtype("<i4" if fmt == "+l" else "<i8"),
                    start, n + 1)
    values = _leaf(owner, schema.children[0].contents, array.children[0].contents, name)
    if values.values.ndim != 1:
        raise TypeError(f"{name}: lists of lists are not read (one level of lists: "
                        f"one row of a multi-output batch)")
    return Lists(offsets if n else np.zeros(1, np.int64), values,
                 _validity(owner, array, start, n))


def _schema_names(schema: Any) -> list[str]:
    return [(schema.children[i].contents.name or b"").decode()
            for i in range(schema.n_children)]


def _child_index(schema: Any, column: str, name: str) -> int:
    names = _schema_names(schema)
    if column not in names:
        raise ValueError(f"{name}: no column {column!r} (columns: {names})")
    return names.index(column)


def _stream(x: Any, name: str) -> Iterator[tuple[Any, Any, Any]]:
    """(owner, schema, array) for each array of an ``__arrow_c_stream__``."""
    capsule = x.__arrow_c_stream__()
    stream = _struct_in(capsule, b"arrow_array_stream", ArrowArrayStream)
    schema = ArrowSchema()

    def failed(code: int) -> Exception:
        message = GET_LAST_ERROR(stream.get_last_error)(ctypes.byref(stream))
        text = message.decode(errors="replace") if message else f"error code {code}"
        return ValueError(f"{name}: the Arrow stream failed: {text}")

    code = GET_SCHEMA(stream.get_schema)(ctypes.byref(stream), ctypes.byref(schema))
    if code:
        raise failed(code)
    try:
        while True:
            owner = _Owned(capsule)
            code = GET_NEXT(stream.get_next)(ctypes.byref(stream), ctypes.byref(owner.array))
            if code:
                raise failed(code)
            if not owner.array.release:
                return
            yield owner, schema, owner.array
    finally:
        if schema.release:
            RELEASE_SCHEMA(schema.release)(ctypes.byref(schema))


def _arrays(x: Any, name: str) -> Iterator[tuple[Any, Any, Any]]:
    """(owner, schema, array) for ``x``: its one array, or its stream's."""
    if hasattr(x, "__arrow_c_array__"):
        schema_capsule, array_capsule = x.__arrow_c_array__()
        owner = (schema_capsule, array_capsule)
        yield (owner, _struct_in(schema_capsule, b"arrow_schema", ArrowSchema),
               _struct_in(array_capsule, b"arrow_array", ArrowArray))
    else:
        yield from _stream(x, name)


def read_column(x: Any, name: str) -> Column:
    """Every chunk of an Arrow array, chunked array or column stream (views
    of the Arrow buffers where the values are numbers NumPy reads as they
    are).  A record batch or a stream of them: TypeError (pick a column)."""
    chunks: list[Chunk] = []
    fmt = ""
    for owner, schema, array in _arrays(x, name):
        fmt = schema.format.decode()
        if fmt == "+s":
            raise TypeError(
                f"{name} is an Arrow table/record batch with columns "
                f"{_schema_names(schema)}; pass one column")
        chunks.append(_chunk(owner, schema, array, name))
    return Column(name, fmt, chunks)


def read_batches(x: Any, columns: list[str], name: str) -> Iterator[dict[str, Chunk]]:
    """A record batch or a stream of them (``__arrow_c_stream__``: pyarrow
    RecordBatchReader/Table, polars DataFrame, ...), one batch at a time:
    the chunks of ``columns``, nothing else read.  Each batch's memory is
    released once the caller drops it, so memory stays bounded by a batch."""
    for owner, schema, array in _arrays(x, name):
        if schema.format.decode() != "+s":
            raise TypeError(f"{name} is an Arrow {type_name(schema.format.decode())} "
                            f"column, not a table of columns {columns}")
        if _validity(owner, array, array.offset, array.length) is not None:
            raise ValueError(f"{name}: a record batch with null rows is not read")
        picked = {}
        for column in columns:
            i = _child_index(schema, column, name)
            picked[column] = _chunk(owner, schema.children[i].contents,
                                    _rows_of(array.children[i].contents, array),
                                    f"column {column!r}")
        yield picked


def _rows_of(child: Any, parent: Any) -> Any:
    """The child ArrowArray struct cut to its parent's rows (a struct
    array's offset and length apply to its children): a copy of the struct
    that shares the buffers and does not own them."""
    rows = ArrowArray.from_buffer_copy(child)
    rows.offset += parent.offset
    rows.length = parent.length
    rows.release = None
    return rows
