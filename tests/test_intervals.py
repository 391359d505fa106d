"""Confidence intervals (docs/intervals.md): simulated coverage, the moment
and replicate sums against slow oracles, and the state that travels."""
import copy
import math
import pickle
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import pytest

import rmse_ext
from rmse_ext import RootMeanSquaredError, _backend, root_mean_squared_error_interval

DATASETS = 400
ERRORS = {
    # name: (draw errors of shape (datasets, n), the true RMSE)
    "normal": (lambda rng, shape: rng.standard_normal(shape), 1.0),
    "t6": (lambda rng, shape: rng.standard_t(6, shape), math.sqrt(6 / 4)),
    "skewed": (lambda rng, shape: rng.exponential(1.0, shape) - 1.0, 1.0),
}
REQUIRED = {(kind, 5000) for kind in ERRORS} | {("normal", 200)}


def simulated_coverage(method, kind, n, weighted, level=0.95):
    """Share of DATASETS data sets whose interval covers the true RMSE.
    Weights, when used, are uniform on [0.5, 2] and independent of the
    errors, so the weighted RMSE is the unweighted one."""
    case_seed = [list(ERRORS).index(kind), n, weighted, method == "bootstrap"]
    rng = np.random.default_rng(case_seed)
    draw, truth = ERRORS[kind]
    errors = draw(rng, (DATASETS, n))
    weights = rng.uniform(0.5, 2.0, (DATASETS, n)) if weighted else [None] * DATASETS
    zeros = np.zeros(n)
    covered = 0
    for i in range(DATASETS):
        _, low, high = root_mean_squared_error_interval(
            zeros, errors[i], sample_weight=weights[i], level=level, method=method, seed=i)
        covered += low <= truth <= high
    return covered / DATASETS


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_coverage(method, capsys):
    """95% intervals cover the true RMSE in 92-98% of the data sets for
    every n = 5000 case and for normal errors at n = 200; the other n = 200
    cases are reported (docs/intervals.md has the table)."""
    rows, misses = [], []
    for n in (200, 5000):
        for kind in ERRORS:
            for weighted in (False, True):
                coverage = simulated_coverage(method, kind, n, weighted)
                required = (kind, n) in REQUIRED
                rows.append(f"{method:9s} n={n:5d} {kind:7s} "
                            f"{'weighted' if weighted else 'unweighted':10s} "
                            f"coverage {coverage:.3f}{'' if required else '  (reported)'}")
                if required and not 0.92 <= coverage <= 0.98:
                    misses.append(rows[-1])
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    assert not misses, misses


# -- the "normal" interval against its formula, computed slowly -----------------------

def normal_oracle(x, w, level):
    """The documented interval from exact sums (Fractions)."""
    x = [Fraction(v) for v in x]
    w = [Fraction(v) for v in w]
    kept = [(xi, wi) for xi, wi in zip(x, w) if wi != 0]
    sw = sum(wi for _, wi in kept)
    sw2 = sum(wi * wi for _, wi in kept)
    mean = sum(wi * xi for xi, wi in kept) / sw
    n_eff = sw * sw / sw2
    var = sum(wi * wi * (xi - mean) ** 2 for xi, wi in kept) / (sw * sw) * n_eff / (n_eff - 1)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    se = math.sqrt(float(var))
    return math.sqrt(max(float(mean) - z * se, 0.0)), math.sqrt(float(mean) + z * se)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_interval_matches_formula(weighted, dtype):
    rng = np.random.default_rng(3)
    t = rng.standard_normal(1000).astype(dtype)
    p = (t + rng.standard_normal(1000) * 0.5).astype(dtype)
    w = rng.uniform(0, 3, 1000) if weighted else None
    if weighted:
        w[::7] = 0.0
    m = RootMeanSquaredError(interval="normal")
    for lo in range(0, 1000, 333):     # any batch split
        m.update_state(t[lo:lo + 333], p[lo:lo + 333],
                       None if w is None else w[lo:lo + 333])
    x = (p.astype(np.float64) - t.astype(np.float64)) ** 2
    expected = normal_oracle(x, np.ones(1000) if w is None else w, 0.9)
    np.testing.assert_allclose(m.confidence_interval(0.9), expected, rtol=1e-12)


