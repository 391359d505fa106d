"""GroupedRootMeanSquaredError (issue 13): an exact Fraction oracle applying
the Keras rules to each group's samples, keys of every kind, merges of
states with different key sets, rejected updates, state round trips, many
groups, threads, and the one-shot function."""
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError
from rmse_ext.reference import ExactRMSE

from helpers import ulps
from zoo import arrays, weights_for


def group_oracle(stream):
    """{key: ExactRMSE} fed with each group's samples, and one ExactRMSE of
    everything: the rules applied per group by the reference."""
    groups, everything = {}, ExactRMSE()
    for t, p, keys, w in stream:
        everything.update_state(t, p, w)
        keys = np.asarray(keys).reshape(-1)
        for key in dict.fromkeys(keys.tolist()):
            idx = np.flatnonzero(keys == key)
            ref = groups.setdefault(key, ExactRMSE())
            t_g, p_g = (np.asarray(a)[idx] if np.ndim(a) else a for a in (t, p))
            w_g = w if w is None or np.ndim(w) == 0 else np.asarray(w)[idx]
            if np.ndim(t) == 0:
                t_g, p_g, w_g = t, p, w
            ref.update_state(t_g, p_g, w_g)
    return groups, everything


# NumPy 2's variable-width string dtype (absent before NumPy 2.0)
STRING_DTYPE = getattr(getattr(np, "dtypes", None), "StringDType", None)

KEY_POOLS = {
    "int": st.integers(-3, 5),
    "wide": st.sampled_from([-(2**62), 0, 7, 2**40, 2**62]),
    "str": st.sampled_from(["", "a", "b", "series-10", "ü"]),
    "bytes": st.sampled_from([b"x", b"y", b"\x00z"]),
    "bool": st.booleans(),
}


@st.composite
def grouped_batches(draw, kind):
    """(y_true, y_pred, keys, weights) with one key per sample."""
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int32]))
    n = draw(st.integers(0, 12))
    inner = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    shape = (n,) + inner
    t = draw(arrays(dtype, shape, bound=2.0 ** 90))
    p = draw(arrays(dtype, shape, bound=2.0 ** 90))
    keys = draw(st.lists(KEY_POOLS[kind], min_size=n, max_size=n))
    w = draw(weights_for(shape))
    return t, p, keys, w


def key_array_of(kind, keys):
    if kind == "str":
        return np.array(keys, dtype=str) if keys else np.array([], dtype=str)
    if kind == "bytes":
        return np.array(keys, dtype=bytes) if keys else np.array([], dtype=bytes)
    if kind == "bool":
        return np.array(keys, dtype=bool)
    return np.array(keys, dtype=np.int64)


@pytest.mark.parametrize("kind", sorted(KEY_POOLS))
@given(data=st.data())
def test_exact_oracle_per_group(kind, data):
    stream = data.draw(st.lists(grouped_batches(kind), min_size=1, max_size=4))
    m = GroupedRootMeanSquaredError(dtype="float64")
    for t, p, keys, w in stream:
        m.update_state(t, p, key_array_of(kind, keys), w)
    groups, everything = group_oracle(stream)
    got = m.to_dict()
    assert list(got) == sorted(groups)
    for key, ref in groups.items():
        assert ulps(got[key], ref.result()) <= 2, (key, got[key], ref.result())
    assert ulps(m.overall(), everything.result()) <= 2
    flat = RootMeanSquaredError(dtype="float64")
    for t, p, _, w in stream:
        flat.update_state(t, p, w)
    assert ulps(m.overall(), flat.result()) <= 2
    counts = dict(zip(m.keys().tolist(), m.counts().tolist()))
    for key, ref in groups.items():
        assert counts[key] == pytest.approx(float(ref.count), rel=1e-15, abs=1e-300)


