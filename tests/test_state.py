"""State that travels: merge_state, get_state/set_state/from_state, pickle,
deepcopy, and concurrent update_state from several Python threads."""
import copy
import json
import math
import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rmse_ext import RootMeanSquaredError
from rmse_ext._state import FORMAT
from rmse_ext.reference import ExactRMSE

from conftest import KERNELS, metric_on
from helpers import snapshot, ulps
from test_oracle import batches


def fed(kernel, stream, **kwargs):
    m = metric_on(kernel, dtype="float64", **kwargs)
    for y_true, y_pred, w in stream:
        m.update_state(y_true, y_pred, sample_weight=w)
    return m


def accepted_only(stream):
    """The batches the spec accepts (the exact reference raises on the rest)."""
    kept = []
    for y_true, y_pred, w in stream:
        try:
            ExactRMSE().update_state(y_true, y_pred, sample_weight=w)
        except ValueError:
            continue
        kept.append((y_true, y_pred, w))
    return kept


# -- merge_state ----------------------------------------------------------------

@given(stream=st.lists(batches(), min_size=1, max_size=6),
       cuts=st.lists(st.integers(0, 6), max_size=4),
       kernel=st.sampled_from(KERNELS))
def test_merging_any_partition_is_within_2_ulp_of_exact(stream, cuts, kernel):
    stream = accepted_only(stream)
    edges = sorted(set([0, len(stream)] + [c for c in cuts if c <= len(stream)]))
    parts = [fed(kernel, stream[a:b]) for a, b in zip(edges, edges[1:])]
    ref = ExactRMSE()
    for y_true, y_pred, w in stream:
        ref.update_state(y_true, y_pred, sample_weight=w)
    merged = metric_on(kernel, dtype="float64")
    merged.merge_state(*parts)
    assert ulps(merged.count, float(ref.count)) <= 1.0
    if ref.count == 0:
        assert merged.result() == 0.0
    else:
        assert ulps(merged.result(), ref.result()) <= 2.0


def test_merge_keeps_the_compensation():
    # 1e16 + 1 + 1 + ... : a plain float64 sum of the parts' totals drops the 1s
    big = metric_on(KERNELS[0], dtype="float64")
    big.update_state([0.0], [1e8])                       # total 1e16
    ones = [metric_on(KERNELS[0], dtype="float64") for _ in range(4)]
    for m in ones:
        m.update_state([0.0], [1.0])                     # total 1 each
    big.merge_state(ones)                                # Keras style: a list
    exact = 10**16 + 4
    assert big.total == float(exact)
    hi, lo = big._acc.get_raw()[:2]
    assert int(hi) + int(lo) == exact                    # hi alone would be 1e16 + 4 rounded
    assert big.count == 5.0


def test_merging_self_doubles_the_state():
    m = RootMeanSquaredError(dtype="float64")
    m.update_state([1.0, 2.0], [2.0, 4.0], sample_weight=[1.0, 3.0])
    total, count = m.total, m.count
    m.merge_state(m)
    assert (m.total, m.count) == (2 * total, 2 * count)


def test_merge_across_kernel_builds():
    parts = [metric_on(k, dtype="float64") for k in KERNELS]
    for i, m in enumerate(parts):
        m.update_state([0.0], [float(i + 1)])
    into = metric_on(KERNELS[-1], dtype="float64")
    into.merge_state(*parts)
    n = len(KERNELS)
    assert into.total == sum((i + 1) ** 2 for i in range(n)) and into.count == n


@pytest.mark.parametrize("bad, error, words", [
    (object(), TypeError, "RootMeanSquaredError"),
    (RootMeanSquaredError(dtype="float32"), ValueError, "dtype 'float32'"),
])
def test_merge_rejects_other_classes_and_dtypes_changing_nothing(bad, error, words):
    m = RootMeanSquaredError(dtype="float64")
    m.update_state([1.0], [3.0])
    good = RootMeanSquaredError(dtype="float64")
    good.update_state([0.0], [1.0])
    before = snapshot(m)
    with pytest.raises(error, match=words):
        m.merge_state(good, bad)      # the good one first: still nothing merged
    assert snapshot(m) == before


# -- get_state / set_state / from_state ------------------------------------------

EDGE_RAWS = [
    (0.0, 0.0, 0.0, 0.0, 0),
    (-0.0, -0.0, 0.0, -0.0, 7),
    (float("nan"), 0.0, 1.5, 2.0**-60, 3),
    (float("inf"), 0.0, float("-inf"), 0.0, 2**63 - 1),
    (1e16, 0.75, 5e-324, -5e-324, 12),
]


