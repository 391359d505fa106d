"""rmse_ext.dask with a GroupedRootMeanSquaredError (groups=) and
rmse_ext.evaluate on dask DataFrames: per-block grouped states merged in a
tree, within 4 ulp per group of the in-memory metric, on a real
2-process distributed.LocalCluster."""
import json

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask[array] (extra [dask]) is not installed")
import rmse_ext  # noqa: E402
import rmse_ext.dask as rd  # noqa: E402
from rmse_ext import GroupedRootMeanSquaredError  # noqa: E402

from helpers import ulps  # noqa: E402
from test_dask import client  # noqa: E402,F401  (the 2-process LocalCluster fixture)

RNG = np.random.default_rng(13)


def in_memory(t, p, g, w=None):
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(t, p, g, w)
    return m


def assert_agrees(expected, got):
    np.testing.assert_array_equal(got.keys(), expected.keys())
    np.testing.assert_array_equal(got.elements(), expected.elements())
    for a, b in zip(got.result(), expected.result()):
        assert ulps(a, b) <= 4
    for a, b in zip(got.counts(), expected.counts()):
        assert ulps(a, b) <= 4
    assert ulps(got.overall(), expected.overall()) <= 4


N = 400
T2, P2 = RNG.normal(size=(N, 3)), RNG.normal(size=(N, 3))
W1 = RNG.random(N)
KEYS = {"int": RNG.integers(-5, 30, size=N),
        "str": RNG.choice(["north", "south", "east", "west"], size=N)}
CASES = {
    "1-D, equal chunks": (T2[:, 0], 50, P2[:, 0], 50, None, None, 50),
    "2-D, chunks differ on both axes": (T2, (37, 2), P2, (90, 3), None, None, 61),
    "per-sample weights": (T2, (100, 3), P2, (100, 3), W1, 77, 100),
    "a row against the batch": (T2[0], None, P2, (64, 1), None, None, 40),
    "averaged weights (3.3)": (T2.reshape(N, 3, 1) * np.ones(4), (50, 3, 2),
                               P2.reshape(N, 3, 1) * np.ones(4), (80, 3, 4), W1, 100, 70),
    "NumPy operands, dask keys": (T2, None, P2, None, W1, None, 123),
}


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_grouped_blocks_agree_with_the_in_memory_metric(case, kind):
    t, tc, p, pc, w, wc, gc = CASES[case]
    g = KEYS[kind]
    lazy = [x if c is None else da.from_array(x, chunks=c) for x, c in ((t, tc), (p, pc), (w, wc))]
    got = rd.update_state(GroupedRootMeanSquaredError(dtype="float64"), lazy[0], lazy[1],
                          lazy[2], groups=da.from_array(g, chunks=gc), split_every=3)
    assert_agrees(in_memory(t, p, g, w), got)


def test_bad_grouped_input_raises_before_computing_and_changes_nothing():
    m = GroupedRootMeanSquaredError()
    m.update_state([1.0], [0.0], ["a"])
    before = json.dumps(m.get_state())
    t = da.from_array(T2, chunks=100)
    with pytest.raises(ValueError, match="one key per sample"):
        rd.update_state(m, t, t, groups=da.from_array(KEYS["str"][:10], chunks=5))
    with pytest.raises(TypeError, match="one kind of key"):
        rd.update_state(m, t, t, groups=da.from_array(KEYS["int"], chunks=100))
    with pytest.raises(TypeError, match="needs groups"):
        rd.update_state(m, t, t)
    with pytest.raises(TypeError, match="groups= is for"):
        rd.update_state(rmse_ext.RootMeanSquaredError(), t, t, groups=KEYS["int"])
    with pytest.raises(ValueError, match="do not broadcast"):
        rd.update_state(m, t, da.from_array(T2[:, :2], chunks=100), groups=KEYS["str"])
    with pytest.raises(ValueError, match="missing key"):     # found on a worker
        rd.update_state(m, t, t, groups=da.from_array(
            np.array([None] + ["a"] * (N - 1), dtype=object), chunks=100))
    assert json.dumps(m.get_state()) == before


def frame():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({"y": T2[:, 0], "yhat": P2[:, 0], "w": W1, "store": KEYS["str"],
                         "fold": KEYS["int"] % 3})


@pytest.mark.parametrize("by", [None, "store", ["store", "fold"]])
@pytest.mark.parametrize("weight", [None, "w"])
def test_evaluate_on_a_dask_dataframe(by, weight):
    dd = pytest.importorskip("dask.dataframe")
    pdf = frame()
    got = rmse_ext.evaluate(dd.from_pandas(pdf, npartitions=5), "y", "yhat", by=by,
                            weight=weight)
    want = rmse_ext.evaluate(pdf, "y", "yhat", by=by, weight=weight)
    assert list(got.columns) == list(want.columns)
    for name in [c for c in want.columns if c not in ("rmse", "weight_sum")]:
        assert got[name].tolist() == want[name].tolist()
    for a, b in zip(got["rmse"], want["rmse"]):
        assert ulps(a, b) <= 4
    with pytest.raises(ValueError, match="no column"):
        rmse_ext.evaluate(dd.from_pandas(pdf, npartitions=2), "y", "nope")


