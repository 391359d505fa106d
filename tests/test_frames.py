"""rmse_ext.evaluate on pandas, polars (eager and lazy), pyarrow and dicts:
one row per group (sorted), the by columns then rmse / count / weight_sum /
omitted, equal to the grouped metric on the same columns; the column
reader (rmse_ext._columns): names, numbers, nulls, dictionaries, decimals."""
import numpy as np
import pytest

import rmse_ext
from rmse_ext import GroupedRootMeanSquaredError

from helpers import ulps

RNG = np.random.default_rng(7)
N = 500
DATA = {
    "store": RNG.choice(["north", "south", "east"], size=N),
    "fold": RNG.integers(0, 4, size=N),
    "y": RNG.normal(size=N),
    "yhat": RNG.normal(size=N),
    "w": RNG.random(N),
}


def frame_of(library, data):
    if library == "dict":
        return dict(data)
    if library == "pandas":
        pd = pytest.importorskip("pandas")
        return pd.DataFrame(data)
    if library in ("polars", "lazy"):
        pl = pytest.importorskip("polars")
        return pl.DataFrame(data) if library == "polars" else pl.LazyFrame(data)
    pa = pytest.importorskip("pyarrow")
    return pa.table(data)


def make(library):
    return frame_of(library, DATA)


def as_columns(out):
    """{name: list} from any library's result."""
    if isinstance(out, dict):
        return {k: np.asarray(v).tolist() for k, v in out.items()}
    if hasattr(out, "to_pydict"):
        return out.to_pydict()
    if hasattr(out, "to_dict") and hasattr(out, "iloc"):
        return {k: list(v) for k, v in out.to_dict("list").items()}
    return out.to_dict(as_series=False)


def expected(by, weight):
    cols = [DATA[b] for b in by]
    combos = sorted(set(zip(*cols)))
    rows = {b: [] for b in by}
    rows.update(rmse=[], count=[], weight_sum=[], omitted=[])
    for combo in combos:
        mask = np.all([c == v for c, v in zip(cols, combo)], axis=0)
        m = rmse_ext.RootMeanSquaredError(dtype="float64")
        w = None if weight is None else DATA[weight][mask]
        m.update_state(DATA["y"][mask], DATA["yhat"][mask], w)
        for b, v in zip(by, combo):
            rows[b].append(v.item() if hasattr(v, "item") else v)
        rows["rmse"].append(float(m.result()))
        rows["count"].append(int(mask.sum()))
        rows["weight_sum"].append(m.count)
        rows["omitted"].append(0)
    return rows


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "lazy", "pyarrow"])
@pytest.mark.parametrize("by", [None, "store", "fold", ["store", "fold"], ["fold", "store"]])
@pytest.mark.parametrize("weight", [None, "w"])
def test_evaluate_matches_the_metric_per_group(library, by, weight):
    out = rmse_ext.evaluate(make(library), "y", "yhat", by=by, weight=weight)
    assert type(out).__module__.split(".")[0] == (
        "builtins" if library == "dict" else "polars" if library == "lazy" else library)
    got = as_columns(out)
    names = [] if by is None else [by] if isinstance(by, str) else by
    assert list(got) == names + ["rmse", "count", "weight_sum", "omitted"]
    if not names:
        m = rmse_ext.RootMeanSquaredError(dtype="float64")
        m.update_state(DATA["y"], DATA["yhat"], None if weight is None else DATA["w"])
        assert got["rmse"] == [float(m.result())] and got["count"] == [N]
        assert got["weight_sum"] == [m.count] and got["omitted"] == [0]
        return
    want = expected(names, weight)
    for name in names + ["count", "omitted"]:
        assert got[name] == want[name]
    for a, b in zip(got["rmse"], want["rmse"]):
        assert ulps(a, b) <= 2
    np.testing.assert_allclose(got["weight_sum"], want["weight_sum"], rtol=1e-15)


