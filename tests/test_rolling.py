"""Issue 19: exact rolling and time-windowed RMSE (rmse_ext.rolling).

The oracle is exact: Fraction sums over each window (prefix sums of
Fractions, differences exact), the root rounded from 60 digits; every value
must be within 2 ulp of it (non-negative weights)."""
import copy
import datetime
import decimal
import json
import math
import pickle
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rmse_ext
from rmse_ext import RollingRootMeanSquaredError, _backend, rolling_root_mean_squared_error
from rmse_ext.rolling import parse_duration, parse_window

decimal.getcontext().prec = 60


@pytest.fixture(autouse=True)
def each_kernel(kernel, monkeypatch):
    """Every test runs on every compiled kernel this machine can run."""
    monkeypatch.setattr(_backend, "kernel", kernel)


# -- the oracle ------------------------------------------------------------------

def exact_root(total, weight):
    """sqrt(total / weight) of two Fractions, correctly rounded (to 60 digits)."""
    if weight == 0:
        return 0.0
    q = total / weight
    return float(decimal.Decimal(q.numerator).sqrt() / decimal.Decimal(q.denominator).sqrt())


def sample_terms(t, p, w):
    """Exact (total, weight, elements) of one sample: t, p, w arrays of its
    elements (w None: unweighted); zero weights remove their element."""
    t, p = np.asarray(t, float).reshape(-1), np.asarray(p, float).reshape(-1)
    if w is None:
        return sum((Fraction(b) - Fraction(a)) ** 2 for a, b in zip(t, p)), Fraction(len(t)), len(t)
    w = np.broadcast_to(np.asarray(w, float), t.shape)
    total = sum(Fraction(c) * (Fraction(b) - Fraction(a)) ** 2
                for a, b, c in zip(t, p, w) if c != 0)
    return total, sum(Fraction(c) for c in w), len(t)


def oracle_windows(terms, window):
    """The exact RMSE of the last `window` samples ending at each sample."""
    out = []
    for i in range(len(terms)):
        part = terms[max(0, i - window + 1):i + 1]
        out.append(exact_root(sum(x[0] for x in part), sum(x[1] for x in part)))
    return out


def ulps(a, b):
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def assert_close(got, want, bound=2):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert ulps(float(g), float(w)) <= bound, (i, g, w)


# -- strategies ------------------------------------------------------------------

# squares that do not underflow (the kernel, as the metric, squares in float64)
finite = st.floats(-1e6, 1e6, allow_nan=False, width=64).filter(lambda x: x == 0 or abs(x) > 1e-100)
weights = st.floats(0, 100, allow_nan=False).filter(lambda x: x == 0 or x > 1e-100)


@st.composite
def streams(draw):
    """Batches of (y_true, y_pred, weight or None) with a common sample shape."""
    width = draw(st.sampled_from([None, 1, 3]))
    weighted = draw(st.sampled_from([None, "sample", "element"]))
    batches = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(0, 5))
        shape = (n,) if width is None else (n, width)
        size = int(np.prod(shape))
        t = np.array(draw(st.lists(finite, min_size=size, max_size=size))).reshape(shape)
        p = np.array(draw(st.lists(finite, min_size=size, max_size=size))).reshape(shape)
        w = None
        if weighted == "sample":
            w = np.array(draw(st.lists(weights, min_size=n, max_size=n)))
        elif weighted == "element":
            w = np.array(draw(st.lists(weights, min_size=size, max_size=size))).reshape(shape)
        batches.append((t, p, w))
    return batches


def terms_of(batches):
    out = []
    for t, p, w in batches:
        for i in range(len(p)):
            wi = None if w is None else (w[i] if w.ndim == p.ndim else w[i])
            out.append(sample_terms(t[i], p[i], wi))
    return out


# -- the streaming class ---------------------------------------------------------

