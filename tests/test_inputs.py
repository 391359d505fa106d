"""Input handling: layouts, dtypes, no batch-sized temporaries, bad input."""
import tracemalloc

import numpy as np
import pytest

from rmse_ext import RootMeanSquaredError

from zoo import LAYOUTS, relayout


def raw_after(make_metric, *args, **kwargs):
    m = make_metric(dtype="float64")
    m.update_state(*args, **kwargs)
    return m._acc.get_raw()


# -- layouts: every memory layout reads the same numbers ----------------------------

@pytest.mark.parametrize("layout", LAYOUTS + ["list"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("shape, w_shape", [((9, 5), (9,)), ((40, 1), (40,)),
                                            ((1, 40), (1,)), ((6, 7), (1, 7))])
def test_layouts_give_bitwise_the_same_state(layout, dtype, shape, w_shape, make_metric):
    # the C fast path and the planner must read every layout to the same bits
    rng = np.random.default_rng(7)
    t = (rng.normal(size=shape) * 100).astype(dtype)
    p = (rng.normal(size=shape) * 100).astype(dtype)
    w = rng.random(w_shape)
    expected = raw_after(make_metric, t, p, w)
    if layout == "list":
        got = raw_after(make_metric, t.tolist(), p, w)
    else:
        got = raw_after(make_metric, relayout(t, layout), relayout(p, layout),
                        relayout(w, layout))
    assert got == expected


def test_mixed_float32_float64_pair_reads_both_natively(make_metric):
    t32 = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    p64 = np.array([0.1, 0.2, 0.3], dtype=np.float64)
    m = make_metric(dtype="float64")
    m.update_state(t32, p64)
    # the float32 values differ from the float64 ones by their rounding
    expected = np.sum((p64 - t32.astype(np.float64)) ** 2)
    assert m.total == pytest.approx(expected, rel=1e-15) and m.total > 0


def test_lists_are_read_as_float64_not_float32(make_metric):
    m = make_metric(dtype="float64")
    m.update_state([0.1], [0.1 + 1e-12])
    assert m.result() == pytest.approx(1e-12, rel=1e-3)


def test_big_integers_keep_float64_precision(make_metric):
    m = make_metric(dtype="float64")
    m.update_state(np.array([2**40], dtype=np.int64), np.array([2**40 + 3], dtype=np.int64))
    assert m.result() == 3.0


def test_zero_stride_broadcast_views_work(make_metric):
    t = np.broadcast_to(np.float64(1.0), (1000, 3))
    p = np.broadcast_to(np.arange(3.0), (1000, 3))
    m = make_metric(dtype="float64")
    m.update_state(t, p)
    assert m.count == 3000.0 and m.total == 1000.0 * (1 + 0 + 1)


# -- the common broadcasts allocate nothing the size of the batch -----------------

N, D = 200_000, 5


def peak_bytes(fn):
    fn()  # warm-up: first-call caches
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["equal", "equal+full-weights", "scalar-weight",
                                  "per-sample-weights", "row-true", "row-true+per-sample",
                                  "scalar-true", "broadcast-view-true", "scalar-true+per-sample",
                                  "short-row-true+full-weights"])
def test_common_broadcasts_allocate_no_batch_sized_temporary(case, dt):
    rng = np.random.default_rng(0)
    t = rng.normal(size=(N, D)).astype(dt)
    p = rng.normal(size=(N, D)).astype(dt)
    args = {
        "equal": (t, p),
        "equal+full-weights": (t, p, rng.random((N, D)).astype(dt)),
        "scalar-weight": (t, p, 0.5),
        "per-sample-weights": (t, p, rng.random(N).astype(dt)),
        "row-true": (t[0], p),
        "row-true+per-sample": (t[0], p, rng.random(N).astype(dt)),
        "scalar-true": (dt(0.5), p),
        "broadcast-view-true": (np.broadcast_to(t[0], p.shape), p),
        "scalar-true+per-sample": (0.5, p, rng.random(N).astype(dt)),
        "short-row-true+full-weights": (t[0, :1], p, rng.random((N, D)).astype(dt)),
    }[case]
    m = RootMeanSquaredError(dtype="float64")
    peak = peak_bytes(lambda: m.update_state(*args))
    assert peak < 64 * 1024, f"{case}: {peak} bytes traced (the batch is {p.nbytes})"
    # and the in-place reading gives what spelled-out arrays give
    spelled = [np.ascontiguousarray(np.broadcast_to(np.asarray(a), p.shape)) for a in args[:2]]
    weights = args[2] if len(args) > 2 else None
    ref = RootMeanSquaredError(dtype="float64")
    for _ in range(2):
        ref.update_state(*spelled, sample_weight=weights)
    assert m.result() == pytest.approx(ref.result(), rel=1e-15)


# -- bad input: tests/test_hardening.py holds the full battery ----------------------

@pytest.mark.parametrize("dtype", ["bool", "complex64", "float128", "nonsense", 3, "bfloat16", "U3"])
def test_unsupported_result_dtype_is_a_type_error(dtype):
    with pytest.raises(TypeError, match="dtype"):
        RootMeanSquaredError(dtype=dtype)


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match="name"):
        RootMeanSquaredError(name=3)