def test_evaluate_keeps_key_types_and_reads_categoricals():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"k": pd.Categorical(["b", "a", "b"], categories=["z", "a", "b"]),
                          "day": pd.to_datetime(["2026-01-02", "2026-01-01", "2026-01-02"]),
                          "y": [1.0, 2.0, 3.0], "p": [0.0, 0.0, 0.0]})
    out = rmse_ext.evaluate(frame, "y", "p", by=["k", "day"])
    assert out["k"].tolist() == ["a", "b"]
    assert str(out["day"].dtype).startswith("datetime64")
    assert out["count"].dtype == np.int64 and out["rmse"].dtype == np.float64
    np.testing.assert_array_equal(out["rmse"], [2.0, np.sqrt(5.0)])


def test_evaluate_errors_name_the_column():
    frame = {"y": [1.0, 2.0], "p": [1.0, 2.0], "k": ["a", None]}
    with pytest.raises(ValueError, match="no column 'nope'"):
        rmse_ext.evaluate(frame, "y", "nope")
    with pytest.raises(ValueError, match="by column 'k' has a missing key"):
        rmse_ext.evaluate(frame, "y", "p", by="k")
    with pytest.raises(ValueError, match="clash"):
        rmse_ext.evaluate({**frame, "rmse": [1, 2]}, "y", "p", by="rmse")
    with pytest.raises(TypeError, match="frame must be"):
        rmse_ext.evaluate([[1.0]], "y", "p")
    with pytest.raises(TypeError, match="by must be"):
        rmse_ext.evaluate(frame, "y", "p", by=3.5)


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "lazy", "pyarrow"])
def test_evaluate_refuses_an_empty_frame(library):
    """The scikit-learn family refuses empty input (semantics, One contract)."""
    empty = {"y": np.zeros(0), "p": np.zeros(0), "k": np.zeros(0, int)}
    frame = frame_of(library, empty)
    for by in (None, "k"):
        with pytest.raises(ValueError, match="has no rows"):
            rmse_ext.evaluate(frame, "y", "p", by=by)


def test_evaluate_equals_the_grouped_metric_bitwise():
    frame = make("dict")
    out = rmse_ext.evaluate(frame, "y", "yhat", by="store", weight="w")
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(DATA["y"], DATA["yhat"], DATA["store"], DATA["w"])
    np.testing.assert_array_equal(out["rmse"], m.result())
    np.testing.assert_array_equal(out["store"], m.keys())


# -- nan_policy: nulls and NaN in the value columns ---------------------------------------

HOLES = {"y": [3, 17], "yhat": [17, 40, 41], "w": [99]}


def with_holes(library):
    """DATA with missing values at HOLES: NaN in the dict, nulls elsewhere
    (pandas' nullable Float64, polars and Arrow nulls)."""
    data = {k: (v.astype(float) if k in HOLES else v) for k, v in DATA.items()}
    nan = {k: data[k].copy() for k in HOLES}
    for k, rows in HOLES.items():
        nan[k][rows] = np.nan
    if library == "dict":
        return {**data, **nan}
    if library == "pandas":
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(data)
        for k, rows in HOLES.items():
            frame[k] = frame[k].astype("Float64")
            frame.loc[rows, k] = pd.NA
        return frame
    mask = {k: np.isin(np.arange(N), rows) for k, rows in HOLES.items()}
    if library == "polars":
        pl = pytest.importorskip("polars")
        return pl.DataFrame({k: (pl.Series(k, data[k]).scatter(HOLES[k], None) if k in HOLES
                                 else data[k]) for k in data})
    pa = pytest.importorskip("pyarrow")
    return pa.table({k: (pa.array(data[k], mask=mask[k]) if k in HOLES else data[k])
                     for k in data})


