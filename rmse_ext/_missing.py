"""Missing values: the ``nan_policy`` argument (docs/missing-values.md).

- ``'propagate'`` (default): Keras's behaviour, a NaN makes the result NaN.
- ``'omit'``: an element whose y_true, y_pred or weight is NaN contributes
  nothing -- neither its squared error nor its weight nor its count -- and
  is counted as omitted.  Masked elements of NumPy masked arrays, pandas
  ``NA`` and Arrow nulls are read as NaN first.
- ``'raise'``: a NaN raises ValueError naming the argument and the flat
  position of the first NaN; the state is unchanged.

>>> first_nan_error(np.array([[1.0, 2.0], [np.nan, 4.0]]), "y_pred")
ValueError("y_pred has a NaN at flat position 2 (nan_policy='raise')")
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

import numpy as np

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


def nan_if_all_omitted(value: Any, count: Any, omitted: Any) -> Any:
    """``value`` (a result, or an array of them), NaN where nothing is
    counted because elements were omitted: under 'omit' an all-missing
    stream reads NaN, not 0 (0 would read as a perfect model)."""
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
    per_row = max(a.size // max(len(a), 1), 1)
    row, element = divmod(position, per_row)
    return row, element, per_row


def nan_error(name: str, position: int) -> ValueError:
    """The 'raise' error for a NaN of ``name`` at a flat position."""
    return ValueError(f"{name} has a NaN at flat position {position} (nan_policy='raise')")


def first_nan_error(a: np.ndarray, name: str) -> ValueError | None:
    """The 'raise' error for the first NaN of ``a`` (flat C-order position),
    or None when it has none."""
    position = first_nan(a)
    return None if position is None else nan_error(name, position)


def raise_on_nan(arrays: dict[str, Any]) -> None:
    """'raise': ValueError for the first argument holding a NaN (an
    argument in pieces counts positions over all of them)."""
    for name, a in arrays.items():
        if a is None:
            continue
        pieces = a.pieces if hasattr(a, "pieces") else [np.asarray(a)]
        offset = 0
        for piece in pieces:
            position = first_nan(piece)
            if position is not None:
                raise nan_error(name, offset + position)
            offset += piece.size
