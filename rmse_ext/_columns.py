"""THE column reader of every frame door (docs/semantics.md, "One contract").

``rmse_ext.evaluate`` on a pandas, polars (eager or lazy) or pyarrow frame
or a dict of arrays, the dask partitions and the Spark partitions all find
and read their value columns here, so that one column gives one array
whichever library holds it:

- *names*: a column is found by its label as the frame spells it (an
  integer label of a pandas frame included); a str that is not a label
  matches the one column whose ``str(label)`` it is.  A name no column has
  is a ValueError listing the columns, a name two columns have (pandas and
  pyarrow allow it) a ValueError naming it;
- *numbers*: bool, int, float and decimal columns, pandas' nullable and
  Arrow-backed dtypes, Categoricals and Arrow dictionaries of numbers (their
  values, never their codes), object columns of Python numbers.  Anything
  else -- datetimes, timedeltas, strings (numeric-looking ones too),
  Periods -- is a TypeError naming the column;
- *nulls*: pandas NA, NaT-free None in object columns, Arrow and polars
  nulls are missing values read as NaN, exactly like NaN (the policy
  decides afterwards: ``raise_on_missing`` for 'raise').

Values come out as NumPy arrays (integers stay integers when the column has
no nulls, so integers past 2**53 keep every bit); decimals are the nearest
float64, as in ``rmse_ext._inputs``.

>>> import pandas as pd
>>> frame = pd.DataFrame({"y": pd.array([1, None, 3], dtype="Int64"), 0: [0.5, 1.0, 2.0]})
>>> read_values(frame, "y").tolist(), read_values(frame, 0).tolist()
([1.0, nan, 3.0], [0.5, 1.0, 2.0])
>>> read_values(pd.DataFrame({"d": pd.to_datetime(["2026-01-01"])}), "d")
Traceback (most recent call last):
...
TypeError: column 'd' must hold real numbers (bool, int, float or decimal); got datetimes (dtype datetime64[...])
"""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Hashable, Iterable, Optional

import numpy as np

from ._arrow import is_arrow, not_numbers, read_column
from ._inputs import FLOAT64, arrow_values, kernel_dtype
from ._missing import raise_on_nan

__all__ = ["library", "column_names", "find_column", "column", "read_values",
           "read_columns", "resolved", "narrowed", "raise_on_missing"]

NUMBER_TYPES = (bool, int, float, np.bool_, np.integer, np.floating, Decimal, Fraction)


def library(frame: Any) -> str:
    """The top-level module of ``frame``'s type ('pandas', 'polars', ...)."""
    return type(frame).__module__.split(".", 1)[0]


def column_names(frame: Any) -> list[Any]:
    """The frame's column labels, in order, as the frame spells them."""
    if isinstance(frame, dict):
        return list(frame)
    kind = library(frame)
    if kind == "pyarrow":
        return list(frame.schema.names)
    if kind == "polars" and hasattr(frame, "collect_schema"):
        return list(frame.collect_schema().names())
    return list(frame.columns)


def label_text(label: Any) -> str:
    """A label as the message quotes it."""
    return repr(label)


def find_column(frame: Any, label: Any, role: str = "", names: Optional[list[Any]] = None
                ) -> int:
    """The position of column ``label`` in ``frame`` (see the module
    docstring for how a label matches); ValueError naming ``role`` (e.g.
    'y_true') when no column or two columns match."""
    names = column_names(frame) if names is None else names
    if isinstance(label, (list, tuple, dict, set)) or label is None:
        raise TypeError(f"{role or 'a column'} must be a column label (str or int); "
                        f"got {type(label).__name__}")
    hits = [i for i, name in enumerate(names) if _same_label(name, label)]
    if not hits and isinstance(label, str):
        hits = [i for i, name in enumerate(names) if str(name) == label]
    where = f"{role}: " if role else ""
    if not hits:
        raise ValueError(f"{where}the frame has no column {label_text(label)}; "
                         f"its columns are {names}")
    if len(hits) > 1:
        raise ValueError(f"{where}the frame has {len(hits)} columns named "
                         f"{label_text(label)}: column names must be unique (rename them)")
    return hits[0]


def _same_label(name: Any, label: Any) -> bool:
    if isinstance(name, str) != isinstance(label, str) or \
            isinstance(name, bool) != isinstance(label, bool):
        return False
    try:
        return bool(name == label)
    except (TypeError, ValueError):
        return False


def column(frame: Any, position: int) -> Any:
    """The column at ``position``, in the frame's own library (a pandas or
    polars Series, a pyarrow ChunkedArray, or what the dict holds)."""
    if isinstance(frame, dict):
        return list(frame.values())[position]
    kind = library(frame)
    if kind == "pyarrow":
        return frame.column(position)
    if kind == "polars":
        return frame.to_series(position)
    return frame.iloc[:, position]


