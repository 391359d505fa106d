"""rmse_ext.evaluate with lists of columns (issue 20): several models (a
``prediction`` column) or paired outputs (an ``output`` column), one row per
(group..., name) in the order given; every row bitwise what a single-column
call gives and held to an exact oracle; a NaN in one model's column leaves
the other's rows alone; y_true, weights and keys read once; the same table
from every frame kind."""
import math
from fractions import Fraction

import numpy as np
import pytest

pd = pytest.importorskip("pandas")  # every comparison here builds a pandas frame

import rmse_ext
from rmse_ext import _columns, _compare

RNG = np.random.default_rng(20)
N = 120


def data():
    y, a, b = RNG.normal(size=N), RNG.normal(size=N), RNG.normal(size=N)
    b[[2, 7, 40]] = np.nan                         # model b's holes only
    return {"store": RNG.choice(["n", "s", "e"], size=N), "day": RNG.integers(0, 3, N),
            "y": y, "a": a, "b": b, "w": RNG.random(N) + 0.1}


DATA = data()


def exact_rmse(t, p, w):
    kept = ~(np.isnan(t) | np.isnan(p))
    total = sum(Fraction(wi) * (Fraction(pi) - Fraction(ti)) ** 2
                for ti, pi, wi in zip(t[kept].tolist(), p[kept].tolist(), w[kept].tolist()))
    return math.sqrt(total / sum(Fraction(wi) for wi in w[kept].tolist()))


@pytest.mark.parametrize("by", [None, "store", ["store", "day"]])
def test_each_row_is_the_single_model_call_and_exact(by):
    table = pd.DataFrame(DATA)
    out = rmse_ext.evaluate(table, "y", ["a", "b"], by=by, weight="w", nan_policy="omit",
                            ci=0.9)
    keys = [] if by is None else [by] if isinstance(by, str) else by
    assert list(out.columns) == [*keys, "prediction", "rmse", "count", "weight_sum",
                                 "omitted", "ci_low", "ci_high"]
    assert out["prediction"].tolist()[:2] == ["a", "b"]
    for name in ("a", "b"):
        alone = rmse_ext.evaluate(table, "y", name, by=by, weight="w", nan_policy="omit",
                                  ci=0.9)
        mine = out[out["prediction"] == name].drop(columns="prediction").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone, check_exact=True)
        for row in mine.itertuples(index=False):
            rows = np.ones(N, bool)
            for k in keys:
                rows &= DATA[k] == getattr(row, k)
            ref = exact_rmse(DATA["y"][rows], DATA[name][rows], DATA["w"][rows])
            assert abs(row.rmse - ref) <= 2 * math.ulp(ref)


def test_a_nan_in_model_b_leaves_model_a_alone():
    table = pd.DataFrame(DATA)
    out = rmse_ext.evaluate(table, "y", ["a", "b"], nan_policy="omit")
    assert out["omitted"].tolist() == [0, 3] and out["count"].tolist() == [N, N - 3]
    propagate = rmse_ext.evaluate(table, "y", ["a", "b"], nan_policy="propagate")
    assert np.isfinite(propagate["rmse"][0]) and np.isnan(propagate["rmse"][1])
    with pytest.raises(ValueError, match="'b'.*row 2"):
        rmse_ext.evaluate(table, "y", ["a", "b"], nan_policy="raise")


def test_paired_outputs():
    table = pd.DataFrame(DATA)
    out = rmse_ext.evaluate(table, ["y", "w"], ["a", "b"], by="store", nan_policy="omit")
    assert list(out.columns[:2]) == ["store", "output"]
    assert out["output"].tolist() == ["y", "w"] * 3
    alone = rmse_ext.evaluate(table, "w", "b", by="store", nan_policy="omit")
    np.testing.assert_array_equal(out[out["output"] == "w"]["rmse"], alone["rmse"])


def test_targets_weights_and_keys_are_read_once(monkeypatch):
    reads, keys = [], []
    values, read_keys = _columns.read_values, _compare.read_keys
    monkeypatch.setattr(_columns, "read_values", lambda frame, label, role="":
                        reads.append(label) or values(frame, label, role))
    monkeypatch.setattr(_compare, "read_keys", lambda *a: keys.append(1) or read_keys(*a))
    rmse_ext.evaluate(DATA, "y", ["a", "b"], by="store", weight="w", nan_policy="omit")
    assert sorted(reads) == ["a", "b", "w", "y"] and len(keys) == 1


