"""Slow, obviously-correct references (test oracles and the demo's yardsticks).

``ExactRMSE`` follows the rules of docs/semantics.md
written out plainly with NumPy for the shapes and ``fractions.Fraction`` for
every number, so its result is the exact value rounded once.  It shares no code
with the planner in ``_plan.py``.  ``Float32RMSE`` imitates tf.keras's own
arithmetic: inputs cast to float32, float32 totals.

>>> ref = ExactRMSE()
>>> ref.update_state([2, 4, 6], [1, 3, 2])
>>> ref.result()
2.449489742783178
"""
from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Iterable

import numpy as np

_to_fraction = np.vectorize(Fraction, otypes=[object])
_int_to_fraction = np.vectorize(lambda v: Fraction(int(v)), otypes=[object])


def exact_array(x: Any) -> Any:
    """Finite real numbers as an object array of Fractions (exact; integers
    of any width exactly, not through float64)."""
    a = np.asarray(x)
    if a.dtype.kind in "biu":
        return _int_to_fraction(a) if a.size else np.empty(a.shape, dtype=object)
    a = a.astype(np.float64) if a.dtype.itemsize < 8 else a
    if not np.all(np.isfinite(a)):
        raise ValueError("the exact reference takes finite numbers only")
    return _to_fraction(a) if a.size else np.empty(a.shape, dtype=object)


def sqrt_fraction(q: Fraction) -> float:
    """sqrt of a non-negative Fraction, correctly rounded to float64 up to
    a relative 1e-60."""
    if q <= 0:
        return 0.0 if q == 0 else float("nan")
    with localcontext() as ctx:
        ctx.prec = 80
        return float((Decimal(q.numerator) / Decimal(q.denominator)).sqrt())


def exact_sum(x: Any) -> Fraction:
    """Sum of an object array (or a lone Fraction) of Fractions."""
    return sum(np.asarray(x, dtype=object).ravel(), Fraction(0))


def exact_squared_errors(y_true: Any, y_pred: Any) -> Any:
    t, p = exact_array(y_true), exact_array(y_pred)
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:       # semantics 2.2
        p = p[..., 0]
    elif t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    d = p - t                                            # semantics 2.3
    return np.asarray(d * d, dtype=object)


def exact_update(y_true: Any, y_pred: Any, sample_weight: Any = None
                 ) -> tuple[Fraction, Fraction]:
    """(total, count) that one update adds, as Fractions."""
    values = exact_squared_errors(y_true, y_pred)
    if sample_weight is None:
        return exact_sum(values), Fraction(values.size)
    w = exact_array(sample_weight)
    if w.ndim == values.ndim + 1 and w.ndim > 0:         # semantics 3.1
        if w.shape[-1] != 1:
            raise ValueError("weights rank")
        w = w[..., 0]
    elif values.ndim == w.ndim + 1 and w.ndim > 0:
        w = w[..., np.newaxis]
    strict = w.ndim == 0 or (
        w.ndim == values.ndim
        and all(a in (1, b) for a, b in zip(w.shape, values.shape))
    )
    if strict:                                           # semantics 3.2
        wb = np.broadcast_to(w, values.shape)
        return exact_sum(values * wb), exact_sum(wb)
    k = w.ndim                                           # semantics 3.3
    if values.size == 0:
        np.broadcast_shapes(values.shape[:k], w.shape)
        return Fraction(0), Fraction(0)
    axes = tuple(range(k, values.ndim))
    if axes:
        width = int(np.prod([values.shape[a] for a in axes]))
        values = values.sum(axis=axes) / width
    return exact_sum(values * w), exact_sum(w)


