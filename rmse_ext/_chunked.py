"""Folding operands held in pieces (Arrow chunked columns) without
concatenating them.

The kernel sums a batch in fixed chunks of ``CHUNK_SIZE`` elements and folds
the chunk sums in chunk order (``chunk_partials`` / ``fold_partials``, the
same pair the threads use).  Here the operands are cut into windows whose
sizes are multiples of ``CHUNK_SIZE``, each window's chunk sums are written
into one small table (a row of ``Batch.row_width`` words per chunk), and the
table is folded once: bitwise the state of one call on the concatenated
operands.  A window inside one piece of each operand is a view; one that
straddles a piece boundary (of y_true, y_pred or the weights: they need not
align) is gathered into a window-sized buffer.
"""
from __future__ import annotations

from math import gcd, prod
from typing import Any, Iterator, Optional, Union

import numpy as np

from . import _backend
from ._inputs import Chunks, kernel_dtype
from ._plan import plan_update
from ._rules import resolve

Operand = Union[np.ndarray, Chunks]
Window = tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]

WINDOW_ELEMENTS = 1 << 20    # about this many elements per window


def is_chunked(*operands: Any) -> bool:
    return any(isinstance(x, Chunks) for x in operands)


def _pieces(x: Operand) -> list[np.ndarray]:
    return x.pieces if isinstance(x, Chunks) else [x]


def _rows(x: Operand, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``x``: a view when one piece holds them."""
    parts, at = [], 0
    for piece in _pieces(x):
        lo, hi = max(start - at, 0), min(stop - at, len(piece))
        if lo < hi:
            parts.append(piece[lo:hi])
        at += len(piece)
        if at >= stop:
            break
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def windowable(t: Operand, p: Operand, w: Any) -> bool:
    """Whether the operands can be folded window by window along their first
    axis: y_true and y_pred of one shape with at least one axis, weights that
    broadcast strictly (rmse_ext._rules: no averaging, semantics 3.3), and no
    broadcast (zero-stride) views, which the planner would compress.  (The
    resolver's errors are left to the planner, which raises them.)"""
    if t.shape != p.shape or len(t.shape) == 0:
        return False
    if any(0 in piece.strides for x in (t, p, w) if x is not None for piece in _pieces(x)):
        return False
    try:
        return resolve(t.shape, p.shape, None if w is None else w.shape).keep is None
    except ValueError:
        return False


def fold_chunked(acc: Any, t: Operand, p: Operand, w: Any) -> None:
    """Fold windowable operands into the accumulator ``acc`` window by
    window, bitwise as one call on the concatenated operands: each window's
    batch writes its rows of one chunk-sum table, folded once."""
    chunk = _backend.module_of(acc).CHUNK_SIZE
    size = prod(t.shape)
    parts: Optional[np.ndarray] = None
    done, batch = 0, None
    for window in windows(t, p, w, chunk):
        batch = plan_update(*window).batch_for(acc)
        if parts is None:       # a row is the kernel's chunk_row: row_width words
            parts = np.empty((-(-size // chunk), batch.row_width))
        batch.chunk_partials(0, batch.chunks, parts[done:done + batch.chunks])
        done += batch.chunks
    if batch is not None:
        acc.fold_partials(batch, parts, size)


def windows(t: Operand, p: Operand, w: Any, chunk: int) -> Iterator[Window]:
    """Consecutive row windows of the (windowable) operands, each a multiple
    of the kernel's chunk in elements.  Every piece's dtype is checked before
    the first window is made, so folding them cannot fail halfway."""
    for x, name in ((t, "y_true"), (p, "y_pred"), (w, "sample_weight")):
        if x is not None:
            for piece in _pieces(x):
                kernel_dtype(piece.dtype, name)
    n, row = t.shape[0], prod(t.shape[1:])
    if n * row == 0:                                              # semantics 4
        return
    step = chunk // gcd(row, chunk)     # rows in a multiple of the kernel's chunk
    rows = max(step, WINDOW_ELEMENTS // max(row, 1) // step * step)
    per_row_w = w is not None and w.shape[:1] == (n,) and prod(w.shape) != 1
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        yield (_rows(t, start, stop), _rows(p, start, stop),
               _rows(w, start, stop) if per_row_w else w)