def bits(raw):
    return tuple(np.float64(x).tobytes() for x in raw[:4]) + (raw[4],)


@pytest.mark.parametrize("raw", EDGE_RAWS, ids=range(len(EDGE_RAWS)))
def test_state_dict_round_trips_bitwise_through_json(raw):
    m = RootMeanSquaredError(name="val_rmse", dtype="float16")
    m._acc.set_raw(*raw)
    state = m.get_state()
    text = json.dumps(state, allow_nan=False)           # plain JSON, no NaN tokens
    again = RootMeanSquaredError.from_state(json.loads(text))
    assert bits(again._acc.get_raw()) == bits(raw)
    assert again.get_config() == {"name": "val_rmse", "dtype": "float16"}
    other = RootMeanSquaredError()
    other.set_state(json.loads(text))
    assert bits(other._acc.get_raw()) == bits(raw) and other.dtype == "float16"
    assert state["format"] == FORMAT and state.get("num_threads") == getattr(m, "_num_threads", 1)


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_pickle_and_copies_round_trip_bitwise_and_are_independent(how):
    rng = np.random.default_rng(3)
    m = RootMeanSquaredError(name="x", dtype="float64")
    m.update_state(rng.normal(size=1000), rng.normal(size=1000), rng.random(1000))
    clone = {"pickle": lambda o: pickle.loads(pickle.dumps(o)),
             "deepcopy": copy.deepcopy, "copy": copy.copy}[how](m)
    assert type(clone) is RootMeanSquaredError
    assert snapshot(clone) == snapshot(m) and clone.get_config() == m.get_config()
    clone.update_state([0.0], [1.0])
    assert snapshot(clone) != snapshot(m)


def good_state():
    m = RootMeanSquaredError(dtype="float64")
    m.update_state([1.0, 2.0], [0.0, 0.0])
    return m.get_state()


@pytest.mark.parametrize("change, error, key", [
    ({"format": "rmse_ext.state/0"}, ValueError, "format"),
    ({"total_hi": 1.5}, TypeError, "total_hi"),
    ({"weight_lo": "0x1.8p"}, ValueError, "weight_lo"),
    ({"elements": 2.0}, TypeError, "elements"),
    ({"elements": True}, TypeError, "elements"),
    ({"elements": -1}, ValueError, "elements"),
    ({"elements": 2**128}, ValueError, "elements"),       # counts are exact below 2**128
    ({"name": 3}, TypeError, "name"),
    ({"dtype": "complex64"}, ValueError, "dtype"),
    ({"dtype": None}, TypeError, "dtype"),
    ({"num_threads": -1}, ValueError, "num_threads"),
    ({"num_threads": 2**70}, ValueError, "num_threads"),
    ({"num_threads": True}, TypeError, "num_threads"),
    ({"total_hi": "0x1p99999"}, ValueError, "total_hi"),
    ({"format": np.array(["a", "b"])}, TypeError, "format"),
    ({"num_threads": "2"}, TypeError, "num_threads"),
    ({"total_lo": None}, TypeError, "total_lo"),
])
def test_set_state_rejects_bad_dicts_naming_the_key(change, error, key):
    m = RootMeanSquaredError(name="keep", dtype="float32")
    m.update_state([3.0], [1.0])
    before = (snapshot(m), m.get_config())
    state = {**good_state(), **change}
    with pytest.raises(error, match=key):
        m.set_state(state)
    with pytest.raises(error, match=key):
        RootMeanSquaredError.from_state(state)
    assert (snapshot(m), m.get_config()) == before


@pytest.mark.parametrize("state", [None, [], "{}"])
def test_set_state_wants_a_dict(state):
    with pytest.raises(TypeError, match="state must be a dict"):
        RootMeanSquaredError().set_state(state)


def test_set_state_names_missing_keys():
    state = good_state()
    del state["weight_hi"], state["elements"]
    with pytest.raises(ValueError, match=r"\['weight_hi', 'elements'\]"):
        RootMeanSquaredError().set_state(state)


# a value of every kind, for every key: what set_state must survive
ODD_VALUES = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "x", "0x1p99999", "-0x1p99999",
              "0x1.8p", b"0x1p0", [], {}, (1,), np.array(["a", "b"]), np.array([1, 2]),
              np.float64(1.0), np.int64(3), np.array(2.0), object(), "float64", "0x0p+0"]


@pytest.mark.parametrize("key", ["format", "name", "dtype", "num_threads", "total_hi",
                                 "total_lo", "weight_hi", "weight_lo", "elements"])