@settings(max_examples=60)
@given(streams(), st.integers(1, 7))
def test_class_matches_the_exact_window_after_every_batch(batches, window):
    m = RollingRootMeanSquaredError(window, dtype="float64")
    slow = RollingRootMeanSquaredError(window, dtype="float64")    # lists: the reading path
    seen = []
    for t, p, w in batches:
        m.update_state(t, p, sample_weight=w)
        slow.update_state(t.tolist(), p.tolist(), sample_weight=None if w is None else w.tolist())
        assert float(slow.result()).hex() == float(m.result()).hex()
        seen += terms_of([(t, p, w)])
        part = seen[-window:]
        want = exact_root(sum(x[0] for x in part), sum(x[1] for x in part))
        assert ulps(float(m.result()), want) <= 2
        assert m.samples == len(part)
        assert m.count == sum(x[2] for x in part)


@settings(max_examples=60)
@given(streams(), st.integers(1, 7))
def test_function_matches_the_exact_window_at_every_sample(batches, window):
    t = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    ws = [b[2] for b in batches]
    w = None if ws[0] is None else np.concatenate(ws)
    got = rolling_root_mean_squared_error(t, p, window=window, sample_weight=w, min_samples=1)
    assert_close(got, oracle_windows(terms_of([(t, p, w)]), window))


def test_keras_reference_and_empty_window():
    m = RollingRootMeanSquaredError(10)
    assert m.result() == 0.0 and m.result().dtype == np.float32
    m.update_state([2, 4, 6], [1, 3, 2])
    assert m.result() == np.float32(math.sqrt(6))
    m.reset_state()
    assert m.result() == 0.0 and m.samples == 0
    m.update_state(np.zeros((0, 3)), np.zeros((0, 3)))      # an empty batch changes nothing
    assert m.result() == 0.0 and m.samples == 0


def test_an_integer_dtype_reads_a_float_result():
    """As RootMeanSquaredError: the result of an integer-dtype metric is
    float64 (it was the RMSE truncated to the integer dtype)."""
    m = RollingRootMeanSquaredError(3, dtype="int32")
    m.update_state([0, 0], [1, 2])
    assert m.result().dtype == np.float64 and m.result() == math.sqrt(5 / 2)
    assert m.result() is m.result()                 # kept until the window changes
    m.update_state([0], [3])
    assert m.result() == math.sqrt(14 / 3)


def test_a_sample_is_a_leading_index_and_all_its_elements_count():
    m = RollingRootMeanSquaredError(2, dtype="float64")
    m.update_state(np.zeros((3, 2)), [[1, 1], [2, 2], [3, 5]])
    assert m.samples == 2 and m.count == 4
    assert m.result() == math.sqrt((4 + 4 + 9 + 25) / 4)
    m.update_state(np.zeros((1, 2, 1)), [[[1], [1]]])        # rank fix-up: (1, 2, 1) -> (1, 2)
    assert m.samples == 2 and m.result() == math.sqrt((9 + 25 + 1 + 1) / 4)


