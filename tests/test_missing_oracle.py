"""nan_policy against an exact oracle, driven by hypothesis: random NaN
positions in y_true, y_pred and the weights, over the weight layouts of
semantics 3 (none, scalar, per-sample, full, broadcast, 3.3 averaged --
per sample and repeated over rows), a broadcast y_true, float32/float64;
the grouped metric per group; 'raise' positions; masks and Arrow nulls read
as NaN; the omitted count through merges, state dicts and pickle.

The oracle (rmse_ext.reference.exact_update_omitting) walks the elements in
Fractions and shares no code with the planner."""
import json
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rmse_ext import (
    GroupedRootMeanSquaredError, RootMeanSquaredError, root_mean_squared_error,
)
from rmse_ext.reference import exact_update_omitting, sqrt_fraction

LAYOUTS = ["none", "scalar", "sample", "full", "row", "y_true-row", "averaged", "spread"]
PER_SAMPLE = ("none", "scalar", "sample", "full", "row", "averaged")   # groupable, splittable


def shapes_of(layout, n, d, e):
    """(y_true, y_pred, weights) shapes of a layout (weights None or ())."""
    return {"none": ((n, d), (n, d), None), "scalar": ((n, d), (n, d), ()),
            "sample": ((n, d), (n, d), (n,)), "full": ((n, d), (n, d), (n, d)),
            "row": ((n, d), (n, d), (1, d)), "y_true-row": ((d,), (n, d), (n, d)),
            "averaged": ((n, d, e), (n, d, e), (n,)),              # semantics 3.3
            "spread": ((n, d, e, 2), (n, d, e, 2), (1, d)),        # 3.3, weights repeated
            }[layout]


def holes(draw, shape, dtype, share):
    """Finite values of ``dtype`` with NaN where a drawn mask says so."""
    values = draw(hnp.arrays(dtype, shape, elements=st.floats(-100, 100, width=32)))
    mask = draw(hnp.arrays(np.bool_, shape, elements=st.booleans().map(
        lambda b: b and share)))
    out = values.astype(dtype)
    out[mask] = np.nan
    return out


@st.composite
def cases(draw, layouts=LAYOUTS, nan=True):
    layout = draw(st.sampled_from(layouts))
    n, d, e = (draw(st.integers(1, m)) for m in (9, 4, 3))
    t_shape, p_shape, w_shape = shapes_of(layout, n, d, e)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    share = nan and draw(st.booleans())         # False: no NaN at all in that operand
    t = holes(draw, t_shape, dtype, share)
    p = holes(draw, p_shape, dtype, nan and draw(st.booleans()))
    w = None
    if w_shape is not None:
        w = np.array(np.abs(holes(draw, w_shape, np.float64, nan and draw(st.booleans()))))
        w[draw(hnp.arrays(np.bool_, w_shape))] = 0.0        # zero weights remove too
        if w_shape == ():
            w = float(w)
    return layout, t, p, w


def expected(t, p, w):
    """(result or None for 'NaN', count, omitted) from the oracle."""
    total, count, omitted = exact_update_omitting(t, p, w)
    if count == 0:
        return (None if omitted else 0.0), 0.0, omitted
    return sqrt_fraction(total / count), float(count), omitted


def check(result, count, omitted, want):
    value, want_count, want_omitted = want
    assert omitted == want_omitted
    if value is None:
        assert math.isnan(result)
    else:
        assert float(result) == pytest.approx(value, rel=1e-12, abs=1e-300)
        assert count == pytest.approx(want_count, rel=1e-15)


@given(case=cases())
def test_omit_is_the_oracle(case):
    layout, t, p, w = case
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, p, sample_weight=w)
    check(m.result(), m.count, m.omitted, expected(t, p, w))


