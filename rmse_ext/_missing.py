"""Missing values: the ``nan_policy`` argument (docs/missing-values.md).

- ``'propagate'`` (default): Keras's behaviour, a NaN makes the result NaN.
- ``'omit'``: an element whose y_true, y_pred or weight is NaN contributes
  nothing -- neither its squared error nor its weight nor its count -- and
  is counted as omitted.  Masked elements of NumPy masked arrays, pandas
  ``NA`` and Arrow nulls are read as NaN first.
- ``'raise'``: a NaN raises ValueError naming the argument and the flat
  position of the first NaN, and how to skip missing values; the state is
  unchanged.

This module owns the rules every door applies: ``fold_policy`` (what the
kernel folds under), ``first_missing`` and ``missing_error`` ('raise': a
``MissingValueError``, a ValueError),
``result_of`` (0 or NaN when nothing is counted).

>>> raise_on_nan({"y_true": np.zeros(2), "y_pred": np.array([[1.0, 2.0], [np.nan, 4.0]])})
Traceback (most recent call last):
rmse_ext._missing.MissingValueError: y_pred has a NaN at flat position 2 (nan_policy='raise'); pass nan_policy='omit' to leave such elements out
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, NamedTuple, TypeVar

import numpy as np

from ._backend import Policy
from ._inputs import FLOAT64

POLICIES = ("propagate", "omit", "raise")

T = TypeVar("T")


def check_policy(nan_policy: Any) -> str:
    """``nan_policy`` if it is one of POLICIES, else TypeError/ValueError."""
    if not isinstance(nan_policy, str):
        raise TypeError(f"nan_policy must be a str; got {type(nan_policy).__name__}")
    if nan_policy not in POLICIES:
        raise ValueError(f"nan_policy must be one of {POLICIES}; got {nan_policy!r}")
    return nan_policy


def nulls_for(nan_policy: str) -> str:
    """How Arrow nulls are read under a policy: as NaN under every policy
    (docs/semantics.md 8.2: a null is a missing value exactly like NaN), so
    'propagate' makes the result NaN and 'raise' names its position."""
    return "nan"


def missing_as_nan(x: Any) -> Any:
    """Under 'omit', missing values as NaN: the masked elements of a NumPy
    masked array, ``pd.NA`` of pandas' nullable dtypes.  Anything else is
    returned as it is (Arrow nulls are read by rmse_ext._inputs)."""
    if isinstance(x, np.ma.MaskedArray):
        data, mask = np.ma.getdata(x), np.ma.getmaskarray(x)
        if not mask.any():
            return data
        out = np.array(data, dtype=data.dtype if data.dtype.kind == "f" else FLOAT64)
        out[mask] = np.nan
        return out
    if type(x).__module__.partition(".")[0] == "pandas" and hasattr(x, "to_numpy"):
        dtypes = getattr(x, "dtypes", None)
        dtypes = [getattr(x, "dtype", None)] if dtypes is None or not hasattr(dtypes, "__iter__") \
            else list(dtypes)
        if any(d is not None and not isinstance(d, np.dtype) for d in dtypes):
            return x.to_numpy(dtype=FLOAT64, na_value=np.nan)
    return x


def result_of(acc: Any, dtype: Any = None) -> Any:
    """An accumulator's result (semantics 1 and 4): its value as a NumPy
    scalar of ``dtype`` (None: a Python float); 0 while nothing is counted,
    but NaN when nothing is counted because every element was omitted (0
    would read as a perfect model).  The one place that rule is applied to
    a result; only a zero value reads the counts, so a result costs one
    kernel call.

    >>> from rmse_ext import _backend
    >>> acc = _backend.kernel.Accumulator()
    >>> result_of(acc), acc.set_raw(0.0, 0.0, 0.0, 0.0, 0, 3), result_of(acc)
    (0.0, None, nan)
    """
    value = acc.value() if dtype is None else acc.value_as(dtype)
    if value or acc.count() or not acc.get_raw()[5]:    # nonzero, NaN, or counted
        return value
    return type(value)(math.nan) if dtype is not None else math.nan   # its own dtype on NumPy 1.x too


def nan_if_all_omitted(value: Any, count: Any, omitted: Any) -> Any:
    """``value`` (an array of results, e.g. one per group), NaN where
    nothing is counted because elements were omitted (result_of's rule for
    many accumulators at once)."""
    out = np.where((np.asarray(count) == 0) & (np.asarray(omitted) > 0),
                   np.asarray(value).dtype.type(np.nan), value)
    return out[()] if out.ndim == 0 else out


def read_operands(nan_policy: str, read: Callable[..., T], y_true: Any, y_pred: Any,
                  sample_weight: Any) -> tuple[T, T, T | None]:
    """The three arguments through ``read(x, name, nulls=...)`` under a
    policy: under 'omit' masks, pandas NA and Arrow nulls become NaN first;
    under 'raise' a NaN raises (nothing has been folded yet)."""
    if nan_policy == "omit":
        y_true, y_pred = missing_as_nan(y_true), missing_as_nan(y_pred)
        if sample_weight is not None:
            sample_weight = missing_as_nan(sample_weight)
    nulls = nulls_for(nan_policy)
    t, p = read(y_true, "y_true", nulls=nulls), read(y_pred, "y_pred", nulls=nulls)
    w = None if sample_weight is None else read(sample_weight, "sample_weight", nulls=nulls)
    if nan_policy == "raise":
        raise_on_nan({"y_true": t, "y_pred": p, "sample_weight": w})
    return t, p, w


def first_nan(a: np.ndarray) -> int | None:
    """The flat C-order position of ``a``'s first NaN, or None."""
    if a.dtype.kind != "f" or not a.size:
        return None
    flat = np.isnan(a).reshape(-1)
    return int(np.argmax(flat)) if flat.any() else None


