"""nan_policy (docs/missing-values.md): omit against a slow oracle over
layouts and dtypes, raise with the flat position and the state unchanged,
masks / pandas NA / Arrow nulls / CSV and Parquet nulls under 'omit', the
omitted count in the state, and the zero-weight rule."""
import json
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest

import rmse_ext
from rmse_ext import RootMeanSquaredError, root_mean_squared_error
from rmse_ext import _missing


def omit_oracle(t, p, w=None):
    """Exact RMSE over the elements whose t, p and w are not NaN (NumPy
    broadcasting of same-rank operands), and how many were left out."""
    t, p = np.broadcast_arrays(np.asarray(t, float), np.asarray(p, float))
    w = np.ones(t.shape) if w is None else np.broadcast_to(np.asarray(w, float), t.shape)
    total = count = Fraction(0)
    omitted = 0
    for ti, pi, wi in zip(t.ravel(), p.ravel(), w.ravel()):
        if math.isnan(ti) or math.isnan(pi) or math.isnan(wi):
            omitted += 1
            continue
        if wi == 0:
            continue
        total += Fraction(wi) * (Fraction(pi) - Fraction(ti)) ** 2
        count += Fraction(wi)
    return (math.sqrt(total / count) if count else math.nan), omitted


def with_nans(rng, shape, share):
    a = rng.standard_normal(shape)
    a[rng.random(shape) < share] = np.nan
    return a


@pytest.mark.parametrize("weights", ["none", "full", "per-row", "scalar"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_omit_matches_oracle(weights, dtype):
    rng = np.random.default_rng([1, len(weights), np.dtype(dtype).itemsize])
    t = with_nans(rng, (300, 4), 0.1).astype(dtype)
    p = with_nans(rng, (300, 4), 0.1).astype(dtype)
    w = {"none": None, "full": with_nans(rng, (300, 4), 0.05) ** 2,
         "per-row": np.abs(with_nans(rng, 300, 0.05)), "scalar": 2.0}[weights]
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    for lo in range(0, 300, 64):
        m.update_state(t[lo:lo + 64], p[lo:lo + 64],
                       w[lo:lo + 64] if isinstance(w, np.ndarray) else w)
    w_full = w[:, None] if weights == "per-row" else w
    expected, omitted = omit_oracle(t, p, w_full)
    assert float(m.result()) == pytest.approx(expected, rel=1e-14)
    assert m.omitted == omitted


def test_omit_with_broadcast_y_true():
    rng = np.random.default_rng(2)
    t, p = with_nans(rng, 5, 0.2), with_nans(rng, (40, 5), 0.1)
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, p)
    expected, omitted = omit_oracle(t, p)
    assert float(m.result()) == pytest.approx(expected, rel=1e-14)
    assert m.omitted == omitted


def test_omit_without_nan_is_propagate_bitwise():
    rng = np.random.default_rng(3)
    t, p = rng.standard_normal(10000), rng.standard_normal(10000)
    a, b = RootMeanSquaredError(), RootMeanSquaredError(nan_policy="omit")
    a.update_state(t, p)
    b.update_state(t, p)
    assert a._acc.get_raw() == b._acc.get_raw()


def test_all_omitted_is_nan_not_zero():
    m = RootMeanSquaredError(nan_policy="omit")
    assert m.result() == 0                          # no update: Keras's 0
    m.update_state([np.nan, 1.0], [1.0, np.nan])
    assert np.isnan(m.result()) and m.omitted == 2
    m.update_state([1.0], [3.0])
    assert m.result() == 2.0
    w = RootMeanSquaredError(nan_policy="omit")
    w.update_state([1.0, 2.0], [1.0, 2.0], sample_weight=[0.0, np.nan])
    assert np.isnan(w.result())
    z = RootMeanSquaredError(nan_policy="omit")     # zero weights alone: Keras's 0
    z.update_state([1.0], [2.0], sample_weight=[0.0])
    assert z.result() == 0


def test_propagate_is_keras():
    m = RootMeanSquaredError()
    m.update_state([1.0, np.nan], [1.0, 2.0])
    assert np.isnan(m.result()) and m.omitted == 0


@pytest.mark.parametrize("where, args, message", [
    ("y_true", ([[1.0, 2.0], [3.0, np.nan]], [[1.0, 2.0], [3.0, 4.0]], None), "flat position 3"),
    ("y_pred", ([1.0, 2.0], [[np.nan, 1.0], [1.0, 2.0]], None), "flat position 0"),
    ("sample_weight", ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, np.nan]),
     "flat position 2"),
])
def test_raise_names_argument_and_position_and_keeps_state(where, args, message):
    m = RootMeanSquaredError(nan_policy="raise", interval="bootstrap", n_boot=10)
    m.update_state([1.0], [2.0])
    before = m.get_state()
    with pytest.raises(ValueError, match=f"{where} has a NaN at {message}"):
        m.update_state(*args)
    assert m.get_state() == before


