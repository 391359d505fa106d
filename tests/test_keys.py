"""The one key codec (rmse_ext._keys, issue 18): a key's representation may
change -- widen -- between batches without losing any group, at every door
(update_state, merge_state, state and pickle, rmse_ext.dask, evaluate on a
dask frame, the CLI's chunks); keys that differ only by NUL characters stay
distinct; tampered count columns of a grouped state are refused."""
import json
import pickle
from fractions import Fraction

import numpy as np
import pytest

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")


def fresh():
    return GroupedRootMeanSquaredError(dtype="float64")


def exact_rmse(errors):
    """{key: rmse} from {key: [squared errors]} (Fractions, then one rounding)."""
    return {k: float(Fraction(sum(Fraction(e) for e in v), len(v))) ** 0.5
            for k, v in errors.items()}


def round_trips(m):
    """The metric's to_dict() through get_state/JSON/set_state and pickle."""
    again = GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
    return again.to_dict(), pickle.loads(pickle.dumps(m)).to_dict()


# -- defect 1: keys whose representation changes between batches ------------------------

WIDENING = {
    "numpy int then pandas Int64": (np.array([5, 6]), pd.Series([7], dtype="Int64")),
    "numpy int then pandas Categorical": (np.array([5, 6]), pd.Categorical([7])),
    "numpy int then an Arrow dictionary": (np.array([5, 6]),
                                           pa.array([7]).dictionary_encode()),
    "numpy int then uint64 past 2**63": (np.array([5, 6]), np.array([2**63 + 7], np.uint64)),
    "uint64 past 2**63 then numpy int": (np.array([2**63 + 5, 2**63 + 6], np.uint64),
                                         np.array([7])),
    "pandas Int64 then numpy int": (pd.Series([5, 6], dtype="Int64"), np.array([7])),
    "numpy bool then pandas boolean": (np.array([True, False]),
                                       pd.Series([True], dtype="boolean")),
    "numpy str then an Arrow dictionary": (np.array(["a", "b"]),
                                           pa.array(["c"]).dictionary_encode()),
}


@pytest.mark.parametrize("case", sorted(WIDENING))
def test_a_key_kind_that_widens_between_batches_keeps_every_group(case):
    first, second = WIDENING[case]
    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], first)
    m.update_state([0.0], [3.0], second)
    keys = [*pd.Series(first).tolist(), *pd.Series(second).tolist()]
    if keys[0] is True:                                # bools: True twice
        assert m.to_dict() == {False: 2.0, True: float(np.sqrt(5.0))}
    else:
        assert m.to_dict() == {keys[0]: 1.0, keys[1]: 2.0, keys[2]: 3.0}
    assert m.to_dict() == round_trips(m)[0] == round_trips(m)[1]


def test_the_issue_example():
    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], np.array([5, 6]))
    m.update_state([0.0], [3.0], pd.Series([7], dtype="Int64"))
    assert m.to_dict() == {5: 1.0, 6: 2.0, 7: 3.0}


def test_keys_minus_one_and_two_to_the_64_minus_one_in_separate_batches():
    m = fresh()
    m.update_state([0.0], [1.0], np.array([-1]))
    m.update_state([0.0], [2.0], np.array([2**64 - 1], np.uint64))
    m.update_state([0.0], [4.0], [2**70])                        # a Python int, wider still
    assert m.to_dict() == {-1: 1.0, 2**64 - 1: 2.0, 2**70: 4.0}
    assert m.keys().tolist() == [-1, 2**64 - 1, 2**70]
    assert round_trips(m) == (m.to_dict(), m.to_dict())
    m.update_state([0.0], [3.0], [-1])
    assert m.to_dict()[-1] == float(np.sqrt(5.0))


