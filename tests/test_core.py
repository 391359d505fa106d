"""The one resolver and the one fold path (issue 10), exact integers,
counts that cannot wrap, zero weights (semantics 5), and the policies of the
kernel's fold: every mode through serial and threaded folds gives the same
bits."""
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from rmse_ext import RootMeanSquaredError, _backend
from rmse_ext._plan import plan_update
from rmse_ext._rules import resolve
from rmse_ext.reference import ExactRMSE, sqrt_fraction

from helpers import snapshot, ulps


# -- the resolver --------------------------------------------------------------------

@pytest.mark.parametrize("t, p, w, layout", [
    ((4, 3), (4, 3, 1), None, ((4, 3), (4, 3), (4, 3), None, None)),
    ((4, 3, 1), (4, 3), (4,), ((4, 3), (4, 3), (4, 3), (4, 1), None)),
    ((3,), (4, 3), None, ((3,), (4, 3), (4, 3), None, None)),
    ((2, 3, 4), (2, 3, 4), (2,), ((2, 3, 4), (2, 3, 4), (2, 3, 4), (2,), 1)),
    ((4, 3), (4, 3), (4, 3, 1), ((4, 3), (4, 3), (4, 3), (4, 3), None)),
    ((), (), None, ((), (), (), None, None)),
])
def test_resolve_applies_the_rules_to_shapes(t, p, w, layout):
    got = resolve(t, p, w)
    assert (got.t_shape, got.p_shape, got.shape, got.w_shape, got.keep) == layout
    assert got.size == math.prod(got.shape)


@pytest.mark.parametrize("t, p, w, words", [
    ((4,), (3,), None, r"y_true of shape \(4,\) and y_pred of shape \(3,\)"),
    ((4, 3), (4, 3), (3,), r"sample_weight of shape \(3,\) \(read as \(3, 1\)"),
    ((4, 3), (4, 3), (4, 3, 2), r"sample_weight of shape \(4, 3, 2\) has one more"),
])
def test_every_door_raises_the_resolvers_text(t, p, w, words):
    """The metric, the planner and the dask engine all say what resolve says."""
    with pytest.raises(ValueError, match=words) as direct:
        resolve(t, p, w)
    args = [np.zeros(t), np.zeros(p)] + ([np.ones(w)] if w else [])
    m = RootMeanSquaredError()
    with pytest.raises(ValueError) as via_metric:
        m.update_state(*args)
    assert str(via_metric.value) == str(direct.value)
    dask = pytest.importorskip("rmse_ext.dask")
    with pytest.raises(ValueError) as via_dask:
        dask.partial_states(*args)
    assert str(via_dask.value) == str(direct.value)


@given(st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.one_of(st.none(), st.lists(st.integers(1, 3), min_size=0, max_size=3)))
def test_resolve_agrees_with_the_planner_on_random_shapes(t, p, w):
    """Whatever resolve accepts the planner folds; whatever it rejects the
    metric rejects with the same text and an unchanged state."""
    args = [np.ones(t), np.zeros(p)] + ([np.ones(w)] if w is not None else [None])
    m = RootMeanSquaredError(dtype="float64")
    try:
        layout = resolve(tuple(t), tuple(p), None if w is None else tuple(w))
    except ValueError as exc:
        before = snapshot(m)
        with pytest.raises(ValueError) as again:
            m.update_state(*args)
        assert str(again.value) == str(exc) and snapshot(m) == before
        return
    m.update_state(*args)
    exact = ExactRMSE()
    exact.update_state(*args)
    assert ulps(m.result(), exact.result()) <= 2 and ulps(m.count, float(exact.count)) == 0
    if w is None:
        assert m.count == layout.size


# -- the fast path and the planner ------------------------------------------------------

