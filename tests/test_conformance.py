"""The conformance matrix (issue 18): the same data through every door x
every representation x batch splits gives IDENTICAL BITS per group and
identical tables.

Doors: ``RootMeanSquaredError`` (fed each group's rows), ``root_mean_squared_error``
(each group's rows), ``GroupedRootMeanSquaredError``, ``rmse_ext.evaluate`` on
pandas / polars / polars LazyFrame / pyarrow / dict / dask / Spark frames, and
``rmse-ext eval`` on .npy / .csv / .parquet (called in-process).
Representations: NumPy, lists, pandas (plain, nullable dtypes, Categorical
keys), Arrow (plain, chunked, sliced, dictionary), polars (plain, Categorical
keys), and keys whose representation changes between batches.  Splits: one
batch, 2 and 7 batches (``--chunk-rows``, row groups, record batches,
partitions).

Every cell is compared with one reference -- ``GroupedRootMeanSquaredError``
(float64) on NumPy arrays in one batch -- as a table ``{key as text: (rmse,
count, weight_sum, omitted)}`` with floats as ``float.hex`` (bits, not
closeness); the overall row likewise.  Three data sets: unweighted,
weighted, and with NaN under ``nan_policy='omit'``.

A cell that fails today because of a defect another part of issue 18 fixes
is ``xfail(strict=True)`` naming the defect: when the fix lands the cell
passes, the strict xfail fails, and the mark goes.
"""
import json
import math

import numpy as np
import pytest

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError, RootMeanSquaredError, root_mean_squared_error
from rmse_ext.cli import main as cli_main

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")

N = 23                          # divisible by neither 2 nor 7
SPLITS = (1, 2, 7)
SCHEMA = ["rmse", "count", "weight_sum", "omitted"]


def make_data(kind):
    """(y_true, y_pred, keys, weights or None, nan_policy) for one data set."""
    rng = np.random.default_rng(18)
    t = rng.normal(size=N) * 10.0 ** rng.integers(-3, 4, N)
    p = t + rng.normal(size=N)
    keys = np.array(["b", "a", "c", "a", "d"])[rng.integers(0, 5, N) % 4]
    keys[:4] = ["b", "a", "c", "d"]             # every key in the first batch of 7
    w = rng.random(N) * 3 if kind != "unweighted" else None
    policy = "propagate"
    if kind == "omit":
        t[[2, 9]] = np.nan
        p[15] = np.nan
        w[20] = np.nan
        policy = "omit"
    return t, p, keys, w, policy


KINDS = ("unweighted", "weighted", "omit")
DATA = {kind: make_data(kind) for kind in KINDS}


def bits(x):
    return float(x).hex()


def reference(kind):
    """{key: (rmse, count, weight_sum, omitted)} and the overall row."""
    t, p, k, w, policy = DATA[kind]
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy)
    m.update_state(t, p, k, w)
    return table_of(m), overall_of(m)


def table_of(m):
    return {str(key): (bits(r), int(c), bits(s), int(o)) for key, r, c, s, o in zip(
        m.keys().tolist(), m.result(), m.elements(), m.counts(), m.omitted())}


def overall_of(m):
    return (bits(m.overall()), int(m.elements().sum()), bits(m.overall_count()),
            int(m.overall_omitted()))