def test_merge_state_of_small_keys_with_keys_past_2_to_the_63():
    small, big = fresh(), fresh()
    small.update_state([0.0, 0.0], [1.0, 2.0], np.array([5, 6]))
    big.update_state([0.0, 0.0], [3.0, 4.0], np.array([2**63, 2**64 - 1], np.uint64))
    small.merge_state(big)
    assert small.to_dict() == {5: 1.0, 6: 2.0, 2**63: 3.0, 2**64 - 1: 4.0}
    big.merge_state(fresh(), small)
    assert big.to_dict() == {5: 1.0, 6: 2.0, 2**63: 3.0, 2**64 - 1: 4.0}   # each twice
    assert big.elements().tolist() == [1, 1, 2, 2]


def test_dask_update_state_with_keys_that_widen_across_blocks():
    da = pytest.importorskip("dask.array")
    import dask
    import rmse_ext.dask as rd

    keys = np.array([5, 6, 2**63 + 7, 2**64 - 1], np.uint64)
    y = np.zeros(4)
    p = np.array([1.0, 2.0, 3.0, 4.0])
    with dask.config.set(scheduler="synchronous"):
        m = rd.update_state(fresh(), da.from_array(y, chunks=2), da.from_array(p, chunks=2),
                            groups=da.from_array(keys, chunks=2))
    assert m.to_dict() == {5: 1.0, 6: 2.0, 2**63 + 7: 3.0, 2**64 - 1: 4.0}


def test_dask_update_state_takes_groups_in_the_grouped_class_order():
    da = pytest.importorskip("dask.array")
    import dask
    import rmse_ext.dask as rd

    t, p = np.zeros(6), np.arange(6.0)
    keys, w = np.array([1, 2, 1, 2, 3, 3]), np.arange(1.0, 7.0)
    want = fresh()
    want.update_state(t, p, keys, w)
    lazy = [da.from_array(a, chunks=4) for a in (t, p, keys, w)]
    with dask.config.set(scheduler="synchronous"):
        calls = [rd.update_state(fresh(), lazy[0], lazy[1], lazy[2], lazy[3]),     # the class's
                 rd.update_state(fresh(), *lazy[:3], sample_weight=lazy[3]),
                 rd.update_state(fresh(), *lazy[:2], lazy[3], groups=lazy[2]),     # as before
                 rd.update_state(fresh(), *lazy[:2], groups=lazy[2], sample_weight=lazy[3])]
        for got in calls:
            assert got.keys().tolist() == [1, 2, 3]
            assert got.counts().tolist() == want.counts().tolist()
            np.testing.assert_allclose(got.result(), want.result(), rtol=1e-15)
        with pytest.raises(TypeError, match="sample_weight both by position and by keyword"):
            rd.update_state(fresh(), *lazy, sample_weight=lazy[3])
        with pytest.raises(TypeError, match="at most groups and sample_weight"):
            rd.update_state(fresh(), *lazy, lazy[3])
        with pytest.raises(TypeError, match="got floats"):
            rd.update_state(fresh(), *lazy[:2], lazy[3])
        plain = rd.update_state(rmse_ext.RootMeanSquaredError(dtype="float64"), *lazy[:2],
                                lazy[3])
        assert plain.count == 21.0


def test_evaluate_on_a_dask_frame_with_uint64_keys_across_partitions():
    dd = pytest.importorskip("dask.dataframe")
    import dask

    frame = pd.DataFrame({"k": np.array([5, 6, 2**63 + 7, 5], np.uint64),
                          "y": np.zeros(4), "p": [1.0, 2.0, 3.0, 3.0]})
    with dask.config.set(scheduler="synchronous"):
        out = rmse_ext.evaluate(dd.from_pandas(frame, npartitions=2), "y", "p", by="k")
    assert out["k"].tolist() == [5, 6, 2**63 + 7]
    assert out["rmse"].tolist() == [float(np.sqrt(5.0)), 2.0, 3.0]
    assert out["count"].tolist() == [2, 1, 1]