def test_bad_policy():
    with pytest.raises(ValueError, match="nan_policy"):
        RootMeanSquaredError(nan_policy="ignore")
    with pytest.raises(TypeError, match="nan_policy"):
        RootMeanSquaredError(nan_policy=None)
    with pytest.raises(ValueError, match="nan_policy"):
        root_mean_squared_error([1.0], [1.0], nan_policy="drop")


def test_zero_weight_removes_inf_and_nan_errors():
    for policy in ("propagate", "omit", "raise"):
        m = RootMeanSquaredError(dtype="float64", nan_policy=policy)
        m.update_state([0.0, 0.0, 0.0], [1e200, 1.0, np.inf], sample_weight=[0.0, 1.0, 0.0])
        assert m.result() == 1.0
    m = RootMeanSquaredError(dtype="float64")
    m.update_state([0.0, 0.0], [np.nan, 2.0], sample_weight=[0.0, 1.0])
    assert m.result() == 2.0


def test_omitted_travels_with_the_state():
    a = RootMeanSquaredError(nan_policy="omit")
    b = RootMeanSquaredError(nan_policy="omit")
    a.update_state([1.0, np.nan, 2.0], [1.0, 1.0, np.nan])
    b.update_state([np.nan], [1.0])
    state = a.get_state()
    assert state["omitted"] == 2 and state["nan_policy"] == "omit"
    again = RootMeanSquaredError.from_state(json.loads(json.dumps(state)))
    assert again.omitted == 2 and again.nan_policy == "omit" and again.get_state() == state
    assert pickle.loads(pickle.dumps(a)).omitted == 2
    a.merge_state(b)
    assert a.omitted == 3
    assert a.get_config()["nan_policy"] == "omit"
    plain = RootMeanSquaredError()
    plain.update_state([1.0], [2.0])
    assert "omitted" not in plain.get_state() and "nan_policy" not in plain.get_state()
    bad = dict(state, omitted=-1)
    with pytest.raises(ValueError, match="omitted"):
        RootMeanSquaredError.from_state(bad)
    with pytest.raises(ValueError, match="nan_policy"):
        RootMeanSquaredError.from_state(dict(state, nan_policy="nope"))


def test_masked_arrays_under_omit_only():
    t = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])
    p = np.ma.masked_array([1.0, 5.0, 5.0, 4.0], mask=[0, 0, 0, 1])
    w = np.ma.masked_array([1, 1, 3, 1], mask=[1, 0, 0, 0])
    m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
    m.update_state(t, p, sample_weight=w)
    assert (m.result(), m.count, m.omitted) == (2.0, 3.0, 3)
    for policy in ("propagate", "raise"):
        with pytest.raises(TypeError, match="masked array"):
            RootMeanSquaredError(nan_policy=policy).update_state(t, [1.0] * 4)


def test_pandas_nullable_and_arrow_nulls_under_omit():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    expected = math.sqrt((0.25 + 4) / 2)
    cases = [
        (pd.array([1, 2, None, 4], dtype="Int64"), pd.array([1.5, 4.0, 3.0, None], dtype="Float64")),
        (pd.Series([1, 2, None, 4], dtype="Int64"), pd.Series([1.5, 4, 3, None], dtype="Float64")),
        (pa.array([1.0, 2.0, None, 4.0]), pa.chunked_array([[1.5, 4.0], [3.0, None]])),
        (pa.array([1, 2, None, 4]), np.array([1.5, 4.0, 3.0, np.nan])),
    ]
    for t, p in cases:
        m = RootMeanSquaredError(dtype="float64", nan_policy="omit")
        m.update_state(t, p)
        assert float(m.result()) == pytest.approx(expected, rel=1e-15), (type(t), type(p))
        assert m.omitted == 2
    m = RootMeanSquaredError()           # a null is missing like NaN (semantics 8.2)
    m.update_state(pa.array([1.0, None]), [1.0, 2.0])
    assert np.isnan(m.result())


def test_function_policies():
    t, p = [1.0, 2.0, 3.0, 4.0], [1.5, np.nan, 5.0, 4.0]
    with pytest.raises(ValueError, match="y_pred contains NaN.*flat position 1"):
        root_mean_squared_error(t, p)
    assert np.isnan(root_mean_squared_error(t, p, nan_policy="propagate"))
    expected, _ = omit_oracle(t, p)
    assert root_mean_squared_error(t, p, nan_policy="omit") == pytest.approx(expected, rel=1e-15)
    two = root_mean_squared_error(np.array([[1.0, np.nan], [2.0, np.nan]]), np.zeros((2, 2)),
                                  nan_policy="omit", multioutput="raw_values")
    assert two[0] == pytest.approx(math.sqrt(2.5)) and np.isnan(two[1])
    masked = np.ma.masked_array([1.0, 9.0], mask=[0, 1])
    assert root_mean_squared_error([0.0, 0.0], masked, nan_policy="omit") == 1.0


