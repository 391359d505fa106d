"""Hardening: a battery of bad and odd inputs, arrays of more than 2**31
elements, and resident-memory growth over long runs of updates.

Rejected input must raise the right exception class with a message that
names the argument, and leave the state bitwise unchanged (semantics 4).  Odd but
valid input (layouts, subclasses, NaN/inf weights, broadcast views) must give
the same state as the plain C-contiguous copy of the same numbers.
"""
import datetime
import gc
import math
import mmap
import os
import sys
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError

from helpers import snapshot
from zoo import LAYOUTS, relayout

# -- the battery of rejected input ----------------------------------------------------

Z43 = np.zeros((4, 3))


def update(y_true, y_pred, sample_weight=None):
    """An update with these arguments (generators are made afresh each call)."""
    def act(metric):
        fresh = [a() if callable(a) else a for a in (y_true, y_pred, sample_weight)]
        metric.update_state(fresh[0], fresh[1], sample_weight=fresh[2])
    return act


def construct(**kwargs):
    """Building a metric with these arguments (the existing one must not move)."""
    return lambda metric: RootMeanSquaredError(**kwargs)


def masked(values):
    return np.ma.masked_array(values, mask=[i % 2 for i in range(len(values))])


def generator():
    return (x for x in [1.0, 2.0])


# (id, argument the message must name, exception class, action on a metric)
REJECTED = [
    # dtypes that are not real numbers, in each argument (semantics 2.1)
    ("object-array", "y_true", TypeError, update(np.array([1.0, 2.0], dtype=object), [1.0, 2.0])),
    ("object-mixed", "y_pred", TypeError, update([1.0, 2.0], np.array([1.0, "x"], dtype=object))),
    ("str-list", "y_true", TypeError, update(["a", "b"], [1.0, 2.0])),
    ("str-scalar", "y_pred", TypeError, update([1.0], "1.0")),
    ("unicode-array", "y_pred", TypeError, update([1.0], np.array(["1.0"]))),
    ("bytes-scalar", "y_true", TypeError, update(b"12", [1.0])),
    ("bytes-array", "y_pred", TypeError, update([1.0, 2.0], np.array([b"a", b"b"]))),
    ("complex128", "y_true", TypeError, update(np.array([1 + 2j]), [1.0])),
    ("complex64", "y_pred", TypeError, update([1.0], np.array([1.0], dtype=np.complex64))),
    ("complex-scalar", "y_true", TypeError, update(1j, 1.0)),
    ("clongdouble", "y_pred", TypeError, update([1.0], np.array([1j], dtype=np.clongdouble))),
    ("python-int-beyond-uint64", "y_true", TypeError, update([2**70], [1.0])),
    ("fractions", "y_true", TypeError, update([Fraction(1, 3)], [1.0])),
    ("datetime64", "y_pred", TypeError, update([1.0], np.array(["2020-01-01"], dtype="datetime64[D]"))),
    ("datetime-objects", "y_pred", TypeError, update([1.0], [datetime.datetime(2020, 1, 1)])),
    ("timedelta64", "y_true", TypeError, update(np.array([1], dtype="timedelta64[s]"), [1.0])),
    ("timedelta-objects", "y_true", TypeError, update([datetime.timedelta(1)], [1.0])),
    ("void", "y_pred", TypeError, update([1.0, 2.0], np.zeros(2, dtype="V8"))),
    ("structured", "y_true", TypeError, update(np.zeros(2, dtype=[("a", "f8")]), [1.0, 2.0])),
    ("None-true", "y_true", TypeError, update(None, [1.0])),
    ("None-pred", "y_pred", TypeError, update([1.0], None)),
    ("None-inside", "y_true", TypeError, update([1.0, None], [1.0, 2.0])),
    ("dict", "y_true", TypeError, update({"a": 1.0}, [1.0])),
    ("set", "y_pred", TypeError, update([1.0], {1.0})),
    ("generator", "y_true", TypeError, update(generator, [1.0, 2.0])),
    ("masked-true", "y_true", TypeError, update(lambda: masked([1.0, 2.0]), [1.0, 2.0])),
    ("masked-pred", "y_pred", TypeError, update([1.0, 2.0], lambda: masked([1.0, 2.0]))),
    # ragged nested sequences
    ("ragged-true", "y_true", ValueError, update([[1.0, 2.0], [3.0]], [1.0, 2.0])),
    ("ragged-pred", "y_pred", ValueError, update([1.0, 2.0], [[1.0], [2.0, 3.0]])),
    ("ragged-deep", "y_true", ValueError, update([[1.0], [[2.0]]], [1.0])),
    # shapes that do not broadcast (semantics 2.2, 2.3)
    ("shape-4-vs-3", "y_true", ValueError, update(np.zeros(4), np.zeros(3))),
    ("shape-2x3-vs-3x2", "y_pred", ValueError, update(np.zeros((2, 3)), np.zeros((3, 2)))),
    ("shape-inner-mismatch", "y_true", ValueError, update(np.zeros((2, 3, 4)), np.zeros((2, 4)))),
    ("shape-empty-vs-3", "y_true", ValueError, update(np.zeros(0), np.zeros(3))),
    ("shape-no-squeeze-non-unit", "y_pred", ValueError, update(np.zeros(3), np.zeros((3, 2)))),
    ("shape-squeezed-still-wrong", "y_true", ValueError, update(np.zeros((2, 1)), np.zeros(3))),
    # weights: wrong dtype
    ("weight-str", "sample_weight", TypeError, update([1.0], [2.0], "heavy")),
    ("weight-complex", "sample_weight", TypeError, update([1.0], [2.0], [1j])),
    ("weight-object", "sample_weight", TypeError, update([1.0], [2.0], np.array([1.0], dtype=object))),
    ("weight-datetime", "sample_weight", TypeError, update([1.0], [2.0], np.array(["2020"], dtype="datetime64[Y]"))),
    ("weight-0d-object", "sample_weight", TypeError, update([1.0], [2.0], np.array(None))),
    ("weight-dict", "sample_weight", TypeError, update([1.0], [2.0], {"w": 1.0})),
    ("weight-generator", "sample_weight", TypeError, update([1.0, 2.0], [2.0, 3.0], generator)),
    ("weight-masked", "sample_weight", TypeError, update([1.0, 2.0], [2.0, 3.0], lambda: masked([1.0, 1.0]))),
    ("weight-ragged", "sample_weight", ValueError, update(np.zeros(3), np.zeros(3), [[1.0], [2.0, 3.0]])),
    # weights: wrong shape (semantics 3.1 - 3.4)
    ("weight-3-vs-4x3", "sample_weight", ValueError, update(Z43, Z43, np.ones(3))),
    ("weight-4x2-vs-4x3", "sample_weight", ValueError, update(Z43, Z43, np.ones((4, 2)))),
    ("weight-4x3x2-vs-4x3", "sample_weight", ValueError, update(Z43, Z43, np.ones((4, 3, 2)))),
    ("weight-5-vs-4x3", "sample_weight", ValueError, update(Z43, Z43, np.ones(5))),
    ("weight-3-vs-2x3x4", "sample_weight", ValueError,
     update(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones(3))),
    ("weight-empty-vs-4x3", "sample_weight", ValueError, update(Z43, Z43, np.ones(0))),
    # the metric's own dtype and name (semantics 1)
    ("dtype-complex64", "dtype", TypeError, construct(dtype="complex64")),
    ("dtype-complex", "dtype", TypeError, construct(dtype="complex")),
    ("dtype-nonsense", "dtype", TypeError, construct(dtype="nonsense")),
    ("dtype-object", "dtype", TypeError, construct(dtype=object)),
    ("dtype-number", "dtype", TypeError, construct(dtype=3)),
    ("name-not-str", "name", TypeError, construct(name=3)),
]


