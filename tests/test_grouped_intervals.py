"""Per-group confidence intervals of GroupedRootMeanSquaredError (issue 14 on
the grouped metric of issue 13; docs/grouped.md, docs/intervals.md): each
key's interval against the ungrouped metric on that key's elements and
against slow oracles, the overall interval against the ungrouped metric on
the whole stream, invariance to batch split and thread count, the state
that travels, and simulated coverage per group."""
import copy
import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError, _backend

from test_intervals import bootstrap_oracle, normal_oracle

Grouped = GroupedRootMeanSquaredError


def same_bits(a, b):
    return np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes()


def stream_of(seed, n=3000, groups=3, weighted=False, dtype=np.float64):
    rng = np.random.default_rng(seed)
    t = rng.standard_normal(n).astype(dtype)
    p = (t + rng.standard_normal(n) * rng.uniform(0.5, 2.0)).astype(dtype)
    g = rng.integers(0, groups, n)
    w = rng.uniform(0.0, 3.0, n) if weighted else None
    if weighted:
        w[::11] = 0.0
    return t, p, g, w


def feed(metric, t, p, g, w, split):
    for lo in range(0, len(p), split):
        metric.update_state(t[lo:lo + split], p[lo:lo + split], g[lo:lo + split],
                            None if w is None else w[lo:lo + split])
    return metric


def masked(w, keep):
    """The weights that leave only ``keep``'s elements (the others weigh 0:
    not units, but they keep their stream index)."""
    return np.where(keep, 1.0 if w is None else w, 0.0)


