"""THE key codec (issue 18): every door's grouping keys -> one canonical form.

Every door -- ``GroupedRootMeanSquaredError.update_state``, ``merge_state``,
``merge_raw``, ``set_state`` and pickle, ``rmse_ext.dask``, Spark's ``by=``,
``evaluate`` and the CLI's key chunks -- reads keys here and nowhere else.

``read_keys(groups, samples)`` turns the ``groups`` argument of the grouped
metric into a ``KeyBatch``: its *kind* and either

* ``ints`` -- the keys themselves as a C-contiguous int32/int64 array the
  kernel indexes with directly (integers, bools, datetimes; no hashing), or
* ``codes`` -- int64 codes, one per sample, into ``uniques`` (the distinct
  keys, as canonical Python values): strings, bytes, categoricals,
  dictionary arrays, and integers whose values do not fit int64.

The canonical value of a key (what the group table stores and compares) is
a Python ``int`` for integers (any size), bools (0/1) and datetimes (ticks
of the kind's unit), a ``str`` or ``bytes`` otherwise -- the same value
whichever library or width the key came in, so a key's representation may
*widen* from batch to batch (int8 -> int64 -> uint64 past 2**63 -> Python
ints beyond both; NumPy -> pandas nullable -> Categorical -> Arrow
dictionary; fixed-width strings -> object strings) without losing a group.

Kinds: ``'int'`` (every NumPy integer width, signed or not, Python ints of
any size; pandas, pyarrow and polars integer columns), ``'bool'``,
``'str'`` (NumPy ``U``, ``StringDType``, object arrays of str,
pandas/pyarrow/polars strings and categoricals of strings), ``'bytes'`` and
``'datetime64[<unit>]'`` / ``'timedelta64[<unit>]'``.  One metric takes one
kind (``check_kind``): strings after integers, or bools after integers, is
a TypeError, because no widening of one into the other is lossless.

Missing keys (None, NaN, NaT, pandas/pyarrow/polars nulls) are an error:
rmse_ext has no "missing" group, because a silent one would pool samples
that have nothing in common.  Fill them in (or drop those samples) first.

On the way out (``key_array``) keys become the NumPy array the read-outs
return: int64, else uint64, else an object array of Python ints; ``U`` / ``S``
strings unless a key ends in a NUL character, which fixed-width NumPy
strings cannot hold (then an object array, so "a" and "a\\x00" stay two
keys).  ``keys_to_json`` / ``keys_from_json`` carry them through a state dict.

Each library is imported only when the caller passes its objects.

>>> kb = read_keys(["b", "a", "b"], 3)
>>> kb.kind, kb.codes.tolist(), kb.uniques
('str', [0, 1, 0], ['b', 'a'])
>>> kb = read_keys(np.array([7, 5, 7], dtype=np.uint8), 3)
>>> kb.kind, kb.ints.dtype.name
('int', 'int32')
>>> key_array("int", [-1, 2**64 - 1]).tolist(), key_array("str", ["a", "a\\x00"]).dtype
([-1, 18446744073709551615], dtype('O'))
"""
from __future__ import annotations

import datetime
import math
from typing import Any, NamedTuple, Optional

import numpy as np

from . import _backend

INT64_MAX = 2**63 - 1


class KeyBatch(NamedTuple):
    """One batch's keys, read and checked (see the module docstring)."""
    kind: str
    ints: Optional[np.ndarray] = None
    codes: Optional[np.ndarray] = None
    uniques: Optional[list[Any]] = None


class AtKey(Exception):
    """A codec error at one key, its position structured: ``name`` (the
    argument or column), ``position`` (0-based, among the keys the codec was
    given) and the message around them.  ``str()`` is the Python doors'
    message ("... at position 3 ..."); ``said(at, name)`` says the position
    (and the name) another door's way -- the CLI's 1-based data row and line
    (docs/semantics.md 8.5) -- without parsing the message.

    >>> exc = missing_error("groups", 3)
    >>> exc.position, exc.said("row 4 (line 5)", "k.csv")[:42]
    (3, 'k.csv has a missing key (None, NaN, NaT or')
    """

    def __init__(self, name: str, position: int, middle: str, tail: str) -> None:
        self.name, self.position, self.middle, self.tail = name, position, middle, tail
        super().__init__(self.said(f"position {position}"))

    def said(self, at: str, name: Optional[str] = None) -> str:
        return f"{self.name if name is None else name}{self.middle}{at}{self.tail}"

    def at(self, position: int) -> "AtKey":
        """The same error at another position (e.g. a sample's, not a category's)."""
        return type(self)(self.name, position, self.middle, self.tail)

    def within(self, where: str) -> "AtKey":
        """The same error with ``where`` after its position (" of partition 2")."""
        return type(self)(self.name, self.position, self.middle, where + self.tail)

    def __reduce__(self) -> Any:             # pickles (dask and Spark workers send it back)
        return type(self), (self.name, self.position, self.middle, self.tail)