def exact_update_omitting(y_true: Any, y_pred: Any, sample_weight: Any = None
                          ) -> tuple[Fraction, Fraction, int]:
    """(total, count, omitted) that one update adds under nan_policy='omit'
    (docs/missing-values.md), element by element: an element whose y_true,
    y_pred or weight is NaN adds nothing and is counted as omitted.  Under
    semantics 3.3 each averaged row is the mean of its kept elements (one
    omitted element per element of each row read, all of a row whose weight
    is NaN), and a given weight counts when it is not NaN and weighs a row
    with a kept element.  Finite numbers otherwise."""
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:       # semantics 2.2
        p = p[..., 0]
    elif t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    t, p = np.broadcast_arrays(t, p)                    # semantics 2.3
    missing = np.isnan(t) | np.isnan(p)
    sq = exact_squared_errors(np.where(missing, 0.0, t), np.where(missing, 0.0, p))
    if sample_weight is None:
        return exact_sum(sq[~missing]), Fraction(int((~missing).sum())), int(missing.sum())
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim == sq.ndim + 1 and w.ndim > 0:            # semantics 3.1
        w = w[..., 0]
    elif sq.ndim == w.ndim + 1 and w.ndim > 0:
        w = w[..., np.newaxis]
    if w.ndim == 0 or (w.ndim == sq.ndim and all(a in (1, b) for a, b in zip(w.shape, sq.shape))):
        wb = np.broadcast_to(w, sq.shape)               # semantics 3.2
        gone = missing | np.isnan(wb)
        we = exact_array(np.where(gone, 0.0, wb))
        return exact_sum((we * sq)[~gone]), exact_sum(we[~gone]), int(gone.sum())
    k = w.ndim                                          # semantics 3.3
    out = np.broadcast_shapes(sq.shape[:k], w.shape)
    total, omitted = Fraction(0), 0
    counted = np.zeros(w.shape, dtype=bool)
    for index in np.ndindex(*out):
        row_index = tuple(i if n > 1 else 0 for i, n in zip(index, sq.shape[:k]))
        w_index = tuple(i if n > 1 else 0 for i, n in zip(index, w.shape))
        weight = float(w[w_index])
        kept = ~missing[row_index] if not math.isnan(weight) else np.zeros_like(missing[row_index])
        omitted += int((~kept).sum())
        if kept.any():
            counted[w_index] = True
            total += Fraction(weight) * exact_sum(sq[row_index][kept]) / int(kept.sum())
    count = exact_sum(exact_array(np.where(counted, w, 0.0)))
    return total, count, omitted


class ExactRMSE:
    """The metric in exact rational arithmetic (finite inputs only)."""

    def __init__(self) -> None:
        self.total = Fraction(0)
        self.count = Fraction(0)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        total, count = exact_update(y_true, y_pred, sample_weight)
        self.total += total
        self.count += count

    def result(self) -> float:
        if self.count == 0:                              # semantics 1: divide_no_nan
            return 0.0
        return sqrt_fraction(self.total / self.count)


class Float32RMSE:
    """tf.keras's arithmetic for unweighted updates: float32 inputs,
    float32 batch sums, float32 running total and count."""

    def __init__(self) -> None:
        self.total = np.float32(0)
        self.count = np.float32(0)

    def update_state(self, y_true: Any, y_pred: Any) -> None:
        t = np.asarray(y_true, dtype=np.float32)
        p = np.asarray(y_pred, dtype=np.float32)
        sq = np.square(p - t, dtype=np.float32)
        self.total = np.float32(self.total + np.sum(sq, dtype=np.float32))
        self.count = np.float32(self.count + np.float32(sq.size))

    def result(self) -> np.float32:
        if self.count == 0:
            return np.float32(0)
        return np.float32(np.sqrt(np.float32(self.total / self.count)))


# -- error-free transformations in plain NumPy (for big arrays) ---------------

def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """s, e with s + e == a + b exactly (Knuth)."""
    s = a + b
    z = s - a
    return s, (a - (s - z)) + (b - z)


def split(a: Any) -> tuple[Any, Any]:
    """Veltkamp split: hi + lo == a, each with at most 26 significant bits."""
    c = 134217729.0 * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a: Any, b: Any) -> tuple[Any, Any]:
    """p, e with p + e == a * b exactly (Dekker; |a|, |b| well inside range)."""
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def exact_parts(y_true: Any, y_pred: Any, sample_weight: Any = None
                ) -> tuple[list[Any], list[Any]]:
    """Arrays whose element-wise sum over all of them is exactly
    sum(w * (p - t)**2), and likewise for sum(w): for math.fsum.  Equal
    shapes only; finite values whose squares stay normal numbers."""
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    d_hi, d_lo = two_sum(p, -t)
    parts = [*two_prod(d_hi, d_hi), *two_prod(2.0 * d_hi, d_lo), *two_prod(d_lo, d_lo)]
    if sample_weight is None:
        return parts, [np.array([float(t.size)])]
    w = np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), t.shape)
    return [q for part in parts for q in two_prod(w, part)], [w]


def fsum_rmse(batches: Iterable[tuple[Any, ...]]) -> float:
    """RMSE of a stream of (y_true, y_pred[, sample_weight]) equal-shape
    batches: error-free parts summed with math.fsum (each sum correctly
    rounded), so within one ulp of exact."""
    totals, counts = [], []
    for batch in batches:
        parts, weights = exact_parts(*batch)
        totals.extend(parts)
        counts.extend(weights)
    total = math.fsum(x for part in totals for x in part.tolist())
    count = math.fsum(x for w in counts for x in w.tolist())
    return 0.0 if count == 0 else sqrt_fraction(Fraction(total) / Fraction(count))


def numpy_rmse(y_true: Any, y_pred: Any) -> Any:
    """The usual one-liner, for timing comparisons."""
    return np.sqrt(np.mean((np.asarray(y_pred) - np.asarray(y_true)) ** 2))