def first_nan_row(a: np.ndarray) -> tuple[int, int, int] | None:
    """``(row, element, per_row)`` of the first NaN of ``a`` read as rows
    along its first axis (``per_row`` elements each), or None."""
    position = first_nan(a)
    if position is None:
        return None
    per_row = max(a.size // max(len(a) if a.ndim else 1, 1), 1)
    row, element = divmod(position, per_row)
    return row, element, per_row


class Missing(NamedTuple):
    """Where the first missing value of an argument or column is."""

    name: Any       # the argument or column (its label)
    flat: int       # flat C-order position in it (an argument in pieces: over all)
    row: int        # its row (first axis), counted from first_missing's row_offset
    element: int    # its position within the row
    per_row: int    # elements per row (ragged rows: that row's)


class Ragged(NamedTuple):
    """Rows of different lengths (an Arrow list column): row ``i`` is
    ``values[offsets[i]:offsets[i + 1]]``, offsets counted from 0."""

    offsets: np.ndarray
    values: np.ndarray


def _first_in(piece: Any) -> tuple[int, int, int, int] | None:
    """``(flat, row, element, per_row)`` of one piece's first NaN, or None."""
    if isinstance(piece, Ragged):
        flat = first_nan(piece.values[:int(piece.offsets[-1])])
        if flat is None:
            return None
        row = int(np.searchsorted(piece.offsets, flat, "right")) - 1
        start = int(piece.offsets[row])
        return flat, row, flat - start, int(piece.offsets[row + 1]) - start
    first = first_nan_row(piece)
    if first is None:
        return None
    row, element, per_row = first
    return row * per_row + element, row, element, per_row


def _extent(piece: Any) -> tuple[int, int]:
    """``(elements, rows)`` of one piece."""
    if isinstance(piece, Ragged):
        return int(piece.offsets[-1]), len(piece.offsets) - 1
    return piece.size, len(piece) if piece.ndim else 1


def first_missing(columns: Mapping[Any, Any], *, row_offset: int = 0,
                  by_row: bool = False) -> Missing | None:
    """The first missing value of ``columns`` (name -> array, ``Ragged``
    rows, or an object with ``pieces``; None entries skipped), nulls already
    read as NaN: the first NaN of the first column, in the order given, that
    has one -- or with ``by_row`` the one in the earliest row of any column
    (a tie: the first column).  Rows count from ``row_offset`` (a reader's
    chunk, a partition's batch).  The one scanner behind every door's
    nan_policy='raise'.

    >>> first_missing({"y_true": np.zeros(3), "y_pred": np.array([[0, 1], [np.nan, 2]])})
    Missing(name='y_pred', flat=2, row=1, element=0, per_row=2)
    >>> first_missing({"t": Ragged(np.array([0, 2, 2, 5]), np.array([0, 1, 2, np.nan, 4]))})
    Missing(name='t', flat=3, row=2, element=1, per_row=3)
    """
    found: list[Missing] = []
    for name, a in columns.items():
        if a is None:
            continue
        pieces = a.pieces if hasattr(a, "pieces") else \
            [a if isinstance(a, Ragged) else np.asarray(a)]
        flat, rows = 0, row_offset
        for piece in pieces:
            first = _first_in(piece)
            if first is not None:
                at, row, element, per_row = first
                found.append(Missing(name, flat + at, rows + row, element, per_row))
                break
            size, length = _extent(piece)
            flat, rows = flat + size, rows + length
        if found and not by_row:
            break
    return min(found, key=lambda m: m.row) if found else None


def missing_message(found: Missing, *, column: bool = False, where: str = "",
                    skip: str = "nan_policy='omit'", element: bool = False,
                    subject: str | None = None) -> str:
    """The nan_policy='raise' message for ``found``: the argument and its flat
    position, or (``column``) the column and its row -- then ``where``
    (partition, file), with ``element`` the element within a row of an
    array column (when its rows hold more than one), and how to skip missing
    values (``skip``: the door's spelling, e.g. ``--nan-policy omit``).
    ``subject``: what has it, instead of the argument or column ("": the
    message starts at "has", after the CLI's file label).

    >>> missing_message(Missing("y", 7, 3, 1, 2), column=True, where=" of partition 0",
    ...                 element=True)  # doctest: +NORMALIZE_WHITESPACE
    "column 'y' has a missing value (null or NaN) at row 3 of partition 0, element 1 of its
    array (nan_policy='raise'); pass nan_policy='omit' to leave such elements out"
    """
    who = subject if subject is not None else f"column {found.name!r}" if column else found.name
    if column:
        at = f"{who} has a missing value (null or NaN) at row {found.row}".lstrip()
    else:
        at = f"{who} has a NaN at flat position {found.flat}".lstrip()
    within = f", element {found.element} of its array" if element and found.per_row > 1 else ""
    return f"{at}{where}{within} (nan_policy='raise'); pass {skip} to leave such elements out"


class MissingValueError(ValueError):
    """nan_policy='raise' refused a missing value (a ValueError, so callers
    catching ValueError see no change): the engines tell it from other bad
    input by its class, never by its words (a partition's refusal is handed
    back to be raised in partition order)."""


def missing_error(found: Missing, **how: Any) -> MissingValueError:
    """MissingValueError(missing_message(found, **how))."""
    return MissingValueError(missing_message(found, **how))


def raise_on_nan(arrays: Mapping[Any, Any], **how: Any) -> None:
    """'raise': ValueError for the first argument holding a NaN (an
    argument in pieces counts positions over all of them); ``how`` as
    ``missing_message`` takes it (``column=True`` for a frame's columns)."""
    found = first_missing(arrays)
    if found is not None:
        raise missing_error(found, **how)


def fold_policy(nan_policy: str) -> str:
    """The policy the kernel folds under: 'omit' stays 'omit'; 'propagate',
    and 'raise' once its scan found nothing, fold as 'propagate'."""
    return "omit" if nan_policy == "omit" else "propagate"


def kernel_policy(nan_policy: str) -> int:
    """fold_policy's kernel Policy (OMIT or PROPAGATE)."""
    policy: int = KERNEL_POLICIES[nan_policy]
    return policy


KERNEL_POLICIES = {"propagate": Policy.PROPAGATE, "omit": Policy.OMIT, "raise": Policy.PROPAGATE}