class KeyValueError(AtKey, ValueError):
    """A missing key, or one its kind cannot hold (ValueError), at a position."""


class KeyTypeError(AtKey, TypeError):
    """A key of the wrong type (TypeError) at a position."""


def missing_error(name: str, position: int) -> KeyValueError:
    return KeyValueError(
        name, position, " has a missing key (None, NaN, NaT or null) at ",
        "; rmse_ext has no missing group: fill the key in or drop the sample")


def _library(x: Any) -> str:
    return type(x).__module__.split(".", 1)[0]


def read_keys(groups: Any, samples: int, name: str = "groups") -> KeyBatch:
    """``groups`` (one key per sample) as a KeyBatch; TypeError/ValueError
    name ``name`` and the lengths."""
    library = _library(groups)
    if isinstance(groups, KeyBatch):          # read already (a frame's key column)
        batch = groups
        read = groups.ints if groups.ints is not None else groups.codes
        assert read is not None
        length = len(read)
    elif library == "pandas":
        batch, length = _from_pandas(groups, name)
    elif library == "pyarrow":
        batch, length = _from_arrow(groups, name)
    elif library == "polars":
        batch, length = _from_polars(groups, name)
    else:
        a = _as_key_array(groups, name, samples)
        batch, length = _from_numpy(a, name), a.shape[0]
    if length != samples:
        raise ValueError(
            f"{name} has {length} key(s) but the squared errors have {samples} "
            f"sample(s) (their first axis): one key per sample"
        )
    return batch


def _as_key_array(groups: Any, name: str, samples: int) -> np.ndarray:
    if isinstance(groups, (str, bytes)) or np.isscalar(groups):
        groups = [groups]                  # one key for a 0-d batch
    try:
        # Python sequences go through object arrays, so that ["a", 1] is an
        # error and not NumPy's silent ["a", "1"]
        a = np.asarray(groups, dtype=object if isinstance(groups, (list, tuple)) else None)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name} could not be read as an array of keys: {exc}") from None
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one key per sample); got shape {a.shape}"
        )
    return a


def _from_numpy(a: np.ndarray, name: str) -> KeyBatch:
    kind = a.dtype.kind
    if a.size == 0:                 # no keys: no kind either
        return KeyBatch("", ints=np.zeros(0, np.int64))
    if kind == "b":
        return KeyBatch("bool", ints=a.astype(np.int32))
    if kind in "iu":
        return _integers(a)
    if kind in "Mm":
        nat = np.isnat(a)
        if nat.any():
            raise missing_error(name, int(np.argmax(nat)))
        unit = np.datetime_data(a.dtype)[0]
        label = ("datetime64" if kind == "M" else "timedelta64") + f"[{unit}]"
        return KeyBatch(label, ints=np.ascontiguousarray(a.view(np.int64)).astype(
            np.int64, copy=False))
    if kind in "US":
        records = np.ascontiguousarray(a)
        if not records.dtype.isnative:
            records = records.astype(records.dtype.newbyteorder("="))
        codes, first = _backend.kernel.factorize_records(records)
        uniques = records[first].tolist()
        return KeyBatch("str" if kind == "U" else "bytes", codes=codes, uniques=uniques)
    if kind == "T":                       # NumPy 2 StringDType
        return _objects(a.astype(object), name)
    if kind == "O":
        return _objects(a, name)
    if kind == "f":
        nan = np.isnan(a)
        if nan.any():
            raise missing_error(name, int(np.argmax(nan)))
    raise _not_keys(name, a.dtype)