@pytest.mark.parametrize("w", [None, 0.5, "full"])
def test_fast_path_and_planner_give_the_same_bits(w, kernel):
    rng = np.random.default_rng(3)
    t, p = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    weights = rng.random((50, 3)) if w == "full" else w
    fast = kernel.Accumulator()
    assert fast.fold_fast(t, p, weights)
    planned = kernel.Accumulator()
    plan_update(t, p, weights).apply(planned)
    assert fast.get_raw() == planned.get_raw()


def test_fast_path_declines_what_needs_a_rule(kernel):
    t, p = np.zeros((4, 3)), np.ones((4, 3))
    acc = kernel.Accumulator()
    assert not acc.fold_fast(t, p, np.ones(4))              # per-sample: 3.1
    assert not acc.fold_fast(t[0], p)                       # broadcasting: 2.3
    assert not acc.fold_fast(t, p, np.ones((1, 1)))         # size-1 weights: scalar
    assert not acc.fold_fast(t.astype(int), p)              # integers
    assert acc.get_raw() == kernel.Accumulator().get_raw()


# -- every mode, every thread count: the same bits ----------------------------------------

LARGE = (1 << 20) + 12_345


def mode_cases():
    rng = np.random.default_rng(11)
    t, p, w = rng.normal(size=LARGE), rng.normal(size=LARGE), rng.random(LARGE)
    rows = LARGE // 5
    holes = p.copy()
    holes[::97] = np.nan
    big = rng.integers(-2**62, 2**62, size=LARGE)
    return {
        "averaged (3.3)": ((t[: rows * 5].reshape(rows, 5, 1), p[: rows * 5].reshape(rows, 5, 1),
                            w[:rows] - 0.5), "propagate"),
        "exact integers": ((big, big + rng.integers(-9, 9, size=LARGE)), "propagate"),
        "omit": ((t, holes, w), "omit"),
        "omit unweighted": ((t, holes), "omit"),
        "tiled weights": ((t[: rows * 5].reshape(rows, 5), p[: rows * 5].reshape(rows, 5),
                           w[:5].reshape(1, 5)), "propagate"),
    }


@pytest.mark.parametrize("case", list(mode_cases()))
def test_every_mode_gives_the_same_bits_on_every_thread_count(case, kernel):
    args, policy = mode_cases()[case]
    plan = plan_update(*args, nan_policy=policy)
    raws = []
    for threads in (1, 2, 3, 5):
        acc = kernel.Accumulator()
        plan.apply(acc, threads)
        raws.append(acc.get_raw())
    assert all(raw == raws[0] for raw in raws), case


# -- operands of mixed dtypes ---------------------------------------------------------------

def mixed_cases():
    rng = np.random.default_rng(5)
    n = 3 * 65_536 + 1_234              # several chunks and a ragged tail
    t, p, w = rng.normal(size=n), rng.normal(size=n), rng.random(n)
    w[::89] = 0.0
    holes = t.copy()
    holes[::61] = np.nan
    rows = n // 7
    grid = (slice(None, rows * 7),)
    return {
        "flat": ((t, p, w), "propagate"),
        "unweighted": ((t, p, None), "propagate"),
        "omit": ((holes, p, w), "omit"),
        "per-row weights": ((t[grid].reshape(rows, 7), p[grid].reshape(rows, 7), w[:rows]),
                            "propagate"),
        "tiled weights": ((t[grid].reshape(rows, 7), p[grid].reshape(rows, 7),
                           w[:7].reshape(1, 7)), "propagate"),
        "tiled y_true": ((t[:7], p[grid].reshape(rows, 7), w[:rows]), "propagate"),
        "averaged (3.3)": ((t[grid].reshape(rows, 7, 1), p[grid].reshape(rows, 7, 1),
                            w[:rows] - 0.5), "propagate"),
    }