def test_normal_interval_layouts():
    """Per-sample weights (n,) on (n, d), a scalar weight, a broadcast
    y_true row and averaged weights (semantics 3.3): the units are what the
    main state counts."""
    rng = np.random.default_rng(4)
    t, p = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    w = rng.uniform(0.5, 2, 50)
    cases = [
        ((t, p, w), ((p - t) ** 2).ravel(), np.repeat(w, 3)),
        ((t, p, 2.5), ((p - t) ** 2).ravel(), np.full(150, 2.5)),
        ((t[0], p, None), ((p - t[0]) ** 2).ravel(), np.ones(150)),
        ((t[..., None], p[..., None], w), ((p - t) ** 2).mean(axis=1), w),     # 3.3
    ]
    t3, p3, w3 = rng.standard_normal((20, 2, 3)), rng.standard_normal((20, 2, 3)), \
        rng.uniform(0.5, 2, 20)
    cases.append(((t3, p3, w3), ((p3 - t3) ** 2).mean(axis=(1, 2)), w3))   # 3.3
    for args, x, weights in cases:
        m = RootMeanSquaredError(interval="normal")
        m.update_state(*args)
        np.testing.assert_allclose(m.confidence_interval(), normal_oracle(x, weights, 0.95),
                                   rtol=1e-9)


@pytest.mark.parametrize("grouped", [False, True])
def test_averaged_units_stay_rows_under_omit(grouped):
    """Issue 18 defect 6: averaged weights (semantics 3.3) under 'omit' -- one
    NaN must not switch the units from rows to elements (docs/intervals.md:
    one unit per averaged row, its mean over the kept elements)."""
    rng = np.random.default_rng(6)
    e = rng.standard_normal((40, 1, 1)) * np.ones((1, 4, 3))   # rows of equal errors
    t, w = np.zeros((40, 4, 3)), rng.uniform(0.5, 2, 40)
    p = e.copy()
    p[0, 0, 0] = np.nan
    p[1] = np.nan                                             # a row with nothing kept
    squares = np.where(np.isnan(p), 0.0, (p - t) ** 2)
    kept = (~np.isnan(p)).sum(axis=(1, 2))
    x, weights = squares.sum(axis=(1, 2))[kept > 0] / kept[kept > 0], w[kept > 0]
    for method in ("normal", "bootstrap"):
        kwargs = dict(dtype="float64", nan_policy="omit", interval=method, n_boot=50)
        if grouped:
            m = rmse_ext.GroupedRootMeanSquaredError(**kwargs)
            m.update_state(t, p, np.zeros(40, int), sample_weight=w)
            got = m.overall_confidence_interval()
            assert np.allclose([v[0] for v in m.confidence_interval()], got, rtol=1e-12)
        else:
            m = RootMeanSquaredError(**kwargs)
            m.update_state(t, p, sample_weight=w)
            got = m.confidence_interval()
        if method == "normal":
            np.testing.assert_allclose(got, normal_oracle(x, weights, 0.95), rtol=1e-9)
        else:   # 40 units drawn (the omitted row's index included), not 480
            assert m.get_state()["interval"]["position"] == 40


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_large_batch_keeps_the_main_state_bitwise(weighted, nan_policy):
    """Big batches fold the moments chunk by chunk next to the main fold
    (taking its sums of w*x and w): the main state is bitwise the plain
    metric's, the moments the same as a small-batch stream's."""
    rng = np.random.default_rng(5)
    n = 5 * _backend.kernel.CHUNK_SIZE + 17
    t, p = rng.standard_normal(n), rng.standard_normal(n)
    w = rng.uniform(0, 2, n) if weighted else None
    if nan_policy == "omit":
        t[::1000] = np.nan
    kwargs = dict(nan_policy=nan_policy)
    plain, normal, pieces = (RootMeanSquaredError(**kwargs),
                             RootMeanSquaredError(interval="normal", **kwargs),
                             RootMeanSquaredError(interval="normal", **kwargs))
    plain.update_state(t, p, w)
    normal.update_state(t, p, w)
    for lo in range(0, n, 10000):
        pieces.update_state(t[lo:lo + 10000], p[lo:lo + 10000],
                            None if w is None else w[lo:lo + 10000])
    assert normal.get_state()["total_hi"] == plain.get_state()["total_hi"]
    assert normal.get_state()["total_lo"] == plain.get_state()["total_lo"]
    np.testing.assert_allclose(normal.confidence_interval(), pieces.confidence_interval(),
                               rtol=1e-14)