def pieces(n_rows, splits):
    """Row slices cutting ``n_rows`` into ``splits`` batches (the last shorter)."""
    size = -(-n_rows // splits)
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


# -- representations -------------------------------------------------------------------------

def arrow_sliced(a):
    """``a`` as a slice (non-zero offset) of a longer Arrow array."""
    pad = a[:3] if len(a) else a
    whole = pa.concat_arrays([pa.array(pad), pa.array(a)])
    return whole.slice(len(pad), len(a))


def arrow_chunked(a):
    """``a`` as a ChunkedArray of two chunks (the first may be empty)."""
    whole, half = pa.array(a), len(a) // 2
    return pa.chunked_array([whole.slice(0, half), whole.slice(half)], type=whole.type)


VALUE_FORMS = {
    "numpy": lambda a: a,
    "list": lambda a: a.tolist(),
    "pandas": lambda a: pd.Series(a),
    "pandas-Float64": lambda a: pd.Series(a, dtype="Float64"),
    "arrow": lambda a: pa.array(a),
    "arrow-chunked": arrow_chunked,
    "arrow-sliced": arrow_sliced,
    "arrow-dictionary": lambda a: pa.array(a).dictionary_encode(),
    "polars": lambda a: pl.Series(a),
}

KEY_FORMS = {
    "numpy-str": lambda k: k,
    "numpy-object": lambda k: k.astype(object),
    "list": lambda k: k.tolist(),
    "pandas-object": lambda k: pd.Series(k.astype(object)),
    "pandas-string": lambda k: pd.Series(k, dtype="string"),
    "pandas-Categorical": lambda k: pd.Series(pd.Categorical(k)),
    "arrow": lambda k: pa.array(k.tolist()),
    "arrow-chunked": lambda k: arrow_chunked(k.tolist()),
    "arrow-sliced": lambda k: arrow_sliced(k.tolist()),
    "arrow-dictionary": lambda k: pa.array(k.tolist()).dictionary_encode(),
    "polars": lambda k: pl.Series(k.tolist()),
    "polars-Categorical": lambda k: pl.Series(k.tolist(), dtype=pl.Categorical),
    "int-numpy": lambda k: int_keys(k),
    "int-pandas-Int64": lambda k: pd.Series(int_keys(k), dtype="Int64"),
    "int-arrow": lambda k: pa.array(int_keys(k)),
    "int-polars": lambda k: pl.Series(int_keys(k)),
}

#: one representation per batch, in turn: a key's kind widens between batches
MIXED = ("numpy-str", "pandas-Categorical", "arrow-dictionary", "polars", "list")
MIXED_INT = ("int-numpy", "int-pandas-Int64", "int-arrow", "int-polars")


def int_keys(k):
    """The keys as integers whose text is the same key ("a" -> 97)."""
    return np.array([ord(c) for c in k.tolist()], dtype=np.int64)


def as_text(key_form, table):
    """A reference table with its keys as ``key_form`` gives them (text)."""
    if not key_form.startswith("int-") and key_form != "mixed-int":
        return table
    return {str(ord(key)): row for key, row in table.items()}


# -- the class doors ---------------------------------------------------------------------------

def grouped_table(kind, splits, value_form="numpy", key_form="numpy-str"):
    t, p, k, w, policy = DATA[kind]
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy)
    for n, rows in enumerate(pieces(N, splits)):
        kf = (MIXED[n % len(MIXED)] if key_form == "mixed" else
              MIXED_INT[n % len(MIXED_INT)] if key_form == "mixed-int" else key_form)
        vf = VALUE_FORMS[value_form]
        m.update_state(vf(t[rows]), vf(p[rows]), KEY_FORMS[kf](k[rows]),
                       None if w is None else vf(w[rows]))
    return table_of(m), overall_of(m)


VALUE_DEFECTS: dict[str, str] = {}
KEY_DEFECTS = {}


def marked(forms, defects):
    return [pytest.param(f, marks=pytest.mark.xfail(strict=True, reason=defects[f]))
            if f in defects else f for f in forms]


@pytest.mark.parametrize("splits", SPLITS)
@pytest.mark.parametrize("value_form", marked(VALUE_FORMS, VALUE_DEFECTS))
@pytest.mark.parametrize("kind", KINDS)
def test_grouped_metric_values(kind, value_form, splits):
    assert grouped_table(kind, splits, value_form=value_form) == reference(kind)


@pytest.mark.parametrize("splits", SPLITS)
@pytest.mark.parametrize("key_form", marked([*KEY_FORMS, "mixed", "mixed-int"], KEY_DEFECTS))
@pytest.mark.parametrize("kind", ["weighted", "omit"])
def test_grouped_metric_keys(kind, key_form, splits):
    table, overall = reference(kind)
    assert grouped_table(kind, splits, key_form=key_form) == (as_text(key_form, table), overall)


def per_group(kind):
    t, p, k, w, policy = DATA[kind]
    return [(key, t[k == key], p[k == key], None if w is None else w[k == key], policy)
            for key in sorted(set(k.tolist()))]


@pytest.mark.parametrize("splits", SPLITS)
@pytest.mark.parametrize("value_form", marked(VALUE_FORMS, VALUE_DEFECTS))
@pytest.mark.parametrize("kind", KINDS)
def test_metric_class_per_group(kind, value_form, splits):
    """RootMeanSquaredError fed one group's rows gives that group's bits."""
    table, _ = reference(kind)
    vf = VALUE_FORMS[value_form]
    got = {}
    for key, t, p, w, policy in per_group(kind):
        m = RootMeanSquaredError(dtype="float64", nan_policy=policy)
        for rows in pieces(len(t), splits):
            m.update_state(vf(t[rows]), vf(p[rows]), None if w is None else vf(w[rows]))
        got[key] = (bits(m.result()), bits(m.count), m.omitted)
    assert got == {key: (r, s, o) for key, (r, c, s, o) in table.items()}


@pytest.mark.parametrize("value_form", marked(VALUE_FORMS, VALUE_DEFECTS))
@pytest.mark.parametrize("kind", KINDS)
def test_function_per_group(kind, value_form):
    """root_mean_squared_error on one group's rows gives that group's bits."""
    table, _ = reference(kind)
    vf = VALUE_FORMS[value_form]
    got = {key: bits(root_mean_squared_error(vf(t), vf(p),
                                             sample_weight=None if w is None else vf(w),
                                             nan_policy="omit" if policy == "omit" else "raise"))
           for key, t, p, w, policy in per_group(kind)}
    assert got == {key: r for key, (r, c, s, o) in table.items()}