def test_averaged_weights_and_big_integers_per_sample():
    """Semantics 3.3 layouts and integers past 2**53 take the planner per
    sample: window 1 reads exactly what RootMeanSquaredError reads of that
    sample alone."""
    rng = np.random.default_rng(1)
    t, p, w = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2)), rng.uniform(size=4)
    got = rolling_root_mean_squared_error(t, p, window=1, sample_weight=w)
    for i in range(4):
        ref = rmse_ext.RootMeanSquaredError(dtype="float64")
        ref.update_state(t[i:i + 1], p[i:i + 1], sample_weight=w[i:i + 1])
        assert got[i] == ref.result()
    big = np.array([2**62 + 1, 2**62], dtype=np.int64)
    got = rolling_root_mean_squared_error(big, np.array([2**62, 2**62], np.int64), window=1)
    assert got.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_integers_past_2_53_are_exact_in_every_window(dtype):
    """Integers float64 cannot hold take the kernel's exact difference (no
    Python loop per sample): function, class and a time window against the
    exact oracle, one- and two-element samples, weighted and not."""
    rng = np.random.default_rng(5)
    base = 2**62 if dtype == np.int64 else 2**64 - 2**40
    t = (base - rng.integers(0, 2**40, size=(40, 2)).astype(object)).astype(dtype)
    p = (base - rng.integers(0, 2**40, size=(40, 2)).astype(object)).astype(dtype)
    w2 = rng.uniform(0, 2, size=(40, 2))

    def terms(tt, pp, ww):
        out = []
        for i in range(len(tt)):
            a, b = np.atleast_1d(tt[i]), np.atleast_1d(pp[i])
            c = np.ones(len(a)) if ww is None else np.atleast_1d(ww[i])
            out.append((sum(Fraction(x) * (int(y) - int(z)) ** 2 for x, y, z in zip(c, b, a)),
                        sum(Fraction(x) for x in c), len(a)))
        return out

    for tt, pp, ws in ((t[:, 0], p[:, 0], w2[:, 0]), (t, p, w2)):
        for weight in (None, ws):
            want = oracle_windows(terms(tt, pp, weight), 3)
            got = rolling_root_mean_squared_error(tt, pp, window=3, sample_weight=weight,
                                                  min_samples=1)
            assert_close(got, want)
            m = RollingRootMeanSquaredError(3, dtype="float64")
            for part in (slice(0, 25), slice(25, 40)):
                m.update_state(tt[part], pp[part],
                               sample_weight=None if weight is None else weight[part])
            assert ulps(float(m.result()), want[-1]) <= 2
    got = rolling_root_mean_squared_error(t[:, 0], p[:, 0], window=1.2, time=np.arange(40) * 0.5)
    assert_close(got, oracle_windows(terms(t[:, 0], p[:, 0], None), 3))


def test_bad_input_changes_nothing():
    m = RollingRootMeanSquaredError(3, dtype="float64")
    m.update_state([0.0, 0.0], [1.0, 2.0])
    before = m.get_state()
    with pytest.raises(ValueError):
        m.update_state([0.0, 0.0, 0.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        m.update_state([[0.0, 0.0, 0.0]] * 4, [[1.0, 1.0, 1.0]] * 4, sample_weight=[1, 1, 1])
    with pytest.raises(TypeError):
        m.update_state(["a"], [1.0])
    assert m.get_state() == before


def test_window_argument_errors():
    for bad in (0, -3):
        with pytest.raises(ValueError, match="window"):
            RollingRootMeanSquaredError(bad)
    for bad in (True, None, [3]):
        with pytest.raises(TypeError, match="window"):
            RollingRootMeanSquaredError(bad)
    for bad in ("1 fortnight", "3M", "", "-1h", np.timedelta64(1, "M")):
        with pytest.raises(ValueError, match="window"):
            RollingRootMeanSquaredError(bad)
    with pytest.raises(ValueError, match="needs time="):
        RollingRootMeanSquaredError("1h").update_state([0.0], [1.0])


def test_durations():
    assert parse_duration("15min") == 15 * 60 * 10**9
    assert parse_duration("1h") == 3600 * 10**9 == parse_duration("1H") == parse_duration("60min")
    assert parse_duration("7D") == 7 * 86400 * 10**9
    assert parse_duration("1h30min") == 5400 * 10**9
    assert parse_duration("250ms") == 250 * 10**6
    assert parse_window(datetime.timedelta(hours=1)).span_i == 3600 * 10**9
    assert parse_window(np.timedelta64(2, "s")).span_i == 2 * 10**9
    assert parse_window(2.5).span_f == 2.5


# -- time windows ----------------------------------------------------------------

@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 5), finite, weights), min_size=1, max_size=30),
       st.integers(1, 8))