@pytest.mark.parametrize("dtypes", ["ffd", "ddf", "dfd", "fdf", "fdd", "dff"])
@pytest.mark.parametrize("case", list(mixed_cases()))
def test_mixed_dtypes_give_the_bits_of_float64_copies(case, dtypes, kernel):
    """A batch whose operands mix float32 and float64 gives the bits of the
    same values all in float64 (float32 to float64 is exact), in every
    layout, under 'omit', with the interval's moments and with threads: a
    kernel that reads mixed batches another way (fewer compiled dtype
    combinations, float32 operands widened in blocks) must keep them."""
    (t, p, w), policy = mixed_cases()[case]
    args = [a.astype(dt) for a, dt in zip((t, p, w), dtypes) if a is not None]
    wide = [a.astype(np.float64) for a in args]
    for threads in (1, 3):
        for moments in (False, True):
            got, want = kernel.Accumulator(), kernel.Accumulator()
            mine = plan_update(*args, nan_policy=policy)
            theirs = plan_update(*wide, nan_policy=policy)
            if moments and mine.averaged:
                continue                    # averaged units are spelled out (not the fold's)
            for plan, acc in ((mine, got), (theirs, want)):
                if moments:
                    acc.fold(plan.batch_for(acc, moments=True))
                else:
                    plan.apply(acc, threads)
            assert got.get_raw() == want.get_raw(), (case, dtypes, threads, moments)
            if moments:                     # the moment sums of every chunk too
                rows = []
                for plan, acc in ((mine, got), (theirs, want)):
                    batch = plan.batch_for(acc, moments=True)
                    rows.append(np.zeros((batch.chunks, batch.row_width)))
                    batch.chunk_partials(0, batch.chunks, rows[-1])
                assert rows[0].tobytes() == rows[1].tobytes(), (case, dtypes)


def test_omit_counts_what_it_drops():
    acc = _backend.kernel.Accumulator()
    plan_update([1.0, np.nan, 3.0, 4.0], [2.0, 0.0, np.nan, 6.0], [1.0, 1.0, 1.0, np.nan],
                nan_policy="omit").apply(acc)
    assert acc.get_raw()[5] == 3 and acc.value() == 1.0 and acc.count() == 1.0


@pytest.mark.parametrize("weighted", [False, True])
def test_omit_sums_each_chunk_as_if_its_dropped_elements_were_zeros(weighted, kernel):
    """Under 'omit' a chunk without NaN is read by the propagate loop (issue 14's
    speed) and one with a NaN or a non-finite sum by the omit loop: either way each
    chunk's sums are bitwise those of propagate over the chunk with every dropped
    element made 0 (weight 0 too), and each chunk counts exactly what it dropped."""
    chunk = kernel.CHUNK_SIZE
    rng = np.random.default_rng(5)
    n = 4 * chunk + 77
    t, p, w = rng.normal(size=n), rng.normal(size=n), rng.random(n) + 0.5
    p[[chunk + 5, chunk + 6]] = np.nan            # chunk 1: two NaN predictions
    t[2 * chunk + 9] = np.nan                     # chunk 2: one NaN target
    if weighted:
        w[3 * chunk + 11] = np.nan                # chunk 3: one NaN weight,
        p[3 * chunk + 12], t[3 * chunk + 12], w[3 * chunk + 12] = 1e300, -1e300, 0.0
    dropped = np.isnan(t) | np.isnan(p) | (np.isnan(w) if weighted else False)
    zt, zp, zw = t.copy(), p.copy(), w.copy()     # and an infinite error of weight 0
    zt[dropped] = zp[dropped] = zw[dropped] = 0.0
    mode = kernel.WMode.FULL if weighted else kernel.WMode.NONE

    def rows(t, p, w, policy):
        batch = kernel.Batch(t, p, w if weighted else None, w_mode=mode, policy=policy)
        out = np.zeros((batch.chunks, 5))
        batch.chunk_partials(0, batch.chunks, out)
        return out

    omit = rows(t, p, w, kernel.Policy.OMIT)
    zeroed = rows(zt, zp, zw, kernel.Policy.PROPAGATE)
    assert np.array_equal(omit[:, :4], zeroed[:, :4])
    assert np.isfinite(omit[:, :4]).all()
    per_chunk = np.add.reduceat(dropped, np.arange(0, n, chunk))
    assert omit[:, 4].tolist() == per_chunk.tolist()
    assert per_chunk[0] == per_chunk[4] == 0 and per_chunk[1] == 2