def nan_data():
    out = {k: np.array(v, dtype=float) if k in HOLES else v for k, v in DATA.items()}
    for k, rows in HOLES.items():
        out[k][rows] = np.nan
    return out


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
@pytest.mark.parametrize("by", [None, "store", ["store", "fold"]])
@pytest.mark.parametrize("weight", [None, "w"])
def test_evaluate_omits_nulls_and_nans_like_the_grouped_metric(library, by, weight):
    out = as_columns(rmse_ext.evaluate(with_holes(library), "y", "yhat", by=by,
                                       weight=weight, nan_policy="omit"))
    data = nan_data()
    names = [] if by is None else [by] if isinstance(by, str) else by
    codes = (np.zeros(N, np.int64) if not names else
             np.unique(np.stack([np.unique(data[n], return_inverse=True)[1] for n in names]),
                       axis=1, return_inverse=True)[1].reshape(-1))
    m = GroupedRootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(data["y"], data["yhat"], codes, None if weight is None else data["w"])
    assert list(out)[-4:] == ["rmse", "count", "weight_sum", "omitted"]
    assert out["rmse"] == m.result().tolist()          # bitwise, group by group
    assert out["count"] == m.elements().tolist()
    assert out["omitted"] == m.omitted().tolist()
    rows = set(HOLES["y"]) | set(HOLES["yhat"]) | (set(HOLES["w"]) if weight else set())
    assert sum(out["omitted"]) == len(rows)
    assert sum(out["count"]) == N - len(rows)


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
def test_evaluate_propagates_a_null_into_its_group_only(library):
    out = as_columns(rmse_ext.evaluate(with_holes(library), "y", "yhat", by="store",
                                       nan_policy="propagate"))
    data = nan_data()
    bad = set(data["store"][HOLES["y"] + HOLES["yhat"]])
    for key, rmse in zip(out["store"], out["rmse"]):
        assert np.isnan(rmse) == (key in bad)
    assert out["omitted"] == [0, 0, 0]


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
def test_evaluate_raise_names_the_column_and_row(library):
    frame = with_holes(library)
    with pytest.raises(ValueError, match=r"column 'y' has a missing value .* at row 3 "
                                         r"\(nan_policy='raise'\); pass nan_policy='omit'"):
        rmse_ext.evaluate(frame, "y", "yhat", by="store")          # the default
    with pytest.raises(ValueError, match=r"column 'yhat' .* at row 17 "):
        rmse_ext.evaluate(frame, "yhat", "y", nan_policy="raise")
    no_holes = make(library)
    assert as_columns(rmse_ext.evaluate(no_holes, "y", "yhat", by="store",
                                        nan_policy="raise")) == \
        as_columns(rmse_ext.evaluate(no_holes, "y", "yhat", by="store"))


def test_evaluate_rejects_a_bad_policy_and_an_omitted_column_name():
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        rmse_ext.evaluate(DATA, "y", "yhat", nan_policy="drop")
    with pytest.raises(TypeError, match="nan_policy must be a str"):
        rmse_ext.evaluate(DATA, "y", "yhat", nan_policy=None)
    for name in ("omitted", "ci_low"):
        with pytest.raises(ValueError, match="clash with the result columns"):
            rmse_ext.evaluate({**DATA, name: DATA["fold"]}, "y", "yhat", by=name)


# -- the column reader (issue 18, defects 2, 5 and 10) --------------------------------------

VALUES = [1.0, 2.0, 4.0]


def reference(y_true, y_pred, by=None, nan_policy="omit"):
    """evaluate on a dict of float arrays (the plain door)."""
    frame = {"y": np.asarray(y_true, float), "p": np.asarray(y_pred, float)}
    if by is not None:
        frame["k"] = by
    return as_columns(rmse_ext.evaluate(frame, "y", "p", by=None if by is None else "k",
                                        nan_policy=nan_policy))


@pytest.mark.parametrize("kind", ["datetime", "timedelta", "numeric strings", "text"])
@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
def test_every_frame_refuses_non_numbers_naming_the_column(kind, library):
    pd = pytest.importorskip("pandas")
    column = {"datetime": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]),
              "timedelta": pd.to_timedelta([1, 2, 3], unit="D"),
              "numeric strings": ["1.5", "2", "3"],
              "text": ["a", "b", "c"]}[kind]
    data = {"y": np.asarray(column) if library == "dict" else column, "p": VALUES}
    frame = pd.DataFrame(data) if library == "pandas" else frame_of(library, data)
    with pytest.raises(TypeError, match=r"^column 'y' must hold real numbers"):
        rmse_ext.evaluate(frame, "y", "p")
    with pytest.raises(TypeError, match=r"^column 'y' must hold real numbers"):
        rmse_ext.evaluate(frame, "p", "y", nan_policy="omit")