# -- the bootstrap: the generator and the replicate sums ----------------------------

def test_poisson_table_is_the_poisson1_cdf():
    cdf, table = 0.0, _backend.kernel.poisson1_table()
    for k, threshold in enumerate(table):
        cdf += math.exp(-1) / math.factorial(k)
        assert threshold == round(cdf * 2**32)
    # draws at or above the last threshold give 12; P(K > 12) is below one 32-bit step
    assert len(table) == 12 and 1 - cdf - math.exp(-1) / math.factorial(12) < 2**-32


def test_poisson_draws_have_the_poisson1_distribution():
    draws = np.array([d for index in range(500)
                      for d in _backend.kernel.poisson1_draws(7, 3, index, 200)])
    pmf = np.array([math.exp(-1) / math.factorial(k) for k in range(6)])
    counts = np.bincount(draws, minlength=8)[:6]
    expected = pmf * draws.size
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.5          # chi-square, 5 dof: P(> 20.5) ~ 0.001
    assert abs(draws.mean() - 1) < 0.01 and abs(draws.var() - 1) < 0.02
    # replicates of one unit, and units of one stream, are not correlated
    grid = draws.reshape(500, 200).astype(float)
    assert abs(np.corrcoef(grid[:, 0], grid[:, 1])[0, 1]) < 0.15
    assert abs(np.corrcoef(grid[0], grid[1])[0, 1]) < 0.2


def bootstrap_oracle(x, w, seed, stream, first, n_boot):
    """Replicate RMSEs from the documented draws, summed with Fractions."""
    tot = [Fraction(0)] * n_boot
    wt = [Fraction(0)] * n_boot
    for i, (xi, wi) in enumerate(zip(x, w)):
        if wi == 0 or math.isnan(xi):
            continue
        for b, k in enumerate(_backend.kernel.poisson1_draws(seed, stream, first + i, n_boot)):
            tot[b] += k * Fraction(wi) * Fraction(xi)
            wt[b] += k * Fraction(wi)
    return np.array([math.sqrt(tot[b] / wt[b]) if wt[b] else math.nan for b in range(n_boot)])


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_replicates_match_oracle_for_any_split(weighted):
    rng = np.random.default_rng(6)
    n = 300
    t, p = rng.standard_normal(n), rng.standard_normal(n)
    w = rng.uniform(0, 2, n) if weighted else None
    if weighted:
        w[::5] = 0
    x = (p - t) ** 2
    expected = bootstrap_oracle(x, np.ones(n) if w is None else w, 11, 0, 0, 16)
    for split in (n, 1, 7, 128):
        m = RootMeanSquaredError(interval="bootstrap", n_boot=16, seed=11)
        for lo in range(0, n, split):
            m.update_state(t[lo:lo + split], p[lo:lo + split],
                           None if w is None else w[lo:lo + split])
        np.testing.assert_allclose(m._interval.replicates(), expected, rtol=1e-13)
        assert m._interval.position == n


def test_bootstrap_percentile_interval():
    rng = np.random.default_rng(8)
    t, p = rng.standard_normal(200), rng.standard_normal(200)
    m = RootMeanSquaredError(interval="bootstrap", n_boot=50, seed=2)
    m.update_state(t, p)
    reps = bootstrap_oracle((p - t) ** 2, np.ones(200), 2, 0, 0, 50)
    np.testing.assert_allclose(m.confidence_interval(0.8), np.quantile(reps, [0.1, 0.9]),
                               rtol=1e-13)


