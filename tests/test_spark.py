"""rmse_ext.spark on a real local[2] session (one session for the module,
small data; the session is conftest's): agreement with Spark's RegressionEvaluator and with the
in-memory metric, partitions (several, empty), weights, array columns with
the per-row Keras rules, exact column types, nulls and bad columns; and
by= (grouped states merged by key value) against the in-memory grouped
metric and an fsum oracle per group; nan_policy (NaN and null values,
weights, array elements and rows) against the in-memory metrics."""
import decimal
import shutil

import numpy as np
import pytest

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError

from helpers import ulps

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")
if shutil.which("java") is None:
    pytest.skip("Spark needs java (.ci/run installs openjdk-17-jre-headless)",
                allow_module_level=True)

from pyspark.ml.evaluation import RegressionEvaluator  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

import rmse_ext.spark  # noqa: E402
from rmse_ext.spark import evaluate  # noqa: E402


def rmse_of(df, *args, **kwargs):
    """rmse_ext.spark.evaluate's table for the whole frame (one row, the
    schema of rmse_ext.evaluate), its rmse as a float."""
    out = evaluate(df, *args, **kwargs)
    assert list(out.columns) == ["rmse", "count", "weight_sum", "omitted"] and len(out) == 1
    return float(out["rmse"].iloc[0])


def in_memory(y_true, y_pred, weight=None):
    m = RootMeanSquaredError(dtype="float64")
    m.update_state(y_true, y_pred, weight)
    return float(m.result())


@pytest.fixture(scope="module")
def table(spark):
    """3,000 rows in 4 partitions of unequal sizes, one of them empty."""
    rng = np.random.default_rng(7)
    n = 3000
    y, yhat, w = rng.normal(3, 2, n), rng.normal(3, 2, n), rng.random(n) * 5
    part = np.where(np.arange(n) < 500, 0, np.where(np.arange(n) < 2000, 1, 3))  # 2: none
    rows = [(float(a), float(b), float(c), int(k)) for a, b, c, k in zip(y, yhat, w, part)]
    df = spark.createDataFrame(rows, "y double, yhat double, w double, part int")
    df = df.repartition(4, "part").sortWithinPartitions("y").cache()
    sizes = df.rdd.glom().map(len).collect()
    assert len(sizes) == 4 and 0 in sizes and sum(sizes) == n
    return df, y, yhat, w


def test_agrees_with_regression_evaluator_and_the_in_memory_metric(table):
    df, y, yhat, w = table
    ours = rmse_of(df, "y", "yhat")
    spark_value = RegressionEvaluator(metricName="rmse", labelCol="y",
                                      predictionCol="yhat").evaluate(df)
    assert abs(ours - spark_value) <= 1e-12 * spark_value
    assert ulps(ours, in_memory(y, yhat)) <= 4

    ours_w = rmse_of(df, "y", "yhat", weight="w")
    spark_w = RegressionEvaluator(metricName="rmse", labelCol="y", predictionCol="yhat",
                                  weightCol="w").evaluate(df)
    assert abs(ours_w - spark_w) <= 1e-12 * spark_w
    assert ulps(ours_w, in_memory(y, yhat, w)) <= 4
    assert ours_w != ours


def test_only_one_small_state_per_partition_reaches_the_driver(table):
    df, y, yhat, w = table
    states = rmse_ext.spark.partial_states(df, "y", "yhat", weight="w")
    assert states.columns == ["partition", "state", "omitted", "error"]
    rows = states.collect()
    assert sorted(r["partition"] for r in rows) == list(range(4))
    assert all(r["error"] is None and r["omitted"] == 0 and len(r["state"]) < 400 for r in rows)
    merged = rmse_ext.spark.merged(rows)
    assert merged.count == pytest.approx(w.sum(), rel=1e-12)
    assert float(merged.result()) == rmse_of(df, "y", "yhat", weight="w")
    # as rmse_ext.dask.merged: the lazy states themselves are taken too, and the
    # answer is a float64 RootMeanSquaredError holding the whole frame's state
    again = rmse_ext.spark.merged(states)
    assert type(again) is RootMeanSquaredError and again.dtype == "float64"
    assert again.get_state() == merged.get_state()


