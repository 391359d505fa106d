r"""What the subcommands share, below all of them (no subcommand imports
another): the one-line usage errors, strict-JSON numbers, keys as text, and
aligned text tables.

Keys in JSON are the key codec's JSON values (``rmse_ext._keys.keys_to_json``,
as ``GroupedRootMeanSquaredError.get_state()`` writes them: ints, bools,
strs, bytes as hex strings, datetimes as integer ticks of their unit), with
the kind beside them; as text (CSV and the aligned table) the same, but
datetimes in ISO 8601.

>>> key_cells("bytes", np.array([b"\\xff", b"\xff"], dtype=object))
['5c786666', 'ff']
>>> key_cells("datetime64[s]", np.array([0], dtype="M8[s]"))
['1970-01-01T00:00:00']
>>> json_number(float("inf")), json_number(1.5)
('Infinity', 1.5)
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable, NoReturn

import numpy as np

from .._keys import keys_to_json

PROG = "rmse-ext"


class UsageError(Exception):
    """A usage error: reported as one stderr line, exit 2 (docs/cli.md)."""


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``UsageError``) instead of
    argparse's usage block; ``--help`` still prints the whole usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


# -- numbers -----------------------------------------------------------------------------

def json_number(x: Any) -> float | str | None:
    """Strict JSON: non-finite numbers as the strings "NaN", "Infinity"."""
    if x is None:
        return None
    value = float(x)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def shortest(x: Any) -> float:
    """The shortest decimal that reads back as ``x`` in its own dtype (a
    float32 result prints as float32's shortest, not float64's)."""
    return float(str(x))


# -- keys ----------------------------------------------------------------------------------

def key_cells(kind: str | None, keys: np.ndarray) -> list[str]:
    """Keys of ``kind`` as CSV and the aligned table show them."""
    if kind is not None and kind.startswith(("datetime64", "timedelta64")):
        return [str(k) for k in keys]
    return [str(k) for k in keys_to_json(kind, keys)]


# -- aligned text tables (rmse-ext eval's groups, rmse-ext bench) ---------------------------

THREADS = 2   # the thread count rmse-ext bench's scaling targets are set for
Row = dict[str, Any]
Column = tuple[str, int, Callable[[Row], str]]


def fmt_seconds(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    return f"{s * 1e3:.2f} ms"


def fmt_bytes(b: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{b:.0f} B"


def mark(ok: bool | None) -> str:
    return "" if ok is None else "pass" if ok else "MISS"


def columns(*names: str) -> list[Column]:
    """Table columns by name (the first one, the case, left-aligned)."""
    return [(name, *COLUMNS[name]) for name in names]


COLUMNS: dict[str, tuple[int, Callable[[Row], str]]] = {
    "case": (42, lambda r: r["case"]),
    "long case": (72, lambda r: r["case"]),
    "reads": (9, lambda r: fmt_bytes(r["bytes"])),
    "floor": (9, lambda r: fmt_seconds(r["floor"])),
    "rmse_ext": (9, lambda r: fmt_seconds(r["rmse_ext"])),
    "% of limit": (10, lambda r: f"{r['percent_of_limit']:.0f} %"),
    "1 thread": (9, lambda r: fmt_seconds(r["baseline"])),
    f"{THREADS} threads": (9, lambda r: fmt_seconds(r["rmse_ext"])),
    "speed-up": (8, lambda r: f"{r['speedup']:.2f}x"),
    "baseline": (9, lambda r: fmt_seconds(r["baseline"])),
    "ratio": (7, lambda r: f"{r['speedup']:.2f}x"),
    "bytes": (9, lambda r: fmt_bytes(r["rmse_ext_bytes"])),
    "NumPy bytes": (11, lambda r: fmt_bytes(r["baseline_bytes"])),
    "target": (14, lambda r: r["target"]),
    "": (4, lambda r: mark(r.get("ok"))),
}

def aligned(cells: list[str], widths: list[int]) -> str:
    """One table line: the first cell left-aligned, the others right."""
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of an aligned table, each column as wide as its widest cell."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return [aligned(line, widths) for line in [header, *rows]]
