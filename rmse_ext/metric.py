"""The public metric class."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Union

import numpy as np

from . import _backend, _intervals, _missing, _outputs, _state
from ._chunked import fold_chunked, is_chunked, windowable
from ._inputs import Chunks, read_input
from ._plan import plan_update, remember_layout
from ._settings import MetricSettings, resolve_dtype

# batches smaller than this stay on the single-threaded fast path
PARALLEL_MIN_SIZE = 1 << 20


def _snapshot(acc: Any, accumulator: Any) -> Any:
    """A copy of ``acc`` as an ``accumulator`` (another ISA build's state
    crosses by its raw tuple)."""
    copy = accumulator()
    if type(acc) is accumulator:
        copy.merge(acc)
    else:
        copy.set_raw(*acc.get_raw())
    return copy


def small_array(a: Any) -> bool:
    """Whether ``a`` is an ndarray too small to be worth threads (anything
    else goes through the planner, which reads it first)."""
    return type(a) is np.ndarray and a.size < PARALLEL_MIN_SIZE


class RootMeanSquaredError(MetricSettings):
    """Streaming root mean squared error with tf.keras semantics.

    Inputs are never rounded below their own precision; the running total
    and weight sum are float64 with compensated summation; ``dtype`` (default
    float32, as in Keras) applies only to what ``result()`` returns.
    ``num_threads`` (default 1; 0 or None: every available CPU) spreads
    batches of 2**20 elements and more over up to that many threads, never
    more than the CPUs the process may use; the result is bitwise the same
    for every count.

    >>> m = RootMeanSquaredError()
    >>> m.update_state([2, 4, 6], [1, 3, 2])
    >>> print(m.result())
    2.4494898
    >>> m.reset_state()
    >>> m.update_state([2, 4, 6, 8], [1, 3, 2, 3], sample_weight=[0, 1, 0, 1])
    >>> print(m.result())
    3.6055512

    ``multioutput`` (default None: the Keras result) gives one RMSE per
    output, the last axis (``'raw_values'``), or their average
    (``'uniform_average'``, or weighted by an array of output weights), as
    scikit-learn does; each output omits its own missing elements under
    nan_policy='omit' (rmse_ext._outputs; docs/semantics.md, "Per-output results").

    >>> m = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
    >>> m.update_state([[0, 0], [0, 0]], [[1, 2], [1, 2]])
    >>> m.result()
    array([1., 2.])
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None,
                 num_threads: int | None = 1, *, nan_policy: str = "propagate",
                 interval: Optional[str] = None, n_boot: int = 200, seed: int = 0,
                 stream: int = 0, multioutput: Any = None) -> None:
        super().__init__(name, dtype, num_threads, nan_policy)
        self._acc = _backend.kernel.Accumulator()
        self._set_interval_args(interval, n_boot, seed, stream)
        self._set_multioutput(multioutput)
        self._outputs: Optional[list[Any]] = _outputs.new_accumulators(self._multioutput)
        self._interval: Optional[_intervals.IntervalState] = self._new_interval()

    def _new_interval(self) -> Optional[_intervals.IntervalState]:
        method, n_boot, seed, stream = self._interval_args
        return None if method is None else _intervals.new_state(method, n_boot, seed, stream)

    # -- Keras surface (semantics 1) ------------------------------------------

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Fold one batch into the running state (semantics 2 and 3).

        On bad input raises TypeError/ValueError and leaves the state as it was.
        """
        policy = self._nan_policy
        if self._multioutput is not None:
            self._fold_outputs(y_true, y_pred, sample_weight)
            return
        if (policy != "raise" and self._interval is None
                and (self._num_threads == 1 or small_array(y_pred))
                and self._acc.fold_fast(y_true, y_pred, sample_weight,
                                        _missing.KERNEL_POLICIES[policy])):
            return
        t, p, w = _missing.read_operands(policy, read_input, y_true, y_pred, sample_weight)
        operands: list[Any] = [t, p, w]
        if is_chunked(t, p, w):
            if self._interval is None and policy != "omit" and windowable(t, p, w):
                fold_chunked(self._acc, t, p, w)
                return
            operands = [x.concatenate() if isinstance(x, Chunks) else x for x in operands]
        self._fold(*operands)

    def _fold_outputs(self, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
        """One update into the per-output accumulators (multioutput=)."""
        t, p, w = _missing.read_operands(self._nan_policy, read_input, y_true, y_pred,
                                         sample_weight)
        whole: list[Any] = [x.concatenate() if isinstance(x, Chunks) else x for x in (t, p, w)]
        known = None if self._outputs is None else len(self._outputs)
        outputs, fold = _outputs.plan_outputs(whole[0], whole[1], whole[2],
                                              _missing.kernel_policy(self._nan_policy), known)
        if self._outputs is None:
            self._outputs = [_backend.kernel.Accumulator() for _ in range(outputs)]
        fold(self._outputs)

    def _fold(self, y_true: Any, y_pred: Any, sample_weight: Any) -> None:
        omit = _missing.fold_policy(self._nan_policy) == "omit"
        plan = plan_update(y_true, y_pred, sample_weight, nan_policy=self._nan_policy)
        if self._interval is not None:
            _intervals.fold_update(
                self._acc, plan, self._interval, omit, self._num_threads,
                lambda: _intervals.units_of(plan, y_true, y_pred, sample_weight))
        else:
            plan.apply(self._acc, self._num_threads)
            remember_layout(self._acc, y_true, y_pred, sample_weight)

    def result(self) -> np.floating[Any]:
        """``sqrt(total / count)`` as a NumPy scalar of ``dtype``; 0 while the
        count is 0 -- but NaN when the count is 0 because every element was
        omitted (nan_policy='omit': 0 would read as a perfect model).  With
        ``multioutput``: per output, then as asked (an array for
        'raw_values')."""
        if self._multioutput is not None:
            accs = self._outputs or []
            values = np.array([_missing.result_of(a) for a in accs], dtype=np.float64)
            return _outputs.combine(values, self._multioutput, self._result_dtype)  # type: ignore
        value: np.floating[Any] = _missing.result_of(self._acc, self._result_dtype)
        return value

    def reset_state(self) -> None:
        """Back to the empty state."""
        self._acc.reset()
        self._outputs = _outputs.new_accumulators(self._multioutput)
        self._interval = self._new_interval()

    def reset_states(self) -> None:
        """The r1.14 name of ``reset_state``."""
        self.reset_state()

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> np.floating[Any]:
        """``update_state(...)``, then the running ``result()``."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    # -- confidence intervals (docs/intervals.md) ------------------------------

    def confidence_interval(self, level: float = 0.95) -> tuple[float, float]:
        """``(low, high)``: a ``level`` confidence interval for the RMSE of the
        stream seen so far (NaN, NaN before any unit).  ValueError when the
        metric was built with ``interval=None``.

        >>> m = RootMeanSquaredError(interval="normal")
        >>> m.update_state([0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 2.0, -2.0])
        >>> [round(v, 3) for v in m.confidence_interval(0.95)]
        [0.896, 2.049]
        """
        level = self._interval_level(level)
        assert self._interval is not None
        return self._interval.interval(level, self._acc.value())

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RootMeanSquaredError:
        return cls(**config)

    # -- read-outs beyond Keras -----------------------------------------------

    @property
    def total(self) -> Union[float, np.ndarray[Any, Any]]:
        """The weighted sum of squared errors so far, in float64 (with
        ``multioutput``: an array, one per output)."""
        if self._multioutput is not None:
            return np.array([_total(a) for a in self._outputs or []], dtype=np.float64)
        return _total(self._acc)

    @property
    def count(self) -> Union[float, np.ndarray[Any, Any]]:
        """The sum of the weights that applied (elements when unweighted),
        float64 (with ``multioutput``: an array, one per output)."""
        if self._multioutput is not None:
            return np.array([a.count() for a in self._outputs or []], dtype=np.float64)
        return float(self._acc.count())

    @property
    def omitted(self) -> Any:
        """How many elements nan_policy='omit' has left out so far (exact;
        with ``multioutput``: a list, one int per output)."""
        if self._multioutput is not None:
            return [int(a.get_raw()[5]) for a in self._outputs or []]
        return int(self._acc.get_raw()[5])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self._name!r}, dtype={self.dtype!r}) "
            f"result={self._acc.value() if self._multioutput is None else self.result()!r} "
            f"count={self.count!r}"
        )

    # -- state that travels: merge, save, restore (issue 5) ------------------

    def merge_state(self, *others: Union[RootMeanSquaredError, Iterable[RootMeanSquaredError]]) -> None:
        """Fold other metrics' states into this one, compensations included
        (merging the metrics of a partition of a stream gives the result of
        the whole stream).  A list or tuple of metrics is also accepted, as
        in Keras's ``merge_state(metrics)``.  A metric of another class or
        another ``dtype`` raises before anything changes.

        >>> a, b = RootMeanSquaredError(), RootMeanSquaredError()
        >>> a.update_state([2, 4], [1, 3]); b.update_state([6], [2])
        >>> a.merge_state(b)
        >>> print(a.result())
        2.4494898
        """
        metrics = self._mergeable(others, RootMeanSquaredError)
        if self._multioutput is not None:
            self._outputs = _outputs.merge_into(self._outputs, [m._outputs for m in metrics])
            return
        if self._interval is not None or any(m._interval is not None for m in metrics):
            for metric in metrics:
                if self._interval is None:
                    raise ValueError("cannot merge a metric with an interval into one with "
                                     "interval=None")
                self._interval.check_mergeable(metric._interval)
        snapshots = [_snapshot(metric._acc, type(self._acc)) for metric in metrics]
        copies = [_intervals.state_from_dict(metric._interval.to_dict())
                  for metric in metrics if metric._interval is not None]
        for snapshot in snapshots:      # copies first: a metric may be merged twice
            self._acc.merge(snapshot)
        for copy in copies:
            assert self._interval is not None
            self._interval.merge(copy)  # type: ignore[arg-type]

    def get_state(self) -> dict[str, Any]:
        """The whole state as a plain, JSON-serialisable dict (floats as
        ``float.hex()`` strings, format ``'rmse_ext.state/1'``).

        >>> import json
        >>> m = RootMeanSquaredError(); m.update_state([0.0], [3.0])
        >>> again = RootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
        >>> print(again.result(), again.count)
        3.0 1.0
        """
        state = _state.to_dict(self._name, self._dtype.name, self._num_threads,
                               self._acc.get_raw(), self._nan_policy)
        if self._interval is not None:
            state["interval"] = self._interval.to_dict()
        if self._multioutput is not None:
            state["multioutput"] = _outputs.config_value(self._multioutput)
            state["outputs"] = _outputs.to_state(self._outputs)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore name, dtype and the running state, bitwise, from a
        ``get_state()`` dict.  A bad dict raises TypeError/ValueError naming
        the key and changes nothing."""
        parsed = _state.parse(state)
        self._restore(parsed, _parse_interval(state), _outputs.from_state(state))

    def _restore(self, parsed: dict[str, Any],
                 interval: Optional[_intervals.IntervalState],
                 outputs: tuple[Any, Optional[list[Any]]] = (None, None)) -> None:
        """Take over a parsed state dict, interval and per-output state (it
        cannot fail)."""
        self._multioutput, self._outputs = outputs
        self._name = parsed["name"]
        self._set_dtype(resolve_dtype(parsed["dtype"]))
        self._num_threads = parsed["num_threads"]
        self._nan_policy = parsed["nan_policy"]
        self._acc.set_raw(*parsed["raw"])
        self._set_interval(interval)

    def _set_interval(self, interval: Optional[_intervals.IntervalState]) -> None:
        self._interval = interval
        if interval is None:
            self._interval_args = (None, 200, 0, 0)
        elif isinstance(interval, _intervals.BootstrapInterval):
            self._interval_args = ("bootstrap", interval.n_boot, interval.seed, interval.stream)
        else:
            self._interval_args = ("normal", 200, 0, 0)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RootMeanSquaredError:
        """A new metric restored bitwise from a ``get_state()`` dict."""
        parsed = _state.parse(state)
        kwargs: dict[str, Any] = {"name": parsed["name"], "dtype": parsed["dtype"]}
        if parsed["num_threads"] != 1:
            kwargs["num_threads"] = parsed["num_threads"]
        kwargs["nan_policy"] = parsed["nan_policy"]
        interval = _parse_interval(state)
        outputs = _outputs.from_state(state)
        metric = cls(**kwargs)
        metric._acc.set_raw(*parsed["raw"])
        metric._set_interval(interval)
        metric._multioutput, metric._outputs = outputs
        return metric

    # -- pickle, copy.copy, copy.deepcopy: the usual protocol ------------------

    def __getstate__(self) -> dict[str, Any]:
        """The state dict, plus any attributes a subclass added: a subclass
        whose ``__init__`` takes other arguments pickles and copies too."""
        extra = {k: v for k, v in self.__dict__.items() if k not in _OWN_ATTRIBUTES}
        return {"state": self.get_state(), "attributes": extra}

    def __setstate__(self, data: dict[str, Any]) -> None:
        """Rebuild from ``__getstate__``'s dict, bitwise, with an accumulator
        of its own (a copy never shares it)."""
        parsed = _state.parse(data["state"])
        interval = _parse_interval(data["state"])
        outputs = _outputs.from_state(data["state"])
        self.__dict__.update(data["attributes"])
        self._acc = _backend.kernel.Accumulator()
        self._restore(parsed, interval, outputs)


#: the attributes RootMeanSquaredError itself keeps (the state dict carries them)
_OWN_ATTRIBUTES = frozenset({"_name", "_dtype", "_result_dtype", "_num_threads", "_acc", "_nan_policy",
                             "_interval", "_interval_args", "_multioutput", "_outputs"})


def _total(acc: Any) -> float:
    hi, lo = acc.get_raw()[:2]
    return float(hi + lo if np.isfinite(hi) else hi)


def _parse_interval(state: dict[str, Any]) -> Optional[_intervals.IntervalState]:
    """The interval state of a saved metric (None when it has none)."""
    return None if "interval" not in state else _intervals.state_from_dict(state["interval"])
