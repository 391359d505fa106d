"""Turning what users pass into buffers the kernel can read.

Reading (``read_input``): NumPy arrays as they are; Arrow columns (any object
with ``__arrow_c_array__`` / ``__arrow_c_stream__``) through the C data
interface, numbers read in place and chunked columns kept as ``Chunks``;
DLPack tensors on the host (``__dlpack__``) without a copy; anything else
through ``np.asarray`` (buffer protocol, ``__array__``, nested lists).

The kernel reads float32 and float64 natively; everything else that is a real
number is converted without rounding below its own precision:
bool/int -> float64, float16 -> float32 (exact).  long double is the one
exception: it is rounded to float64 (the kernel's working precision).
Arrow decimals are read as the nearest float64 (as ``float(Decimal)``).
"""
from __future__ import annotations

from typing import Any, Iterator, Union

import numpy as np

from ._arrow import Chunk, Leaf, is_arrow, not_numbers, read_batches, read_column

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)

_REJECTED_KINDS = {
    "c": "complex numbers",
    "O": "Python objects",
    "U": "strings",
    "S": "bytes",
    "M": "datetimes",
    "m": "timedeltas",
    "V": "raw/structured records",
}


_KERNEL_DTYPES: dict[np.dtype[Any], np.dtype[Any]] = {}


def kernel_dtype(dtype: np.dtype[Any], name: str) -> np.dtype[Any]:
    """The dtype the kernel will read an array of ``dtype`` as."""
    known = _KERNEL_DTYPES.get(dtype)
    if known is not None:
        return known
    target = _kernel_dtype(dtype, name)
    _KERNEL_DTYPES[dtype] = target
    return target


def _kernel_dtype(dtype: np.dtype[Any], name: str) -> np.dtype[Any]:
    kind = dtype.kind
    if kind == "f":
        if dtype.itemsize == 2:
            return FLOAT32
        if dtype.itemsize in (4, 8):
            return dtype.newbyteorder("=")
        return FLOAT64
    if kind in "biu":
        return FLOAT64
    what = _REJECTED_KINDS.get(kind, f"dtype {dtype}")
    raise not_numbers(name, f"{what} (dtype {dtype})")


class Chunks:
    """One operand held as consecutive pieces along its first axis (an Arrow
    chunked column): never concatenated on the metric's path."""

    __slots__ = ("pieces", "name", "shape")

    def __init__(self, pieces: list[np.ndarray], name: str) -> None:
        trailing = {piece.shape[1:] for piece in pieces}
        if len(trailing) > 1:
            raise ValueError(f"{name}: Arrow chunks of different row shapes {sorted(trailing)}")
        self.pieces, self.name = pieces, name
        self.shape = (sum(len(piece) for piece in pieces),) + pieces[0].shape[1:]

    def concatenate(self) -> np.ndarray:
        return np.concatenate(self.pieces)


Operand = Union[np.ndarray, Chunks]


def read_input(x: Any, name: str, *, nulls: str = "reject") -> Operand:
    """``x`` as an ndarray, or ``Chunks`` for an Arrow column of several
    chunks; no copy where the data already is numbers in memory (ndarrays,
    memmaps, Arrow buffers, DLPack host tensors, ``__array__``, the buffer
    protocol).  The one door through which every input enters.  Raises
    TypeError/ValueError naming ``name``.

    >>> import pyarrow as pa
    >>> read_input(pa.chunked_array([[1.0, 2.0], [3.0]]), "y_true").shape
    (3,)
    """
    if type(x) is np.ndarray:
        return x
    if is_arrow(x) and not _numpy_native(x):
        return _arrow_operand(x, name, nulls)
    if getattr(x, "requires_grad", False) and callable(getattr(x, "detach", None)):
        # a torch tensor in an autograd graph: a metric is not part of the
        # graph (as in Keras), so read its values; detach() copies nothing
        x = x.detach()
    if hasattr(x, "__dlpack_device__") and not isinstance(x, np.ndarray):
        array = _from_dlpack(x, name)
        if array is not None:
            return array
    return _as_numpy(x, name)


def _numpy_native(x: Any) -> bool:
    """pandas objects speak Arrow too, but their NumPy view is the faithful
    one (an Arrow export would turn NaN into null)."""
    return type(x).__module__.partition(".")[0] == "pandas"


def _arrow_operand(x: Any, name: str, nulls: str = "reject") -> Operand:
    """An Arrow column as an ndarray (one chunk) or ``Chunks``."""
    pieces = [piece for piece in (arrow_values(chunk, name, nulls)
                                  for chunk in read_column(x, name).chunks) if len(piece)]
    if len(pieces) == 1:
        return pieces[0]
    return Chunks(pieces, name) if pieces else np.empty(0)


def arrow_values(chunk: Chunk, name: str, nulls: str = "reject") -> np.ndarray:
    """One Arrow chunk as an ndarray: numbers in place, a list column whose
    rows all have one length as a 2-D array (one row per sample).  Nulls
    are rejected, or with ``nulls="nan"`` read as NaN (nan_policy='omit')."""
    if isinstance(chunk, Leaf):
        return read_nulls(chunk.values, chunk.valid, name, nulls)
    if nulls != "nan":
        reject_nulls(chunk.valid, name)
        reject_nulls(chunk.values.valid, name)
    elif chunk.valid is not None or chunk.values.valid is not None:
        return _list_with_nulls(chunk, name)
    lengths = np.diff(chunk.offsets)
    width = int(lengths[0]) if len(lengths) else 0
    if (lengths != width).any():
        raise ValueError(
            f"{name} is an Arrow list column whose rows have different lengths "
            f"({width} and {int(lengths[lengths != width][0])}): not an array")
    first = int(chunk.offsets[0])
    return chunk.values.values[first:first + width * len(lengths)].reshape(len(lengths), width)


