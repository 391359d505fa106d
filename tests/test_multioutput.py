"""multioutput= on the streaming metric (issue 20): one RMSE per output (the
last axis), held to an exact oracle per output, per-output masks under
nan_policy='omit' against scikit-learn on each output's kept rows, and the
state carried through merge / get_state / pickle / config / threads."""
import contextlib
import copy
import json
import math
import pickle
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError, _backend


def scikit_learn_rmse():
    """scikit-learn's function (the '[test]' extra; absent in the sanitizer's venv)."""
    return pytest.importorskip("sklearn.metrics").root_mean_squared_error


KERNELS = _backend.available()


@contextlib.contextmanager
def kernel_of(module):
    """The metric's per-output accumulators (and kernel) from one ISA build."""
    with mock.patch.object(_backend, "kernel", module):
        yield


@pytest.fixture(params=KERNELS, ids=[k.__name__.rsplit(".", 1)[-1] for k in KERNELS])
def on_kernel(request):
    with kernel_of(request.param):
        yield request.param


def exact_outputs(batches):
    """Per output: (sum w*(p-t)**2, sum w) as Fractions, the weights given
    at the squared errors' shape."""
    totals, counts = None, None
    for t, p, w in batches:
        d = t.shape[1]
        totals = totals or [Fraction(0)] * d
        counts = counts or [Fraction(0)] * d
        for j in range(d):
            for tv, pv, wv in zip(t[:, j].tolist(), p[:, j].tolist(), w[:, j].tolist()):
                totals[j] += Fraction(wv) * (Fraction(pv) - Fraction(tv)) ** 2
                counts[j] += Fraction(wv)
    return totals, counts


def within_ulps(value, total, count, k=2):
    """|value - sqrt(total / count)| <= k ulp of value, exactly."""
    if count == 0:
        return value == 0.0
    ratio = total / count
    step = Fraction(math.ulp(value)) * k
    low, high = max(Fraction(value) - step, Fraction(0)), Fraction(value) + step
    return low * low <= ratio <= high * high


shapes = st.tuples(st.integers(1, 25), st.integers(1, 11))


@given(shape=shapes, dtype=st.sampled_from([np.float32, np.float64]),
       weights=st.sampled_from(["none", "scalar", "rows", "full"]),
       cut=st.integers(0, 25), seed=st.integers(0, 2**32 - 1),
       kernel=st.sampled_from(KERNELS))
def test_raw_values_exact_oracle_per_output(shape, dtype, weights, cut, seed, kernel):
    rng = np.random.default_rng(seed)
    t = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
    p = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
    w = {"none": None, "scalar": 0.75, "rows": rng.random(shape[0]),
         "full": rng.random(shape)}[weights]
    cut = min(cut, shape[0])
    batches = [(t[:cut], p[:cut], w if weights in ("none", "scalar") else w[:cut]),
               (t[cut:], p[cut:], w if weights in ("none", "scalar") else w[cut:])]
    with kernel_of(kernel):
        m = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
        for bt, bp, bw in batches:
            m.update_state(bt, bp, bw)
    got = m.result()
    assert got.shape == (shape[1],)
    full = [np.ones(bt.shape) if bw is None else np.broadcast_to(
        np.reshape(bw, (-1, 1)) if np.ndim(bw) == 1 else bw, bt.shape).astype(np.float64)
        for bt, _, bw in batches]
    totals, counts = exact_outputs([(bt, bp, fw) for (bt, bp, _), fw in zip(batches, full)])
    for j in range(shape[1]):
        assert within_ulps(float(got[j]), totals[j], counts[j]), (j, got[j])


def test_none_keeps_the_keras_result_bitwise():
    rng = np.random.default_rng(0)
    t, p = rng.standard_normal((100, 3)), rng.standard_normal((100, 3))
    plain, none = RootMeanSquaredError(), RootMeanSquaredError(multioutput=None)
    plain.update_state(t, p)
    none.update_state(t, p)
    assert plain.result().tobytes() == none.result().tobytes()
    assert none.get_config() == plain.get_config() and none.multioutput is None


@pytest.mark.parametrize("multioutput", ["raw_values", "uniform_average", [0.2, 0.3, 0.5]])
def test_against_scikit_learn(on_kernel, multioutput):
    sk_rmse = scikit_learn_rmse()
    rng = np.random.default_rng(5)
    t, p, w = rng.standard_normal((40, 3)), rng.standard_normal((40, 3)), rng.random(40)
    m = RootMeanSquaredError(dtype="float64", multioutput=multioutput)
    m.update_state(t[:13], p[:13], w[:13])
    m.update_state(t[13:], p[13:], w[13:])
    np.testing.assert_allclose(m.result(), sk_rmse(t, p, sample_weight=w,
                                                   multioutput=multioutput), rtol=1e-15)


