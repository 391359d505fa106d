"""Accuracy and determinism of the kernel on long and adversarial streams,
and of the multi-threaded path."""
import math
from fractions import Fraction

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError, _parallel
from rmse_ext.reference import Float32RMSE, fsum_rmse, sqrt_fraction

from helpers import ulps


def test_ten_million_small_errors_in_batches_of_32(make_metric):
    # every squared error is e**2 with e = float32(1e-3): the exact RMSE is e
    e = float(np.float32(1e-3))
    y_true = np.zeros(32, dtype=np.float32)
    y_pred = np.full(32, e, dtype=np.float32)
    m = make_metric(dtype="float64")
    for _ in range(10_000_000 // 32):
        m.update_state(y_true, y_pred)
    assert m.count == float(10_000_000 // 32 * 32)
    assert abs(float(m.result()) - e) / e <= 1e-15


def test_float32_accumulation_drifts_on_the_same_stream():
    # the reason for the test above: Keras's float32 totals lose the stream
    e = float(np.float32(1e-3))
    keras_like = Float32RMSE()
    batch = (np.zeros(32, np.float32), np.full(32, e, np.float32))
    for _ in range(10_000_000 // 32 // 10):
        keras_like.update_state(*batch)
    assert abs(float(keras_like.result()) - e) / e > 1e-6


@pytest.mark.parametrize("batch", [None, 1000, 7])
def test_huge_term_then_many_tiny_ones(batch, make_metric):
    # 1.0 then 10**6 contributions of 1e-16 (= (1e-8)**2): each tiny one is
    # below half an ulp of 1.0, so an uncompensated (or -ffast-math) sum
    # keeps none of them
    n_tiny = 1_000_000
    y_pred = np.full(n_tiny + 1, 1e-8)
    y_pred[0] = 1.0
    y_true = np.zeros_like(y_pred)
    m = make_metric(dtype="float64")
    step = batch or y_pred.size
    for start in range(0, y_pred.size, step):
        m.update_state(y_true[start:start + step], y_pred[start:start + step])
    exact_total = Fraction(1) + n_tiny * Fraction(1e-8) ** 2
    exact = sqrt_fraction(exact_total / (n_tiny + 1))
    assert ulps(m.result(), exact) <= 2
    naive = math.sqrt(sum((y_pred ** 2).tolist()) / (n_tiny + 1))
    assert ulps(naive, exact) > 2            # the test can tell the difference


def test_huge_then_tiny_weighted(make_metric):
    n_tiny = 200_000
    y_pred = np.full(n_tiny + 1, 1e-8)
    y_pred[0] = 1.0
    w = np.full(n_tiny + 1, 3.0)
    m = make_metric(dtype="float64")
    m.update_state(np.zeros_like(y_pred), y_pred, w)
    assert ulps(m.result(), fsum_rmse([(np.zeros_like(y_pred), y_pred, w)])) <= 2


def test_float32_extremes_do_not_overflow_in_float64(make_metric):
    # (2 * float32 max)**2 ~ 4.6e77 is far inside float64: finite and exact
    big = float(np.finfo(np.float32).max)
    m = make_metric(dtype="float64")
    m.update_state(np.array([-big], dtype=np.float32), np.array([big], dtype=np.float32))
    assert m.result() == 2 * big


def test_overflow_gives_inf_not_nan(make_metric):
    big = np.finfo(np.float64).max
    m = make_metric(dtype="float64")
    m.update_state(np.array([-big, 0.0]), np.array([big, 1.0]))
    assert np.isposinf(m.result())
    # a sum that overflows only after many finite terms
    m2 = make_metric(dtype="float64")
    m2.update_state(np.zeros(100_000), np.full(100_000, 1e154))
    assert np.isposinf(m2.result())
    # weights that overflow the product
    m3 = make_metric(dtype="float64")
    m3.update_state([0.0, 0.0], [1e200, 1.0], sample_weight=[1e200, 1.0])
    assert np.isposinf(m3.result())


def test_nan_input_gives_nan_in_big_batches(make_metric):
    rng = np.random.default_rng(2)
    p = rng.normal(size=300_000)
    p[123_457] = np.nan
    m = make_metric()
    m.update_state(np.zeros_like(p), p)
    assert np.isnan(m.result())


def test_same_inputs_give_bitwise_the_same_state(make_metric):
    rng = np.random.default_rng(4)
    t, p, w = rng.normal(size=(3, 500_003))
    raws = []
    for _ in range(3):
        m = make_metric()
        m.update_state(t, p, np.abs(w))
        m.update_state(t[:1000], p[:1000])
        raws.append(m._acc.get_raw())
    assert raws[0] == raws[1] == raws[2]


def test_result_reads_the_low_words_when_high_words_cancel(make_metric):
    # signed weights that cancel in the double-double's high word: the
    # count is 1e-20 exactly (held in the low word), and so is the total
    m = make_metric(dtype="float64")
    m.update_state(np.ones(3), np.zeros(3), sample_weight=np.array([1.0, 1e-20, -1.0]))
    assert m.count == 1e-20 and m.total == 1e-20
    assert m.result() == 1.0
    m2 = make_metric(dtype="float64")
    m2.update_state(np.zeros(3), np.array([1.0, 1e-10, 1.0]), sample_weight=[1.0, 1.0, -1.0])
    assert ulps(m2.result(), 1e-10) <= 1


# -- threads -------------------------------------------------------------------

# above the threading threshold, enough chunks for 5 threads, chunks do not divide it
LARGE = 21 * 65536 - 54_321


@pytest.mark.parametrize("case", ["equal", "weighted", "per-sample", "row-true", "scalar-w",
                                  "f32", "column", "row-of-one", "size-1-weight-array"])
def test_threads_give_bitwise_the_same_state(case, kernel, monkeypatch):
    # as if the machine had 8 CPUs, so 3 and 5 threads really run here
    monkeypatch.setattr(_parallel, "available_cpus", lambda: 8)
    rng = np.random.default_rng(5)
    t = rng.normal(size=LARGE)
    p = rng.normal(size=LARGE)
    w = rng.random(LARGE)
    rows5, rows7 = LARGE // 5, LARGE // 7
    args = {
        "equal": lambda: (t, p),
        "weighted": lambda: (t, p, w),
        "per-sample": lambda: (t[: rows5 * 5].reshape(rows5, 5),
                               p[: rows5 * 5].reshape(rows5, 5), w[:rows5]),
        "row-true": lambda: (t[:7], p[: rows7 * 7].reshape(rows7, 7)),
        "scalar-w": lambda: (t, p, 2.5),
        "f32": lambda: (t.astype(np.float32), p.astype(np.float32)),
        "column": lambda: (t.reshape(-1, 1), p.reshape(-1, 1), w),
        "row-of-one": lambda: (t.reshape(1, -1), p.reshape(1, -1), np.array([0.3])),
        "size-1-weight-array": lambda: (t, p, np.array([0.7], dtype=np.float32)),
    }[case]()
    raws = []
    for threads in (1, 2, 3, 5):
        m = RootMeanSquaredError(num_threads=threads)
        m._acc = kernel.Accumulator()
        m.update_state(*args)
        raws.append(m._acc.get_raw())
    assert all(raw == raws[0] for raw in raws)
    single = RootMeanSquaredError()
    single._acc = kernel.Accumulator()
    single.update_state(*args)
    assert single._acc.get_raw() == raws[0]


def test_threads_small_batches_take_the_serial_path():
    m = RootMeanSquaredError(num_threads=4)
    m.update_state([2, 4, 6], [1, 3, 2])
    assert str(m.result()) == "2.4494898"


@pytest.mark.parametrize("bad, exc", [(1025, ValueError), (-2, ValueError), (1.5, TypeError),
                                      ("2", TypeError), (True, TypeError)])
def test_num_threads_is_validated(bad, exc):
    with pytest.raises(exc, match="num_threads"):
        RootMeanSquaredError(num_threads=bad)


def test_num_threads_round_trips_through_config():
    m = RootMeanSquaredError(num_threads=3)
    assert m.get_config()["num_threads"] == 3
    assert RootMeanSquaredError.from_config(m.get_config()).num_threads == 3
    assert "num_threads" not in RootMeanSquaredError().get_config()