def read_nulls(values: np.ndarray, valid: np.ndarray | None, name: str,
               nulls: str) -> np.ndarray:
    """``values`` (an Arrow buffer's numbers, ``valid`` its validity or
    None) with its nulls rejected (``nulls="reject"``, ValueError naming
    ``name``), or read as NaN (``nulls="nan"``: nan_policy='omit'; a float
    copy, float32 stays float32).  ``arrow_values`` reads whole chunks so;
    a reader of its own (Spark's ragged list columns) calls this."""
    if valid is None:
        return values
    if nulls != "nan":
        reject_nulls(valid, name)
    out = np.array(values, dtype=values.dtype if values.dtype.kind == "f" else FLOAT64)
    out.reshape(-1)[~valid.reshape(-1)] = np.nan
    return out


def _list_with_nulls(chunk: Any, name: str) -> np.ndarray:
    """A fixed-length list column with nulls: a null row or element is NaN."""
    values = read_nulls(chunk.values.values, chunk.values.valid, name, "nan")
    rows = len(chunk.offsets) - 1
    lengths = np.diff(chunk.offsets)
    valid = np.ones(rows, bool) if chunk.valid is None else chunk.valid.reshape(-1)
    width = int(lengths[valid][0]) if valid.any() else 0
    out = np.full((rows, width), np.nan, dtype=values.dtype if values.dtype.kind == "f"
                  else FLOAT64)
    for r in np.flatnonzero(valid):
        if lengths[r] != width:
            raise ValueError(f"{name} is an Arrow list column whose rows have different "
                             f"lengths ({width} and {int(lengths[r])}): not an array")
        out[r] = values[chunk.offsets[r]:chunk.offsets[r] + width]
    return out


def reject_nulls(valid: np.ndarray | None, name: str) -> None:
    """Arrow nulls are missing values: rejected until a missing-value policy
    reads them."""
    if valid is not None:
        where = np.flatnonzero(~valid.reshape(-1))
        raise ValueError(
            f"{name} has missing values (Arrow null): {len(where)}, the first at "
            f"position {where[0]} of its chunk; rmse_ext does not read nulls: drop "
            f"or fill them first")


# DLPack device types that are host memory (DLDeviceType: kDLCPU, kDLCUDAHost,
# kDLROCMHost, kDLCUDAManaged)
HOST_DEVICES = {1, 3, 11, 13}
DEVICE_NAMES = {2: "CUDA", 4: "OpenCL", 7: "Vulkan", 8: "Metal", 9: "VPI", 10: "ROCm",
                14: "oneAPI"}


def _from_dlpack(x: Any, name: str) -> np.ndarray | None:
    """A DLPack tensor on the host as an ndarray sharing its memory; None
    when NumPy cannot take it through DLPack (the caller falls back to
    ``np.asarray``).  A tensor on a device: TypeError."""
    try:
        device_type, device_id = x.__dlpack_device__()
    except Exception:  # noqa: BLE001  (a broken protocol: let np.asarray try)
        return None
    if int(device_type) not in HOST_DEVICES:
        where = DEVICE_NAMES.get(int(device_type), f"DLPack device type {int(device_type)}")
        raise TypeError(
            f"{name} is on a {where} device (device {int(device_id)}), not in host "
            f"memory; rmse_ext does not copy from devices: move it to the host first "
            f"(e.g. tensor.cpu(), cupy.asnumpy(a), jax.device_get(a))")
    try:
        return np.from_dlpack(x)
    except (BufferError, TypeError, ValueError, RuntimeError):
        return None


def record_batches(stream: Any, columns: list[str], name: str,
                   nulls: str = "reject") -> Iterator[dict[str, np.ndarray]]:
    """A table, record batch or stream of record batches (anything with
    ``__arrow_c_stream__`` / ``__arrow_c_array__``), one batch at a time:
    ``{column: ndarray}`` of the selected columns only, numbers read in
    place; memory bounded by one batch.

    >>> import pyarrow as pa
    >>> table = pa.table({"y": [1.0, 2.0], "yhat": [1.5, 2.5], "id": ["a", "b"]})
    >>> [batch["yhat"] for batch in record_batches(table, ["y", "yhat"], "table")]
    [array([1.5, 2.5])]
    """
    for batch in read_batches(stream, columns, name):
        yield {column: arrow_values(chunk, f"column {column!r} of {name}", nulls)
               for column, chunk in batch.items()}


def as_array(x: Any, name: str, *, nulls: str = "reject") -> np.ndarray:
    """``x`` as one plain ndarray of any numeric dtype (``read_input``, with
    an Arrow column's chunks concatenated).  Raises TypeError/ValueError
    naming ``name``."""
    x = read_input(x, name, nulls=nulls)
    return x.concatenate() if isinstance(x, Chunks) else x


def _as_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` through ``np.asarray``, without copying if it already is an
    array or exposes one (``__array__``, the buffer protocol: NumPy memmaps,
    torch CPU tensors, pandas columns, array.array, memoryview)."""
    if isinstance(x, np.ndarray) and isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; rmse_ext does not apply masks. Pass "
            f"{name}.compressed() (and the matching values of the other "
            f"arguments), or use sample_weight=0 for the masked entries"
        )
    try:
        array: np.ndarray = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    return array


def as_operand(x: Any, name: str) -> np.ndarray:
    """``x`` as an aligned, native-endian, C-contiguous float32/float64 array
    (a copy only when it is not one already)."""
    array = as_array(x, name)
    target = kernel_dtype(array.dtype, name)
    if array.dtype != target or not (array.flags.c_contiguous and array.flags.aligned):
        array = np.array(array, dtype=target, order="C", copy=True)
    return array
