"""``.npz`` archives: one array per column, streamed from the archive."""
from __future__ import annotations

import zipfile
import zlib

import numpy as np

from .._keys import kind_of_dtype
from .common import InputError, Table, check_keys, check_numeric, pick_named, rows_of
from .npy import read_header

#: what a damaged archive raises while a member is read
DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError)


class NpzMember:
    """One array of an .npz archive, read in row chunks without loading it."""

    def __init__(self, table: NpzTable, name: str) -> None:
        path = table.path
        self.label = f"{path}:{name}"
        try:
            self.stream = table.zip.open(name + ".npy")
            self.shape, fortran, self.dtype = read_header(self.label, self.stream)
        except DAMAGED as exc:
            raise InputError(self.label, f"damaged archive member ({exc})") from None
        self.rows = rows_of(self.label, self.shape)
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
        self.whole = None
        if fortran and len(self.shape) > 1:  # rows are not contiguous: load it
            try:
                self.whole = np.load(table.path)[name]
            except DAMAGED as exc:
                raise InputError(self.label, f"damaged archive member ({exc})") from None
        self.done = 0

    def read(self, k: int) -> np.ndarray:
        k = min(k, self.rows - self.done)
        if self.whole is not None:
            out = self.whole[self.done:self.done + k]
        else:
            try:
                data = self.stream.read(k * self.row_bytes)
            except DAMAGED as exc:
                raise InputError(self.label, f"damaged archive member ({exc})") from None
            if len(data) != k * self.row_bytes:
                raise InputError(self.label, "archive member is shorter than its "
                                             "header says")
            out = np.frombuffer(data, self.dtype).reshape((k,) + self.shape[1:])
        self.done += k
        return np.asarray(out)


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

    def column(self, option: str | None, role: str, keys: bool = False) -> str:
        name = self.names[pick_named(self.path, self.names, option or self.key, role,
                                     "array")]
        if name not in self.members:
            self.members[name] = NpzMember(self, name)
        member = self.members[name]
        if member.dtype.hasobject:
            raise InputError(member.label, "holds Python objects (dtype object); expected "
                                           "numbers or keys")
        if keys:
            check_keys(member.label, "the array", kind_of_dtype, member.dtype)
            if len(member.shape) != 1:
                raise InputError(member.label, f"keys must be one column; the array has "
                                               f"shape {member.shape}")
        else:
            check_numeric(member.label, "the array", member.dtype)
        return name

    def name_of(self, key: str) -> str | None:
        return key

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