@pytest.mark.parametrize("arg, exc, act", [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_input_names_the_argument_and_changes_nothing(arg, exc, act, make_metric):
    m = make_metric()
    m.update_state([1.0, 2.0, 3.0], [1.5, 2.0, 2.0], sample_weight=[1.0, 2.0, 0.5])
    before, result_before = snapshot(m), m.result()
    with pytest.raises(exc) as info:
        act(m)
    assert type(info.value) is exc  # not a subclass such as numpy's AxisError
    message = str(info.value)
    assert arg in message, message
    if exc is ValueError and "shape" in message:
        assert "(" in message, message  # the shapes are spelled out
    assert snapshot(m) == before
    assert m.result().tobytes() == result_before.tobytes()


def test_battery_covers_at_least_40_kinds():
    ids = [c[0] for c in REJECTED]
    assert len(set(ids)) == len(ids) >= 40


# -- odd but valid input: the same state as the plain copy ------------------------------

def state_of(make_metric, *args):
    m = make_metric(dtype="float64")
    m.update_state(*args)
    return m._acc.get_raw()


def plain(a):
    """The same numbers as a fresh C-contiguous ndarray of the same dtype."""
    if a is None or np.isscalar(a):
        return a
    return np.array(np.asarray(a), order="C", copy=True)


RNG = np.random.default_rng(11)
T32 = (RNG.normal(size=(6, 5)) * 10).astype(np.float32)
P32 = (RNG.normal(size=(6, 5)) * 10).astype(np.float32)
W6 = RNG.random(6)


def byteswapped(a):
    return a.astype(a.dtype.newbyteorder("S"))


@pytest.mark.parametrize("layout", LAYOUTS + ["negative-stride", "byteswapped-weights"])
@pytest.mark.parametrize("weighted", [False, True])
def test_layouts_work_and_match_the_plain_copy(layout, weighted, make_metric):
    if layout == "negative-stride":
        t, p, w = T32[::-1, ::-1], P32[::-1, ::-1], W6[::-1]
    elif layout == "byteswapped-weights":
        t, p, w = T32, P32, byteswapped(W6)
    else:
        t, p, w = (relayout(a, layout) for a in (T32, P32, W6))
    args = (t, p, w) if weighted else (t, p)
    assert state_of(make_metric, *args) == state_of(make_metric, *map(plain, args))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_matrix_is_read_as_a_plain_2d_array(make_metric):
    t, p = np.matrix([[1.0, 2.0], [3.0, 4.0]]), np.matrix([[1.5, 2.0], [1.0, 4.0]])
    assert state_of(make_metric, t, p, np.matrix([[1.0], [2.0]])) == state_of(
        make_metric, np.asarray(t), np.asarray(p), np.array([[1.0], [2.0]]))
    m = make_metric(dtype="float64")
    m.update_state(t, p)
    assert (m.total, m.count) == (0.25 + 4.0, 4.0)


def test_zero_d_and_n_d_operands_mix_by_broadcasting(make_metric):
    m = make_metric(dtype="float64")
    m.update_state(np.float32(2.0), np.array([[1.0, 3.0, 6.0]]))  # () against (1, 3)
    m.update_state([[1.0], [2.0]], 0)                               # (2, 1) against ()
    assert (m.total, m.count) == (1 + 1 + 16 + 1 + 4, 5.0)


@pytest.mark.parametrize("weight, expect_total, expect_count", [
    (np.nan, "nan", "nan"),
    (np.inf, "inf", "inf"),
    (-np.inf, "-inf", "-inf"),
])
def test_nan_and_inf_weights_are_accepted_and_propagate(weight, expect_total, expect_count,
                                                        make_metric):
    """Semantics 4: NaN (and inf) entering the sums is not an input error."""
    m = make_metric(dtype="float64")
    m.update_state([1.0, 2.0], [2.0, 4.0], sample_weight=[1.0, weight])
    assert repr(m.total) == expect_total and repr(m.count) == expect_count


def test_inf_weight_on_a_zero_error_gives_nan(make_metric):
    m = make_metric(dtype="float64")
    m.update_state([1.0], [1.0], sample_weight=[np.inf])  # 0 * inf, as NumPy computes it
    assert math.isnan(m.total) and m.count == math.inf


# -- more than 2**31 elements ------------------------------------------------------------

BIG_ROWS = 2**28 + 3          # rows of 8: 2**31 + 24 elements


def test_huge_broadcast_views_give_exact_count_and_total(make_metric):
    """Zero-stride views of 2**33 elements: the count is the exact element
    count, the total the closed form; nothing the size of the view is made."""
    n_rows, n_cols = 2**17 + 1, 2**16
    t = np.broadcast_to(np.float32(1.5), (n_rows, n_cols // 8, 8))
    p = np.broadcast_to(np.arange(8.0), (n_rows, n_cols // 8, 8))
    m = make_metric(dtype="float64")
    tracemalloc.start()
    try:
        m.update_state(t, p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elements = n_rows * n_cols
    per_row = sum((Fraction(k) - Fraction(3, 2)) ** 2 for k in range(8))  # = 50
    assert m._acc.get_raw()[4] == elements > 2**33
    assert m.count == float(elements)
    assert Fraction(m.total) == per_row * (elements // 8)
    assert peak < 1 << 20, peak


def test_huge_weighted_broadcast_views(make_metric):
    n = 3 * 2**30 + 7                                          # odd, > 2**31
    t = np.broadcast_to(np.float64(0.25), (n,))
    p = np.broadcast_to(np.float64(-0.75), (n,))
    w = np.broadcast_to(np.float64(3.0), (n,))
    m = make_metric(dtype="float64")
    m.update_state(t, p, sample_weight=w)
    assert Fraction(m.count) == 3 * n                          # weight 3 per element
    assert Fraction(m.total) == 3 * n * Fraction(1)            # (-0.75 - 0.25)**2 = 1
    m.update_state(t[:5], p[:5])                                # unweighted: exact int count
    assert Fraction(m.count) == 3 * n + 5


def zero_pages(n_bytes):
    """A read-only anonymous mapping: every page is the kernel's shared zero
    page, so a huge all-zero array costs no memory."""
    if sys.maxsize < 2**40 or not sys.platform.startswith("linux"):
        pytest.skip("needs a 64-bit Linux address space (its shared zero page)")
    try:
        return mmap.mmap(-1, n_bytes, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    except (OSError, OverflowError) as exc:
        pytest.skip(f"cannot map {n_bytes} bytes of zero pages: {exc}")


def test_kernel_walks_more_than_2_31_real_elements():
    """A real (not repeated) y_true of 2**31 + 24 float32 zeros: the kernel's
    flat index runs past 2**31 and the row index past 2**28.  Only the kernel
    this machine chose (the index code is shared; the baseline build without
    hardware FMA takes ~30 s for this)."""
    buf = zero_pages(BIG_ROWS * 8 * 4)
    t = np.frombuffer(buf, dtype=np.float32).reshape(BIG_ROWS, 8)
    row = np.arange(8, dtype=np.float32)
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t, row)
    del t
    buf.close()
    assert m._acc.get_raw()[4] == BIG_ROWS * 8 > 2**31
    assert Fraction(m.total) == BIG_ROWS * sum(k * k for k in range(8))  # 140 per row


# -- resident memory over long runs ---------------------------------------------------------

def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pytest.skip("needs /proc/self/statm (Linux) to read the resident set")


def rss_growth(step, calls, warmup):
    """Resident-set growth over ``calls`` calls of ``step(i)``, after ``warmup``."""
    for i in range(warmup):
        step(i)
    gc.collect()
    before = rss_bytes()
    for i in range(calls):
        step(i)
    gc.collect()
    return rss_bytes() - before


MB = 1 << 20
SMALL = [
    (np.arange(4.0), np.arange(4.0) + 1.5, None),                    # the fast path
    (np.arange(4, dtype=np.float32), np.ones(4), np.arange(4.0)),    # full weights
    ([1.0, 2.0, 3.0], [[2.0, 2.0, 2.0], [0.0, 1.0, 5.0]], [1.0, 2.0]),  # lists, row + per-sample
    (np.ones((2, 3, 2)), np.zeros((2, 3, 2)), np.array([1.0, 3.0])),  # averaged (semantics 3.3)
    (np.arange(6, dtype=np.int16)[::-1], np.zeros(6), 0.5),          # convert + scalar weight
]


@pytest.mark.rss
def test_leak_one_million_small_updates():
    m = RootMeanSquaredError()
    fast_t, fast_p, _ = SMALL[0]

    def step(i):
        if i % 10:
            m.update_state(fast_t, fast_p)            # 9 in 10 calls
        else:
            t, p, w = SMALL[1 + (i // 10) % 4]
            m.update_state(t, p, sample_weight=w)

    growth = rss_growth(step, 10**6, warmup=20_000)
    assert growth < MB, growth
    assert m.count > 10**6


@pytest.mark.rss
def test_leak_thousand_large_updates():
    rng = np.random.default_rng(3)
    t = rng.normal(size=(250_000, 4))
    p = rng.normal(size=(250_000, 4)).astype(np.float32)
    w = rng.random(250_000)
    m = RootMeanSquaredError()

    def step(i):
        m.update_state(t, p, sample_weight=w if i % 2 else None)

    assert rss_growth(step, 1000, warmup=20) < MB


@pytest.mark.rss
def test_leak_hundred_thousand_rejected_updates():
    m = RootMeanSquaredError()
    m.update_state([1.0], [2.0])
    before = snapshot(m)
    rejected = [act for _, _, _, act in REJECTED]

    def step(i):
        try:
            rejected[i % len(rejected)](m)
        except (TypeError, ValueError):
            pass

    assert rss_growth(step, 10**5, warmup=5 * len(rejected)) < MB
    assert snapshot(m) == before


@pytest.mark.rss
@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_averaged_weights_fold_a_huge_broadcast_view_in_bounded_memory(nan_policy):
    """Issue 21 part 6: weights (n,) against a broadcast view of 2**40
    elements (semantics 3.3: each sample's rows averaged) are folded from
    the view's distinct elements, as the strictly broadcast layouts are --
    no batch-sized copy (it would be 8 TiB) -- with the exact result."""
    n = 1 << 10
    rng = np.random.default_rng(21)
    t_col, p_col = rng.standard_normal((n, 1, 1)), rng.standard_normal((n, 1, 1))
    w = rng.uniform(-0.5, 2.0, n)
    shape = (n, 1 << 15, 1 << 15)
    m = RootMeanSquaredError(dtype="float64", nan_policy=nan_policy)
    before = rss_bytes()
    m.update_state(np.broadcast_to(t_col, shape), np.broadcast_to(p_col, shape), w)
    assert rss_bytes() - before < 16 * MB
    exact = sum(Fraction(wi) * (Fraction(pi) - Fraction(ti)) ** 2
                for wi, pi, ti in zip(w.tolist(), p_col.ravel().tolist(), t_col.ravel().tolist()))
    count = sum(Fraction(wi) for wi in w.tolist())
    assert m.count == float(count)
    assert abs(float(m.result()) - math.sqrt(exact / count)) <= 4 * np.spacing(float(m.result()))
