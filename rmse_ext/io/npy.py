"""``.npy`` files: memory-mapped, read in row chunks with the pages behind
each finished chunk released."""
from __future__ import annotations

import mmap
from typing import BinaryIO, Literal

import numpy as np

from .common import InputError, Table, check_numeric, rows_of


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
