"""``root_mean_squared_error``: scikit-learn's function, computed by the kernel.

Same signature, return types and error classes as
``sklearn.metrics.root_mean_squared_error`` (scikit-learn 1.9): 1-D or 2-D
``(n_samples, n_outputs)`` inputs, per-sample weights ``(n_samples,)``, and
``multioutput`` = ``'raw_values'`` | ``'uniform_average'`` | output weights.
Each output's weighted sum of squared errors is accumulated by the
compensated kernel, one accumulator per output (a loop over the columns):
1-D and F-ordered inputs are read in place, a C-ordered 2-D input in row
blocks whose columns are gathered while the block is in cache, so the data
is read once either way.

Non-finite inputs are found after the pass, only when a result is not
finite, so the common case reads every element exactly once.

>>> root_mean_squared_error([3, -0.5, 2, 7], [2.5, 0.0, 2, 8])
0.6123724356957945
>>> root_mean_squared_error([[0.5, 1], [-1, 1], [7, -6]], [[0, 2], [-1, 2], [8, -5]],
...                         multioutput="raw_values")
array([0.64549722, 1.        ])
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import _backend
from ._backend import Policy
from ._inputs import as_array, as_operand, kernel_dtype
from ._missing import (
    MissingValueError, check_policy, first_missing, fold_policy, kernel_policy, read_operands,
    result_of,
)
from ._plan import full_plan


BLOCK_ELEMENTS = 65536  # elements per row block of a C-ordered 2-D input


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong kind (scikit-learn's class of the same name
    is also both a ValueError and a TypeError)."""


def _array_like(x: Any) -> bool:
    """scikit-learn's notion of array-like: has a length, a shape or
    ``__array__``, and is not a scalar."""
    return (hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")) \
        and not np.isscalar(x)


def _check_parameters(y_true: Any, y_pred: Any, sample_weight: Any, multioutput: Any) -> None:
    for name, value in (("y_true", y_true), ("y_pred", y_pred)):
        if not _array_like(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of root_mean_squared_error must be an "
                f"array-like. Got {value!r} instead."
            )
    if sample_weight is not None and not _array_like(sample_weight):
        raise InvalidParameterError(
            f"The 'sample_weight' parameter of root_mean_squared_error must be an "
            f"array-like or None. Got {sample_weight!r} instead."
        )
    if isinstance(multioutput, str):
        if multioutput not in ("raw_values", "uniform_average"):
            raise InvalidParameterError(
                f"The 'multioutput' parameter of root_mean_squared_error must be a "
                f"str among {{'raw_values', 'uniform_average'}} or an array-like. "
                f"Got {multioutput!r} instead."
            )
    elif not _array_like(multioutput):
        raise InvalidParameterError(
            f"The 'multioutput' parameter of root_mean_squared_error must be a str "
            f"among {{'raw_values', 'uniform_average'}} or an array-like. Got "
            f"{multioutput!r} instead."
        )


def _samples(arrays: dict[str, np.ndarray], given: dict[str, Any]) -> int:
    """sklearn's check_consistent_length: one number of samples for all,
    counted as it counts them (``shape[0]``, else ``len()`` of what was
    passed)."""
    lengths = []
    for name, a in arrays.items():
        if a.ndim == 0:
            original = given[name]
            if hasattr(original, "shape") or not hasattr(original, "__len__"):
                raise TypeError(
                    f"{name} should have at least 1 dimension; got a scalar array {a!r}"
                )
            lengths.append(len(original))
        else:
            lengths.append(a.shape[0])
    if len(set(lengths)) > 1:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: {lengths}"
        )
    return lengths[0]


def _as_numbers(a: np.ndarray, name: str) -> np.ndarray:
    """scikit-learn's ``check_array`` conversion: bool, int and float arrays
    as they are; anything else (strings of numbers, objects that are
    numbers, ...) converted to float64 the way it converts them, raising its
    classes: ValueError for complex data and for what is not a number,
    TypeError for objects ``float()`` does not take."""
    if a.dtype.kind in "biuf":
        return a
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        try:
            return np.asarray(a, dtype=np.float64)
        except np.exceptions.ComplexWarning:
            # scikit-learn's own words: its tests match them (issue 18 defect 12)
            raise ValueError(f"{name}: Complex data not supported") from None
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from None