@given(case=cases(layouts=PER_SAMPLE), cut=st.integers(0, 9))
def test_omit_split_and_merged_is_one_update(case, cut):
    """Two halves along the samples, merged (and through a JSON state and
    pickle on the way), give the one-update omitted count and result."""
    layout, t, p, w = case
    per_sample = isinstance(w, np.ndarray) and w.shape[0] == t.shape[0] and layout != "row"
    halves = []
    for part in (slice(0, cut), slice(cut, None)):
        m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
        m.update_state(t[part], p[part], w[part] if per_sample else w)
        halves.append(m)
    first = RootMeanSquaredError.from_state(json.loads(json.dumps(halves[0].get_state())))
    assert first.get_state() == halves[0].get_state()
    first.merge_state(pickle.loads(pickle.dumps(halves[1])))
    one = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    one.update_state(t, p, w)
    assert first.omitted == one.omitted == sum(h.omitted for h in halves)
    if one.count == 0:
        assert first.count == 0
    else:
        assert float(first.result()) == pytest.approx(float(one.result()), rel=1e-12)


@given(case=cases(nan=False))
def test_omit_without_nan_folds_the_propagate_bits(case):
    """'omit' on data without NaN adds exactly what 'propagate' adds."""
    layout, t, p, w = case
    a = RootMeanSquaredError(dtype="float64")
    b = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    a.update_state(t, p, w)
    b.update_state(t, p, w)
    assert a._acc.get_raw() == b._acc.get_raw() and b.omitted == 0
    if layout in PER_SAMPLE:
        keys = np.arange(t.shape[0]) % 3
        ga = GroupedRootMeanSquaredError(dtype="float64")
        gb = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
        ga.update_state(t, p, keys, w)
        gb.update_state(t, p, keys, w)
        raw_a, raw_b = ga.get_raw(), gb.get_raw()
        assert all(np.array_equal(raw_a[k], raw_b[k]) for k in raw_a)


@given(case=cases(layouts=PER_SAMPLE), data=st.data())
def test_grouped_omit_is_the_oracle_per_group(case, data):
    """Per group: the oracle on that group's samples; the overall row on
    every sample; omitted counts per group and pooled."""
    layout, t, p, w = case
    n = t.shape[0]
    keys = np.array(data.draw(st.lists(st.sampled_from([3, 5, 8]), min_size=n, max_size=n)))
    per_sample = isinstance(w, np.ndarray) and layout != "row"
    g = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    g.update_state(t, p, keys, w)
    assert g.keys().tolist() == sorted(set(keys.tolist()))
    for key, result, count, omitted in zip(g.keys(), g.result(), g.counts(), g.omitted()):
        rows = keys == key
        check(result, count, int(omitted), expected(t[rows], p[rows], w[rows] if per_sample else w))
    check(g.overall(), g.overall_count(), g.overall_omitted(), expected(t, p, w))
    again = GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(g.get_state())))
    assert again.get_state() == g.get_state() and again.nan_policy == "omit"
    assert np.array_equal(pickle.loads(pickle.dumps(g)).omitted(), g.omitted())


def beyond_2_53(kind, t, p):
    """(big_t, big_p, small_t, small_p): integer-valued y_true (and y_pred)
    moved past 2**53 by one offset, and small float64 values with the same
    differences.  'int64 vs float': y_true int64, y_pred float64 (keeping
    its NaN), both moved by 2**62 (float64 holds 2**62 + 1024 k exactly)."""
    t, p = (np.asarray(a, dtype=np.float64) for a in (t, p))   # the small values exactly
    t = np.nan_to_num(np.round(t))
    if kind == "int64 vs float":
        small_t, small_p = 1024 * t + 1, 1024 * np.round(p)
        big_t = small_t.astype(np.int64) + 2**62
        return big_t, small_p + 2.0**62, small_t, small_p
    p = np.nan_to_num(np.round(p))
    dtype, offset = (np.uint64, 2**63 + 3) if kind == "uint64" else (np.int64, 2**62 + 1)
    big_t, big_p = ((a.astype(np.int64) + 128).astype(dtype) + dtype(offset - 128)
                    for a in (t, p))
    return big_t, big_p, t, p