def test_bootstrap_merge_of_streams():
    """Partitions with their own stream ids merge into the sum of their
    replicate sums; equal stream ids that both drew raise."""
    rng = np.random.default_rng(9)
    t, p = rng.standard_normal(100), rng.standard_normal(100)
    a = RootMeanSquaredError(interval="bootstrap", n_boot=8, seed=1, stream=1)
    b = RootMeanSquaredError(interval="bootstrap", n_boot=8, seed=1, stream=2)
    a.update_state(t[:60], p[:60])
    b.update_state(t[60:], p[60:])
    x = (p - t) ** 2
    reps_a = bootstrap_oracle(x[:60], np.ones(60), 1, 1, 0, 8)
    reps_b = bootstrap_oracle(x[60:], np.ones(40), 1, 2, 0, 8)
    a.merge_state(b)
    np.testing.assert_allclose(np.sort(a._interval.replicates()) > 0, True)
    tot = [None] * 8
    draws_a = [_backend.kernel.poisson1_draws(1, 1, i, 8) for i in range(60)]
    draws_b = [_backend.kernel.poisson1_draws(1, 2, i, 8) for i in range(40)]
    tot = np.array([sum(d[r] * x[i] for i, d in enumerate(draws_a))
                    + sum(d[r] * x[60 + i] for i, d in enumerate(draws_b)) for r in range(8)])
    cnt = np.array([sum(d[r] for d in draws_a) + sum(d[r] for d in draws_b) for r in range(8)])
    np.testing.assert_allclose(a._interval.replicates(), np.sqrt(tot / cnt), rtol=1e-13)
    assert not np.allclose(reps_a, reps_b)
    c = RootMeanSquaredError(interval="bootstrap", n_boot=8, seed=1, stream=1)
    c.update_state(t[:5], p[:5])
    before = a.get_state()
    with pytest.raises(ValueError, match="stream"):
        a.merge_state(c)
    assert a.get_state() == before
    with pytest.raises(ValueError, match="n_boot"):
        a.merge_state(RootMeanSquaredError(interval="bootstrap", n_boot=9, seed=1, stream=5))
    with pytest.raises(ValueError, match="interval"):
        a.merge_state(RootMeanSquaredError(interval="normal"))
    with pytest.raises(ValueError, match="interval"):
        RootMeanSquaredError().merge_state(a)


def test_normal_merge_equals_one_stream():
    rng = np.random.default_rng(10)
    t, p, w = rng.standard_normal(300), rng.standard_normal(300), rng.uniform(0, 1, 300)
    whole = RootMeanSquaredError(interval="normal")
    whole.update_state(t, p, w)
    parts = [RootMeanSquaredError(interval="normal") for _ in range(3)]
    for i, part in enumerate(parts):
        part.update_state(t[i * 100:(i + 1) * 100], p[i * 100:(i + 1) * 100],
                          w[i * 100:(i + 1) * 100])
    parts[0].merge_state(parts[1:])
    np.testing.assert_allclose(parts[0].confidence_interval(), whole.confidence_interval(),
                               rtol=1e-14)


# -- the state that travels -------------------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(interval="normal"),
                                    dict(interval="bootstrap", n_boot=20, seed=5, stream=3)])