def _as_targets(a: np.ndarray, name: str) -> np.ndarray:
    """sklearn's check_array for y: 1-D or 2-D, at least one sample and one
    output; returned as (n_samples, n_outputs)."""
    kernel_dtype(a.dtype, name)
    if a.ndim > 2:
        raise ValueError(
            f"{name}: found array with dim {a.ndim}, while dim <= 2 is required."
        )
    if a.shape[0] == 0:
        raise no_samples_error(name, a.shape)
    if a.ndim == 2 and a.shape[1] == 0:
        raise ValueError(
            f"{name}: found array with 0 feature(s) (shape={a.shape}) while a "
            f"minimum of 1 is required."
        )
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _result_dtype(*arrays: Any) -> np.dtype[Any]:
    """scikit-learn's rule: the widest floating input dtype, else float64."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def _raise_for_non_finite(arrays: dict[str, np.ndarray]) -> None:
    """A NaN or infinite input makes its output's result non-finite; name
    the input the way scikit-learn does, and the flat position of the first
    NaN.  (A non-finite result from finite inputs is an overflow, or
    negative weights: returned as is.)"""
    for name, a in arrays.items():
        found = first_missing({name: a})
        if found is not None:
            raise MissingValueError(f"Input {name} contains NaN (the first at flat position "
                                    f"{found.flat}; nan_policy='raise'); pass "
                                    f"nan_policy='omit' to leave such elements out.")
        if np.isinf(a).any():
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                f"dtype('float64')."
            )


def _column_sums(t: np.ndarray, p: np.ndarray, w: np.ndarray | None,
                 policy: int = Policy.PROPAGATE) -> list[Any]:
    """One kernel accumulator per output (column) of the (n, outputs)
    operands.  Columns that are contiguous (1-D input, F order) are read in
    place in one call each; a C-ordered input is read in row blocks of about
    BLOCK_ELEMENTS, each block's columns gathered while the block is in cache
    (one pass over the memory instead of one per column)."""
    kernel = _backend.kernel
    n, outputs = p.shape
    accs = [kernel.Accumulator() for _ in range(outputs)]
    whole_columns = outputs == 1 or (t.flags.f_contiguous and p.flags.f_contiguous)
    rows = n if whole_columns else max(1, BLOCK_ELEMENTS // outputs)
    for start in range(0, n, rows):
        t_rows, p_rows = t[start:start + rows], p[start:start + rows]
        w_rows = None if w is None else w[start:start + rows]
        for j, acc in enumerate(accs):
            full_plan(t_rows[:, j], p_rows[:, j], w_rows, policy).apply(acc)
    return accs


def root_mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None,
    multioutput: Any = "uniform_average", nan_policy: str = "raise",
) -> Any:
    """Root mean squared error, as ``sklearn.metrics.root_mean_squared_error``.

    Returns a float, or with ``multioutput='raw_values'`` an array with one
    value per output.  ``nan_policy`` (docs/missing-values.md): ``'raise'``
    (default, scikit-learn's behaviour: ValueError for a NaN or infinite
    input), ``'propagate'`` (the result is what the sums give: NaN) or
    ``'omit'`` (samples whose y_true, y_pred or weight is NaN leave that
    output; masked arrays and pandas NA read as NaN; an output with every
    sample omitted is NaN).

    >>> root_mean_squared_error([1, 2, 3], [1, 2, 5], sample_weight=[1, 1, 2])
    1.4142135623730951
    """
    _check_parameters(y_true, y_pred, sample_weight, multioutput)
    check_policy(nan_policy)
    # 'raise' is scikit-learn's check, made only when a result is not finite
    t, p, w = read_operands(fold_policy(nan_policy), as_array,
                            y_true, y_pred, sample_weight)
    named = {"y_true": t, "y_pred": p}
    if w is not None:
        named["sample_weight"] = w
    n = _samples(named, {"y_true": y_true, "y_pred": y_pred,
                         "sample_weight": sample_weight})
    out_dtype = _result_dtype(t, p, w)
    named = {name: _as_numbers(a, name) for name, a in named.items()}
    t, p, w = named["y_true"], named["y_pred"], named.get("sample_weight")
    t, p = _as_targets(t, "y_true"), _as_targets(p, "y_pred")
    if t.shape[1] != p.shape[1]:
        raise ValueError(
            f"y_true and y_pred have different number of output "
            f"({t.shape[1]}!={p.shape[1]})"
        )
    outputs = t.shape[1]
    if w is not None:
        kernel_dtype(w.dtype, "sample_weight")
        if w.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {w.ndim}D array "
                f"of shape {w.shape}. Expected a 1D array of length {n}."
            )
        w = as_operand(w, "sample_weight")
    output_weights = None
    if not isinstance(multioutput, str):
        output_weights = as_array(multioutput, "multioutput")
        if output_weights.shape != (outputs,):
            raise TypeError(
                f"multioutput weights of shape {output_weights.shape} do not match "
                f"the {outputs} output(s) of y_true and y_pred"
            )

    accs = _column_sums(t, p, w, kernel_policy(nan_policy))
    weight_sum = accs[0].count()
    errors = np.array([result_of(acc) for acc in accs])
    if w is not None and weight_sum == 0.0 and not np.isnan(errors).all():
        if not w.any():
            raise ValueError("Sample weights must contain at least one non-zero number.")
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    if nan_policy == "raise" and not np.isfinite(errors).all():
        _raise_for_non_finite(named)
    errors = errors.astype(out_dtype)
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return errors
    return float(np.average(errors, weights=output_weights))


def root_mean_squared_error_interval(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, level: float = 0.95,
    method: str = "normal", n_boot: int = 200, seed: int = 0, nan_policy: str = "raise",
) -> tuple[float, float, float]:
    """``(rmse, low, high)``: the RMSE of one batch under the Keras rules
    (semantics 2-3) and a ``level`` confidence interval for it, by
    ``method`` ``'normal'`` or ``'bootstrap'`` (docs/intervals.md).  A
    one-shot door (semantics 8.1): ``nan_policy='raise'`` by default, an
    empty input refused (8.6).

    >>> rmse, low, high = root_mean_squared_error_interval(
    ...     [0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 2.0, -2.0])
    >>> round(rmse, 4), round(low, 4), round(high, 4)
    (1.5811, 0.8959, 2.0488)
    """
    from ._intervals import check_level
    from .metric import RootMeanSquaredError
    level = check_level(level)
    metric = RootMeanSquaredError(dtype="float64", interval=method, n_boot=n_boot, seed=seed,
                                  nan_policy=nan_policy)
    if _no_samples(y_true):
        _refuse_empty(y_true)
    metric.update_state(y_true, y_pred, sample_weight)
    low, high = metric.confidence_interval(level)
    return float(metric.result()), low, high


def grouped_root_mean_squared_error(y_true: Any, y_pred: Any, groups: Any, *,
                                    sample_weight: Any = None, nan_policy: str = "raise"
                                    ) -> tuple[np.ndarray, np.ndarray]:
    """RMSE per group in one pass: ``(keys, rmse)``, keys sorted, rmse
    float64.  The rules are ``RootMeanSquaredError``'s (tf.keras), one key
    per sample, as ``GroupedRootMeanSquaredError.update_state``.  A one-shot
    door (semantics 8.1): ``nan_policy='raise'`` by default
    (docs/missing-values.md), an empty input refused (8.6).

    >>> keys, rmse = grouped_root_mean_squared_error([0, 0, 0], [3, 1, 1], ["x", "y", "y"])
    >>> keys.tolist(), rmse.tolist()
    (['x', 'y'], [3.0, 1.0])
    """
    from .grouped import GroupedRootMeanSquaredError

    metric = GroupedRootMeanSquaredError(dtype="float64", nan_policy=nan_policy)
    metric.update_state(y_true, y_pred, groups, sample_weight)
    if metric.keys().size == 0:
        _refuse_empty(y_true)
    return metric.keys(), metric.result()


def _no_samples(y: Any) -> bool:
    """Whether ``y`` is an input without samples, read from its shape or
    length (an array, a frame column, a list) without converting it."""
    shape = getattr(y, "shape", None)
    if isinstance(shape, tuple) and shape and all(isinstance(d, int) for d in shape):
        return 0 in shape
    try:
        return len(y) == 0
    except TypeError:                     # a scalar: one sample (semantics 3)
        return False


def _refuse_empty(y_true: Any) -> None:
    """Semantics 8.6: the one-shot doors refuse an input without samples."""
    shape = getattr(y_true, "shape", None)
    raise no_samples_error("y_true", tuple(shape) if isinstance(shape, tuple) else (0,))


def no_samples_error(name: str, shape: tuple[int, ...]) -> ValueError:
    """scikit-learn's words for an input without samples (its tests match them)."""
    return ValueError(f"{name}: found array with 0 sample(s) (shape={shape}) while a "
                      f"minimum of 1 is required.")