@given(case=cases(), kind=st.sampled_from(["int64", "uint64", "int64 vs float"]))
def test_omit_on_integers_beyond_2_53_is_the_oracle(case, kind):
    """Integers float64 cannot hold take the exact-difference path; under
    'omit' its NaN weights (and NaN in a float operand) are omitted like any
    other.  Moving y_true and y_pred by one offset past 2**53 changes no
    difference, so the oracle on the small values holds -- for the metric,
    the function and the grouped metric per group."""
    layout, t, p, w = case
    big_t, big_p, t, p = beyond_2_53(kind, t, p)
    assert big_t.dtype.kind in "iu" and np.abs(big_t.astype(float)).min() > 2.0**53
    want = expected(t, p, w)
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(big_t, big_p, sample_weight=w)
    check(m.result(), m.count, m.omitted, want)
    if layout in PER_SAMPLE:
        keys = np.arange(t.shape[0]) % 3
        per_sample = isinstance(w, np.ndarray) and layout != "row"
        g = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
        g.update_state(big_t, big_p, keys, w)
        for key, result, count, omitted in zip(g.keys(), g.result(), g.counts(), g.omitted()):
            rows = keys == key
            check(result, count, int(omitted),
                  expected(t[rows], p[rows], w[rows] if per_sample else w))
    if layout in ("none", "sample") and t.ndim == 2:   # the function: as on the small values
        flat_w = None if w is None else np.repeat(w, t.shape[1])
        args = [(a.reshape(-1), b.reshape(-1)) for a, b in ((t, p), (big_t, big_p))]
        try:
            small = root_mean_squared_error(*args[0], sample_weight=flat_w, nan_policy="omit")
        except ValueError as error:                  # every weight 0: scikit-learn's error
            with pytest.raises(ValueError, match=str(error)):
                root_mean_squared_error(*args[1], sample_weight=flat_w, nan_policy="omit")
        else:
            got = root_mean_squared_error(*args[1], sample_weight=flat_w, nan_policy="omit")
            assert math.isnan(got) if math.isnan(small) else got == pytest.approx(small,
                                                                                   rel=1e-12)


def first_nan(name, a):
    flat = np.isnan(np.asarray(a, dtype=np.float64)).reshape(-1)
    return f"{name} has a NaN at flat position {int(np.argmax(flat))}" if flat.any() else None


@given(case=cases())
def test_raise_names_the_first_nan_and_keeps_the_state(case):
    layout, t, p, w = case
    found = [m for m in (first_nan("y_true", t), first_nan("y_pred", p),
                         None if w is None else first_nan("sample_weight", w)) if m]
    calls = [(RootMeanSquaredError, (t, p, w))]
    if layout in PER_SAMPLE:
        calls.append((GroupedRootMeanSquaredError, (t, p, np.arange(t.shape[0]) % 2, w)))
    for cls, args in calls:
        m, plain = (cls(dtype="float64", nan_policy=policy) for policy in ("raise", "propagate"))
        for each in (m, plain):         # something in the state first
            each.update_state(np.zeros(2), np.ones(2), *([[0, 1]] if len(args) == 4 else []))
        before = m.get_state()
        if found:
            with pytest.raises(ValueError, match=found[0]):
                m.update_state(*args)
            assert m.get_state() == before
        else:                           # no NaN: what 'propagate' folds
            m.update_state(*args)
            plain.update_state(*args)
            state = m.get_state()
            assert state.pop("nan_policy") == "raise" and state == plain.get_state()


@given(t=hnp.arrays(np.float64, st.integers(1, 30), elements=st.floats(-9, 9)),
       data=st.data())
def test_function_raise_position_and_omit(t, data):
    p = data.draw(hnp.arrays(np.float64, t.shape, elements=st.floats(-9, 9)))
    mask = data.draw(hnp.arrays(np.bool_, t.shape))
    p[mask] = np.nan
    if mask.any():
        with pytest.raises(ValueError, match=f"y_pred contains NaN \\(the first at flat "
                                             f"position {int(np.argmax(mask))}"):
            root_mean_squared_error(t, p)
        assert math.isnan(root_mean_squared_error(t, p, nan_policy="propagate"))
    value, _, _ = expected(t, p, None)
    got = root_mean_squared_error(t, p, nan_policy="omit")
    assert math.isnan(got) if value is None else got == pytest.approx(value, rel=1e-12)


