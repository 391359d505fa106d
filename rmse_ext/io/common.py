"""What every reader shares: the error type, the ``Table`` interface,
column picking, re-chunking of variable batches, and pyarrow helpers."""
from __future__ import annotations

import os
from typing import Any, Iterator

import numpy as np

from .._inputs import kernel_dtype

IO_EXTRA = "pip install pyarrow (the package's [io] extra)"


class InputError(Exception):
    """A problem with an input file: ``str()`` is ``"<file>: <what is wrong>"``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {' '.join(str(message).split())}")
        self.path = path


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
    ``{key: array}`` with ``k`` rows (fewer only at the end, 0 when done).

    ``column(option, "groups", keys=True)`` picks a column of grouping keys
    instead: read as the file holds it (CSV as text, Parquet and ``.npy`` in
    their own type), its kind checked by the key codec (rmse_ext._keys)."""

    kind = "file"
    #: rows in the file, when the format knows it before reading
    rows: int | None = None
    #: at most this many rows per chunk (a slow reader: the progress bar moves)
    chunk_rows_hint: int | None = None
    #: how missing values read: "reject", or "nan" (what rmse-ext eval and
    #: rolling set, semantics 8.2: CSV empty fields and Arrow/Parquet nulls
    #: become NaN, missing values under every nan_policy)
    nulls: str = "reject"

    def __init__(self, path: str) -> None:
        self.path = path
        #: what the reader guessed and the user should know (printed as warnings)
        self.notes: list[str] = []
        self.bytes_total = os.path.getsize(path) if os.path.isfile(path) else 0

    def column(self, option: str | None, role: str, keys: bool = False) -> Any:
        raise NotImplementedError

    def name_of(self, key: Any) -> str | None:
        """The column's name in the file (None: the format has no names)."""
        return None

    def describe(self, key: Any) -> tuple[tuple[int, ...], np.dtype]:
        return (), np.dtype(np.float64)

    def label(self, key: Any) -> str:
        return self.path if key is None else f"{self.path} column {key!r}"

    def start(self, keys: list[Any], chunk_rows: int) -> None:
        raise NotImplementedError

    def read(self, k: int) -> dict[Any, np.ndarray]:
        raise NotImplementedError

    def line_of(self, row: int) -> int | None:
        """The line of data row ``row`` (both from 1), for text formats."""
        return None

    def bytes_done(self) -> int:
        return 0

    def close(self) -> None:
        pass


def check_keys(path: str, label: str, kind_of: Any, of: Any) -> None:
    """InputError unless the key codec reads ``of`` (a dtype or Arrow type,
    through ``kind_of``) as keys."""
    try:
        kind_of(of, label)
    except TypeError as exc:
        raise InputError(path, str(exc)) from None


def option_name(role: str) -> str:
    """The command-line option that picks the column of ``role``."""
    return "--group-column" if role == "groups" else f"--{role.split('_')[-1]}-column"


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
                  f"with {'--column or ' * (role != 'groups')}{option_name(role)}")
    if option in names:
        return names.index(option)
    if option.isdigit() and int(option) < len(names):
        return int(option)
    raise InputError(path, f"no {what} {option!r} (there are: {shown})")

def rows_of(path: str, shape: tuple[int, ...]) -> int:
    if not shape:
        raise InputError(path, "holds a single number (shape ()); expected rows "
                               "along a first axis")
    return shape[0]

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
    import pyarrow.types as pat  # type: ignore[import-untyped,unused-ignore]
    if pat.is_boolean(arrow_type):
        return np.dtype(np.bool_)
    kind = "f" if pat.is_floating(arrow_type) else "i" if pat.is_signed_integer(arrow_type) else "u"
    return np.dtype(f"{kind}{arrow_type.bit_width // 8}")