def test_deterministic_for_a_partitioning(table):
    df = table[0]
    first = rmse_of(df, "y", "yhat", weight="w")
    assert all(rmse_of(df, "y", "yhat", weight="w") == first for _ in range(2))


def test_empty_frame_and_one_partition(spark, table):
    df, y, yhat, _ = table
    for by in (None, "part"):              # no rows: refused, as scikit-learn does
        with pytest.raises(ValueError, match="the DataFrame has no rows"):
            evaluate(df.where("y > 1e9"), "y", "yhat", by=by)
    assert ulps(rmse_of(df.coalesce(1), "y", "yhat"), in_memory(y, yhat)) <= 4


def test_integer_long_float_and_decimal_columns_are_read_exactly(spark):
    big = 2**62 + 1                      # int64 columns read as int64 NumPy arrays
    schema = T.StructType([
        T.StructField("a", T.LongType()), T.StructField("b", T.LongType()),
        T.StructField("i", T.IntegerType()), T.StructField("f", T.FloatType()),
        T.StructField("d", T.DecimalType(38, 18)), T.StructField("flag", T.BooleanType()),
    ])
    decimals = [decimal.Decimal("0.1"), decimal.Decimal("-12345678901234.123456789012345678"),
                decimal.Decimal("3")]
    rows = [(big, big - 3, 1, 0.1, decimals[0], True), (big, big + 4, 2, 0.2, decimals[1], False),
            (-5, -5, 3, 0.3, decimals[2], True)]
    df = spark.createDataFrame(rows, schema).repartition(2)
    assert rmse_of(df.coalesce(1), "a", "b") == in_memory(np.array([big, big, -5]),
                                                           np.array([big - 3, big + 4, -5]))
    floats = np.array([0.1, 0.2, 0.3], np.float32)
    assert ulps(rmse_of(df, "i", "f"), in_memory(np.array([1, 2, 3]), floats)) <= 4
    assert ulps(rmse_of(df, "i", "d", weight="flag"),
                in_memory([1, 2, 3], [float(x) for x in decimals], [1, 0, 1])) <= 4


def test_array_columns_follow_the_keras_rules_per_row(spark):
    rows = [([1.0, 2.0], [1.5, 2.5], 2.0, 1.0), ([3.0, 4.0], [2.0, 2.0], 1.0, 0.5),
            ([0.0, 0.0], [1.0, -1.0], 0.5, 2.0)]
    df = spark.createDataFrame(rows, "t array<double>, p array<double>, w double, s double")
    t = np.array([r[0] for r in rows])
    p = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    s = np.array([r[3] for r in rows])
    assert ulps(rmse_of(df, "t", "p", weight="w"), in_memory(t, p, w)) <= 4   # (n,) -> (n, 1)
    assert ulps(rmse_of(df, "s", "p"), in_memory(s[:, None], p)) <= 4         # a number per row


def test_ragged_array_rows_are_folded_row_by_row(spark):
    rows = [(1.0, [1.0, 2.0, 4.0], 2.0), (2.0, [3.0], 1.0), (0.5, [], 3.0),
            (4.0, [1.0, 1.0], 0.5)]
    df = spark.createDataFrame(rows, "t double, p array<double>, w double").repartition(2)
    m = RootMeanSquaredError(dtype="float64")
    for t, p, w in rows:                       # the Keras rules on each row
        m.update_state(t, p, w)
    assert ulps(rmse_of(df, "t", "p", weight="w"), float(m.result())) <= 4

    bad = spark.createDataFrame([([1.0, 2.0], [1.0, 2.0, 3.0])], "t array<double>, p array<double>")
    bad = bad.union(spark.createDataFrame([([1.0], [2.0])], "t array<double>, p array<double>"))
    with pytest.raises(ValueError, match=r"column 'p': row 0 holds 3 values where another "
                                         r"column holds 2"):
        evaluate(bad.coalesce(1), "t", "p")