@given(case=cases(layouts=["none", "full", "sample"]))
def test_masks_and_arrow_nulls_read_as_nan(case):
    """A masked array, and an Arrow array with nulls where the NaN are,
    fold the same bits as the NaN themselves (under 'omit' only)."""
    pa = pytest.importorskip("pyarrow")
    layout, t, p, w = case
    reference = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    reference.update_state(t, p, w)
    hole = np.isnan(p)
    masked = np.ma.masked_array(np.where(hole, 7.0, p), mask=hole)
    via_mask = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    via_mask.update_state(t, masked, w)
    assert via_mask._acc.get_raw() == reference._acc.get_raw()
    if t.ndim == 1 or layout == "none":
        flat_t = t.reshape(-1)
        nulls = pa.array(np.where(np.isnan(flat_t), 0.0, flat_t), mask=np.isnan(flat_t))
        via_arrow = RootMeanSquaredError(dtype="float64", nan_policy="omit")
        via_arrow.update_state(nulls, p.reshape(-1))
        plain = RootMeanSquaredError(dtype="float64", nan_policy="omit")
        plain.update_state(flat_t.astype(np.float64), p.reshape(-1))
        assert via_arrow._acc.get_raw() == plain._acc.get_raw()
    if hole.any():
        with pytest.raises(TypeError, match="masked array"):
            RootMeanSquaredError().update_state(t, masked, w)


def test_polars_nulls_under_omit():
    pl = pytest.importorskip("polars")
    t = pl.Series([1.0, None, 3.0, 4.0])
    p = pl.Series([2.0, 2.0, None, 4.0])
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, p)
    assert (m.result(), m.omitted) == (math.sqrt(0.5), 2)
    with pytest.raises(ValueError, match=r"y_true has a NaN at flat position 1 "):
        RootMeanSquaredError(nan_policy="raise").update_state(t, p)   # a null is a NaN
    g = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    g.update_state(t, p, pl.Series(["a", "b", "b", "a"]))
    assert g.to_dict() == {"a": math.sqrt(0.5), "b": pytest.approx(math.nan, nan_ok=True)}
    assert g.omitted().tolist() == [0, 2]


def test_zero_weight_removes_its_element_in_every_metric():
    """Semantics 5: a weight of exactly 0 removes its element, even with an
    infinite or NaN error (Keras multiplies: 0 * inf is NaN)."""
    t, p, w = [0.0, 0.0, 0.0], [1e200, 1.0, np.nan], [0.0, 1.0, 0.0]
    for policy in ("propagate", "omit", "raise"):
        if policy != "raise":
            omit = policy == "omit"         # the NaN is omitted before its weight applies
            m = RootMeanSquaredError(dtype="float64", nan_policy=policy)
            m.update_state(t, p, sample_weight=w)
            assert (m.result(), m.count, m.omitted) == (1.0, 1.0, int(omit))
            g = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy)
            g.update_state(t, p, [1, 1, 2], sample_weight=w)
            assert g.result()[0] == 1.0 and g.omitted().tolist() == [0, int(omit)]
            assert math.isnan(g.result()[1]) if omit else g.result()[1] == 0.0
        else:   # 'raise' looks at NaN before any weight applies
            with pytest.raises(ValueError, match="y_pred has a NaN at flat position 2"):
                RootMeanSquaredError(nan_policy=policy).update_state(t, p, sample_weight=w)
    m = RootMeanSquaredError(dtype="float64", nan_policy="raise")
    m.update_state(t[:2], p[:2], sample_weight=w[:2])
    assert m.result() == 1.0
    assert root_mean_squared_error(t[:2], p[:2], sample_weight=w[:2]) == 1.0