@given(data=st.data())
def test_signed_weights_and_every_key_kind_in_one_stream(data):
    """Keys given as lists, NumPy, pandas, pyarrow and polars in one stream
    give what one int-keyed stream gives."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    words = ["w0", "w1", "w2", "w3"]
    by_str = GroupedRootMeanSquaredError(dtype="float64")
    by_int = GroupedRootMeanSquaredError(dtype="float64")
    for _ in range(data.draw(st.integers(1, 5))):
        n = data.draw(st.integers(1, 20))
        t = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-1e3, 1e3)))
        p = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-1e3, 1e3)))
        w = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-2, 2)))
        codes = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
        strs = [words[c] for c in codes]
        form = data.draw(st.sampled_from(
            ["list", "U", "object", "pandas", "categorical", "arrow", "arrow-dict",
             "arrow-chunked", "polars", "polars-cat"]
            + (["StringDType"] if STRING_DTYPE else [])))
        keys = {
            "list": lambda: strs,
            "U": lambda: np.array(strs),
            "object": lambda: np.array(strs, dtype=object),
            "StringDType": lambda: np.array(strs, dtype=STRING_DTYPE()),
            "pandas": lambda: pd.Series(strs),
            "categorical": lambda: pd.Categorical(strs, categories=words[::-1]),
            "arrow": lambda: pa.array(strs),
            "arrow-dict": lambda: pa.array(strs).dictionary_encode(),
            "arrow-chunked": lambda: pa.chunked_array([strs[: n // 2], strs[n // 2:]],
                                                      type=pa.string()),
            "polars": lambda: pl.Series(strs),
            "polars-cat": lambda: pl.Series(strs, dtype=pl.Categorical),
        }[form]()
        by_str.update_state(t, p, keys, w)
        by_int.update_state(t, p, codes.astype(data.draw(st.sampled_from(
            [np.int8, np.uint16, np.int32, np.uint32, np.int64, np.uint64]))), w)
    assert by_str.keys().tolist() == [words[k] for k in by_int.keys().tolist()]
    np.testing.assert_array_equal(by_str.result(), by_int.result())
    np.testing.assert_array_equal(by_str.counts(), by_int.counts())


def test_integer_keys_of_every_width_and_range():
    t, p = np.zeros(6), np.arange(6.0)
    expected = None
    for dtype in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                  np.uint64):
        m = GroupedRootMeanSquaredError(dtype="float64")
        m.update_state(t, p, np.array([1, 2, 1, 2, 3, 3], dtype=dtype))
        assert m.keys().tolist() == [1, 2, 3]
        expected = m.result() if expected is None else expected
        np.testing.assert_array_equal(m.result(), expected)
    big = GroupedRootMeanSquaredError(dtype="float64")
    big.update_state(t, p, np.array([2**64 - 1, 1, 2**64 - 1, 1, 0, 0], dtype=np.uint64))
    assert big.keys().tolist() == [0, 1, 2**64 - 1]
    np.testing.assert_array_equal(big.result(), np.sqrt([(16 + 25) / 2, (1 + 9) / 2, 4 / 2]))


def test_datetime_keys_and_pandas_timestamps():
    days = np.array(["2026-01-02", "2026-01-01", "2026-01-02"], dtype="datetime64[D]")
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state([0.0, 0.0, 0.0], [1.0, 2.0, 3.0], days)
    assert m.keys().dtype == np.dtype("datetime64[D]")
    assert m.keys().tolist() == sorted(set(days.tolist()))
    np.testing.assert_array_equal(m.result(), [2.0, np.sqrt(5.0)])


def test_dense_keys_that_spread_switch_to_a_hash_and_keep_their_sums():
    m = GroupedRootMeanSquaredError(dtype="float64")
    ref = {}
    rng = np.random.default_rng(1)
    for keys in ([5, 6, 5], [-3, 7], [10**12, 5], [2**62, -(2**62)], [6]):
        e = rng.normal(size=len(keys))
        m.update_state(np.zeros(len(keys)), e, keys)
        for k, x in zip(keys, e):
            ref.setdefault(k, []).append(x * x)
    assert m.keys().tolist() == sorted(ref)
    for k, r in zip(m.keys().tolist(), m.result().tolist()):
        assert ulps(r, np.sqrt(np.mean(ref[k]))) <= 2


@pytest.mark.parametrize("bad, error, text", [
    (["a", None, "b"], ValueError, "missing key"),
    ([1.0, float("nan"), 2.0], ValueError, "missing key"),
    ([1.0, 2.5, 2.0], TypeError, "floats"),
    (np.array(["2026-01-01", "NaT", "2026-01-01"], dtype="datetime64[D]"), ValueError,
     "missing key"),
    (["a", 1, "b"], TypeError, "mixes key types"),
    ([1, 2], ValueError, "one key per sample"),
    ([[1, 2, 3]], ValueError, "1-D"),
    ([{}, {}, {}], TypeError, "keys of one kind"),
])
def test_bad_keys_raise_and_change_nothing(bad, error, text):
    m = GroupedRootMeanSquaredError()
    m.update_state([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], ["x", "y", "x"])
    before = json.dumps(m.get_state())
    with pytest.raises(error, match=text):
        m.update_state([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], bad)
    assert json.dumps(m.get_state()) == before


def test_missing_keys_from_frame_libraries():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    for keys in (pd.Series(["a", None, "b"]), pd.Series([1, None, 2], dtype="Int64"),
                 pd.Categorical(["a", None, "b"]), pa.array(["a", None, "b"]),
                 pa.array([1, None, 2]), pl.Series(["a", None, "b"]), pl.Series([1, None, 2])):
        with pytest.raises(ValueError, match="missing key"):
            GroupedRootMeanSquaredError().update_state([1.0, 2, 3], [0.0, 0, 0], keys)


def test_one_metric_takes_one_kind_of_key():
    m = GroupedRootMeanSquaredError()
    m.update_state([1.0], [0.0], ["a"])
    with pytest.raises(TypeError, match="one kind of key"):
        m.update_state([1.0], [0.0], [1])
    with pytest.raises(TypeError, match="one kind of key"):
        m.update_state([1.0], [0.0], [b"a"])
    assert m.keys().tolist() == ["a"]


def test_keys_of_rejected_updates_never_appear():
    m = GroupedRootMeanSquaredError()
    m.update_state([1.0, 2.0], [0.0, 0.0], ["kept", "kept"])
    before = json.dumps(m.get_state())
    with pytest.raises(ValueError):                       # shapes do not broadcast
        m.update_state([1.0, 2.0, 3.0], [0.0, 0.0], ["ghost", "ghost", "ghost"])
    with pytest.raises(ValueError):                       # weights of the wrong shape
        m.update_state([[1.0, 2.0, 3.0]] * 4, np.zeros((4, 3)), ["ghost"] * 4, np.ones(3))
    with pytest.raises(TypeError):                        # strings as values
        m.update_state(["1"], [0.0], ["ghost"])
    with pytest.raises(ValueError, match="one key per sample"):
        m.update_state([1.0, 2.0], [0.0, 0.0], ["ghost"])
    assert m.keys().tolist() == ["kept"]
    assert json.dumps(m.get_state()) == before


def test_empty_batches_add_no_keys_and_empty_groups_read_zero():
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(np.zeros((3, 0)), np.zeros((3, 0)), ["a", "b", "c"])
    m.update_state([], [], [])
    assert m.keys().tolist() == [] and m.result().size == 0
    assert m.overall() == 0.0 and m.to_dict() == {}
    m.update_state([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], ["a", "zero", "a"], [1.0, 0.0, 1.0])
    assert m.to_dict() == {"a": np.sqrt(5.0), "zero": 0.0}
    assert m.counts().tolist() == [2.0, 0.0] and m.elements().tolist() == [2, 1]


def test_per_sample_keys_follow_the_rank_fix_up_and_weight_rules():
    """Samples are the first axis of the squared errors after semantics 2.2;
    broadcast and averaged (3.3) weights are read per sample."""
    t = np.arange(12.0).reshape(4, 3)
    p = np.zeros((4, 3, 1))                               # 2.2: squeezed to (4, 3)
    keys = ["a", "b", "a", "b"]
    cases = [None, np.array([1.0, 2.0, 0.5, 1.0]), np.array([[1.0], [2.0], [3.0], [4.0]]),
             np.ones((4, 3)) * 0.5]
    for w in cases:
        m = GroupedRootMeanSquaredError(dtype="float64")
        m.update_state(t, p, keys, w)
        for key, value in m.to_dict().items():
            idx = [i for i, k in enumerate(keys) if k == key]
            ref = RootMeanSquaredError(dtype="float64")
            ref.update_state(t[idx], p[idx], None if w is None else w[idx])
            assert ulps(value, ref.result()) <= 1
    # y_true (3,) against y_pred (4, 3): broadcast along the samples
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(np.array([1.0, 2.0, 3.0]), t, keys)
    ref = RootMeanSquaredError(dtype="float64")
    ref.update_state(np.array([1.0, 2.0, 3.0]), t[[0, 2]])
    assert ulps(m.to_dict()["a"], ref.result()) <= 1
    # 3.3: (2,) weights against (2, 3, 4): each sample's mean, weighted
    t3, p3 = np.arange(24.0).reshape(2, 3, 4), np.zeros((2, 3, 4))
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(t3, p3, ["x", "y"], np.array([2.0, 3.0]))
    for i, key in enumerate(["x", "y"]):
        ref = RootMeanSquaredError(dtype="float64")
        ref.update_state(t3[i:i + 1], p3[i:i + 1], np.array([[2.0, 3.0][i]]))
        assert ulps(m.to_dict()[key], ref.result()) <= 1
    assert m.elements().tolist() == [12, 12]
    with pytest.raises(ValueError, match="cannot be split among groups"):
        m.update_state(t3, p3, ["x", "y"], np.array([2.0]))


def test_a_zero_dimensional_batch_is_one_sample():
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(1.0, 4.0, "only")
    m.update_state(np.float64(0.0), np.float64(1.0), ["only"])
    assert m.to_dict() == {"only": np.sqrt(5.0)}


# -- merges, state, pickle, config -------------------------------------------------

@given(data=st.data())
def test_merging_states_with_different_key_sets_is_the_whole_stream(data):
    stream = data.draw(st.lists(grouped_batches("int"), min_size=2, max_size=6))
    cut = data.draw(st.integers(1, len(stream) - 1))
    whole, left, right = (GroupedRootMeanSquaredError(dtype="float64") for _ in range(3))
    for i, (t, p, keys, w) in enumerate(stream):
        whole.update_state(t, p, np.array(keys, dtype=np.int64), w)
        (left if i < cut else right).update_state(t, p, np.array(keys, dtype=np.int64), w)
    left.merge_state(right)
    assert left.keys().tolist() == whole.keys().tolist()
    groups, everything = group_oracle(stream)
    for key, value in left.to_dict().items():
        assert ulps(value, groups[key].result()) <= 2
    assert ulps(left.overall(), everything.result()) <= 2
    np.testing.assert_array_equal(left.elements(), whole.elements())


def test_merge_checks_before_changing_anything():
    a, b = GroupedRootMeanSquaredError(), GroupedRootMeanSquaredError()
    a.update_state([1.0], [0.0], ["a"])
    b.update_state([1.0], [0.0], [3])
    before = json.dumps(a.get_state())
    with pytest.raises(TypeError, match="keys"):
        a.merge_state(b)
    with pytest.raises(TypeError):
        a.merge_state([RootMeanSquaredError()])
    with pytest.raises(ValueError, match="dtype"):
        a.merge_state(GroupedRootMeanSquaredError(dtype="float64"))
    assert json.dumps(a.get_state()) == before
    c = GroupedRootMeanSquaredError()
    c.update_state([2.0], [0.0], ["b"])
    a.merge_state([c, GroupedRootMeanSquaredError()])
    assert a.to_dict() == {"a": 1.0, "b": 2.0}


def test_merge_raw_arrays_from_another_engine():
    """What a Spark or dask partition sends: keys and per-key raw sums."""
    part = GroupedRootMeanSquaredError(dtype="float64")
    part.update_state([0.0, 0.0, 0.0], [1.0, 2.0, 2.0], ["x", "y", "y"], [1.0, 1.0, 3.0])
    raw = part.get_raw()
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state([0.0], [5.0], ["z"])
    m.merge_raw(**raw)
    assert m.to_dict() == {"x": 1.0, "y": 2.0, "z": 5.0}
    with pytest.raises(ValueError, match="one length"):
        m.merge_raw(["q"], [1.0], [0.0], [1.0], [0.0], [0, 1], [1])
    assert m.keys().tolist() == ["x", "y", "z"]


@pytest.mark.parametrize("keys", [["b", "a"], [b"b", b"a"], [3, -1], [True, False],
                                  np.array(["2026-01-02", "2026-01-01"], dtype="M8[s]"),
                                  np.array([2**64 - 1, 1], dtype=np.uint64)])
def test_state_round_trips_bitwise_through_json_and_pickle(keys):
    m = GroupedRootMeanSquaredError(name="g", dtype="float64", num_threads=2)
    keys = np.array(keys) if not isinstance(keys, np.ndarray) else keys
    m.update_state([0.1, 0.2], [0.3, 0.7], keys, [1.5, -0.0])
    m.update_state([1e300, 0.0], [-1e300, np.nan], keys)
    state = m.get_state()
    again = GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(state)))
    assert again.get_state() == state
    assert again.get_config() == m.get_config()
    assert pickle.loads(pickle.dumps(m)).get_state() == state
    other = GroupedRootMeanSquaredError()
    other.set_state(state)
    assert other.get_state() == state
    np.testing.assert_array_equal(other.keys(), m.keys())
    r = m.result()
    assert np.isinf(r[np.argsort(np.argsort(keys))][0]) or np.isnan(r).any()


def test_bad_state_dicts_raise_and_change_nothing():
    m = GroupedRootMeanSquaredError()
    m.update_state([1.0], [0.0], ["a"])
    good = m.get_state()
    before = json.dumps(good)
    for bad in ({**good, "format": "x"}, {**good, "keys": ["a", "b"]},
                {**good, "total_hi": ["nope"]}, {**good, "kind": "float"},
                {**good, "unweighted": [-1]}, {k: v for k, v in good.items() if k != "kind"},
                {**good, "keys": [1]}, {**good, "dtype": "complex64"}, "state"):
        with pytest.raises((TypeError, ValueError)):
            m.set_state(bad)
    assert json.dumps(m.get_state()) == before


def test_config_and_constructor_checks():
    m = GroupedRootMeanSquaredError()
    assert m.get_config() == {"name": "grouped_root_mean_squared_error", "dtype": "float32"}
    assert GroupedRootMeanSquaredError.from_config(m.get_config()).get_config() == m.get_config()
    m.update_state([1.0, 2.0], [0.0, 0.0], [1, 2])
    assert m.result().dtype == np.float32 and m.overall().dtype == np.float32
    np.testing.assert_array_equal(m([0.0], [3.0], [1]), np.float32([np.sqrt(5.0), 2.0]))
    m.reset_state()
    assert m.keys().size == 0
    for bad in ({"name": 3}, {"num_threads": -1}, {"num_threads": 1.5}, {"dtype": "complex64"}):
        with pytest.raises((TypeError, ValueError)):
            GroupedRootMeanSquaredError(**bad)


# -- size, threads, the one-shot function ----------------------------------------------

def test_a_million_groups_with_exact_counts():
    rng = np.random.default_rng(5)
    n, groups = 3_000_000, 1_000_000
    keys = rng.integers(0, groups, size=n)
    t, p = rng.normal(size=n), rng.normal(size=n)
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(t, p, keys)
    present = np.flatnonzero(np.bincount(keys, minlength=groups))
    np.testing.assert_array_equal(m.keys(), present)
    np.testing.assert_array_equal(m.elements(), np.bincount(keys)[present])
    sums = np.bincount(keys, (p - t) ** 2)[present]
    np.testing.assert_allclose(m.result(), np.sqrt(sums / m.counts()), rtol=1e-13)
    flat = RootMeanSquaredError(dtype="float64")
    flat.update_state(t, p)
    assert ulps(m.overall(), flat.result()) <= 2


def test_a_million_string_keys():
    keys = np.char.add("s", np.arange(1_000_000).astype(str))
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(np.zeros(keys.size), np.ones(keys.size), keys[::-1])
    assert m.keys().tolist() == sorted(keys.tolist())
    assert (m.result() == 1.0).all()


@pytest.mark.parametrize("sorted_keys", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_threads_give_bitwise_the_same_state(sorted_keys, weighted):
    rng = np.random.default_rng(2)
    n = 3 * 2**20 + 17
    keys = rng.integers(0, 5000, size=n)
    if sorted_keys:
        keys.sort()
    t, p = rng.normal(size=n), rng.normal(size=n)
    w = rng.random(n) if weighted else None
    states = []
    for threads in (1, 2, 3):
        m = GroupedRootMeanSquaredError(dtype="float64", num_threads=threads)
        m.update_state(t, p, keys, w)
        states.append({k: v for k, v in m.get_state().items() if k != "num_threads"})
    assert states[0] == states[1] == states[2]


def test_runs_of_sorted_keys_match_the_unsorted_stream():
    rng = np.random.default_rng(3)
    keys = np.repeat(np.arange(50), rng.integers(1, 200, size=50))
    t, p = rng.normal(size=keys.size), rng.normal(size=keys.size)
    order = rng.permutation(keys.size)
    a, b = GroupedRootMeanSquaredError(dtype="float64"), GroupedRootMeanSquaredError(dtype="float64")
    a.update_state(t, p, keys)
    b.update_state(t[order], p[order], keys[order])
    np.testing.assert_array_equal(a.keys(), b.keys())
    assert max(ulps(x, y) for x, y in zip(a.result(), b.result())) <= 2


def test_one_shot_function():
    keys, rmse = rmse_ext.grouped_root_mean_squared_error(
        [2, 4, 6, 8], [1, 3, 2, 3], ["b", "a", "b", "a"], sample_weight=[1, 1, 0, 1])
    assert keys.tolist() == ["a", "b"]
    assert rmse.dtype == np.float64
    np.testing.assert_array_equal(rmse, [np.sqrt((1 + 25) / 2), 1.0])


@pytest.mark.parametrize("run", [1, 40])
def test_a_zero_weight_removes_its_element_even_nan_or_inf(run):
    """Semantics 5, per group, for lone elements and for runs of one key."""
    t = np.zeros(4 * run)
    p = np.repeat([1.0, np.nan, np.inf, 2.0], run)
    w = np.repeat([1.0, 0.0, 0.0, 1.0], run)
    keys = np.repeat(["a", "b", "b", "a"], run) if run > 1 else np.array(["a", "b", "b", "a"])
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(t, p, keys, w)
    assert m.to_dict() == {"a": np.sqrt(2.5), "b": 0.0}
    m.update_state(t, p, keys)
    assert np.isnan(m.to_dict()["b"])


@pytest.mark.parametrize("nan_policy", ["propagate", "omit"])
def test_weights_broadcast_to_no_row_change_nothing(nan_policy):
    # issue 18 defect 4, as the ungrouped metric (semantics 3.3 with 0 rows of weights)
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy=nan_policy)
    m.update_state([0.0], [1.0], [3])
    m.update_state(np.zeros((1, 6, 2)), np.ones((1, 6, 2)), [4], sample_weight=np.zeros(0))
    assert m.to_dict() == {3: 1.0} and m.overall() == 1.0


def test_integer_dtype_is_kept_and_results_are_float64():
    # issue 18 defect 11, as RootMeanSquaredError
    m = GroupedRootMeanSquaredError(dtype="int32")
    m.update_state([0, 0], [1, 2], ["a", "b"])
    assert m.get_config()["dtype"] == "int32" and m.dtype == "int32"
    assert m.result().dtype == np.float64 and m.result().tolist() == [1.0, 2.0]
    assert m.overall().dtype == np.float64
    assert GroupedRootMeanSquaredError.from_state(m.get_state()).dtype == "int32"


@pytest.mark.parametrize("keys", [[0, 5, 9, 5], ["b", "a", "c", "a"], [2**40, 3, 2**41, 3]])
def test_overall_pools_in_sorted_key_order_whatever_the_table(keys):
    # overall() pools every row in use of a dense table (holes hold zeros and
    # add nothing): bitwise the rows present, pooled in sorted key order
    rng = np.random.default_rng(7)
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    for _ in range(3):
        p = rng.normal(size=4) * 1e8
        p[rng.integers(4)] = np.nan
        m.update_state(rng.normal(size=4), p, keys)
    slots = m._table.present()[0]
    expected = rmse_ext._backend.kernel.group_pooled(m._table.rows, slots)
    assert m._pooled_raw() == expected
    acc = rmse_ext._backend.kernel.Accumulator()
    acc.set_raw(*expected)
    assert m.overall() == acc.value() and m.overall_omitted() == 3


def _fold_state(kernel, t, p, keys, w=None, inner=1, ascending=False, ranges=None):
    """The raw (rows, 8) state after one GroupedBatch fold (as int64 bits),
    whole or range by range (the threads' split)."""
    from rmse_ext._plan import TMode, WMode
    base = int(keys.min())
    state = np.zeros((int(keys.max()) - base + 1, 8))
    batch = (kernel.Batch(t, p) if w is None else
             kernel.Batch(t, p, w, TMode.FULL_T, WMode.FULL))
    folder = kernel.GroupedBatch(batch, keys, inner, base, None, ascending)
    if ranges is None:
        folder.fold(state)
    else:
        for lo, hi in ranges:
            folder.fold(state, lo, hi)
    return state.view(np.int64)


@pytest.mark.parametrize("key_dtype", [np.int32, np.int64])
def test_runs_of_ascending_keys_found_by_bisection_are_the_same_runs(kernel, key_dtype):
    # Run lengths around the segment threshold (32) and the gallop's steps.
    lengths = [1, 2, 3, 7, 8, 9, 31, 32, 33, 63, 64, 65, 1000, 1, 1, 5000, 2, 40]
    keys = np.repeat(np.arange(len(lengths)) * 3 - 7, lengths).astype(key_dtype)
    rng = np.random.default_rng(11)
    t, p, w = rng.normal(size=keys.size), rng.normal(size=keys.size), rng.random(keys.size)
    for kw in ({}, {"w": w}):
        assert np.array_equal(_fold_state(kernel, t, p, keys, ascending=True, **kw),
                              _fold_state(kernel, t, p, keys, **kw))
        thirds = [(0, 20), (20, 35), (35, 60)]
        assert np.array_equal(_fold_state(kernel, t, p, keys, ascending=True, ranges=thirds,
                                          **kw), _fold_state(kernel, t, p, keys, **kw))
    # Two elements per sample (fold_rows' sample arithmetic).
    t2, p2 = rng.normal(size=2 * keys.size), rng.normal(size=2 * keys.size)
    assert np.array_equal(_fold_state(kernel, t2, p2, keys, inner=2, ascending=True),
                          _fold_state(kernel, t2, p2, keys, inner=2))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_int_span_reads_range_and_order_in_one_pass(kernel, dtype):
    rng = np.random.default_rng(12)
    cases = [[5], [1, 1, 2], [3, 2], [-4, 0, 0, 9, 8], [0] * 40 + [-1],
             np.sort(rng.integers(-50, 50, 1001)), rng.integers(-50, 50, 1001)]
    for keys in cases:
        a = np.asarray(keys, dtype=dtype)
        lo, hi, ascending = kernel.int_span(a)
        assert (lo, hi) == (a.min(), a.max()) == kernel.int_range(a)
        assert bool(ascending) == bool((np.diff(a) >= 0).all())


@pytest.mark.parametrize("interval", [None, "normal"])
def test_blocks_of_lone_keys_add_as_one_element_at_a_time(interval):
    # Batches of <= 8 elements never take the block path, one batch of 3000
    # does: the rows (and per-key moments) must be the same bits.  Runs stay
    # below 32 elements, so no run is a segment in either.
    rng = np.random.default_rng(13)
    keys = rng.integers(0, 7, size=3000)
    keys[100:104] = 3                     # a few short runs among lone keys
    keys[2000:2020] = 5
    t, p = rng.normal(size=keys.size), rng.normal(size=keys.size) * 1e3
    whole = GroupedRootMeanSquaredError(dtype="float64", interval=interval)
    whole.update_state(t, p, keys)
    pieces = GroupedRootMeanSquaredError(dtype="float64", interval=interval)
    cuts = 8 + np.cumsum(rng.integers(1, 9, size=keys.size))   # first batch: several keys
    assert len(set(keys[:8].tolist())) > 1
    for a, b in zip(np.r_[0, 8, cuts], np.r_[8, cuts]):
        if a < keys.size:
            pieces.update_state(t[a:b], p[a:b], keys[a:b])
    a, b = whole.get_state(), pieces.get_state()
    if interval:        # the same sums (a zero compensation may be -0.0 in one of them)
        moments = [[float.fromhex(x) for x in s.pop("interval")["moments"]] for s in (a, b)]
        assert moments[0] == moments[1]
    assert a == b


@pytest.mark.parametrize("weighted_first", [False, True])
def test_runs_add_their_per_key_moments_as_one_unit_at_a_time(weighted_first):
    # Sorted keys in runs of 32 elements or more: one batch folds each run's
    # per-key "normal" sums in one go (the row mirrored, weight 1), batches
    # of <= 8 elements one unit at a time; the sums must be the same.  A
    # weighted first batch leaves one key's row unmirrored (the slow path).
    # (The first batch holds two keys: a one-key stream's sums are the
    # ungrouped metric's, summed in lanes, so not comparable bit for bit.)
    rng = np.random.default_rng(14)
    keys = np.repeat(np.arange(6), [40, 33, 100, 32, 64, 50])
    t, p = rng.normal(size=keys.size), rng.normal(size=keys.size) * 1e3
    sums = []
    for split in (False, True):
        m = GroupedRootMeanSquaredError(dtype="float64", interval="normal")
        m.update_state([0.5, 1.0], [2.0, 3.0], [2, 4],
                       sample_weight=[0.5, 3.0] if weighted_first else None)
        cuts = np.arange(0, keys.size + 8, 8) if split else np.array([0, keys.size])
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a < keys.size:
                m.update_state(t[a:b], p[a:b], keys[a:b])
        sums.append([float.fromhex(x) for x in m.get_state()["interval"]["moments"]])
    assert sums[0] == sums[1]