def test_time_window_matches_the_exact_window(rows, span):
    gaps, errors, w = zip(*rows)
    times = np.cumsum(gaps).astype(float)
    e, w = np.array(errors), np.array(w)
    got = rolling_root_mean_squared_error(np.zeros(len(e)), e, window=float(span),
                                          sample_weight=w, time=times)
    want = []
    for i in range(len(e)):
        inside = [j for j in range(i + 1) if times[j] > times[i] - span]
        want.append(exact_root(sum(Fraction(w[j]) * Fraction(e[j]) ** 2 for j in inside),
                               sum(Fraction(w[j]) for j in inside)))
    assert_close(got, want)
    m = RollingRootMeanSquaredError(float(span), dtype="float64")
    cut = len(e) // 2
    m.update_state(np.zeros(cut), e[:cut], sample_weight=w[:cut], time=times[:cut])
    m.update_state(np.zeros(len(e) - cut), e[cut:], sample_weight=w[cut:], time=times[cut:])
    assert ulps(float(m.result()), want[-1]) <= 2


def test_datetime_windows_are_half_open():
    t0 = np.datetime64("2026-01-01T00:00:00", "s")
    times = t0 + np.array([0, 1800, 3599, 3600, 7300], dtype="timedelta64[s]")
    e = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    for window in ("1h", datetime.timedelta(hours=1), np.timedelta64(60, "m")):
        got = rolling_root_mean_squared_error(np.zeros(5), e, window=window, time=times)
        want = [1.0, math.sqrt(5 / 2), math.sqrt(14 / 3), math.sqrt(29 / 3), 5.0]
        assert_close(got, want)


def test_a_decreasing_time_names_its_position_and_changes_nothing():
    m = RollingRootMeanSquaredError(10.0, dtype="float64")
    m.update_state([0.0, 0.0], [1.0, 2.0], time=[1.0, 2.0])
    before = m.get_state()
    with pytest.raises(ValueError, match="position 2"):
        m.update_state([0.0] * 3, [1.0] * 3, time=[3.0, 4.0, 3.5])
    with pytest.raises(ValueError, match="non-decreasing"):
        m.update_state([0.0], [1.0], time=[1.5])
    assert m.get_state() == before
    with pytest.raises(ValueError, match="position 3"):
        rolling_root_mean_squared_error([0] * 4, [1] * 4, window=2.0, time=[0, 1, 2, 1])


# -- exactness where subtraction fails ------------------------------------------

def test_a_burst_leaves_no_trace():
    """Issue 19's case: errors ~1 with ten errors of 1e150 in the middle,
    window 100: once the burst has left, every value is exact again (pandas
    reads 0.0 there, polars NaN)."""
    rng = np.random.default_rng(19)
    e = rng.normal(size=3000)
    e[1500:1510] = 1e150
    got = rolling_root_mean_squared_error(np.zeros_like(e), e, window=100)
    sq = [Fraction(x) ** 2 for x in e]
    prefix = [Fraction(0)]
    for x in sq:
        prefix.append(prefix[-1] + x)
    want = [math.nan] * 99 + [exact_root(prefix[i + 1] - prefix[i - 99], Fraction(100))
                              for i in range(99, len(e))]
    assert_close(got, want)
    assert 0.5 < got[-1] < 2


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_and_inf_leave_the_window(bad):
    e = np.array([1.0, 2.0, bad, 3.0, 4.0, 5.0])
    got = rolling_root_mean_squared_error(np.zeros(6), e, window=2, nan_policy="propagate")
    assert math.isnan(got[0])                        # fewer than min_samples
    assert got[1] == math.sqrt(5 / 2)
    assert (math.isnan(got[2]) and math.isnan(got[3])) if bad != bad else \
        (got[2] == math.inf and got[3] == math.inf)
    assert got[4] == math.sqrt(25 / 2) and got[5] == math.sqrt(41 / 2)
    m = RollingRootMeanSquaredError(2, dtype="float64")
    for x in e:
        m.update_state([0.0], [x])
    assert m.result() == math.sqrt(41 / 2)