def test_averaged_weights_under_omit_by_hand():
    """Semantics 3.3 under 'omit', one case worked by hand: a row's mean is
    over its kept elements; a NaN weight omits its row and its count."""
    t = np.zeros((2, 3, 4))
    p = np.ones((2, 3, 4)) * np.arange(1.0, 5.0)          # each row of 12: mean of squares 7.5
    p[0, 0, 0] = np.nan                                   # row 0 keeps 11: 89 / 11
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, p, sample_weight=[1.0, 2.0])
    assert (m.count, m.omitted) == (3.0, 1)
    assert float(m.result()) ** 2 == pytest.approx((89 / 11 + 2 * 7.5) / 3, rel=1e-15)
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, np.ones((2, 3, 4)), sample_weight=[np.nan, 2.0])
    assert (m.result(), m.count, m.omitted) == (1.0, 2.0, 12)
    g = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    g.update_state(t, p, ["x", "y"], sample_weight=[1.0, 2.0])
    assert g.result()[0] ** 2 == pytest.approx(89 / 11, rel=1e-15)
    assert (g.omitted().tolist(), g.elements().tolist()) == ([1, 0], [11, 12])


def test_all_omitted_group_reads_nan_and_is_listed():
    g = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    g.update_state([1.0, np.nan, 3.0], [1.0, 2.0, np.nan], ["a", "b", "a"])
    assert g.keys().tolist() == ["a", "b"]
    assert g.result()[0] == 0.0 and math.isnan(g.result()[1])
    assert (g.omitted().tolist(), g.overall_omitted(), g.elements().tolist()) == ([1, 1], 2, [1, 0])
    state = g.get_state()
    assert state["omitted"] == [1, 1] and state["nan_policy"] == "omit"
    plain = GroupedRootMeanSquaredError()
    plain.update_state([1.0], [2.0], [0])
    assert "omitted" not in plain.get_state() and "nan_policy" not in plain.get_state()
    with pytest.raises(ValueError, match="omitted"):
        GroupedRootMeanSquaredError.from_state(dict(state, omitted=[1, -1]))
    with pytest.raises(ValueError, match="nan_policy"):
        GroupedRootMeanSquaredError.from_state(dict(state, nan_policy="skip"))
    merged = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    merged.merge_state(g, g)
    assert merged.omitted().tolist() == [2, 2]
    raw = g.get_raw()
    del raw["omitted"]                      # an older producer: none omitted
    older = GroupedRootMeanSquaredError(dtype="float64")
    older.merge_raw(**raw)
    assert older.omitted().tolist() == [0] and older.keys().tolist() == ["a"]


def test_grouped_raise_and_bad_policy():
    g = GroupedRootMeanSquaredError(nan_policy="raise")
    g.update_state([1.0], [2.0], ["a"])
    before = g.get_state()
    with pytest.raises(ValueError, match="sample_weight has a NaN at flat position 1"):
        g.update_state([1.0, 2.0], [1.0, 2.0], ["a", "b"], [1.0, np.nan])
    assert g.get_state() == before
    with pytest.raises(ValueError, match="nan_policy"):
        GroupedRootMeanSquaredError(nan_policy="drop")
    assert GroupedRootMeanSquaredError.from_config(g.get_config()).nan_policy == "raise"