# -- exact integers (semantics 5) -------------------------------------------------------------

@pytest.mark.parametrize("t, p, expect", [
    ([2**53 + 1], [2**53], 1.0),
    (np.array([2**64 - 1], np.uint64), np.array([2**64 - 2], np.uint64), 1.0),
    (np.array([-2**63], np.int64), np.array([2**63 - 1], np.int64), 2.0**64 - 1),
    (np.array([[2**62 + 3, 5]]), np.array([2**62, 5]), math.sqrt(4.5)),
])
def test_integers_beyond_2_53_are_exact(t, p, expect, kernel):
    m = RootMeanSquaredError(dtype="float64")
    m._acc = kernel.Accumulator()
    m.update_state(t, p)
    assert float(m.result()) == expect


@given(st.lists(st.tuples(st.integers(-2**63, 2**63 - 1), st.integers(-2**20, 2**20),
                          st.floats(0, 4)), min_size=1, max_size=20),
       st.booleans(), st.booleans(), st.booleans())
def test_int64_streams_are_within_2_ulp_of_exact(rows, weighted, averaged, far):
    """Near-equal huge integers (whose float64 roundings would differ by
    thousands) and far-apart ones, against the Fraction oracle, which reads
    integers exactly."""
    t = np.array([r[0] for r in rows], np.int64)
    near = np.clip(np.array([r[0] + r[1] for r in rows], dtype=object), -2**63, 2**63 - 1)
    p = np.array([-r[0] - 1 for r in rows] if far else list(near), np.int64)
    w = np.array([r[2] for r in rows]) if weighted else None
    if averaged and weighted:     # (n, 1, 1) against (n,): semantics 3.3
        t, p = t.reshape(-1, 1, 1), p.reshape(-1, 1, 1)
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t, p, w)
    exact = ExactRMSE()
    exact.update_state(t.reshape(-1), p.reshape(-1), None if w is None else list(w))
    assert ulps(m.result(), exact.result()) <= 2


@pytest.mark.parametrize("rows", [
    [(3283303962651606105, 1, 5e-324), (2**63 - 1, 0, 3.9999)],      # ratio below 2**-1074
    [(0, 1, 1e-300), (0, 0, 1e300)],                                 # ratio 1e-600
    [(0, 1, 2.0**-1074), (7, 7, 2.0**100)],                           # ratio 2**-1174
    [(0, 10**150, 1.0), (0, 0, -1.0 + 2.0**-52)],                    # ratio 4.5e315
])
def test_a_ratio_outside_the_normal_range_keeps_its_root(rows, kernel):
    """sqrt(total / count) where total / count under- or overflows float64
    but its root does not (the CI failure of the int64 stream test)."""
    t = np.array([r[0] for r in rows], dtype=object)
    p = np.array([r[0] + r[1] for r in rows], dtype=object)
    w = [r[2] for r in rows]
    as_ints = all(abs(int(x)) < 2**63 for x in np.concatenate([t, p]))
    t, p = (np.array(a, np.int64 if as_ints else np.float64) for a in (t, p))
    m = RootMeanSquaredError(dtype="float64")
    m._acc = kernel.Accumulator()
    m.update_state(t, p, w)
    exact = ExactRMSE()
    exact.update_state(t, p, w)
    assert math.isfinite(exact.result()) and exact.result() > 0
    assert ulps(m.result(), exact.result()) <= 2


@given(st.lists(st.tuples(st.floats(-1e100, 1e100), st.floats(-1e100, 1e100),
                          st.floats(0, 4)), min_size=1, max_size=12),
       st.integers(-1074, 300))