# -- evaluate on frames ------------------------------------------------------------------------

def frame_columns(kind):
    t, p, k, w, policy = DATA[kind]
    cols = {"k": k, "y": t, "yhat": p}
    if w is not None:
        cols["w"] = w
    return cols, policy


def pandas_frame(cols, key_dtype=None, value_dtype=None):
    df = pd.DataFrame(cols)
    if value_dtype:
        df = df.astype({c: value_dtype for c in cols if c != "k"})
    if key_dtype:
        df["k"] = df["k"].astype(key_dtype)
    return df


def arrow_table(cols, batches=1, dictionary=False, convert=None):
    """The columns as a pyarrow Table of ``batches`` record batches (each
    column through ``convert``, pa.array by default); ``dictionary``: the
    key column "k" dictionary-encoded."""
    table = pa.table({c: (convert or pa.array)(v) for c, v in cols.items()})
    if dictionary:
        table = table.set_column(0, "k", table["k"].dictionary_encode())
    return pa.Table.from_batches(
        [b for rows in pieces(table.num_rows, batches)
         for b in table.slice(rows.start, rows.stop - rows.start).to_batches()])


def polars_frame(cols, categorical=False, batches=1):
    parts = [pl.DataFrame({c: v[rows] for c, v in cols.items()})
             for rows in pieces(N, batches)]
    df = pl.concat(parts, rechunk=False)
    return df.with_columns(pl.col("k").cast(pl.Categorical)) if categorical else df


def dask_frame(cols, partitions):
    dd = pytest.importorskip("dask.dataframe")
    return dd.from_pandas(pd.DataFrame(cols), npartitions=partitions)


FRAMES = {
    "pandas": lambda c: pandas_frame(c),
    "pandas-nullable": lambda c: pandas_frame(c, "string", "Float64"),
    "pandas-Categorical": lambda c: pandas_frame(c, "category"),
    "polars": lambda c: polars_frame(c),
    "polars-7-chunks": lambda c: polars_frame(c, batches=7),
    "polars-Categorical": lambda c: polars_frame(c, categorical=True),
    "polars-LazyFrame": lambda c: polars_frame(c).lazy(),
    "pyarrow": lambda c: arrow_table(c),
    "pyarrow-2-batches": lambda c: arrow_table(c, 2),
    "pyarrow-7-batches": lambda c: arrow_table(c, 7),
    "pyarrow-dictionary-keys": lambda c: arrow_table(c, 2, dictionary=True),
    "pandas-arrow-backed": lambda c: pd.DataFrame(c).convert_dtypes(dtype_backend="pyarrow"),
    "dict-numpy": lambda c: dict(c),
    "dict-arrow-chunked": lambda c: {n: arrow_chunked(v.tolist()) for n, v in c.items()},
    "dict-arrow-sliced": lambda c: {n: arrow_sliced(v.tolist()) for n, v in c.items()},
    "dict-lists": lambda c: {n: v.tolist() for n, v in c.items()},
    "dask-2": lambda c: dask_frame(c, 2),
    "dask-7": lambda c: dask_frame(c, 7),
}
FRAME_DEFECTS: dict[str, str] = {}
FRAME_CELL_DEFECTS = {}


def rows_of(out):
    """A result frame of any library as {column: list}."""
    if isinstance(out, dict):
        return {n: np.asarray(v).tolist() for n, v in out.items()}
    if hasattr(out, "to_pydict"):
        return out.to_pydict()
    if hasattr(out, "to_dict") and hasattr(out, "columns") and not hasattr(out, "schema"):
        return {n: out[n].tolist() for n in out.columns}
    return out.to_dict(as_series=False)


def evaluated_table(out, by):
    cols = rows_of(out)
    n = len(cols["rmse"])
    keys = [str(x) for x in cols[by]] if by else [None] * n
    return {key: (bits(cols["rmse"][i]), int(cols["count"][i]), bits(cols["weight_sum"][i]),
                  int(cols["omitted"][i]) if "omitted" in cols else 0)
            for i, key in enumerate(keys)}


def check_frame(frame, kind, policy, weighted):
    table, overall = reference(kind)
    kwargs = {"weight": "w"} if weighted else {}
    grouped = rmse_ext.evaluate(frame, "y", "yhat", by="k", nan_policy=policy, **kwargs)
    assert list(rows_of(grouped)) == ["k", *SCHEMA]
    assert evaluated_table(grouped, "k") == table
    whole = rmse_ext.evaluate(frame, "y", "yhat", nan_policy=policy, **kwargs)
    assert list(rows_of(whole)) == SCHEMA
    assert evaluated_table(whole, None) == {None: overall}