def test_composite_keys_whose_partitions_read_as_int64_and_uint64():
    dd = pytest.importorskip("dask.dataframe")
    import dask

    frame = pd.DataFrame({"k": np.array([5, 6, 2**63 + 7, 5], np.uint64), "j": [1, 1, 1, 2],
                          "y": np.zeros(4), "p": [1.0, 2.0, 3.0, 4.0]})
    with dask.config.set(scheduler="synchronous"):
        out = rmse_ext.evaluate(dd.from_pandas(frame, npartitions=2), "y", "p", by=["k", "j"])
    assert out["k"].tolist() == [5, 5, 6, 2**63 + 7] and out["j"].tolist() == [1, 2, 1, 1]
    assert out["rmse"].tolist() == [1.0, 4.0, 2.0, 3.0]


def test_composite_key_coder_is_stable_across_batches_of_widening_keys():
    from rmse_ext._keys import KeyCoder

    coder = KeyCoder(["k", "s"])
    first = coder.codes([np.array([5, 6]), np.array(["a", "a"])], 2)
    second = coder.codes([np.array([2**64 - 1, 5], np.uint64),
                          np.array(["a\x00", "a"], dtype=object)], 2)
    assert first.tolist() == [0, 1] and second.tolist() == [2, 0]
    columns = coder.columns(np.array([0, 1, 2]))
    assert columns["k"].tolist() == [5, 6, 2**64 - 1]
    assert columns["s"].tolist() == ["a", "a", "a\x00"]


