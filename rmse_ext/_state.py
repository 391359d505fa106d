"""The metric's state as a plain, JSON-serialisable dict, and back.

The five numbers of the accumulator (``Accumulator.get_raw()``) travel
bitwise: the four floats as ``float.hex()`` strings (so NaN, inf and -0.0
survive JSON), the element count as an int.

>>> d = to_dict("rmse", "float32", 1, (4.0, 0.0, 0.0, 0.0, 2))
>>> d["format"], d["total_hi"], d["elements"]
('rmse_ext.state/1', '0x1.0000000000000p+2', 2)
>>> parse(d)["raw"]
(4.0, 0.0, 0.0, 0.0, 2, 0)
"""
from __future__ import annotations

from typing import Any

from ._missing import check_policy
from ._parallel import check_num_threads
from ._settings import resolve_dtype

FORMAT = "rmse_ext.state/1"
FLOAT_KEYS = ("total_hi", "total_lo", "weight_hi", "weight_lo")
INT64_MAX = 2**63 - 1
COUNT_MAX = 2**128 - 1      # the kernel's counts are two 64-bit words
KEYS = ("format", "name", "dtype", "num_threads", *FLOAT_KEYS, "elements")

Raw = tuple[float, ...]  # total hi, lo, weight hi, lo, elements[, omitted]


def to_dict(name: str, dtype: str, num_threads: int, raw: Raw,
            nan_policy: str = "propagate") -> dict[str, Any]:
    """The state dict for a metric with this config and accumulator state;
    ``omitted`` and ``nan_policy`` only when they are not 0 / 'propagate'
    (so the default metric's dict keeps its keys)."""
    state: dict[str, Any] = {
        "format": FORMAT, "name": name, "dtype": dtype, "num_threads": num_threads,
    }
    for key, value in zip(FLOAT_KEYS, raw[:4]):
        state[key] = float(value).hex()
    state["elements"] = int(raw[4])
    if len(raw) > 5 and raw[5]:
        state["omitted"] = int(raw[5])
    if nan_policy != "propagate":
        state["nan_policy"] = nan_policy
    return state


def _float_from_hex(state: dict[str, Any], key: str) -> float:
    text = state[key]
    if not isinstance(text, str):
        raise TypeError(
            f"state[{key!r}] must be a float.hex() string; got {type(text).__name__}"
        )
    try:
        return float.fromhex(text)
    except ValueError:
        raise ValueError(
            f"state[{key!r}] = {text!r} is not a float.hex() string"
        ) from None
    except OverflowError:
        raise ValueError(
            f"state[{key!r}] = {text!r} is beyond the float64 range (an infinity "
            f"is written 'inf')"
        ) from None


def _int_in(state: dict[str, Any], key: str, low: int, high: int) -> int:
    return int_in(state[key], f"state[{key!r}]", low, high)


def int_in(value: Any, label: str, low: int, high: int) -> int:
    """``value`` if it is an int (not a bool) in [low, high]; else TypeError
    / ValueError naming ``label`` (a state's count, or one entry of a
    grouped state's count column)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{label} must be an int; got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{label} = {value} is outside [{low}, {high}]")
    return value


def parse(state: Any) -> dict[str, Any]:
    """Validate a state dict; return ``name``, ``dtype``, ``num_threads`` and
    ``raw`` (the accumulator tuple).  TypeError/ValueError name the key."""
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict; got {type(state).__name__}")
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise ValueError(f"state is missing the key(s) {missing} (format {FORMAT!r})")
    if not isinstance(state["format"], str):
        raise TypeError(
            f"state['format'] must be a str; got {type(state['format']).__name__}"
        )
    if state["format"] != FORMAT:
        raise ValueError(
            f"state['format'] is {state['format']!r}; this rmse_ext reads {FORMAT!r}"
        )
    name = state["name"]
    if not isinstance(name, str):
        raise TypeError(f"state['name'] must be a str; got {type(name).__name__}")
    if not isinstance(state["dtype"], str):
        raise TypeError(f"state['dtype'] must be a str; got {type(state['dtype']).__name__}")
    try:
        dtype = resolve_dtype(state["dtype"]).name
    except (TypeError, ValueError) as exc:
        raise ValueError(f"state['dtype']: {exc}") from None
    try:
        num_threads = check_num_threads(state["num_threads"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"state['num_threads']: {exc}") from None
    floats = [_float_from_hex(state, key) for key in FLOAT_KEYS]
    elements = _int_in(state, "elements", 0, COUNT_MAX)
    omitted = _int_in(state, "omitted", 0, COUNT_MAX) if "omitted" in state else 0
    nan_policy = state.get("nan_policy", "propagate")
    try:
        check_policy(nan_policy)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"state['nan_policy']: {exc}") from None
    raw: Raw = (floats[0], floats[1], floats[2], floats[3], elements, omitted)
    return {"name": name, "dtype": dtype, "num_threads": num_threads, "raw": raw,
            "nan_policy": nan_policy}


def restore(cls: Any, state: dict[str, Any]) -> Any:
    """Unpickling hook of pickles written before the metric used
    ``__getstate__`` / ``__setstate__``: ``cls.from_state(state)``."""
    return cls.from_state(state)