def test_nulls_are_missing_values_like_nan(spark):
    """As ``rmse_ext.evaluate`` reads a frame's nulls: as NaN, which
    propagates under nan_policy='propagate' and is refused by default."""
    df = spark.createDataFrame([(1.0, 2.0, 1.0), (2.0, None, 1.0), (3.0, 3.0, None)],
                               "y double, yhat double, w double")
    propagate = {"nan_policy": "propagate"}
    assert np.isnan(rmse_of(df, "y", "yhat", **propagate))
    assert np.isnan(rmse_of(df.where("yhat is not null"), "y", "yhat", weight="w",
                            **propagate))
    assert rmse_of(df.where("yhat is not null"), "y", "yhat") == in_memory([1, 3], [2, 3])
    nested = spark.createDataFrame([([1.0, None],)], "p array<double>")
    assert np.isnan(rmse_of(nested.selectExpr("1.0 as y", "p"), "y", "p", **propagate))
    with pytest.raises(ValueError, match=r"column 'yhat' has a missing value \(null or NaN\) at row 1 "
                                         r"of partition \d+ \(nan_policy='raise'\); pass "
                                         r"nan_policy='omit'"):
        evaluate(df.coalesce(1), "y", "yhat")


def test_bad_columns_raise_before_any_job(spark):
    df = spark.createDataFrame([(1.0, "a", [[1.0]], 1)], "y double, s string, "
                                                          "nested array<array<double>>, k int")
    with pytest.raises(TypeError, match=r"column 's' must hold real numbers .*; got string"):
        evaluate(df, "y", "s")
    with pytest.raises(TypeError, match=r"column 'nested' must hold .*; got array<array<double>>"):
        evaluate(df, "y", "k", weight="nested")
    with pytest.raises(ValueError, match=r"y_true: the frame has no column 'z'; "
                                         r"its columns are \['y', 's', 'nested', 'k'\]"):
        evaluate(df, "z", "y")
    with pytest.raises(TypeError, match="y_true must be a column name"):
        evaluate(df, 1, "y")


# -- by=: grouped states per partition, merged by key value ------------------------------

