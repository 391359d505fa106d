"""What a typed caller writes; tests/test_typing.py runs ``mypy --strict`` on
it against whichever rmse_ext is imported (in-tree or the installed wheel)."""
from typing import Any, Union

import numpy as np
import numpy.typing as npt

import rmse_ext
from rmse_ext import RootMeanSquaredError
from rmse_ext import _kernel


def batch_rmse(y_true: npt.NDArray[np.float64], y_pred: npt.NDArray[np.float64],
               weights: npt.NDArray[np.float64] | None = None) -> float:
    metric = RootMeanSquaredError(name="val_rmse", dtype="float64")
    metric.update_state(y_true, y_pred, sample_weight=weights)
    running: np.floating[Any] = metric(y_true[:1], y_pred[:1])
    config: dict[str, Any] = metric.get_config()
    clone: RootMeanSquaredError = RootMeanSquaredError.from_config(config)
    clone.reset_state()
    clone.reset_states()
    name: str = metric.name
    dtype: str = metric.dtype
    total: Union[float, np.ndarray[Any, Any]] = metric.total      # an array with multioutput
    count: Union[float, np.ndarray[Any, Any]] = metric.count
    assert name and dtype and total >= 0.0 and count >= 0.0 and running >= 0.0
    return float(metric.result())


def raw_kernel_state() -> tuple[float, float, float, float, int, int]:
    acc = _kernel.Accumulator()
    t = np.zeros(3)
    p = np.ones(3)
    batch = _kernel.Batch(t, p, None, _kernel.TMode.FULL_T, _kernel.WMode.NONE)
    acc.fold(batch)
    parts = np.empty((batch.chunks, 5))
    batch.chunk_partials(0, batch.chunks, parts)
    acc.fold_partials(batch, parts)
    done: bool = acc.fold_fast(t, p)
    other = _kernel.Accumulator()
    other.merge(acc)
    value: float = acc.value() + acc.count()
    assert done and value > 0 and isinstance(_kernel.hardware_fma(), bool)
    raw = acc.get_raw()
    other.set_raw(*raw)
    return raw


version: str = rmse_ext.__version__
print(batch_rmse(np.array([2.0, 4.0, 6.0]), np.array([1.0, 3.0, 2.0])), raw_kernel_state())