def narrowed(frame: Any, labels: Iterable[Hashable]) -> Any:
    """A polars LazyFrame collected with only ``labels`` (each checked
    first); any other frame as it is."""
    if library(frame) == "polars" and hasattr(frame, "collect") and \
            not hasattr(frame, "to_series"):
        names = column_names(frame)
        wanted = list(dict.fromkeys(names[find_column(frame, label, names=names)]
                                    for label in labels))
        return frame.select(wanted).collect()
    return frame


# -- one column -> numbers ----------------------------------------------------------

def resolved(frame: Any, labels: Iterable[Any], role: str = "") -> list[Any]:
    """``labels`` as the frame spells them (e.g. "0" -> 0), each checked."""
    names = column_names(frame)
    return [names[find_column(frame, label, role, names)] for label in labels]


def read_values(frame: Any, label: Any, role: str = "") -> np.ndarray:
    """Column ``label`` of ``frame`` as a NumPy array of numbers, nulls read
    as NaN; TypeError naming the column when it does not hold numbers."""
    position = find_column(frame, label, role)
    return values_of(column(frame, position), f"column {label_text(label)}")


def read_columns(frame: Any, labels: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{role: array}`` for ``{role: label}`` (roles such as 'y_true'), every
    array of one length (ValueError naming the columns otherwise)."""
    out = {role: read_values(frame, label, role) for role, label in labels.items()}
    lengths = {role: len(a) if a.ndim else 1 for role, a in out.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{label_text(labels[r])}: {n}" for r, n in lengths.items())
        raise ValueError(f"the columns have different lengths ({described})")
    return out


def values_of(col: Any, name: str) -> np.ndarray:
    """One column object (pandas/polars Series, Arrow array or chunked
    array, NumPy array, list) as numbers, nulls as NaN."""
    kind = library(col)
    if kind == "pandas":
        out = _pandas(col, name)
    elif is_arrow(col):
        out = _arrow(col, name)
    else:
        try:
            out = np.asarray(col)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} could not be read as an array: {exc}") from None
        if out.dtype.kind == "O":
            out = _objects(out, name)
    kernel_dtype(out.dtype, name)
    return out


def _arrow(col: Any, name: str) -> np.ndarray:
    """An Arrow column (pyarrow, polars, anything with the C interface):
    numbers, dictionaries and decimals by rmse_ext._arrow, nulls as NaN."""
    pieces = [arrow_values(chunk, name, "nan") for chunk in read_column(col, name).chunks]
    pieces = [p for p in pieces if len(p)] or pieces[:1]
    if not pieces:
        return np.zeros(0)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _pandas(col: Any, name: str) -> np.ndarray:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    dtype = col.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "O":
            return _objects(col.to_numpy(), name)
        return np.asarray(col.to_numpy())
    if isinstance(dtype, pd.CategoricalDtype):
        categories = col.array.categories
        if not isinstance(categories.dtype, np.dtype) or categories.dtype.kind not in "biuf":
            raise not_numbers(name, f"categories of {categories.dtype}")
        codes = np.asarray(col.array.codes)
        out: np.ndarray = np.asarray(categories.to_numpy(dtype=FLOAT64))[np.maximum(codes, 0)]
        out[codes < 0] = np.nan
        return out
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow(col.array.__arrow_array__(), name)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is not None and numpy_dtype.kind in "iu" and not col.hasnans:
            return np.asarray(col.to_numpy(dtype=numpy_dtype))
        return np.asarray(col.to_numpy(dtype=FLOAT64, na_value=np.nan))
    raise not_numbers(name, f"{dtype} values")


def _objects(a: np.ndarray, name: str) -> np.ndarray:
    """An object array of Python numbers (None and pandas NA: missing) as
    float64; anything else -- strings included -- a TypeError."""
    out = np.empty(a.shape, FLOAT64)
    flat = out.reshape(-1)
    for i, value in enumerate(a.reshape(-1).tolist()):
        if value is None or type(value).__name__ == "NAType":
            flat[i] = math.nan
        elif isinstance(value, NUMBER_TYPES):
            flat[i] = float(value)
        else:
            raise not_numbers(name, f"{type(value).__name__} values ({value!r} at row {i})")
    return out


# -- nan_policy='raise' on columns ----------------------------------------------------

def raise_on_missing(columns: dict[Any, np.ndarray], where: str = "") -> None:
    """nan_policy='raise' on a frame's columns (rmse_ext._missing's rule and
    message): ValueError naming the first column (in the order given) that
    holds a null or NaN, its first 0-based row, ``where`` (e.g. which
    partition) and how to skip missing values."""
    raise_on_nan(columns, column=True, where=where)