def test_extreme_weights_are_within_2_ulp_of_exact(rows, shift):
    """Weights scaled anywhere in float64's range, subnormals included: the
    root of the weighted mean stays within 2 ulp while it is normal, even
    when the mean itself is not (squares and products that leave float64's
    range are its own limit, docs/numerics.md)."""
    t = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    w = np.ldexp(np.array([r[2] for r in rows]), shift)
    exact = ExactRMSE()
    exact.update_state(t, p, list(w))
    truth = exact.result()
    assume(math.isfinite(truth) and (truth == 0 or truth > 2.0**-1022))
    with np.errstate(all="ignore"):
        d2 = (p - t) ** 2
        terms = np.concatenate([d2, w * d2])
        zero = np.concatenate([p == t, (p == t) | (w == 0)])
    # squares and products that underflow or overflow are float64's own limit
    assume(np.all(np.isfinite(terms) & (zero | (np.abs(terms) >= 2.0**-969))))
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t, p, w)
    assert ulps(m.result(), truth) <= 2


def test_python_ints_beyond_64_bits_are_a_clear_error():
    m = RootMeanSquaredError()
    with pytest.raises(TypeError, match="y_true"):
        m.update_state([2**70], [0])


# -- counts that cannot wrap ------------------------------------------------------------------

def test_the_element_count_goes_past_2_63_exactly():
    m = RootMeanSquaredError(dtype="float64")
    view = np.broadcast_to(np.True_, (2**62,))
    for _ in range(3):
        m.update_state(view, np.broadcast_to(np.False_, (2**62,)))
    assert m._acc.get_raw()[4] == 3 * 2**62 and m.count == 3.0 * 2**62
    assert float(m.result()) == 1.0
    again = pickle.loads(pickle.dumps(m))
    assert snapshot(again) == snapshot(m)
    assert RootMeanSquaredError.from_state(m.get_state())._acc.get_raw() == m._acc.get_raw()


def test_merging_past_2_63_keeps_the_count():
    state = RootMeanSquaredError(dtype="float64").get_state()
    state.update(total_hi=float(2**63 - 1).hex(), elements=2**63 - 1)
    a = RootMeanSquaredError.from_state(state)
    a.merge_state(RootMeanSquaredError.from_state(state))
    assert a._acc.get_raw()[4] == 2**64 - 2 and a.count == 2.0**64
    assert float(a.result()) == 1.0


# -- zero weights remove their element (semantics 5) -------------------------------------------

@pytest.mark.parametrize("w", [[0.0, 1.0], np.array([0.0, 1.0], np.float32), "averaged", 0.0])
def test_a_zero_weight_removes_an_infinite_error(w, kernel):
    m = RootMeanSquaredError(dtype="float64")
    m._acc = kernel.Accumulator()
    if isinstance(w, str):
        m.update_state([[[0.0]], [[0.0]]], [[[1e200]], [[1.0]]], [0.0, 1.0])
        assert float(m.result()) == 1.0
    elif isinstance(w, float):
        m.update_state([0.0, 0.0], [1e200, np.nan], w)
        assert float(m.result()) == 0.0 and m.count == 0.0
    else:
        m.update_state([0, 0], [1e200, 1], sample_weight=w)
        assert float(m.result()) == 1.0


# -- torch tensors at every thread count (issue 11 item 1) -----------------------------------

def test_torch_tensors_work_with_threads():
    torch = pytest.importorskip("torch")
    results = set()
    for threads in (1, 2, 3):
        m = RootMeanSquaredError(num_threads=threads, dtype="float64")
        m.update_state(torch.zeros(4), torch.ones(4))
        m.update_state(torch.zeros(1 << 21), torch.ones(1 << 21), torch.ones(1 << 21))
        results.add(snapshot(m))
    assert len(results) == 1 and float(m.result()) == 1.0


def test_exact_oracle_agrees_with_fraction_sqrt():
    # the oracle this file leans on, against a value known in closed form
    assert sqrt_fraction(Fraction(9, 4)) == 1.5


