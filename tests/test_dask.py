"""rmse_ext.dask: dask arrays folded block by block, same rules and (within
4 ulp) the same result as the in-memory metric; a real 2-process
distributed.LocalCluster at the end."""
import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] (extra [dask]) is not installed")
import rmse_ext.dask as rd  # noqa: E402
from rmse_ext import RootMeanSquaredError  # noqa: E402

from helpers import snapshot, ulps  # noqa: E402

RNG = np.random.default_rng(2024)


def normal(*shape):
    return RNG.normal(size=shape) * 10.0 ** RNG.integers(-3, 3)


def in_memory(t, p, w=None):
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(t, p, w)
    return m


def lazy(x, chunks):
    return x if chunks is None or np.ndim(x) == 0 else da.from_array(np.asarray(x), chunks=chunks)


def assert_agrees(expected, got):
    assert ulps(got.count, expected.count) <= 4.0
    assert ulps(got.total, expected.total) <= 4.0
    assert ulps(got.result(), expected.result()) <= 4.0, (got.result(), expected.result())


# (y_true, chunks), (y_pred, chunks), (sample_weight, chunks); chunks None = plain NumPy
CASES = {
    "equal shapes, equal chunks": ((normal(40, 7), (10, 7)), (normal(40, 7), (10, 7)), None),
    "chunks differ (rechunked)": ((normal(40, 7), (13, 3)), (normal(40, 7), (7, 4)), None),
    "one row against a batch": ((normal(7), (3,)), (normal(40, 7), (9, 2)), None),
    "batch against a column": ((normal(40, 1), (8, 1)), (normal(40, 6), (16, 4)), None),
    "numpy y_true, dask y_pred": ((normal(40, 7), None), (normal(40, 7), (11, 5)), None),
    "rank fix-up (n, 1) vs (n,)": ((normal(40), (15,)), (normal(40, 1), (8, 1)), None),
    "float32 and int": ((normal(50).astype(np.float32), (20,)),
                        (RNG.integers(-9, 9, 50), (7,)), None),
    "scalar weight": ((normal(40, 7), (10, 7)), (normal(40, 7), (10, 3)), (2.5, None)),
    "per-sample weights (semantics 3.1)": ((normal(40, 7), (10, 7)), (normal(40, 7), (6, 3)),
                                      (RNG.random(40), (7,))),
    "full weights": ((normal(30, 5), (10, 5)), (normal(30, 5), (10, 5)),
                     (RNG.random((30, 5)), (4, 2))),
    "column weights (1, d)": ((normal(30, 5), (10, 2)), (normal(30, 5), (10, 5)),
                              (RNG.random((1, 5)), (1, 3))),
    "weights with a trailing 1": ((normal(30, 5), (9, 5)), (normal(30, 5), (10, 5)),
                                  (RNG.random((30, 5, 1)), (4, 5, 1))),
    "signed weights": ((normal(30), (9,)), (normal(30), (10,)), (RNG.normal(size=30), (4,))),
    "averaged (semantics 3.3): (n, a, b) with (n,)": ((normal(12, 3, 4), (5, 2, 3)),
                                                 (normal(12, 3, 4), (4, 3, 1)),
                                                 (RNG.random(12), (5,))),
    "averaged: (n, a, b) with (n, a)": ((normal(12, 3, 4), (5, 2, 3)),
                                        (normal(12, 3, 4), (4, 3, 4)),
                                        (RNG.random((12, 3)), (7, 2))),
    "averaged: weights broadcast (1, a)": ((normal(12, 3, 4), (5, 2, 3)),
                                           (normal(3, 4), (2, 2)),
                                           (RNG.random((1, 3)), (1, 2))),
    "averaged: more weight axes than values": ((normal(6, 3), (2, 2)), (normal(6, 3), (3, 3)),
                                               (RNG.random((2, 2, 6, 3)), (1, 2, 3, 3))),
    "scalars": ((np.float64(1.5), None), (da.from_array(np.array(4.0)), None), None),
    "empty": ((np.empty((0, 3)), (5, 3)), (np.empty((0, 3)), (5, 3)), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_rules_and_result_as_the_in_memory_metric(case):
    (t, tc), (p, pc), weights = CASES[case]
    w, wc = weights if weights is not None else (None, None)
    expected = in_memory(t, p, w)
    metric = RootMeanSquaredError(dtype="float64")
    with_dask = rd.update_state(metric, lazy(t, tc), lazy(p, pc), lazy(w, wc) if w is not None else None)
    assert with_dask is metric
    assert_agrees(expected, metric)


def test_adds_to_the_running_state():
    t, p = normal(100), normal(100)
    expected = in_memory(t[:30], p[:30])
    expected.update_state(t[30:], p[30:])
    metric = in_memory(t[:30], p[:30])
    rd.update_state(metric, da.from_array(t[30:], chunks=16), da.from_array(p[30:], chunks=9))
    assert_agrees(expected, metric)


BAD = {
    "shapes do not broadcast": ((normal(4), (2,)), (normal(3), (2,)), None),
    "weights (d,) against (n, d) (semantics 3.4)": ((normal(4, 3), (2, 3)), (normal(4, 3), (2, 3)),
                                              (RNG.random(3), (3,))),
    "weights one axis too many": ((normal(4, 3), (2, 3)), (normal(4, 3), (2, 3)),
                                  (RNG.random((4, 3, 2)), (2, 3, 2))),
    "averaged weights do not broadcast": ((normal(4, 3, 2), (2, 3, 2)),
                                          (normal(4, 3, 2), (2, 3, 2)),
                                          (RNG.random((5,)), (5,))),
    "complex y_true": ((normal(4) + 1j, (2,)), (normal(4), (2,)), None),
    "string weights": ((normal(4), (2,)), (normal(4), (2,)), (np.array(list("abcd")), (2,))),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_like_the_metric_and_changes_nothing(case):
    (t, tc), (p, pc), weights = BAD[case]
    w, wc = weights if weights is not None else (None, None)
    with pytest.raises((TypeError, ValueError)) as in_memory_error:
        in_memory(t, p, w)
    metric = in_memory([1.0], [2.0])
    before = snapshot(metric)
    with pytest.raises(type(in_memory_error.value)) as dask_error:
        rd.update_state(metric, lazy(t, tc), lazy(p, pc), None if w is None else lazy(w, wc))
    assert snapshot(metric) == before
    assert str(dask_error.value) == str(in_memory_error.value)


def test_two_stages_answer_as_their_spark_namesakes():
    """partial_states / merged: lazy states per block, then a float64
    RootMeanSquaredError (as rmse_ext.spark's); partial_states follows the
    scikit-learn family's nan_policy ('raise' by default, position named)."""
    t, p = normal(30, 2), normal(30, 2)
    states = rd.partial_states(da.from_array(t, chunks=(7, 2)), da.from_array(p, chunks=(7, 2)))
    m = rd.merged(states, split_every=2)
    assert len(states) == 5 and type(m) is RootMeanSquaredError and m.dtype == "float64"
    assert_agrees(in_memory(t, p), m)
    t[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"^y_true has a NaN at flat position 9 \(nan_policy="
                                         r"'raise'\); pass nan_policy='omit' to leave such "):
        rd.partial_states(da.from_array(t, chunks=(7, 2)), p)
    omitted = rd.merged(rd.partial_states(da.from_array(t, chunks=(7, 2)), p, nan_policy="omit"))
    expected = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    expected.update_state(t, p)
    assert omitted.omitted == expected.omitted == 1
    assert_agrees(expected, omitted)
    assert np.isnan(rd.merged(rd.partial_states(t, p, nan_policy="propagate")).result())
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        rd.partial_states(t, p, nan_policy="skip")


def test_update_state_merges_through_the_metrics_own_door():
    """The engine merges a metric of the caller's dtype and name through
    merge_state (it no longer writes into the accumulator), so a metric
    the block states cannot describe is refused, unchanged."""
    t, p = normal(12), normal(12)
    m = rd.update_state(RootMeanSquaredError(name="mine", dtype="float32"),
                        da.from_array(t, chunks=5), p)
    expected = RootMeanSquaredError(dtype="float32")
    expected.update_state(t, p)
    assert m.name == "mine" and m.result().dtype == np.float32
    assert_agrees(expected, m)
    outputs = RootMeanSquaredError(multioutput="raw_values")
    with pytest.raises(ValueError, match="multioutput"):
        rd.update_state(outputs, da.from_array(t.reshape(6, 2), chunks=3), p.reshape(6, 2))
    assert outputs.get_state() == RootMeanSquaredError(multioutput="raw_values").get_state()


def test_empty_inputs_under_raise_are_empty_not_a_numpy_error():
    """nan_policy='raise' (partial_states' default since c76c101) looked
    for the first NaN with argmax, which NumPy refuses on zero elements:
    empty inputs give an empty list / leave the metric as it was."""
    empty = da.zeros((0, 3), chunks=1)
    assert rd.partial_states(empty, empty) == []
    assert rd.partial_states(empty, empty, empty) == []
    m = RootMeanSquaredError(dtype="float64", nan_policy="raise")
    before = snapshot(m)
    assert snapshot(rd.update_state(m, empty, empty)) == before


@pytest.mark.parametrize("interval", ["bootstrap", "normal", None])
def test_the_bootstrap_stream_moves_through_the_metrics_seam(interval):
    """bootstrap_position / advance_bootstrap: the engine moves the stream
    past the units its blocks folded, as an in-memory update does."""
    t, p = normal(10), normal(10)
    m = RootMeanSquaredError(dtype="float64", interval=interval)
    rd.update_state(m, da.from_array(t, chunks=3), p)
    here = RootMeanSquaredError(dtype="float64", interval=interval)
    here.update_state(t, p)
    assert m.bootstrap_position == here.bootstrap_position == (10 if interval == "bootstrap"
                                                               else 0)
    here.advance_bootstrap(5)
    assert here.bootstrap_position == (15 if interval == "bootstrap" else 0)


def test_unknown_chunk_sizes_and_wrong_metric_are_rejected():
    x = da.from_array(normal(20), chunks=5)
    unknown = x[x > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        rd.update_state(RootMeanSquaredError(), unknown, unknown)
    with pytest.raises(TypeError, match="RootMeanSquaredError"):
        rd.update_state(object(), x, x)
    with pytest.raises(ValueError, match="split_every"):
        rd.update_state(RootMeanSquaredError(), x, x, split_every=1)


def is_raw_state(value):
    return (isinstance(value, tuple) and len(value) == 6
            and all(isinstance(v, float) for v in value[:4])
            and all(isinstance(v, int) for v in value[4:]))


# -- a real cluster: two worker processes ---------------------------------------------

@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="distributed (extra [dask]) is not installed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def test_on_a_two_process_local_cluster(client):
    import dask
    from distributed import get_task_stream
    n, d = 400_000, 3
    # the data is made on the workers; y_true and y_pred have different row
    # blocks (rechunked to align), the weights a third chunking
    y_true = da.random.default_rng(1).normal(size=(n, d), chunks=(150_000, 3))
    y_pred = da.random.default_rng(2).normal(size=(n, d), chunks=(100_000, 2))
    weights = da.random.default_rng(3).random(n, chunks=120_000)
    metric = RootMeanSquaredError(dtype="float64")
    with get_task_stream(client) as stream:
        rd.update_state(metric, y_true, y_pred, weights)
        rd.update_state(metric, y_true, y_pred)
    t, p, w = dask.compute(y_true, y_pred, weights)          # the oracle's copy only
    expected = in_memory(t, p, w)
    expected.update_state(t, p)
    assert_agrees(expected, metric)
    assert metric._acc.get_raw()[4] == n * d                 # exact element count
    names = [(t["key"][0] if isinstance(t["key"], tuple) else t["key"], t["worker"])
             for t in stream.data]
    workers = set(client.scheduler_info()["workers"])
    assert len(workers) == 2 and {worker for _, worker in names} == workers
    assert sum(name.startswith("_block_state") for name, _ in names) >= 2 * 4

    # the blocks' states are six numbers each; only those leave the workers
    states = rd.partial_states(y_true, y_pred, weights)
    raws = client.gather(client.compute(states))
    assert len(raws) >= 4 and all(is_raw_state(r) for r in raws)
    merged = rd.merged(states, split_every=2)          # computed on the client's cluster
    assert type(merged) is RootMeanSquaredError and merged.dtype == "float64"
    assert_agrees(in_memory(t, p, w), merged)


def test_averaged_weights_on_the_cluster(client):
    t, p, w = normal(2000, 6, 5), normal(2000, 6, 5), RNG.random((2000, 6))
    metric = rd.update_state(RootMeanSquaredError(dtype="float64"),
                             da.from_array(t, chunks=(300, 4, 2)),
                             da.from_array(p, chunks=(500, 6, 5)),
                             da.from_array(w, chunks=(700, 3)))
    assert_agrees(in_memory(t, p, w), metric)


# -- semantics 3.3 once: the dask path is as exact as the in-memory one (issue 10) ----------

@pytest.mark.parametrize("big", [1e3, 1e6, 1e11])
def test_averaged_weights_that_cancel_are_exact_on_dask(big):
    from rmse_ext.reference import ExactRMSE
    t, p = np.zeros((2, 1, 3)), np.array([[[0.1, 0.2, 0.4]]] * 2)
    w = np.array([big + 1, -big])
    got = rd.update_state(RootMeanSquaredError(dtype="float64"), lazy(t, 1), lazy(p, 1),
                          lazy(w, 1))
    exact = ExactRMSE()
    exact.update_state(t, p, w)
    assert ulps(got.result(), exact.result()) <= 4 and got.count == 1.0


def test_per_sample_weights_against_a_huge_broadcast_view_take_no_memory():
    import tracemalloc
    n = 2**16                                   # 2**32 squared errors
    t = np.broadcast_to(np.float64(1.0), (n, n))
    p = np.broadcast_to(np.float64(3.0), (n, n))
    tracemalloc.start()
    try:
        metric = rd.update_state(RootMeanSquaredError(dtype="float64"), t, p, np.ones(n))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert float(metric.result()) == 2.0 and metric.count == float(n * n)
    assert peak < 256 * 2**20                   # the spelled-out view would be 32 GiB
