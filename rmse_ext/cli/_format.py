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
import os
import sys
import time
from contextlib import ExitStack
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


# -- the chunk loop of eval and rolling ----------------------------------------------------

class Progress:
    """A tqdm bar on stderr (bytes read, MB/s, elements/s), or nothing."""

    def __init__(self, enabled: bool, total_bytes: int) -> None:
        self.bar = None
        if not enabled:
            return
        try:
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
        except ImportError:  # tqdm is a dependency; without it, no bar
            return
        try:
            size = os.get_terminal_size(sys.stderr.fileno())
        except OSError:
            size = os.terminal_size((0, 0))
        # a terminal that reports no size (some pseudo-terminals) gets 80x24
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1000,
                        desc="reading", file=sys.stderr, ncols=size.columns or 80,
                        nrows=size.lines or 24, mininterval=0.2)
        self.shown = 0

    def update(self, bytes_done: int, elements: int, seconds: float) -> None:
        if self.bar is None:
            return
        self.bar.update(bytes_done - self.shown)
        self.shown = bytes_done
        if seconds > 0:
            rate = self.bar.format_sizeof(elements / seconds)
            self.bar.set_postfix_str(f"{rate} elements/s", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class ChunkLoop:
    """The frame of a subcommand's chunk loop (``rmse-ext eval`` and
    ``rolling``): the input tables -- and ``then``, e.g. the output's close
    -- closed when the loop ends, however it ends; ``show(enabled)`` starts
    the progress bar once the tables are started, ``done(elements)`` moves
    it after each chunk, and it is closed first.

    >>> with ChunkLoop([], then=lambda: print("closed")) as loop:
    ...     loop.show(False)
    ...     loop.done(10)
    closed
    """

    def __init__(self, tables: list[Any], then: Callable[[], Any] | None = None,
                 start: float | None = None) -> None:
        self.tables, self.start = tables, time.perf_counter() if start is None else start
        self.progress: Any = None
        self.stack = ExitStack()
        if then is not None:
            self.stack.callback(then)
        for table in tables:
            self.stack.callback(table.close)

    def __enter__(self) -> "ChunkLoop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stack.close()          # the bar, then the tables, then ``then`` (last in, first out)

    def show(self, enabled: bool) -> None:
        self.progress = Progress(enabled and sys.stderr.isatty(),
                                 sum(t.bytes_total for t in self.tables))
        self.stack.callback(self.progress.close)

    def done(self, elements: int) -> None:
        """After a chunk: ``elements`` elements read so far."""
        if self.progress is not None:
            self.progress.update(sum(t.bytes_done() for t in self.tables), elements,
                                 time.perf_counter() - self.start)


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