def test_cli_groups_file_read_in_chunks_of_two_rows(tmp_path, capsys):
    from rmse_ext.cli import main

    keys = np.array([5, 6, 2**63 + 7, 2**64 - 1, 5], np.uint64)
    np.save(tmp_path / "y.npy", np.zeros(5))
    np.save(tmp_path / "p.npy", np.array([1.0, 2.0, 3.0, 4.0, 3.0]))
    np.save(tmp_path / "keys.npy", keys)
    code = main(["eval", str(tmp_path / "y.npy"), str(tmp_path / "p.npy"), "--groups",
                 str(tmp_path / "keys.npy"), "--chunk-rows", "2", "--json", "--dtype",
                 "float64", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    groups = json.loads(out.out)["groups"]
    assert {g["key"]: g["rmse"] for g in groups} == {
        5: float(np.sqrt(5.0)), 6: 2.0, 2**63 + 7: 3.0, 2**64 - 1: 4.0}


# -- defect 3: keys that differ only by NUL characters ----------------------------------

@pytest.mark.parametrize("keys", [["a", "a\x00", "a", "\x00a"], [b"a", b"a\x00", b"a", b"\x00a"],
                                  ["a\x00\x00", "a\x00", "a", "a"]])
def test_keys_differing_by_trailing_nul_characters_stay_distinct(keys):
    m = fresh()
    m.update_state(np.zeros(4), [1.0, 2.0, 3.0, 4.0], np.array(keys, dtype=object))
    expected = {}
    for key, e in zip(keys, [1.0, 4.0, 9.0, 16.0]):
        expected.setdefault(key, []).append(e)
    expected = dict(sorted(exact_rmse(expected).items()))
    assert m.keys().tolist() == list(expected)
    assert m.to_dict() == expected
    assert round_trips(m) == (expected, expected)
    other = fresh()
    other.merge_state(m)
    other.update_state([0.0], [5.0], np.array([keys[1]], dtype=object))
    assert other.keys().tolist() == list(expected)


PANDAS_NUL_KEYS = {
    "object Series": lambda k: pd.Series(k, dtype=object),
    "string Series": lambda k: pd.Series(k, dtype="string"),
    "python string Series": lambda k: pd.Series(k, dtype="string[python]"),
    "Index": lambda k: pd.Index(k, dtype=object),
    "Categorical, explicit categories": lambda k: pd.Categorical(k, categories=sorted(set(k))),
}


@pytest.mark.parametrize("form", sorted(PANDAS_NUL_KEYS))
@pytest.mark.parametrize("keys", [["a", "a\x00", "a", "\x00a"], [b"a", b"a\x00", b"\x00a", b"a"]])
def test_nul_keys_in_pandas_objects_stay_distinct(form, keys):
    """pandas < 3 hashes object strings as C strings in pd.factorize (one key
    for "a" and "a\\x00"): the codec reads them by its own object path."""
    if isinstance(keys[0], bytes) and "string" in form:
        pytest.skip("pandas string dtypes hold str")
    from rmse_ext._keys import read_keys

    batch = read_keys(PANDAS_NUL_KEYS[form](keys), 4)
    assert [batch.uniques[c] for c in batch.codes] == keys
    m = fresh()
    m.update_state(np.zeros(4), [1.0, 2.0, 3.0, 4.0], PANDAS_NUL_KEYS[form](keys))
    assert len(m.to_dict()) == 3


def test_pandas_object_keys_keep_their_errors():
    from rmse_ext._keys import read_keys

    for groups in (pd.Series(["a", None]), pd.Series(["a", pd.NA], dtype="string")):
        with pytest.raises(ValueError, match="groups has a missing key .* at position 1"):
            read_keys(groups, 2)
    with pytest.raises(TypeError, match="mixes key types: str keys, and a bytes"):
        read_keys(pd.Series(["a", b"b"]), 2)
    assert read_keys(pd.Series([1, 2**64 - 1, -1], dtype=object), 3).uniques == [1, 2**64 - 1, -1]


# -- positions: structured, said by each door its own way (docs/semantics.md 8.5) --------

@pytest.mark.parametrize("groups, position, error", [
    (np.array(["2024-01-01", "NaT", "NaT"], dtype="M8[D]"), 1, ValueError),
    (["a", "b", None], 2, ValueError),
    (pd.Series(["a", "b", "c", pd.NA], dtype="string"), 3, ValueError),
    (pa.array([1, None]), 1, ValueError),
    (["a", b"b"], 1, TypeError),
    # a category's error is said at its first sample, not at the category
    (pd.Categorical(["x", "y", "x", None]), 3, ValueError),
    (pd.Categorical.from_codes([0, 0, 1], categories=pd.Index(["s", b"b"], dtype=object)), 2,
     TypeError),
])
def test_key_errors_carry_their_position(groups, position, error):
    from rmse_ext._keys import AtKey

    m = fresh()
    with pytest.raises(error) as info:
        m.update_state(np.zeros(len(groups)), np.ones(len(groups)), groups)
    exc = info.value
    assert isinstance(exc, AtKey) and exc.position == position and exc.name == "groups"
    assert f"at position {position};" in str(exc)           # the Python door: 0-based
    assert exc.said("row 9", "k.csv").startswith("k.csv ") and "at row 9;" in exc.said("row 9")
    again = pickle.loads(pickle.dumps(exc))                  # dask/Spark workers send it back
    assert type(again) is type(exc) and str(again) == str(exc) and again.position == position
    assert m.keys().tolist() == []                           # state unchanged


@pytest.mark.parametrize("groups, position", [
    ([1, "b"], 1), ([True, 2], 1), ([2, 3, True], 2), ([1, b"x"], 1),
    (pd.Series([7, "7"], dtype=object), 1)])
def test_python_keys_of_mixed_kinds_are_refused_not_cast(groups, position):
    """NumPy would read [1, "b"] as the strings "1", "b" and [True, 2] as the
    ints 1, 2 (True pooled with 1): the codec refuses them, naming the position."""
    m = fresh()
    with pytest.raises(TypeError, match=f"groups mixes key types: .* at position {position};"):
        m.update_state(np.zeros(len(groups)), np.ones(len(groups)), groups)
    assert m.keys().tolist() == []


def test_a_nul_key_meets_the_same_key_read_from_a_fixed_width_array():
    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], np.array(["a", "b"]))          # U1: no NULs
    m.update_state([0.0, 0.0], [3.0, 4.0], np.array(["a", "a\x00"], dtype=object))
    assert m.to_dict() == {"a": float(np.sqrt(5.0)), "a\x00": 4.0, "b": 2.0}