@given(shape=shapes, seed=st.integers(0, 2**32 - 1), weighted=st.booleans(),
       kernel=st.sampled_from(KERNELS))
def test_omit_masks_each_output_on_its_own(shape, seed, weighted, kernel):
    sk_rmse = scikit_learn_rmse()
    rng = np.random.default_rng(seed)
    t, p = rng.standard_normal(shape), rng.standard_normal(shape)
    t[rng.random(shape) < 0.3] = np.nan
    p[rng.random(shape) < 0.1] = np.nan
    w = rng.random(shape[0]) + 0.1 if weighted else None
    with kernel_of(kernel):
        m = RootMeanSquaredError(dtype="float64", nan_policy="omit", multioutput="raw_values")
        m.update_state(t, p, w)
    got = m.result()
    for j in range(shape[1]):
        kept = ~(np.isnan(t[:, j]) | np.isnan(p[:, j]))
        if not kept.any():
            assert np.isnan(got[j])             # every element of the output omitted
            continue
        ref = sk_rmse(t[kept, j], p[kept, j], sample_weight=None if w is None else w[kept])
        assert got[j] == pytest.approx(ref, rel=1e-14)
        assert m.omitted[j] == int((~kept).sum())


def test_nan_in_one_output_leaves_the_others_alone():
    t = np.array([[0.0, 0.0], [0.0, np.nan]])
    p = np.array([[1.0, 2.0], [1.0, 2.0]])
    m = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
    m.update_state(t, p)
    assert m.result()[0] == 1.0 and np.isnan(m.result()[1])     # propagate: per output
    o = RootMeanSquaredError(dtype="float64", multioutput="raw_values", nan_policy="omit")
    o.update_state(t, p)
    assert o.result().tolist() == [1.0, 2.0] and o.omitted == [0, 1]


def test_averaged_weights_per_output():
    """Semantics 3.3: (n, k, d) squared errors, weights (n,): each output's
    rows averaged over k, weighted, count sum(w)."""
    rng = np.random.default_rng(2)
    t, p, w = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 3, 2)), rng.random(5)
    m = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
    m.update_state(t, p, w)
    ref = [math.sqrt(float(np.sum(w * ((p[..., j] - t[..., j]) ** 2).mean(axis=1)) / w.sum()))
           for j in range(2)]
    np.testing.assert_allclose(m.result(), ref, rtol=1e-15)
    np.testing.assert_allclose(m.count, [w.sum()] * 2, rtol=1e-15)


def test_one_dimensional_batches_are_one_output():
    m = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
    m.update_state([0.0, 0.0], [3.0, 4.0])
    assert m.result().tolist() == [math.sqrt(12.5)]


def restored(m):
    return [RootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state()))),
            pickle.loads(pickle.dumps(m)), copy.deepcopy(m)]


@pytest.mark.parametrize("multioutput", ["raw_values", "uniform_average", [1.0, 3.0]])
def test_state_pickle_config_carry_it_bitwise(multioutput):
    rng = np.random.default_rng(3)
    m = RootMeanSquaredError(multioutput=multioutput, nan_policy="omit")
    t = rng.standard_normal((30, 2))
    t[3, 1] = np.nan
    m.update_state(t, rng.standard_normal((30, 2)))
    for again in restored(m):
        assert np.asarray(again.result()).tobytes() == np.asarray(m.result()).tobytes()
        assert again.omitted == m.omitted == [0, 1]
        assert again.get_config() == m.get_config()
    fresh = RootMeanSquaredError.from_config(m.get_config())
    assert fresh.multioutput == m.multioutput and fresh.count.sum() == 0


def test_merge_is_the_whole_stream():
    rng = np.random.default_rng(4)
    t, p = rng.standard_normal((60, 5)), rng.standard_normal((60, 5))
    whole, a, b = (RootMeanSquaredError(dtype="float64", multioutput="raw_values")
                   for _ in range(3))
    whole.update_state(t, p)
    a.update_state(t[:25], p[:25])
    b.update_state(t[25:], p[25:])
    a.merge_state(b)
    np.testing.assert_allclose(a.result(), whole.result(), rtol=2e-16)
    assert a.count.tolist() == [60.0] * 5
    with pytest.raises(ValueError, match="multioutput"):
        a.merge_state(RootMeanSquaredError(dtype="float64"))
    other = RootMeanSquaredError(dtype="float64", multioutput="raw_values")
    other.update_state(t[:, :2], p[:, :2])
    before = a.get_state()
    with pytest.raises(ValueError, match="numbers of outputs"):
        a.merge_state(other)
    assert a.get_state() == before