def test_interval_state_round_trips(kwargs):
    import json
    rng = np.random.default_rng(11)
    m = RootMeanSquaredError(**kwargs)
    m.update_state(rng.standard_normal(50), rng.standard_normal(50), rng.uniform(0, 1, 50))
    state = m.get_state()
    for again in (RootMeanSquaredError.from_state(json.loads(json.dumps(state))),
                  pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert again.get_state() == state
        assert again.confidence_interval() == m.confidence_interval()
        assert again.get_config() == m.get_config()
    restored = RootMeanSquaredError()
    restored.set_state(state)
    assert restored.confidence_interval() == m.confidence_interval()
    # the restored bootstrap continues the stream where it stopped
    more_t, more_p = rng.standard_normal(9), rng.standard_normal(9)
    m.update_state(more_t, more_p)
    restored.update_state(more_t, more_p)
    assert restored.get_state() == m.get_state()


def test_default_state_and_config_unchanged():
    m = RootMeanSquaredError()
    m.update_state([1.0], [2.0])
    assert "interval" not in m.get_state()
    assert m.get_config() == {"name": "root_mean_squared_error", "dtype": "float32"}
    with pytest.raises(ValueError, match="interval=None"):
        m.confidence_interval()


def test_bad_interval_arguments():
    with pytest.raises(ValueError, match="interval"):
        RootMeanSquaredError(interval="exact")
    with pytest.raises(TypeError, match="n_boot"):
        RootMeanSquaredError(interval="bootstrap", n_boot=2.5)
    with pytest.raises(ValueError, match="n_boot"):
        RootMeanSquaredError(interval="bootstrap", n_boot=1)
    with pytest.raises(ValueError, match="seed"):
        RootMeanSquaredError(interval="bootstrap", seed=-1)
    m = RootMeanSquaredError(interval="normal")
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="level"):
            m.confidence_interval(level)
    with pytest.raises(TypeError, match="level"):
        m.confidence_interval("0.9")
    bad = m.get_state()
    bad["interval"] = {"method": "normal", "moments": ["0x1p+0"] * 3}
    with pytest.raises(ValueError, match="moments"):
        RootMeanSquaredError.from_state(bad)


def test_failed_update_leaves_interval_state():
    m = RootMeanSquaredError(interval="bootstrap", n_boot=10)
    m.update_state([1.0, 2.0], [2.0, 2.0])
    before = m.get_state()
    with pytest.raises(ValueError):
        m.update_state([1.0, 2.0, 3.0], [1.0, 2.0])
    assert m.get_state() == before


def test_empty_and_nan():
    for method in ("normal", "bootstrap"):
        m = RootMeanSquaredError(interval=method)
        assert all(math.isnan(v) for v in m.confidence_interval())
        m.update_state([1.0, math.nan], [1.0, 2.0])
        assert all(math.isnan(v) for v in m.confidence_interval())
        m.reset_state()
        assert all(math.isnan(v) for v in m.confidence_interval())


EXTREME = {
    "infinite error": [math.inf, 1.0, 2.0],
    "error 1e80": [1e80, 1.0, 2.0],
    "error 1e77": [1.2e77, 3e76, 1.0],
    "errors near 1e-100": [1e-100, 2e-100, 3e-100, 1.5e-100],
    "equal errors": [0.1] * 1000,
    "equal big errors": [3e60] * 50,
    "all zero": [0.0] * 20,
}


@pytest.mark.parametrize("case", EXTREME)
@pytest.mark.parametrize("method", ["normal", "bootstrap"])
@pytest.mark.parametrize("grouped", [False, True])
def test_extreme_errors_give_an_interval_containing_the_estimate(case, method, grouped):
    """Issue 18 defect 8: no exception at any magnitude; an infinite RMSE
    reads (inf, inf); every finite one an interval containing the estimate,
    exact when the errors are equal."""
    errors = np.array(EXTREME[case])
    kwargs = dict(dtype="float64", interval=method, n_boot=50)
    if grouped:
        m = rmse_ext.GroupedRootMeanSquaredError(**kwargs)
        m.update_state(np.zeros(errors.size), errors, np.zeros(errors.size, int))
        estimate = float(m.overall())
        (low,), (high,) = m.confidence_interval()
        assert (low, high) == m.overall_confidence_interval() or method == "bootstrap"
        low2, high2 = m.overall_confidence_interval()
        assert low2 <= estimate <= high2
    else:
        estimate, low, high = root_mean_squared_error_interval(np.zeros(errors.size), errors,
                                                               method=method, n_boot=50)
    assert not math.isnan(low) and not math.isnan(high)
    if math.isinf(estimate):
        assert (low, high) == (math.inf, math.inf)
    else:
        assert low <= estimate <= high
    if len(set(errors.tolist())) == 1:
        assert low == high == estimate
    elif not math.isinf(estimate):
        assert low < high