# -- defect 9: grouped set_state refuses tampered count columns ---------------------------

def _state_with(column, values):
    m = fresh()
    m.update_state([0.0, 0.0, 0.0], [1.0, 2.0, 2.0], [1, 2, 2])
    state = m.get_state()
    state[column] = values
    return m, state


@pytest.mark.parametrize("column, values, error", [
    ("unweighted", [1.5, 2], TypeError),
    ("unweighted", ["2", 2], TypeError),
    ("unweighted", [True, 2], TypeError),
    ("weighted", [0, None], TypeError),
    ("omitted", [0.5, 0], TypeError),
    ("omitted", [0, -1], ValueError),
    ("unweighted", [2**70, 2], ValueError),
    ("weighted", [0, 2**63], ValueError),
    ("omitted", "12", TypeError),
])
def test_grouped_set_state_refuses_tampered_counts(column, values, error):
    m, state = _state_with(column, values)
    before = m.get_state()
    with pytest.raises(error, match=rf"state\['{column}'\]"):
        m.set_state(state)
    with pytest.raises(error, match=rf"state\['{column}'\]"):
        GroupedRootMeanSquaredError.from_state(state)
    assert m.get_state() == before
    # the ungrouped state refuses the same entry the same way (its count has
    # 128 bits, a group's 64: 2**70 is a count there)
    bad = [v for v in values if type(v) is not int or not 0 <= v < 2**63][0]
    if not (type(bad) is int and bad > 0):
        plain = rmse_ext.RootMeanSquaredError().get_state()
        plain["elements"] = bad
        with pytest.raises(error, match=r"state\['elements'\]"):
            rmse_ext.RootMeanSquaredError.from_state(plain)


# -- both metric classes pickle the same way ----------------------------------------------

class Tagged(GroupedRootMeanSquaredError):
    """A subclass whose __init__ takes another argument and keeps an attribute."""

    def __init__(self, tag, **kwargs):
        super().__init__(**kwargs)
        self.tag = tag


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_grouped_subclasses_pickle_and_copy_as_the_ungrouped_metric_does(how):
    import copy

    clone = {"pickle": lambda o: pickle.loads(pickle.dumps(o)),
             "deepcopy": copy.deepcopy, "copy": copy.copy}[how]
    m = Tagged("north", dtype="float64", interval="normal")
    m.update_state(np.zeros(6), [1.0, 2.0, 2.0, 3.0, 1.0, 5.0], [2**64 - 1, 5, 0, 5, 0, 5])
    again = clone(m)
    assert type(again) is Tagged and again.tag == "north"
    assert again.get_state() == m.get_state()
    np.testing.assert_array_equal(again.confidence_interval(), m.confidence_interval())
    assert np.isfinite(m.confidence_interval()[0][:2]).all()          # keys 0 and 5
    again.update_state([0.0], [5.0], [0])                    # independent tables
    assert again.to_dict() != m.to_dict()
    plain = rmse_ext.RootMeanSquaredError()
    assert set(m.__getstate__()) == set(plain.__getstate__()) == {"state", "attributes"}


def test_pickles_of_the_earlier_grouped_format_still_load(monkeypatch):
    from rmse_ext import _state

    m = fresh()
    m.update_state([0.0, 0.0], [1.0, 2.0], ["a", "b"])
    with monkeypatch.context() as patch:                 # how earlier versions pickled
        patch.setattr(GroupedRootMeanSquaredError, "__reduce__",
                      lambda self: (_state.restore, (type(self), self.get_state())),
                      raising=False)
        old = pickle.dumps(m)
    assert b"restore" in old
    assert pickle.loads(old).get_state() == m.get_state()


# -- hypothesis: streams whose keys change representation, against Fractions -------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from helpers import ulps  # noqa: E402

