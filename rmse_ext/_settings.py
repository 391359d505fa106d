"""What every metric is built with -- name, result dtype, threads, NaN
policy, interval -- validated once, read through the same properties.

>>> from rmse_ext import RootMeanSquaredError
>>> m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
>>> m.name, m.dtype, m.num_threads, m.nan_policy
('root_mean_squared_error', 'float64', 1, 'omit')
"""
from __future__ import annotations

from typing import Any, Iterable, Optional, TypeVar

import numpy as np

from . import _intervals, _missing, _outputs
from ._inputs import FLOAT32, FLOAT64
from ._parallel import check_num_threads


Self = TypeVar("Self", bound="MetricSettings")


def resolve_dtype(dtype: Any) -> np.dtype[Any]:
    """The metric's ``dtype`` as given, native byte order (semantics 1: None
    -> float32): any NumPy integer or float16/32/64 dtype, a name of one, or a
    tf.DType, as tf.keras and Keras 3 accept them; else TypeError."""
    if dtype is None:
        return FLOAT32
    as_numpy = getattr(dtype, "as_numpy_dtype", None)  # a tf.DType
    if as_numpy is not None:
        dtype = as_numpy
    try:
        resolved: np.dtype[Any] | None = np.dtype(dtype)
    except (TypeError, ValueError):  # e.g. np.dtype('0x1p0'): a ValueError
        resolved = None
    if resolved is None or not (resolved.kind in "iu" or (
            resolved.kind == "f" and resolved.itemsize in (2, 4, 8))):
        raise TypeError(
            f"dtype must be a float (float16, float32, float64) or integer dtype "
            f"(or None for float32); got {dtype!r}"
        )
    native: np.dtype[Any] = resolved.newbyteorder("=")
    return native


def result_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """What ``result()`` returns for a metric of ``dtype``: that float dtype,
    float64 for an integer dtype (tf_keras returns a float there too; an
    RMSE rounded to an integer would be useless)."""
    return dtype if dtype.kind == "f" else FLOAT64


class MetricSettings:
    """Base of RootMeanSquaredError and GroupedRootMeanSquaredError: the
    constructor arguments they share (TypeError/ValueError naming the
    argument) and their read-only properties."""

    def __init__(self, name: str, dtype: Any, num_threads: Optional[int],
                 nan_policy: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str; got {type(name).__name__}")
        self._num_threads = check_num_threads(num_threads)
        self._nan_policy = _missing.check_policy(nan_policy)
        self._name = name
        self._set_dtype(resolve_dtype(dtype))
        self._interval_args: tuple[Optional[str], int, int, int] = (None, 200, 0, 0)
        self._multioutput: _outputs.MultiOutput = None

    def _set_multioutput(self, multioutput: Any) -> None:
        """Check and keep ``multioutput`` (rmse_ext._outputs); after the
        interval settings: per-output intervals are not built."""
        self._multioutput = _outputs.check_multioutput(multioutput)
        if self._multioutput is not None and self._interval_args[0] is not None:
            raise ValueError("interval= cannot be combined with multioutput= (per-output "
                             "intervals are not available); use one metric per output")

    @property
    def multioutput(self) -> Any:
        """None (the Keras result), 'raw_values', 'uniform_average' or the
        output weights (a list of floats)."""
        return _outputs.config_value(self._multioutput)

    def _set_dtype(self, dtype: np.dtype[Any]) -> None:
        """Keep ``dtype`` (as given: config, state) and its result dtype."""
        self._dtype = dtype
        self._result_dtype = result_dtype(dtype)

    def _set_interval_args(self, interval: Optional[str], n_boot: int, seed: int,
                           stream: int) -> None:
        """Check and keep the interval settings (docs/intervals.md)."""
        if interval is not None:
            _intervals.check_settings(interval, n_boot, seed, stream)
        self._interval_args = (interval, int(n_boot), int(seed), int(stream))

    @property
    def interval(self) -> Optional[str]:
        """The interval method asked for at construction, or None."""
        return self._interval_args[0]

    def _interval_level(self, level: Any) -> float:
        """``level`` checked, after ValueError for a metric without an interval."""
        checked = _intervals.check_level(level)
        if self._interval_args[0] is None:
            raise ValueError(
                "confidence intervals need a metric built with interval='normal' or "
                "interval='bootstrap'; this one has interval=None")
        return checked

    @property
    def bootstrap_position(self) -> int:
        """With ``interval='bootstrap'``, the stream index of the next unit
        (docs/intervals.md: a unit's draws depend on seed, stream and its
        index); 0 otherwise.  Engines that fold blocks elsewhere (rmse_ext.dask,
        the frame doors) start each block's draws from it."""
        return int(getattr(getattr(self, "_interval", None), "position", 0))

    def advance_bootstrap(self, units: int) -> None:
        """Move the bootstrap stream past ``units`` units folded elsewhere and
        merged in (an engine's blocks), so the next update draws fresh ones;
        nothing without ``interval='bootstrap'``."""
        interval: Any = getattr(self, "_interval", None)
        if interval is not None and hasattr(interval, "position"):
            interval.position += int(units)

    def get_config(self) -> dict[str, Any]:
        """Keras's ``{'name', 'dtype'}``; ``num_threads``, ``nan_policy`` and
        the interval settings only when they are not the defaults."""
        config: dict[str, Any] = {"name": self._name, "dtype": self._dtype.name}
        if self._num_threads != 1:
            config["num_threads"] = self._num_threads
        if self._nan_policy != "propagate":
            config["nan_policy"] = self._nan_policy
        method, n_boot, seed, stream = self._interval_args
        if method == "normal":
            config["interval"] = method
        elif method == "bootstrap":
            config.update(interval=method, n_boot=n_boot, seed=seed, stream=stream)
        if self._multioutput is not None:
            config["multioutput"] = _outputs.config_value(self._multioutput)
        return config

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> str:
        """The dtype's name, e.g. ``'float32'`` (``result()`` returns it; float64
        for an integer dtype)."""
        return self._dtype.name

    @property
    def num_threads(self) -> int:
        return self._num_threads

    @property
    def nan_policy(self) -> str:
        """``'propagate'``, ``'omit'`` or ``'raise'`` (docs/missing-values.md)."""
        return self._nan_policy

    def _mergeable(self, others: Iterable[Any], kind: type[Self]) -> list[Self]:
        """merge_state's arguments -- metrics, or lists/tuples of them --
        flattened; TypeError for anything not a ``kind``, ValueError for
        another result dtype, before anything changes."""
        metrics: list[Self] = []
        for other in others:
            for metric in other if isinstance(other, (list, tuple)) else (other,):
                if not isinstance(metric, kind):
                    raise TypeError(
                        f"merge_state takes {kind.__name__} instances; got "
                        f"{type(metric).__name__}"
                    )
                if metric.dtype != self.dtype:
                    raise ValueError(
                        f"cannot merge a metric of dtype {metric.dtype!r} into one of "
                        f"dtype {self.dtype!r}"
                    )
                if not _outputs.same(metric._multioutput, self._multioutput):
                    raise ValueError(
                        f"cannot merge a metric with multioutput={metric.multioutput!r} into "
                        f"one with multioutput={self.multioutput!r}"
                    )
                metrics.append(metric)
        return metrics