def test_zero_weight_removes_its_unit_from_the_interval():
    for method in ("normal", "bootstrap"):
        a = RootMeanSquaredError(interval=method, n_boot=30)
        b = RootMeanSquaredError(interval=method, n_boot=30)
        a.update_state([0.0, 0.0, 0.0, 0.0], [1.0, 3.0, math.inf, 2.0],
                       sample_weight=[1.0, 1.0, 0.0, 2.0])
        b.update_state([0.0, 0.0, 0.0, 0.0], [1.0, 3.0, 5.0, 2.0],
                       sample_weight=[1.0, 1.0, 0.0, 2.0])
        assert a.confidence_interval() == b.confidence_interval()


def test_one_shot_function():
    rng = np.random.default_rng(12)
    t, p = rng.standard_normal(500), rng.standard_normal(500)
    rmse, low, high = root_mean_squared_error_interval(t, p, level=0.9)
    assert rmse == pytest.approx(rmse_ext.root_mean_squared_error(t, p), rel=1e-15)
    m = RootMeanSquaredError(interval="normal")
    m.update_state(t, p)
    assert (low, high) == m.confidence_interval(0.9)
    rmse_b, low_b, high_b = root_mean_squared_error_interval(t, p, method="bootstrap", seed=4)
    assert (low_b, high_b) == root_mean_squared_error_interval(
        t, p, method="bootstrap", seed=4)[1:]
    assert (low_b, high_b) != root_mean_squared_error_interval(
        t, p, method="bootstrap", seed=5)[1:]


# -- the command line and dask ---------------------------------------------------

@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_cli_ci_json(method, tmp_path, capsys):
    import json
    from rmse_ext.cli import main
    rng = np.random.default_rng(13)
    t, p = rng.standard_normal(3000), rng.standard_normal(3000)
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "p.npy", p)
    code = main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "p.npy"), "--json",
                 "--ci", "0.9", "--ci-method", method, "--chunk-rows", "700", "--no-progress"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    m = RootMeanSquaredError(interval=method)
    m.update_state(t, p)
    low, high = m.confidence_interval(0.9)
    assert (out["ci_level"], out["ci_method"]) == (0.9, method)
    np.testing.assert_allclose([out["ci_low"], out["ci_high"]], [low, high], rtol=1e-12)


def test_cli_ci_bad_level(tmp_path, capsys):
    from rmse_ext.cli import main
    np.save(tmp_path / "t.npy", np.zeros(3))
    assert main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "t.npy"), "--ci", "95"]) == 2
    assert "--ci" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_dask_blocks_give_the_interval(method):
    da = pytest.importorskip("dask.array", reason="dask is not installed")
    import rmse_ext.dask
    rng = np.random.default_rng(14)
    t, p, w = rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2)), \
        rng.uniform(0, 1, 4000)
    m = RootMeanSquaredError(interval=method, dtype="float64", n_boot=100)
    rmse_ext.dask.update_state(m, da.from_array(t, chunks=(700, 1)),
                               da.from_array(p, chunks=(1000, 2)), da.from_array(w, chunks=900))
    ref = RootMeanSquaredError(interval=method, dtype="float64", n_boot=100)
    ref.update_state(t, p, w)
    assert m.result() == pytest.approx(ref.result(), rel=1e-15)
    if method == "normal":       # the moments of the blocks add up to the whole's
        np.testing.assert_allclose(m.confidence_interval(), ref.confidence_interval(),
                                   rtol=1e-13)
    else:                        # per-block streams: other draws, the same spread
        assert m._interval.position == 8000
        np.testing.assert_allclose(m.confidence_interval(), ref.confidence_interval(),
                                   rtol=0.02)
        again = RootMeanSquaredError(interval=method, dtype="float64", n_boot=100)
        rmse_ext.dask.update_state(again, da.from_array(t, chunks=(700, 1)),
                                   da.from_array(p, chunks=(1000, 2)),
                                   da.from_array(w, chunks=900))
        assert again.confidence_interval() == m.confidence_interval()