def _integers(a: np.ndarray) -> KeyBatch:
    """Integer keys: int32/int64 for the kernel, converted only when needed;
    uint64 values past int64 are factorised."""
    if a.dtype.itemsize <= 2 or (a.dtype.kind == "i" and a.dtype.itemsize == 4):
        return KeyBatch("int", ints=np.ascontiguousarray(a, dtype=np.int32))
    if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and int(a.max()) > INT64_MAX:
        records = np.ascontiguousarray(a, dtype=np.uint64)
        codes, first = _backend.kernel.factorize_records(records)
        return KeyBatch("int", codes=codes, uniques=records[first].tolist())
    return KeyBatch("int", ints=np.ascontiguousarray(a, dtype=np.int64))


def _objects(a: np.ndarray, name: str) -> KeyBatch:
    """An object array of str (or of bytes), factorised with a dict."""
    a = np.ascontiguousarray(a, dtype=object).reshape(-1)
    if not a.flags.writeable:       # pandas 3's copy-on-write views: the kernel takes
        try:                        # object[:] (writable) but only reads it
            a = a.view()
            a.flags.writeable = True
        except ValueError:          # a base that is read-only itself
            a = a.copy()
    if a.size == 0:
        return KeyBatch("str", codes=np.zeros(0, np.int64), uniques=[])
    first = a[0]
    if isinstance(first, (str, bytes)):
        kind = str if isinstance(first, str) else bytes
        codes, uniques, bad = _backend.kernel.factorize_objects(a, kind)
        if bad < 0:
            return KeyBatch(kind.__name__, codes=codes, uniques=uniques)
        _raise_bad_object(a[bad], bad, name, kind.__name__)
    keys = a.tolist()
    for i, key in enumerate(keys):
        if _is_missing(key):
            raise missing_error(name, i)
    families = [_family(key) for key in keys]
    if any(f != families[0] for f in families):       # NumPy would cast them to one
        bad = next(i for i, f in enumerate(families) if f != families[0])
        _raise_bad_object(keys[bad], bad, name, families[0])
    if families[0] == "int":
        return _python_ints(keys)
    dates = _dates(keys, name)
    if dates is not None:
        return _from_numpy(dates, name)
    try:
        converted = np.array(a.tolist())
    except (ValueError, TypeError):
        converted = a
    if converted.dtype.kind in "biufUSMm":
        return _from_numpy(converted, name)
    kinds = sorted({type(key).__name__ for key in a.tolist()})
    raise TypeError(
        f"{name} must hold keys of one kind (integer, bool, str, bytes or "
        f"datetime); got Python objects of type(s) {', '.join(kinds)}"
    )


def _family(key: Any) -> str:
    """The kind a Python key object is of (its type's name when none)."""
    if isinstance(key, (bool, np.bool_)):
        return "bool"
    if isinstance(key, (datetime.timedelta, np.timedelta64)):   # before int: NumPy's
        return "timedelta"                                      # timedelta64 is an integer
    if isinstance(key, (int, np.integer)):
        return "int"
    if isinstance(key, (datetime.date, np.datetime64)):
        return "datetime"
    return type(key).__name__


def int_dtype_of(keys: list[Any]) -> Any:
    """int64 when every Python int fits it, else uint64 when every one fits
    that, else None.  Bounds are checked here, not by NumPy: NumPy 1.x
    wraps -1 to 2**64 - 1 where NumPy 2 raises OverflowError.

    >>> int_dtype_of([-1, 2**63]), int_dtype_of([1, 2**63]), int_dtype_of([])
    (None, <class 'numpy.uint64'>, <class 'numpy.int64'>)
    """
    lo, hi = (min(keys), max(keys)) if keys else (0, 0)
    if -2**63 <= lo and hi < 2**63:
        return np.int64
    if 0 <= lo and hi < 2**64:
        return np.uint64
    return None


def _python_ints(keys: list[Any]) -> KeyBatch:
    """Integer objects of any size: as int64 or uint64 when they all fit
    one, else factorised by value (Python ints beyond both, e.g. -1 beside
    2**64 - 1: NumPy alone would read them as floats)."""
    dtype = int_dtype_of(keys)
    if dtype is not None:
        return _integers(np.array(keys, dtype=dtype))
    index: dict[int, int] = {}
    codes = np.array([index.setdefault(int(key), len(index)) for key in keys], np.int64)
    return KeyBatch("int", codes=codes, uniques=list(index))