def test_duplicate_column_names_are_a_value_error_naming_the_column():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["y", "y", "p"])
    with pytest.raises(ValueError, match="2 columns named 'y'"):
        rmse_ext.evaluate(frame, "y", "p")
    table = pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0]), pa.array([3.0])],
                                 names=["y", "p", "p"])
    with pytest.raises(ValueError, match="2 columns named 'p'"):
        rmse_ext.evaluate(table, "y", "p")
    assert as_columns(rmse_ext.evaluate(frame.iloc[:, 1:], "y", "p"))["rmse"] == [1.0]


def test_integer_column_labels_are_usable():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({0: [1.0, 2.0, 3.0], 1: [1.0, 2.0, 5.0], 2: ["a", "a", "b"]})
    out = rmse_ext.evaluate(frame, 0, 1, by=2)
    assert list(out.columns) == [2, "rmse", "count", "weight_sum", "omitted"]
    assert out["rmse"].tolist() == [0.0, 2.0]
    assert as_columns(rmse_ext.evaluate(frame, "0", "1", by="2")) == as_columns(out)
    with pytest.raises(ValueError, match="no column 3"):
        rmse_ext.evaluate(frame, 0, 3)


def test_a_single_by_column_with_a_null_key_names_the_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"y": VALUES, "p": VALUES, "store": ["a", None, "b"]})
    with pytest.raises(ValueError, match="by column 'store' has a missing key .* position 1"):
        rmse_ext.evaluate(frame, "y", "p", by="store")


def test_a_lazy_frame_collects_only_the_columns_it_needs():
    pl = pytest.importorskip("polars")
    lazy = pl.LazyFrame({"y": VALUES, "p": [1.0, 2.0, 5.0], "k": ["a", "a", "b"],
                         "text": ["x", "y", "1.5"]})
    # a column that fails when collected: only the needed ones may be
    lazy = lazy.with_columns(broken=pl.col("text").cast(pl.Int64))
    out = rmse_ext.evaluate(lazy, "y", "p", by="k")
    assert isinstance(out, pl.DataFrame)
    assert out.to_dict(as_series=False) == reference(VALUES, [1.0, 2.0, 5.0], ["a", "a", "b"])
    with pytest.raises(ValueError, match="no column 'nope'"):
        rmse_ext.evaluate(lazy, "y", "nope")