def test_omit_skips_missing_elements_and_their_weights():
    e = np.array([1.0, np.nan, 3.0, 4.0])
    w = np.array([1.0, 5.0, np.nan, 2.0])
    got = rolling_root_mean_squared_error(np.zeros(4), e, window=2, sample_weight=w,
                                          nan_policy="omit", min_samples=1)
    assert got[0] == 1.0 and got[1] == 1.0
    assert math.isnan(got[2])                           # nothing kept in the window
    assert got[3] == 4.0
    m = RollingRootMeanSquaredError(2, dtype="float64", nan_policy="omit")
    m.update_state([[0.0, 0.0]], [[np.nan, 2.0]])
    assert m.result() == 2.0 and m.count == 1


def test_raise_names_argument_and_position():
    with pytest.raises(ValueError, match="y_pred.*position 1"):
        rolling_root_mean_squared_error([0.0, 0.0], [1.0, np.nan], window=2)
    with pytest.raises(ValueError, match="nan_policy='raise'"):
        RollingRootMeanSquaredError(2, nan_policy="raise").update_state([0.0], [np.nan])


def test_windows_larger_than_the_stream_and_min_samples():
    e = np.array([3.0, 4.0])
    assert np.isnan(rolling_root_mean_squared_error(np.zeros(2), e, window=5)).all()
    got = rolling_root_mean_squared_error(np.zeros(2), e, window=5, min_samples=2)
    assert math.isnan(got[0]) and got[1] == math.sqrt(12.5)
    m = RollingRootMeanSquaredError(1000, dtype="float64")
    m.update_state([0.0, 0.0], e)
    assert m.result() == math.sqrt(12.5)
    with pytest.raises(ValueError, match="min_samples"):
        rolling_root_mean_squared_error(np.zeros(2), e, window=5, min_samples=-1)


# -- series ------------------------------------------------------------------------

@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), finite), min_size=1, max_size=40),
       st.integers(1, 5))
def test_windows_never_cross_series(rows, window):
    keys, e = zip(*rows)
    e = np.array(e)
    got = rolling_root_mean_squared_error(np.zeros(len(e)), e, window=window, groups=list(keys),
                                          min_samples=1)
    for key in set(keys):
        idx = [i for i, k in enumerate(keys) if k == key]
        want = oracle_windows([sample_terms([0.0], [e[i]], None) for i in idx], window)
        assert_close(got[idx], want)
    ints = rolling_root_mean_squared_error(np.zeros(len(e)), e, window=window, min_samples=1,
                                           groups=np.array([ord(k) * 10**12 for k in keys]))
    assert ints.tolist() == got.tolist()


@pytest.mark.parametrize("weighted", [False, True])
def test_long_series_windows_match_the_exact_window(weighted):
    """Blocks of many samples (the block-suffix kernel's buffers grow past
    their first size): count and time windows, three interleaved series,
    bursts of samples at one time, against exact prefix sums per series."""
    rng = np.random.default_rng(7)
    n = 1500
    keys = rng.integers(0, 3, size=n)
    e = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4, size=n)
    w = rng.uniform(0, 3, size=n) if weighted else None
    w_exact = np.ones(n) if w is None else w
    gaps = np.where(rng.uniform(size=n) < 0.7, 0, rng.integers(1, 4, size=n))
    times = np.datetime64("2026-01-01", "ns") + np.cumsum(gaps).astype("timedelta64[s]")
    for window, time in ((150, None), ("400s", times)):
        got = rolling_root_mean_squared_error(np.zeros(n), e, window=window, sample_weight=w,
                                              time=time, groups=keys, min_samples=1)
        for key in range(3):
            idx = np.flatnonzero(keys == key)
            tot, wsum = [Fraction(0)], [Fraction(0)]
            for i in idx:
                tot.append(tot[-1] + Fraction(w_exact[i]) * Fraction(e[i]) ** 2)
                wsum.append(wsum[-1] + Fraction(w_exact[i]))
            want = []
            for k, i in enumerate(idx):
                if time is None:
                    start = max(0, k - window + 1)
                else:
                    start = int(np.searchsorted(times[idx], times[i] - np.timedelta64(400, "s"),
                                                side="right"))
                want.append(exact_root(tot[k + 1] - tot[start], wsum[k + 1] - wsum[start]))
            assert_close(got[idx], want)