@pytest.mark.parametrize("kind", ["polars", "pyarrow", "dict"])
def test_every_in_memory_frame_gives_the_same_table(kind):
    expected = rmse_ext.evaluate(pd.DataFrame(DATA), "y", ["b", "a"], by="store",
                                 nan_policy="omit")
    if kind == "polars":
        import polars as pl
        got = rmse_ext.evaluate(pl.DataFrame(DATA), "y", ["b", "a"], by="store",
                                nan_policy="omit").to_pandas()
    elif kind == "pyarrow":
        import pyarrow as pa
        got = rmse_ext.evaluate(pa.table(DATA), "y", ["b", "a"], by="store",
                                nan_policy="omit").to_pandas()
    else:
        got = pd.DataFrame(rmse_ext.evaluate(DATA, "y", ["b", "a"], by="store",
                                             nan_policy="omit"))
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


def test_dask_frame_gives_the_same_table():
    dd = pytest.importorskip("dask.dataframe")
    table = pd.DataFrame(DATA)
    expected = rmse_ext.evaluate(table, "y", ["a", "b"], by="store", nan_policy="omit")
    got = rmse_ext.evaluate(dd.from_pandas(table, npartitions=3), "y", ["a", "b"],
                            by="store", nan_policy="omit")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-15)


def test_bad_lists_raise_naming_the_arguments():
    with pytest.raises(ValueError, match="equal lengths"):
        rmse_ext.evaluate(DATA, ["y", "w"], ["a"], nan_policy="omit")
    with pytest.raises(ValueError, match="twice"):
        rmse_ext.evaluate(DATA, "y", ["a", "a"])
    with pytest.raises(ValueError, match="at least one"):
        rmse_ext.evaluate(DATA, "y", [])
    clash = dict(DATA, prediction=DATA["store"])
    with pytest.raises(ValueError, match="clashes"):
        rmse_ext.evaluate(clash, "y", ["a", "b"], by="prediction")


# -- dask (LocalCluster) and Spark (local[2]) frames, with ci= --------------------------

@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def assert_same_table(got, expected):
    got = got.reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    for name in expected.columns:
        if expected[name].dtype.kind == "f":
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, atol=0)
        else:
            assert got[name].tolist() == expected[name].tolist(), name


@pytest.mark.parametrize("by", [None, "store", ["store", "day"]])
@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_dask_intervals_and_lists_equal_the_in_memory_ones(dask_client, by, method):
    dd = pytest.importorskip("dask.dataframe")
    table = pd.DataFrame(DATA)
    frame = dd.from_pandas(table, npartitions=4)
    options = dict(by=by, weight="w", nan_policy="omit", ci=0.9, ci_method=method)
    assert_same_table(rmse_ext.evaluate(frame, "y", ["a", "b"], **options),
                      rmse_ext.evaluate(table, "y", ["a", "b"], **options))
    assert_same_table(rmse_ext.evaluate(frame, "y", "b", **options),
                      rmse_ext.evaluate(table, "y", "b", **options))


def test_dask_raise_names_the_first_partition(dask_client):
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(pd.DataFrame(DATA), npartitions=4)
    with pytest.raises(ValueError, match="'b'.*row 2 of partition 0"):
        rmse_ext.evaluate(frame, "y", ["a", "b"], ci=0.9)


def test_spark_intervals_and_lists_equal_the_in_memory_ones(spark):
    table = pd.DataFrame({k: (v.tolist() if k != "day" else v.astype(int).tolist())
                          for k, v in DATA.items()})
    df = spark.createDataFrame(table)      # partitions of consecutive rows, in order
    memory = table
    for options in (dict(by="store", nan_policy="omit", ci=0.9),
                    dict(by=["store", "day"], nan_policy="omit", ci=0.9, ci_method="bootstrap",
                         weight="w")):
        got = rmse_ext.evaluate(df, "y", ["a", "b"], **options)
        assert_same_table(got, rmse_ext.evaluate(memory, "y", ["a", "b"], **options))
    got = rmse_ext.evaluate(df, "y", "a", ci=0.95)
    assert_same_table(got, rmse_ext.evaluate(memory, "y", "a", ci=0.95))