def test_nullable_booleans_decimals_dictionaries_and_lists_with_none_are_read():
    """The same data through the representations other doors accept gives
    the same table (nulls are missing values, read exactly like NaN)."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    import decimal
    truth, pred = [1.0, None, 0.0, 1.0], [0.5, 1.0, 1.0, 1.0]
    keys = ["a", "b", "a", "b"]
    want = reference([np.nan if v is None else v for v in truth], pred, keys)
    frames = {
        "pandas boolean with NA": pd.DataFrame({
            "y": pd.array([True, None, False, True], dtype="boolean"), "p": pred, "k": keys}),
        "pandas Categorical of numbers": pd.DataFrame({
            "y": pd.Categorical(truth), "p": pred, "k": keys}),
        "pyarrow decimals": pa.table({
            "y": pa.array([None if v is None else decimal.Decimal(str(v)) for v in truth],
                          pa.decimal128(6, 2)), "p": pred, "k": keys}),
        "pyarrow dictionary": pa.table({"y": pa.array(truth).dictionary_encode(), "p": pred,
                                        "k": keys}),
        "pandas decimals (Arrow-backed)": pd.DataFrame({
            "y": pd.Series([None if v is None else decimal.Decimal(str(v)) for v in truth],
                           dtype=pd.ArrowDtype(pa.decimal128(6, 2))), "p": pred, "k": keys}),
        "dict of lists with None": {"y": truth, "p": pred, "k": keys},
        "pandas object column": pd.DataFrame({"y": pd.Series(truth, dtype=object),
                                              "p": pred, "k": keys}),
    }
    for what, frame in frames.items():
        got = as_columns(rmse_ext.evaluate(frame, "y", "p", by="k", nan_policy="omit"))
        assert got == want, what
        with pytest.raises(ValueError, match=r"column 'y' has a missing value .* at row 1 "):
            rmse_ext.evaluate(frame, "y", "p", by="k")
    assert want["omitted"] == [0, 1]


def test_the_result_table_api():
    from rmse_ext._results import RESULT_COLUMNS, ResultTable
    m = GroupedRootMeanSquaredError(dtype="float64", interval="normal")
    m.update_state([0.0, 0.0, 0.0, 0.0], [1.0, 3.0, 2.0, 2.0], ["b", "b", "a", "a"])
    table = ResultTable.of(m, {"store": m.keys()}, ci=0.9)
    assert table.names == ["store", *RESULT_COLUMNS] and len(table) == 2
    rows = table.records()
    assert [r["store"] for r in rows] == ["a", "b"] and rows[0]["count"] == 2
    assert isinstance(rows[0]["count"], int) and isinstance(rows[0]["omitted"], int)
    low, high = m.confidence_interval(0.9)
    assert [r["ci_low"] for r in rows] == low.tolist()
    whole = ResultTable.of(m).records()
    assert whole == [{"rmse": float(m.overall()), "count": 4, "weight_sum": 4.0, "omitted": 0}]
    plain = rmse_ext.RootMeanSquaredError(dtype="float64", nan_policy="omit")
    plain.update_state([0.0, np.nan], [2.0, 1.0], [3.0, 1.0])
    with pytest.raises(TypeError, match="count="):
        ResultTable.of(plain)
    assert ResultTable.of(plain, count=1).records() == [
        {"rmse": 2.0, "count": 1, "weight_sum": 3.0, "omitted": 1}]
    pd = pytest.importorskip("pandas")
    assert list(table.to_frame(pd.DataFrame()).columns) == table.names


def test_period_keys_and_date_object_keys_are_read_as_dates():
    """pandas Period keys (their start) and datetime.date objects group as
    the same dates do through the other doors (issue 18, defect 10)."""
    import datetime
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    days = [datetime.date(2026, 1, 2), datetime.date(2026, 1, 1), datetime.date(2026, 1, 2)]
    months = pd.PeriodIndex(["2026-02", "2026-01", "2026-02"], freq="M")
    data = {"y": VALUES, "p": [0.0, 0.0, 1.0]}
    want = as_columns(rmse_ext.evaluate(pl.DataFrame({**data, "k": days}), "y", "p", by="k"))
    for keys in (days, pd.Series(days, dtype=object), pd.to_datetime(days).to_period("D")):
        got = as_columns(rmse_ext.evaluate(pd.DataFrame({**data, "k": keys}), "y", "p", by="k"))
        assert got["k"] == [pd.Timestamp(d) for d in want["k"]]
        assert {n: got[n] for n in RESULT_NAMES} == {n: want[n] for n in RESULT_NAMES}
    got = as_columns(rmse_ext.evaluate(pd.DataFrame({**data, "k": months}), "y", "p", by="k"))
    assert got["k"] == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")]
    assert got["rmse"] == want["rmse"]
    m = GroupedRootMeanSquaredError(dtype="float64")
    m.update_state(VALUES, [0.0, 0.0, 1.0], days)
    assert m.keys().tolist() == sorted(set(days))


RESULT_NAMES = ["rmse", "count", "weight_sum", "omitted"]


def import_graph():
    """{module: modules of rmse_ext it imports, at module level or inside a
    function} read from the sources (ast: nothing is imported)."""
    import ast
    import pathlib
    root = pathlib.Path(rmse_ext.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] \
                    if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            else:
                continue
            deps.update(f for f in found if f in modules and f not in (name, "rmse_ext"))
        graph[name] = deps
    return graph


def test_the_engines_never_import_the_frames_door():
    """Issue 18 architecture: evaluate picks the engine, never the other way
    round; frames, dask and Spark share private rooms (_columns, _tabular,
    _results) and no import circle runs through any of them."""
    graph = import_graph()
    for engine in ("rmse_ext.dask", "rmse_ext.spark", "rmse_ext._tabular",
                   "rmse_ext._columns", "rmse_ext._results"):
        assert not graph[engine] & {"rmse_ext.frames", "rmse_ext.evaluate"}, engine
    rooms = {"rmse_ext.frames", "rmse_ext.evaluate", "rmse_ext.dask", "rmse_ext.spark",
             "rmse_ext._tabular", "rmse_ext._columns", "rmse_ext._results"}
    for start in rooms:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        assert start not in seen, f"{start} imports itself through {sorted(seen & rooms)}"
