"""rmse_ext.evaluate on pandas, polars, pyarrow and dicts: one row per group
(sorted), the by columns then rmse / count / weight_sum, equal to the
grouped metric on the same columns."""
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


def make(library):
    if library == "dict":
        return dict(DATA)
    if library == "pandas":
        pd = pytest.importorskip("pandas")
        return pd.DataFrame(DATA)
    if library == "polars":
        pl = pytest.importorskip("polars")
        return pl.DataFrame(DATA)
    pa = pytest.importorskip("pyarrow")
    return pa.table(DATA)


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
    rows.update(rmse=[], count=[], weight_sum=[])
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
    return rows


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
@pytest.mark.parametrize("by", [None, "store", "fold", ["store", "fold"], ["fold", "store"]])
@pytest.mark.parametrize("weight", [None, "w"])
def test_evaluate_matches_the_metric_per_group(library, by, weight):
    out = rmse_ext.evaluate(make(library), "y", "yhat", by=by, weight=weight)
    assert type(out).__module__.split(".")[0] == (
        "builtins" if library == "dict" else library)
    got = as_columns(out)
    names = [] if by is None else [by] if isinstance(by, str) else by
    assert list(got) == names + ["rmse", "count", "weight_sum"]
    if not names:
        m = rmse_ext.RootMeanSquaredError(dtype="float64")
        m.update_state(DATA["y"], DATA["yhat"], None if weight is None else DATA["w"])
        assert got["rmse"] == [float(m.result())] and got["count"] == [N]
        assert got["weight_sum"] == [m.count]
        return
    want = expected(names, weight)
    for name in names + ["count"]:
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
    with pytest.raises(ValueError, match="missing key"):
        rmse_ext.evaluate(frame, "y", "p", by="k")
    with pytest.raises(ValueError, match="clash"):
        rmse_ext.evaluate({**frame, "rmse": [1, 2]}, "y", "p", by="rmse")
    with pytest.raises(TypeError, match="frame must be"):
        rmse_ext.evaluate([[1.0]], "y", "p")
    with pytest.raises(TypeError, match="by must be"):
        rmse_ext.evaluate(frame, "y", "p", by=3)


def test_evaluate_on_an_empty_frame():
    out = rmse_ext.evaluate({"y": np.zeros(0), "p": np.zeros(0), "k": np.zeros(0, int)},
                            "y", "p")
    assert out["rmse"].tolist() == [0.0] and out["count"].tolist() == [0]
    out = rmse_ext.evaluate({"y": np.zeros(0), "p": np.zeros(0), "k": np.zeros(0, int)},
                            "y", "p", by="k")
    assert out["rmse"].size == 0


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
    out = as_columns(rmse_ext.evaluate(with_holes(library), "y", "yhat", by="store"))
    data = nan_data()
    bad = set(data["store"][HOLES["y"] + HOLES["yhat"]])
    for key, rmse in zip(out["store"], out["rmse"]):
        assert np.isnan(rmse) == (key in bad)
    assert "omitted" not in out


@pytest.mark.parametrize("library", ["dict", "pandas", "polars", "pyarrow"])
def test_evaluate_raise_names_the_column_and_row(library):
    frame = with_holes(library)
    with pytest.raises(ValueError, match=r"column 'y' has a missing value .* at row 3 "):
        rmse_ext.evaluate(frame, "y", "yhat", by="store", nan_policy="raise")
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
    with pytest.raises(ValueError, match="clash with the result columns"):
        rmse_ext.evaluate({**DATA, "omitted": DATA["fold"]}, "y", "yhat", by="omitted")