@pytest.mark.parametrize("frame_kind", marked(FRAMES, FRAME_DEFECTS))
@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_on_frames(kind, frame_kind):
    cols, policy = frame_columns(kind)
    if (kind, frame_kind) in FRAME_CELL_DEFECTS:
        pytest.xfail(FRAME_CELL_DEFECTS[kind, frame_kind])
    check_frame(FRAMES[frame_kind](cols), kind, policy, "w" in cols)


@pytest.mark.parametrize("frame_kind", FRAMES)
def test_evaluate_answers_in_the_one_schema(frame_kind):
    """The key column, then rmse, count (int), weight_sum, omitted: always,
    with ci_low / ci_high when asked; with by=None the same columns."""
    cols, _ = frame_columns("weighted")
    frame = FRAMES[frame_kind](cols)
    out = rows_of(rmse_ext.evaluate(frame, "y", "yhat", by="k", weight="w"))
    assert list(out) == ["k", *SCHEMA]
    assert all(type(c) is int for c in out["count"] + out["omitted"])
    assert list(rows_of(rmse_ext.evaluate(frame, "y", "yhat", weight="w"))) == SCHEMA
    if not frame_kind.startswith("dask"):
        out = rows_of(rmse_ext.evaluate(frame, "y", "yhat", by="k", weight="w", ci=0.9))
        assert list(out) == ["k", *SCHEMA, "ci_low", "ci_high"]


def test_cli_answers_in_the_one_schema(tmp_path, capsys):
    """rmse-ext eval's JSON groups and overall object: the same names."""
    values, keys = write_files(tmp_path, "weighted", "parquet")
    doc = run_cli(capsys, *values, *keys, "--ci", 0.9)
    assert [list(g) for g in doc["groups"]] == [["k", *SCHEMA, "ci_low", "ci_high"]] * 4
    assert list(doc["overall"]) == [*SCHEMA, "ci_low", "ci_high"]
    assert list(run_cli(capsys, *values))[:4] == SCHEMA


@pytest.mark.parametrize("kind", ["weighted", "omit"])
def test_evaluate_on_spark(spark, kind):
    cols, policy = frame_columns(kind)
    rows = [tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in zip(*(c.tolist() for c in cols.values()))]
    df = spark.createDataFrame(rows, "k string, y double, yhat double, w double")
    check_frame(df.repartition(3), kind, policy, True)


# -- the command line --------------------------------------------------------------------------

def write_files(tmp_path, kind, fmt):
    """The data set as files of ``fmt``; returns the eval arguments of the
    values and those of the keys."""
    t, p, k, w, policy = DATA[kind]
    cols = {"k": k, "y": t, "yhat": p, **({} if w is None else {"w": w})}
    if fmt == "npy":
        for name, a in cols.items():
            np.save(tmp_path / f"{name}.npy", a)
        args = [tmp_path / "y.npy", tmp_path / "yhat.npy"]
        return args + ([] if w is None else ["--weights", tmp_path / "w.npy"]), \
            ["--groups", tmp_path / "k.npy"]
    if fmt == "csv":
        path = tmp_path / "d.csv"
        with open(path, "w") as f:
            f.write(",".join(cols) + "\n")
            for row in zip(*(c.tolist() for c in cols.values())):
                f.write(",".join("" if isinstance(x, float) and math.isnan(x) else repr(x)
                                 if isinstance(x, float) else x for x in row) + "\n")
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        path = tmp_path / "d.parquet"
        pq.write_table(pa.table({n: pa.array(v.tolist(), from_pandas=True)
                                 for n, v in cols.items()}), path, row_group_size=5)
    args = [path, "--true-column", "y", "--pred-column", "yhat"]
    return args + ([] if w is None else ["--weight-column", "w"]), ["--group-column", "k"]