def test_every_malformed_state_value_is_a_type_or_value_error_naming_the_key(key):
    for value in ODD_VALUES:
        state = {**good_state(), key: value}
        m = RootMeanSquaredError(name="keep", dtype="float32")
        m.update_state([3.0], [1.0])
        before = (snapshot(m), m.get_config())
        try:
            m.set_state(state)
        except (TypeError, ValueError) as exc:
            assert repr(key) in str(exc), (key, value, exc)
            assert (snapshot(m), m.get_config()) == before, (key, value)
            with pytest.raises(type(exc), match=repr(key)):
                RootMeanSquaredError.from_state(state)
        else:  # a value the key may hold: from_state takes it too
            assert snapshot(RootMeanSquaredError.from_state(state)) == snapshot(m)


# -- pickling protocol and num_threads ----------------------------------------------

class Tagged(RootMeanSquaredError):
    """A subclass with its own __init__ argument and an extra attribute."""

    def __init__(self, tag, **kwargs):
        super().__init__(**kwargs)
        self.tag = tag
        self.seen = []

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.seen.append(len(y_true))
        super().update_state(y_true, y_pred, sample_weight)


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
def test_subclasses_with_their_own_init_and_attributes_pickle_and_copy(how):
    m = Tagged("run-7", name="val", dtype="float64", num_threads=2)
    m.update_state([1.0, 2.0], [0.0, 0.0])
    m.note = {"epoch": 3}
    clone = {"pickle": lambda o: pickle.loads(pickle.dumps(o)),
             "deepcopy": copy.deepcopy, "copy": copy.copy}[how](m)
    assert type(clone) is Tagged
    assert (clone.tag, clone.seen, clone.note) == ("run-7", [2], {"epoch": 3})
    assert snapshot(clone) == snapshot(m)
    assert clone.get_config() == m.get_config() and clone.num_threads == 2
    clone.update_state([0.0], [1.0])        # never shares the accumulator
    assert snapshot(clone) != snapshot(m)
    if how != "copy":                        # a deep copy shares no attribute either
        assert clone.seen == [2, 1] and m.seen == [2]


@pytest.mark.parametrize("bad, error", [(2**70, ValueError), (1025, ValueError),
                                        (-1, ValueError), (True, TypeError),
                                        (2.0, TypeError), ("2", TypeError)])
def test_num_threads_is_validated_once_the_same_way_everywhere(bad, error):
    with pytest.raises(error, match="num_threads"):
        RootMeanSquaredError(num_threads=bad)
    state = {**good_state(), "num_threads": bad}
    with pytest.raises(error, match="num_threads"):
        RootMeanSquaredError.from_state(state)


def test_num_threads_none_or_0_means_every_available_cpu():
    import os
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for value in (None, 0):
        m = RootMeanSquaredError(num_threads=value)
        assert m.num_threads == cpus
        assert copy.deepcopy(m).num_threads == cpus
    assert RootMeanSquaredError(num_threads=1024).num_threads == 1024
    assert RootMeanSquaredError(num_threads=np.int64(3)).num_threads == 3


# -- several Python threads on one instance ---------------------------------------

def batch_list(seed, count):
    """Interleaved small (10) and large (200_000) batches; the large ones are
    summed without the GIL, the small ones with it."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = 200_000 if i % 2 else 10
        out.append((rng.normal(size=n), rng.normal(size=n), rng.random(n)))
    return out


@pytest.mark.parametrize("weighted", [False, True])
def test_threads_lose_no_update(kernel, weighted):
    threads_n, per_thread = 4, 12
    work = [batch_list(seed, per_thread) for seed in range(threads_n)]

    def feed(metric, chunk_list):
        for t, p, w in chunk_list:
            metric.update_state(t, p, w if weighted else None)

    single = metric_on(kernel, dtype="float64")
    for chunk_list in work:
        feed(single, chunk_list)

    shared = metric_on(kernel, dtype="float64")
    start = threading.Barrier(threads_n)

    def run(batches):
        start.wait()
        feed(shared, batches)

    threads = [threading.Thread(target=run, args=(b,)) for b in work]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elements = sum(t.size for batches in work for t, _, _ in batches)
    if weighted:
        weight = math.fsum(np.concatenate([w for b in work for _, _, w in b]))
        assert shared._acc.get_raw()[4] == 0
        assert ulps(shared.count, weight) <= 2.0
    else:
        assert shared._acc.get_raw()[4] == elements      # exact element count
    assert ulps(shared.result(), single.result()) <= 2.0
    assert ulps(shared.total, single.total) <= 2.0