def test_time_order_is_per_series():
    got = rolling_root_mean_squared_error([0] * 4, [1, 2, 3, 4], window=10.0,
                                          time=[5, 0, 6, 1], groups=["a", "b", "a", "b"])
    assert got.tolist() == [1.0, 2.0, math.sqrt(5), math.sqrt(10)]
    with pytest.raises(ValueError, match="position 2"):
        rolling_root_mean_squared_error([0] * 3, [1, 2, 3], window=10.0,
                                        time=[5, 0, 4], groups=["a", "b", "a"])


# -- state -------------------------------------------------------------------------

@pytest.mark.parametrize("window", [5, 3.0, "2s"])
def test_a_resumed_monitor_continues_bitwise(window):
    rng = np.random.default_rng(5)
    e = rng.normal(size=60) * 10.0 ** rng.integers(-5, 5, size=60)
    w = rng.uniform(size=60)
    if isinstance(window, str):
        times = np.datetime64("2026-01-01") + np.cumsum(rng.integers(0, 2000, 60)).astype(
            "timedelta64[ms]")
    else:
        times = np.cumsum(rng.integers(0, 2, 60)).astype(float)
    kw = {} if isinstance(window, int) else {}
    a = RollingRootMeanSquaredError(window, dtype="float64", nan_policy="omit")
    results = []
    for i in range(0, 60, 4):
        sl = slice(i, i + 4)
        a.update_state(np.zeros(4), e[sl], sample_weight=w[sl], time=times[sl], **kw)
        results.append(a.result())
        if i == 28:
            b = RollingRootMeanSquaredError.from_state(json.loads(json.dumps(a.get_state())))
            c = pickle.loads(pickle.dumps(a))
            d = copy.deepcopy(a)
            rest = [(np.zeros(4), e[j:j + 4], w[j:j + 4], times[j:j + 4])
                    for j in range(32, 60, 4)]
    for other in (b, c, d):
        got = []
        for t, p, ww, tt in rest:
            other.update_state(t, p, sample_weight=ww, time=tt)
            got.append(other.result())
        assert [x.hex() for x in map(float, got)] == [x.hex() for x in map(float, results[8:])]
    e2 = RollingRootMeanSquaredError(3)
    e2.set_state(a.get_state())
    assert e2.result() == a.result() and e2.get_config() == a.get_config()


def test_config_round_trip_and_state_errors():
    m = RollingRootMeanSquaredError("15min", name="r", dtype="float64", nan_policy="omit")
    config = m.get_config()
    assert config == {"name": "r", "dtype": "float64", "nan_policy": "omit",
                      "window": f"{15 * 60 * 10**9}ns"}
    again = RollingRootMeanSquaredError.from_config(config)
    assert again.get_config() == config
    with pytest.raises(ValueError, match="format"):
        RollingRootMeanSquaredError.from_state({"format": "nope"})
    state = m.get_state()
    state["front"] = 3
    with pytest.raises(ValueError, match="front"):
        m.set_state(state)
    assert m.get_config() == config


# -- frames ------------------------------------------------------------------------

def frame_data():
    rng = np.random.default_rng(7)
    n = 40
    t0 = np.datetime64("2026-03-01T00:00:00", "s")
    return {
        "k": np.array(["a", "b", "c"])[rng.integers(0, 3, n)],
        "ts": (t0 + np.cumsum(rng.integers(0, 900, n)).astype("timedelta64[s]")).astype("M8[ms]"),
        "y": rng.normal(size=n), "yhat": rng.normal(size=n), "w": rng.uniform(size=n),
    }




