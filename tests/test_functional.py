"""rmse_ext.root_mean_squared_error against scikit-learn's own function."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rmse_ext import root_mean_squared_error as ours
from rmse_ext.functional import BLOCK_ELEMENTS
from rmse_ext.reference import ExactRMSE, fsum_rmse

sklearn_metrics = pytest.importorskip(
    "sklearn.metrics", reason="scikit-learn (test extra) is not installed")
theirs = sklearn_metrics.root_mean_squared_error


def call(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300),
       outputs=st.sampled_from([None, 1, 2, 5]),
       weighted=st.booleans(),
       multioutput=st.sampled_from(["uniform_average", "raw_values", "weights"]),
       dtype=st.sampled_from([np.float64, np.float32, np.int32]),
       order=st.sampled_from(["C", "F"]))
def test_agrees_with_sklearn_on_random_inputs(seed, n, outputs, weighted, multioutput,
                                              dtype, order):
    rng = np.random.default_rng(seed)
    shape = (n,) if outputs is None else (n, outputs)
    scale = 10.0 ** rng.integers(-3, 4)
    t = np.asarray(rng.normal(size=shape) * scale * 100, dtype=dtype, order=order)
    p = np.asarray(rng.normal(size=shape) * scale * 100, dtype=dtype, order=order)
    w = rng.random(n) + 0.01 if weighted else None
    mo = multioutput
    if mo == "weights":
        mo = rng.random(1 if outputs is None else outputs)
    expected = theirs(t, p, sample_weight=w, multioutput=mo)
    got = ours(t, p, sample_weight=w, multioutput=mo)
    assert type(got) is type(expected)
    if isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype and got.shape == expected.shape
    # sklearn sums in the inputs' float dtype; we sum exactly, then round
    rel = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=rel)


def test_each_output_is_within_2_ulp_of_exact():
    rng = np.random.default_rng(11)
    t, p, w = rng.normal(size=(500, 3)), rng.normal(size=(500, 3)), rng.random(500)
    got = ours(t, p, sample_weight=w, multioutput="raw_values")
    for j in range(3):
        ref = ExactRMSE()
        ref.update_state(t[:, j], p[:, j], sample_weight=w)
        assert abs(got[j] - ref.result()) <= 2 * np.spacing(ref.result())


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
def test_large_inputs_in_either_memory_order_are_within_2_ulp_of_exact(order, weighted):
    # C order is read in row blocks of BLOCK_ELEMENTS // outputs rows: many here
    n, outputs = 3 * BLOCK_ELEMENTS // 2 + 17, 3
    rng = np.random.default_rng(12)
    t = np.asarray(rng.normal(size=(n, outputs)), order=order)
    p = np.asarray(rng.normal(size=(n, outputs)) * 1e-3 + t, order=order)
    w = rng.random(n) if weighted else None
    got = ours(t, p, sample_weight=w, multioutput="raw_values")
    for j in range(outputs):
        batch = (t[:, j].copy(), p[:, j].copy()) + (() if w is None else (w,))
        exact = fsum_rmse([batch])
        assert abs(got[j] - exact) <= 2 * np.spacing(exact), (j, got[j], exact)


def test_uniform_average_is_the_mean_of_the_outputs():
    t = np.array([[0.0, 0.0], [0.0, 0.0]])
    p = np.array([[3.0, 1.0], [4.0, 1.0]])
    # column 0: sqrt((9 + 16) / 2); column 1: sqrt((1 + 1) / 2) = 1
    assert ours(t, p) == (np.sqrt(12.5) + 1.0) / 2
    assert ours(t, p, multioutput=[3.0, 1.0]) == (3 * np.sqrt(12.5) + 1.0) / 4


def test_pandas_dataframe_and_series():
    pd = pytest.importorskip("pandas", reason="pandas (test extra) is not installed")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=list("abc"))
    truth = pd.DataFrame(rng.normal(size=(50, 3)), columns=list("abc"))
    np.testing.assert_allclose(ours(truth, frame, multioutput="raw_values"),
                               theirs(truth, frame, multioutput="raw_values"), rtol=1e-13)
    assert ours(truth["a"], frame["a"]) == pytest.approx(theirs(truth["a"], frame["a"]),
                                                        rel=1e-13)


BAD = {
    "samples differ": (([1, 2, 3], [1, 2]), {}),
    "outputs differ": ((np.ones((3, 2)), np.ones((3, 3))), {}),
    "1-d vs 2 outputs": (([1, 2, 3], np.ones((3, 2))), {}),
    "3-d": ((np.ones((3, 2, 2)), np.ones((3, 2, 2))), {}),
    "scalar y": ((1.0, 2.0), {}),
    "0-d array y": ((np.array(1.0), np.array(2.0)), {}),
    "no samples": (([], []), {}),
    "no outputs": ((np.ones((3, 0)), np.ones((3, 0))), {}),
    "weights length": (([1, 2, 3], [1, 2, 2]), {"sample_weight": [1, 2]}),
    "weights 2-d": (([1, 2, 3], [1, 2, 2]), {"sample_weight": [[1], [2], [3]]}),
    "weights scalar": (([1, 2, 3], [1, 2, 2]), {"sample_weight": 2.0}),
    "weights all zero": (([1, 2, 3], [1, 2, 2]), {"sample_weight": [0, 0, 0]}),
    "weights sum to zero": (([1, 2, 3], [1, 2, 2]), {"sample_weight": [1, -1, 0]}),
    "weights NaN": (([1, 2, 3], [1, 2, 2]), {"sample_weight": [1, np.nan, 1]}),
    "y_true NaN": (([1, np.nan, 3], [1, 2, 2]), {}),
    "y_pred inf": (([1, 2, 3], [1, np.inf, 2]), {}),
    "multioutput name": (([1, 2, 3], [1, 2, 2]), {"multioutput": "variance_weighted"}),
    "multioutput length": ((np.ones((3, 2)), np.zeros((3, 2))), {"multioutput": [1, 2, 3]}),
    "multioutput 2-d": ((np.ones((3, 2)), np.zeros((3, 2))), {"multioutput": [[1, 2]]}),
    "multioutput sum 0": ((np.ones((3, 2)), np.zeros((3, 2))), {"multioutput": [1, -1]}),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_what_sklearn_raises(case):
    args, kwargs = BAD[case]
    with pytest.raises(Exception) as theirs_raised:
        call(theirs, *args, **kwargs)
    with pytest.raises(Exception) as ours_raised:
        call(ours, *args, **kwargs)
    for cls in (ValueError, TypeError, ZeroDivisionError):
        assert isinstance(ours_raised.value, cls) == isinstance(theirs_raised.value, cls), (
            cls, ours_raised.value, theirs_raised.value)


def test_non_finite_results_from_finite_inputs_are_returned():
    # an overflowing square and a negative weighted mean: sklearn returns inf / nan too
    big = ([1e200, 0.0], [-1e200, 0.0])
    assert ours(*big) == call(theirs, *big) == np.inf
    neg = ([1, 2, 3], [1, 2, 5])
    assert np.isnan(ours(*neg, sample_weight=[1, 2, -1]))
    assert np.isnan(call(theirs, *neg, sample_weight=[1, 2, -1]))


# -- input kinds: accept what scikit-learn accepts, reject what it rejects -------------

def _kinds():
    from decimal import Decimal
    from fractions import Fraction
    floats = np.array([1.5, 2.0, 4.0])
    return {
        "list of ints": [1, 2, 4],
        "list of floats": [1.5, 2.0, 4.0],
        "float32": floats.astype(np.float32),
        "float16": floats.astype(np.float16),
        "int8": np.array([1, 2, 4], np.int8),
        "uint64 big": np.array([2**64 - 1, 0, 2**63], np.uint64),
        "bool": np.array([True, False, True]),
        "longdouble": floats.astype(np.longdouble),
        "str numbers": np.array(["1.5", "2", "4"]),
        "str list": ["1.5", "2", "4"],
        "str spaced": np.array([" 1.5", "2 ", "4"]),
        "str exponent": np.array(["1.5e0", "2E0", "+4"]),
        "bytes numbers": np.array([b"1.5", b"2", b"4"]),
        "mixed list": [1, "2", 4.0],
        "object floats": np.array([1.5, 2.0, 4.0], dtype=object),
        "object ints": np.array([1, 2, 2**70], dtype=object),
        "object str": np.array(["1.5", "2", "4"], dtype=object),
        "object mixed": np.array([1, "2", 4.0], dtype=object),
        "object Decimal": np.array([Decimal("1.5"), Decimal(2), Decimal(4)], dtype=object),
        "object Fraction": np.array([Fraction(3, 2), Fraction(2), 4], dtype=object),
        "object numpy scalars": np.array([np.float32(1.5), np.int64(2), 4], dtype=object),
        "Python ints beyond 64 bits": [2**70, 1, 2],
        "2-d str": np.array([["1", "2"], ["3", "4"], ["5", "6"]]),
        "2-d object": np.array([[1, 2.5], [3, 4], [5, 6]], dtype=object),
        # rejected by scikit-learn
        "str not numbers": np.array(["a", "2", "4"]),
        "str empty": np.array(["", "2", "4"]),
        "str nan": np.array(["nan", "2", "4"]),
        "str inf": np.array(["inf", "2", "4"]),
        "object None": np.array([None, 2.0, 4.0], dtype=object),
        "object nan": np.array([np.nan, 2.0, 4.0], dtype=object),
        "object complex": np.array([1 + 1j, 2, 4], dtype=object),
        "object list": np.array([[1], [2], [3]], dtype=object).reshape(3, 1)[:, 0],
        "object dict": np.array([{}, 2, 4], dtype=object),
        "complex": np.array([1 + 1j, 2, 4]),
        "complex real": np.array([1 + 0j, 2, 4]),
        "ragged": [[1, 2], [3], [4, 5]],
        "None": None,
        "set": {1, 2, 4},
        "str": "124",
        "dict": {"a": 1},
        "dict of 3": {"a": 1, "b": 2, "c": 3},
        "datetime": np.array(["2020-01-01", "2020-01-02", "2020-01-05"], dtype="M8[D]"),
        "timedelta": np.array([1, 2, 4], dtype="m8[s]"),
        "structured": np.array([(1,), (2,), (4,)], dtype=[("x", "f8")]),
        "empty str": np.array([], dtype=str),
        "generator": (x for x in [1, 2, 4]),
    }


KINDS = list(_kinds())


def _outcome(fn, *args, **kwargs):
    try:
        return "ok", call(fn, *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- the class is what is compared
        return "raised", exc


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ["y_true", "y_pred", "sample_weight"])
def test_input_kinds_are_accepted_and_rejected_as_sklearn_does(kind, role):
    def args():
        value = _kinds()[kind]                  # fresh: generators are used up
        shape = np.shape(value) if hasattr(value, "shape") else None
        other = np.ones(shape if shape and len(shape) == 2 else 3) * 3.0
        t, p, w = other, other * 0.5, None
        if role == "y_true":
            t = value
        elif role == "y_pred":
            p = value
        else:
            t, p, w = np.array([1.0, 5.0, 2.0]), np.array([0.0, 2.0, 2.5]), value
        return (t, p), {"sample_weight": w}

    theirs_kind, theirs_value = _outcome(theirs, *args()[0], **args()[1])
    ours_kind, ours_value = _outcome(ours, *args()[0], **args()[1])
    assert ours_kind == theirs_kind, (ours_value, theirs_value)
    if theirs_kind == "raised":
        for cls in (ValueError, TypeError, ZeroDivisionError):
            assert isinstance(ours_value, cls) == isinstance(theirs_value, cls), (
                cls, ours_value, theirs_value)
    else:
        assert type(ours_value) is type(theirs_value)
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-12)