POOLS = {
    "int": [-1, 0, 5, 2**31, 2**63 - 1, 2**63 + 1, 2**64 - 1, 2**70],
    "bool": [False, True],
    "str": ["a", "a\x00", "", "b", "\x00a", "é"],
    "bytes": [b"a", b"a\x00", b"", b"\xff", b"\x00a"],
}


# pandas before 3 hashes object strings as C strings: 'a' and 'a\x00' are one
# category of a pd.Categorical whose categories pandas infers, before the key
# codec sees them (a pandas limit; explicit categories stay apart)
PANDAS_KEEPS_NUL = int(pd.__version__.split(".")[0]) >= 3


def representations(kind, keys):
    """Every way this batch of keys may be written (each one exact)."""
    lo, hi = min(keys), max(keys)
    objects = np.empty(len(keys), dtype=object)
    objects[:] = keys
    ways = {"list": list(keys), "object array": objects}
    if kind == "int":
        if -2**63 <= lo and hi < 2**63:
            ways.update({"int64": np.array(keys, np.int64),
                         "pandas Int64": pd.Series(keys, dtype="Int64"),
                         "Categorical": pd.Categorical(keys),
                         "Arrow dictionary": pa.array(keys, pa.int64()).dictionary_encode(),
                         "Arrow chunked": pa.chunked_array([keys[:1], keys[1:]], pa.int64())})
            if -128 <= lo and hi < 128:
                ways["int8"] = np.array(keys, np.int8)
        if lo >= 0 and hi < 2**64:
            ways.update({"uint64": np.array(keys, np.uint64),
                         "pandas UInt64": pd.Series(keys, dtype="UInt64"),
                         "Arrow uint64": pa.array(keys, pa.uint64())})
    elif kind == "bool":
        ways.update({"numpy": np.array(keys), "pandas boolean": pd.Series(keys, dtype="boolean"),
                     "Arrow": pa.array(keys)})
    else:
        arrow = pa.string() if kind == "str" else pa.binary()
        ways.update({"Arrow": pa.array(keys, arrow),
                     "Arrow dictionary": pa.array(keys, arrow).dictionary_encode()})
        nul = "\x00" if kind == "str" else b"\x00"
        if not any(nul in k for k in keys) or PANDAS_KEEPS_NUL:
            ways["Categorical"] = pd.Categorical(keys)
        ways["Categorical, explicit categories"] = pd.Categorical(
            keys, categories=sorted(set(keys)))
        ways["pandas object"] = pd.Series(keys, dtype=object)
        if kind == "str":
            ways["pandas string"] = pd.Series(keys, dtype="string")
        if not any(k.endswith(nul) for k in keys):
            ways["fixed width"] = np.array(keys)         # U / S cannot end in NUL
    try:
        import polars as pl
        if kind != "int" or -2**63 <= lo <= hi < 2**63 or 0 <= lo <= hi < 2**64:
            ways["polars"] = pl.Series(keys)
        if kind == "str":
            ways["polars Categorical"] = pl.Series(keys, dtype=pl.Categorical)
    except ImportError:
        pass
    return ways


@st.composite
def widening_streams(draw):
    kind = draw(st.sampled_from(sorted(POOLS)))
    stream = []
    for _ in range(draw(st.integers(1, 5))):
        keys = draw(st.lists(st.sampled_from(POOLS[kind]), min_size=1, max_size=5))
        errors = draw(st.lists(st.integers(-8, 8), min_size=len(keys), max_size=len(keys)))
        how = draw(st.sampled_from(sorted(representations(kind, keys))))
        door = draw(st.sampled_from(["update", "merge", "pickle", "state"]))
        stream.append((keys, errors, how, door))
    return kind, stream


