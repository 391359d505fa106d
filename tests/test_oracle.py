"""The kernel against exact rational arithmetic (rmse_ext.reference.ExactRMSE).

With non-negative weights the result must be within 2 ulp of the exactly
rounded value.  With mixed-sign weights the total can cancel, so there the
total is held to the kernel's error bound instead: each term w*d**2 is exact
but for the rounding of d = fl(p - t) (relative error <= u, so <= 2u on the
term), and the compensated sum adds u relative to the total.
"""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rmse_ext.reference import ExactRMSE, exact_update, fsum_rmse

from conftest import KERNELS, ORACLE_EXAMPLES, metric_on
from helpers import snapshot, ulps
from zoo import FLOAT_DTYPES, LAYOUTS, REAL_DTYPES, arrays, relayout, shapes, weights_for

U = 2.0 ** -53


@st.composite
def batches(draw, signed=False, dtypes=REAL_DTYPES):
    shape = draw(shapes())
    t_dtype = draw(st.sampled_from(dtypes))
    p_dtype = draw(st.sampled_from(dtypes))
    # y_true sometimes a trailing block of y_pred's shape (broadcast rows)
    k = draw(st.integers(0, len(shape))) if draw(st.booleans()) else 0
    y_true = draw(arrays(t_dtype, shape[k:]))
    y_pred = draw(arrays(p_dtype, shape))
    if draw(st.booleans()):
        y_true, y_pred = y_pred, y_true
    w = draw(weights_for(shape, signed=signed))
    layout = draw(st.sampled_from(LAYOUTS))
    return relayout(y_true, layout), relayout(y_pred, layout), w


def run_both(kernel, stream):
    """Feed the stream to the metric and the exact reference.  Where the
    spec's rules reject a batch, both must reject it (and the metric's state
    must not move)."""
    m, ref = metric_on(kernel, dtype="float64"), ExactRMSE()
    accepted = []
    for y_true, y_pred, w in stream:
        try:
            ref.update_state(y_true, y_pred, sample_weight=w)
        except ValueError:
            before = snapshot(m)
            with pytest.raises(ValueError):
                m.update_state(y_true, y_pred, sample_weight=w)
            assert snapshot(m) == before
        else:
            m.update_state(y_true, y_pred, sample_weight=w)
            accepted.append((y_true, y_pred, w))
    return m, ref, accepted


@settings(max_examples=ORACLE_EXAMPLES)
@given(stream=st.lists(batches(), min_size=1, max_size=4),
       kernel=st.sampled_from(KERNELS))
def test_stream_within_2_ulp_of_exact(stream, kernel):
    m, ref, accepted = run_both(kernel, stream)
    assert ulps(m.count, float(ref.count)) <= 1.0  # hi + lo may miss a tie
    if ref.count == 0:
        assert m.result() == 0.0
        return
    assert ulps(m.result(), ref.result()) <= 2.0, (m.result(), ref.result())
    assert_total_within_bound(m, ref, accepted)


def assert_total_within_bound(m, ref, accepted):
    """The kernel's error bound for a non-negative total (module docstring):
    2u relative for the rounding of d, the compensated sum's O(n u^2), and
    half an ulp for rounding hi + lo to the float64 that ``total`` returns.
    (2 ulp of the total do occur: d = fl(p - t) rounded, then squared.)"""
    n = sum(np.size(p) + np.size(t) for t, p, _ in accepted) + 1
    exact = abs(ref.total)
    bound = (2 * U + U * U + (4 * n * U) ** 2) * exact + Fraction(math.ulp(m.total)) / 2
    assert abs(Fraction(m.total) - ref.total) <= bound, (m.total, float(ref.total))


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_rounded_difference_moves_the_total_two_ulp_and_the_result_less(kernel):
    # fl(p - t) is rounded here; squared, the total is 2 ulp from the exact
    # (t - p)**2 (found by a random search), within the bound above, and the
    # root halves the error: the result stays within 2 ulp.
    t, p = float.fromhex("0x1.966baebf26838p+2"), float.fromhex("-0x1.d8a064de1bf69p+3")
    m, ref, accepted = run_both(kernel, [(np.array([t]), np.array([p]), None)])
    assert ulps(m.total, float(ref.total)) == 2.0
    assert_total_within_bound(m, ref, accepted)
    assert ulps(m.result(), ref.result()) <= 2.0


@given(stream=st.lists(batches(signed=True, dtypes=FLOAT_DTYPES), min_size=1, max_size=3),
       kernel=st.sampled_from(KERNELS))
def test_signed_weights_total_within_summation_bound(stream, kernel):
    m, ref, accepted = run_both(kernel, stream)
    magnitude = sum(
        float(abs(exact_update(t, p, None if w is None else np.abs(w))[0]))
        for t, p, w in accepted
    )
    n = sum(np.size(p) + np.size(t) for t, p, _ in accepted) + 1
    bound = 2 * U * abs(float(ref.total)) + (2 * U + (4 * n * U) ** 2) * magnitude
    assert abs(m.total - float(ref.total)) <= bound + 1e-300
    assert abs(m.count - float(ref.count)) <= 2 * U * abs(float(ref.count)) + 1e-300


@given(n=st.sampled_from(list(range(0, 41)) + [63, 64, 65, 1000, 65535, 65537]),
       dtype_t=st.sampled_from(FLOAT_DTYPES), dtype_p=st.sampled_from(FLOAT_DTYPES),
       seed=st.integers(0, 2**32 - 1), weighted=st.booleans(),
       kernel=st.sampled_from(KERNELS))
def test_lane_tails_and_chunk_edges(n, dtype_t, dtype_p, seed, weighted, kernel):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n).astype(dtype_t)
    p = (t + rng.normal(scale=1e-3, size=n)).astype(dtype_p)
    w = rng.random(n) if weighted else None
    m, ref, _ = run_both(kernel, [(t, p, w)])
    assert ulps(m.result(), ref.result()) <= 2.0


@given(seed=st.integers(0, 2**32 - 1), kernel=st.sampled_from(KERNELS),
       split=st.lists(st.integers(0, 300), min_size=1, max_size=6))
def test_any_split_of_a_stream_agrees(seed, kernel, split):
    rng = np.random.default_rng(seed)
    n = 300
    t, p = rng.normal(size=n), rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)
    edges = sorted(set([0, n] + split))
    m, ref = metric_on(kernel, dtype="float64"), ExactRMSE()
    for a, b in zip(edges, edges[1:]):
        m.update_state(t[a:b], p[a:b])
    ref.update_state(t, p)
    assert ulps(m.result(), ref.result()) <= 2.0


def test_every_kernel_within_2_ulp_on_a_large_weighted_input():
    rng = np.random.default_rng(1)
    t, p, w = rng.normal(size=100_003), rng.normal(size=100_003), rng.random(100_003)
    exact = fsum_rmse([(t, p, w)])
    for kernel in KERNELS:
        m = metric_on(kernel, dtype="float64")
        m.update_state(t, p, w)
        assert ulps(m.result(), exact) <= 2.0, kernel.__name__
