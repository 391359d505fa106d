"""The "normal" interval's moments, summed in the main fold's pass (src/_fold.pxi),
against exact sums (Fractions) within the documented bound (src/_kernel_body.pxi,
"The interval's moments"), on every kernel; the main state bitwise the plain
metric's; the same bits for every thread count."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rmse_ext import RootMeanSquaredError, _backend

from conftest import KERNELS

U = Fraction(1, 2**53)
# Roundings in each moment's term (w, w*x, w*x**2, w**2, w**2*x, w**2*x**2;
# x = (p - t)**2), from the documented analysis; the bound adds the block sums'.
ROUNDINGS = (0, 2, 8, 1, 5, 9)


def normal_metric_on(kernel, **kwargs):
    """A metric with interval='normal' whose state comes from ``kernel``."""
    m = RootMeanSquaredError(interval="normal", **kwargs)
    m._acc = kernel.Accumulator()
    m._interval._moments = kernel.Moments()
    return m


def exact_moments(t, p, w, omit):
    """The six sums over the units that count, and the sums of the terms'
    magnitudes, as Fractions."""
    sums, sizes = [Fraction(0)] * 6, [Fraction(0)] * 6
    for ti, pi, wi in zip(t.ravel().tolist(), p.ravel().tolist(), w.ravel().tolist()):
        if omit and (ti != ti or pi != pi or wi != wi):
            continue
        if wi == 0:
            continue
        x = (Fraction(pi) - Fraction(ti)) ** 2
        weight = Fraction(wi)
        terms = (weight, weight * x, weight * x * x, weight * weight, weight * weight * x,
                 weight * weight * x * x)
        for k, term in enumerate(terms):
            sums[k] += term
            sizes[k] += abs(term)
    return sums, sizes


def assert_moments_within_bound(m, kernel, exact, sizes):
    raw = m._interval._moments.get_raw()
    block = kernel.MOMENT_BLOCK_TERMS
    for k in range(6):
        got = Fraction(raw[2 * k]) + Fraction(raw[2 * k + 1])
        bound = (ROUNDINGS[k] + block) * U * sizes[k]
        assert abs(got - exact[k]) <= bound, (k, float(got), float(exact[k]), float(bound))


@st.composite
def moment_cases(draw):
    """y_true, y_pred (float32 or float64, magnitudes 2**-30 .. 2**30 and
    zeros, equal pairs), weights none / non-negative / signed / one scalar /
    one per row, NaN anywhere under omit, lengths that leave every lane tail
    and cross the block sums' flush, and a split into updates."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    kind = draw(st.sampled_from(["none", "nonneg", "signed", "scalar", "per_row"]))
    omit = draw(st.booleans())
    cols = draw(st.integers(1, 9)) if kind == "per_row" else 1
    rows = draw(st.integers(0, 300 // cols))

    def values(size):
        v = rng.standard_normal(size) * 2.0 ** rng.integers(-30, 30, size)
        v[rng.random(size) < 0.1] = 0.0
        return v

    t = values(rows * cols).astype(dtype)
    p = values(rows * cols).astype(dtype)
    same = rng.random(t.size) < 0.1
    p[same] = t[same]
    if kind == "none":
        w = None
    elif kind == "scalar":
        w = float(draw(st.sampled_from([0.0, 1.5, -0.25, 3.0e5])))
    else:
        w = np.abs(values(rows if kind == "per_row" else rows * cols))
        if kind == "signed":
            w *= rng.choice([-1.0, 1.0], w.size)
    if omit:
        for a in (t, p) + ((w,) if isinstance(w, np.ndarray) else ()):
            a[rng.random(a.size) < 0.05] = np.nan
    if kind == "per_row":
        t, p = t.reshape(rows, cols), p.reshape(rows, cols)
    cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=3)))
    return t, p, w, omit, cuts