def _dates(keys: list[Any], name: str = "groups") -> Optional[np.ndarray]:
    """``datetime.date`` objects as datetime64[D] (naive ``datetime.datetime``
    ones as datetime64[us]), as NumPy, pandas and Arrow date columns are
    read; None for anything else.  A pandas Timestamp with nanoseconds is
    refused (KeyValueError): datetime64[us] would pool it with the
    microsecond before it."""
    if not all(isinstance(key, datetime.date) for key in keys):
        return None
    if not any(isinstance(key, datetime.datetime) for key in keys):
        return np.array(keys, dtype="datetime64[D]")
    if all(isinstance(key, datetime.datetime) and key.tzinfo is None for key in keys):
        fine = next((i for i, key in enumerate(keys) if getattr(key, "nanosecond", 0)), None)
        if fine is not None:
            raise KeyValueError(name, fine, f" holds a Timestamp with nanoseconds "
                                f"({keys[fine]!r}) at ", "; datetime objects are keys to the "
                                "microsecond: pass the keys as a datetime64[ns] array or Series")
        return np.array(keys, dtype="datetime64[us]")
    return None


def _is_missing(key: Any) -> bool:
    """None, a float NaN, NaT, or pandas' NA/NaT."""
    if key is None:
        return True
    if isinstance(key, float):
        return math.isnan(key)
    if isinstance(key, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(key))
    return type(key).__name__ in ("NAType", "NaTType")


def _raise_bad_object(key: Any, position: int, name: str, expected: str) -> None:
    if _is_missing(key):
        raise missing_error(name, position)
    raise KeyTypeError(name, position, f" mixes key types: {expected} keys, and a "
                       f"{type(key).__name__} ({key!r}) at ",
                       "; one metric takes one kind of key")


# -- kinds: one metric, one kind --------------------------------------------------

KINDS = ("int", "bool", "str", "bytes")
TIME_KINDS = ("datetime64[", "timedelta64[")


def is_kind(kind: Any) -> bool:
    """Whether ``kind`` names a kind of key (``KINDS`` or a datetime kind)."""
    return isinstance(kind, str) and (kind in KINDS or (
        kind.startswith(TIME_KINDS) and kind.endswith("]")))


def check_kind(have: Optional[str], new: Optional[str], name: str = "groups") -> None:
    """TypeError when keys of kind ``new`` go into a metric whose keys are of
    kind ``have`` (None or "": no keys yet, anything goes)."""
    if have and new and have != new:
        raise TypeError(
            f"{name} holds {new} keys, but this metric's keys are {have}: one metric "
            f"takes one kind of key"
        )


def kind_of_dtype(dtype: Any, name: str = "groups") -> Optional[str]:
    """The kind of key a NumPy dtype holds without reading the values (None
    for object and StringDType arrays: known once read); TypeError for a
    dtype that holds no keys (floats, complex, structured ...)."""
    dtype = np.dtype(dtype)
    kind = dtype.kind
    if kind in "iu":
        return "int"
    if kind in "Mm":
        return ("datetime64" if kind == "M" else "timedelta64") + \
            f"[{np.datetime_data(dtype)[0]}]"
    if kind in "bUS":
        return {"b": "bool", "U": "str", "S": "bytes"}[kind]
    if kind in "OT":
        return None
    raise _not_keys(name, dtype)


def _not_keys(name: str, dtype: Any) -> TypeError:
    if np.dtype(dtype).kind == "f":
        return TypeError(
            f"{name} must hold integer, bool, str, bytes or datetime keys; got "
            f"floats (dtype {dtype}): cast whole-number keys to int first"
        )
    return TypeError(
        f"{name} must hold integer, bool, str, bytes or datetime keys; got dtype {dtype}"
    )