@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
def test_frames_are_row_aligned_with_key_and_time_columns(library):
    d = frame_data()
    if library == "dict":
        frame = d
    elif library == "pandas":
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(d, index=np.arange(100, 140))
    elif library == "polars":
        pl = pytest.importorskip("polars")
        frame = pl.DataFrame(d)
    else:
        pa = pytest.importorskip("pyarrow")
        frame = pa.table(d)
    out = rmse_ext.rolling(frame, "y", "yhat", window="1h", on="ts", by="k", weight="w")
    assert type(out).__module__.split(".")[0] == type(frame).__module__.split(".")[0]
    cols = out if library == "dict" else {c: np.asarray(out[c]) for c in
                                          (out.columns if library != "pyarrow" else
                                           out.column_names)}
    assert list(cols) == ["k", "ts", "rmse", "count", "weight_sum", "omitted"]
    want = rolling_root_mean_squared_error(d["y"], d["yhat"], window="1h", time=d["ts"],
                                           groups=list(d["k"]), sample_weight=d["w"])
    assert np.asarray(cols["rmse"]).tolist() == want.tolist()
    assert np.asarray(cols["k"]).tolist() == d["k"].tolist()
    for i in (0, 17, 39):
        inside = [j for j in range(i + 1) if d["k"][j] == d["k"][i]
                  and d["ts"][j] > d["ts"][i] - np.timedelta64(3600, "s")]
        assert cols["count"][i] == len(inside)
        assert ulps(float(cols["weight_sum"][i]), math.fsum(d["w"][inside])) <= 2
    if library == "pandas":
        assert out.index.tolist() == list(range(100, 140))


def test_frames_agree_with_pandas_where_pandas_is_exact():
    pd = pytest.importorskip("pandas")
    e = np.arange(20, dtype=float)
    frame = pd.DataFrame({"y": np.zeros(20), "yhat": e})
    out = rmse_ext.rolling(frame, "y", "yhat", window=4)
    want = np.sqrt((frame["yhat"] ** 2).rolling(4).mean())
    assert np.allclose(out["rmse"], want, rtol=0, atol=0, equal_nan=True)


def test_frame_errors_name_columns():
    d = frame_data()
    with pytest.raises(ValueError, match="no column 'nope'"):
        rmse_ext.rolling(d, "y", "nope", window=3)
    bad = dict(d, yhat=np.where(np.arange(40) == 5, np.nan, d["yhat"]))
    with pytest.raises(ValueError, match="'yhat'.*row 5"):
        rmse_ext.rolling(bad, "y", "yhat", window=3)
    with pytest.raises(ValueError, match="'ts'.*non-decreasing"):
        rmse_ext.rolling(dict(d, ts=d["ts"][::-1]), "y", "yhat", window="1h", on="ts")
    with pytest.raises(TypeError, match="frame"):
        rmse_ext.rolling([1, 2], "y", "yhat", window=3)


# -- the command line ------------------------------------------------------------

def write_csv(path, d, rows=None):
    import csv as csvmod
    with open(path, "w", newline="") as f:
        w = csvmod.writer(f)
        w.writerow(list(d))
        for i in range(len(d["y"]) if rows is None else rows):
            w.writerow([str(d[c][i]) if c in ("k", "ts") else repr(float(d[c][i])) for c in d])


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_cli_streams_per_row_values(tmp_path, suffix):
    from rmse_ext.cli import main
    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    d = frame_data()
    src = tmp_path / "log.csv"
    write_csv(src, d)
    out = tmp_path / f"r.{suffix}"
    code = main(["rolling", str(src), "--true-column", "y", "--pred-column", "yhat",
                 "--weight-column", "w", "--window", "1h", "--time-column", "ts",
                 "--group-column", "k", "--chunk-rows", "7", "--out", str(out), "--no-progress"])
    assert code == 0
    if suffix == "csv":
        import csv as csvmod
        with open(out, newline="") as f:
            rows = list(csvmod.DictReader(f))
        got = {c: [r[c] for r in rows] for c in rows[0]}
    else:
        import pyarrow.parquet as pq
        got = {c: [str(x) for x in v] for c, v in pq.read_table(out).to_pydict().items()}
    assert list(got) == ["k", "ts", "rmse", "count", "weight_sum", "omitted"]
    want = rolling_root_mean_squared_error(d["y"], d["yhat"], window="1h", time=d["ts"],
                                           groups=list(d["k"]), sample_weight=d["w"])
    assert [float(x) for x in got["rmse"]] == want.tolist()
    assert got["k"] == d["k"].tolist()