def grouped_frame(seed=11, n=600):
    """A pandas frame: string and int keys, weights, and a key ("solo") on
    one row only, so that it lands in one partition."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    store = rng.choice(["north", "south", "east", "west", "a"], size=n).astype(object)
    store[rng.integers(n)] = "solo"
    return pd.DataFrame({"y": rng.normal(3, 2, n), "yhat": rng.normal(3, 2, n),
                         "w": rng.random(n) * 4, "store": store,
                         "fold": rng.integers(-2, 4, n), "item": rng.integers(0, 150, n)})


def fsum_oracle(pdf, by, weight):
    """{key tuple: fsum RMSE of the group's rows} (rmse_ext.reference)."""
    from rmse_ext.reference import fsum_rmse

    out = {}
    for key, g in pdf.groupby(by if isinstance(by, list) else [by], sort=True):
        batch = (g["y"].to_numpy(), g["yhat"].to_numpy())
        out[key] = fsum_rmse([batch + ((g[weight].to_numpy(),) if weight else ())])
    return out


def assert_frames_agree(got, want):
    """Same columns, keys and element counts; rmse and weight_sum within 4 ulp."""
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        if name in ("rmse", "weight_sum"):
            assert all(ulps(a, b) <= 4 for a, b in zip(got[name], want[name])), name
        else:
            assert got[name].tolist() == want[name].tolist(), name


@pytest.fixture
def small_batches(spark):
    """Arrow batches of 64 rows: every partition folds several batches."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key)
    spark.conf.set(key, "64")
    yield
    spark.conf.set(key, before)


@pytest.mark.parametrize("partitions, by, weight", [
    (1, "store", None), (3, ["store", "fold"], "w"), (7, "fold", "w"),
    (7, ["fold", "store"], None), (3, "store", "w"), (1, ["store", "fold"], None),
    (3, ["fold", "item"], "w")])     # more combinations than a batch has rows
def test_grouped_agrees_with_the_in_memory_metric_and_an_fsum_oracle(spark, small_batches,
                                                                     partitions, by, weight):
    pdf = grouped_frame()
    df = spark.createDataFrame(pdf).repartition(partitions)
    assert df.rdd.getNumPartitions() == partitions
    got = evaluate(df, "y", "yhat", by=by, weight=weight)
    assert_frames_agree(got, rmse_ext.evaluate(pdf, "y", "yhat", by=by, weight=weight))
    names = by if isinstance(by, list) else [by]
    oracle = fsum_oracle(pdf, by, weight)
    assert len(got) == len(oracle) and "solo" in pdf["store"].tolist()
    for row in got.itertuples(index=False):
        key = tuple(getattr(row, name) for name in names)
        assert ulps(row.rmse, oracle[key]) <= 4, key


def test_keys_meet_by_value_across_partitions_with_empty_ones(spark):
    """Each partition codes its composite keys from its own key set; the
    driver matches them by value.  Partition 2 is empty, ('c', 2) is in
    partition 3 only."""
    data = [[("b", 1, 1.0, 2.0), ("b", 1, 2.0, 2.5)],
            [("a", 0, 0.0, 1.0), ("b", 1, 3.0, 1.0), ("b", 0, 1.0, 1.0)],
            [],
            [("c", 2, 5.0, 1.0), ("a", 0, 2.0, 0.0), ("b", 1, 1.0, 1.0)]]
    rdd = spark.sparkContext.parallelize(range(4), 4).flatMap(lambda i: data[i])
    df = spark.createDataFrame(rdd, "s string, k int, y double, yhat double")
    assert df.rdd.glom().map(len).collect() == [2, 3, 0, 3]
    table = rmse_ext.spark.collect_arrow(
        rmse_ext.spark.grouped_partial_states(df, "y", "yhat", by=["s", "k"]))
    per_partition = {}
    for row in table.to_pylist():
        assert row["error"] is None
        per_partition.setdefault(row["partition"], set()).add((row["key_0"], row["key_1"]))
    assert per_partition == {0: {("b", 1)}, 1: {("a", 0), ("b", 1), ("b", 0)},
                             3: {("c", 2), ("a", 0), ("b", 1)}}
    metric, keys = rmse_ext.spark.merged_grouped(table, ["s", "k"])
    rows = [r for part in data for r in part]
    want = GroupedRootMeanSquaredError(dtype="float64")
    want.update_state([r[2] for r in rows], [r[3] for r in rows],
                      [f"{r[0]}{r[1]}" for r in rows])
    assert [f"{s}{k}" for s, k in zip(keys["s"], keys["k"])] == want.keys().tolist()
    assert metric.elements().tolist() == want.elements().tolist()
    assert all(ulps(a, b) <= 4 for a, b in zip(metric.result(), want.result()))


def test_the_pooled_overall_is_exact_and_equals_the_ungrouped_value(spark):
    from rmse_ext.reference import fsum_rmse

    pdf = grouped_frame(seed=5)
    df = spark.createDataFrame(pdf).repartition(3)
    table = rmse_ext.spark.collect_arrow(
        rmse_ext.spark.grouped_partial_states(df, "y", "yhat", by="store", weight="w"))
    metric, keys = rmse_ext.spark.merged_grouped(table, "store")
    assert keys["store"].tolist() == sorted(set(pdf["store"]))
    exact = fsum_rmse([(pdf["y"].to_numpy(), pdf["yhat"].to_numpy(), pdf["w"].to_numpy())])
    assert ulps(float(metric.overall()), exact) <= 4
    assert ulps(float(metric.overall()), rmse_of(df, "y", "yhat", weight="w")) <= 4


def test_rmse_ext_evaluate_takes_a_spark_dataframe(spark):
    pdf = grouped_frame(seed=3, n=200)
    df = spark.createDataFrame(pdf).repartition(3)
    for by in (None, "store"):
        assert_frames_agree(rmse_ext.evaluate(df, "y", "yhat", by=by, weight="w"),
                            rmse_ext.evaluate(pdf, "y", "yhat", by=by, weight="w"))
    with pytest.raises(ValueError, match="no rows"):
        rmse_ext.evaluate(df.where("y > 1e9"), "y", "yhat")


def test_grouped_array_columns_follow_the_keras_rules_per_row(spark):
    rows = [(1.0, [1.0, 2.0, 4.0], 2.0, "x"), (2.0, [3.0], 1.0, "y"), (0.5, [], 3.0, "x"),
            (4.0, [1.0, 1.0], 0.5, "y"), (1.5, [2.0, 0.0], 1.0, "z")]
    df = spark.createDataFrame(rows, "t double, p array<double>, w double, g string")
    want = GroupedRootMeanSquaredError(dtype="float64")
    for t, p, w, g in rows:                     # the Keras rules on each row
        want.update_state(np.full(len(p), t), p, [g] * len(p), np.full(len(p), w))
    got = evaluate(df.repartition(2), "t", "p", by="g", weight="w")
    assert got["g"].tolist() == want.keys().tolist()
    assert got["count"].tolist() == want.elements().tolist()
    assert all(ulps(a, b) <= 4 for a, b in zip(got["rmse"], want.result()))

    square = spark.createDataFrame([([1.0, 2.0], [0.0, 0.0], 1), ([3.0, 4.0], [1.0, 1.0], 2),
                                    ([5.0, 6.0], [0.0, 1.0], 1)], "t array<double>, "
                                   "p array<double>, k int")
    want = GroupedRootMeanSquaredError(dtype="float64")
    want.update_state([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[0, 0], [1, 1], [0, 1]], [1, 2, 1])
    got = evaluate(square, "t", "p", by="k")
    assert got["k"].tolist() == [1, 2] and got["count"].tolist() == [4, 2]
    assert all(ulps(a, b) <= 4 for a, b in zip(got["rmse"], want.result()))


def test_date_and_boolean_keys(spark):
    import datetime

    days = [datetime.date(2026, 1, d) for d in (3, 1, 3, 2)]
    df = spark.createDataFrame([(d, f, float(i), 0.0) for i, (d, f) in
                                enumerate(zip(days, [True, False, False, True]))],
                               "day date, flag boolean, y double, yhat double")
    got = evaluate(df.repartition(3), "y", "yhat", by=["day", "flag"])
    assert [str(d)[:10] for d in got["day"]] == ["2026-01-01", "2026-01-02", "2026-01-03",
                                                 "2026-01-03"]
    assert got["flag"].tolist() == [False, True, False, True]
    assert got["rmse"].tolist() == [1.0, 3.0, 2.0, 0.0]


def test_binary_keys_keep_their_nul_bytes(spark):
    """Issue 18 defect 3: 200 random 16-byte keys (some with leading or
    trailing NUL bytes) are 200 groups, alone and in a composite key."""
    rng = np.random.default_rng(18)
    keys = [bytes(k) for k in rng.integers(0, 256, (200, 16), dtype=np.uint8)]
    keys[:6] = [b"\x00" + keys[0][1:], keys[0][:15] + b"\x00", b"\x00" * 16, b"\x00" * 15 + b"a",
                b"a" + b"\x00" * 15, keys[0][:8] + b"\x00" * 8]
    assert len(set(keys)) == 200
    rows = [(k, i % 2, float(i), 0.0) for i, k in enumerate(keys)]
    df = spark.createDataFrame(rows, "k binary, j int, y double, yhat double").repartition(3)
    got = evaluate(df, "y", "yhat", by="k")
    assert [bytes(k) for k in got["k"]] == sorted(keys)
    assert got["rmse"].tolist() == [float(keys.index(k)) for k in sorted(keys)]
    both = evaluate(df, "y", "yhat", by=["k", "j"])
    assert [bytes(k) for k in both["k"]] == sorted(keys)


def test_grouped_bad_input_names_the_column(spark):
    df = spark.createDataFrame([(1.0, 2.0, "a", 0.5), (2.0, 3.0, None, 1.5)],
                               "y double, yhat double, s string, x double")
    with pytest.raises(ValueError, match=r"by: the frame has no column 'store'; "
                                         r"its columns are \['y', 'yhat', 's', 'x'\]"):
        evaluate(df, "y", "yhat", by=["s", "store"])
    with pytest.raises(ValueError, match=r"y_pred: the frame has no column 'p'"):
        evaluate(df, "y", "p", by="s")
    with pytest.raises(TypeError, match=r"by: column 'x' holds double, not keys"):
        evaluate(df, "y", "yhat", by="x")
    with pytest.raises(ValueError, match=r"by column 's' has a missing key"):
        evaluate(df, "y", "yhat", by="s")
    # the compare engine (several pairs): the partition's ValueError, not a failed Spark task
    with pytest.raises(ValueError, match=r"by column 's' has a missing key .* at position \d+ "
                                         r"of partition \d+;"):
        rmse_ext.evaluate(df, "y", ["yhat", "x"], by="s")
    with pytest.raises(ValueError, match=r"clash with the result columns"):
        evaluate(df.withColumnRenamed("s", "rmse"), "y", "yhat", by="rmse")
    for by in (3, 3.5):
        with pytest.raises(TypeError, match=r"by must "):
            evaluate(df, "y", "yhat", by=by)
    nulls = spark.createDataFrame([(1.0, None, "a"), (1.0, 2.0, "b")],
                                  "y double, yhat double, s string")
    got = evaluate(nulls, "y", "yhat", by="s", nan_policy="propagate")  # NaN in its group
    assert np.isnan(got["rmse"][0]) and got["rmse"][1] == 1.0
    with pytest.raises(ValueError, match=r"by column 's' has a missing key"):
        evaluate(df, "y", "yhat", by="s", nan_policy="omit")


# -- nan_policy: NaN and null values, weights and array elements ------------------------

def partitioned(spark, parts, schema):
    """A DataFrame whose partition i holds exactly the rows parts[i] (in order)."""
    rdd = spark.sparkContext.parallelize(range(len(parts)), len(parts)).flatMap(
        lambda i: parts[i])
    df = spark.createDataFrame(rdd, schema)
    assert df.rdd.glom().map(len).collect() == [len(p) for p in parts]
    return df


@pytest.fixture(scope="module")
def holey(spark):
    """310 rows in 4 partitions (one empty) with nulls (None) and NaNs in y,
    yhat and w, keys 'a' (no holes), 'b', 'c' and a group 'gone' whose
    every row has a null yhat; with the same data as NumPy arrays (NaN for both), and where
    the nulls are."""
    rng = np.random.default_rng(4)
    sizes = (70, 0, 150, 90)
    n = sum(sizes)
    columns = [rng.normal(3, 2, n), rng.normal(3, 2, n), rng.random(n) * 3]
    cells = [[float(v) for v in c] for c in columns]
    nulls = [np.zeros(n, bool) for _ in columns]
    key = rng.choice(["a", "b", "c"], n).astype(object)
    for c, column, null in zip(cells, columns, nulls):
        holes = rng.choice(np.flatnonzero(key != "a"), 24, replace=False)
        for i in holes[:12]:
            c[i], column[i], null[i] = None, np.nan, True
        for i in holes[12:]:
            c[i], column[i] = float("nan"), np.nan
    for i in (5, 100, 300):                  # partitions 0, 2 and 3
        key[i], cells[1][i], columns[1][i], nulls[1][i] = "gone", None, np.nan, True
    rows = list(zip(*cells, key))
    parts = [rows[a:b] for a, b in zip(np.cumsum((0,) + sizes[:-1]), np.cumsum(sizes))]
    df = partitioned(spark, parts, "y double, yhat double, w double, k string").cache()
    return df, (*columns, key), nulls


def same(a, b):
    """Equal, both NaN, or within 4 ulp."""
    return (np.isnan(a) and np.isnan(b)) or ulps(a, b) <= 4


def test_omit_leaves_out_nan_and_null_elements_with_their_weights(holey):
    df, (y, yhat, w, _), _ = holey
    for weight, sample_weight in ((None, None), ("w", w)):
        want = RootMeanSquaredError(dtype="float64", nan_policy="omit")
        want.update_state(y, yhat, sample_weight)
        assert 0 < want.omitted < len(y)
        assert ulps(rmse_of(df, "y", "yhat", weight=weight, nan_policy="omit"),
                    float(want.result())) <= 4
        rows = rmse_ext.spark.partial_states(df, "y", "yhat", weight=weight,
                                             nan_policy="omit").collect()
        assert sorted(r["partition"] for r in rows) == [0, 1, 2, 3]
        assert sum(r["omitted"] for r in rows) == want.omitted
        merged = rmse_ext.spark.merged(rows)
        assert merged.omitted == want.omitted
        assert ulps(merged.count, want.count) <= 4
    everything_missing = df.where("k = 'gone'")
    assert np.isnan(rmse_of(everything_missing, "y", "yhat", nan_policy="omit"))


@pytest.mark.parametrize("by", ["k", []])
def test_omit_by_groups_reports_omitted_per_group(holey, by):
    df, (y, yhat, w, key), _ = holey
    got = evaluate(df, "y", "yhat", weight="w", by=by, nan_policy="omit")
    want = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    want.update_state(y, yhat, key if by else np.zeros(len(y), np.int8), w)
    assert list(got.columns) == ([by] if by else []) + ["rmse", "count", "weight_sum",
                                                        "omitted"]
    if by:
        assert got[by].tolist() == ["a", "b", "c", "gone"] == want.keys().tolist()
        assert np.isnan(got["rmse"].iloc[-1]) and got["count"].iloc[-1] == 0
    assert got["count"].tolist() == want.elements().tolist()
    assert got["omitted"].tolist() == want.omitted().tolist()
    assert all(same(a, b) for a, b in zip(got["rmse"], want.result()))
    assert all(ulps(a, b) <= 4 for a, b in zip(got["weight_sum"], want.counts()))


@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.parametrize("policy", ["propagate", "omit"])
def test_evaluate_on_spark_matches_evaluate_on_the_pandas_frame(holey, policy):
    """Nulls read as NaN as rmse_ext.evaluate reads the pandas frame's
    (Spark's nulls arrive in pandas as NaN); same table, same columns."""
    df, (y, yhat, w, key), _ = holey
    pdf = df.toPandas()                        # partition order: the rows as built
    assert np.array_equal(pdf["w"].to_numpy(), w, equal_nan=True)
    for by in ("k", None):
        got = rmse_ext.evaluate(df, "y", "yhat", by=by, weight="w", nan_policy=policy)
        want = rmse_ext.evaluate(pdf, "y", "yhat", by=by, weight="w", nan_policy=policy)
        assert list(got.columns) == list(want.columns)
        assert list(want.columns)[-4:] == ["rmse", "count", "weight_sum", "omitted"]
        for column in want.columns:
            if column in ("rmse", "weight_sum"):
                assert all(same(a, b) for a, b in zip(got[column], want[column])), column
            else:
                assert got[column].tolist() == want[column].tolist(), column
    assert np.isnan(want["rmse"][0]) == (policy == "propagate")
    by_k = rmse_ext.evaluate(pdf, "y", "yhat", by="k", weight="w", nan_policy=policy)
    assert np.isnan(by_k["rmse"]).any() and not np.isnan(by_k["rmse"]).all()
    with pytest.raises(ValueError, match=r"column 'y' has a missing value"):
        rmse_ext.evaluate(pdf, "y", "yhat", nan_policy="raise")
    with pytest.raises(ValueError, match=r"column 'y' has a missing value \(null or NaN\) at row \d+ "
                                         r"of partition 0 "):
        rmse_ext.evaluate(df, "y", "yhat", by="k", nan_policy="raise")


def test_raise_names_the_column_the_partition_and_the_row(spark, small_batches):
    clean = [[(float(i), float(i) + 0.5, 1.0, "a") for i in range(150)] for _ in range(3)]
    schema = "y double, yhat double, w double, k string"
    parts = [list(p) for p in clean]
    parts.insert(1, [])                       # partition 1 is empty
    parts[2][130] = (1.0, 2.0, None, "a")     # partition 2, row 130: its third batch of 64
    parts[3][20] = (1.0, float("nan"), 1.0, "a")
    df = partitioned(spark, parts, schema)
    parts[3][140] = (float("nan"), 1.0, 1.0, "a")
    later_y = partitioned(spark, parts, schema)
    for by in (None, "k"):
        with pytest.raises(ValueError, match=r"^column 'w' has a missing value \(null or NaN\) at "
                                             r"row 130 of partition 2 \(nan_policy='raise'\); "
                                             r"pass nan_policy='omit' to leave such "
                                             r"elements out$"):
            evaluate(df, "y", "yhat", weight="w", by=by, nan_policy="raise")
        with pytest.raises(ValueError, match=r"^column 'yhat' has a missing value \(null or NaN\) at "
                                             r"row 20 of partition 3 "):
            evaluate(df, "y", "yhat", by=by, nan_policy="raise")
        # the first column holding a missing value, then its first row (as
        # rmse_ext.evaluate): y's hole in a later batch wins over yhat's
        with pytest.raises(ValueError, match=r"^column 'y' has a missing value \(null or NaN\) at "
                                             r"row 140 of partition 3 "):
            evaluate(later_y, "y", "yhat", by=by, nan_policy="raise")
    fine = partitioned(spark, [clean[0], [], clean[1]], schema)
    assert rmse_of(fine, "y", "yhat", nan_policy="raise") == rmse_of(fine, "y", "yhat") == 0.5
    arrays = spark.createDataFrame([([1.0, 2.0], 1.0), ([3.0, None], 2.0)],
                                   "t array<double>, p double")
    with pytest.raises(ValueError, match=r"column 't' has a missing value \(null or NaN\) at row 1 "
                                         r"of partition 0, element 1 of its array "):
        evaluate(arrays.coalesce(1), "t", "p", nan_policy="raise")


def test_array_columns_omit_per_element(spark):
    """Null and NaN elements are left out one by one; a null array row is
    one missing value broadcast over its row (semantics 2.3)."""
    nan = float("nan")
    rows = [([1.0, None], [1.0, 2.0], 1.0, "x"), (None, [3.0, 4.0], 2.0, "y"),
            ([1.0, nan], [0.0, 0.0], None, "x"), ([1.0, 2.0, 3.0], [1.0], 0.5, "y"),
            ([2.0, 2.0], [1.0, nan], 1.0, "x"), ([0.0], [], 1.0, "y")]
    df = partitioned(spark, [rows[:2], [], rows[2:]],
                     "t array<double>, p array<double>, w double, k string")
    ungrouped = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    grouped = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    for t, p, w, k in rows:                      # the Keras rules on each row
        t = [nan] if t is None else [nan if v is None else v for v in t]
        length = len(p) if len(t) == 1 else len(t)
        t, p = np.broadcast_to(t, length), np.broadcast_to(p, length)
        weights = np.full(length, nan if w is None else w)
        ungrouped.update_state(t, p, weights)
        grouped.update_state(t, p, [k] * length, weights)
    assert ungrouped.omitted == 6                # 1 + 2 (the null row) + 2 (weight) + 1
    assert ulps(rmse_of(df, "t", "p", weight="w", nan_policy="omit"),
                float(ungrouped.result())) <= 4
    got = evaluate(df, "t", "p", weight="w", by="k", nan_policy="omit")
    assert got["omitted"].tolist() == grouped.omitted().tolist()
    assert got["count"].tolist() == grouped.elements().tolist()
    assert all(same(a, b) for a, b in zip(got["rmse"], grouped.result()))


def test_a_bad_nan_policy_raises_before_any_job(holey):
    df = holey[0]
    with pytest.raises(ValueError, match=r"nan_policy must be one of"):
        evaluate(df, "y", "yhat", nan_policy="drop")
    with pytest.raises(TypeError, match=r"nan_policy must be a str"):
        rmse_ext.spark.grouped_partial_states(df, "y", "yhat", by="k", nan_policy=None)