def kind_of_arrow(arrow_type: Any, name: str = "groups") -> str:
    """The kind of key an Arrow type holds (a dictionary type: its values'
    kind); TypeError for a type that holds no keys (floats, decimals,
    lists ...).  What Spark's ``by=`` checks its columns' types with."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    if pa.types.is_dictionary(arrow_type):
        return kind_of_arrow(arrow_type.value_type, name)
    if _arrow_text(arrow_type):
        return "str" if "string" in str(arrow_type) else "bytes"
    # what read_keys makes of such a column: its NumPy dtype
    kind = kind_of_dtype(pa.array([], arrow_type).to_numpy(zero_copy_only=False).dtype, name)
    if kind is None:
        raise TypeError(f"{name} holds Arrow {arrow_type}, not keys (integers, bools, "
                        f"strings, bytes, dates or timestamps)")
    return kind


def _arrow_text(arrow_type: Any) -> bool:
    """Whether an Arrow type holds strings or binary (any offsets, views)."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    views = [getattr(pa.types, f, None) for f in ("is_string_view", "is_binary_view")]
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or
                pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type) or
                any(test is not None and test(arrow_type) for test in views))


# -- keys out: read-out arrays and state dicts ---------------------------------------

NUL = {"str": "\x00", "bytes": b"\x00"}


def key_array(kind: Optional[str], keys: Any) -> np.ndarray:
    """A list (or int64 array) of canonical keys of ``kind`` as the NumPy
    array the read-outs return (see the module docstring): exact, so that
    two distinct keys never read as one."""
    if kind in NUL:
        nul = NUL[kind]
        if any(key.endswith(nul) for key in keys):     # U / S would drop it
            out = np.empty(len(keys), dtype=object)
            out[:] = list(keys)
            return out
        return np.array(keys, dtype=str if kind == "str" else bytes)
    if kind == "bool":
        return np.asarray(keys, dtype=np.int64).astype(bool)
    if kind is not None and kind.startswith(TIME_KINDS):
        return np.asarray(keys, dtype=np.int64).view(kind)
    if isinstance(keys, np.ndarray):
        return keys
    keys = [int(key) for key in keys]
    dtype = int_dtype_of(keys)
    if dtype is not None:
        return np.array(keys, dtype=dtype)
    out = np.empty(len(keys), dtype=object)
    out[:] = [int(key) for key in keys]
    return out


def keys_to_json(kind: Optional[str], keys: np.ndarray) -> list[Any]:
    """A read-out array of keys as JSON values: ints (datetimes as their
    ticks), bools, strs, and bytes as hex strings."""
    if kind is not None and kind.startswith(TIME_KINDS):
        keys = keys.view(np.int64)
    values: list[Any] = keys.tolist()
    return [bytes(k).hex() for k in values] if kind == "bytes" else values


def keys_from_json(kind: Optional[str], keys: list[Any], name: str = "state['keys']"
                   ) -> np.ndarray:
    """``keys_to_json``'s inverse; TypeError when a value is not of the kind."""
    expected: Any = {"str": str, "bytes": str, "bool": bool}.get(kind or "", int)
    if any(not isinstance(k, expected) or (expected is int and isinstance(k, bool))
           for k in keys):
        raise TypeError(f"{name} must hold JSON {expected.__name__}s for {kind} keys")
    if kind == "bytes":
        try:
            return key_array(kind, [bytes.fromhex(k) for k in keys])
        except ValueError:
            raise ValueError(f"{name} must hold hex strings for bytes keys") from None
    return key_array(kind, keys)


# -- DataFrame libraries (each imported only for its own objects) --------------

def _with_uniques(codes: np.ndarray, uniques: Any, name: str) -> KeyBatch:
    """A KeyBatch from codes (-1: missing) into ``uniques`` (any array)."""
    codes = np.asarray(codes)
    if codes.size and int(codes.min()) < 0:
        raise missing_error(name, int(np.argmax(codes < 0)))
    used = np.bincount(codes, minlength=len(uniques)) > 0
    if not used.all():              # categories no sample has are not keys
        codes = (np.cumsum(used) - 1)[codes]
        uniques = np.asarray(uniques)[used]
    try:
        inner = read_keys(uniques, len(uniques), name)
    except AtKey as exc:        # at a distinct key: said at its first sample
        raise exc.at(int(np.argmax(codes == exc.position))) from None
    if inner.ints is not None:
        values = inner.ints.tolist()
    else:
        assert inner.codes is not None and inner.uniques is not None
        values = [inner.uniques[c] for c in inner.codes.tolist()]
    return KeyBatch(inner.kind, codes=np.ascontiguousarray(codes, dtype=np.int64),
                    uniques=values)