@given(case=moment_cases(), kernel=st.sampled_from(KERNELS))
def test_fused_moments_within_bound_of_exact(case, kernel):
    t, p, w, omit, cuts = case
    m = normal_metric_on(kernel, nan_policy="omit" if omit else "propagate")
    plain = RootMeanSquaredError(nan_policy="omit" if omit else "propagate")
    plain._acc = kernel.Accumulator()
    bounds = [0] + cuts + [len(t)]
    for lo, hi in zip(bounds, bounds[1:]):
        wb = w[lo:hi] if isinstance(w, np.ndarray) else w
        m.update_state(t[lo:hi], p[lo:hi], wb)
        plain.update_state(t[lo:hi], p[lo:hi], wb)
    if w is None or not isinstance(w, np.ndarray):
        weights = np.full(t.shape, 1.0 if w is None else w)
    else:
        weights = w[:, None] * np.ones(t.shape) if t.ndim == 2 else w
    exact, sizes = exact_moments(t.astype(np.float64), p.astype(np.float64), weights, omit)
    assert_moments_within_bound(m, kernel, exact, sizes)
    assert m.get_state()["total_hi"] == plain.get_state()["total_hi"]
    assert m.get_state()["total_lo"] == plain.get_state()["total_lo"]
    assert m.result().tobytes() == plain.result().tobytes()


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.__name__.rsplit(".", 1)[-1])
def test_fused_moments_across_chunks(kernel):
    """Several chunks, a chunk edge inside a run, big and small weights."""
    rng = np.random.default_rng(21)
    n = 2 * kernel.CHUNK_SIZE + 1001
    t = rng.standard_normal(n)
    p = t + rng.standard_normal(n) * 2.0 ** rng.integers(-20, 20, n)
    w = rng.uniform(-1, 3, n)
    for weights in (None, w):
        m = normal_metric_on(kernel)
        m.update_state(t, p, weights)
        exact, sizes = exact_moments(t, p, np.ones(n) if weights is None else weights, False)
        assert_moments_within_bound(m, kernel, exact, sizes)


LAYOUTS = {
    # name: (y_true, y_pred, sample_weight) for an (n, 4) batch
    "same shape": lambda t, p, w: (t, p, None),
    "full weights": lambda t, p, w: (t, p, np.repeat(w[:, None], 4, axis=1)),
    "per-row weights": lambda t, p, w: (t, p, w),
    "scalar weight": lambda t, p, w: (t, p, 0.75),
    "tiled y_true": lambda t, p, w: (t[0], p, None),
    "repeated": lambda t, p, w: (np.broadcast_to(t[:1], (3,) + t.shape),
                                 np.broadcast_to(p[:1], (3,) + p.shape), None),
    "float32 y_pred": lambda t, p, w: (t, p.astype(np.float32), w),
    "int beyond 2**53": lambda t, p, w: ((np.nan_to_num(t) * 2**60).astype(np.int64),
                                         (p * 2**60).astype(np.int64), None),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_interval_result_is_the_plain_result_for_every_thread_count(layout, nan_policy):
    """Each layout the planner reads, over enough chunks for threads: the
    interval metric's main state and result() are bitwise the plain
    metric's, and its interval state is the same bits for 1, 2 and 3
    threads."""
    rng = np.random.default_rng(22)
    n = 3 * _backend.kernel.CHUNK_SIZE + 5
    t, p, w = rng.standard_normal((n, 4)), rng.standard_normal((n, 4)), rng.uniform(0, 2, n)
    if nan_policy == "omit":
        t[::997, 1] = np.nan
    args = LAYOUTS[layout](t, p, w)
    plain = RootMeanSquaredError(dtype="float64", nan_policy=nan_policy)
    plain.update_state(*args)
    states = []
    for threads in (1, 2, 3):
        m = RootMeanSquaredError(dtype="float64", nan_policy=nan_policy, interval="normal",
                                 num_threads=threads)
        m.update_state(*args)
        assert m.result().tobytes() == plain.result().tobytes()
        main = {k: v for k, v in m.get_state().items() if k not in ("interval", "num_threads")}
        assert main == {k: v for k, v in plain.get_state().items() if k != "num_threads"}
        states.append(m.get_state()["interval"])
    assert states[0] == states[1] == states[2]
    assert states[0]["moments"] != [float(0).hex()] * 12