def test_cli_nan_policy(tmp_path, capsys):
    from rmse_ext.cli import main
    (tmp_path / "d.csv").write_text("y,yhat,w\n1,2,1\n2,,1\n3,5,\n,1,1\n4,4,2\n")
    args = ["eval", str(tmp_path / "d.csv"), "--true-column", "y", "--pred-column", "yhat",
            "--weight-column", "w", "--json", "--no-progress"]
    assert main(args + ["--nan-policy", "omit"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["omitted"] == 3 and out["count"] == 2 and out["weight_sum"] == 3.0
    assert float(out["rmse"]) == pytest.approx(math.sqrt(1 / 3), rel=1e-6)
    # an empty field is a missing value under every policy (semantics 8.2)
    assert main(args + ["--nan-policy", "propagate"]) == 0
    assert json.loads(capsys.readouterr().out)["rmse"] == "NaN"
    assert main(args) == 2                      # 'raise' by default (semantics 8.1)
    assert "column 'yhat': has a missing value (null or NaN) at row 2 (line 3)" in \
        capsys.readouterr().err
    np.save(tmp_path / "t.npy", np.array([1.0, np.nan, 3.0]))
    np.save(tmp_path / "p.npy", np.array([1.0, 2.0, 5.0]))
    assert main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "p.npy"),
                 "--nan-policy", "raise"]) == 2
    assert "t.npy: has a missing value (null or NaN) at row 2 (nan_policy='raise'); pass " \
        "--nan-policy omit" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "p.npy"), "--json",
                 "--nan-policy", "omit", "--dtype", "float64"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rmse"], out["omitted"]) == (math.sqrt(2.0), 1)


@pytest.mark.parametrize("chunk_rows", ["1", "3", "1000"])
def test_cli_raise_names_the_first_nan_row_of_the_whole_input(tmp_path, capsys, chunk_rows):
    from rmse_ext.cli import main
    t, p = np.zeros((10, 3)), np.ones((10, 3))
    t[7, 2] = p[5, 1] = p[8, 0] = np.nan            # y_pred's row 6 comes first
    np.save(tmp_path / "t.npy", t)
    np.save(tmp_path / "p.npy", p)
    assert main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "p.npy"), "--no-progress",
                 "--chunk-rows", chunk_rows, "--nan-policy", "raise"]) == 2
    err = capsys.readouterr().err
    assert "p.npy: has a missing value (null or NaN) at row 6, element 1 of its array " \
        "(nan_policy='raise')" in err
    p[5, 1] = 1.0
    np.save(tmp_path / "p.npy", p)
    assert main(["eval", str(tmp_path / "t.npy"), str(tmp_path / "p.npy"), "--no-progress",
                 "--chunk-rows", chunk_rows, "--nan-policy", "raise"]) == 2
    assert "t.npy: has a missing value (null or NaN) at row 8, element 2 of its array" \
        in capsys.readouterr().err