def _from_pandas(x: Any, name: str) -> tuple[KeyBatch, int]:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    if isinstance(x, pd.DataFrame):
        raise TypeError(f"{name} must be one column of keys; got a DataFrame")
    dtype = getattr(x, "dtype", None)
    if isinstance(x, pd.Categorical) or isinstance(dtype, pd.CategoricalDtype):
        cat = x if isinstance(x, pd.Categorical) else x.array
        return _with_uniques(cat.codes, cat.categories.to_numpy(), name), len(x)
    if isinstance(dtype, pd.PeriodDtype):       # a period is keyed by its start
        x = pd.Series(x).dt.start_time
        dtype = x.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuMm":
        return _from_numpy(np.asarray(x), name), len(x)
    if isinstance(dtype, np.dtype) and dtype.kind == "O" or _python_strings(dtype):
        # object and Python-storage string keys: the codec's own object path
        # (pandas < 3 factorizes them as C strings: "a" and "a\x00" were one
        # key), 1.5-2x faster than pd.factorize there
        return _from_numpy(np.asarray(x, dtype=object), name), len(x)
    # Arrow-backed strings, nullable numbers: pandas' own hash (keeps NULs)
    codes, uniques = pd.factorize(x, use_na_sentinel=True)
    return _with_uniques(codes, np.asarray(uniques, dtype=object), name), len(x)


def _python_strings(dtype: Any) -> bool:
    """Whether a pandas column holds its strings as Python objects (a
    StringDtype with Python storage), not in Arrow buffers."""
    return getattr(dtype, "name", None) in ("string", "str") and \
        getattr(dtype, "storage", None) == "python"


def _from_arrow(x: Any, name: str) -> tuple[KeyBatch, int]:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

    if isinstance(x, pa.ChunkedArray):
        x = x.unify_dictionaries().combine_chunks() if pa.types.is_dictionary(x.type) \
            else x.combine_chunks()
    if not isinstance(x, pa.Array):
        raise TypeError(f"{name} must be one column of keys; got {type(x).__name__}")
    if x.null_count:
        raise missing_error(name, int(np.argmax(x.is_null().to_numpy(zero_copy_only=False))))
    kind = x.type
    if _arrow_text(kind):
        x = pc.dictionary_encode(x)
        kind = x.type
    if pa.types.is_dictionary(kind):
        return _with_uniques(x.indices.to_numpy(zero_copy_only=False),
                             x.dictionary.to_numpy(zero_copy_only=False), name), len(x)
    return _from_numpy(x.to_numpy(zero_copy_only=False), name), len(x)


def _from_polars(x: Any, name: str) -> tuple[KeyBatch, int]:
    import polars as pl

    if not isinstance(x, pl.Series):
        raise TypeError(f"{name} must be one column of keys; got {type(x).__name__}")
    if x.null_count():
        raise missing_error(name, int(np.argmax(x.is_null().to_numpy())))
    if x.dtype in (pl.String, pl.Binary, pl.Categorical, pl.Enum) or \
            isinstance(x.dtype, (pl.Categorical, pl.Enum)):
        # strings factorised by Arrow's hash on polars' own buffers (a
        # string_view array shares them): a sort-based rank("dense") took
        # 11x polars' own group_by().agg() (issue 21 part 5)
        return _from_arrow(_arrow_view(x), name)
    return _from_numpy(x.to_numpy(), name), len(x)


def _arrow_view(x: Any) -> Any:
    """A polars Series as an Arrow array, zero-copy where polars allows it
    (its newest Arrow types: string views, dictionaries of them)."""
    import polars as pl

    try:
        return x.to_arrow(compat_level=pl.CompatLevel.newest())
    except (AttributeError, TypeError):        # polars without CompatLevel
        return x.to_arrow()


# -- composite keys (several key columns) -------------------------------------------