# -- layouts cached by shape -----------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((8, 4), (8, 4), (8,)), ((8, 4), (8, 4), (1, 4)),
                                    ((4,), (8, 4), None), ((8, 4, 1), (8, 4), (8, 4)),
                                    ((8, 4), (8, 4), ())])
def test_a_cached_layout_gives_the_planners_bits(shapes):
    """The second update of the same shapes takes the cached recipe; it folds
    exactly what the planner folds on fresh arrays of those shapes."""
    from rmse_ext import _plan
    rng = np.random.default_rng(8)
    t_shape, p_shape, w_shape = shapes
    first = [rng.normal(size=t_shape), rng.normal(size=p_shape),
             None if w_shape is None else rng.random(w_shape)]
    _plan.plan_update(*first)
    again = [rng.normal(size=t_shape), rng.normal(size=p_shape),
             None if w_shape is None else rng.random(w_shape)]
    cached, fresh = _backend.kernel.Accumulator(), _backend.kernel.Accumulator()
    _plan.plan_update(*again).apply(cached)
    key = _plan.recipe_key(*again, _backend.Policy.PROPAGATE)
    saved = _plan.RECIPES.pop(key)
    try:
        _plan.plan_update(*again).apply(fresh)
    finally:
        _plan.RECIPES[key] = saved
    assert cached.get_raw() == fresh.get_raw()


def test_the_layout_cache_stays_bounded_and_takes_new_shapes():
    """Past MAX_RECIPES distinct shapes the oldest make room: the cache never
    grows beyond its cap, and a shape seen last is still cached."""
    from rmse_ext import _plan
    for n in range(1, _plan.MAX_RECIPES + 40):
        _plan.plan_update(np.zeros(n), np.ones(n), np.ones(n))
        assert len(_plan.RECIPES) <= _plan.MAX_RECIPES
    last = (np.zeros(n), np.ones(n), np.ones(n))
    assert _plan.recipe_key(*last, _backend.Policy.PROPAGATE) in _plan.RECIPES


@pytest.mark.parametrize("shapes", [((8, 4), (8, 4), (8,)), ((8, 4), (8, 4), (1, 1)),
                                    ((8, 4, 1), (8, 4), (8, 4)), ((2, 3, 4), (2, 3, 4), (2, 3)),
                                    ((8, 4), (8, 4), ())])
def test_the_remembered_layout_folds_the_planners_bits(shapes, kernel):
    """After one planned update the C fast path folds operands of the same
    shapes by the remembered layout: the same bits as the planner, and it
    declines operands of other shapes or dtypes."""
    rng = np.random.default_rng(9)
    t_shape, p_shape, w_shape = shapes
    make = lambda dtype=np.float64: [rng.normal(size=t_shape).astype(dtype),  # noqa: E731
                                     rng.normal(size=p_shape).astype(dtype),
                                     rng.random(w_shape).astype(dtype)]
    m = RootMeanSquaredError(dtype="float64")
    m._acc = kernel.Accumulator()
    m.update_state(*make())                          # planned, then remembered
    again = make()
    remembered = kernel.Accumulator()
    remembered.set_raw(*m._acc.get_raw())
    assert remembered.fold_fast(*again) is False     # a fresh accumulator remembers nothing
    assert m._acc.fold_fast(*again)
    planned = kernel.Accumulator()
    planned.set_raw(*remembered.get_raw())
    plan_update(*again).apply(planned)
    assert m._acc.get_raw() == planned.get_raw()
    before = m._acc.get_raw()
    other = make(np.float32)
    assert not m._acc.fold_fast(*other)              # another dtype: not this layout
    assert not m._acc.fold_fast(again[0][:1], again[1][:1], again[2])
    assert m._acc.get_raw() == before


def test_layouts_read_through_copies_are_not_remembered(kernel):
    """A short y_true row is tiled by the planner (a copy): nothing to remember."""
    m = RootMeanSquaredError()
    m._acc = kernel.Accumulator()
    t, p = np.ones(4), np.zeros((8, 4))
    m.update_state(t, p)
    assert not m._acc.fold_fast(t, p)