def test_cli_errors_exit_2_naming_the_file(tmp_path, capsys):
    from rmse_ext.cli import main
    d = frame_data()
    d["ts"] = d["ts"][::-1]
    src = tmp_path / "log.csv"
    write_csv(src, d)
    code = main(["rolling", str(src), "--true-column", "y", "--pred-column", "yhat",
                 "--window", "1h", "--time-column", "ts", "--out", str(tmp_path / "r.csv")])
    assert code == 2
    err = capsys.readouterr().err
    assert "log.csv" in err and "non-decreasing" in err
    code = main(["rolling", str(src), "--true-column", "y", "--pred-column", "yhat",
                 "--window", "1h", "--out", str(tmp_path / "r.csv")])
    assert code == 2 and "--time-column" in capsys.readouterr().err


def test_a_time_window_reaching_before_1677_keeps_its_samples():
    """A window of 100,000 days at times in 1700 holds every sample: its start
    t - span lies below int64 nanoseconds' range (1677-09-21) and saturates
    (review defect: it wrapped, the class kept no sample and the function
    never returned -- run here in a child process with a time limit)."""
    times = np.array(["1700-01-01", "1700-01-02", "1700-01-03"], dtype="M8[ns]")
    m = rmse_ext.RollingRootMeanSquaredError("100000D", dtype="float64")
    m.update_state(np.zeros(3), [1.0, 2.0, 3.0], time=times)
    assert m.samples == 3
    assert abs(float(m.result()) - math.sqrt(14.0 / 3.0)) <= 2 * math.ulp(math.sqrt(14.0 / 3.0))
    code = ("import numpy as np, rmse_ext\n"
            "t = np.array(['1700-01-01', '1700-01-02', '1700-01-03'], dtype='M8[ns]')\n"
            "v = rmse_ext.rolling_root_mean_squared_error(np.zeros(3), [1., 2., 3.], "
            "window='100000D', time=t)\n"
            "print(repr(v.tolist()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    exact = [math.sqrt(sum(x * x for x in range(1, k + 1)) / k) for k in (1, 2, 3)]
    got = eval(out)
    assert all(abs(g - e) <= 2 * math.ulp(e) for g, e in zip(got, exact)), (got, exact)


@pytest.mark.parametrize("window", ["106752D", np.timedelta64(106752, "D"),
                                    datetime.timedelta(days=106752)])
def test_a_window_longer_than_int64_nanoseconds_is_a_value_error_naming_it(window):
    """(review defect: accepted, then OverflowError in the kernel; a
    timedelta64 in days wrapped silently when cast to nanoseconds)."""
    with pytest.raises(ValueError, match="window .* longer than int64 nanoseconds"):
        RollingRootMeanSquaredError(window)
    with pytest.raises(ValueError, match="window .* longer than int64 nanoseconds"):
        rolling_root_mean_squared_error([0.0], [1.0], window=window, time=np.zeros(1, "M8[ns]"))
    ok = RollingRootMeanSquaredError(np.timedelta64(106751, "D"))      # fits: exact
    assert ok.get_config()["window"] == f"{106751 * 86400 * 10**9}ns"
