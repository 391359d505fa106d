"""``.npy`` files, read in row chunks with ``readinto`` into one reused
buffer: memory stays at one chunk, and a file that is damaged, or shrinks
while it is read, is an InputError naming it (a shared memory mapping would
die of SIGBUS instead)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._keys import kind_of_dtype
from .common import InputError, Table, check_keys, check_numeric, rows_of

MAGIC = b"\x93NUMPY"
BUFFER_BYTES = 1 << 20


def read_header(label: str, stream: Any) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """Shape, Fortran order and dtype from the header of a .npy stream (a
    file, or an .npz archive member), leaving the stream at the data."""
    start = stream.read(len(MAGIC) + 2)
    if start.startswith(b"PK"):
        raise InputError(label, "is an .npz archive, not an .npy file")
    if start[:len(MAGIC)] != MAGIC or len(start) < len(MAGIC) + 2:
        raise InputError(label, "not a .npy file (it does not start with NumPy's "
                                "\\x93NUMPY marker)")
    version = (start[-2], start[-1])
    read = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if read is None:
        raise InputError(label, f"not a valid .npy file (format version {version})")
    try:
        shape, fortran, dtype = read(stream)
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise InputError(label, f"not a valid .npy file ({exc or 'truncated'})") from None
    return tuple(shape), bool(fortran), np.dtype(dtype)


class NpyTable(Table):
    """A .npy array, read in row chunks.  Column ``j`` of a 2-D array is
    ``a[:, j]``; a Fortran-ordered array is read column segment by segment."""

    kind = ".npy"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        with open(path, "rb") as file:
            self.shape, self.fortran, self.dtype = read_header(path, file)
            self.offset = file.tell()
        if self.dtype.hasobject:
            raise InputError(path, "holds Python objects (dtype object); expected numbers "
                                   "or keys")
        self.rows = self.total_rows = rows_of(path, self.shape)
        self.fortran = self.fortran and len(self.shape) > 1
        self.row_items = int(np.prod(self.shape[1:]))
        self.row_bytes = self.dtype.itemsize * self.row_items
        self.bytes_total = self.rows * self.row_bytes
        # chunks of about BUFFER_BYTES: the copy stays in cache for the kernel's pass
        self.chunk_rows_hint = max(1, BUFFER_BYTES // max(self.row_bytes, 1))
        self.check_size()
        self.file: Any = None
        self.buffer = np.empty(0, np.uint8)
        self.next_row = 0

    def check_size(self) -> None:
        """InputError unless the file still holds what its header promises."""
        size = os.path.getsize(self.path)
        if size < self.offset + self.bytes_total:
            raise InputError(self.path, f"is truncated: its header promises "
                                        f"{self.offset + self.bytes_total} bytes, the "
                                        f"file has {size}")

    def column(self, option: str | None, role: str, keys: bool = False) -> int | None:
        if keys:
            check_keys(self.path, "the array", kind_of_dtype, self.dtype)
            if option is None and len(self.shape) == 2 and self.shape[1] == 1:
                return 0
            if option is None and len(self.shape) != 1:
                raise InputError(self.path, f"keys must be one column; the array has shape "
                                            f"{self.shape}")
        else:
            check_numeric(self.path, "the array", self.dtype)
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

    def describe(self, key: int | None) -> tuple[tuple[int, ...], np.dtype[Any]]:
        return (self.shape[1:] if key is None else ()), self.dtype

    def label(self, key: int | None) -> str:
        return self.path if key is None else f"{self.path} column {key}"

    def start(self, keys: list[int | None], chunk_rows: int) -> None:
        self.keys, self.next_row = keys, 0
        self.file = open(self.path, "rb", buffering=0)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self.file.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def fill(self, view: memoryview, position: int) -> None:
        """Read exactly ``len(view)`` bytes at ``position``; InputError when
        the file ends first (it shrank since it was opened)."""
        self.file.seek(position)
        done = 0
        while done < len(view):
            got = self.file.readinto(view[done:])
            if not got:
                raise InputError(self.path, f"ended at byte {position + done} while "
                                            f"being read: the file is shorter than its "
                                            f"header says (truncated, or changed while "
                                            f"being read)")
            done += got

    def read(self, k: int) -> dict[int | None, np.ndarray]:
        assert self.file is not None, "start() first"
        start = self.next_row
        k = min(k, self.total_rows - start)
        self.next_row = start + k
        need = k * self.row_bytes
        if len(self.buffer) < need:
            self.buffer = np.empty(need, np.uint8)
        data = self.buffer[:need]
        itemsize = self.dtype.itemsize
        if not self.fortran:
            self.fill(memoryview(data.data), self.offset + start * self.row_bytes)
            rows = data.view(self.dtype).reshape((k,) + self.shape[1:])
        else:  # column c of the trailing axes holds rows 0..n-1 contiguously
            segments = data.view(self.dtype).reshape(self.row_items, k)
            byte_segments = data.reshape(self.row_items, k * itemsize)
            for c in range(self.row_items):
                self.fill(memoryview(byte_segments[c].data),
                          self.offset + (c * self.total_rows + start) * itemsize)
            rows = segments.T.reshape((k,) + self.shape[1:], order="F")
        return {key: rows if key is None else rows[:, key] for key in self.keys}

    def bytes_done(self) -> int:
        return self.next_row * self.row_bytes

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