@pytest.mark.parametrize("weight", [None, "w"])
def test_evaluate_on_a_dask_dataframe_with_missing_values(weight):
    dd = pytest.importorskip("dask.dataframe")
    pdf = frame()
    n = len(pdf)
    for column, rows in {"y": [1, n // 2], "yhat": [n // 2, n - 1], "w": [7]}.items():
        pdf[column] = pdf[column].astype("Float64")
        pdf.loc[rows, column] = None                     # pandas NA
    got = rmse_ext.evaluate(dd.from_pandas(pdf, npartitions=5), "y", "yhat", by="store",
                            weight=weight, nan_policy="omit")
    want = rmse_ext.evaluate(pdf, "y", "yhat", by="store", weight=weight, nan_policy="omit")
    assert list(got.columns) == list(want.columns) == ["store", "rmse", "count",
                                                       "weight_sum", "omitted"]
    assert got["omitted"].tolist() == want["omitted"].tolist()
    assert got["omitted"].sum() == (4 if weight else 3)
    assert got["count"].tolist() == want["count"].tolist()
    for a, b in zip(got["rmse"], want["rmse"]):
        assert ulps(a, b) <= 4
    # 'raise': the first missing value in partition order, whichever task fails first
    holes = dd.from_pandas(pdf[["yhat", "store"]].assign(y=0.0), npartitions=5)
    sizes = [len(part) for part in holes.partitions]
    number = int(np.searchsorted(np.cumsum(sizes), n // 2, side="right"))
    row = n // 2 - sum(sizes[:number])
    for _ in range(3):
        with pytest.raises(ValueError, match=rf"column 'yhat' .* at row {row} "
                                             rf"of partition {number} \(nan_policy='raise'\)"):
            rmse_ext.evaluate(holes, "y", "yhat", by="store", nan_policy="raise")


def test_a_missing_key_is_said_at_its_place_in_the_whole_input():
    """A key error raised in a block or partition said the position within
    it ('at position 50' for the 151st key of a dask array in blocks of
    100; 'at position 1' for a frame's row 5 in its partition 1) as if it
    were the whole input's: an array's key is said at its flat position, a
    frame's at its row of its partition (as 'raise' says a value), the
    first partition's when several have one."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    keys = np.array(["a"] * 150 + [None] + ["a"] * 49, dtype=object)
    t = da.zeros(200, chunks=100)
    with pytest.raises(ValueError, match="groups has a missing key .* at position 150;"):
        rd.update_state(GroupedRootMeanSquaredError(), t, t, groups=da.from_array(keys, chunks=100))
    pdf = pd.DataFrame({"y": np.zeros(8), "p": np.arange(8.0),
                        "g": ["a", "b", "a", "b", "a", None, "a", None]})
    pdf["q"] = 1.0
    # the one-pair engine, and the compare engine (several pairs, or an interval)
    for y_pred, ci in [("p", None), ("p", 0.95), (["p", "q"], None)]:
        for _ in range(3):
            with pytest.raises(ValueError, match=r"by column 'g' has a missing key .* at "
                                                 r"position 1 of partition 1;"):
                rmse_ext.evaluate(dd.from_pandas(pdf, npartitions=2), "y", y_pred, by="g", ci=ci)


# -- a real cluster: two worker processes ---------------------------------------------

def test_grouped_on_a_two_process_local_cluster(client):
    n = 200_000
    t, p, w = RNG.normal(size=n), RNG.normal(size=n), RNG.random(n)
    g = RNG.integers(0, 5000, size=n)
    got = rd.update_state(GroupedRootMeanSquaredError(dtype="float64"),
                          da.from_array(t, chunks=30_000), da.from_array(p, chunks=25_000),
                          da.from_array(w, chunks=40_000), groups=da.from_array(g, chunks=50_000))
    assert_agrees(in_memory(t, p, g, w), got)
    dd = pytest.importorskip("dask.dataframe")
    pdf = frame()
    out = rmse_ext.evaluate(dd.from_pandas(pdf, npartitions=4), "y", "yhat", by="store")
    want = rmse_ext.evaluate(pdf, "y", "yhat", by="store")
    assert out["store"].tolist() == want["store"].tolist()
    assert max(ulps(a, b) for a, b in zip(out["rmse"], want["rmse"])) <= 4


def test_evaluate_on_a_dask_dataframe_checks_column_types_before_computing():
    """The column reader's TypeError (naming the column) comes from the
    frame's dtypes, before any partition is read; an empty frame is refused."""
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    import dask

    pdf = frame().assign(day=pd.Timestamp("2026-01-01"))
    computed = []
    with dask.config.set(scheduler="sync"), \
            dask.callbacks.Callback(pretask=lambda key, dsk, state: computed.append(key)):
        with pytest.raises(TypeError, match="^column 'day' must hold real numbers"):
            rmse_ext.dask.evaluate(dd.from_pandas(pdf, npartitions=3), "y", "day", by="store")
    assert computed == []
    with pytest.raises(ValueError, match="has no rows"):
        rmse_ext.dask.evaluate(dd.from_pandas(pdf.iloc[:0], npartitions=1), "y", "yhat")


def test_the_key_kind_is_read_through_the_metrics_seam():
    """key_kind (documented on the grouped metric) is what the engine checks
    new keys against before any block is computed."""
    m = GroupedRootMeanSquaredError(dtype="float64")
    assert m.key_kind is None
    m.update_state([0.0], [1.0], ["a"])
    assert m.key_kind == "str"
    before = m.get_state()
    with pytest.raises(TypeError, match="holds int keys, but this metric's keys are str"):
        rd.update_state(m, da.zeros(2), da.ones(2), da.from_array(np.array([1, 2])))
    assert m.get_state() == before