def run_cli(capsys, *args):
    code = cli_main(["eval", *map(str, args), "--json", "--no-progress", "--dtype", "float64"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def row_bits(row):
    return bits(row["rmse"]), row["count"], bits(row["weight_sum"]), row["omitted"]


@pytest.mark.parametrize("splits", SPLITS)
@pytest.mark.parametrize("fmt", ["npy", "csv", "parquet"])
@pytest.mark.parametrize("kind", KINDS)
def test_cli(tmp_path, capsys, kind, fmt, splits):
    """rmse-ext eval, grouped and not, in 1, 2 and 7 chunks (--chunk-rows)."""
    table, overall = reference(kind)
    values, keys = write_files(tmp_path, kind, fmt)
    options = ["--chunk-rows", -(-N // splits), "--nan-policy", DATA[kind][4]]
    doc = run_cli(capsys, *values, *keys, *options)
    name = doc["key_column"]
    assert {str(g[name]): row_bits(g) for g in doc["groups"]} == table
    assert row_bits(doc["overall"]) == overall
    assert row_bits(run_cli(capsys, *values, *options)) == overall


# -- keys that differ only by NUL characters (issue 18 defect 3) -------------------------------

NUL_KEYS = ["a", "a\x00", "a\x00\x00", "\x00a", "b"]


def nul_data():
    t, p, _, w, _ = DATA["weighted"]
    return t, p, [NUL_KEYS[i % len(NUL_KEYS)] for i in range(N)], w


def class_reference(keys, encode=False):
    """Each key's rows of the weighted data set through RootMeanSquaredError
    (the class door, bitwise the grouped metric's above), keyed by the key's
    text (or its bytes' text)."""
    t, p, _, w, _ = DATA["weighted"]
    out = {}
    for key in dict.fromkeys(keys):
        rows = np.array([k == key for k in keys])
        m = RootMeanSquaredError(dtype="float64")
        m.update_state(t[rows], p[rows], w[rows])
        out[str(key.encode() if encode else key)] = (bits(m.result()), int(rows.sum()),
                                                     bits(m.count), 0)
    return out


def nul_reference(encode=False):
    return class_reference(nul_data()[2], encode)


def grouped_in_batches(keys, form, splits):
    """The weighted data set through the grouped metric, keys as ``form``."""
    t, p, _, w, _ = DATA["weighted"]
    m = GroupedRootMeanSquaredError(dtype="float64")
    for rows in pieces(N, splits):
        m.update_state(t[rows], p[rows], form(keys[rows]), w[rows])
    return {str(k): row for k, row in zip(m.keys().tolist(), table_of_raw(m))}


NUL_FORMS = {
    "object": lambda k: np.array(k, dtype=object),
    "list": lambda k: list(k),
    "pandas": lambda k: pd.Series(k, dtype=object),
    "pandas-string": lambda k: pd.Series(k, dtype="string"),
    # explicit categories: pandas < 3 itself merges "a\x00" into "a" when it
    # infers them (pd.Categorical(["a", "a\x00"]) has one category)
    "pandas-categories": lambda k: pd.Categorical(k, categories=sorted(set(k))),
    "pandas-bytes": lambda k: pd.Series([x.encode() for x in k], dtype=object),
    "arrow": lambda k: pa.array(k),
    "arrow-dictionary": lambda k: pa.array(k).dictionary_encode(),
    "polars": lambda k: pl.Series(k),
    "bytes-object": lambda k: np.array([x.encode() for x in k], dtype=object),
}


@pytest.mark.parametrize("splits", [1, 7])
@pytest.mark.parametrize("form", NUL_FORMS)
def test_nul_keys_grouped_metric(form, splits):
    got = grouped_in_batches(np.array(nul_data()[2], dtype=object), NUL_FORMS[form], splits)
    assert got == nul_reference(encode="bytes" in form)


def table_of_raw(m):
    return [(bits(r), int(c), bits(s), int(o)) for r, c, s, o in zip(
        m.result(), m.elements(), m.counts(), m.omitted())]


NUL_FRAMES = {
    "pandas": lambda c: pd.DataFrame(c),
    "polars": lambda c: pl.DataFrame(c),
    "pyarrow": lambda c: pa.table(c),
    "dict": lambda c: {n: np.array(v, dtype=object) if n == "k" else v for n, v in c.items()},
}
NUL_FRAME_DEFECTS = {}


@pytest.mark.parametrize("frame_kind", marked(NUL_FRAMES, NUL_FRAME_DEFECTS))
def test_nul_keys_evaluate(frame_kind):
    t, p, keys, w = nul_data()
    frame = NUL_FRAMES[frame_kind]({"k": keys, "y": t, "yhat": p, "w": w})
    out = rmse_ext.evaluate(frame, "y", "yhat", by="k", weight="w")
    assert evaluated_table(out, "k") == nul_reference()


def test_nul_keys_cli_parquet(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    t, p, keys, w = nul_data()
    pq.write_table(pa.table({"k": keys, "y": t, "yhat": p, "w": w}), tmp_path / "d.parquet",
                   row_group_size=5)
    doc = run_cli(capsys, tmp_path / "d.parquet", "--true-column", "y", "--pred-column", "yhat",
                  "--weight-column", "w", "--group-column", "k", "--chunk-rows", 4)
    assert {g["k"]: row_bits(g) for g in doc["groups"]} == nul_reference()


def test_nul_keys_spark_binary(spark):
    t, p, keys, w = nul_data()
    rows = [(k.encode(), float(a), float(b), float(c)) for k, a, b, c in zip(keys, t, p, w)]
    df = spark.createDataFrame(rows, "k binary, y double, yhat double, w double")
    out = rmse_ext.evaluate(df.repartition(3), "y", "yhat", by="k", weight="w")
    assert evaluated_table(out, "k") == nul_reference(encode=True)


# -- every door refuses the same values the same way (issue 18 defect 5) -----------------------

def datetime_columns():
    t, p, k, _, _ = DATA["unweighted"]
    return {"k": k, "y": np.datetime64("2024-01-01", "us") + np.arange(N).astype("m8[D]"),
            "yhat": p}


DATETIME_FRAMES = {
    "pandas": lambda c: pd.DataFrame(c),
    "polars": lambda c: pl.DataFrame(c),
    "pyarrow": lambda c: pa.table(c),
    "dict": lambda c: dict(c),
}
DATETIME_DEFECTS: dict[str, str] = {}


@pytest.mark.parametrize("by", [None, "k"])
@pytest.mark.parametrize("frame_kind", marked(DATETIME_FRAMES, DATETIME_DEFECTS))
def test_datetime_values_are_refused_naming_the_column(frame_kind, by):
    frame = DATETIME_FRAMES[frame_kind](datetime_columns())
    with pytest.raises(TypeError, match="^column 'y' must hold real numbers"):
        rmse_ext.evaluate(frame, "y", "yhat", by=by)


def test_datetime_values_are_refused_by_the_cli(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table(datetime_columns()), tmp_path / "d.parquet")
    code = cli_main(["eval", str(tmp_path / "d.parquet"), "--true-column", "y",
                     "--pred-column", "yhat", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "d.parquet" in err and "'y'" in err


# -- confidence intervals through every door that gives them -----------------------------------

@pytest.mark.parametrize("method", ["normal", "bootstrap"])
@pytest.mark.parametrize("kind", ["weighted", "omit"])
def test_intervals_across_doors(tmp_path, capsys, kind, method):
    """ci_low / ci_high per group and overall: the grouped metric in 1 and 7
    batches, evaluate on pandas / polars / pyarrow, and rmse-ext eval --ci on
    .npy / .parquet in 1 and 7 chunks give the same bits."""
    t, p, k, w, policy = DATA[kind]
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy, interval=method)
    m.update_state(t, p, k, w)
    low, high = m.confidence_interval(0.9)
    expected = {key: (bits(a), bits(b)) for key, a, b in zip(m.keys().tolist(), low, high)}
    overall = tuple(map(bits, m.overall_confidence_interval(0.9)))
    for splits in (1, 7):
        g = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy, interval=method)
        for rows in pieces(N, splits):
            g.update_state(t[rows], p[rows], k[rows], w[rows])
        a, b = g.confidence_interval(0.9)
        assert {key: (bits(x), bits(y)) for key, x, y in zip(g.keys().tolist(), a, b)} == expected
    cols, _ = frame_columns(kind)
    for frame_kind in ("pandas", "polars", "pyarrow"):
        out = rows_of(rmse_ext.evaluate(FRAMES[frame_kind](cols), "y", "yhat", by="k",
                                        weight="w", nan_policy=policy, ci=0.9,
                                        ci_method=method))
        got = {str(key): (bits(a), bits(b)) for key, a, b in
               zip(out["k"], out["ci_low"], out["ci_high"])}
        assert got == expected, frame_kind
    for fmt in ("npy", "parquet"):
        values, keys = write_files(tmp_path, kind, fmt)
        for splits in (1, 7):
            doc = run_cli(capsys, *values, *keys, "--chunk-rows", -(-N // splits),
                          "--nan-policy", policy, "--ci", 0.9, "--ci-method", method)
            name = doc["key_column"]
            got = {str(g[name]): (bits(g["ci_low"]), bits(g["ci_high"])) for g in doc["groups"]}
            assert got == expected, (fmt, splits)
            if splits == 1:         # across splits: test_overall_interval_across_splits
                assert (bits(doc["overall"]["ci_low"]),
                        bits(doc["overall"]["ci_high"])) == overall


def interval_cells():
    for door in ("grouped overall", "RootMeanSquaredError"):
        for method in ("normal", "bootstrap"):
            for kind in KINDS:
                yield door, method, kind


@pytest.mark.parametrize("door, method, kind", list(interval_cells()))
def test_overall_interval_across_splits(door, method, kind):
    """The interval of every element pooled: the same bits in 1, 2 and 7
    batches, through RootMeanSquaredError and the grouped metric's overall
    one (as the RMSE itself)."""
    t, p, k, w, policy = DATA[kind]
    g = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy, interval=method)
    g.update_state(t, p, k, w)
    expected = tuple(map(bits, g.overall_confidence_interval(0.9)))
    for splits in SPLITS:
        if door == "grouped overall":
            m = GroupedRootMeanSquaredError(dtype="float64", nan_policy=policy, interval=method)
            for rows in pieces(N, splits):
                m.update_state(t[rows], p[rows], k[rows], None if w is None else w[rows])
            got = m.overall_confidence_interval(0.9)
        else:
            m = RootMeanSquaredError(dtype="float64", nan_policy=policy, interval=method)
            for rows in pieces(N, splits):
                m.update_state(t[rows], p[rows], None if w is None else w[rows])
            got = m.confidence_interval(0.9)
        assert tuple(map(bits, got)) == expected, splits


# -- integer keys past 2**63 beside small ones (issue 18 defect 1) ----------------------------

WIDE = np.array([5, 2**64 - 1, 6, 2**63 + 1, 5, 6, 2**64 - 1], dtype=np.uint64)


def wide_data():
    t, p, _, w, _ = DATA["weighted"]
    return t, p, WIDE[np.arange(N) % len(WIDE)], w


def wide_reference():
    return class_reference(wide_data()[2].tolist())


WIDE_FORMS = {
    "numpy": lambda k: k,
    "list": lambda k: k.tolist(),
    "pandas-UInt64": lambda k: pd.Series(k, dtype="UInt64"),
    "arrow": lambda k: pa.array(k),
    "polars": lambda k: pl.Series(k),
}


@pytest.mark.parametrize("splits", [1, 7])
@pytest.mark.parametrize("form", WIDE_FORMS)
def test_wide_int_keys_grouped_metric(form, splits):
    """Batches whose keys all fit int64 and batches with keys past 2**63."""
    assert grouped_in_batches(wide_data()[2], WIDE_FORMS[form], splits) == wide_reference()


@pytest.mark.parametrize("frame_kind", ["pandas", "polars", "pyarrow", "dict-numpy", "dask-7"])
def test_wide_int_keys_evaluate(frame_kind):
    t, p, keys, w = wide_data()
    frame = FRAMES[frame_kind]({"k": keys, "y": t, "yhat": p, "w": w})
    out = rmse_ext.evaluate(frame, "y", "yhat", by="k", weight="w")
    assert evaluated_table(out, "k") == wide_reference()


@pytest.mark.parametrize("fmt", ["npy", "parquet"])
def test_wide_int_keys_cli(tmp_path, capsys, fmt):
    """rmse-ext eval --groups with --chunk-rows 2: chunks of small keys, then
    keys past 2**63 (the case defect 1 names)."""
    t, p, keys, w = wide_data()
    np.save(tmp_path / "y.npy", t)
    np.save(tmp_path / "p.npy", p)
    np.save(tmp_path / "w.npy", w)
    if fmt == "npy":
        np.save(tmp_path / "k.npy", keys)
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        pq.write_table(pa.table({"k": keys}), tmp_path / "k.parquet", row_group_size=3)
    doc = run_cli(capsys, tmp_path / "y.npy", tmp_path / "p.npy", "--weights", tmp_path / "w.npy",
                  "--groups", tmp_path / f"k.{fmt}", "--chunk-rows", 2)
    name = doc["key_column"]
    assert {str(g[name]): row_bits(g) for g in doc["groups"]} == wide_reference()


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
@pytest.mark.parametrize("weighted", [False, True])
def test_interval_bits_at_uneven_cuts(method, weighted):
    """Past one moment block (16 terms a lane) and one bootstrap block (1024
    units), with cuts that fall inside them: the interval has the bits of one
    update (the interval sums are exact to O(u**2); the read-out normalises
    them first)."""
    rng = np.random.default_rng(7)
    n = 3001
    t = rng.normal(size=n) * 10.0 ** rng.integers(-3, 4, n)
    p = t + rng.normal(size=n)
    w = rng.random(n) * 4.0 if weighted else None
    got = set()
    for cuts in ([], [1, 17, 1025, 2049], sorted(rng.choice(np.arange(1, n), 9, replace=False))):
        m = RootMeanSquaredError(dtype="float64", interval=method)
        for a, b in zip([0, *cuts], [*cuts, n]):
            m.update_state(t[a:b], p[a:b], None if w is None else w[a:b])
        got.add(tuple(map(bits, m.confidence_interval(0.9))))
    assert len(got) == 1, got


# -- nan_policy='raise': one message at every door (docs/semantics.md 8.1, 8.5) ----------------

# every door refuses with the one class (a ValueError): the engines tell it from other bad
# input by its class (a partition's refusal is handed back and raised in partition order)
MissingValueError = rmse_ext._missing.MissingValueError
RAISE_ROWS = 8
SKIP = "(nan_policy='raise'); pass nan_policy='omit' to leave such elements out"


def raise_columns():
    """y has its first missing value at row 5 (0-based); yhat one later."""
    t, p = np.arange(RAISE_ROWS, dtype=float), np.arange(RAISE_ROWS, dtype=float) + 0.5
    t[5], p[6] = np.nan, np.nan
    return {"k": np.array(list("abab" * 2)), "y": t, "yhat": p, "yhat2": p + 1.0}


def argument_message(position):
    return f"^y_true has a NaN at flat position {position} {SKIP}$".replace("(", r"\(") \
        .replace(")", r"\)")


def column_message(row, where=""):
    return f"^column 'y' has a missing value \\(null or NaN\\) at row {row}{where} " + \
        SKIP.replace("(", r"\(").replace(")", r"\)") + "$"


ARGUMENT_DOORS = {
    "function": lambda t, p, k: root_mean_squared_error(t, p),
    "metric": lambda t, p, k: RootMeanSquaredError(nan_policy="raise").update_state(t, p),
    "grouped-metric": lambda t, p, k: GroupedRootMeanSquaredError(
        nan_policy="raise").update_state(t, p, k),
    "dask-arrays": lambda t, p, k: dask_door(RootMeanSquaredError(nan_policy="raise"), t, p),
    "dask-arrays-grouped": lambda t, p, k: dask_door(
        GroupedRootMeanSquaredError(nan_policy="raise"), t, p, k),
    # the other one-shot functions: 'raise' by default too (semantics 8.1)
    "grouped-function": lambda t, p, k: rmse_ext.grouped_root_mean_squared_error(t, p, k),
    "interval-function": lambda t, p, k: rmse_ext.root_mean_squared_error_interval(t, p),
}


@pytest.mark.parametrize("door", ["function", "grouped-function", "interval-function"])
def test_one_shot_functions_refuse_an_empty_input(door):
    """Semantics 8.6: every one-shot function refuses an input without samples."""
    empty = np.zeros(0)
    with pytest.raises(ValueError, match="^y_true: found (an )?(array|input) with 0 sample"):
        ARGUMENT_DOORS[door](empty, empty, np.zeros(0, dtype=np.int64))


def dask_door(metric, t, p, *keys):
    da = pytest.importorskip("dask.array")
    import rmse_ext.dask
    return rmse_ext.dask.update_state(metric, da.from_array(t, chunks=3),
                                      da.from_array(p, chunks=3), *keys)


# the function stands in for scikit-learn's: its words are those its tests match
SKLEARN_MESSAGE = (r"^Input y_true contains NaN \(the first at flat position 5; "
                   r"nan_policy='raise'\); pass nan_policy='omit' to leave such elements out\.$")


@pytest.mark.parametrize("door", ARGUMENT_DOORS)
def test_raise_names_the_argument_and_flat_position_at_every_door(door):
    cols = raise_columns()
    expected = SKLEARN_MESSAGE if door == "function" else argument_message(5)
    with pytest.raises(MissingValueError, match=expected):
        ARGUMENT_DOORS[door](cols["y"], cols["yhat"], cols["k"])


@pytest.mark.parametrize("call", ["evaluate", "evaluate-by", "compare", "rolling"])
@pytest.mark.parametrize("frame_kind", ["pandas", "pandas-nullable", "polars", "pyarrow-2-batches",
                                        "dict-lists"])
def test_raise_names_the_column_and_row_at_every_frame_door(frame_kind, call):
    cols = raise_columns()
    if frame_kind == "dict-lists":          # a null is a missing value exactly like NaN
        cols = {n: [None if isinstance(x, float) and math.isnan(x) else x for x in v.tolist()]
                for n, v in cols.items()}
        frame = dict(cols)
    else:
        frame = FRAMES[frame_kind](cols)
    with pytest.raises(MissingValueError, match=column_message(5)):
        if call == "rolling":
            rmse_ext.rolling(frame, "y", "yhat", window=2)
        else:
            rmse_ext.evaluate(frame, "y", ["yhat", "yhat2"] if call == "compare" else "yhat",
                              by="k" if call == "evaluate-by" else None)


@pytest.mark.parametrize("by", [None, "k"])
def test_raise_names_the_partition_on_dask_frames(by):
    frame = dask_frame(raise_columns(), 2)              # rows 0-3 and 4-7
    with pytest.raises(MissingValueError, match=column_message(1, " of partition 1")):
        rmse_ext.evaluate(frame, "y", "yhat", by=by)


def test_raise_names_the_partition_on_spark(spark):
    cols = raise_columns()
    rows = [(k, None if math.isnan(t) else t, p) for k, t, p in
            zip(cols["k"].tolist(), cols["y"].tolist(), cols["yhat"].tolist())]
    df = spark.createDataFrame(rows, "k string, y double, yhat double").coalesce(1)
    for by in (None, "k"):
        with pytest.raises(MissingValueError, match=column_message(5, " of partition 0")):
            rmse_ext.evaluate(df, "y", "yhat", by=by)