def test_cli_grouped_nan_policy(tmp_path, capsys):
    from rmse_ext.cli import main
    (tmp_path / "d.csv").write_text("y,yhat,k\n1,2,a\n2,,a\n3,5,b\n,1,b\n4,4,b\n")
    args = ["eval", str(tmp_path / "d.csv"), "--true-column", "y", "--pred-column", "yhat",
            "--group-column", "k", "--json", "--no-progress", "--dtype", "float64"]
    assert main(args + ["--nan-policy", "omit"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(g["k"], g["omitted"], g["count"]) for g in out["groups"]] == \
        [("a", 1, 1.0), ("b", 1, 2.0)]
    assert out["overall"]["omitted"] == 2
    assert out["groups"][1]["rmse"] == math.sqrt(2.0)
    assert main(args) == 2                      # empty fields are not numbers by default
    assert "d.csv" in capsys.readouterr().err


def test_dask_averaged_weights_under_omit():
    da = pytest.importorskip("dask.array")
    import rmse_ext.dask
    rng = np.random.default_rng(11)
    t = rng.standard_normal((40, 3, 2))
    t[rng.random(t.shape) < 0.2] = np.nan
    p = rng.standard_normal((40, 3, 2))
    w = rng.random(40)
    w[[3, 17]] = np.nan
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    rmse_ext.dask.update_state(m, da.from_array(t, chunks=(7, 3, 2)), da.from_array(p, chunks=13),
                               da.from_array(w, chunks=9))
    total, count, omitted = exact_update_omitting(t, p, w)
    assert m.omitted == omitted and m.count == pytest.approx(float(count), rel=1e-15)
    assert float(m.result()) == pytest.approx(sqrt_fraction(total / count), rel=1e-12)
    with pytest.raises(ValueError, match="one weight per averaged row"):
        rmse_ext.dask.update_state(m, da.ones((4, 3, 2, 2)), da.ones((4, 3, 2, 2)),
                                   da.ones((1, 3)))


def test_dask_grouped_policies():
    da = pytest.importorskip("dask.array")
    import rmse_ext.dask
    rng = np.random.default_rng(12)
    t, p = rng.standard_normal(300), rng.standard_normal(300)
    t[rng.random(300) < 0.1] = np.nan
    keys = rng.integers(0, 4, 300)
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    rmse_ext.dask.update_state(m, da.from_array(t, chunks=70), da.from_array(p, chunks=70),
                               groups=da.from_array(keys, chunks=70))
    ref = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    ref.update_state(t, p, keys)
    assert m.omitted().tolist() == ref.omitted().tolist()
    np.testing.assert_allclose(m.result(), ref.result(), rtol=1e-13)
    strict = GroupedRootMeanSquaredError(nan_policy="raise")
    first = int(np.argmax(np.isnan(t)))
    with pytest.raises(ValueError, match=f"y_true has a NaN at flat position {first}"):
        rmse_ext.dask.update_state(strict, da.from_array(t, chunks=70), p, groups=keys)
    assert strict.keys().size == 0


def test_count_exact_fraction_sanity():
    """The oracle itself, on a case worked by hand (so a wrong oracle
    cannot pass the tests above)."""
    total, count, omitted = exact_update_omitting([1.0, np.nan, 3.0, 0.0], [2.0, 1.0, 3.0, 4.0],
                                                  [2.0, 1.0, np.nan, 0.5])
    assert (total, count, omitted) == (Fraction(2 + 8), Fraction(5, 2), 2)


@settings(max_examples=60)
@given(case=cases(layouts=PER_SAMPLE), kind=st.sampled_from(["int64", "uint64", "int64 vs float"]),
       method=st.sampled_from(["normal", "bootstrap"]),
       policy=st.sampled_from(["omit", "propagate"]))
def test_intervals_on_integers_beyond_2_53_depend_on_the_differences_only(case, kind, method,
                                                                            policy):
    """The interval's units are the exact differences (rounded once), as
    the result's are: integers moved past 2**53 give the interval of the
    small values, ungrouped and per group (they were rounded first)."""
    layout, t, p, w = case
    big_t, big_p, t, p = beyond_2_53(kind, t, p)
    keys = np.arange(t.shape[0]) % 2
    for make, extra in ((RootMeanSquaredError, ()), (GroupedRootMeanSquaredError, (keys,))):
        got, want = (make(dtype="float64", interval=method, n_boot=20, nan_policy=policy)
                     for _ in range(2))
        got.update_state(big_t, big_p, *extra, w)
        want.update_state(t, p, *extra, w)
        a, b = (np.asarray(m.confidence_interval(), dtype=float) for m in (got, want))
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)