def composite_keys(cols: list[Any], names: list[str], rows: int
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """One int64 code per row for key columns (lexicographic in the
    columns' sorted keys), and each column's sorted distinct keys (read-out
    arrays, ``key_array``); ``names`` name the columns in errors.  The codes
    are local to these rows; ``KeyCoder`` keeps codes stable across batches."""
    code = np.zeros(rows, dtype=np.int64)
    sorted_keys = []
    for col, name in zip(cols, names):
        batch = read_keys(col, rows, name)
        if batch.ints is not None:
            codes, first = _backend.kernel.factorize_records(batch.ints)
            distinct = key_array(batch.kind, batch.ints[first])
        else:
            assert batch.codes is not None and batch.uniques is not None
            codes, distinct = batch.codes, key_array(batch.kind, batch.uniques)
        order = np.argsort(distinct, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        if len(order) and code.size and int(code.max()) > (2**62) // len(order):
            raise ValueError(f"the key columns ({', '.join(map(str, names))}) have too many "
                             f"combinations of keys")
        code = code * max(len(order), 1) + rank[codes]
        sorted_keys.append(distinct[order])
    return code, sorted_keys


def split_composite(codes: np.ndarray, sorted_keys: list[np.ndarray]) -> list[np.ndarray]:
    """The key columns of composite codes (composite_keys' inverse)."""
    out = []
    for keys in reversed(sorted_keys):
        width = max(len(keys), 1)
        out.append(keys[codes % width])
        codes = codes // width
    return out[::-1]


def concat_keys(arrays: list[Any]) -> np.ndarray:
    """Read-out arrays of one column's keys (e.g. each partition's) joined
    without loss: int64 beside uint64 is not read as floats, as
    ``np.concatenate`` would."""
    arrays = [np.asarray(a) for a in arrays]
    if len(arrays) == 1:
        return np.asarray(arrays[0])
    kinds = {a.dtype.kind for a in arrays}
    if kinds <= set("iuO") and kinds & set("iu") and \
            np.result_type(*(a.dtype for a in arrays)).kind not in "iu":
        return key_array("int", [key for a in arrays for key in a.tolist()])
    return np.concatenate(arrays)


class KeyCoder:
    """Composite keys -> int64 codes that stay the same from batch to batch
    (one code per distinct combination, in order of first sight; each
    batch's own codes, from ``composite_keys``, are local), and back.

    >>> coder = KeyCoder(["s", "k"])
    >>> coder.codes([["a", "b"], [1, 1]], 2).tolist(), coder.codes([["b", "c"], [1, 2]], 2).tolist()
    ([0, 1], [1, 2])
    >>> {name: col.tolist() for name, col in coder.columns(np.array([2, 0])).items()}
    {'s': ['c', 'a'], 'k': [2, 1]}
    """

    def __init__(self, names: list[Any], labels: Optional[list[str]] = None) -> None:
        self.names = names                  # the columns' names (keys of ``columns()``)
        self.labels = labels if labels is not None else [str(n) for n in names]  # in errors
        self.index: dict[tuple[Any, ...], int] = {}
        self.values: list[np.ndarray] = []          # per column, the value of each code

    def codes(self, columns: list[Any], rows: int) -> np.ndarray:
        local, sorted_keys = composite_keys(columns, self.labels, rows)
        size = math.prod(max(len(k), 1) for k in sorted_keys)
        if size <= 4 * rows:                # few combinations: no sort
            present = np.bincount(local, minlength=size) > 0
            distinct, inverse = np.flatnonzero(present), (np.cumsum(present) - 1)[local]
        else:
            distinct, inverse = np.unique(local, return_inverse=True)
        split = split_composite(distinct, sorted_keys)
        stable = np.empty(len(distinct), np.int64)
        before = len(self.index)
        for j, combination in enumerate(zip(*(c.tolist() for c in split))):
            stable[j] = self.index.setdefault(combination, len(self.index))
        fresh = stable >= before             # codes handed out here, in increasing order
        self.values = [concat_keys([v, c[fresh]]) for v, c in zip(self.values, split)] \
            if self.values else [c[fresh] for c in split]
        out: np.ndarray = stable[inverse.reshape(-1)]
        return out

    def columns(self, codes: np.ndarray) -> dict[Any, np.ndarray]:
        """The key columns of stable codes (none for no names)."""
        return {name: values[codes] for name, values in zip(self.names, self.values)}


def to_arrow(keys: np.ndarray, arrow_type: Any = None) -> Any:
    """A read-out array of keys as an Arrow array (of ``arrow_type``),
    exactly: pyarrow reads a NumPy ``S`` array as C strings, ending each at
    its first NUL byte, so bytes and strings go through Python objects."""
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    values = keys.tolist() if keys.dtype.kind in "SUO" else keys
    return pa.array(values) if arrow_type is None else pa.array(values).cast(arrow_type)