# -- "normal" -----------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_per_key_is_the_ungrouped_interval_of_its_elements(weighted, dtype):
    t, p, g, w = stream_of(1, weighted=weighted, dtype=dtype)
    m = feed(Grouped(interval="normal"), t, p, g, w, 700)
    low, high = m.confidence_interval(0.9)
    assert low.dtype == high.dtype == np.float64
    assert m.keys().tolist() == [0, 1, 2]
    x = (p.astype(np.float64) - t.astype(np.float64)) ** 2
    for k in range(3):
        keep = g == k
        ref = RootMeanSquaredError(interval="normal")
        ref.update_state(t[keep], p[keep], None if w is None else w[keep])
        # both sum the moments to about twice float64 precision (other orders)
        np.testing.assert_allclose((low[k], high[k]), ref.confidence_interval(0.9), rtol=1e-12)
        exact = normal_oracle(x[keep], np.ones(keep.sum()) if w is None else w[keep], 0.9)
        np.testing.assert_allclose((low[k], high[k]), exact, rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_normal_single_key_is_the_ungrouped_interval_bitwise(weighted, dtype, nan_policy):
    """Issue 18: the per-key interval of a single key is the ungrouped
    metric's bit for bit (it was only within 1e-12), over several batches,
    big ones (chunked) included, and for semantics 3.3's row means."""
    n = _backend.kernel.CHUNK_SIZE + 3001
    t, p, _, w = stream_of(8, n=n, weighted=weighted, dtype=dtype)
    if nan_policy == "omit":
        p[::89] = np.nan
    for split in (n, 7001):
        m = Grouped(interval="normal", nan_policy=nan_policy)
        ref = RootMeanSquaredError(interval="normal", nan_policy=nan_policy)
        for lo in range(0, n, split):
            part = slice(lo, lo + split)
            m.update_state(t[part], p[part], ["k"] * len(t[part]), None if w is None else w[part])
            ref.update_state(t[part], p[part], None if w is None else w[part])
        low, high = m.confidence_interval(0.9)
        assert same_bits((low[0], high[0]), ref.confidence_interval(0.9))
        assert same_bits(m.overall_confidence_interval(0.9), ref.confidence_interval(0.9))
        # the key's six sums are the ungrouped metric's, compensations included
        assert same_bits(m._extra_rows()[0].reshape(2, 6).T.ravel(),
                         ref._interval._moments.get_raw())
    rng = np.random.default_rng(9)
    t3, p3, w3 = rng.standard_normal((40, 3, 2)), rng.standard_normal((40, 3, 2)), rng.uniform(0, 2, 40)
    m = Grouped(interval="normal")
    m.update_state(t3, p3, np.full(40, 5), w3)
    ref = RootMeanSquaredError(interval="normal")
    ref.update_state(t3, p3, w3)
    assert same_bits(np.ravel(m.confidence_interval()), ref.confidence_interval())
    assert same_bits(m._extra_rows()[0].reshape(2, 6).T.ravel(), ref._interval._moments.get_raw())


def test_normal_moment_terms_have_one_product_order():
    """Issue 18: a unit's terms w**2*x and w**2*x**2 are formed as the
    ungrouped interval forms them (w*(w*x), (w*x)*(w*x)); the per-key sums
    formed (w*w)*x and ((w*w)*x)*x, other bits.  One unit per key: each
    key's sums are its terms, as the ungrouped sums of that one unit are."""
    rng = np.random.default_rng(10)
    t, p, w = rng.standard_normal(64), rng.standard_normal(64), rng.uniform(0.1, 3.0, 64)
    x = (p - t) ** 2
    assert np.any((w * w) * x != w * (w * x))        # the two orders differ here
    m = Grouped(interval="normal")
    m.update_state(t, p, np.arange(64), w)
    for k in range(64):
        ref = RootMeanSquaredError(interval="normal")   # a zero weight: per-element weights
        ref.update_state(t[[k, k]], p[[k, k]], [w[k], 0.0])
        hi = np.array(ref._interval._moments.get_raw()[0::2])
        # sum w*x aside (the ungrouped one is the main total, exact squares)
        assert same_bits(m._extra_rows()[k, [0, 2, 3, 4, 5]], hi[[0, 2, 3, 4, 5]])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_normal_overall_is_the_ungrouped_metric_bitwise(weighted, nan_policy):
    """The pooled stream folds as RootMeanSquaredError folds it, big batches
    (chunked next to the main fold) included."""
    n = 2 * _backend.kernel.CHUNK_SIZE + 1001
    t, p, g, w = stream_of(2, n=n, groups=5, weighted=weighted)
    if nan_policy == "omit":
        p[::97] = np.nan
    m = Grouped(interval="normal", nan_policy=nan_policy)
    ref = RootMeanSquaredError(interval="normal", nan_policy=nan_policy)
    for lo, hi in ((0, 500), (500, n)):
        m.update_state(t[lo:hi], p[lo:hi], g[lo:hi], None if w is None else w[lo:hi])
        ref.update_state(t[lo:hi], p[lo:hi], None if w is None else w[lo:hi])
    assert same_bits(m.overall_confidence_interval(0.95), ref.confidence_interval(0.95))
    assert same_bits(m.overall_confidence_interval(0.5), ref.confidence_interval(0.5))


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_any_batch_split_and_thread_count_gives_the_same_bits(method):
    n = 400_000 if method == "normal" else 150_000
    t, p, g, w = stream_of(3, n=n, groups=7, weighted=True)
    kwargs = dict(interval=method, n_boot=8, seed=3)
    whole = feed(Grouped(**kwargs), t, p, g, w, n)
    threaded = feed(Grouped(num_threads=2, **kwargs), t, p, g, w, n)
    pieces = feed(Grouped(**kwargs), t, p, g, w, 9_999)
    expected = whole.confidence_interval()
    column = "moments" if method == "normal" else "sums"
    for other in (threaded, pieces):
        assert same_bits(other.confidence_interval(), expected)
        assert other.get_state()["interval"][column] == whole.get_state()["interval"][column]
    # the pooled "normal" state is folded as the ungrouped metric folds it
    # (its bits follow the batches); the threaded metric saw the same batch
    assert threaded.get_state()["interval"] == whole.get_state()["interval"]


# values whose moment sums are exact in float64 (multiples of 1/4, small):
# every order of summation gives the same bits, so the grouped interval and
# the ungrouped one on the key's elements must agree bit for bit
QUARTERS = st.integers(-40, 40).map(lambda v: v / 4)


@given(data=st.data())
def test_hypothesis_normal_per_key_bitwise_on_exact_sums(data):
    n = data.draw(st.integers(1, 60))
    d = data.draw(st.sampled_from([(), (1,), (3,)]))
    keys = np.array(data.draw(st.lists(st.sampled_from(["a", "b", "c", "zz"]), min_size=n,
                                       max_size=n)))
    size = n * math.prod(d)
    t = np.array(data.draw(st.lists(QUARTERS, min_size=size, max_size=size))).reshape((n,) + d)
    p = np.array(data.draw(st.lists(QUARTERS, min_size=t.size, max_size=t.size))).reshape(t.shape)
    wkind = data.draw(st.sampled_from(["none", "scalar", "sample", "full"]))
    weights = st.integers(0, 16).map(lambda v: v / 4)
    w = {"none": None, "scalar": data.draw(weights),
         "sample": np.array(data.draw(st.lists(weights, min_size=n, max_size=n))),
         "full": np.array(data.draw(st.lists(weights, min_size=t.size,
                                             max_size=t.size))).reshape(t.shape)}[wkind]
    split = data.draw(st.integers(1, n))
    m = Grouped(interval="normal")
    for lo in range(0, n, split):
        m.update_state(t[lo:lo + split], p[lo:lo + split], keys[lo:lo + split],
                       w if w is None or np.ndim(w) == 0 else w[lo:lo + split])
    low, high = m.confidence_interval()
    assert m.keys().tolist() == sorted(set(keys.tolist()))
    for i, key in enumerate(m.keys()):
        keep = keys == key
        ref = RootMeanSquaredError(interval="normal")
        ref.update_state(t[keep], p[keep], w if w is None or np.ndim(w) == 0 else w[keep])
        assert same_bits((low[i], high[i]), ref.confidence_interval())
    whole = RootMeanSquaredError(interval="normal")
    for lo in range(0, n, split):
        whole.update_state(t[lo:lo + split], p[lo:lo + split],
                           w if w is None or np.ndim(w) == 0 else w[lo:lo + split])
    assert same_bits(m.overall_confidence_interval(), whole.confidence_interval())


def test_normal_layouts_per_sample_rows_and_averaged_weights():
    """Units as the ungrouped metric counts them: per-sample weights on
    (n, d), a broadcast y_true row, and averaged weights (semantics 3.3)."""
    rng = np.random.default_rng(4)
    t, p = rng.standard_normal((60, 3)), rng.standard_normal((60, 3))
    w = rng.uniform(0.5, 2, 60)
    g = rng.integers(0, 2, 60)
    for args in ((t, p, w), (t[0], p, None), (t, p, 2.5), (t[..., None], p[..., None], w)):
        m = Grouped(interval="normal")
        m.update_state(args[0], args[1], g, args[2])
        low, high = m.confidence_interval()
        for k in range(2):
            keep = g == k
            ref = RootMeanSquaredError(interval="normal")
            tk = args[0] if args[0].ndim == 1 else args[0][keep]
            wk = args[2] if args[2] is None or np.ndim(args[2]) == 0 else args[2][keep]
            ref.update_state(tk, args[1][keep], wk)
            np.testing.assert_allclose((low[k], high[k]), ref.confidence_interval(), rtol=1e-12)


# -- "bootstrap" --------------------------------------------------------------------

@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_per_key_draws_on_the_stream_index(weighted):
    """A key's replicates are the ungrouped bootstrap's on the whole stream
    with every other key's elements weighing 0 (same draws: keyed on the
    element's index in the stream), and the exact replicate sums."""
    t, p, g, w = stream_of(5, n=400, weighted=weighted)
    m = feed(Grouped(interval="bootstrap", n_boot=16, seed=11), t, p, g, w, 97)
    low, high = m.confidence_interval(0.8)
    x = (p - t) ** 2
    for k in range(3):
        ref = RootMeanSquaredError(interval="bootstrap", n_boot=16, seed=11)
        ref.update_state(t, p, masked(w, g == k))
        np.testing.assert_allclose((low[k], high[k]), ref.confidence_interval(0.8), rtol=1e-13)
        reps = bootstrap_oracle(x, masked(w, g == k), 11, 0, 0, 16)
        np.testing.assert_allclose((low[k], high[k]), np.quantile(reps, [0.1, 0.9]),
                                   rtol=1e-13)
    whole = RootMeanSquaredError(interval="bootstrap", n_boot=16, seed=11)
    whole.update_state(t, p, w)
    np.testing.assert_allclose(m.overall_confidence_interval(0.8), whole.confidence_interval(0.8),
                               rtol=1e-13)
    assert m._interval.position == 400


def test_bootstrap_omit_keeps_the_stream_index():
    t, p, g, _ = stream_of(6, n=300)
    p[::7] = np.nan
    m = feed(Grouped(interval="bootstrap", n_boot=12, nan_policy="omit"), t, p, g, None, 50)
    low, high = m.confidence_interval()
    for k in range(3):
        ref = RootMeanSquaredError(interval="bootstrap", n_boot=12, nan_policy="omit")
        ref.update_state(t, p, masked(None, g == k))
        np.testing.assert_allclose((low[k], high[k]), ref.confidence_interval(), rtol=1e-13)


# -- merge, state, config -------------------------------------------------------------

@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_merge_of_partitions_with_different_keys(method):
    t, p, g, w = stream_of(7, n=900, groups=4, weighted=True)
    g[:400] = np.where(g[:400] == 3, 0, g[:400])         # key 3 only in the second part
    g[400:] = np.where(g[400:] == 2, 1, g[400:])         # key 2 only in the first
    a = Grouped(interval=method, n_boot=16, stream=1)
    b = Grouped(interval=method, n_boot=16, stream=2)
    a.update_state(t[:400], p[:400], g[:400], w[:400])
    b.update_state(t[400:], p[400:], g[400:], w[400:])
    a.merge_state(b)
    assert a.keys().tolist() == [0, 1, 2, 3]
    low, high = a.confidence_interval()
    for k in range(4):
        keep = g == k
        if method == "normal":
            ref = RootMeanSquaredError(interval="normal")
            ref.update_state(t[keep], p[keep], w[keep])
        else:      # replicate sums of both streams added
            ra = RootMeanSquaredError(interval="bootstrap", n_boot=16, stream=1)
            rb = RootMeanSquaredError(interval="bootstrap", n_boot=16, stream=2)
            ra.update_state(t[:400], p[:400], masked(w[:400], keep[:400]))
            rb.update_state(t[400:], p[400:], masked(w[400:], keep[400:]))
            ra.merge_state(rb)
            ref = ra
        np.testing.assert_allclose((low[k], high[k]), ref.confidence_interval(), rtol=1e-12)
    before = a.get_state()
    c = Grouped(interval=method, n_boot=16, stream=1)
    c.update_state(t[:5], p[:5], g[:5])
    bad = [Grouped(), Grouped(interval="normal" if method == "bootstrap" else "bootstrap")]
    if method == "bootstrap":
        bad += [c, Grouped(interval="bootstrap", n_boot=17, stream=9)]
    for other in bad:
        other.update_state([1.0], [2.0], [0])
        with pytest.raises(ValueError):
            a.merge_state(other)
        assert a.get_state() == before
    with pytest.raises(ValueError, match="interval=None"):
        Grouped().merge_state(a)
    with pytest.raises(ValueError, match="merge_state"):
        a.merge_raw(**Grouped().get_raw())


def test_merge_into_itself_doubles_the_sums():
    t, p, g, _ = stream_of(8, n=200)
    m = Grouped(interval="normal")
    m.update_state(t, p, g)
    twice = Grouped(interval="normal")
    twice.update_state(np.concatenate([t, t]), np.concatenate([p, p]), np.concatenate([g, g]))
    m.merge_state(m)
    np.testing.assert_allclose(m.confidence_interval(), twice.confidence_interval(), rtol=1e-13)


@pytest.mark.parametrize("kwargs", [dict(interval="normal"),
                                    dict(interval="bootstrap", n_boot=10, seed=5, stream=3),
                                    dict(interval="normal", nan_policy="omit", num_threads=2)])
def test_state_pickle_and_config_round_trips(kwargs):
    t, p, g, w = stream_of(9, n=500, groups=4, weighted=True)
    keys = np.array(["x", "y", "z", "w"])[g]
    m = Grouped(**kwargs)
    m.update_state(t, p, keys, w)
    state = m.get_state()
    restored = Grouped()
    restored.set_state(json.loads(json.dumps(state)))
    for again in (Grouped.from_state(json.loads(json.dumps(state))), pickle.loads(pickle.dumps(m)),
                  copy.deepcopy(m), restored):
        assert again.get_state() == state
        assert same_bits(again.confidence_interval(), m.confidence_interval())
        assert again.overall_confidence_interval() == m.overall_confidence_interval()
        assert again.get_config() == m.get_config()
    assert Grouped.from_config(m.get_config()).get_config() == m.get_config()
    # a restored metric continues the stream where it stopped
    restored.update_state(t[:50], p[:50], keys[:50], w[:50])
    m.update_state(t[:50], p[:50], keys[:50], w[:50])
    assert restored.get_state() == m.get_state()
    m.reset_state()
    assert m.keys().size == 0 and m.get_config() == restored.get_config()
    assert m.get_state()["interval"]["method"] == kwargs["interval"]
    assert np.isnan(m.overall_confidence_interval()).all()


def test_default_metric_keeps_its_state_format_and_config():
    m = Grouped()
    m.update_state([1.0, 2.0], [2.0, 2.0], [0, 1])
    assert "interval" not in m.get_state()
    assert m.get_config() == {"name": "grouped_root_mean_squared_error", "dtype": "float32"}
    assert m._table.extra.shape[1] == 0
    for call in (m.confidence_interval, m.overall_confidence_interval):
        with pytest.raises(ValueError, match="interval=None"):
            call()


def test_bad_arguments_and_bad_updates_change_nothing():
    for kwargs, error in ((dict(interval="exact"), ValueError),
                          (dict(interval="bootstrap", n_boot=1), ValueError),
                          (dict(interval="bootstrap", n_boot=2.5), TypeError),
                          (dict(interval="bootstrap", seed=-1), ValueError)):
        with pytest.raises(error):
            Grouped(**kwargs)
    for method in ("normal", "bootstrap"):
        m = Grouped(interval=method, n_boot=10)
        m.update_state([1.0, 2.0], [2.0, 2.0], [0, 1])
        before = m.get_state()
        with pytest.raises(ValueError):
            m.update_state([1.0, 2.0, 3.0], [1.0, 2.0], [0, 1, 2])
        with pytest.raises(TypeError):
            m.update_state([1.0, 2.0], [1.0, 2.0], ["a", "b"])
        with pytest.raises(ValueError):
            m.update_state([1.0, 2.0], [1.0, 2.0], [5, 6, 7])
        assert m.get_state() == before
        for level in (0.0, 1.0):
            with pytest.raises(ValueError, match="level"):
                m.confidence_interval(level)
        bad = dict(before, interval=dict(before["interval"]))
        bad["interval"]["moments" if method == "normal" else "sums"] = ["0x1p+0"] * 3
        with pytest.raises(ValueError):
            Grouped.from_state(bad)
        with pytest.raises(ValueError):
            m.set_state(bad)
        assert m.get_state() == before


def test_too_few_units_give_nan_bounds():
    m = Grouped(interval="normal", nan_policy="omit")
    m.update_state([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, math.nan], [0, 0, 1, 2])
    low, high = m.confidence_interval()
    assert m.keys().tolist() == [0, 1, 2]
    assert np.isfinite([low[0], high[0]]).all()
    assert np.isnan([low[1], high[1], low[2], high[2]]).all()    # one unit; none
    b = Grouped(interval="bootstrap", n_boot=20, nan_policy="omit")
    b.update_state([0.0, 0.0], [1.0, math.nan], [0, 1])
    assert np.isnan(b.confidence_interval()[0][1])


def test_dask_grouped_update_carries_the_interval():
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    import dask
    import rmse_ext.dask
    t, p, g, w = stream_of(10, n=2000, groups=3, weighted=True)
    for method in ("normal", "bootstrap"):
        m = Grouped(dtype="float64", interval=method, n_boot=32)
        with dask.config.set(scheduler="sync"):
            rmse_ext.dask.update_state(m, da.from_array(t, chunks=500),
                                       da.from_array(p, chunks=500),
                                       sample_weight=da.from_array(w, chunks=500),
                                       groups=da.from_array(g, chunks=500))
        ref = Grouped(dtype="float64", interval=method, n_boot=32)
        ref.update_state(t, p, g, w)
        np.testing.assert_allclose(m.result(), ref.result(), rtol=1e-14)
        if method == "normal":
            np.testing.assert_allclose(m.confidence_interval(), ref.confidence_interval(),
                                       rtol=1e-12)
        else:   # blocks draw from streams of their own: other draws, same statistics
            assert m._interval.position == 2000
            assert np.all(np.abs(np.subtract(m.confidence_interval(),
                                             ref.confidence_interval())) < 0.1)


# -- coverage ----------------------------------------------------------------------

def grouped_coverage(method, n, sigmas, weighted, datasets=400, n_boot=200):
    """Per key, the share of ``datasets`` simulated data sets whose interval
    covers that key's true RMSE (errors N(0, sigma_k**2): RMSE sigma_k;
    weights, when used, U[0.5, 2] independent of the errors)."""
    rng = np.random.default_rng([len(sigmas), n, weighted, method == "bootstrap"])
    keys = np.repeat(np.arange(len(sigmas)), n)
    scale = np.repeat(sigmas, n)
    zeros = np.zeros(keys.size)
    covered = np.zeros(len(sigmas))
    for i in range(datasets):
        order = rng.permutation(keys.size)          # keys interleaved in the stream
        errors = rng.standard_normal(keys.size) * scale
        w = rng.uniform(0.5, 2.0, keys.size)[order] if weighted else None
        m = Grouped(dtype="float64", interval=method, n_boot=n_boot, seed=i)
        m.update_state(zeros, errors[order], keys[order], w)
        low, high = m.confidence_interval(0.95)
        covered += (low <= sigmas) & (sigmas <= high)
    return covered / datasets


@pytest.mark.parametrize("method, n, weighted", [("normal", 5000, False),
                                                 ("normal", 5000, True),
                                                 ("bootstrap", 500, False)])
def test_coverage_per_group(method, n, weighted, capsys):
    """95% per-group intervals cover each group's true RMSE in 92-98% of
    400 simulated data sets (3 groups of RMSE 0.5, 1 and 2, interleaved)."""
    sigmas = np.array([0.5, 1.0, 2.0])
    coverage = grouped_coverage(method, n, sigmas, weighted)
    with capsys.disabled():
        print(f"\n{method} n={n} per group {'weighted' if weighted else 'unweighted'}: "
              f"coverage {np.round(coverage, 3).tolist()} for RMSE {sigmas.tolist()}")
    assert ((0.92 <= coverage) & (coverage <= 0.98)).all(), coverage


# -- rmse_ext.evaluate(..., ci=) ------------------------------------------------------

@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_evaluate_ci_columns(method):
    import rmse_ext
    t, p, g, w = stream_of(11, n=600, groups=3, weighted=True)
    table = {"y": t, "yhat": p, "store": np.array(["x", "y", "z"])[g], "fold": g % 2, "w": w}
    out = rmse_ext.evaluate(table, "y", "yhat", by="store", weight="w", ci=0.9,
                            ci_method=method, n_boot=50, seed=4)
    m = Grouped(dtype="float64", interval=method, n_boot=50, seed=4)
    m.update_state(t, p, table["store"], w)
    assert list(out)[-2:] == ["ci_low", "ci_high"]
    assert same_bits((out["ci_low"], out["ci_high"]), m.confidence_interval(0.9))
    composite = rmse_ext.evaluate(table, "y", "yhat", by=["fold", "store"], ci=0.9,
                                  ci_method=method, n_boot=50)
    assert len(composite["ci_low"]) == len(composite["rmse"]) == 3
    assert np.all(composite["ci_low"] <= composite["rmse"])
    assert np.all(composite["rmse"] <= composite["ci_high"])
    whole = rmse_ext.evaluate(table, "y", "yhat", weight="w", ci=0.9, ci_method=method,
                              n_boot=50, seed=4)
    ref = RootMeanSquaredError(dtype="float64", interval=method, n_boot=50, seed=4)
    ref.update_state(t, p, w)
    np.testing.assert_allclose([whole["ci_low"][0], whole["ci_high"][0]],
                               ref.confidence_interval(0.9), rtol=1e-13)
    assert "ci_low" not in rmse_ext.evaluate(table, "y", "yhat", by="store")
    with pytest.raises(ValueError, match="level"):
        rmse_ext.evaluate(table, "y", "yhat", ci=95)
    with pytest.raises(ValueError, match="interval method"):
        rmse_ext.evaluate(table, "y", "yhat", ci=0.9, ci_method="exact")


def test_evaluate_ci_on_dask_frames_equals_the_in_memory_table():
    """ci= on a dask frame (issue 20) gives the in-memory table's bits."""
    dd = pytest.importorskip("dask.dataframe", reason="dask is not installed")
    pd = pytest.importorskip("pandas")
    import dask
    import rmse_ext
    frame = pd.DataFrame({"y": [1.0, 2.0, 0.5, 4.0], "yhat": [1.0, 3.0, 2.0, 1.0],
                          "k": [0, 1, 0, 1]})
    here = rmse_ext.evaluate(frame, "y", "yhat", by="k", ci=0.9)
    with dask.config.set(scheduler="synchronous"):
        there = rmse_ext.evaluate(dd.from_pandas(frame, npartitions=2), "y", "yhat",
                                  by="k", ci=0.9)
    assert list(there.columns) == list(here.columns)
    for name in ("rmse", "ci_low", "ci_high"):
        assert [x.hex() for x in there[name]] == [x.hex() for x in here[name]]


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_no_keys_give_empty_intervals(method):
    """A metric with no keys yet (or only empty updates) reads two empty
    arrays; an empty frame is refused by evaluate (semantics, One contract)."""
    m = Grouped(interval=method)
    for _ in range(2):
        low, high = m.confidence_interval(0.9)
        assert low.shape == high.shape == (0,) and low.dtype == high.dtype == np.float64
        assert all(np.isnan(m.overall_confidence_interval(0.9)))
        m.update_state([], [], [])
    pd = pytest.importorskip("pandas")
    import rmse_ext
    with pytest.raises(ValueError, match="no rows"):
        rmse_ext.evaluate(pd.DataFrame({"g": [], "t": [], "p": []}), "t", "p", by="g",
                          ci=0.9, ci_method=method)