@settings(max_examples=min(settings.default.max_examples, 100))
@given(widening_streams())
def test_streams_whose_keys_widen_match_a_fraction_oracle(case):
    kind, stream = case
    m, oracle = fresh(), {}
    for keys, errors, how, door in stream:
        groups = representations(kind, keys)[how]
        if door == "merge":                    # through another metric's state
            part = fresh()
            part.update_state(np.zeros(len(keys)), np.array(errors, float), groups)
            m.merge_state(part)
        else:
            m.update_state(np.zeros(len(keys)), np.array(errors, float), groups)
        if door == "pickle":
            m = pickle.loads(pickle.dumps(m))
        elif door == "state":
            m = GroupedRootMeanSquaredError.from_state(json.loads(json.dumps(m.get_state())))
        for key, e in zip(keys, errors):
            oracle.setdefault(key, []).append(Fraction(e) ** 2)
    want = sorted(oracle)
    assert m.keys().tolist() == want, (kind, stream)
    assert m.elements().tolist() == [len(oracle[k]) for k in want]
    exact = {k: float(Fraction(sum(v), len(v))) ** 0.5 for k, v in oracle.items()}
    for key, got in zip(want, m.result().tolist()):
        assert ulps(got, exact[key]) <= 2, (key, got, exact[key])


def test_read_only_object_keys_are_read_in_place_and_left_read_only():
    """pandas 3's copy-on-write Series give read-only arrays: the codec reads
    them through a writable view (no copy) and leaves the caller's flag as it was."""
    from rmse_ext._keys import read_keys

    a = np.array(["b", "a\x00", "b", "a"], dtype=object)
    a.flags.writeable = False
    batch = read_keys(a, 4)
    assert [batch.uniques[c] for c in batch.codes] == a.tolist()
    assert not a.flags.writeable
    s = pd.Series(["x", "y", "x"], dtype=object)
    before = s.to_numpy().flags.writeable
    assert read_keys(s, 3).codes.tolist() == [0, 1, 0]
    assert s.to_numpy().flags.writeable == before and s.tolist() == ["x", "y", "x"]


def test_numpy_timedelta_scalars_are_durations_not_integers():
    """np.timedelta64 is a NumPy integer: a list of them took the Python-int
    path (OverflowError, or 1 day and 1 hour both the key 1) and mixed with
    ints raised int()'s TypeError.  They are read as the timedelta64 array
    NumPy makes of them; mixed with ints, the codec's mixed-kinds error."""
    m = fresh()
    keys = [np.timedelta64(1, "D"), np.timedelta64(24, "h"), np.timedelta64(1, "h")]
    m.update_state([0.0, 0.0, 0.0], [1.0, 1.0, 3.0], keys)
    same = fresh()
    same.update_state([0.0, 0.0, 0.0], [1.0, 1.0, 3.0], np.array(keys))
    assert m.to_dict() == same.to_dict() and len(m.keys()) == 2
    hours = m.keys().astype("m8[h]").astype(np.int64).tolist()
    assert sorted(zip(hours, m.result().tolist())) == [(1, 3.0), (24, 1.0)]
    for groups in ([np.timedelta64(1, "D"), 1], [1, np.timedelta64(1, "D")]):
        with pytest.raises(TypeError, match="groups mixes key types: .* at position 1;"):
            fresh().update_state([0.0, 0.0], [1.0, 1.0], groups)


def test_timestamps_with_nanoseconds_are_refused_not_pooled():
    """Python datetime keys are read as datetime64[us]: two pandas Timestamps
    a nanosecond apart were silently one key."""
    ts = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 00:00:00.000000001")]
    m = fresh()
    with pytest.raises(ValueError, match=r"groups holds a Timestamp with nanoseconds .* at "
                                         r"position 1; .* datetime64\[ns\]"):
        m.update_state([0.0, 0.0], [1.0, 2.0], ts)
    assert m.keys().tolist() == []
    exact = fresh()
    exact.update_state([0.0, 0.0], [1.0, 2.0], pd.Series(ts, dtype="datetime64[ns]"))
    assert len(exact.keys()) == 2