def test_threads_give_the_same_bits():
    rng = np.random.default_rng(6)
    t, p = rng.standard_normal((1 << 18, 4)), rng.standard_normal((1 << 18, 4))
    results = []
    for threads in (1, 2, 3):
        m = RootMeanSquaredError(dtype="float64", multioutput="raw_values",
                                 num_threads=threads)
        m.update_state(t, p)
        results.append(m.result().tobytes())
    assert len(set(results)) == 1


def test_bad_arguments_name_multioutput_and_change_nothing():
    with pytest.raises(ValueError, match="multioutput"):
        RootMeanSquaredError(multioutput="variance_weighted")
    with pytest.raises(TypeError, match="multioutput"):
        RootMeanSquaredError(multioutput=object())
    with pytest.raises(ValueError, match="multioutput weights"):
        RootMeanSquaredError(multioutput=[[1.0]])
    with pytest.raises(ValueError, match="interval"):
        RootMeanSquaredError(multioutput="raw_values", interval="normal")
    m = RootMeanSquaredError(multioutput=[1.0, 1.0])
    assert m.result() == 0.0
    with pytest.raises(ValueError, match="2 output"):
        m.update_state([[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]])
    assert m.count.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="outputs"):
        RootMeanSquaredError.from_state({**m.get_state(), "outputs": [[1, 2]]})


# -- the grouped metric ---------------------------------------------------------------

@given(shape=shapes, seed=st.integers(0, 2**32 - 1), weighted=st.booleans(),
       omit=st.booleans())
def test_grouped_is_the_metric_per_key_and_output(shape, seed, weighted, omit):
    rng = np.random.default_rng(seed)
    t, p = rng.standard_normal(shape), rng.standard_normal(shape)
    if omit:
        t[rng.random(shape) < 0.2] = np.nan
    keys = rng.integers(0, 4, shape[0])
    w = rng.random(shape[0]) if weighted else None
    policy = "omit" if omit else "propagate"
    g = GroupedRootMeanSquaredError(dtype="float64", multioutput="raw_values",
                                    nan_policy=policy)
    g.update_state(t, p, keys, w)
    assert g.result().shape == (len(np.unique(keys)), shape[1])
    for i, key in enumerate(g.keys().tolist()):
        m = RootMeanSquaredError(dtype="float64", multioutput="raw_values", nan_policy=policy)
        rows = keys == key
        m.update_state(t[rows], p[rows], None if w is None else w[rows])
        assert g.result()[i].tobytes() == m.result().tobytes()
        assert g.omitted()[i].tolist() == m.omitted
    u = GroupedRootMeanSquaredError(dtype="float64", multioutput="uniform_average",
                                    nan_policy=policy)
    u.update_state(t, p, keys, w)
    np.testing.assert_array_equal(u.result(), g.result().mean(axis=1))


def test_grouped_state_pickle_merge_and_errors():
    rng = np.random.default_rng(8)
    t, p, keys = rng.standard_normal((30, 2)), rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    whole, a, b = (GroupedRootMeanSquaredError(dtype="float64", multioutput=[1.0, 3.0])
                   for _ in range(3))
    whole.update_state(t, p, keys)
    a.update_state(t[:10], p[:10], keys[:10])
    b.update_state(t[10:], p[10:], keys[10:])
    a.merge_state(b)
    np.testing.assert_allclose(a.result(), whole.result(), rtol=2e-16)
    for again in (pickle.loads(pickle.dumps(whole)),
                  GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(
                      whole.get_state())))):
        assert again.result().tobytes() == whole.result().tobytes()
        assert again.get_config() == whole.get_config()
    before = whole.get_state()
    with pytest.raises(ValueError, match="2 output"):
        whole.update_state(np.zeros((2, 3)), np.ones((2, 3)), [5, 5])
    with pytest.raises(ValueError, match="3.3"):
        whole.update_state(np.zeros((2, 3, 2)), np.ones((2, 3, 2)), [1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="multioutput"):
        whole.merge_state(GroupedRootMeanSquaredError(dtype="float64"))
    assert whole.get_state() == before