def test_cli_parquet_nulls(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from rmse_ext.cli import main
    pq.write_table(pa.table({"y": [1.0, 2.0, None, 4.0], "p": [2.0, None, 1.0, 4.0]}),
                   tmp_path / "d.parquet")
    assert main(["eval", str(tmp_path / "d.parquet"), "--true-column", "y", "--pred-column",
                 "p", "--nan-policy", "omit", "--json", "--dtype", "float64"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rmse"], out["omitted"]) == (math.sqrt(0.5), 2)


@pytest.mark.parametrize("policy", ["omit", "raise", "propagate"])
def test_dask_policies(policy):
    da = pytest.importorskip("dask.array")
    import rmse_ext.dask
    rng = np.random.default_rng(5)
    t, p = with_nans(rng, (200, 3), 0.05), rng.standard_normal((200, 3))
    m = RootMeanSquaredError(dtype="float64", nan_policy=policy)
    ref = RootMeanSquaredError(dtype="float64", nan_policy=policy)
    dt, dp = da.from_array(t, chunks=(70, 2)), da.from_array(p, chunks=(50, 3))
    if policy == "raise":
        first = int(np.argmax(np.isnan(t).ravel()))
        with pytest.raises(ValueError, match=f"y_true has a NaN at flat position {first}"):
            rmse_ext.dask.update_state(m, dt, dp)
        assert m.get_state() == ref.get_state()
        return
    rmse_ext.dask.update_state(m, dt, dp)
    ref.update_state(t, p)
    assert m.omitted == ref.omitted
    if policy == "omit":
        assert float(m.result()) == pytest.approx(float(ref.result()), rel=1e-14)
    else:
        assert np.isnan(m.result())


@pytest.mark.parametrize("method", ["normal", "bootstrap"])
def test_intervals_leave_out_what_omit_leaves_out(method):
    rng = np.random.default_rng(6)
    t, p = with_nans(rng, 500, 0.1), rng.standard_normal(500)
    keep = ~np.isnan(t)
    a = RootMeanSquaredError(interval=method, nan_policy="omit", n_boot=50)
    a.update_state(t, p)
    b = RootMeanSquaredError(interval="normal", n_boot=50)
    b.update_state(t[keep], p[keep])
    if method == "normal":
        np.testing.assert_allclose(a.confidence_interval(), b.confidence_interval(), rtol=1e-14)
    else:       # kept units keep the draws of their stream index (holes included)
        from rmse_ext import _backend
        draws = np.array([_backend.kernel.poisson1_draws(0, 0, i, 50) for i in range(500)])
        x = (p - t) ** 2
        tot = (draws[keep] * x[keep, None]).sum(axis=0)
        cnt = draws[keep].sum(axis=0)
        np.testing.assert_allclose(a._interval.replicates(), np.sqrt(tot / cnt), rtol=1e-12)


# -- one owner for missing values (issue 18): rmse_ext._missing ------------------------

def test_fold_policy_and_kernel_policy():
    from rmse_ext._backend import Policy
    assert [_missing.fold_policy(p) for p in ("propagate", "omit", "raise")] == \
        ["propagate", "omit", "propagate"]
    assert [_missing.kernel_policy(p) for p in ("propagate", "omit", "raise")] == \
        [Policy.PROPAGATE, Policy.OMIT, Policy.PROPAGATE]


def test_first_missing_in_column_order_or_by_row():
    columns = {"y_true": np.array([0.0, 1.0, 2.0, np.nan]),
               "y_pred": np.array([[0.0, 1.0], [2.0, np.nan], [4.0, 5.0], [6.0, 7.0]]),
               "sample_weight": None}
    assert _missing.first_missing(columns) == _missing.Missing("y_true", 3, 3, 0, 1)
    assert _missing.first_missing(columns, by_row=True, row_offset=10) == \
        _missing.Missing("y_pred", 3, 11, 1, 2)
    assert _missing.first_missing({"a": np.zeros(3), "b": np.arange(3)}) is None
    assert _missing.first_missing({"s": np.float64("nan")}) == _missing.Missing("s", 0, 0, 0, 1)


def test_first_missing_counts_positions_over_pieces():
    class Pieces:
        pieces = [np.zeros((2, 2)), np.array([[1.0, np.nan]])]
    found = _missing.first_missing({"y_pred": Pieces()})
    assert (found.flat, found.row, found.element) == (5, 2, 1)


def test_first_missing_in_ragged_rows():
    """Rows of different lengths (Spark array columns): the row holding the
    first NaN and the element within it; empty rows and a tail past the
    last row are skipped."""
    rows = _missing.Ragged(np.array([0, 2, 2, 5]), np.array([0.0, 1.0, 2.0, np.nan, 4.0, np.nan]))
    assert _missing.first_missing({"t": rows}, row_offset=7) == _missing.Missing("t", 3, 9, 1, 3)
    clean = _missing.Ragged(np.array([0, 1, 1]), np.array([0.0, np.nan]))    # NaN past the rows
    assert _missing.first_missing({"t": clean}) is None


def test_missing_error_names_the_place_and_how_to_skip():
    found = _missing.Missing("y", 5, 2, 1, 2)
    assert str(_missing.missing_error(found)) == (
        "y has a NaN at flat position 5 (nan_policy='raise'); pass nan_policy='omit' to leave "
        "such elements out")
    assert str(_missing.missing_error(found, column=True, where=" of partition 3",
                                      skip="--nan-policy omit")) == (
        "column 'y' has a missing value (null or NaN) at row 2 of partition 3 "
        "(nan_policy='raise'); pass --nan-policy omit to leave such elements out")
    assert str(_missing.missing_error(found, column=True, element=True)) == (
        "column 'y' has a missing value (null or NaN) at row 2, element 1 of its array "
        "(nan_policy='raise'); pass nan_policy='omit' to leave such elements out")
    one = _missing.Missing("y", 2, 2, 0, 1)          # rows of one element: no element named
    assert "of its array" not in _missing.missing_message(one, column=True, element=True)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32"])
def test_result_is_nan_only_when_everything_was_omitted(dtype):
    m = RootMeanSquaredError(dtype=dtype, nan_policy="omit")
    assert m.result() == 0.0                             # no update: Keras's 0
    m.update_state([np.nan], [1.0])
    assert np.isnan(m.result()) and m.result().dtype == m._result_dtype
    m.update_state([1.0], [1.0])                         # a perfect element: 0, not NaN
    assert m.result() == 0.0
